"""Lowerings of pooling and interpolation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import Arg, fail
from graphsynth.backend.registry import choice, register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


register(gs.MaxPool2d, lambda L, a, s, k, out: L.call(
    torch.max_pool2d, a[0], list(k["kernel_size"]), list(k["stride"] or k["kernel_size"]), list(k["padding"]),
    list(k["dilation"]), k["ceil_mode"],
))
register(gs.AvgPool2d, lambda L, a, s, k, out: L.call(
    torch._C._nn.avg_pool2d, a[0], list(k["kernel_size"]), list(k["stride"] or k["kernel_size"]),
    list(k["padding"]), k["ceil_mode"], k["count_include_pad"],
))
register(gs.AdaptiveAvgPool2d, lambda L, a, s, k, out: L.call(
    torch._C._nn.adaptive_avg_pool2d, a[0], list(k["output_size"])
))



def _interpolate(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """The aten upsample kernel of the mode and rank, given the output size and (when the IR has
    them) the scale factors, exactly as ``F.interpolate(scale_factor=...)`` calls it: with scales
    the kernel maps output pixels back with 1/scale, which differs from size/in_size when the
    product is not an integer."""
    spatial = len(s[0].shape) - 2
    mode = choice(L, "mode", k["mode"])
    fn = {
        ("nearest", 1): torch._C._nn.upsample_nearest1d,
        ("nearest", 2): torch._C._nn.upsample_nearest2d,
        ("nearest", 3): torch._C._nn.upsample_nearest3d,
        ("nearest-exact", 1): torch._C._nn._upsample_nearest_exact1d,
        ("nearest-exact", 2): torch._C._nn._upsample_nearest_exact2d,
        ("nearest-exact", 3): torch._C._nn._upsample_nearest_exact3d,
        ("linear", 1): torch._C._nn.upsample_linear1d,
        ("bilinear", 2): torch._C._nn.upsample_bilinear2d,
        ("bicubic", 2): torch._C._nn.upsample_bicubic2d,
        ("trilinear", 3): torch._C._nn.upsample_trilinear3d,
    }.get((mode, spatial))
    if fn is None:
        raise fail(L.op, f"mode '{mode}' does not apply to {spatial} spatial dims")
    scales = list(k["scales"]) if k["scales"] is not None else [None] * spatial
    size = L.dim_list(k["size"])
    if mode.startswith("nearest"):
        return L.call(fn, a[0], size, *scales)
    return L.call(fn, a[0], size, bool(k["align_corners"]), *scales)


register(gs.Interpolate, _interpolate)


register(gs.MaxPool1d, lambda L, a, s, k, out: L.call(
    torch.max_pool1d, a[0], list(k["kernel_size"]), list(k["stride"] or k["kernel_size"]), list(k["padding"]),
    list(k["dilation"]), k["ceil_mode"],
))
register(gs.AvgPool1d, lambda L, a, s, k, out: L.call(
    torch.avg_pool1d, a[0], list(k["kernel_size"]), list(k["stride"] or k["kernel_size"]), list(k["padding"]),
    k["ceil_mode"], k["count_include_pad"],
))
register(gs.AdaptiveAvgPool1d, lambda L, a, s, k, out: L.call(torch.adaptive_avg_pool1d, a[0], list(k["output_size"])))
