"""Edge gains and the weakest/strongest gradient paths, on graphs whose answer is known by
construction, and the DP against brute-force enumeration of every path."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import graphsynth as gs
from graphsynth.grad import GradError, GradPath, instrument

BRANCHES = """
graph Branches(x: f32[B, 8]) -> f32[B, 8] {
  param fc.weight: f32[8, 8]
  module fc : Linear {
    %0: f32[B, 8] = linear(x, fc.weight)
  }
  module weak : Scale {
    %1: f32[B, 8] = mul(%0, 0.001)
  }
  module strong : Act {
    %2: f32[B, 8] = tanh(%0)
    %3: f32[B, 8] = identity(%2)
  }
  %4: f32[B, 8] = add(%1, %3)
  return %4
}
"""


def _recorded(text: str, shape: tuple[int, ...], seed: int = 0):
    module = gs.parse_ir(text)
    net = gs.lower(module)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    rec = instrument(net, module)
    net(torch.randn(shape, generator=gen)).pow(2).sum().backward()
    return rec


@pytest.mark.parametrize("gain", ["probe", "observed"])
def test_scaled_branch_is_weakest_and_unscaled_branch_strongest(gain: str) -> None:
    rec = _recorded(BRANCHES, (4, 8))
    weak = rec.weakest_path("x", "loss", gain=gain)
    strong = rec.strongest_path("x", "loss", gain=gain)
    assert isinstance(weak, GradPath)
    assert [s.value for s in weak] == ["x", "%0", "%1", "%4", "loss"]
    assert [s.value for s in strong] == ["x", "%0", "%2", "%3", "%4", "loss"]
    assert weak.gain < strong.gain
    # str() of a step names the value and the module it belongs to.
    assert [str(s) for s in weak] == ["x @ <input>", "%0 @ fc", "%1 @ weak", "%4 @ <top>", "loss"]
    assert "%1 @ weak" in str(weak) and "mul" in weak.describe()
    runs = [(where, [s.value for s in steps]) for where, steps in strong.by_module(1)]
    assert runs == [("", ["x"]), ("fc", ["%0"]), ("strong", ["%2", "%3"]), ("", ["%4"]), ("loss", ["loss"])]
    assert "%2..%3 @ strong" in strong.describe(depth=1)
    # The weak edge's gain is the scale itself (exactly, for probes: J = 1e-3 I).
    edge = next(s for s in weak if s.value == "%1")
    assert edge.gain == pytest.approx(1e-3, rel=1e-5 if gain == "probe" else 1e-4)


def test_module_targets_follow_the_query_convention() -> None:
    rec = _recorded(BRANCHES, (4, 8))
    # A module as source stands for its outputs; "return" is the graph's result (no loss factor).
    p = rec.weakest_path("fc", "return")
    assert [s.value for s in p] == ["%0", "%1", "%4"]
    assert p.gain == pytest.approx(1e-3, rel=1e-5)
    # As destination a module stands for its inputs: fc -> strong ends where strong begins.
    p = rec.strongest_path("x", "strong")
    assert [s.value for s in p] == ["x", "%0"]
    p = rec.strongest_path("x", "strong:out")
    assert [s.value for s in p][-1] == "%3"


KNOWN = """
graph Known(x: f32[B, 4]) -> f32[B] {
  %0: f32[B, 4] = mul(x, -3.0)
  %1: f32[B] = sum(%0, dims=[1])
  %2: f32[B] = tanh(%1)
  return %2
}
"""


def test_edge_gains_of_ops_with_known_jacobians() -> None:
    rec = _recorded(KNOWN, (5, 4))
    gains = rec.edge_gains("x", "return", probes=3)
    assert gains[("x", "%0")] == pytest.approx(3.0, rel=1e-6)  # J = -3 I
    assert gains[("%0", "%1")] == pytest.approx(2.0, rel=1e-6)  # sum of 4: Jᵀw repeats w 4 times
    x1 = rec.tensor("%1")
    rms = torch.sqrt((1 - torch.tanh(x1) ** 2).pow(2).mean()).item()  # diagonal J: RMS of tanh'
    assert gains[("%1", "%2")] == pytest.approx(rms, rel=0.5)
    assert set(gains) == {("x", "%0"), ("%0", "%1"), ("%1", "%2")}


def _diamonds(scales: list[list[float]]) -> str:
    """A chain of diamonds: stage k splits the value into branches each scaled by one factor,
    then adds them; every source->sink path picks one branch per stage."""
    lines = ["graph D(x: f32[B, 4]) -> f32[B, 4] {"]
    cur, n = "x", 0
    for k, stage in enumerate(scales):
        outs = []
        for j, c in enumerate(stage):
            lines.append(f"  module s{k}.b{j} : Branch {{")
            lines.append(f"    %{n}: f32[B, 4] = mul({cur}, {c})")
            lines.append("  }")
            outs.append(f"%{n}")
            n += 1
        acc = outs[0]
        for o in outs[1:]:
            lines.append(f"  %{n}: f32[B, 4] = add({acc}, {o})")
            acc = f"%{n}"
            n += 1
        cur = acc
    lines += [f"  return {cur}", "}"]
    return "\n".join(lines)


def test_dynamic_programming_agrees_with_brute_force() -> None:
    scales = [[0.5, 3.0, -0.01], [2.0, 0.25], [1.5, -7.0, 0.1]]
    rec = _recorded(_diamonds(scales), (2, 4))
    gains = rec.edge_gains("x", "return")
    succ: dict[str, list[str]] = {}
    for u, v in gains:
        succ.setdefault(u, []).append(v)
    out = rec.graph.outputs[0]

    def walk(v: str):
        if v == out:
            yield [v]
        for w in succ.get(v, []):
            for rest in walk(w):
                yield [v, *rest]

    every = list(walk("x"))
    assert len(every) == math.prod(len(s) for s in scales)  # 18 paths
    products = {tuple(p): math.prod(gains[(a, b)] for a, b in itertools.pairwise(p)) for p in every}
    weakest = min(products, key=products.get)
    strongest = max(products, key=products.get)
    got_w = rec.weakest_path("x", "return")
    got_s = rec.strongest_path("x", "return")
    assert tuple(s.value for s in got_w) == weakest
    assert tuple(s.value for s in got_s) == strongest
    assert got_w.gain == pytest.approx(products[weakest], rel=1e-6)
    assert got_s.gain == pytest.approx(3.0 * 2.0 * 7.0, rel=1e-5)
    assert got_w.gain == pytest.approx(0.01 * 0.25 * 0.1, rel=1e-5)


def test_no_differentiable_path_and_bad_arguments() -> None:
    text = """
graph G(x: f32[B, 4], i: i64[B]) -> (f32[B, 4], f32[B]) {
  %0: f32[B, 4] = tanh(x)
  %1: f32[B] = cast(i, dtype=f32)
  return %0, %1
}
"""
    module = gs.parse_ir(text)
    net = gs.lower(module)
    rec = instrument(net, module)
    a, b = net(torch.randn(3, 4), torch.arange(3))
    (a.sum() + b.sum()).backward()
    with pytest.raises(GradError) as e:
        rec.weakest_path("i", "%1")
    assert e.value.diagnostics[0].code == "GS806"
    with pytest.raises(GradError) as e:
        rec.weakest_path("x", "%1")
    assert e.value.diagnostics[0].code == "GS806"
    with pytest.raises(GradError) as e:
        rec.weakest_path("x", "loss", gain="magic")
    assert e.value.diagnostics[0].code == "GS805"
    with pytest.raises(GradError) as e:
        rec.weakest_path("x", "loss", probes=0)
    assert e.value.diagnostics[0].code == "GS805"
    # The loss term picks the output the loss actually depends on.
    assert [s.value for s in rec.strongest_path("x")] == ["x", "%0", "loss"]
