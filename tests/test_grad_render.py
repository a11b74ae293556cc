"""Pictures: the graph coloured by gradient norm (graphviz and matplotlib engines, any depth of
the hierarchy) and the per-module bar chart."""

from __future__ import annotations

import math
import os
import shutil
import stat
from pathlib import Path

import pytest
import torch

import graphsynth as gs
from graphsynth.grad import GradError, instrument
from graphsynth.grad import render as R

GRAPH = """
graph Net(x: f32[B, 8]) -> f32[B, 8] {
  param enc.fc.weight: f32[8, 8]
  module enc : Encoder {
    module enc.fc : Linear {
      %0: f32[B, 8] = linear(x, enc.fc.weight)
    }
    %1: f32[B, 8] = tanh(%0)
  }
  module weak : Scale {
    %2: f32[B, 8] = mul(%1, 0.001)
  }
  module strong : Act {
    %3: f32[B, 8] = sigmoid(%1)
    %4: f32[B, 8] = mul(%3, 5.0)
  }
  %5: f32[B, 8] = add(%2, %4)
  %6: i64[B] = argmax(%5, dim=1)
  return %5
}
"""


@pytest.fixture(scope="module")
def rec():
    module = gs.parse_ir(GRAPH)
    net = gs.lower(module)
    torch.manual_seed(0)
    with torch.no_grad():
        net.enc.fc.weight.normal_()
    r = instrument(net, module)
    net(torch.randn(4, 8)).pow(2).sum().backward()
    return r


def test_matplotlib_engine_writes_png_and_svg(rec, tmp_path: Path) -> None:
    png = rec.render(tmp_path / "g.png", engine="matplotlib")
    svg = rec.render(tmp_path / "sub" / "g.svg", engine="matplotlib", depth=0)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    text = svg.read_text()
    assert "<svg" in text and svg.stat().st_size > 5000


def test_auto_falls_back_to_matplotlib_without_dot(rec, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(R.shutil, "which", lambda name: None)
    out = rec.render(tmp_path / "auto.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(GradError) as e:
        rec.render(tmp_path / "g.svg", engine="graphviz")
    d = e.value.diagnostics[0]
    assert d.code == "GS807" and "apt install graphviz" in d.fix
    # Graphviz source needs no binary.
    assert "digraph" in rec.render(tmp_path / "g.dot").read_text()


def test_graphviz_engine_pipes_through_dot(rec, tmp_path: Path, monkeypatch) -> None:
    """With a stand-in `dot` on the PATH: the source goes to dot with -Tsvg and its output is the file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {tmp_path}/stdin\nprintf "<svg>from dot</svg>"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    out = rec.render(tmp_path / "g.svg")  # auto: dot is found
    assert out.read_text() == "<svg>from dot</svg>"
    assert "-Tsvg" in (tmp_path / "args").read_text()
    assert (tmp_path / "stdin").read_text().startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="the graphviz `dot` binary is not installed")
def test_real_dot_renders_svg(rec, tmp_path: Path) -> None:  # pragma: no cover - needs graphviz
    out = rec.render(tmp_path / "real.svg", engine="graphviz", depth=1)
    assert "<svg" in out.read_text()


def test_edges_are_coloured_and_sized_by_gradient_norm(rec, tmp_path: Path) -> None:
    pic = R.picture_graph(rec)
    by_pair = {(e.src, e.dst): e for e in pic.edges}
    weak = by_pair[("value:%1", "value:%2")]
    strong = by_pair[("value:%4", "value:%5")]
    assert weak.grad == pytest.approx(rec.edge_grad_norms()[("%1", "%2")])
    lo, hi = pic.scale()
    assert lo == pytest.approx(math.log10(min(e.grad for e in pic.edges)))
    assert hi == pytest.approx(math.log10(max(e.grad for e in pic.edges)))
    c_weak, w_weak, _ = pic.style(weak.grad)
    c_strong, w_strong, _ = pic.style(strong.grad)
    assert w_weak < w_strong
    assert c_weak != c_strong
    # Integer values (the argmax) carry no gradient and are not drawn; a loss node is.
    assert "value:%6" not in pic.nodes and "loss" in pic.nodes
    dot = rec.render(tmp_path / "g.gv").read_text()
    assert "cluster" in dot and "penwidth" in dot and R.colour(0.0) in dot


def test_folding_to_a_depth_merges_modules_and_their_edges(rec) -> None:
    full = R.picture_graph(rec)
    folded = R.picture_graph(rec, depth=0)
    assert {k for k in folded.nodes if k.startswith("module:")} == {"module:enc", "module:weak", "module:strong"}
    assert "value:%5" in folded.nodes and "value:%0" not in folded.nodes
    # The enc -> strong edge carries the gradient of the one IR edge %1 -> %3.
    e = next(e for e in folded.edges if (e.src, e.dst) == ("module:enc", "module:strong"))
    assert e.grad == pytest.approx(rec.edge_grad_norms()[("%1", "%3")])
    # depth=1 unfolds enc (level 1) but folds enc.fc (level 2).
    mid = R.picture_graph(rec, depth=1)
    assert "module:enc.fc" in mid.nodes and "value:%1" in mid.nodes
    assert len(full.nodes) >= len(mid.nodes) > len(folded.nodes)
    with_params = R.picture_graph(rec, show_params=True)
    assert "value:enc.fc.weight" in with_params.nodes


def test_bar_chart(rec, tmp_path: Path) -> None:
    out = rec.render_bars(tmp_path / "bars.png", depth=None)
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in rec.render_bars(tmp_path / "bars.svg", aggregate="outputs").read_text()
    with pytest.raises(GradError) as e:
        rec.render_bars(tmp_path / "bars.txt")
    assert e.value.diagnostics[0].code == "GS807"
    with pytest.raises(GradError) as e:
        rec.render(tmp_path / "g.bmp", engine="matplotlib")
    assert e.value.diagnostics[0].code == "GS807"


def test_render_before_backward_draws_uncoloured_edges(tmp_path: Path) -> None:
    module = gs.parse_ir(GRAPH)
    net = gs.lower(module)
    r = instrument(net, module)
    with pytest.raises(GradError):
        r.render(tmp_path / "none.png")  # nothing recorded at all
    with torch.no_grad():
        net(torch.randn(2, 8))
    pic = R.picture_graph(r)
    assert all(e.grad is None for e in pic.edges) and "no backward" in pic.title
    assert r.render(tmp_path / "fwd.png", engine="matplotlib").exists()


def test_every_result_of_a_multi_result_op_carries_the_edge_gradient(tmp_path: Path) -> None:
    text = """
graph S(x: f32[B, 6]) -> f32[B, 3] {
  %0: f32[B, 3], %1: f32[B, 3] = split(x, dim=1, sizes=[3, 3])
  %2: f32[B, 3] = mul(%0, %1)
  return %2
}
"""
    module = gs.parse_ir(text)
    net = gs.lower(module)
    r = instrument(net, module)
    net(torch.randn(2, 6)).pow(2).sum().backward()
    pic = R.picture_graph(r)
    grads = {(e.src, e.dst): e.grad for e in pic.edges}
    want = r.edge_grad_norms()[("x", "%0")]
    assert want > 0
    assert grads[("value:x", "value:%0")] == grads[("value:x", "value:%1")] == pytest.approx(want)
