"""ATen handlers of Fourier transforms and complex values: ``torch.fft``'s functions as
torch.export emits them (``fft_fftn``, ``fft_rfft``, ``fft_irfft2``...: the composite ops are
kept), the primitives they decompose into (``_fft_c2c``, ``_fft_r2c``, ``_fft_c2r``, after
``run_decompositions``), and the ops that take complex values apart or build them (``real``,
``imag``, ``view_as_real``, ``view_as_complex``, ``complex``).  ``abs`` of a complex value is the
elementwise ``abs`` handler's (``gs.abs`` takes complex operands).

A signal size (``n``, ``s``) that differs from the input's size along a transformed dim
zero-pads or truncates the input there, as torch does (the symbols' ranges decide which for a
symbolic size); where they cannot decide it, the node is refused (GS614) with what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dtypes import is_complex
from graphsynth.dialects.ranges import is_positive
from graphsynth.dialects.spectral import NORMS
from graphsynth.dialects.symdim import Dim, sub
from graphsynth.frontend.handlers import Fail, handles

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter

# torch.fft's ``norm`` of the forward transform from ATen's ``normalization`` enum (0: none,
# 1: 1/sqrt(n), 2: 1/n); the inverse transform reads it the other way round.
_FORWARD_NORM = {0: "backward", 1: "ortho", 2: "forward"}
_INVERSE_NORM = {0: "forward", 1: "ortho", 2: "backward"}

# The dims a transform takes when the call gives none: the last one, the last two, or all.
_DEFAULT_DIMS = {"": (-1,), "2": (-2, -1)}


def _norm(a: dict[str, Any]) -> str:
    norm = a.get("norm")
    if norm is not None and norm not in NORMS:
        raise Fail(f"norm={norm!r} is not one of torch.fft's modes ({', '.join(NORMS)})")
    return norm or NORMS[0]


def _signal(c: Converter, a: dict[str, Any], rank: int, family: str) -> tuple[list[int], list[Dim] | None]:
    """The transformed dims (as the call gives them) and the signal sizes (``n`` or ``s``; None
    when not given), for ``fft_<kind><family>`` with ``family`` "", "2" or "n"."""
    if family == "":
        dims = [int(a.get("dim", -1))]
        n = a.get("n")
        return dims, None if n is None else [c.dim(n)]
    s = a.get("s")
    sizes = None if s is None else [c.dim(v) for v in s]
    dim = a.get("dim")
    if dim is None:
        dims = list(_DEFAULT_DIMS.get(family, ())) or (
            list(range(rank - len(sizes), rank)) if sizes is not None else list(range(rank)))
    else:
        dims = [int(d) for d in dim]
    if sizes is not None and len(sizes) != len(dims):
        raise Fail(f"the signal sizes s={list(s)} and the dims {dims} differ in length")
    return dims, sizes


def _resize(c: Converter, x: SSAValue, dims: list[int], sizes: list[Dim]) -> SSAValue:
    """``x`` zero-padded or truncated to ``sizes`` along ``dims`` (torch.fft's ``s``/``n``)."""
    for d, size in zip(dims, sizes):
        shape = c.sig(x).shape
        rank = len(shape)
        k = d % rank
        have = shape[k]
        if compare(size, have) is True:
            continue
        diff = sub(size, have)
        grow = diff > 0 if isinstance(diff, int) else True if is_positive(diff) else False if is_positive(sub(0, diff)) else None
        if grow is None:
            raise Fail(
                f"the FFT's signal size {size} along dim {d} may be larger or smaller than the input's {have}",
                fix="pad or slice the input to the signal size before the transform, or give the dims a range that "
                "decides it (torch.export.Dim(min=..., max=...))",
                code="GS614",
            )
        if grow:
            pad: list[Dim] = [0] * (2 * (rank - k))
            pad[-1] = diff
            x = c.e1(gs.Pad, [x], {"pad": pad})
        else:
            x = c.e1(gs.Slice, [x], {"dim": k, "start": 0, "end": size})
    return x


def _kind_family(name: str) -> tuple[str, str]:
    """``fft_irfft2`` -> ("irfft", "2"); ``fft_fftn`` -> ("fft", "n")."""
    body = name.removeprefix("fft_")
    for kind in ("irfft", "rfft", "ifft", "fft"):
        if body.startswith(kind):
            return kind, body[len(kind):]
    raise Fail(f"{name} is not a torch.fft transform the importer knows")


_TRANSFORMS = [f"fft_{k}{f}" for k in ("fft", "ifft", "rfft", "irfft") for f in ("", "2", "n")]


@handles(*_TRANSFORMS, emits=(gs.Fft, gs.Rfft, gs.Irfft, gs.Pad, gs.Slice))
def _transform(c: Converter, n: Any, a: dict[str, Any]) -> None:
    kind, family = _kind_family(c.op_name)
    x = c.t(a["self"])
    rank = len(c.sig(x).shape)
    dims, sizes = _signal(c, a, rank, family)
    norm = _norm(a)
    if kind == "irfft":
        # The last size is the result's length; the others resize the input first.
        length = sizes[-1] if sizes is not None else None
        if sizes is not None:
            x = _resize(c, x, dims[:-1], sizes[:-1])
        c.set(n, c.e1(gs.Irfft, [x], {"dims": dims, "norm": norm, "n": length}, out=n))
        return
    if sizes is not None:
        x = _resize(c, x, dims, sizes)
    if kind == "rfft":
        c.set(n, c.e1(gs.Rfft, [x], {"dims": dims, "norm": norm}, out=n))
        return
    c.set(n, c.e1(gs.Fft, [x], {"dims": dims, "norm": norm, "inverse": kind == "ifft"}, out=n))


def _enum_norm(a: dict[str, Any], table: dict[int, str]) -> str:
    v = int(a.get("normalization") or 0)
    if v not in table:
        raise Fail(f"normalization={v} is not one of ATen's FFT normalisations (0, 1, 2)")
    return table[v]


@handles("_fft_c2c", emits=(gs.Fft,))
def _fft_c2c(c: Converter, n: Any, a: dict[str, Any]) -> None:
    forward = bool(a["forward"])
    norm = _enum_norm(a, _FORWARD_NORM if forward else _INVERSE_NORM)
    attrs = {"dims": [int(d) for d in a["dim"]], "norm": norm, "inverse": not forward}
    c.set(n, c.e1(gs.Fft, [c.t(a["self"])], attrs, out=n))


@handles("_fft_r2c", emits=(gs.Fft, gs.Rfft))
def _fft_r2c(c: Converter, n: Any, a: dict[str, Any]) -> None:
    attrs = {"dims": [int(d) for d in a["dim"]], "norm": _enum_norm(a, _FORWARD_NORM)}
    cls = gs.Rfft if a.get("onesided", True) else gs.Fft
    c.set(n, c.e1(cls, [c.t(a["self"])], attrs, out=n))


@handles("_fft_c2r", emits=(gs.Irfft,))
def _fft_c2r(c: Converter, n: Any, a: dict[str, Any]) -> None:
    attrs = {"dims": [int(d) for d in a["dim"]], "norm": _enum_norm(a, _INVERSE_NORM), "n": c.dim(a["last_dim_size"])}
    c.set(n, c.e1(gs.Irfft, [c.t(a["self"])], attrs, out=n))


@handles("real", emits=(gs.Real,))
def _real(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    # torch.real of a real tensor is the tensor itself.
    c.set(n, c.e1(gs.Real, [x], out=n) if is_complex(c.sig(x).dtype) else x)


@handles("imag", emits=(gs.Imag,))
def _imag(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Imag, [c.t(a["self"])], out=n))


@handles("view_as_real", emits=(gs.ViewAsReal,))
def _view_as_real(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.ViewAsReal, [c.t(a["self"])], out=n))


@handles("view_as_complex", emits=(gs.ViewAsComplex,))
def _view_as_complex(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.ViewAsComplex, [c.t(a["self"])], out=n))


@handles("complex", emits=(gs.Complex,))
def _complex(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Complex, [c.t(a["real"]), c.t(a["imag"])], out=n))
