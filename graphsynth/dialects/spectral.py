"""Spectral ops and complex values: discrete Fourier transforms over chosen dims, and the ops that
take complex values apart or put them together.

FNet-style token mixing is ``real(fft(x, dims=[-2, -1]))``: a complex intermediate whose real
part goes on.  The transforms follow ``torch.fft``: ``fft`` is the complex-to-complex transform
(``inverse=true`` for the inverse), ``rfft`` the real-to-complex one that keeps the
non-redundant half of the last transformed dim (``d -> d//2+1``), ``irfft`` its inverse
(complex-to-real, the last transformed dim becomes ``n``, by default ``2*(d-1)``); ``norm`` is
torch's (``backward``: no scaling forward, ``1/n`` inverse; ``ortho``: ``1/sqrt(n)`` both ways;
``forward``: the other way round).

Costs: the FLOP count is Cooley-Tukey's ``5 * N * log2(n)`` per transformed dim of length ``n``
over the ``N`` complex elements (half of them for the real transforms, whose complex side has
half the elements), an approximation of what FFT libraries do.  ``log2(n)`` is rounded up for a
plain length; a symbolic length has no polynomial logarithm, so it counts as
:data:`SYMBOLIC_LOG2` (a transform length up to 65,536): the count stays a polynomial of the
symbols, O(N), and an over-estimate for shorter transforms.

Which dtypes each op takes is declared with the op (``dtypes``): a complex value reaches only
ops that declare ``"complex"``; the others are refused with GS335 at the op.
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.cost import CostContext, Term
from graphsynth.dialects.dtypes import complex_of, real_of
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, Sig, broadcast, norm_dim, shape_rule
from graphsynth.dialects.symdim import Dim, add, floordiv, mul, sub
from graphsynth.dialects.traits import DataMovement

NORMS = ("backward", "forward", "ortho")
"""torch.fft's normalisation modes."""

SYMBOLIC_LOG2 = 16
"""What ``log2(n)`` counts as in an FFT's FLOP count when the length ``n`` is symbolic."""

_TRANSFORMS = ("float", "int", "complex")


def _dims(ctx: RuleContext, rank: int) -> list[int]:
    """The transformed dims, normalised; refused when empty or when one is listed twice
    (GS336), or out of range (GS306)."""
    dims = ctx.attrs.get("dims")
    if not dims:
        raise ctx.fail("dims must name at least one dim to transform, got none", 0, code="GS336",
                       expected="at least one dim", got="[]")
    out = [norm_dim(d, rank, ctx, 0, "dims") for d in dims]
    if len(set(out)) != len(out):
        raise ctx.fail(f"dims must name each dim once, got {list(dims)}", 0, code="GS336",
                       expected="distinct dims", got=str(list(dims)))
    return out


@shape_rule("result has the input's shape; complex dtype (c128 for f64 and c128 input, c64 otherwise)")
def fft_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    _dims(ctx, len(x.shape))
    return [Sig(x.shape, complex_of(x.dtype))]


@shape_rule("the input's shape with the last of dims d -> d//2+1; complex dtype (c128 for f64, c64 otherwise)")
def rfft_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    dims = _dims(ctx, len(x.shape))
    shape = list(x.shape)
    shape[dims[-1]] = add(floordiv(shape[dims[-1]], 2), 1)
    return [Sig(tuple(shape), complex_of(x.dtype))]


@shape_rule("the input's shape with the last of dims d -> n (default 2*(d-1)); real dtype (f32 for c64, f64 for c128)")
def irfft_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    dims = _dims(ctx, len(x.shape))
    last = dims[-1]
    n: Dim | None = ctx.attrs.get("n")
    if n is None:
        n = mul(2, sub(x.shape[last], 1))
    if isinstance(n, int) and n < 1:
        raise ctx.fail(f"n (the length of the last transformed dim) must be at least 1, got {n}", 0, code="GS337",
                       expected="n >= 1", got=str(n),
                       fix="give n, or transform a dim of size at least 2" if ctx.attrs.get("n") is None else None)
    shape = list(x.shape)
    shape[last] = n
    return [Sig(tuple(shape), real_of(x.dtype))]


@shape_rule("result has the input's shape; the component dtype (f32 for c64, f64 for c128)")
def component_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    return [Sig(x.shape, real_of(x.dtype))]


@shape_rule("the input's shape with a trailing dim of 2 (real, imaginary); the component dtype")
def view_as_real_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    return [Sig((*x.shape, 2), real_of(x.dtype))]


def _complex_components(ctx: RuleContext, i: int) -> None:
    """f32 or f64 (the components of c64 and c128): f16 and bf16 pairs make a complex32, which
    gs does not have."""
    x = ctx.tensor(i)
    if x.dtype not in ("f32", "f64"):
        raise ctx.fail(f"operand #{ctx.operand_index(i)} must have dtype f32 or f64 (the components of c64, c128), "
                       f"got {x.dtype}", i, code="GS303", expected="f32 or f64", got=x.dtype,
                       fix="cast to f32 first")


@shape_rule("input [..., 2] (real, imaginary) -> [...]; c64 for f32, c128 for f64")
def view_as_complex_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    _complex_components(ctx, 0)
    if not x.shape:
        raise ctx.fail("must have rank at least 1, got rank 0", 0, code="GS302", expected="rank >= 1", got="rank 0")
    ctx.eq(x.shape[-1], 2, arg=0, what=f"has shape {list(x.shape)}; dim -1", ref="2 (real and imaginary parts)")
    return [Sig(x.shape[:-1], complex_of(x.dtype))]


@shape_rule("real and imag broadcast together, both f32 or both f64; c64 or c128")
def complex_rule(ctx: RuleContext) -> list[Sig]:
    re, im = ctx.tensor(0), ctx.tensor(1)
    _complex_components(ctx, 0)
    _complex_components(ctx, 1)
    if re.dtype != im.dtype:
        raise ctx.fail(f"operand #{ctx.operand_index(1)} must have dtype {re.dtype} (the dtype of operand "
                       f"#{ctx.operand_index(0)}), got {im.dtype}", 1, code="GS303", expected=re.dtype, got=im.dtype)
    return [Sig(broadcast(ctx, [(0, re), (1, im)]), complex_of(re.dtype))]


# -- cost ----------------------------------------------------------------------------------------


def _log2(n: Dim) -> int:
    return max((n - 1).bit_length(), 1) if isinstance(n, int) else SYMBOLIC_LOG2


def _fft_terms(complex_side: tuple, lengths: list[Dim]) -> list[Term]:
    return [(5, *complex_side, _log2(n)) for n in lengths]


def fft_flops(ctx: CostContext) -> list[Term]:
    """5 * N * log2(n) per transformed dim of length n, N the elements (see the module docstring)."""
    shape = ctx.shape(0) or ()
    dims = ctx.attrs.get("dims") or ()
    try:
        lengths = [shape[d] for d in dims]
    except IndexError:
        return []
    return _fft_terms(tuple(shape), lengths)


def rfft_flops(ctx: CostContext) -> list[Term]:
    """5 * N/2 * log2(n) per transformed dim: N/2 is the complex result's size, n the real length."""
    shape = ctx.shape(0) or ()
    try:
        lengths = [shape[d] for d in ctx.attrs.get("dims") or ()]
    except IndexError:
        return []
    return _fft_terms(tuple(ctx.out[0].shape), lengths)


def irfft_flops(ctx: CostContext) -> list[Term]:
    """5 * N/2 * log2(n) per transformed dim: N/2 is the complex input's size, n the real result's length."""
    out = ctx.out[0].shape
    try:
        lengths = [out[d] for d in ctx.attrs.get("dims") or ()]
    except IndexError:
        return []
    return _fft_terms(tuple(ctx.shape(0) or ()), lengths)


_FFT_ATTRS = (A("dims", "ints"), A("norm", "str", "backward", NORMS))


# -- ops -----------------------------------------------------------------------------------------


@gs_op
class Fft(GsOp):
    """discrete Fourier transform over dims (complex result); inverse=true for the inverse transform"""

    name = "gs.fft"
    args = "input"
    attrs = (*_FFT_ATTRS, A("inverse", "bool", False))
    rule = fft_rule
    dtypes = _TRANSFORMS
    flops = fft_flops


@gs_op
class Rfft(GsOp):
    """Fourier transform of a real input over dims, keeping the non-redundant half of the last"""

    name = "gs.rfft"
    args = "input"
    attrs = _FFT_ATTRS
    rule = rfft_rule
    dtypes = ("float", "int")
    flops = rfft_flops


@gs_op
class Irfft(GsOp):
    """inverse of rfft over dims: a real result whose last transformed dim has length n"""

    name = "gs.irfft"
    args = "input"
    attrs = (*_FFT_ATTRS, A("n", "dim", None))
    rule = irfft_rule
    dtypes = ("complex",)
    flops = irfft_flops


@gs_op
class Real(GsOp):
    """the real part of a complex tensor"""

    name = "gs.real"
    args = "input"
    rule = component_rule
    dtypes = ("complex",)
    traits = traits_def(DataMovement())


@gs_op
class Imag(GsOp):
    """the imaginary part of a complex tensor"""

    name = "gs.imag"
    args = "input"
    rule = component_rule
    dtypes = ("complex",)
    traits = traits_def(DataMovement())


@gs_op
class ViewAsReal(GsOp):
    """a complex tensor as real numbers: a trailing dim of 2 holds the real and imaginary parts"""

    name = "gs.view_as_real"
    args = "input"
    rule = view_as_real_rule
    dtypes = ("complex",)
    traits = traits_def(DataMovement(injective=True))


@gs_op
class ViewAsComplex(GsOp):
    """a real tensor whose trailing dim of 2 holds real and imaginary parts, as complex numbers"""

    name = "gs.view_as_complex"
    args = "input"
    rule = view_as_complex_rule
    dtypes = ("float",)
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Complex(GsOp):
    """real + i * imag, elementwise with broadcasting"""

    name = "gs.complex"
    args = "real imag"
    rule = complex_rule
    dtypes = ("float",)
    flops = cost.free
    traits = traits_def(DataMovement())
