"""Issue 3's property tests: the text form and the MLIR generic form round-trip on generated
modules, and graphsynth-opt does the MLIR round trip end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_budget import examples

from graphsynth.cli import emit, parse_mlir
from graphsynth.dialects import gs
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.passes.registry import PASSES, load_shipped_passes, run_pipeline
from graphsynth.testing.strategies import modules
from graphsynth.verifier import verify

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.gs")) + sorted((ROOT / "examples" / "llm").glob("*.gs"))
RT = settings(max_examples=examples(120), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def text_round_trip(m) -> str:
    """print -> parse -> print gives the same text, and the parsed module verifies."""
    text = print_ir(m)
    again = parse_ir(text, filename="rt.gs")
    assert verify(again) == [], text
    assert print_ir(again) == text
    return text


def mlir_round_trip(m) -> None:
    """What graphsynth-opt does: --emit=mlir prints with xDSL's generic printer (cli.emit), and a
    .mlir input is read by xDSL's parser (cli.parse_mlir); the result verifies and prints to the
    same gs text."""
    text = print_ir(m)
    generic = emit(m, "mlir")
    assert generic.startswith('"builtin.module"()')
    back = parse_mlir(generic, "rt.mlir")
    assert verify(back) == [], generic
    assert print_ir(back) == text
    # And the generic text itself is a fixed point.
    assert emit(back, "mlir") == generic


@RT
@given(modules(max_ops=12, derived_inputs=True))
def test_print_parse_round_trip(m):
    text_round_trip(m)


@RT
@given(modules(max_ops=8, names=False, max_modules=3))
def test_round_trip_with_printer_chosen_names(m):
    text = text_round_trip(m)
    assert "%t0" in text


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(max_ops=10, derived_inputs=True))
def test_mlir_generic_round_trip(m):
    mlir_round_trip(m)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(max_ops=8))
def test_round_trip_after_passes(m):
    """Pass outputs (fused regions, linear_act, calls...) round-trip too: whatever a pass can
    produce, the text form must hold."""
    load_shipped_passes()
    wanted = ["canonicalize", "fold-constants", "fuse-linear-activation", "fuse-elementwise"]
    pipeline = ",".join(p for p in wanted if p in PASSES)
    out = run_pipeline(m, pipeline)
    text_round_trip(out)
    mlir_round_trip(out)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip(path):
    m = parse_ir(path.read_text(), filename=str(path))
    assert verify(m) == []
    text_round_trip(m)
    mlir_round_trip(m)


def test_outlined_module_round_trips():
    load_shipped_passes()
    if "outline" not in PASSES:
        pytest.skip("no outline pass")
    m = parse_ir((ROOT / "examples" / "mlp.gs").read_text())
    out = run_pipeline(m, "outline{module=fc1}")
    assert len(gs.graph_ops(out)) == 2
    text_round_trip(out)
    mlir_round_trip(out)


def _opt() -> list[str]:
    exe = shutil.which("graphsynth-opt")
    return [exe] if exe else [sys.executable, "-m", "graphsynth.cli"]


def test_cli_mlir_round_trip_end_to_end(tmp_path):
    """graphsynth-opt examples/mlp.gs --emit=mlir > t.mlir; graphsynth-opt t.mlir prints the
    same gs text as graphsynth-opt examples/mlp.gs."""
    src = ROOT / "examples" / "mlp.gs"
    gs_text = subprocess.run([*_opt(), str(src)], capture_output=True, text=True, timeout=120)
    assert gs_text.returncode == 0, gs_text.stderr
    mlir = subprocess.run([*_opt(), str(src), "--emit=mlir"], capture_output=True, text=True, timeout=120)
    assert mlir.returncode == 0, mlir.stderr
    t = tmp_path / "t.mlir"
    t.write_text(mlir.stdout)
    back = subprocess.run([*_opt(), str(t)], capture_output=True, text=True, timeout=120)
    assert back.returncode == 0, back.stderr
    assert back.stdout == gs_text.stdout
    assert back.stdout == print_ir(parse_ir(src.read_text()))
    # --input=mlir reads the same text from stdin.
    piped = subprocess.run([*_opt(), "--input=mlir"], input=mlir.stdout, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == gs_text.stdout


def test_parsed_locations_are_the_locations_xdsl_builds():
    """The reader builds op locations without xDSL's parameter checks: each one is equal to,
    hashes like and verifies as the FileLineColLoc xDSL's constructor makes."""
    from xdsl.dialects.builtin import FileLineColLoc, IntAttr, StringAttr

    m = parse_ir((ROOT / "examples" / "mlp.gs").read_text(encoding="utf-8"), filename="mlp.gs")
    locs = [op.location for op in m.walk() if isinstance(op.location, FileLineColLoc)]
    assert len(locs) > 3
    for loc in locs:
        loc.verify()
        made = FileLineColLoc(StringAttr(loc.filename.data), IntAttr(loc.line.data), IntAttr(loc.column.data))
        assert made == loc and hash(made) == hash(loc) and str(made) == str(loc)
