"""The sorting, scan, flip/roll, 1-d pooling, log1p and one_hot ops: text round trip, located
rejections by the verifier, import of small modules (forward and gradients against the source
model), generation by the strategies, and the search's width mutation through a 1-d pool.
Their lowerings against torch references are cases of test_backend_ops.py."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from backend_util import TypeChecker, make_inputs
from frontend_util import compare_lowered, op_names, text_round_trip, verify_clean
from hypothesis import HealthCheck, given, settings
from torch import nn

import graphsynth as gs
from graphsynth.backend.lower import lower
from graphsynth.dialects import gs as dialect
from graphsynth.dialects.traits import Pooling
from graphsynth.frontend.importer import import_torch
from graphsynth.testing.strategies import modules

NEW_OPS = ("topk", "sort", "argsort", "cumprod", "logsumexp", "flip", "roll", "log1p", "max_pool1d", "avg_pool1d",
           "adaptive_avg_pool1d", "one_hot")


def graph(inputs: str, outs: str, *lines: str, ret: str = "%0") -> str:
    body = "\n".join("  " + ln for ln in lines)
    return f"graph G({inputs}) -> {outs} {{\n{body}\n  return {ret}\n}}\n"


ROUND_TRIP = [
    graph("x: f32[B, S]", "(f32[B, 2], i64[B, 2])", "%v: f32[B, 2], %i: i64[B, 2] = topk(x, k=2, largest=false, sorted=false)",
          ret="%v, %i"),
    graph("x: f32[B, S]", "f32[S, S]", "%v: f32[S, S], %i: i64[S, S] = topk(x, k=S, dim=0)", ret="%v").replace(
        "x: f32[B, S]", "x: f32[S, S]"),
    graph("x: f32[B, S]", "f32[B, S]", "%v: f32[B, S], %i: i64[B, S] = sort(x, dim=0, descending=true, stable=true)", ret="%v"),
    graph("x: f32[B, S]", "i64[B, S]", "%0: i64[B, S] = argsort(x, descending=true)"),
    graph("x: i32[B, S]", "i64[B, S]", "%0: i64[B, S] = cumprod(x, dim=1)"),
    graph("x: f32[B, S]", "f64[B, S]", "%0: f64[B, S] = cumprod(x, dim=-1, dtype=f64)"),
    graph("x: f32[B, S, 3]", "f32[B, 1, 1]", "%0: f32[B, 1, 1] = logsumexp(x, dims=[1, 2], keepdim=true)"),
    graph("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = flip(x, dims=[0, -1])"),
    graph("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = roll(x, shifts=[2, -1], dims=[1, 0])"),
    graph("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = roll(x, shifts=[5])"),
    graph("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = log1p(x)"),
    graph("x: f32[B, 4, S]", "f32[B, 4, (S+1)//2]", "%0: f32[B, 4, (S+1)//2] = max_pool1d(x, kernel_size=[3], stride=[2], padding=[1])"),
    graph("x: f32[B, 4, S]", "f32[B, 4, S-2]", "%0: f32[B, 4, S-2] = max_pool1d(x, kernel_size=[2], stride=[1], dilation=[2])"),
    graph("x: f32[B, 4, S]", "f32[B, 4, S//2]", "%0: f32[B, 4, S//2] = avg_pool1d(x, kernel_size=[2], count_include_pad=false)"),
    graph("x: f32[B, 4, S]", "f32[B, 4, 3]", "%0: f32[B, 4, 3] = adaptive_avg_pool1d(x, output_size=[3])"),
    graph("i: i64[B, S]", "i64[B, S, 10]", "%0: i64[B, S, 10] = one_hot(i, num_classes=10)"),
]


@pytest.mark.parametrize("text", ROUND_TRIP, ids=[t.split("= ")[1].split("(")[0] + str(i) for i, t in enumerate(ROUND_TRIP)])
def test_text_round_trip_and_verify(text: str) -> None:
    m = gs.parse_ir(text, filename="t.gs")
    assert gs.verify(m) == []
    assert gs.print_ir(m) == text
    assert gs.print_ir(gs.parse_ir(gs.print_ir(m))) == text


# (input signature, op line, code, what the message says); the op is on line 2, column 3.
REJECTED = [
    ("x: f32[B, 4]", "%v: f32[B, 5], %i: i64[B, 5] = topk(x, k=5)", "GS330", "has size 4 along dim -1; k must be at most 4, got 5"),
    ("x: f32[B, S]", "%v: f32[B, S+1], %i: i64[B, S+1] = topk(x, k=S+1)", "GS330", "k must be at most S, got S+1"),
    ("x: f32[B, 4]", "%v: f32[B, 2], %i: i64[B, 2] = topk(x, k=2, dim=2)", "GS306", "dim must be in [-2, 1] for rank 2, got 2"),
    ("x: f32[B, 4]", "%v: f32[B, 2], %i: f32[B, 2] = topk(x, k=2)", "GS303", "must have dtype i64"),
    ("x: f32[B, 4]", "%v: f32[B, 4] = topk(x, k=2)", "GS208", ""),
    ("x: f32[B, 4]", "%v: f32[B, 4], %i: i64[B, 4] = sort(x, dim=-3)", "GS306", "dim must be in [-2, 1]"),
    ("x: f32[B, 4]", "%0: i64[B, 4] = argsort(x, dim=5)", "GS306", "dim must be in"),
    ("x: f32[B, 4]", "%0: f32[B, 4] = cumprod(x, dim=2)", "GS306", "dim must be in"),
    ("x: i64[B, 4]", "%0: f32[B] = logsumexp(x, dims=[1])", "GS303", "has dtype i64; logsumexp needs a float dtype"),
    ("x: f32[B, 4]", "%0: f32[B, 4] = flip(x, dims=[1, -1])", "GS306", "names dim 1 twice"),
    ("x: f32[B, 4]", "%0: f32[B, 4] = flip(x, dims=[2])", "GS306", "dims must be in [-2, 1]"),
    ("x: f32[B, 4]", "%0: f32[B, 4] = roll(x, shifts=[1, 2], dims=[1])", "GS306", "one shift per dim"),
    ("x: f32[B, 4]", "%0: f32[B, 4] = roll(x, shifts=[1, 2])", "GS306", "takes one shift"),
    ("x: f32[B, 3, 4]", "%0: f32[B, 3, 1] = max_pool1d(x, kernel_size=[5])", "GS301", "has length 4; a window of 5 (padding 0) does not fit it"),
    ("x: f32[B, 3, S]", "%0: f32[B, 3, S] = max_pool1d(x, kernel_size=[2], stride=[1], padding=[2])", "GS306",
     "padding 2 must be at most half the kernel size 2"),
    ("x: f32[B, 3, S]", "%0: f32[B, 3, S] = avg_pool1d(x, kernel_size=[2, 2])", "GS306", "must have one entry"),
    ("x: f32[B, 3, 2, S]", "%0: f32[B, 3, 2, S] = avg_pool1d(x, kernel_size=[1])", "GS302", "rank 2 or 3"),
    ("x: f32[B, 3, S]", "%0: f32[B, 3, 0] = adaptive_avg_pool1d(x, output_size=[0])", "GS306", "output_size must be >= 1"),
    ("x: f32[B, S]", "%0: i64[B, S, 3] = one_hot(x, num_classes=3)", "GS303", "has dtype f32; one_hot needs integer class indices"),
    ("x: f32[B, S]", "%0: f32[B, S] = log1p(x, dims=[1])", "GS209", ""),
]


@pytest.mark.parametrize(("sig", "line", "code", "says"), REJECTED, ids=[f"{r[2]}-{r[1].split('= ')[1].split('(')[0]}-{i}"
                                                                       for i, r in enumerate(REJECTED)])
def test_rejections_are_located_diagnostics(sig: str, line: str, code: str, says: str) -> None:
    text = f"graph G({sig}) -> f32[B] {{\n  {line}\n  return x\n}}\n"
    try:
        diags = gs.verify(gs.parse_ir(text, filename="bad.gs"))
    except gs.ParseError as e:
        diags = e.diagnostics
    assert diags, f"accepted: {line}"
    d = next((d for d in diags if d.code == code), None)
    assert d is not None, [x.render() for x in diags]
    assert d.loc is not None and d.loc.file == "bad.gs" and d.loc.line == 2, d.render()
    assert says in d.message, d.render()
    if code != "GS209":
        assert d.op == line.split("= ")[1].split("(")[0] and d.loc.column == 3, d.render()


def test_topk_k_on_a_symbolic_dim_is_accepted_when_it_may_fit() -> None:
    """k=3 on a dim S is not provably too large (S may be 3 or more): no diagnostic."""
    text = graph("x: f32[B, S]", "f32[B, 3]", "%v: f32[B, 3], %i: i64[B, 3] = topk(x, k=3)", ret="%v")
    assert gs.verify(gs.parse_ir(text)) == []


# -- import of small modules ---------------------------------------------------------------------


class SeqNet(nn.Module):
    """A 1-d convnet for sequences: conv, max pool, avg pool, adaptive pool."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding=1)
        self.pool = nn.MaxPool1d(3, stride=2, padding=1)
        self.avg = nn.AvgPool1d(2)
        self.ada = nn.AdaptiveAvgPool1d(3)
        self.head = nn.Linear(18, 5)
        self.idx_pool = nn.MaxPool1d(2, return_indices=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.avg(self.pool(torch.relu(self.conv(x))))
        values, _ = self.idx_pool(x)
        return self.head(self.ada(h).flatten(1)), values


class Ranked(nn.Module):
    """topk, sort, argsort, cumprod, logsumexp, log1p, flip, roll, one_hot around a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.proj(x)
        top, idx = torch.topk(h, 3, dim=-1)
        srt, order = torch.sort(h, dim=1, descending=True)
        ranks = torch.argsort(h, dim=-1, stable=True)
        scan = torch.cumprod(torch.sigmoid(h), 1)
        lse = torch.logsumexp(h, dim=-1)
        soft = torch.log1p(h.abs())
        moved = torch.roll(torch.flip(h, [1]), 2, 2) + torch.roll(h, 3)
        hot = F.one_hot(h.argmax(-1), 8)
        return top, idx, srt, order, ranks, scan, lse, soft, moved, hot


DYN = {"x": {0: torch.export.Dim("B", min=2, max=64), 1: torch.export.Dim("S", min=2, max=64)}}


def test_import_a_1d_convnet() -> None:
    model = SeqNet().eval()
    torch.manual_seed(0)
    module = import_torch(model, {"x": torch.randn(2, 4, 12)}, {"x": {0: torch.export.Dim("B", min=2, max=64)}})
    names = op_names(module)
    assert {"max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "conv1d"} <= set(names), names
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, lambda b: {"x": torch.randn(b["B"], 4, 12)}, ({"B": 2}, {"B": 5}), grads=True)


def test_import_sorting_scans_and_moves() -> None:
    model = Ranked()
    torch.manual_seed(0)
    module = import_torch(model, {"x": torch.randn(2, 5, 8)}, DYN)
    names = set(op_names(module))
    assert {"topk", "sort", "argsort", "cumprod", "logsumexp", "log1p", "flip", "roll", "one_hot"} <= names, names
    verify_clean(module)
    text = text_round_trip(module)
    assert "topk(" in text and ", %" in text.split("topk(")[0].splitlines()[-1], "topk binds two results"
    compare_lowered(model, module, lambda b: {"x": torch.randn(b["B"], b["S"], 8)},
                    ({"B": 2, "S": 5}, {"B": 3, "S": 9}), grads=True)


# -- generation, search ----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(ops=(*NEW_OPS, "relu", "unsqueeze", "linear"), max_ops=6, max_modules=0))
def test_generated_modules_verify_print_and_run(m) -> None:
    """Drawn modules of the new ops verify, print and parse back, and every value of the lowered
    module has the type the IR declares, at two bindings."""
    assert gs.verify(m) == []
    assert gs.print_ir(gs.parse_ir(gs.print_ir(m))) == gs.print_ir(m)
    (g,) = dialect.graph_ops(m)
    net = lower(m)
    for i, b in enumerate(({s: 3 for s in ("B", "S")}, {s: 5 for s in ("B", "S")})):
        inputs = make_inputs(g, b, {}, seed=i)
        TypeChecker(net, b).run(*inputs.values())


def test_resize_walks_through_a_1d_pool() -> None:
    """The search's width mutation reads the Pooling trait: a conv1d's channels are resized
    through max_pool1d (and avg/adaptive pooling) into the next conv1d."""
    assert {dialect.MaxPool1d, dialect.AvgPool1d, dialect.AdaptiveAvgPool1d} <= set(dialect.ops_with(Pooling))
    from graphsynth.synth.mutations import resize

    text = """graph Net(x: f32[B, 4, S]) -> f32[B, 5, 2] {
  param c1.weight: f32[8, 4, 3]
  param c1.bias: f32[8]
  param c2.weight: f32[5, 8, 1]
  %0: f32[B, 8, S-2] = conv1d(x, c1.weight, c1.bias)
  %1: f32[B, 8, (S-2)//2] = max_pool1d(%0, kernel_size=[2])
  %2: f32[B, 8, (S-2)//2] = avg_pool1d(%1, kernel_size=[1])
  %3: f32[B, 8, 2] = adaptive_avg_pool1d(%2, output_size=[2])
  %4: f32[B, 5, 2] = conv1d(%3, c2.weight)
  return %4
}
"""
    m = gs.parse_ir(text)
    out, what = resize(m, random.Random(0))
    assert gs.verify(out) == [], what
    widths = {ln.split(":")[0].strip(): ln for ln in gs.print_ir(out).splitlines() if "pool1d" in ln}
    new = [ln for ln in gs.print_ir(out).splitlines() if "param c1.weight" in ln][0]
    assert "[8, 4, 3]" not in new, what
    width = new.split("[")[1].split(",")[0]
    assert all(f"[B, {width}," in ln for ln in widths.values()), widths
