"""Normalisation: layer_norm, rms_norm, batch_norm, group_norm, softmax, log_softmax.

FLOPs per element of the input: 5 for layer and group norm (mean, subtract, variance, scale,
shift), 4 for rms_norm, 2 for batch_norm at inference, plus one per element for each of the
weight and the bias; 5 per element for softmax and log_softmax (max, subtract, exp, sum, divide).
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, Sig, norm_dim, shape_rule
from graphsynth.dialects.traits import Normalizes

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule('trailing dims of input equal normalized_shape; weight and bias have that shape; result like input')
def layer_norm_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    normalized = tuple(ctx.attrs["normalized_shape"])
    if len(normalized) > len(x.shape):
        raise ctx.fail(f"normalized_shape {format_shape(normalized)} has more dims than the input {x}", 0, code="GS302")
    for k, d in enumerate(normalized):
        pos = len(x.shape) - len(normalized) + k
        ctx.eq(x.shape[pos], d, arg=0, what=f"has shape {format_shape(x.shape)}; dim {pos}")
    for arg in (1, 2):
        if ctx.has(arg):
            p = ctx.tensor(arg)
            if len(p.shape) != len(normalized):
                raise ctx.fail(f"has shape {format_shape(p.shape)}, expected {format_shape(normalized)}", arg, code="GS302")
            for k, (a, b) in enumerate(zip(p.shape, normalized)):
                ctx.eq(a, b, arg=arg, what=f"has shape {format_shape(p.shape)}; dim {k}")
    return [x]


@shape_rule("trailing dims of input equal normalized_shape; weight has that shape; result like input")
def rms_norm_rule(ctx: RuleContext) -> list[Sig]:
    return layer_norm_rule(ctx)


@shape_rule('input [N, C, ...]; weight, bias, running stats [C]; result like input')
def batch_norm_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3, 4, 5))
    c = x.shape[1]
    for arg in range(1, 5):
        if ctx.has(arg):
            p = ctx.rank(arg, 1)
            ctx.eq(p.shape[0], c, arg=arg, what=f"has shape {format_shape(p.shape)}; dim 0 (channels)")
    return [x]


@shape_rule('input [N, C, ...], C divisible by num_groups; weight, bias [C]; result like input')
def group_norm_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3, 4, 5))
    groups = ctx.attrs["num_groups"]
    c = x.shape[1]
    if isinstance(c, int) and c % groups:
        raise ctx.fail(f"channels ({c}) are not divisible by num_groups ({groups})", 0, code="GS306")
    for arg in (1, 2):
        if ctx.has(arg):
            ctx.eq(ctx.rank(arg, 1).shape[0], c, arg=arg, what="dim 0 (channels)")
    return [x]


@shape_rule('result like input (or the given dtype)')
def softmax_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    return [Sig(x.shape, ctx.attrs.get("dtype") or x.dtype)]


# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class LayerNorm(GsOp):
    """normalise over the trailing normalized_shape dims"""

    name = "gs.layer_norm"
    args = "input weight? bias?"
    attrs = (A("normalized_shape", "dims"), A("eps", "float", 1e-5))
    rule = layer_norm_rule
    flops = cost.per_element(5, "in", affine_from=1)
    traits = traits_def(Normalizes(-1))


@gs_op
class RmsNorm(GsOp):
    """x / sqrt(mean(x^2) + eps) * weight"""

    name = "gs.rms_norm"
    args = "input weight?"
    attrs = (A("normalized_shape", "dims"), A("eps", "float", None))
    rule = rms_norm_rule
    flops = cost.per_element(4, "in", affine_from=1)
    traits = traits_def(Normalizes(-1))


@gs_op
class BatchNorm(GsOp):
    """batch norm with running statistics (inference form)"""

    name = "gs.batch_norm"
    args = "input weight? bias? running_mean? running_var?"
    attrs = (A("eps", "float", 1e-5), A("momentum", "float", 0.1), A("training", "bool", False))
    rule = batch_norm_rule
    flops = cost.per_element(2, "in", affine_from=1)
    traits = traits_def(Normalizes(1))


@gs_op
class GroupNorm(GsOp):
    """group norm over channel groups"""

    name = "gs.group_norm"
    args = "input weight? bias?"
    attrs = (A("num_groups", "int"), A("eps", "float", 1e-5))
    rule = group_norm_rule
    flops = cost.per_element(5, "in", affine_from=1)


@gs_op
class Softmax(GsOp):
    """softmax along dim"""

    name = "gs.softmax"
    args = "input"
    attrs = (A("dim", "int"), A("dtype", "dtype", None))
    rule = softmax_rule
    flops = cost.per_element(5)


@gs_op
class LogSoftmax(GsOp):
    """log-softmax along dim"""

    name = "gs.log_softmax"
    args = "input"
    attrs = (A("dim", "int"), A("dtype", "dtype", None))
    rule = softmax_rule
    flops = cost.per_element(5)
