"""Lowerings of the elementwise ops.  Tensor operands are cast to the result dtype first where
torch's own promotion could differ from the declared type."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import Arg
from graphsynth.backend.registry import Lowering, choice, register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _unary(fn: Callable[..., Any]) -> Lowering:
    return lambda L, a, s, k, out: L.call(fn, a[0])


for _cls, _fn in {
    gs.Relu: torch.relu,
    gs.Silu: torch._C._nn.silu,
    gs.Tanh: torch.tanh,
    gs.Sigmoid: torch.sigmoid,
    gs.Exp: torch.exp,
    gs.Log: torch.log,
    gs.Sqrt: torch.sqrt,
    gs.Rsqrt: torch.rsqrt,
    gs.Neg: torch.neg,
    gs.Abs: torch.abs,
    gs.Sin: torch.sin,
    gs.Cos: torch.cos,
    gs.Erf: torch.erf,
    gs.Reciprocal: torch.reciprocal,
    gs.LogicalNot: torch.logical_not,
    gs.Sign: torch.sign,
    gs.Floor: torch.floor,
    gs.Ceil: torch.ceil,
    gs.Round: torch.round,
    gs.Trunc: torch.trunc,
}.items():
    register(_cls, _unary(_fn))

register(gs.Identity, lambda L, a, s, k, out: a[0])
register(gs.Detach, lambda L, a, s, k, out: L.call(torch.detach, a[0]))


register(gs.Gelu, lambda L, a, s, k, out: L.call(
    torch._C._nn.gelu, a[0], approximate=choice(L, "approximate", k["approximate"])
))
register(gs.LeakyRelu, lambda L, a, s, k, out: L.call(torch._C._nn.leaky_relu, a[0], k["negative_slope"]))
register(gs.Softplus, lambda L, a, s, k, out: L.call(torch._C._nn.softplus, a[0], k["beta"], k["threshold"]))
register(gs.Hardtanh, lambda L, a, s, k, out: L.call(torch._C._nn.hardtanh, a[0], k["min_val"], k["max_val"]))
register(gs.Clamp, lambda L, a, s, k, out: (
    a[0] if k["min"] is None and k["max"] is None else L.call(torch.clamp, a[0], k["min"], k["max"])
))
register(gs.Dropout, lambda L, a, s, k, out: (
    L.call(torch.dropout, a[0], k["p"], True) if k["train"] and k["p"] > 0 else a[0]
))
register(gs.Cast, lambda L, a, s, k, out: L.cast(a[0], s[0], out[0].dtype))


def _binary(fn: Callable[..., Any], *, tensors_only: bool = False, compare: bool = False) -> Lowering:
    """Elementwise binary op.  Tensor operands whose dtype differs from the result's are cast to
    it first, so the result has the declared dtype whatever torch's promotion of mixed dtypes
    (0-dim tensors, bf16 with f16 ...) would give.  Comparisons leave dtypes to torch."""

    def lower(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
        dtype = out[0].dtype
        args = list(a[:2]) if compare else [L.cast(x, sig, dtype) for x, sig in zip(a[:2], s[:2])]
        if tensors_only:
            want = _common_dtype(s[:2], a[:2]) if compare else dtype
            args = [L.scalar_tensor(x, want) if sig is None else x for x, sig in zip(args, s[:2])]
        return L.call(fn, *args)

    return lower


def _common_dtype(sigs: Sequence[Sig | None], args: Sequence[Arg]) -> str:
    for sig in sigs:
        if sig is not None:
            return sig.dtype
    return "bool" if isinstance(args[0], bool) else "f32"


for _cls, _fn in {
    gs.Add: operator.add,
    gs.Sub: operator.sub,
    gs.Mul: operator.mul,
    # torch.pow, not operator.pow: fx prints the latter as `-2.0 ** x`, which Python reads as -(2.0 ** x).
    gs.Pow: torch.pow,
    gs.Remainder: operator.mod,
    gs.BitwiseAnd: operator.and_,
    gs.BitwiseOr: operator.or_,
}.items():
    register(_cls, _binary(_fn))
register(gs.Maximum, _binary(torch.maximum, tensors_only=True))
register(gs.Minimum, _binary(torch.minimum, tensors_only=True))
for _cls, _fn in {gs.Eq: operator.eq, gs.Ne: operator.ne, gs.Lt: operator.lt, gs.Le: operator.le, gs.Gt: operator.gt,
              gs.Ge: operator.ge}.items():
    register(_cls, _binary(_fn, compare=True))
register(gs.LogicalAnd, _binary(torch.logical_and, tensors_only=True, compare=True))
register(gs.LogicalOr, _binary(torch.logical_or, tensors_only=True, compare=True))


def _div(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    mode = choice(L, "rounding_mode", k["rounding_mode"])
    dtype = out[0].dtype
    x, y = (L.cast(v, sig, dtype) for v, sig in zip(a[:2], s[:2]))
    if mode is None:
        return L.call(operator.truediv, x, y)
    if s[0] is None:
        x = L.scalar_tensor(x, dtype)
    return L.call(torch.div, x, y, rounding_mode=mode)


register(gs.Div, _div)


def _where(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    dtype = out[0].dtype
    x, y = (L.cast(v, sig, dtype) for v, sig in zip(a[1:3], s[1:3]))
    if s[1] is None and s[2] is None:  # two literals: torch would pick the default dtype
        x, y = L.scalar_tensor(x, dtype), L.scalar_tensor(y, dtype)
    return L.call(torch.where, a[0], x, y)


register(gs.Where, _where)


def _masked_fill(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    x, mask, value = a
    if s[2] is not None and s[2].shape != ():
        # masked_fill takes a 0-dim value only; a broadcastable tensor goes through where.
        return L.call(torch.where, mask, L.cast(value, s[2], out[0].dtype), x)
    return L.call(torch.masked_fill, x, mask, value)


register(gs.MaskedFill, _masked_fill)


register(gs.Log1p, lambda L, a, s, k, out: L.call(torch.log1p, a[0]))
