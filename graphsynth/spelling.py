"""Typo suggestions ("did you mean ...?", rename fix-its) under a budget of comparisons.

Each suggestion compares one name with every candidate (difflib's ratio), so a text with many
unknown names and many defined ones would cost their product: 2,000 undefined uses among 2,000
definitions took 47 s to read.  As clang bounds its typo correction (``-fspell-checking-limit``),
one read or one check spends at most :data:`COMPARISONS` comparisons on suggestions; past that
its diagnostics are the same, without "did you mean" (a hundred typos in a graph of a thousand
names are all corrected; clang stops at 50).
"""

from __future__ import annotations

import difflib

COMPARISONS = 200_000  # about 0.4 s of difflib (2 us a comparison), for one read or one check


class SpellingBudget:
    """The comparisons left to the suggestions of one read or one check."""

    def __init__(self, comparisons: int = COMPARISONS):
        self.left = comparisons

    def spend(self, comparisons: int) -> bool:
        """Take ``comparisons`` from the budget; False (and nothing left) when it has not
        that many.  A caller that must first gather its candidates asks before gathering."""
        if comparisons > self.left:
            self.left = 0
            return False
        self.left -= comparisons
        return True

    def close_matches(self, word: str, choices: list[str], n: int, cutoff: float) -> list[str]:
        """``difflib.get_close_matches(word, choices, n, cutoff)``, or [] once the budget is
        spent."""
        return matches(word, choices, n, cutoff) if self.spend(len(choices)) else []

    def did_you_mean(self, word: str, choices: list[str]) -> str | None:
        """Up to three close choices, quoted, for a diagnostic's fix text; None when none is."""
        found = self.close_matches(word, choices, n=3, cutoff=0.6)
        return ", ".join(f"'{c}'" for c in found) if found else None


def matches(word: str, choices: list[str], n: int, cutoff: float) -> list[str]:
    """``difflib.get_close_matches``, with the choices that share no character with ``word``
    left out first (their ratio is 0, below any cutoff)."""
    letters = set(word)
    choices = [c for c in choices if not letters.isdisjoint(c)]
    return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff) if choices else []
