"""``graphsynth-opt --view-op-graph`` (the IR graph as a picture, folded at any depth; DOT, SVG,
PNG with or without graphviz's ``dot``) and ``--timing``/``--mlir-timing`` (wall time per phase
and per pass, text and JSON)."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from fileio_util import GOOD, run

from graphsynth.grammar.parser import parse_ir
from graphsynth.passes.registry import run_pipeline
from graphsynth.query.opgraph import op_graph
from graphsynth.query.picture import PEdge, Picture, PictureError, PNode, dot_source, draw
from graphsynth.timing import Timer

ROOT = Path(__file__).resolve().parents[1]
MLP = ROOT / "examples" / "mlp.gs"
NESTED = """graph Net(x: f32[B, 8]) -> f32[B, 8] {
  param enc.fc.weight: f32[8, 8]
  module enc : Encoder {
    module enc.fc : Linear {
      %0: f32[B, 8] = linear(x, enc.fc.weight)
    }
    %1: f32[B, 8] = tanh(%0)
  }
  module head : Act {
    %2: f32[B, 8] = sigmoid(%1)
  }
  %3: f32[B, 8] = add(%1, %2)
  return %3
}
"""


def edges(pic: Picture) -> set[tuple[str, str]]:
    return {(e.src, e.dst) for e in pic.edges}


# -- the op graph ----------------------------------------------------------------------------------

def test_unfolded_graph_has_a_node_per_op_and_an_edge_per_dependency() -> None:
    pic = op_graph(parse_ir(NESTED))
    assert set(pic.nodes) == {"value:x", "op:0", "op:1", "op:2", "op:3", "return"}
    assert edges(pic) == {("value:x", "op:0"), ("op:0", "op:1"), ("op:1", "op:2"), ("op:1", "op:3"),
                          ("op:2", "op:3"), ("op:3", "return")}
    assert pic.nodes["op:0"].cluster == ["enc", "enc.fc"] and pic.nodes["op:3"].cluster == []
    assert pic.nodes["op:0"].label == "%0 = linear\nf32[B, 8]"


@pytest.mark.parametrize(
    "depth, want",
    [
        (0, {("value:x", "module:enc"), ("module:enc", "module:head"), ("module:enc", "op:3"),
             ("module:head", "op:3"), ("op:3", "return")}),
        (1, {("value:x", "module:enc.fc"), ("module:enc.fc", "op:1"), ("op:1", "op:2"), ("op:1", "op:3"),
             ("op:2", "op:3"), ("op:3", "return")}),
    ],
)
def test_folding_merges_modules_and_their_edges(depth: int, want: set[tuple[str, str]]) -> None:
    pic = op_graph(parse_ir(NESTED), depth)
    assert edges(pic) == want
    if depth == 1:
        assert pic.nodes["module:enc.fc"].cluster == ["enc"] and pic.nodes["module:enc.fc"].kind == "module"
        assert pic.nodes["module:enc.fc"].label == "enc.fc\nLinear"


def test_parameters_on_request_and_folded_with_their_module() -> None:
    m = parse_ir(NESTED)
    assert "value:enc.fc.weight" in op_graph(m, show_params=True).nodes
    folded = op_graph(m, 0, show_params=True)
    assert "value:enc.fc.weight" not in folded.nodes and ("module:enc", "module:enc") not in edges(folded)


def test_several_graphs_and_fused_regions() -> None:
    two = parse_ir(GOOD + GOOD.replace("graph M", "graph N"))
    pic = op_graph(two)
    assert {"M/return", "N/return", "M/value:x", "N/value:x"} <= set(pic.nodes)
    assert pic.nodes["N/op:0"].cluster == ["graph N"]
    fused = run_pipeline(parse_ir(NESTED), "fuse-elementwise")
    pic = op_graph(fused)
    names = [n.label.split("\n")[0] for n in pic.nodes.values()]
    assert any(n.endswith("= fused") for n in names), names
    assert all(any(e.dst == k for e in pic.edges) for k, n in pic.nodes.items() if n.kind != "input")


def test_dot_source_quotes_hostile_labels() -> None:
    nasty = 'a"b\\c\nd\x00e\x1b[31m}'
    pic = Picture({"k": PNode("k", nasty, "op", 0, None, ['clu"ster\\'])}, [], nasty, weighted=False, name='x"y')
    src = dot_source(pic)
    for line in src.splitlines():
        unescaped = re.sub(r'\\.', "", line)
        assert unescaped.count('"') % 2 == 0, line
    assert "\x00" not in src and "\x1b" not in src
    assert 'label="a\\"b\\\\c\\nde[31m}"' in src


def test_matplotlib_fallback_refuses_huge_pictures(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot`
    nodes = {f"n{i}": PNode(f"n{i}", str(i), "op", i, None) for i in range(30)}
    pic = Picture(nodes, [PEdge(f"n{i}", f"n{i + 1}", None) for i in range(29)], "t", weighted=False)
    with pytest.raises(PictureError) as e:
        draw(pic, tmp_path / "p.svg", max_matplotlib_nodes=10)
    assert e.value.diagnostics[0].code == "GS807" and ".dot" in e.value.diagnostics[0].fix
    assert not (tmp_path / "p.svg").exists()
    assert "n29" in draw(pic, tmp_path / "p.dot", max_matplotlib_nodes=10).read_text()


# -- --view-op-graph through the tool ---------------------------------------------------------------

def no_dot_env(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "emptybin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def test_view_op_graph_dot_and_depth(tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    r = run("opt", MLP, "--view-op-graph", out)
    assert r.returncode == 0 and r.stdout.startswith("graph MLP")
    full = out.read_text()
    assert full.startswith('digraph "ops"') and "cluster" in full and '"%1 = relu\\nf32[B, 256]"' in full
    assert full.count(" -> ") == 6  # x -> fc1's linear -> relu -> dropout -> fc2's linear -> mul -> return
    r = run("opt", MLP, "--view-op-graph", out, "--view-op-graph-depth", "0")
    folded = out.read_text()
    assert r.returncode == 0 and 'label="fc1\\nLinear"' in folded and "cluster" not in folded
    r = run("opt", MLP, "--view-op-graph", "-", "--depth", "0")
    assert r.stderr.startswith('digraph "ops"') and 'label="fc2\\nLinear"' in r.stderr
    assert "module fc2 : Linear(%2) -> (%3: f32[B, 10])" in r.stdout  # --depth folds the printed IR as well


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_view_op_graph_pictures_without_graphviz(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"g{suffix}"
    r = run("opt", MLP, "-p", "canonicalize", "--view-op-graph", out, extra_env=no_dot_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(magic) and out.stat().st_size > 2000


def test_view_op_graph_pipes_through_dot_when_installed(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {tmp_path}/stdin\nprintf "<svg>from dot</svg>"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "g.svg"
    r = run("opt", MLP, "--view-op-graph", out, extra_env={"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "<svg>from dot</svg>"
    assert "-Tsvg" in (tmp_path / "args").read_text()
    assert (tmp_path / "stdin").read_text().startswith('digraph "ops"')


def test_view_op_graph_is_not_drawn_for_a_failing_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gs"
    bad.write_text(GOOD.replace("param w: f32[4, 4]", "param w: f32[4, 5]"))
    out = tmp_path / "g.dot"
    r = run("opt", bad, "--view-op-graph", out)
    assert r.returncode == 1 and not out.exists()
    r = run("opt", MLP, "--view-op-graph", out, "--split-input-file")
    assert r.returncode == 2 and "--split-input-file" in r.stderr and not out.exists()


# -- --timing ----------------------------------------------------------------------------------------

ROW = re.compile(r"^  +(\d+\.\d{4}) \( *(\d+\.\d)%\)  ( *)(\S.*)$")


def rows(report: str) -> list[tuple[float, float, int, str]]:
    out = []
    for line in report.splitlines():
        m = ROW.match(line)
        if m:
            out.append((float(m[1]), float(m[2]), len(m[3]) // 2, m[4]))
    return out


@pytest.mark.parametrize("flag", ["--timing", "--mlir-timing"])
def test_timing_text_report(flag: str) -> None:
    r = run("opt", MLP, "-p", "canonicalize,cse,cse", flag)
    assert r.returncode == 0 and r.stdout.startswith("graph MLP")
    assert "... Execution time report ..." in r.stderr and "Total Execution Time:" in r.stderr
    got = rows(r.stderr)
    names = [(depth, name) for _, _, depth, name in got]
    assert names == [(0, "Read input"), (0, "Parse"), (0, "Verify"), (0, "Pipeline"), (1, "canonicalize"), (2, "Verify"),
                     (1, "cse"), (2, "Verify"), (1, "cse"), (2, "Verify"), (0, "Print"), (0, "Write output"),
                     (0, "Rest"), (0, "Total")]
    total = got[-1][0]
    top = [t for t, _, depth, name in got[:-1] if depth == 0]
    assert sum(top) == pytest.approx(total, abs=5e-4 * len(top))
    pipeline = next(t for t, _, d, n in got if n == "Pipeline")
    assert sum(t for t, _, d, n in got if d == 1) <= pipeline + 5e-4
    assert got[-1][1] == 100.0


def test_timing_json_report_and_split_input_file(tmp_path: Path) -> None:
    src = tmp_path / "s.gs"
    src.write_text(GOOD + "// -----\n" + GOOD.replace("graph M", "graph N"))
    r = run("opt", src, "--split-input-file", "-p", "cse", "--timing", "--mlir-output-format=json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stderr)
    names = [t["name"] for t in report["timers"]]
    assert names == ["Read input", "Parse", "Verify", "Pipeline", "Print", "Write output", "Rest"]
    pipeline = report["timers"][3]
    assert [p["name"] for p in pipeline["passes"]] == ["cse"]  # both chunks accumulate in one row
    assert [p["name"] for p in pipeline["passes"][0]["passes"]] == ["Verify"]
    total = report["total"]["wall"]["duration"]
    assert total > 0 and report["total"]["wall"]["percentage"] == 100.0
    assert sum(t["wall"]["duration"] for t in report["timers"]) == pytest.approx(total, abs=1e-4 * 8)


def test_timing_is_reported_for_a_failing_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gs"
    bad.write_text(GOOD.replace("param w: f32[4, 4]", "param w: f32[4, 5]"))
    r = run("opt", bad, "--timing")
    assert r.returncode == 1 and "GS301" in r.stderr
    assert [n for _, _, d, n in rows(r.stderr)] == ["Read input", "Parse", "Verify", "Rest", "Total"]


def test_timer_accumulates_and_nests() -> None:
    t = Timer()
    for _ in range(3):
        with t.phase("A"):
            with t.phase("B"):
                pass
    with t.phase("p", key=0), t.phase("Verify"):
        pass
    with t.phase("p", key=1):
        pass
    a = t.root.children["A"]
    assert list(a.children) == ["B"] and a.wall >= a.children["B"].wall
    assert [c.name for c in t.root.children.values()] == ["A", "p", "p"]
    text = t.report_text()
    assert text.count("\n    ") >= 0 and "Rest" in text and text.rstrip().endswith("Total")


def test_a_picture_that_cannot_be_drawn_leaves_the_output(tmp_path: Path) -> None:
    """A `dot` that fails: GS807, exit 2, and -o is not written either."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    fake.chmod(0o755)
    out, pic = tmp_path / "out.gs", tmp_path / "g.svg"
    out.write_text("old\n")
    r = run("opt", MLP, "-o", out, "--view-op-graph", pic, extra_env={"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"})
    assert r.returncode == 2 and "error[GS807]: graphviz 'dot' failed (exit 1): Error: syntax error" in r.stderr
    assert "Traceback" not in r.stderr and out.read_text() == "old\n" and not pic.exists()


def test_deeply_nested_clusters_are_written_without_recursion() -> None:
    """5,000 nested modules (beyond Python's recursion limit) and 500 leaves under the deepest:
    the source is written in time linear in the chains' lengths."""
    import time

    chain = [f"m{i}" for i in range(5000)]
    nodes = {f"k{j}": PNode(f"k{j}", str(j), "op", j, None, chain + [f"leaf{j}"]) for j in range(500)}
    t = time.perf_counter()
    src = dot_source(Picture(nodes, [], "deep", weighted=False))
    assert time.perf_counter() - t < 10
    assert src.count("subgraph cluster_") == 5000 + 500
    assert src.count("{") == src.count("}")
