"""Argument types shared by the bench scripts, so that a bad command line is one argparse error
(exit 2) and never a traceback from deep inside a measurement (an empty median, an unknown
model name, a block index the graph does not have)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable


def at_least(low: int) -> Callable[[str], int]:
    """An ``int`` argument that must be ``>= low``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {v}")
        return v

    return parse


def int_list(low: int = 1) -> Callable[[str], list[int]]:
    """A comma-separated list of integers, each ``>= low``, at least one."""
    item = at_least(low)

    def parse(text: str) -> list[int]:
        values = [item(s.strip()) for s in text.split(",") if s.strip()]
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        return values

    return parse


def names_from(known: Iterable[str], what: str) -> Callable[[str], list[str]]:
    """A comma-separated list of names, each one of ``known``, at least one."""
    allowed = list(known)

    def parse(text: str) -> list[str]:
        names = [s.strip() for s in text.split(",") if s.strip()]
        bad = [n for n in names if n not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(map(repr, bad))}; choose from {', '.join(allowed)}")
        if not names:
            raise argparse.ArgumentTypeError(f"expected at least one {what}")
        return names

    return parse


def positive_float(text: str) -> float:
    """A finite ``float`` argument ``> 0``."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not (v > 0 and v != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return v
