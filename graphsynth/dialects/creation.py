"""Tensors made from attributes: arange, full, constant; and full_like, which takes only the shape
of its operand.  None computes anything (0 FLOPs); all but full_like are ``Creation`` ops."""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.dimcompare import is_positive_known
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, Sig, shape_rule
from graphsynth.dialects.symdim import add, floordiv, numel, sub
from graphsynth.dialects.traits import Creation

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule('1-d, ceil((end-start)/step) elements')
def arange_rule(ctx: RuleContext) -> list[Sig]:
    start = ctx.attrs.get("start") or 0
    end = ctx.attrs["end"]
    step = ctx.attrs.get("step") or 1
    if not isinstance(step, int) or step < 1:
        raise ctx.fail(f"step must be a positive int, got {step}", code="GS306")
    n = floordiv(add(sub(end, start), step - 1), step)
    if not is_positive_known(n) and not (isinstance(n, int) and n >= 0):
        raise ctx.fail(f"arange length {n} is not known to be non-negative", code="GS304")
    return [Sig((n,), ctx.attrs.get("dtype") or "i64")]


@shape_rule('the given shape and dtype')
def full_rule(ctx: RuleContext) -> list[Sig]:
    return [Sig(tuple(ctx.attrs["shape"]), ctx.attrs["dtype"])]


@shape_rule('the given shape and dtype; len(value) equals the number of elements')
def constant_rule(ctx: RuleContext) -> list[Sig]:
    values = ctx.attrs["value"]
    dtype = ctx.attrs["dtype"]
    shape = tuple(ctx.attrs["shape"])
    n = numel(shape)
    if not isinstance(n, int) or n != len(values):
        raise ctx.fail(f"value has {len(values)} entries but shape {format_shape(shape)} needs {n}", code="GS306")
    return [Sig(shape, dtype)]


@shape_rule("input's shape; dtype as given or input's")
def like_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    return [Sig(x.shape, ctx.attrs.get("dtype") or x.dtype)]


# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class Arange(GsOp):
    """start, start+step, ... below end"""

    name = "gs.arange"
    args = ""
    attrs = (A("start", "dim", 0), A("end", "dim"), A("step", "int", 1), A("dtype", "dtype", "i64"))
    rule = arange_rule
    traits = traits_def(Creation())


@gs_op
class Full(GsOp):
    """a tensor of shape filled with value"""

    name = "gs.full"
    args = ""
    attrs = (A("shape", "dims"), A("value", "scalar"), A("dtype", "dtype"))
    rule = full_rule
    traits = traits_def(Creation())


@gs_op
class FullLike(GsOp):
    """a tensor like input filled with value"""

    name = "gs.full_like"
    args = "input"
    attrs = (A("value", "scalar"), A("dtype", "dtype", None))
    rule = like_rule
    flops = cost.free


@gs_op
class Constant(GsOp):
    """a small literal tensor"""

    name = "gs.constant"
    args = ""
    attrs = (A("value", "floats"), A("shape", "dims"), A("dtype", "dtype"))
    rule = constant_rule
    traits = traits_def(Creation())
