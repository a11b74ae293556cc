"""Comparison of symbolic dims: equal, different, or not provable.

Two canonical forms are compared by the sign of their difference's terms (memoised with the
arithmetic); what the canonical forms leave open goes to the symbols' declared ranges and steps
(graphsynth.dialects.ranges).  Kept apart from the arithmetic because it is the one part that
consults the range facts in force.
"""

from __future__ import annotations

from graphsynth.dialects.symdim import _MEMO, Dim, FloorDiv, _poly, _remember


def compare(a: Dim, b: Dim) -> bool | None:
    """True when ``a == b`` for every binding of the symbols, False when they
    differ for every binding, None when neither can be proved."""
    if a is b:
        return True
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    key = ("==", a, b)
    r = _MEMO.get(key, _MISSING)
    if r is _MISSING:
        # The difference is not built as a SymDim: it may be twice the size limit.
        diff = _poly(a)
        for m, c in _poly(b).items():
            v = diff.get(m, 0) - c
            if v:
                diff[m] = v
            else:
                diff.pop(m, None)
        if not diff:
            r = True
        elif len(diff) == 1 and () in diff:
            r = False
        else:
            r = False if _never_zero(diff.items()) else None
        _remember(key, r)
    if r is None:
        # What the canonical forms leave open, the symbols' ranges and steps may decide
        # (graphsynth.dialects.ranges; memoised there with the facts in force).
        from graphsynth.dialects.ranges import refine_compare

        return refine_compare(a, b)
    return r  # type: ignore[return-value]


_MISSING = object()


def _never_zero(terms) -> bool:
    """A polynomial whose terms all have one sign is never zero for positive symbols, when
    one term is a plain monomial (>= 1) and every floor atom is known to be >= 0 (a term with
    one may be 0, never of the other sign).  A floor atom of unknown sign, such as
    ``(S-5)//B``, makes the sign of its terms unknown: then nothing is proved."""
    signs = set()
    has_pure = False
    for mono, c in terms:
        if all(isinstance(atom, str) for atom, _ in mono):
            has_pure = True
        elif not all(isinstance(atom, str) or _nonneg_atom(atom) for atom, _ in mono):
            return False
        signs.add(c > 0)
    return has_pure and len(signs) == 1


def _nonneg_atom(atom: FloorDiv) -> bool:
    """``num // den`` >= 0 for every binding: both sides of one sign, as the int-divisor
    canonical form always leaves them (its remainder terms lie in [0, den))."""
    num, den = atom.num, atom.den
    return _same_sign(num, 1) and _same_sign(den, 1, strict=True) or _same_sign(num, -1) and _same_sign(den, -1, strict=True)


def _same_sign(d: Dim, sign: int, strict: bool = False) -> bool:
    """Every term of ``d`` has the sign ``sign`` (and its floor atoms are >= 0), so ``d`` has
    that sign or is 0; ``strict`` also rules out 0 (a nonzero constant or plain monomial)."""
    if isinstance(d, int):
        return d * sign > 0 if strict else d * sign >= 0
    nonzero = False
    for mono, c in d.terms:
        if c * sign <= 0:
            return False
        if not all(isinstance(atom, str) or _nonneg_atom(atom) for atom, _ in mono):
            return False
        nonzero = nonzero or all(isinstance(atom, str) for atom, _ in mono)
    return nonzero or not strict


def is_positive_known(d: Dim) -> bool:
    """A length ``d`` is proved valid: every coefficient is positive and every floor atom is
    non-negative (so ``d >= 0``; ``S//2`` may be 0, never below), or the bounds of ``d`` under
    the symbols' declared ranges (graphsynth.dialects.ranges) give ``d >= 1`` (``S-1`` when
    ``S >= 2``).  A positive coefficient on a floor atom of unknown sign, ``(2*B-81)//B``,
    proves nothing."""
    if isinstance(d, int):
        return d > 0
    if _same_sign(d, 1):
        return True
    from graphsynth.dialects.ranges import is_positive

    return is_positive(d)
