"""Builders of the spectral ops (Fourier transforms, complex parts and views) for
:data:`graphsynth.testing.builders.BUILDERS`.

Complex values are intermediates: each builder goes from a real value to a real value (the real
or imaginary part, the magnitude, or the real view of a complex one), and the complex values in
between are left out of the pool, so every value the generator may return or reuse stays a
float tensor of the module's dtype family.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from graphsynth.dialects import gs
from graphsynth.dialects.spectral import NORMS
from graphsynth.testing.building import Builder, State, Value, emit, hide, pick

_PROJECTIONS = (gs.Real, gs.Imag, gs.Abs)


def _real_input(draw: Callable, s: State) -> Value | None:
    """An f32 or f64 value of rank >= 1 (the components of c64 and c128)."""
    return pick(draw, s, lambda v: v.sig.dtype in ("f32", "f64") and len(v.sig.shape) >= 1)


def _dims(draw: Callable, rank: int) -> list[int]:
    """One or two distinct transformed dims, negative or not."""
    first = draw(st.integers(0, rank - 1))
    dims = [first]
    if rank > 1 and draw(st.booleans()):
        dims.append(draw(st.sampled_from([d for d in range(rank) if d != first])))
    return [d - rank if draw(st.booleans()) else d for d in dims]


def _back_to_real(draw: Callable, s: State, z: list[Value] | None, how: type[gs.GsOp] | None = None) -> bool:
    """Hide the complex value ``z`` and add its real part, imaginary part or magnitude."""
    if not z:
        return False
    hide(s, z)
    cls = how or draw(st.sampled_from(_PROJECTIONS))
    return emit(s, cls, [z[0]], {}) is not None


def _fft(draw: Callable, s: State) -> list[Value] | None:
    x = _real_input(draw, s)
    if x is None:
        return None
    attrs = {"dims": _dims(draw, len(x.sig.shape)), "norm": draw(st.sampled_from(NORMS)),
             "inverse": draw(st.booleans())}
    return emit(s, gs.Fft, [x], attrs)


def _projection(how: type[gs.GsOp] | None) -> Builder:
    def build(draw: Callable, s: State) -> bool:
        return _back_to_real(draw, s, _fft(draw, s), how)

    return build


def _b_rfft(draw: Callable, s: State) -> bool:
    x = _real_input(draw, s)
    if x is None:
        return False
    z = emit(s, gs.Rfft, [x], {"dims": _dims(draw, len(x.sig.shape)), "norm": draw(st.sampled_from(NORMS))})
    return _back_to_real(draw, s, z)


def _b_irfft(draw: Callable, s: State) -> bool:
    """rfft then irfft back to the input's length (symbolic lengths included)."""
    x = _real_input(draw, s)
    if x is None:
        return False
    dims = _dims(draw, len(x.sig.shape))
    norm = draw(st.sampled_from(NORMS))
    z = hide(s, emit(s, gs.Rfft, [x], {"dims": dims, "norm": norm}))
    if not z:
        return False
    return emit(s, gs.Irfft, [z[0]], {"dims": dims, "norm": norm, "n": x.sig.shape[dims[-1]]}) is not None


def _b_view_as_real(draw: Callable, s: State) -> bool:
    z = _fft(draw, s)
    return bool(z) and _back_to_real(draw, s, z, gs.ViewAsReal)


def _b_view_as_complex(draw: Callable, s: State) -> bool:
    """A real view of a transform read back as complex numbers, then taken apart."""
    z = _fft(draw, s)
    if not z:
        return False
    hide(s, z)
    pairs = hide(s, emit(s, gs.ViewAsReal, [z[0]], {}))
    if not pairs:
        return False
    return _back_to_real(draw, s, emit(s, gs.ViewAsComplex, [pairs[0]], {}))


def _b_complex(draw: Callable, s: State) -> bool:
    x = _real_input(draw, s)
    if x is None:
        return False
    y = pick(draw, s, lambda v: v.sig.dtype == x.sig.dtype and v.sig.shape == x.sig.shape)
    return _back_to_real(draw, s, emit(s, gs.Complex, [x, y or x], {}))


SPECTRAL_BUILDERS: dict[type[gs.GsOp], Builder] = {
    gs.Fft: _projection(None),
    gs.Rfft: _b_rfft,
    gs.Irfft: _b_irfft,
    gs.Real: _projection(gs.Real),
    gs.Imag: _projection(gs.Imag),
    gs.ViewAsReal: _b_view_as_real,
    gs.ViewAsComplex: _b_view_as_complex,
    gs.Complex: _b_complex,
}
"""The builder of each spectral op class."""
