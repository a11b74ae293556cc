"""Reductions and scans: sum, mean, amax, amin, var, argmax, cumsum.

FLOPs: one per input element (an add or a compare); ``var`` three (mean, subtract-square, sum).
"""

from __future__ import annotations

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import FLOAT_DTYPES, INT_DTYPES, RuleContext, Sig, norm_dim, shape_rule

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule("listed dims removed (kept as 1 with keepdim); all dims when dims=None")
def reduce_rule(ctx: RuleContext, dtype: str | None = None) -> list[Sig]:
    x = ctx.tensor(0)
    dims = ctx.attrs.get("dims")
    keep = bool(ctx.attrs.get("keepdim"))
    r = len(x.shape)
    norm = set(range(r)) if dims is None or len(dims) == 0 else {norm_dim(d, r, ctx, name="dims") for d in dims}
    shape = tuple((1 if k in norm else d) for k, d in enumerate(x.shape) if keep or k not in norm)
    return [Sig(shape, dtype or ctx.attrs.get("dtype") or x.dtype)]


@shape_rule("listed dims removed (kept as 1 with keepdim); all dims when dims=None; ints and bools sum in i64")
def sum_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if not ctx.attrs.get("dtype") and x.dtype not in FLOAT_DTYPES:
        return reduce_rule(ctx, "i64")  # torch sums ints and bools in i64
    return reduce_rule(ctx)


@shape_rule("like sum; float dtype")
def mean_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if x.dtype not in FLOAT_DTYPES and not ctx.attrs.get("dtype"):
        raise ctx.fail(f"mean of a {x.dtype} tensor needs a float dtype", 0, code="GS303", expected="a float dtype", got=x.dtype)
    return reduce_rule(ctx)


@shape_rule('dim removed (kept as 1 with keepdim); i64 result')
def argreduce_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = ctx.attrs.get("dim")
    keep = bool(ctx.attrs.get("keepdim"))
    if d is None:
        return [Sig((), "i64")]
    d = norm_dim(d, len(x.shape), ctx)
    shape = tuple((1 if k == d else s) for k, s in enumerate(x.shape) if keep or k != d)
    return [Sig(shape, "i64")]


@shape_rule('result like input; ints and bools accumulate in i64')
def cumsum_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    dtype = ctx.attrs.get("dtype") or ("i64" if x.dtype in INT_DTYPES + ("bool",) else x.dtype)
    return [Sig(x.shape, dtype)]


_RED = (A("dims", "ints", None), A("keepdim", "bool", False), A("dtype", "dtype", None))

# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class Sum(GsOp):
    """sum over dims (all when None)"""

    name = "gs.sum"
    args = "input"
    attrs = _RED
    rule = sum_rule
    flops = cost.per_element(1, "in")


@gs_op
class Mean(GsOp):
    """mean over dims (all when None)"""

    name = "gs.mean"
    args = "input"
    attrs = _RED
    rule = mean_rule
    flops = cost.per_element(1, "in")


@gs_op
class Amax(GsOp):
    """max over dims"""

    name = "gs.amax"
    args = "input"
    attrs = _RED[:2]
    rule = reduce_rule
    flops = cost.per_element(1, "in")


@gs_op
class Amin(GsOp):
    """min over dims"""

    name = "gs.amin"
    args = "input"
    attrs = _RED[:2]
    rule = reduce_rule
    flops = cost.per_element(1, "in")


@gs_op
class Var(GsOp):
    """variance over dims"""

    name = "gs.var"
    args = "input"
    attrs = (*_RED[:2], A("correction", "int", 1))
    rule = reduce_rule
    flops = cost.per_element(3, "in")


@gs_op
class Argmax(GsOp):
    """index of the max along dim"""

    name = "gs.argmax"
    args = "input"
    attrs = (A("dim", "int", None), A("keepdim", "bool", False))
    rule = argreduce_rule
    flops = cost.per_element(1, "in")


@gs_op
class Cumsum(GsOp):
    """running sum along dim"""

    name = "gs.cumsum"
    args = "input"
    attrs = (A("dim", "int"), A("dtype", "dtype", None))
    rule = cumsum_rule
    flops = cost.per_element(1, "in")
