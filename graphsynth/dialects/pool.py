"""Pooling and resizing over the trailing spatial dims: max/avg pooling, adaptive average pooling,
interpolation.

Pooling costs one FLOP per window element of each output element (a compare or an add);
adaptive average pooling one per input element; interpolation per output element 0 (nearest),
``2**(k+1) - 1`` for (bi/tri)linear over ``k`` spatial dims (``2**k`` weighted taps, summed), 31
for bicubic (16 taps).
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.cost import CostContext, Term
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, Sig, conv_out, pair, shape_rule
from graphsynth.dialects.symdim import Dim, add, floordiv, sub
from graphsynth.dialects.traits import Pooling

INTERPOLATION_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear")

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule('[N, C, H, W] -> [N, C, (H+2p-d(k-1)-1)//s+1, ...] (ceil_mode: rounded up, the last window starting inside); stride defaults to kernel_size')
def pool2d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4))
    kernel = pair(ctx.attrs["kernel_size"])
    stride = pair(ctx.attrs.get("stride") or kernel)
    pad = pair(ctx.attrs.get("padding", 0))
    dil = pair(ctx.attrs.get("dilation", 1))
    if ctx.attrs.get("ceil_mode"):
        h, w = (ceil_out(ctx, x.shape[i], kernel[i], stride[i], pad[i], dil[i]) for i in (-2, -1))
    else:
        h = conv_out(x.shape[-2], kernel[0], stride[0], pad[0], dil[0])
        w = conv_out(x.shape[-1], kernel[1], stride[1], pad[1], dil[1])
    return [Sig(x.shape[:-2] + (h, w), x.dtype)]


def ceil_out(ctx: RuleContext, size: Dim, k: int, stride: int, pad: int, dil: int) -> Dim:
    """Pooling's output size with ``ceil_mode``: ``ceil((size+2p-w)/s) + 1`` windows (``w`` the
    dilated window), less the last one when it would start in the right padding (torch's rule).
    That last-window test is exact on ints; on a symbolic size it is decided once for every
    value: a window at least ``s + p`` wide never starts in the padding.  Otherwise the size
    depends on the value, which a dim cannot say, and the rule refuses it."""
    window = dil * (k - 1) + 1
    n = add(floordiv(add(sub(add(size, 2 * pad), window), stride - 1), stride), 1)
    if isinstance(size, int) and isinstance(n, int):
        return n - 1 if (n - 1) * stride >= size + pad else n
    if window >= stride + pad:
        return n
    raise ctx.fail(
        f"ceil_mode=true on the symbolic size {size} with kernel {k}, stride {stride}, padding {pad}: whether the last "
        "window is dropped depends on the size's value", 0, code="GS306")


@shape_rule('[N, C, H, W] -> [N, C, *output_size]')
def adaptive_pool2d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4))
    out = pair(ctx.attrs["output_size"])
    return [Sig(x.shape[:-2] + out, x.dtype)]


@shape_rule('[N, C, *spatial] -> [N, C, *size]; size has one entry per spatial dim (and scales, when given)')
def interpolate_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4, 5))
    size = tuple(ctx.attrs["size"])
    k = len(x.shape) - 2
    if len(size) != k:
        raise ctx.fail(f"size {format_shape(size)} must have {k} entries for {x}", 0, code="GS306")
    scales = ctx.attrs.get("scales")
    if scales is not None and len(scales) != k:
        raise ctx.fail(f"scales has {len(scales)} entries, expected {k}", 0, code="GS306")
    return [Sig(x.shape[:2] + size, x.dtype)]


# -- cost formulas ---------------------------------------------------------------------------------


def window_flops(ctx: CostContext) -> list[Term]:
    """numel(out) * kernel elements."""
    return [(*ctx.out[0].shape, *(ctx.attrs.get("kernel_size") or ()))]


def interpolate_flops(ctx: CostContext) -> list[Term]:
    """0 for nearest modes; (2**(k+1) - 1) * numel(out) for linear modes over k spatial dims; 31 *
    numel(out) for bicubic."""
    mode = ctx.attrs.get("mode") or "nearest"
    out = ctx.out[0].shape
    if mode.startswith("nearest"):
        return []
    if mode == "bicubic":
        return [(31, *out)]
    k = max(len(out) - 2, 1)
    return [(2 ** (k + 1) - 1, *out)]


_POOL = (A("kernel_size", "ints"), A("stride", "ints", None), A("padding", "ints", (0, 0)))

# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class MaxPool2d(GsOp):
    """2-d max pooling"""

    name = "gs.max_pool2d"
    args = "input"
    attrs = (*_POOL, A("dilation", "ints", (1, 1)), A("ceil_mode", "bool", False))
    rule = pool2d
    flops = window_flops
    traits = traits_def(Pooling())


@gs_op
class AvgPool2d(GsOp):
    """2-d average pooling"""

    name = "gs.avg_pool2d"
    args = "input"
    attrs = (*_POOL, A("ceil_mode", "bool", False), A("count_include_pad", "bool", True))
    rule = pool2d
    flops = window_flops
    traits = traits_def(Pooling())


@gs_op
class AdaptiveAvgPool2d(GsOp):
    """average pooling to a fixed output size"""

    name = "gs.adaptive_avg_pool2d"
    args = "input"
    attrs = (A("output_size", "ints"),)
    rule = adaptive_pool2d
    flops = cost.per_element(1, "in")


@gs_op
class Interpolate(GsOp):
    """resize the trailing spatial dims to size (nearest, bilinear, bicubic); scales, when given, are the factors torch uses to pick source pixels"""

    name = "gs.interpolate"
    args = "input"
    attrs = (
        A("size", "dims"),
        A("mode", "str", "nearest", INTERPOLATION_MODES),
        A("align_corners", "bool", None),
        A("scales", "floats", None),
    )
    rule = interpolate_rule
    flops = interpolate_flops




# -- 1-d pooling (sequence models: [N, C, L]) --------------------------------------------------------


def _one(ctx: RuleContext, name: str, default: int | None = None) -> int:
    """A 1-d pooling attribute: one integer (a list of one, as torch writes it)."""
    v = ctx.attrs.get(name)
    if v is None or (not isinstance(v, int) and len(v) == 0):
        if default is None:
            raise ctx.fail(f"{name} needs one entry", code="GS306", expected="[k]", got="[]")
        return default
    if isinstance(v, int):
        return v
    if len(v) != 1:
        raise ctx.fail(f"{name} {list(v)} must have one entry for 1-d pooling", code="GS306",
                       expected="one entry", got=f"{len(v)} entries")
    return int(v[0])


@shape_rule("[N, C, L] -> [N, C, (L+2p-d(k-1)-1)//s+1]; stride defaults to kernel_size; p <= k//2")
def pool1d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3))
    kernel = _one(ctx, "kernel_size")
    stride = _one(ctx, "stride", kernel)
    pad = _one(ctx, "padding", 0)
    dil = _one(ctx, "dilation", 1)
    if ctx.attrs.get("ceil_mode"):
        raise ctx.fail("ceil_mode=true is not supported", code="GS306")
    for what, v, lo in (("kernel_size", kernel, 1), ("stride", stride, 1), ("dilation", dil, 1), ("padding", pad, 0)):
        if v < lo:
            raise ctx.fail(f"{what} must be >= {lo}, got {v}", code="GS306", expected=f"{what} >= {lo}", got=str(v))
    if pad > kernel // 2:
        raise ctx.fail(f"padding {pad} must be at most half the kernel size {kernel}", code="GS306",
                       expected=f"padding <= {kernel // 2}", got=str(pad))
    length = conv_out(x.shape[-1], kernel, stride, pad, dil)
    if isinstance(length, int) and length < 1:
        raise ctx.fail(
            f"has length {x.shape[-1]}; a window of {dil * (kernel - 1) + 1} (padding {pad}) does not fit it", 0,
            code="GS301", expected=f"length >= {dil * (kernel - 1) + 1 - 2 * pad}", got=str(x.shape[-1]),
        )
    return [Sig(x.shape[:-1] + (length,), x.dtype)]


@shape_rule("[N, C, L] -> [N, C, output_size]")
def adaptive_pool1d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3))
    size = _one(ctx, "output_size")
    if size < 1:
        raise ctx.fail(f"output_size must be >= 1, got {size}", code="GS306", expected="output_size >= 1", got=str(size))
    return [Sig(x.shape[:-1] + (size,), x.dtype)]


@gs_op
class MaxPool1d(GsOp):
    """1-d max pooling over the last dim"""

    name = "gs.max_pool1d"
    args = "input"
    attrs = (A("kernel_size", "ints"), A("stride", "ints", None), A("padding", "ints", (0,)),
             A("dilation", "ints", (1,)), A("ceil_mode", "bool", False))
    rule = pool1d
    flops = window_flops
    traits = traits_def(Pooling())


@gs_op
class AvgPool1d(GsOp):
    """1-d average pooling over the last dim"""

    name = "gs.avg_pool1d"
    args = "input"
    attrs = (A("kernel_size", "ints"), A("stride", "ints", None), A("padding", "ints", (0,)),
             A("ceil_mode", "bool", False), A("count_include_pad", "bool", True))
    rule = pool1d
    flops = window_flops
    traits = traits_def(Pooling())


@gs_op
class AdaptiveAvgPool1d(GsOp):
    """1-d average pooling of the last dim to a fixed output size"""

    name = "gs.adaptive_avg_pool1d"
    args = "input"
    attrs = (A("output_size", "ints"),)
    rule = adaptive_pool1d
    flops = cost.per_element(1, "in")
    traits = traits_def(Pooling())
