"""Lowerings of the normalisations and softmax."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import TORCH_DTYPES, Arg
from graphsynth.backend.registry import Lowering, register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _opt(a: list[Arg], i: int) -> Arg:
    return a[i] if i < len(a) else None




register(gs.LayerNorm, lambda L, a, s, k, out: L.call(
    torch.layer_norm, a[0], L.dim_list(k["normalized_shape"]), _opt(a, 1), _opt(a, 2), k["eps"]
))
register(gs.RmsNorm, lambda L, a, s, k, out: L.call(
    torch.rms_norm, a[0], L.dim_list(k["normalized_shape"]), _opt(a, 1), k["eps"]
))
register(gs.BatchNorm, lambda L, a, s, k, out: L.call(
    torch.batch_norm, a[0], _opt(a, 1), _opt(a, 2), _opt(a, 3), _opt(a, 4), k["training"], k["momentum"], k["eps"],
    True,
))
register(gs.GroupNorm, lambda L, a, s, k, out: L.call(
    torch.group_norm, a[0], k["num_groups"], _opt(a, 1), _opt(a, 2), k["eps"], True
))


def _softmax(fn: Callable[..., Any]) -> Lowering:
    def lower(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
        if k["dtype"] is None:
            return L.call(fn, a[0], k["dim"])
        return L.call(fn, a[0], k["dim"], dtype=TORCH_DTYPES[k["dtype"]])

    return lower


register(gs.Softmax, _softmax(torch.softmax))
register(gs.LogSoftmax, _softmax(torch.log_softmax))
