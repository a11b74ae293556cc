"""Lowerings of the shape ops.  Shapes with symbols are computed at run time by ``L.dim_list``."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import Arg, norm_dim
from graphsynth.backend.registry import register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


register(gs.Reshape, lambda L, a, s, k, out: L.call(torch.reshape, a[0], L.dim_list(k["shape"])))
register(gs.Expand, lambda L, a, s, k, out: L.method("expand", a[0], L.dim_list(k["shape"])))
register(gs.Permute, lambda L, a, s, k, out: L.call(torch.permute, a[0], list(k["dims"])))
register(gs.Transpose, lambda L, a, s, k, out: L.call(torch.transpose, a[0], k["dim0"], k["dim1"]))
register(gs.Flatten, lambda L, a, s, k, out: L.call(torch.flatten, a[0], k["start_dim"], k["end_dim"]))
register(gs.Unsqueeze, lambda L, a, s, k, out: L.call(torch.unsqueeze, a[0], k["dim"]))


def _squeeze(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    # Exactly the dims the type says are 1: a symbol that happens to be 1 at run time stays.
    shape = s[0].shape
    wanted = range(len(shape)) if k["dims"] is None else {norm_dim(d, len(shape)) for d in k["dims"]}
    dims = tuple(d for d in sorted(wanted) if shape[d] == 1)
    return L.call(torch.squeeze, a[0], dims) if dims else a[0]


register(gs.Squeeze, _squeeze)
register(gs.Concat, lambda L, a, s, k, out: L.call(torch.cat, list(a), k["dim"]))


def _slice(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    rank = len(s[0].shape)
    dim = norm_dim(k["dim"], rank)
    start, end, step = L.dim(k["start"] or 0), L.dim(k["end"]), k["step"] or 1
    if start == 0 and end is None and step == 1:
        return a[0]
    index = (slice(None),) * dim + (slice(start if start != 0 else None, end, step if step != 1 else None),)
    return L.call(operator.getitem, a[0], index)


register(gs.Slice, _slice)
register(gs.Select, lambda L, a, s, k, out: L.call(torch.select, a[0], k["dim"], L.dim(k["index"])))


def _split(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    parts = L.call(torch.split, a[0], L.dim_list(k["sizes"]), k["dim"])
    return [L.call(operator.getitem, parts, i) for i in range(len(out))]


register(gs.Split, _split)


register(gs.Pad, lambda L, a, s, k, out: L.call(torch.constant_pad_nd, a[0], L.dim_list(k["pad"]), k["value"]))
register(gs.Repeat, lambda L, a, s, k, out: L.method("repeat", a[0], L.dim_list(k["repeats"])))
register(gs.Tril, lambda L, a, s, k, out: L.call(torch.tril, a[0], k["diagonal"]))
register(gs.Triu, lambda L, a, s, k, out: L.call(torch.triu, a[0], k["diagonal"]))


register(gs.Flip, lambda L, a, s, k, out: L.call(torch.flip, a[0], list(k["dims"])))
register(gs.Roll, lambda L, a, s, k, out: L.call(
    torch.roll, a[0], list(k["shifts"]), list(k["dims"]) if k["dims"] is not None else []
))
