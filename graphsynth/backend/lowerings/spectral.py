"""Lowerings of the spectral ops to ``torch.fft`` and torch's complex views.

A real input of another dtype than the transform's components (an integer, f16, bf16) is cast to
them first, so the transform computes in the dtype the op's type states (torch's CPU FFT has no
half-precision kernels)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import Arg, norm_dim
from graphsynth.backend.registry import register
from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import is_complex, real_of
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _input(L: FxLowerer, a: list[Arg], s: list[Sig | None], out: Sig) -> Arg:
    sig = s[0]
    if sig is None or is_complex(sig.dtype):
        return a[0]
    return L.cast(a[0], sig, real_of(out.dtype))


def _fft(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    fn = torch.fft.ifftn if k["inverse"] else torch.fft.fftn
    return L.call(fn, _input(L, a, s, out[0]), dim=list(k["dims"]), norm=k["norm"])


def _rfft(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    return L.call(torch.fft.rfftn, _input(L, a, s, out[0]), dim=list(k["dims"]), norm=k["norm"])


def _irfft(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    # The signal sizes are the result's sizes along the transformed dims (n along the last).
    rank = len(out[0].shape)
    sizes = L.dim_list([out[0].shape[norm_dim(d, rank)] for d in k["dims"]])
    return L.call(torch.fft.irfftn, a[0], s=sizes, dim=list(k["dims"]), norm=k["norm"])


register(gs.Fft, _fft)
register(gs.Rfft, _rfft)
register(gs.Irfft, _irfft)
register(gs.Real, lambda L, a, s, k, out: L.call(torch.real, a[0]))
register(gs.Imag, lambda L, a, s, k, out: L.call(torch.imag, a[0]))
register(gs.ViewAsReal, lambda L, a, s, k, out: L.call(torch.view_as_real, a[0]))
# view_as_complex needs a last dim of stride 1 and an even storage offset: a contiguous copy has them.
register(gs.ViewAsComplex, lambda L, a, s, k, out: L.call(torch.view_as_complex, L.method("contiguous", a[0])))
register(gs.Complex, lambda L, a, s, k, out: L.call(torch.complex, a[0], a[1]))
