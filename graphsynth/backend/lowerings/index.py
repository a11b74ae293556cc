"""Lowerings of the lookups by index tensors."""

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


def _embedding(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    pad = k["padding_idx"]
    if pad is None:
        return L.call(torch.embedding, a[0], a[1])
    if pad < 0:
        rows = s[0].shape[0]
        pad = rows + pad if isinstance(rows, int) else L.call(operator.add, L.dim(rows), pad)
    return L.call(torch.embedding, a[0], a[1], pad)


register(gs.Embedding, _embedding)




def _index_select(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    return L.call(torch.index_select, a[0], k["dim"], a[1])


register(gs.IndexSelect, _index_select)


def _index(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """``x[:, i, :, j]``: index tensors at ``dims``, full slices between them (torch follows
    numpy on where the broadcast index dims go, as the shape rule does)."""
    indices = list(a[1:])
    rank = len(s[0].shape)
    dims = list(range(len(indices))) if k["dims"] is None else [norm_dim(d, rank) for d in k["dims"]]
    key: list[Any] = [slice(None)] * (max(dims) + 1)
    for d, idx in zip(dims, indices):
        key[d] = idx
    return L.call(operator.getitem, a[0], tuple(key))


register(gs.Index, _index)
register(gs.IndexAdd, lambda L, a, s, k, out: L.call(torch.index_add, a[0], k["dim"], L.cast(a[1], s[1], "i64"), a[2],
                                                     **({} if k["alpha"] == 1 else {"alpha": k["alpha"]})))
register(gs.Gather, lambda L, a, s, k, out: L.call(torch.gather, a[0], k["dim"], L.cast(a[1], s[1], "i64")))
register(gs.GatherRows, lambda L, a, s, k, out: L.call(operator.getitem, a[0], a[1]))


register(gs.OneHot, lambda L, a, s, k, out: L.call(torch._C._nn.one_hot, a[0], L.dim(k["num_classes"])))
