"""Small hand-written modules, one per family of ATen ops the importer maps: each is imported
with dynamic dims, verified, printed and re-parsed, lowered and compared with the module itself
at two bindings of its symbols.  ``ops`` lists gs ops the import must contain (the mapping
itself is under test), ``absent`` ops it must not (no-ops and in-place ops must be gone)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from frontend_util import compare_lowered, op_names, primitive_ops, text_round_trip, verify_clean
from torch import nn
from torch.export import Dim

from graphsynth.frontend.importer import import_torch

BINDINGS = ({"B": 2, "S": 6}, {"B": 3, "S": 10})


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


@dataclass
class Case:
    name: str
    fn: Callable[..., Any]  # forward(self, **inputs), as a plain function of the inputs
    inputs: Callable[[dict[str, int]], dict[str, Any]]
    dyn: dict[str, Any]
    ops: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    module: Callable[[], nn.Module] | None = None  # a module with parameters instead of fn
    tol: float = 1e-5
    extra: dict[str, Any] = field(default_factory=dict)


class Fn(nn.Module):
    """Wraps a function of named tensors as a module whose forward has those names."""

    def __init__(self, fn: Callable[..., Any], names: list[str]):
        super().__init__()
        self.fn = fn
        self.names = names

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, i: torch.Tensor | None = None) -> Any:
        kw = {"x": x, "y": y, "i": i}
        return self.fn(**{k: kw[k] for k in self.names})


def x_bs(b: dict[str, int]) -> dict[str, Any]:
    return {"x": randn(b["B"], b["S"], 8)}


def xy_bs(b: dict[str, int]) -> dict[str, Any]:
    return {"x": randn(b["B"], b["S"], 8), "y": randn(b["B"], b["S"], 8)}


DYN_X = {"x": {0: "B", 1: "S"}}
DYN_XY = {"x": {0: "B", 1: "S"}, "y": {0: "B", 1: "S"}}


class InPlace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * 1.5
        y.add_(1.0)
        y.mul_(x)
        y.masked_fill_(x > 1.0, -2.0)
        z = torch.empty_like(y)
        z.copy_(y)
        z.relu_()
        w = torch.zeros(x.shape[0], x.shape[1], 1)
        w.fill_(3.0)
        return z + w


class NoGrad(nn.Module):
    """Ops under torch.no_grad / autocast(enabled=False): export nests them in
    wrap_with_set_grad_enabled / wrap_with_autocast subgraphs."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("freq", torch.arange(4, dtype=torch.float32) / 4.0, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            pos = torch.arange(x.shape[1], dtype=torch.float32)
            ang = pos[:, None] * self.freq[None, :]
            emb = torch.cat([ang, ang], dim=-1)
            cos, sin = emb.cos(), emb.sin()
        with torch.autocast("cpu", enabled=False):
            return x * cos + x * sin


class Norms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.rms = nn.RMSNorm(8, eps=1e-6)
        self.gn = nn.GroupNorm(2, 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rms(self.ln(x)), self.gn(y)


class Convs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding="same", groups=4, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2, stride=1)
        self.ada = nn.AdaptiveAvgPool2d((1, 1))
        self.c1d = nn.Conv1d(8, 4, 3, padding=1, dilation=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.pool(torch.relu(self.bn(self.c2(self.c1(x)))))
        h = self.avg(h)
        seq = self.c1d(h.flatten(2))
        return self.ada(h).flatten(1), F.adaptive_avg_pool1d(seq, 1)


class Attn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.kv_small = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, 4, 4).permute(2, 0, 3, 1, 4).unbind(0)
        mask = torch.ones(s, s, dtype=torch.bool).tril()
        a1 = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        a2 = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
        kv = self.kv_small(x).view(b, s, 2, 2, 4).permute(2, 0, 3, 1, 4)
        a3 = F.scaled_dot_product_attention(q, kv[0], kv[1], enable_gqa=True)
        return a1, a2, a3


class Buffers(nn.Module):
    """Non-persistent buffers and lifted constants become full/arange/constant ops."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("ids", torch.arange(32).view(1, 32), persistent=False)
        self.register_buffer("zeros", torch.zeros(1, 32, dtype=torch.long), persistent=False)
        self.register_buffer("table", torch.tensor([0.5, -1.0, 2.0, 0.25]), persistent=False)
        self.register_buffer("kept", torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.shape[1]
        pos = self.ids[:, :s] + self.zeros[:, :s]
        return x * pos.unsqueeze(-1).float() + self.table.repeat(2) * self.kept.sum()


def _idx(b: dict[str, int]) -> dict[str, Any]:
    return {"x": randn(b["B"], b["S"], 8), "i": torch.randint(0, 6, (b["B"], b["S"]))}


CASES = [
    Case("arith", lambda x, y: (x * 2 + 1 - y / (y.abs() + 1), torch.pow(x, 2), 2 ** x, 1 - x, torch.maximum(x, y), torch.minimum(x, 0.5 * y), torch.remainder(x, 0.7)),
         xy_bs, DYN_XY, ops=("mul", "add", "sub", "div", "pow", "maximum", "minimum", "remainder")),
    Case("unary", lambda x: (x.neg().exp(), (x.abs() + 1).log(), (x.abs() + 1).sqrt(), (x.abs() + 1).rsqrt(), x.sin() + x.cos(), x.tanh(), x.sigmoid(),
                             torch.relu(x), F.silu(x), F.gelu(x), F.gelu(x, approximate="tanh"), torch.erf(x), (x.abs() + 1).reciprocal()),
         x_bs, DYN_X, ops=("neg", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "silu", "gelu", "erf", "reciprocal")),
    Case("activations", lambda x: (F.leaky_relu(x, 0.2), F.softplus(x, beta=2.0), F.hardtanh(x, -0.5, 0.5), F.relu6(x * 4), F.hardsigmoid(x), F.hardswish(x),
                                   x.clamp(-0.3, 0.4), x.clamp_min(0.1), x.clamp(max=0.2)),
         x_bs, DYN_X, ops=("leaky_relu", "softplus", "hardtanh", "clamp")),
    Case("rounding", lambda x: (torch.sign(x), torch.floor(x * 3), torch.ceil(x * 3), torch.round(x * 3), torch.trunc(x * 3)), x_bs, DYN_X,
         ops=("sign", "floor", "ceil", "round", "trunc")),
    Case("compare_logic", lambda x, y: (torch.where((x > 0) & (y < 0.5), x, y), torch.where(x == y, 1.0, x), (x >= y) | (x <= -1), ~(x != y), x.masked_fill(x < 0, float("-inf")).softmax(-1),
                                        (x > 0).float() + (y < 0).long()),
         xy_bs, DYN_XY, ops=("gt", "lt", "logical_and", "where", "eq", "ge", "le", "logical_or", "ne", "logical_not", "masked_fill", "cast", "softmax")),
    Case("casts", lambda x: (x.double(), x.to(torch.int32), (x * 4).long().float(), x.to(torch.float16).to(torch.float32), x.type_as(x), x.to(torch.float32)),
         x_bs, DYN_X, ops=("cast",)),
    Case("linalg", lambda x, y: (x @ y.transpose(1, 2), torch.bmm(x, y.transpose(1, 2)), torch.matmul(x, torch.ones(8, 3)),
                                 torch.addmm(torch.ones(3), x.reshape(-1, 8), torch.ones(8, 3)), torch.baddbmm(x[:, :, :2], x, y.transpose(1, 2)[:, :, :2], beta=0.5, alpha=2.0)),
         xy_bs, DYN_XY, ops=("matmul", "addmm", "transpose", "reshape")),
    Case("shapes", lambda x: (x.view(x.shape[0] * x.shape[1], 8), x.reshape(x.shape[0], -1), x.flatten(1), x.unflatten(2, (2, 4)), x.permute(2, 0, 1), x.transpose(0, 2),
                              x.unsqueeze(1).expand(-1, 3, -1, -1), x[:, None].squeeze(1), x.movedim(0, -1), x.mT, x.sum(-1).t()),
         x_bs, DYN_X, ops=("reshape", "flatten", "permute", "transpose", "unsqueeze", "expand"), absent=("identity",)),
    Case("slicing", lambda x: (x[:, 1:], x[:, :-1], x[:, ::2], x[..., 2:6], x[:, -1], x[:, 2 : x.shape[1]], x.narrow(2, 1, 3), x.select(0, 0), x[:, 0:x.shape[1]]),
         x_bs, DYN_X, ops=("slice", "select")),
    Case("join_split", lambda x, y: (torch.cat([x, y], 1), torch.stack([x, y], -1), *x.split(3, dim=-1), *torch.chunk(y, 2, dim=2), *x[:, :, :3].unbind(-1), x.split([2, 6], 2)[1]),
         xy_bs, DYN_XY, ops=("concat", "split", "squeeze", "unsqueeze")),
    Case("indexing", lambda x, i: (x[i[0] % 2], x[:, 2], x[torch.arange(x.shape[0])[:, None], i], x.gather(2, i.unsqueeze(-1) % 8), x.index_select(2, i[0] % 8),
                                   torch.nn.functional.embedding(i, x[0, 0].reshape(2, 4).repeat(4, 1))),
         _idx, {"x": {0: "B", 1: "S"}, "i": {0: "B", 1: "S"}}, ops=("gather_rows", "index", "gather", "index_select", "embedding", "arange")),
    Case("pad_repeat", lambda x: (F.pad(x, (1, 2)), F.pad(x, (0, 0, 2, 0), value=-1.0), x.repeat(1, 2, 1), x.repeat_interleave(2, dim=1), torch.tril(x[0]), torch.triu(x[0], 1),
                                  torch.diff(x, dim=1), torch.diff(x, dim=2, prepend=x[:, :, :1])),
         x_bs, DYN_X, ops=("pad", "repeat", "expand", "tril", "triu", "slice", "sub", "concat")),
    Case("reductions", lambda x: (x.sum(-1), x.sum((0, 2), keepdim=True), x.mean(1), x.mean(), x.amax(-1), x.max(dim=1)[0], x.max(dim=1)[1], x.min(-1).values, x.argmin(-1),
                                  x.var(-1), x.std(1, correction=0), x.argmax(-1, keepdim=True), x.cumsum(1), (x > 0).sum(-1), torch.linalg.vector_norm(x, dim=-1), x.norm(p=1, dim=-1)),
         x_bs, DYN_X, ops=("sum", "mean", "amax", "amin", "argmax", "var", "cumsum", "sqrt")),
    Case("creation", lambda x: (x + torch.arange(x.shape[1]).view(1, -1, 1), torch.zeros(x.shape[0], 2), torch.ones(x.shape[1], dtype=torch.long), torch.full((x.shape[0], 3), 7.0), torch.zeros_like(x),
                                x.new_ones((2, x.shape[1])), torch.full_like(x, 2), torch.arange(1, x.shape[1] + 1, 2), torch.arange(x.shape[1] * 2).float()),
         x_bs, DYN_X, ops=("arange", "full")),
    Case("symbolic_sizes", lambda x: (x.reshape(x.shape[0], x.shape[1] * 8).sum(0), x.reshape(x.shape[0] * x.shape[1], 2, 4), x[:, : x.shape[1] // 2], torch.arange(x.shape[1] // 2 + 1),
                                      x.view(-1).view(x.shape[0], -1), x.view(x.shape[0], x.shape[1] // 2, 16)),
         x_bs, {"x": {0: "B", 1: 2 * Dim("H")}}, ops=("reshape", "slice", "arange")),
    Case("softmax_family", lambda x: (x.softmax(-1), x.log_softmax(1), F.softmax(x, dim=0, dtype=torch.float64)), x_bs, DYN_X, ops=("softmax", "log_softmax")),
    Case("no_ops", lambda x: (F.dropout(x.contiguous().clone().detach(), 0.5, training=False) + 0, x * 1, x.to(torch.float32).view(x.shape)), x_bs, DYN_X,
         absent=("dropout", "identity", "cast", "reshape")),
    Case("inplace", None, x_bs, DYN_X, module=InPlace, ops=("add", "mul", "masked_fill", "relu", "full")),
    Case("higher_order", None, x_bs, DYN_X, module=NoGrad, ops=("cos", "sin", "arange", "concat")),
    Case("norms", None, lambda b: {"x": randn(b["B"], b["S"], 8), "y": randn(b["B"], 4, 5, b["S"])}, {"x": {0: "B", 1: "S"}, "y": {0: "B", 3: "S"}},
         module=Norms, ops=("layer_norm", "rms_norm", "group_norm")),
    Case("convs", None, lambda b: {"x": randn(b["B"], 3, 16, 16)}, {"x": {0: "B"}}, module=Convs,
         ops=("conv2d", "batch_norm", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "conv1d", "adaptive_avg_pool1d")),
    Case("attention", None, lambda b: {"x": randn(b["B"], b["S"], 16)}, DYN_X, module=Attn, ops=("attention", "linear", "split")),
    Case("buffers", None, x_bs, DYN_X, module=Buffers, ops=("arange", "full", "constant")),
    Case("interpolate", lambda x: (F.interpolate(x, scale_factor=2, mode="nearest"), F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=False),
                                   F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True)),
         lambda b: {"x": randn(b["B"], 2, 4, 6)}, {"x": {0: "B"}}, ops=("interpolate",)),
]


def _model(case: Case) -> nn.Module:
    if case.module is not None:
        return case.module().eval()
    names = [n for n in ("x", "y", "i") if n in case.inputs(BINDINGS[0])]
    return Fn(case.fn, names).eval()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_op_family(case: Case) -> None:
    torch.manual_seed(0)
    model = _model(case)
    module = import_torch(model, case.inputs(BINDINGS[0]), case.dyn)
    names = set(op_names(module))
    missing = [o for o in case.ops if o not in names]
    assert not missing, f"expected gs ops {missing} in {sorted(names)}"
    unexpected = [o for o in case.absent if o in names]
    assert not unexpected, f"no-op/in-place ops left in the IR: {unexpected}"
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, case.inputs, BINDINGS, tol=case.tol)


def test_every_value_is_typed_with_symbols() -> None:
    """Dynamic dims are symbols everywhere (no example size leaks into a type)."""
    model = Fn(lambda x: x.reshape(x.shape[0], -1).softmax(-1), ["x"])
    module = import_torch(model, {"x": randn(2, 6, 8)}, DYN_X)
    (op,) = [o for o in primitive_ops(module) if o.name == "gs.reshape"]
    assert str(op.results[0].type) == "f32[B, 8*S]"
    assert op.attr_values()["shape"] == op.results[0].type.shape


def test_inplace_updates_of_views_are_functionalized() -> None:
    """x[...] = v and y = x[..]; y.op_() change x: the update is written back through the view
    chain into x, and views of x made before are recomputed."""

    def f(x: torch.Tensor) -> tuple:
        y = x * 2
        first = y[:, 0]
        y[:, 0] = 0.0  # select + copy_
        y[:, 1:3, :4] += 1.0  # slice of slice, add_ on the view
        row = y.transpose(1, 2)[:, 2]
        row.mul_(3.0)  # through a transpose and a select
        z = y.clone()
        z[z > 2.5] = -1.0  # index_put_ with a boolean mask
        a, b = z.split([3, 5], dim=2)
        b.zero_()  # a piece of split
        return y, first, z, a

    model = Fn(f, ["x"])
    module = import_torch(model, x_bs(BINDINGS[0]), DYN_X)
    assert "concat" in op_names(module) and "where" in op_names(module)
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, x_bs, BINDINGS)


def test_inplace_through_a_strided_slice_is_refused() -> None:
    from graphsynth.diagnostics import FrontendError

    def f(x: torch.Tensor) -> torch.Tensor:
        y = x * 2
        y[:, ::2] = 0.0
        return y

    with pytest.raises(FrontendError) as e:
        import_torch(Fn(f, ["x"]), {"x": randn(2, 6, 8)}, DYN_X)
    d = e.value.diagnostics[0]
    assert d.code == "GS602"
    assert "strided slice" in d.message
    assert d.loc is not None and d.loc.file.endswith("test_frontend_ops.py")


def test_dropout_in_training_mode_is_kept() -> None:
    model = Fn(lambda x: F.dropout(x, 0.25, training=True), ["x"]).train()
    module = import_torch(model, {"x": randn(2, 6, 8)}, DYN_X)
    (op,) = [o for o in primitive_ops(module) if o.name == "gs.dropout"]
    assert op.attr_values() == {"p": 0.25, "train": True}


def test_decomposed_ops_match_torch() -> None:
    """einsum, outer and any/all have no gs op of their own: they are written with
    matmul/permute/reshape, mul and eq/sum; roll, flip and one_hot import as their own ops."""

    def f(x: torch.Tensor, y: torch.Tensor) -> tuple:
        return (
            torch.einsum("bsd,bsd->bs", x, y),
            torch.einsum("bid,bjd->bij", x, y),
            torch.einsum("bsd,de->bse", x, torch.arange(40.0).view(8, 5) / 40),
            torch.einsum("bsd->b", x),
            torch.outer(x[0, 0], y[0, 0]),
            x.roll(2, 1),
            x.roll((-1, 3), (1, 2)),
            x.roll(5),
            x.flip(1, 2),
            F.one_hot((x[..., 0] > 0).long() + 1, 3),
            (x > 1).any(-1),
            (x > -3).all(),
        )

    model = Fn(f, ["x", "y"])
    module = import_torch(model, xy_bs(BINDINGS[0]), DYN_XY)
    names = set(op_names(module))
    assert {"matmul", "eq", "roll", "flip", "one_hot"} <= names
    assert "einsum" not in names
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, xy_bs, BINDINGS)
