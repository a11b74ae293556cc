"""Small hand-written modules, one per way real architectures are written, for the importer's
tests.  Each factory returns ``(model, example_inputs, dynamic_dims, bindings)``: the arguments
of ``import_torch`` and two bindings of every symbol to compare the lowered module at.

They are written the way the source models write them (attention without sdpa as in BLOOM or
GPT-J, T5/Swin relative positions, ALiBi, im2col convolutions, FNet's FFT mixing...), so a defect
of a class shows here before it shows on a downloaded model."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class ExplicitAttention(nn.Module):
    """Attention written out: bmm scores, baddbmm with an ALiBi-style bias, softmax.int, a 4-D
    matmul for the values (BLOOM, GPT-J, DeBERTa without sdpa)."""

    def __init__(self, hidden: int = 16, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(x).split(h, dim=-1)
        q = q.reshape(b, s, self.heads, d).transpose(1, 2)
        k = k.reshape(b, s, self.heads, d).transpose(1, 2)
        v = v.reshape(b, s, self.heads, d).transpose(1, 2)
        bias = torch.zeros(b * self.heads, s, s, dtype=x.dtype)
        scores = torch.baddbmm(bias, q.reshape(b * self.heads, s, d), k.reshape(b * self.heads, s, d).transpose(1, 2),
                               beta=1.0, alpha=1.0 / math.sqrt(d))
        scores2 = torch.bmm(q.reshape(b * self.heads, s, d), k.reshape(b * self.heads, s, d).transpose(1, 2))
        probs = torch.softmax((scores + 0.5 * scores2).view(b, self.heads, s, s), dim=-1, dtype=torch.float32)
        ctx = torch.matmul(probs, v)
        return self.out(ctx.transpose(1, 2).reshape(b, s, h))


class RelativePositions(nn.Module):
    """Relative-position and ALiBi arithmetic: meshgrid/stack coordinates (Swin), sign and
    clamp_min buckets (T5), bitwise_not of an integer mask, repeat, broadcast_to, and ALiBi
    slopes as pow.Tensor_Tensor."""

    def __init__(self, hidden: int = 8, heads: int = 2, window: int = 3):
        super().__init__()
        self.window = window
        self.heads = heads
        self.table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
        self.proj = nn.Linear(hidden, hidden)
        self.bucket = nn.Embedding(8, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        w = self.window
        coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij"))
        flat = torch.flatten(coords, 1)
        rel = flat[:, :, None] - flat[:, None, :]
        rel = rel.permute(1, 2, 0).contiguous()
        index = (rel[:, :, 0] + w - 1) * (2 * w - 1) + rel[:, :, 1] + w - 1
        window_bias = self.table[index.view(-1)].view(w * w, w * w, -1).permute(2, 0, 1)
        pos = torch.arange(s)
        dist = pos[None, :] - pos[:, None]
        bucket = (torch.sign(dist) + 1) * 2 + torch.clamp_min(dist.abs(), 1).clamp(max=1)
        t5_bias = self.bucket(bucket).permute(2, 0, 1)
        ids = torch.arange(s) % 2
        keep = torch.bitwise_not(ids) & 1
        base = torch.full((self.heads,), 2.0)
        exps = -torch.arange(1, self.heads + 1, dtype=torch.float32)
        slopes = torch.pow(base, exps)
        alibi = slopes[:, None, None] * dist.abs()[None].to(x.dtype)
        y = self.proj(x)
        scores = torch.einsum("bqh,bkh->bqk", y, y)[:, None] + t5_bias + alibi
        scores = scores + keep.to(x.dtype).repeat(1, 1).broadcast_to(b, self.heads, s, s)
        return scores.sum(-1).transpose(1, 2) + window_bias.sum() + x[..., : self.heads]


class UnfoldConv(nn.Module):
    """A convolution written as im2col (``F.unfold``) and a matmul, as older vision models do."""

    def __init__(self, cin: int = 3, cout: int = 4, k: int = 3):
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.randn(cout, cin * k * k) * 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = F.unfold(x, kernel_size=self.k, padding=1, stride=1)  # [B, C*k*k, H*W]
        out = self.weight @ cols
        return out.view(x.shape[0], -1, x.shape[2], x.shape[3])


class CeilPool(nn.Module):
    """Pooling with ceil_mode=True on dynamic spatial dims (SqueezeNet, GoogLeNet, ResNet-D)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.max_pool2d(self.conv(x), 3, stride=2, ceil_mode=True)
        return F.avg_pool2d(y, 2, stride=2, ceil_mode=True, count_include_pad=False)


class FourierMixing(nn.Module):
    """FNet's token mixing: a 2-D FFT over (sequence, hidden) with a complex intermediate, and
    its real part."""

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.ff = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.fft.fftn(x, dim=(-2, -1)).real
        return self.ff(self.norm(x + mixed))


class SizeAsValue(nn.Module):
    """Sizes used as tensor values: position ids and a scale computed from the sequence
    length, kept symbolic."""

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.shape[1]
        pos = torch.arange(s, dtype=x.dtype) / s
        y = self.proj(x) * s + pos[None, :, None]
        return y / (s + 1) - torch.full((1,), s, dtype=x.dtype)


class InPlace(nn.Module):
    """In-place variants the way models write them (``inplace=True`` activations and dropout,
    ``x.mul_()``, ``div_``, ``add_``, ``detach_``, ``hardtanh_``, ``clamp_min_``)."""

    def __init__(self, hidden: int = 8):
        super().__init__()
        self.fc1 = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.act = nn.ReLU(inplace=True)
        self.act6 = nn.ReLU6(inplace=True)
        self.drop = nn.Dropout(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc1(x)
        y.mul_(2.0)
        y.div_(3.0)
        y.add_(self.fc2(x), alpha=0.5)
        y = self.act(y)
        z = self.fc2(y)
        F.hardtanh(z, -0.5, 0.5, inplace=True)
        u = self.fc1(y)
        u.clamp_min_(-0.25)
        v = self.act6(self.fc2(x))
        w = self.drop(z)
        stop = (self.fc1(x) * 1.0).detach_()
        s = y * 1.0
        s[:, 0].sigmoid_()
        return w + u + v + s + stop


class TinyMoE(nn.Module):
    """A Mixtral-style mixture of experts written the way transformers' ``batched_mm`` experts
    export: top-2 routing (two argmaxes), each token gathering its experts' weights
    (``gate_up[expert_ids]``), bmm, SiLU gating, and a weighted sum over the chosen experts."""

    def __init__(self, hidden: int = 8, inter: int = 12, experts: int = 4):
        super().__init__()
        self.experts = experts
        self.router = nn.Linear(hidden, experts, bias=False)
        self.gate_up = nn.Parameter(torch.randn(experts, 2 * inter, hidden) * 0.3)
        self.down = nn.Parameter(torch.randn(experts, hidden, inter) * 0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        t = x.reshape(-1, h)
        probs = torch.softmax(self.router(t), dim=-1)
        first = probs.argmax(-1)
        second = probs.masked_fill(F.one_hot(first, self.experts).bool(), -1.0).argmax(-1)
        idx = torch.stack([first, second], dim=-1)
        w = probs.gather(-1, idx)
        w = w / w.sum(-1, keepdim=True)
        eid = idx.reshape(-1)
        sel = t.repeat_interleave(2, dim=0)
        gate, up = torch.bmm(self.gate_up[eid], sel.unsqueeze(-1)).squeeze(-1).chunk(2, dim=-1)
        out = torch.bmm(self.down[eid], (F.silu(gate) * up).unsqueeze(-1)).squeeze(-1)
        out = (out * w.reshape(-1, 1)).view(-1, 2, h).sum(1)
        return out.view(b, s, h)


class SparseExpert(nn.Module):
    """One Mixtral expert: w2(silu(w1(x)) * w3(x))."""

    def __init__(self, hidden: int, inter: int):
        super().__init__()
        self.w1 = nn.Linear(hidden, inter, bias=False)
        self.w2 = nn.Linear(inter, hidden, bias=False)
        self.w3 = nn.Linear(hidden, inter, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoE(nn.Module):
    """The classic transformers Mixtral sparse block: top-2 routing, then for each expert
    ``torch.where(expert_mask[e])`` (a data-dependent number of tokens: an unbacked symbol per
    expert), a gather of those tokens, the expert, and ``index_add_`` of the weighted rows back."""

    def __init__(self, hidden: int = 8, inter: int = 12, experts: int = 4, top_k: int = 2):
        super().__init__()
        self.experts_n = experts
        self.top_k = top_k
        self.gate = nn.Linear(hidden, experts, bias=False)
        self.experts = nn.ModuleList([SparseExpert(hidden, inter) for _ in range(experts)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        t = x.view(-1, h)
        weights = F.softmax(self.gate(t), dim=1, dtype=torch.float)
        weights, chosen = torch.topk(weights, self.top_k, dim=-1)
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(t.dtype)
        out = torch.zeros((b * s, h), dtype=t.dtype, device=t.device)
        expert_mask = F.one_hot(chosen, num_classes=self.experts_n).permute(2, 1, 0)
        for e in range(self.experts_n):
            idx, top_x = torch.where(expert_mask[e])
            current = t[None, top_x].reshape(-1, h)
            rows = self.experts[e](current) * weights[top_x, idx, None]
            out.index_add_(0, top_x, rows.to(t.dtype))
        return out.reshape(b, s, h)


def _seq(model: nn.Module, hidden: int, b: int = 2, s: int = 5) -> tuple:
    torch.manual_seed(0)
    return (model.eval(), {"x": torch.randn(b, s, hidden)}, {"x": {0: "B", 1: "S"}},
            ({"B": 2, "S": 5}, {"B": 3, "S": 7}))


def explicit_attention() -> tuple:
    torch.manual_seed(0)
    return _seq(ExplicitAttention(), 16)


def relative_positions() -> tuple:
    torch.manual_seed(0)
    return _seq(RelativePositions(), 8)


def unfold_conv() -> tuple:
    torch.manual_seed(0)
    return (UnfoldConv().eval(), {"x": torch.randn(2, 3, 6, 7)}, {"x": {0: "B", 2: "H", 3: "W"}},
            ({"B": 2, "H": 6, "W": 7}, {"B": 1, "H": 9, "W": 5}))


def ceil_pool() -> tuple:
    torch.manual_seed(0)
    return (CeilPool().eval(), {"x": torch.randn(2, 3, 12, 13)}, {"x": {0: "B", 2: "H", 3: "W"}},
            ({"B": 2, "H": 12, "W": 13}, {"B": 1, "H": 17, "W": 10}))


def fourier_mixing() -> tuple:
    torch.manual_seed(0)
    return _seq(FourierMixing(), 8)


def size_as_value() -> tuple:
    torch.manual_seed(0)
    return _seq(SizeAsValue(), 8)


def tiny_moe() -> tuple:
    torch.manual_seed(0)
    return _seq(TinyMoE(), 8)


def sparse_moe() -> tuple:
    torch.manual_seed(0)
    return _seq(SparseMoE(), 8)


def in_place() -> tuple:
    torch.manual_seed(0)
    return _seq(InPlace(), 8)


FACTORIES = ("explicit_attention", "relative_positions", "unfold_conv", "ceil_pool", "fourier_mixing", "size_as_value", "in_place",
             "tiny_moe", "sparse_moe")


def fresh(example: dict[str, Any], dynamic_dims: dict[str, Any], binding: dict[str, int], seed: int) -> dict[str, Any]:
    """Random float inputs like ``example`` with the symbols set from ``binding``."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in example.items():
        shape = list(v.shape)
        for axis, sym in dynamic_dims.get(k, {}).items():
            shape[axis] = binding[sym]
        out[k] = torch.randn(*shape, generator=g)
    return out
