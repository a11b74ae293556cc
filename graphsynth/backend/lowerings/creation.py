"""Lowerings of the creation ops, on the device of the graph's inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import TORCH_DTYPES, Arg, fail
from graphsynth.backend.registry import register
from graphsynth.dialects import gs
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _constant_bytes(op: Any) -> int | None:
    """What a constant's lowering builds into the module: its tensor."""
    from graphsynth.backend.budget import tensor_bytes

    return tensor_bytes(op.results[0].type)


register(gs.Arange, lambda L, a, s, k, out: L.call(
    torch.arange, L.dim(k["start"] or 0), L.dim(k["end"]), k["step"] or 1, dtype=TORCH_DTYPES[out[0].dtype],
    device=L.device(),
))
register(gs.Full, lambda L, a, s, k, out: L.call(
    torch.full, L.dim_list(k["shape"]), L.dim(k["value"]), dtype=TORCH_DTYPES[out[0].dtype], device=L.device()
))
register(gs.FullLike, lambda L, a, s, k, out: L.call(
    torch.full_like, a[0], L.dim(k["value"]), dtype=TORCH_DTYPES[out[0].dtype]
))


def _constant(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    shape = [d for d in out[0].shape]
    if not all(isinstance(d, int) for d in shape):
        raise fail(L.op, f"constant has symbolic shape {format_shape(out[0].shape)}")
    if L.device_kind == "meta":  # only the shape is wanted: do not spell out the values
        values = torch.empty(shape, dtype=TORCH_DTYPES[out[0].dtype], device="meta")
        return L.constant(values, ("constant", id(L.op)))
    values = torch.tensor(list(k["value"]), dtype=torch.float64).to(TORCH_DTYPES[out[0].dtype]).reshape(shape)
    return L.constant(values, ("constant", tuple(k["value"]), tuple(shape), out[0].dtype))


register(gs.Constant, _constant, allocates=_constant_bytes)
