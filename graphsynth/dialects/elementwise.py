"""Elementwise ops of one tensor: activations and the other unary functions, identity, detach,
clamp, dropout and cast.

Every op here carries the ``Elementwise`` trait, so ``fuse-elementwise`` may put it in a
``gs.fused`` region and the Triton backend may compile it (when it has an emitter); it costs one
FLOP per output element unless it says otherwise.  The binary ops (arithmetic, comparisons,
``where``) are in :mod:`graphsynth.dialects.binary`; the rules of both families in
:mod:`graphsynth.dialects.elementwise_rules` (re-exported here: ``float_unary``, ``binary``...).
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.dtypes import ALL_KINDS
from graphsynth.dialects.elementwise_rules import (
    binary,
    cast_rule,
    clamp_rule,
    compare_op,
    dropout_draws,
    float_unary,
    logical,
    magnitude,
    masked_fill_rule,
    true_div,
    true_division,
    unary,
    where_rule,
)
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.traits import (
    Activation,
    DataMovement,
    Elementwise,
    ForwardsInput,
    NoopWhenSameType,
    Random,
)

__all__ = [
    "GELU_APPROXIMATIONS", "binary", "cast_rule", "clamp_rule", "compare_op", "dropout_draws", "float_unary", "logical",
    "magnitude", "masked_fill_rule", "true_div", "true_division", "unary", "where_rule",
]

GELU_APPROXIMATIONS = ("none", "tanh")

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
    traits = traits_def(Elementwise(), Random(when=dropout_draws), ForwardsInput())


@gs_op
class Cast(GsOp):
    """convert to another dtype"""

    name = "gs.cast"
    args = "input"
    attrs = (A("dtype", "dtype"),)
    rule = cast_rule
    flops = cost.free  # a conversion, no arithmetic
    traits = traits_def(Elementwise(), NoopWhenSameType())


@gs_op
class Log1p(GsOp):
    """log(1 + x), accurate for small x"""

    name = "gs.log1p"
    args = "input"
    rule = float_unary
    traits = traits_def(Elementwise())
