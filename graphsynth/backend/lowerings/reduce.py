"""Lowerings of reductions and scans.  "All dims" is spelled out from the static rank."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import TORCH_DTYPES, Arg
from graphsynth.backend.registry import Lowering, register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import FLOAT_DTYPES, Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _dims(k: dict[str, Any], sig: Sig) -> list[int]:
    dims = k["dims"]
    return list(range(len(sig.shape))) if not dims else list(dims)


def _reduce(fn: Callable[..., Any], with_dtype: bool) -> Lowering:
    def lower(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
        dims = _dims(k, s[0])
        if with_dtype and (k.get("dtype") is not None or out[0].dtype != s[0].dtype or s[0].dtype not in FLOAT_DTYPES):
            # An explicit dtype, or a sum of ints/bools: the declared result dtype decides.
            return L.call(fn, a[0], dims, k["keepdim"], dtype=TORCH_DTYPES[out[0].dtype])
        return L.call(fn, a[0], dims, k["keepdim"])

    return lower


register(gs.Sum, _reduce(torch.sum, True))
register(gs.Mean, _reduce(torch.mean, True))
register(gs.Amax, _reduce(torch.amax, False))
register(gs.Amin, _reduce(torch.amin, False))
register(gs.Var, lambda L, a, s, k, out: L.call(
    torch.var, a[0], _dims(k, s[0]), correction=k["correction"], keepdim=k["keepdim"]
))
register(gs.Argmax, lambda L, a, s, k, out: (
    L.call(torch.argmax, a[0]) if k["dim"] is None else L.call(torch.argmax, a[0], k["dim"], k["keepdim"])
))
register(gs.Cumsum, lambda L, a, s, k, out: L.call(torch.cumsum, a[0], k["dim"], dtype=TORCH_DTYPES[out[0].dtype]))


def _pair(L: FxLowerer, value: Arg) -> list[Arg]:
    """The two results of a (values, indices) call."""
    return [L.call(operator.getitem, value, 0), L.call(operator.getitem, value, 1)]


register(gs.TopK, lambda L, a, s, k, out: _pair(L, L.call(
    torch.topk, a[0], L.dim(k["k"]), k["dim"], k["largest"], k["sorted"]
)))
register(gs.Sort, lambda L, a, s, k, out: _pair(L, L.call(
    torch.sort, a[0], stable=k["stable"], dim=k["dim"], descending=k["descending"]
)))
register(gs.Argsort, lambda L, a, s, k, out: L.call(
    torch.argsort, a[0], stable=k["stable"], dim=k["dim"], descending=k["descending"]
))
register(gs.Cumprod, lambda L, a, s, k, out: L.call(torch.cumprod, a[0], k["dim"], dtype=TORCH_DTYPES[out[0].dtype]))
register(gs.Logsumexp, lambda L, a, s, k, out: L.call(torch.logsumexp, a[0], _dims(k, s[0]), k["keepdim"]))
