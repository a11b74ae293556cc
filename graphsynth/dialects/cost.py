"""Cost formulas: what an op costs in FLOPs and bytes, as expressions of the symbolic dims.

An op declares its FLOP formula with the op (``flops = matmul_flops``); a formula maps a
:class:`CostContext` (the signatures of the op's arguments, its attributes, its result types) to a
list of *terms*, each a tuple of factors (ints and dims) whose product is a count, so a count
prints the way one writes it by hand (``2*B*S*768*3072``).  One multiply or one add is one FLOP
(a multiply-accumulate is 2).  ``bytes`` counts memory traffic: the bytes of every tensor operand
read and of every result written (:func:`moved_bytes`), unless the op declares otherwise.

Counts are summed as dims (canonical polynomials), which have a size limit
(``graphsynth.dialects.limits.MAX_DIM_SIZE``): a sum or product over it is not expanded but kept
as a :class:`TooLarge` count, which prints as such, still evaluates at given symbol values in time
linear in its terms, and never raises.  :func:`total`, :func:`add_counts`, :func:`count_value`
and :func:`count_symbols` work on both kinds of count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from graphsynth.dialects.dtypes import DTYPES
from graphsynth.dialects.limits import LimitError
from graphsynth.dialects.rules import Sig
from graphsynth.dialects.symdim import Dim, Shape, SymDim, add, evaluate, free_symbols, mul

Term = tuple  # factors (ints and dims) whose product is a count


class Unknown(Exception):  # noqa: N818 - a verdict, not an error of the caller
    """A formula cannot give a count for this op (a call of a graph the module does not hold)."""


@dataclass
class CostContext:
    """What a cost formula sees: by argument position a Sig, a literal or None; the attribute
    values (defaults filled in); the result types.  ``callee(name)`` gives, for ``call``, the
    input Sigs and the FLOP and byte counts of a graph of the module (None when unknown)."""

    op: str
    args: list[Any]
    attrs: dict[str, Any]
    out: list[Sig]
    callee: Callable[[str], tuple[tuple[Sig, ...], Count, Count] | None] | None = None

    def shape(self, i: int) -> Shape | None:
        a = self.args[i] if i < len(self.args) else None
        return a.shape if isinstance(a, Sig) else None

    def tensors(self) -> list[Sig]:
        return [a for a in self.args if isinstance(a, Sig)]


Formula = Callable[[CostContext], list[Term]]


# -- formulas shared by many ops ------------------------------------------------------------------


def free(ctx: CostContext) -> list[Term]:
    """No arithmetic (data movement, creation)."""
    return []


def per_output_element(ctx: CostContext) -> list[Term]:
    """One FLOP per element of each result (elementwise ops)."""
    return [tuple(o.shape) for o in ctx.out]


def moved_bytes(ctx: CostContext) -> list[Term]:
    """Bytes read (every tensor operand) and written (every result)."""
    return [(DTYPES[s.dtype].itemsize, *s.shape) for s in (*ctx.tensors(), *ctx.out)]


def per_element(k: int, of: str = "out", affine_from: int = 0) -> Formula:
    """``k`` FLOPs per element of the result (``of="out"``) or of operand #0 (``"in"``), plus one
    per element for each of the (at most two) tensor operands from position ``affine_from`` on
    (a norm's weight and bias); ``affine_from=0`` counts none."""

    def formula(ctx: CostContext) -> list[Term]:
        shape = ctx.out[0].shape if of == "out" else ctx.shape(0)
        if shape is None:
            return []
        terms: list[Term] = [(k, *shape) if k != 1 else tuple(shape)]
        if affine_from:
            for i in range(affine_from, affine_from + 2):
                if ctx.shape(i) is not None:
                    terms.append(tuple(shape))
        return terms

    formula.__doc__ = f"{k} per element of the {'result' if of == 'out' else 'input'}" + (
        " (+1 per element for each of weight and bias)" if affine_from else "")
    return formula


# -- counts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TooLarge:
    """A count too large to write as one canonical polynomial: the sum, with multiplicities, of
    products of dims (each dim within the limits).  Evaluates at symbol values; prints its size."""

    terms: tuple[tuple[int, Term], ...] = field(default=())

    def __str__(self) -> str:
        return f"<too large to write symbolically: {len(self.terms)} terms; bind the symbols for a number>"

    def symbols(self) -> set[str]:
        out: set[str] = set()
        for _, t in self.terms:
            for f in t:
                out |= free_symbols(f) if not isinstance(f, int) else set()
        return out

    def value(self, bindings: dict[str, int]) -> int:
        total = 0
        for n, t in self.terms:
            v = n
            for f in t:
                v *= evaluate(f, bindings)
            total += v
        return total


Count = int | SymDim | TooLarge


def _monomial_terms(d: Dim, times: int = 1) -> list[tuple[int, Term]]:
    """``d`` as (multiplicity, factors) terms: one per monomial, each factor one atom."""
    if isinstance(d, int):
        return [(times * d, ())] if d else []
    out = []
    for mono, c in d.terms:
        factors: list[Dim] = []
        for atom, e in mono:
            f = SymDim.symbol(atom) if isinstance(atom, str) else SymDim(((((atom, 1),), 1),))
            factors.extend([f] * e)
        out.append((times * c, tuple(factors)))
    return out


def _as_terms(c: Count, times: int = 1) -> list[tuple[int, Term]]:
    if isinstance(c, TooLarge):
        return [(n * times, t) for n, t in c.terms]
    return _monomial_terms(c, times)


def term_value(t: Term) -> Count:
    """The product of a term's factors (a :class:`TooLarge` when it is over the size limit; a
    term may also be one count, as a call's cost is)."""
    if len(t) == 1 and isinstance(t[0], TooLarge):
        return t[0]
    v: Dim = 1
    try:
        for f in t:
            v = mul(v, f)
    except LimitError:
        return TooLarge(((1, tuple(t)),))
    return v


def add_counts(a: Count, b: Count, times: int = 1) -> Count:
    """``a + times * b`` (a :class:`TooLarge` when the sum is over the size limit)."""
    if times == 0:
        return a
    if isinstance(a, int) and isinstance(b, int):
        return a + times * b
    if not isinstance(a, TooLarge) and not isinstance(b, TooLarge):
        try:
            return add(a, mul(b, times) if times != 1 else b)
        except LimitError:
            pass
    return TooLarge(tuple(_as_terms(a) + _as_terms(b, times)))


def total(terms: Iterable[Term]) -> Count:
    """The sum of the terms' products."""
    out: Count = 0
    for t in terms:
        out = add_counts(out, term_value(t))
    return out


def count_value(c: Count, bindings: dict[str, int]) -> int:
    if isinstance(c, TooLarge):
        return c.value(bindings)
    return evaluate(c, bindings)


def count_symbols(c: Count) -> set[str]:
    if isinstance(c, TooLarge):
        return c.symbols()
    return free_symbols(c) if not isinstance(c, int) else set()


def substitute_count(c: Count, bindings: dict[str, Dim], substitute: Callable[[Dim, dict[str, Dim]], Dim]) -> Count:
    """``c`` with its symbols replaced by dims (a callee's cost in the caller's symbols)."""
    if not isinstance(c, TooLarge):
        try:
            return substitute(c, bindings)
        except LimitError:
            c = TooLarge(tuple(_monomial_terms(c)))
    terms = []
    for n, t in c.terms:
        try:
            terms.append((n, tuple(substitute(f, bindings) for f in t)))
        except LimitError as e:
            raise Unknown(f"the callee's cost cannot be written in the caller's symbols: {e.message}") from None
    return TooLarge(tuple(terms))


__all__ = [
    "CostContext",
    "Count",
    "Formula",
    "Term",
    "TooLarge",
    "Unknown",
    "add_counts",
    "count_symbols",
    "count_value",
    "free",
    "moved_bytes",
    "per_element",
    "per_output_element",
    "substitute_count",
    "term_value",
    "total",
]
