"""Lowerings of linear algebra and convolution (linear, linear_act, matmul, addmm, conv, attention)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.backend.base import Arg
from graphsynth.backend.registry import Lowering, choice, register
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


register(gs.Linear, lambda L, a, s, k, out: L.call(torch._C._nn.linear, a[0], a[1], a[2] if len(a) > 2 else None))
register(gs.Addmm, lambda L, a, s, k, out: L.call(torch.addmm, a[0], a[1], a[2]))


def linear_relu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """relu(linear(x)) as one addmm with a ReLU epilogue (cuBLASLt on CUDA; no second pass over the
    output on the CPU) where that kernel applies: 2-d input, a bias, and no autograd graph to record
    (``_addmm_activation`` has no derivative).  Otherwise linear then relu in place."""
    if bias is not None and x.dim() == 2 and not (
        torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad)
    ):
        return torch._addmm_activation(bias, x, weight.t())
    return torch.relu_(torch._C._nn.linear(x, weight, bias))


def _linear_act(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """linear_act: the linear's output is a fresh tensor nobody else reads, so the activation
    runs in place on it (one buffer instead of two); relu_, silu_ and gelu_ are autograd-safe there
    (their backward gives the same gradients as the out-of-place ops)."""
    act = choice(L, "activation", k["activation"])
    bias = a[2] if len(a) > 2 else None
    if act == "relu":
        return L.call(linear_relu, a[0], a[1], bias)
    y = L.call(torch._C._nn.linear, a[0], a[1], bias)
    if act == "silu":
        return L.call(torch._C._nn.silu_, y)
    return L.call(torch._C._nn.gelu_, y, approximate=choice(L, "approximate", k["approximate"]))


register(gs.LinearAct, _linear_act)
register(gs.Matmul, lambda L, a, s, k, out: L.call(torch.matmul, a[0], a[1]))


def _conv(fn: Callable[..., Any]) -> Lowering:
    return lambda L, a, s, k, out: L.call(
        fn, a[0], a[1], a[2] if len(a) > 2 else None, list(k["stride"]), list(k["padding"]), list(k["dilation"]),
        k["groups"],
    )


register(gs.Conv2d, _conv(torch.conv2d))
register(gs.Conv1d, _conv(torch.conv1d))


def _opt(a: list[Arg], i: int) -> Arg:
    return a[i] if i < len(a) else None




def _attention(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    kwargs: dict[str, Any] = {}
    if _opt(a, 3) is not None:
        kwargs["attn_mask"] = a[3]
    if k["dropout_p"]:
        kwargs["dropout_p"] = k["dropout_p"]
    if k["is_causal"]:
        kwargs["is_causal"] = True
    if k["scale"] is not None:
        kwargs["scale"] = k["scale"]
    return L.call(torch._C._nn.scaled_dot_product_attention, a[0], a[1], a[2], **kwargs)


register(gs.Attention, _attention)
