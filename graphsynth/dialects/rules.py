"""The machinery of shape rules: signatures, the context a rule sees, the error it raises, and
the helpers rules share (dim normalisation, broadcasting, dtype checks).

A shape rule is a plain function from a :class:`RuleContext` (operand shapes and dtypes, literal
scalars, attribute values) to the result signatures, or raises :class:`ShapeError` naming the
operand and the violated relation.  Rules never look at xDSL objects, so the verifier, the
importer and the hypothesis generators all share them.  Each op's rule lives with the op, in the
family module of :mod:`graphsynth.dialects` that declares it; :func:`shape_rule` attaches the
text that models read about a rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.dtypes import FLOAT_DTYPES, INT_DTYPES, promote
from graphsynth.dialects.symdim import Dim, Shape, add, floordiv, mul, sub

__all__ = [
    "FLOAT_DTYPES",
    "INT_DTYPES",
    "RuleContext",
    "ShapeError",
    "Sig",
    "broadcast",
    "conv_out",
    "elementwise",
    "literal_dtype",
    "norm_dim",
    "pair",
    "promote",
    "same_dtype",
    "shape_rule",
    "sum_dims",
]


@dataclass(frozen=True)
class Sig:
    """A tensor signature: shape and dtype."""

    shape: Shape
    dtype: str

    def __str__(self) -> str:
        # Made once: a diagnostic and its fix-it both write the same signature.
        text = self.__dict__.get("_text")
        if text is None:
            text = f"{self.dtype}{format_shape(self.shape)}"
            object.__setattr__(self, "_text", text)
        return text

class ShapeError(Exception):
    """A violated shape rule; the verifier turns it into a Diagnostic."""

    def __init__(
        self,
        message: str,
        *,
        operand: int | None = None,
        code: str = "GS301",
        expected: str | None = None,
        got: str | None = None,
        relation: str | None = None,
        fix: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.operand = operand
        self.code = code
        self.expected = expected
        self.got = got
        self.relation = relation
        self.fix = fix

# ``what`` of RuleContext.eq shows the actual value when it names a dim of the shape it prints.
_SHOWS_DIM = re.compile(r"^has shape \[.*\]; dim -?\d+( \([a-z ]+\))?$")


@dataclass
class RuleContext:
    """What a rule sees: operands by argument position (Sig, a literal, or None)."""

    op: str
    args: list[Any]
    attrs: dict[str, Any]
    arg_operand: list[int | None] = field(default_factory=list)

    def tensor(self, i: int) -> Sig:
        a = self.args[i]
        if not isinstance(a, Sig):
            raise ShapeError(f"argument #{i} must be a tensor, got literal {a!r}", code="GS209")
        return a

    def has(self, i: int) -> bool:
        return i < len(self.args) and isinstance(self.args[i], Sig)

    def operand_index(self, i: int) -> int | None:
        return self.arg_operand[i] if i < len(self.arg_operand) else i

    def eq(self, got: Dim, expected: Dim, *, arg: int, what: str, ref: str | None = None) -> None:
        """Require ``got == expected`` symbolically; ``what`` says where ``got`` lives
        (``"has shape [256, 700]; dim 1"``), ``ref`` where ``expected`` comes from
        (``"dim -1 of operand #0"``).  The message names the expected value before the actual
        one (DESIGN.md §3): ``has shape [256, 700]; dim 1 must equal dim -1 of operand #0 (784)``;
        the actual value is spelled out unless ``what`` shows it as a dim of the shape."""
        verdict = compare(got, expected)
        if verdict:
            return
        relation = f"{expected} == {got}"
        want = f"{ref} ({expected})" if ref else str(expected)
        if verdict is None:
            raise ShapeError(
                f"{what} must equal {want}, but cannot prove {relation}",
                operand=self.operand_index(arg),
                code="GS304",
                expected=str(expected),
                got=str(got),
                relation=relation,
                fix="bind the symbols so that both sides are the same expression",
            )
        shown = _SHOWS_DIM.search(what) is not None
        raise ShapeError(
            f"{what} must equal {want}" + ("" if shown else f", got {got}"),
            operand=self.operand_index(arg),
            expected=str(expected),
            got=str(got),
            relation=relation,
        )

    def rank(self, i: int, expected: int | tuple[int, ...], what: str = "") -> Sig:
        t = self.tensor(i)
        ok = len(t.shape) in expected if isinstance(expected, tuple) else len(t.shape) == expected
        if not ok:
            want = " or ".join(map(str, expected)) if isinstance(expected, tuple) else str(expected)
            raise ShapeError(
                f"must have rank {want}{what}, got rank {len(t.shape)} ({t})",
                operand=self.operand_index(i),
                code="GS302",
                expected=f"rank {want}",
                got=f"rank {len(t.shape)}",
            )
        return t

    def fail(self, message: str, arg: int | None = None, **kw: Any) -> ShapeError:
        return ShapeError(message, operand=None if arg is None else self.operand_index(arg), **kw)


def shape_rule(text: str) -> Callable[[Callable[[RuleContext], list[Sig]]], Callable[[RuleContext], list[Sig]]]:
    """Decorator: attach the text models read about a rule (``"input [..., in], weight [out, in]
    -> [..., out]"``); every op using the rule shows it unless the op gives its own."""

    def deco(fn: Callable[[RuleContext], list[Sig]]) -> Callable[[RuleContext], list[Sig]]:
        fn.rule_text = text  # type: ignore[attr-defined]
        return fn

    return deco


def norm_dim(d: int, rank: int, ctx: RuleContext, arg: int = 0, name: str = "dim") -> int:
    """Normalise a possibly negative dim index, or report it out of range."""
    if not isinstance(d, int) or not -rank <= d < max(rank, 1):
        raise ctx.fail(
            f"{name} must be in [{-rank}, {max(rank, 1) - 1}] for rank {rank}, got {d}",
            arg,
            code="GS306",
            expected=f"{name} in [{-rank}, {max(rank, 1) - 1}]",
            got=str(d),
        )
    return d % rank if rank else 0


def broadcast(ctx: RuleContext, sigs: list[tuple[int, Sig]]) -> Shape:
    """Numpy-style broadcasting of the tensor arguments (arg index, Sig)."""
    rank = max(len(s.shape) for _, s in sigs)
    out: list[Dim] = []
    for k in range(rank):
        chosen: Dim | None = None
        chosen_arg = -1
        for i, s in sigs:
            pos = k - (rank - len(s.shape))
            if pos < 0:
                continue
            d = s.shape[pos]
            if d == 1:
                continue
            if chosen is None:
                chosen, chosen_arg = d, i
                continue
            verdict = compare(d, chosen)
            if verdict is False:
                raise ShapeError(
                    f"dim {pos - len(s.shape)} must equal dim {k - rank} of operand "
                    f"#{ctx.operand_index(chosen_arg)} ({chosen}) or 1 to broadcast, got {d}",
                    operand=ctx.operand_index(i),
                    expected=f"{chosen} or 1",
                    got=str(d),
                    relation=f"{chosen} == {d}",
                )
            if verdict is None:
                raise ShapeError(
                    f"dim {pos - len(s.shape)} must equal dim {k - rank} of operand "
                    f"#{ctx.operand_index(chosen_arg)} ({chosen}) or 1 to broadcast, but cannot prove {chosen} == {d}",
                    operand=ctx.operand_index(i),
                    code="GS304",
                    expected=f"{chosen} or 1",
                    got=str(d),
                    relation=f"{chosen} == {d}",
                )
        out.append(1 if chosen is None else chosen)
    return tuple(out)


def literal_dtype(v: Any) -> str:
    return "bool" if isinstance(v, bool) else "i64" if isinstance(v, int) else "f32"


def elementwise(ctx: RuleContext, result_dtype: str | None = None) -> list[Sig]:
    tensors = [(i, a) for i, a in enumerate(ctx.args) if isinstance(a, Sig)]
    if not tensors:
        raise ctx.fail("needs at least one tensor operand", code="GS208")
    shape = broadcast(ctx, tensors)
    dtype = tensors[0][1].dtype
    for _, s in tensors[1:]:
        dtype = promote(dtype, s.dtype)
    for a in ctx.args:
        if a is not None and not isinstance(a, Sig) and dtype in INT_DTYPES + ("bool",):
            lit = literal_dtype(a)
            if lit == "f32":
                dtype = "f32"
            elif lit == "i64" and dtype == "bool":  # torch: bool tensor + int number -> i64
                dtype = "i64"
    return [Sig(shape, result_dtype or dtype)]


def same_dtype(ctx: RuleContext, arg: int, ref: Sig, other: Sig) -> None:
    if ref.dtype != other.dtype:
        raise ctx.fail(
            f"must have dtype {ref.dtype} (the dtype of operand #{ctx.operand_index(0)}), got {other.dtype}",
            arg,
            code="GS303",
            expected=ref.dtype,
            got=other.dtype,
        )


def conv_out(size: Dim, k: Dim, stride: int, pad: int, dil: int) -> Dim:
    # floor((size + 2*pad - dil*(k-1) - 1) / stride) + 1
    num = sub(sub(add(size, 2 * pad), mul(dil, sub(k, 1))), 1)
    return add(floordiv(num, stride), 1)


def pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def sum_dims(dims: list[Dim]) -> Dim:
    total: Dim = 0
    for d in dims:
        total = add(total, d)
    return total
