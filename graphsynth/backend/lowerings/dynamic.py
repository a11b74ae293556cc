"""Lowerings of the ops whose result size the data decides (the lowerer binds their unbacked
symbol from the result, see :meth:`graphsynth.backend.fx.FxLowerer.bind_unbacked`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import Arg
from graphsynth.backend.registry import register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _boolean_index(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """``x[:, mask]``: ATen's index with full slices (None) before the mask."""
    return L.call(torch.ops.aten.index.Tensor, a[0], [None] * int(k["dim"] or 0) + [a[1]])


register(gs.Nonzero, lambda L, a, s, k, out: L.call(torch.nonzero, a[0]))
register(gs.MaskedSelect, lambda L, a, s, k, out: L.call(torch.masked_select, a[0], a[1]))
register(gs.BooleanIndex, _boolean_index)
