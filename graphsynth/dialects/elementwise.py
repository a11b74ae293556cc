"""Elementwise ops: one output element from the same-position elements of the (broadcast) inputs.

Every op here carries the ``Elementwise`` trait, so ``fuse-elementwise`` may put it in a
``gs.fused`` region and the Triton backend may compile it (when it has an emitter); it costs one
FLOP per output element unless it says otherwise.  Binary ops broadcast numpy-style and take a
literal number on either side (``mul(x, 0.5)``).
"""

from __future__ import annotations

from typing import Any

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.dtypes import ALL_KINDS, is_complex, real_of
from graphsynth.dialects.opbase import GsOp, gs_op
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
from graphsynth.dialects.traits import (
    Activation,
    Commutative,
    DataMovement,
    Elementwise,
    FoldsUnits,
    ForwardsInput,
    LeftUnit,
    NoopWhenSameType,
    Random,
    RightUnit,
)

GELU_APPROXIMATIONS = ("none", "tanh")

# -- shape rules ---------------------------------------------------------------------------------


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


def _true_division(op: Any) -> bool:
    return op.attr_values().get("rounding_mode") is None


def _dropout_draws(op: Any) -> bool:
    attrs = op.attr_values()
    return bool(attrs.get("train")) and (attrs.get("p") or 0) > 0


# -- activations -------------------------------------------------------------------------------
# Declared first, in this order: the menu offers swaps between them in declaration order.


@gs_op
class Relu(GsOp):
    """max(x, 0)"""

    name = "gs.relu"
    args = "input"
    rule = unary
    traits = traits_def(Elementwise(), Activation(standard=True))


@gs_op
class Gelu(GsOp):
    """Gaussian error linear unit"""

    name = "gs.gelu"
    args = "input"
    attrs = (A("approximate", "str", "none", GELU_APPROXIMATIONS),)
    rule = unary
    traits = traits_def(Elementwise(), Activation(standard=True))


@gs_op
class Silu(GsOp):
    """x * sigmoid(x)"""

    name = "gs.silu"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise(), Activation(standard=True))


@gs_op
class Tanh(GsOp):
    """hyperbolic tangent"""

    name = "gs.tanh"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise(), Activation(standard=True))


@gs_op
class Sigmoid(GsOp):
    """1 / (1 + exp(-x))"""

    name = "gs.sigmoid"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise(), Activation())


@gs_op
class LeakyRelu(GsOp):
    """x if x > 0 else slope * x"""

    name = "gs.leaky_relu"
    args = "input"
    attrs = (A("negative_slope", "float", 0.01),)
    rule = unary
    traits = traits_def(Elementwise(), Activation())


@gs_op
class Softplus(GsOp):
    """log(1 + exp(beta * x)) / beta"""

    name = "gs.softplus"
    args = "input"
    attrs = (A("beta", "float", 1.0), A("threshold", "float", 20.0))
    rule = unary
    traits = traits_def(Elementwise(), Activation(swappable=False))


@gs_op
class Hardtanh(GsOp):
    """clamp to [min_val, max_val]"""

    name = "gs.hardtanh"
    args = "input"
    attrs = (A("min_val", "float", -1.0), A("max_val", "float", 1.0))
    rule = unary
    traits = traits_def(Elementwise(), Activation(swappable=False))


# -- other unary functions ---------------------------------------------------------------------


@gs_op
class Exp(GsOp):
    """e^x"""

    name = "gs.exp"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Log(GsOp):
    """natural logarithm"""

    name = "gs.log"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Sqrt(GsOp):
    """square root"""

    name = "gs.sqrt"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Rsqrt(GsOp):
    """1 / sqrt(x)"""

    name = "gs.rsqrt"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Neg(GsOp):
    """-x"""

    name = "gs.neg"
    args = "input"
    rule = unary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise())


@gs_op
class Abs(GsOp):
    """|x|"""

    name = "gs.abs"
    args = "input"
    rule = magnitude
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise())


@gs_op
class Sin(GsOp):
    """sine"""

    name = "gs.sin"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Cos(GsOp):
    """cosine"""

    name = "gs.cos"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Erf(GsOp):
    """the error function"""

    name = "gs.erf"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class Reciprocal(GsOp):
    """1 / x"""

    name = "gs.reciprocal"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())


@gs_op
class LogicalNot(GsOp):
    """boolean not"""

    name = "gs.logical_not"
    args = "input"
    rule = logical
    traits = traits_def(Elementwise())


@gs_op
class Sign(GsOp):
    """-1, 0 or 1 by the sign of x"""

    name = "gs.sign"
    args = "input"
    rule = unary  # integers stay integers
    traits = traits_def(Elementwise())


@gs_op
class Floor(GsOp):
    """round down to an integer value"""

    name = "gs.floor"
    args = "input"
    rule = unary
    traits = traits_def(Elementwise())


@gs_op
class Ceil(GsOp):
    """round up to an integer value"""

    name = "gs.ceil"
    args = "input"
    rule = unary
    traits = traits_def(Elementwise())


@gs_op
class Round(GsOp):
    """round to the nearest integer value, halves to even"""

    name = "gs.round"
    args = "input"
    rule = unary
    traits = traits_def(Elementwise())


@gs_op
class Trunc(GsOp):
    """round toward zero to an integer value"""

    name = "gs.trunc"
    args = "input"
    rule = unary
    traits = traits_def(Elementwise())


@gs_op
class Identity(GsOp):
    """x itself (a placeholder that canonicalize removes)"""

    name = "gs.identity"
    args = "input"
    rule = unary
    flops = cost.free
    traits = traits_def(Elementwise(), DataMovement(injective=True), ForwardsInput())


@gs_op
class Detach(GsOp):
    """x's values, with no gradient flowing back through it (tensor.detach())

    Not a no-op: canonicalize keeps it, because removing it changes the gradients of everything
    before it."""

    name = "gs.detach"
    args = "input"
    rule = unary
    flops = cost.free
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Clamp(GsOp):
    """clamp to [min, max]; either bound may be None"""

    name = "gs.clamp"
    args = "input"
    attrs = (A("min", "scalar", None), A("max", "scalar", None))
    rule = clamp_rule
    traits = traits_def(Elementwise())


@gs_op
class Dropout(GsOp):
    """dropout; the identity at inference"""

    name = "gs.dropout"
    args = "input"
    attrs = (A("p", "float", 0.5), A("train", "bool", False))
    rule = unary
    flops = cost.free
    traits = traits_def(Elementwise(), Random(when=_dropout_draws), ForwardsInput())


@gs_op
class Cast(GsOp):
    """convert to another dtype"""

    name = "gs.cast"
    args = "input"
    attrs = (A("dtype", "dtype"),)
    rule = cast_rule
    flops = cost.free  # a conversion, no arithmetic
    traits = traits_def(Elementwise(), NoopWhenSameType())


# -- binary ------------------------------------------------------------------------------------


@gs_op
class Add(GsOp):
    """lhs + rhs"""

    name = "gs.add"
    args = "lhs# rhs#"
    rule = binary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), Commutative(), RightUnit(0), LeftUnit(0), FoldsUnits())


@gs_op
class Sub(GsOp):
    """lhs - rhs"""

    name = "gs.sub"
    args = "lhs# rhs#"
    rule = binary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), RightUnit(0), FoldsUnits())


@gs_op
class Mul(GsOp):
    """lhs * rhs"""

    name = "gs.mul"
    args = "lhs# rhs#"
    rule = binary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), Commutative(), RightUnit(1), LeftUnit(1), FoldsUnits())


@gs_op
class Div(GsOp):
    """lhs / rhs; rounding_mode trunc|floor for integer division"""

    name = "gs.div"
    args = "lhs# rhs#"
    attrs = (A("rounding_mode", "str", None, ("trunc", "floor")),)
    rule = true_div
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), RightUnit(1, when=_true_division), FoldsUnits())


@gs_op
class Pow(GsOp):
    """lhs ** rhs"""

    name = "gs.pow"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), RightUnit(1), FoldsUnits())


@gs_op
class Maximum(GsOp):
    """elementwise max"""

    name = "gs.maximum"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Minimum(GsOp):
    """elementwise min"""

    name = "gs.minimum"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Remainder(GsOp):
    """Python-style modulus"""

    name = "gs.remainder"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise())


@gs_op
class Eq(GsOp):
    """lhs == rhs (bool)"""

    name = "gs.eq"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Ne(GsOp):
    """lhs != rhs (bool)"""

    name = "gs.ne"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Lt(GsOp):
    """lhs < rhs (bool)"""

    name = "gs.lt"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class Le(GsOp):
    """lhs <= rhs (bool)"""

    name = "gs.le"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class Gt(GsOp):
    """lhs > rhs (bool)"""

    name = "gs.gt"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class Ge(GsOp):
    """lhs >= rhs (bool)"""

    name = "gs.ge"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class LogicalAnd(GsOp):
    """boolean and"""

    name = "gs.logical_and"
    args = "lhs# rhs#"
    rule = logical
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class LogicalOr(GsOp):
    """boolean or"""

    name = "gs.logical_or"
    args = "lhs# rhs#"
    rule = logical
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class BitwiseAnd(GsOp):
    """bitwise and (ints, bools)"""

    name = "gs.bitwise_and"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class BitwiseOr(GsOp):
    """bitwise or (ints, bools)"""

    name = "gs.bitwise_or"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Where(GsOp):
    """cond ? lhs : rhs"""

    name = "gs.where"
    args = "cond lhs# rhs#"
    rule = where_rule
    traits = traits_def(Elementwise())


@gs_op
class MaskedFill(GsOp):
    """input with value where mask is true"""

    name = "gs.masked_fill"
    args = "input mask value#"
    rule = masked_fill_rule
    traits = traits_def(Elementwise())



@gs_op
class Log1p(GsOp):
    """log(1 + x), accurate for small x"""

    name = "gs.log1p"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())
