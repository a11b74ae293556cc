"""What a graph knows about its symbols: a range and a step, and the proofs that use them.

Every symbol is a positive integer.  A graph may say more (``symbol S: [400, 4000] step 8``, as a
``torch.export.Dim("S", min=400, max=4000)`` says, or a size that must be a multiple of 8): the
values of ``S`` are the multiples of ``step`` in ``[min, max]``.  Those facts make proofs
possible that positivity alone cannot give: ``(S-400)//320+1 >= 1``, ``S-1 >= 0`` for an
``arange``, ``S//8*8 == S``.

The facts in force are a context variable (:data:`FACTS`, set with :func:`assuming` by the
verifier and the importer for the graph at hand), so the shape rules stay plain functions of
their operands.  Two kinds of reasoning, both linear in the size of a dim (which
``MAX_DIM_SIZE`` bounds), so symbolic arithmetic stays polynomial:

- *divisibility*: a symbol ``S`` with step ``k`` is replaced by ``k*S'`` (``S'`` a fresh
  symbol) and the dims are brought back to canonical form, where the floor atoms divide
  exactly: ``(8*S')//8`` is ``S'``; two dims equal after the substitution are equal;
- *bounds*: interval arithmetic over the canonical polynomial, each symbol in its range (``[1,
  oo)`` when undeclared), each floor atom bounded from its numerator and denominator: a
  difference whose interval excludes 0 is never 0, a length whose lower bound is >= 1 is
  positive.  Interval arithmetic is sound and not complete: it may fail to prove what holds.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from graphsynth.dialects.limits import LimitError
from graphsynth.dialects.memo import BoundedMemo
from graphsynth.dialects.symdim import Dim, FloorDiv, SymDim, add, floordiv, mul, sub

Bound = int | float  # an int, or -inf/inf


@dataclass(frozen=True)
class SymbolRange:
    """The values a symbol may take: the multiples of ``step`` in ``[min, max]`` (``max`` None:
    no upper bound).  The default, ``[1, oo) step 1``, is what every symbol is."""

    min: int = 1
    max: int | None = None
    step: int = 1

    @property
    def low(self) -> int:
        """The smallest value allowed (``min`` rounded up to a multiple of ``step``)."""
        return -(-self.min // self.step) * self.step

    @property
    def high(self) -> int | None:
        """The largest value allowed, None when unbounded."""
        return None if self.max is None else self.max // self.step * self.step

    def is_default(self) -> bool:
        return self.min <= 1 and self.max is None and self.step == 1

    def contains(self, v: int) -> bool:
        return v >= self.min and (self.max is None or v <= self.max) and v % self.step == 0

    def problem(self) -> str | None:
        """Why the declaration is not a set of positive integers, or None."""
        if self.min < 1:
            return f"min {self.min} is below 1 (symbols are positive integers)"
        if self.step < 1:
            return f"step {self.step} is below 1"
        if self.max is not None and self.max < self.min:
            return f"max {self.max} is below min {self.min}"
        high = self.high
        if high is not None and high < self.low:
            return f"no multiple of {self.step} lies in [{self.min}, {self.max}]"
        return None

    def text(self) -> str:
        """The text form: ``[400, 4000]``, ``[2, inf] step 8``."""
        out = f"[{self.min}, {'inf' if self.max is None else self.max}]"
        return out + (f" step {self.step}" if self.step != 1 else "")

    def describe(self, name: str) -> str:
        """For messages: ``400 <= S <= 4000, a multiple of 8``."""
        parts = [f"{self.min} <= {name}" + ("" if self.max is None else f" <= {self.max}")]
        if self.step != 1:
            parts.append(f"a multiple of {self.step}")
        return ", ".join(parts)


class SymbolFacts:
    """The declared ranges of one graph, with the substitution that makes steps explicit."""

    __slots__ = ("ranges", "key", "scaled", "intervals")

    def __init__(self, ranges: Mapping[str, SymbolRange]):
        self.ranges = {k: v for k, v in ranges.items() if not v.is_default()}
        self.key = tuple(sorted((k, (v.min, v.max, v.step)) for k, v in self.ranges.items()))
        # S with step k is k*S' over S' in [ceil(low/k), high/k].
        self.scaled: dict[str, Dim] = {}
        self.intervals: dict[str, tuple[Bound, Bound]] = {}
        for name, r in self.ranges.items():
            high = r.high
            if r.step != 1:
                inner = _scaled_name(name)
                self.scaled[name] = mul(SymDim.symbol(inner), r.step)
                self.intervals[inner] = (max(r.low // r.step, 1), math.inf if high is None else high // r.step)
            else:
                self.intervals[name] = (max(r.low, 1), math.inf if high is None else high)

    def __bool__(self) -> bool:
        return bool(self.ranges)


def _scaled_name(name: str) -> str:
    # Never printed and never a name of the text form (which has no '#').
    return name + "#"


FACTS: ContextVar[SymbolFacts | None] = ContextVar("gs_symbol_facts", default=None)


@contextlib.contextmanager
def assuming(ranges: Mapping[str, SymbolRange] | SymbolFacts | None) -> Iterator[None]:
    """Run the block with ``ranges`` as the facts about the symbols (the verifier and the
    importer wrap each graph in it)."""
    facts = ranges if isinstance(ranges, SymbolFacts) or ranges is None else SymbolFacts(ranges)
    token = FACTS.set(facts if facts else None)
    try:
        yield
    finally:
        FACTS.reset(token)


# -- substitution ------------------------------------------------------------------------


def substitute(d: Dim, mapping: Mapping[str, Dim]) -> Dim:
    """``d`` with each symbol in ``mapping`` replaced, in canonical form (floor atoms rebuilt,
    so exact divisions simplify).  Linear in the size of ``d``; may raise LimitError."""
    if isinstance(d, int) or not mapping:
        return d
    total: Dim = 0
    for mono, c in d.terms:
        term: Dim = c
        for atom, e in mono:
            if isinstance(atom, str):
                base = mapping.get(atom)
                if base is None:
                    base = SymDim.symbol(atom)
            else:
                base = floordiv(substitute(atom.num, mapping), substitute(atom.den, mapping))
            for _ in range(e):
                term = mul(term, base)
        total = add(total, term)
    return total


# -- bounds --------------------------------------------------------------------------------

_MEMO = BoundedMemo(1 << 20)
_DEFAULT = (1, math.inf)


def bounds(d: Dim, facts: SymbolFacts | None = None) -> tuple[Bound, Bound]:
    """An interval ``(lo, hi)`` holding every value of ``d`` under ``facts`` (the facts in force
    when None); ``-inf``/``inf`` when unbounded."""
    if isinstance(d, int):
        return d, d
    facts = facts if facts is not None else FACTS.get()
    key = ("b", d, facts.key if facts else None)
    r = _MEMO.get(key)
    if r is None:
        try:
            inner = substitute(d, facts.scaled) if facts else d
        except (LimitError, ZeroDivisionError):
            inner, facts = d, None  # the substitution is too large: bound without the steps
        r = _interval(inner, facts.intervals if facts else {})
        _MEMO.put(key, r, 1 + d.size)
    return r


def lower_bound(d: Dim) -> Bound:
    return bounds(d)[0]


def _interval(d: Dim, intervals: Mapping[str, tuple[Bound, Bound]]) -> tuple[Bound, Bound]:
    if isinstance(d, int):
        return d, d
    lo: Bound = 0
    hi: Bound = 0
    for mono, c in d.terms:
        t: tuple[Bound, Bound] = (c, c)
        for atom, e in mono:
            base = intervals.get(atom, _DEFAULT) if isinstance(atom, str) else _floor_interval(atom, intervals)
            t = _mul(t, _pow(base, e))
        lo, hi = lo + t[0], hi + t[1]
    return lo, hi


def _times(x: Bound, y: Bound) -> Bound:
    if x == 0 or y == 0:
        return 0
    if isinstance(x, float) or isinstance(y, float):  # an infinity (a large int is no float)
        return math.inf if (x > 0) == (y > 0) else -math.inf
    return x * y


def _mul(a: tuple[Bound, Bound], b: tuple[Bound, Bound]) -> tuple[Bound, Bound]:
    c = [_times(x, y) for x in a for y in b]
    return min(c), max(c)


def _pow(a: tuple[Bound, Bound], e: int) -> tuple[Bound, Bound]:
    if e == 1:
        return a
    lo, hi = a
    c = [_power(lo, e), _power(hi, e)]
    if lo < 0 < hi:
        c.append(0)
    return min(c), max(c)


def _power(x: Bound, e: int) -> Bound:
    if isinstance(x, float):
        return math.inf if x > 0 or e % 2 == 0 else -math.inf
    return x**e


def _floor_interval(atom: FloorDiv, intervals: Mapping[str, tuple[Bound, Bound]]) -> tuple[Bound, Bound]:
    a, b = _interval(atom.num, intervals)
    c, d = _interval(atom.den, intervals)
    if c <= 0 <= d:
        return -math.inf, math.inf  # the divisor may be 0 or change sign: nothing is known
    if d < 0:  # x // y == (-x) // (-y)
        a, b, c, d = -b, -a, -d, -c
    q = [_floor_div(x, y) for x in (a, b) for y in (c, d)]
    return min(min(v) for v in q), max(max(v) for v in q)


def _floor_div(x: Bound, y: Bound) -> tuple[Bound, Bound]:
    """The range of floor(x/y) at one corner, y > 0 (as an interval: a corner at infinity is
    a limit, which may be approached from either side)."""
    if math.isinf(y):
        if math.isinf(x):
            return (0, math.inf) if x > 0 else (-math.inf, -1)
        return (0, 0) if x >= 0 else (-1, -1)
    if math.isinf(x):
        return x, x
    return x // y, x // y


# -- proofs ---------------------------------------------------------------------------------


def refine_compare(a: Dim, b: Dim) -> bool | None:
    """``compare`` for the cases canonical forms leave open (:func:`shapes.compare` returns
    None): True when equal after the step substitution, False when the interval of the
    difference excludes 0, None when still unknown."""
    facts = FACTS.get()
    key = ("==", a, b, facts.key if facts else None)
    r = _MEMO.get(key, _MISSING)
    if r is not _MISSING:
        return r  # type: ignore[return-value]
    r = None
    try:
        if facts and facts.scaled:
            sa, sb = substitute(a, facts.scaled), substitute(b, facts.scaled)
            if sa == sb:
                r = True
        if r is None:
            lo, hi = bounds(sub(a, b), facts)
            if lo > 0 or hi < 0:
                r = False
            elif lo == hi == 0:
                r = True
    except (LimitError, ZeroDivisionError):
        r = None
    _MEMO.put(key, r, 2 + (0 if isinstance(a, int) else a.size) + (0 if isinstance(b, int) else b.size))
    return r


_MISSING = object()


def is_positive(d: Dim) -> bool:
    """``d >= 1`` for every allowed binding."""
    try:
        return bounds(d)[0] >= 1
    except (LimitError, ZeroDivisionError):
        return False


def is_nonnegative(d: Dim) -> bool:
    """``d >= 0`` for every allowed binding."""
    try:
        return bounds(d)[0] >= 0
    except (LimitError, ZeroDivisionError):
        return False


def binding_problem(name: str, value: int, r: SymbolRange) -> str | None:
    """Why ``value`` is not an allowed binding of symbol ``name``, or None."""
    if r.contains(value):
        return None
    return f"symbol {name} = {value} is outside its declared range {r.text()} ({r.describe(name)})"
