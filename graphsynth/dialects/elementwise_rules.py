"""The shape rules of the elementwise ops (:mod:`graphsynth.dialects.elementwise`,
:mod:`graphsynth.dialects.binary`), and the attribute predicates their traits read.

Shared by the two families: unary rules keep the input's shape (a float or component dtype where
the op computes in floating point), binary ones broadcast numpy-style and promote dtypes as torch
does, a number adapting to the tensor.
"""

from __future__ import annotations

from typing import Any

from graphsynth.dialects.dtypes import is_complex, real_of
from graphsynth.dialects.rules import (
    FLOAT_DTYPES,
    RuleContext,
    Sig,
    broadcast,
    elementwise,
    literal_dtype,
    promote,
    shape_rule,
)


@shape_rule("result has the input's shape and dtype")
def unary(ctx: RuleContext) -> list[Sig]:
    return [ctx.tensor(0)]


@shape_rule("result has the input's shape; float dtype")
def float_unary(ctx: RuleContext) -> list[Sig]:
    t = ctx.tensor(0)
    return [Sig(t.shape, t.dtype if t.dtype in FLOAT_DTYPES else "f32")]


@shape_rule("result has the input's shape and dtype; the component dtype of a complex input (c64 -> f32)")
def magnitude(ctx: RuleContext) -> list[Sig]:
    t = ctx.tensor(0)
    return [Sig(t.shape, real_of(t.dtype))] if is_complex(t.dtype) else [t]


@shape_rule("numpy broadcasting of the two shapes; dtypes promote (a number adapts to the tensor)")
def binary(ctx: RuleContext) -> list[Sig]:
    return elementwise(ctx)


@shape_rule("broadcasting; integer inputs give a float result unless rounding_mode is set")
def true_div(ctx: RuleContext) -> list[Sig]:
    (sig,) = elementwise(ctx)
    if is_complex(sig.dtype):
        if ctx.attrs.get("rounding_mode") is not None:
            raise ctx.fail(f"rounding_mode={ctx.attrs['rounding_mode']} needs real operands, got {sig.dtype}", code="GS335",
                           expected="real operands", got=sig.dtype, fix="leave rounding_mode unset for complex division")
        return [sig]
    if ctx.attrs.get("rounding_mode") is None and sig.dtype not in FLOAT_DTYPES:
        return [Sig(sig.shape, "f32")]
    return [sig]


@shape_rule("broadcasting; bool result")
def compare_op(ctx: RuleContext) -> list[Sig]:
    return elementwise(ctx, "bool")


@shape_rule("broadcasting; bool result")
def logical(ctx: RuleContext) -> list[Sig]:
    return elementwise(ctx, "bool")


@shape_rule("cond, lhs, rhs broadcast together; dtype of lhs/rhs")
def where_rule(ctx: RuleContext) -> list[Sig]:
    cond = ctx.tensor(0)
    if cond.dtype != "bool":
        raise ctx.fail(f"condition has dtype {cond.dtype}, expected bool", 0, code="GS303", expected="bool", got=cond.dtype)
    tensors = [(i, a) for i, a in enumerate(ctx.args) if isinstance(a, Sig)]
    shape = broadcast(ctx, tensors)
    values = [a for a in ctx.args[1:] if isinstance(a, Sig)]
    dtype = values[0].dtype if values else literal_dtype(ctx.args[1])
    for v in values[1:]:
        dtype = promote(dtype, v.dtype)
    for lit in (a for a in ctx.args[1:] if a is not None and not isinstance(a, Sig)):
        # as torch promotes: a float number makes an integer result f32, an int number a bool one i64
        kind = literal_dtype(lit)
        if kind == "f32" and dtype not in FLOAT_DTYPES or kind == "i64" and dtype == "bool":
            dtype = kind
    return [Sig(shape, dtype)]


@shape_rule("mask broadcasts to input; result like input")
def masked_fill_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    mask = ctx.tensor(1)
    if mask.dtype != "bool":
        raise ctx.fail(f"mask has dtype {mask.dtype}, expected bool", 1, code="GS303", expected="bool", got=mask.dtype)
    shape = broadcast(ctx, [(0, x), (1, mask)])
    ctx.eq(len(shape), len(x.shape), arg=1, what="rank of the broadcast mask")
    for k, (a, b) in enumerate(zip(shape, x.shape)):
        ctx.eq(a, b, arg=1, what=f"broadcast dim {k} of the mask")
    return [x]


@shape_rule("input's shape, the given dtype")
def cast_rule(ctx: RuleContext) -> list[Sig]:
    return [Sig(ctx.tensor(0).shape, ctx.attrs["dtype"])]


@shape_rule("result like input")
def clamp_rule(ctx: RuleContext) -> list[Sig]:
    return [ctx.tensor(0)]


def true_division(op: Any) -> bool:
    return op.attr_values().get("rounding_mode") is None


def dropout_draws(op: Any) -> bool:
    attrs = op.attr_values()
    return bool(attrs.get("train")) and (attrs.get("p") or 0) > 0
