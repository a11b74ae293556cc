"""Fix-its: which findings carry a machine-applicable edit, what --apply-fixes makes of the shipped
examples under single faults, and that applying edits never breaks the syntax."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsynth.diagnostics import MACHINE_APPLICABLE, TextEdit
from graphsynth.fixes import EditConflict, apply_diagnostics, apply_edits, check_text, repair
from graphsynth.testing.faults import KINDS, faults, mutations

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples" / "*.gs")) + glob.glob(str(ROOT / "examples" / "llm" / "*.gs")))

MLP = """graph MLP(x: f32[B, 784]) -> f32[B, 10] {
  param fc1.weight: f32[256, 784]
  param fc1.bias: f32[256]
  param fc2.weight: f32[10, 256]
  param fc2.bias: f32[10]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  }
  %1: f32[B, 256] = relu(%0)
  %3: f32[B, 10] = linear(%1, fc2.weight, fc2.bias)
  return %3
}
"""


def only(text: str):
    diags = check_text(text, "t.gs").diagnostics
    assert len(diags) == 1, [d.render() for d in diags]
    return diags[0]


def test_wrong_declared_result_is_replaced_by_the_inferred_type() -> None:
    d, downstream = check_text(MLP.replace("%1: f32[B, 256] = relu", "%1: f32[B, 255] = relu"), "t.gs").diagnostics
    assert not downstream.edits  # the linear reading %1 fails because of it
    assert d.code == "GS305" and d.applicability == MACHINE_APPLICABLE
    assert [(e.line, e.old, e.new) for e in d.edits] == [(9, "f32[B, 255]", "f32[B, 256]")]


def test_only_the_root_finding_is_repaired() -> None:
    """%0 declared wrong makes relu (which reads it) wrong too; repairing relu would bake the
    first error in, so only %0 carries an edit."""
    diags = check_text(MLP.replace("%0: f32[B, 256]", "%0: f32[B, 257]"), "t.gs").diagnostics
    assert [d.code for d in diags] == ["GS305", "GS305"]
    assert diags[0].machine_applicable and diags[0].edits[0].new == "f32[B, 256]"
    assert not diags[1].edits


def test_a_dim_that_must_equal_another_is_repaired_at_the_parameter() -> None:
    d = only(MLP.replace("fc1.weight: f32[256, 784]", "fc1.weight: f32[256, 785]"))
    assert d.code == "GS301" and d.machine_applicable
    assert [(e.line, e.old, e.new) for e in d.edits] == [(2, "f32[256, 785]", "f32[256, 784]")]


def test_wrong_normalized_shape_is_repaired_at_the_attribute() -> None:
    text = Path(ROOT / "examples" / "transformer_block.gs").read_text()
    bad = text.replace("normalized_shape=[64])", "normalized_shape=[65])", 1)
    d = only(bad)
    assert d.machine_applicable and [(e.old, e.new) for e in d.edits] == [("[65]", "[64]")]
    assert apply_diagnostics(bad, [d], "t.gs")[0] == text


def test_missing_parameter_is_declared_with_the_type_its_use_implies() -> None:
    d = only(MLP.replace("  param fc1.weight: f32[256, 784]\n", ""))
    assert d.code == "GS201" and d.machine_applicable
    (e,) = d.edits
    assert e.old == "" and e.new == "  param fc1.weight: f32[256, 784]\n"


def test_a_declaration_whose_uses_leave_a_dim_open_has_placeholders() -> None:
    """An embedding table's vocabulary size is nowhere in its use: the declaration says so."""
    text = (
        "graph E(ids: i64[B, S]) -> f32[B, S, 8] {\n"
        "  %0: f32[B, S, 8] = embedding(wte, ids)\n"
        "  return %0\n"
        "}\n"
    )
    d = only(text)
    assert d.code == "GS201" and d.applicability == "has-placeholders"
    assert d.edits[0].new == "  param wte: f32[<dim 0>, 8]\n"
    assert repair(text, "t.gs").changed is False


def test_typo_of_an_unused_name_is_renamed_at_every_use() -> None:
    d = only(MLP.replace("linear(x, fc1.weight", "linear(x, fc1.weihgt"))
    assert d.code == "GS201" and d.machine_applicable and [e.new for e in d.edits] == ["fc1.weight"]


def test_unknown_op_and_attribute_with_one_close_match() -> None:
    d = only(MLP.replace("= relu(%0)", "= rleu(%0)"))
    assert d.code == "GS207" and d.machine_applicable and d.edits[0].new == "relu"
    text = Path(ROOT / "examples" / "transformer_block.gs").read_text().replace("normalized_shape=", "normalised_shape=", 1)
    d = next(d for d in check_text(text, "t.gs").diagnostics if d.code == "GS209")
    assert d.machine_applicable and d.edits[0].new == "normalized_shape"


def test_ambiguous_repairs_are_not_machine_applicable() -> None:
    """A swapped transpose can be undone at either attribute: maybe-incorrect, not applied."""
    text = "graph G(x: f32[B, S, 4]) -> f32[B, 4, S] {\n  %0: f32[B, 4, S] = transpose(x, dim0=2, dim1=2)\n  return %0\n}\n"
    d = only(text)
    assert d.edits and d.applicability == "maybe-incorrect"
    assert repair(text, "t.gs").text == text


def test_signature_changes_are_maybe_incorrect() -> None:
    d = only(MLP.replace("-> f32[B, 10]", "-> f32[B, 11]"))
    assert d.code == "GS205" and d.applicability == "maybe-incorrect"
    assert repair(MLP.replace("-> f32[B, 10]", "-> f32[B, 11]"), "t.gs").changed is False


def test_apply_edits_refuses_stale_and_overlapping_edits() -> None:
    text = "abc\ndef\n"
    assert apply_edits(text, [TextEdit("f", 2, 1, 2, 2, "d", "D"), TextEdit("f", 1, 4, 1, 4, "", "!")]) == "abc!\nDef\n"
    with pytest.raises(EditConflict):
        apply_edits(text, [TextEdit("f", 1, 1, 1, 2, "x", "y")])
    with pytest.raises(EditConflict):
        apply_edits(text, [TextEdit("f", 1, 1, 1, 3, "ab", "y"), TextEdit("f", 1, 2, 1, 4, "bc", "z")])


def test_valid_modules_come_back_unchanged() -> None:
    for path in EXAMPLES:
        text = Path(path).read_text()
        r = repair(text, path)
        assert r.ok and not r.changed and r.text == text


def _repair_rates(per_kind: int | None, seed: int = 0) -> tuple[Counter[str], Counter[str]]:
    total: Counter[str] = Counter()
    fixed: Counter[str] = Counter()
    for path in EXAMPLES:
        for f in faults(Path(path).read_text(), seed=seed, per_kind=per_kind):
            before = check_text(f.text, "m.gs")
            r = repair(f.text, "m.gs", checked=before)
            assert r.checked.score() <= before.score(), f"{path}: {f.description}: the repair made it worse"
            total[f.kind] += 1
            fixed[f.kind] += r.ok
    return total, fixed


def test_apply_fixes_repairs_most_single_faults_of_the_examples() -> None:
    """A seeded sample of each fault kind per example (all of them: tests/test_fixes.py -m slow,
    and the table: bench/fixits.py); at least 80% come back verifying."""
    total, fixed = _repair_rates(per_kind=4)
    assert set(total) == set(KINDS)
    rate = sum(fixed.values()) / sum(total.values())
    assert rate >= 0.8, (fixed, total)


@pytest.mark.slow
def test_apply_fixes_repairs_most_single_faults_exhaustively() -> None:
    total, fixed = _repair_rates(per_kind=None)
    assert sum(fixed.values()) / sum(total.values()) >= 0.8, (fixed, total)


_MUTANTS = [f.text for path in EXAMPLES for f in mutations(Path(path).read_text())]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_MUTANTS))
def test_machine_applicable_edits_never_break_the_syntax(text: str) -> None:
    """Whatever a mutant is, its machine-applicable edits (all of them at once, as they fit) give
    text that parses, or that fails only for names (GS2xx), never for syntax (GS1xx)."""
    before = check_text(text, "m.gs")
    new_text, taken = apply_diagnostics(text, before.diagnostics, "m.gs")
    after = check_text(new_text, "m.gs")
    if after.module is None:
        assert all(not d.code.startswith("GS1") for d in after.errors), [d.render() for d in after.errors]
        assert before.module is None  # text that parsed keeps parsing


def run_opt(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graphsynth.cli", *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_cli_apply_fixes_writes_the_repaired_text(tmp_path: Path) -> None:
    src = tmp_path / "m.gs"
    src.write_text(MLP.replace("  param fc1.bias: f32[256]\n", "").replace("= relu(%0)", "= rleu(%0)"))
    out = tmp_path / "out.gs"
    r = run_opt(str(src), "--apply-fixes", "-o", str(out))
    assert r.returncode == 0, r.stderr
    fixed = out.read_text()
    assert "rleu" not in fixed and "param fc1.bias: f32[256]" in fixed and check_text(fixed, "x").module is not None


def test_cli_apply_fixes_leaves_the_output_alone_when_nothing_improves(tmp_path: Path) -> None:
    src = tmp_path / "m.gs"
    src.write_text(MLP.replace("-> f32[B, 10]", "-> f32[B, 11]"))
    out = tmp_path / "out.gs"
    out.write_text("keep me\n")
    r = run_opt(str(src), "--apply-fixes", "-o", str(out), "--diagnostics=json")
    assert r.returncode == 1 and out.read_text() == "keep me\n"
    (d,) = json.loads(r.stderr)
    assert d["code"] == "GS205" and d["applicability"] == "maybe-incorrect" and d["edits"][0]["new"] == "f32[B, 10]"


def test_cli_apply_fixes_reports_what_remains(tmp_path: Path) -> None:
    src = tmp_path / "m.gs"
    src.write_text(MLP.replace("-> f32[B, 10]", "-> f32[B, 11]").replace("= relu(%0)", "= rleu(%0)"))
    r = run_opt(str(src), "--apply-fixes")
    assert r.returncode == 1 and "GS510" in r.stderr and "GS205" in r.stderr
    assert "relu(%0)" in r.stdout  # the better text is written, the signature left to a person


def test_cli_apply_fixes_usage() -> None:
    r = run_opt("--apply-fixes", "--split-input-file", "-", stdin=MLP)
    assert r.returncode == 2 and "--apply-fixes" in r.stderr


def test_locating_fixes_compiles_no_pattern_per_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of wrong ops, each with its own result name: the spans their fix-its replace are
    found without compiling a pattern per name (Python's pattern cache holds 512, so that made
    every diagnostic past the 512th pay a compilation), and every one still gets its edit."""
    import re as re_module

    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    n = 2000
    text = "graph G(x: f32[B, 4]) -> f32[B, 5] {\n" + "".join(f"  %{k}: f32[B, 5] = relu(x)\n" for k in range(n)) + "  return %0\n}\n"
    m = parse_ir(text, "flood.gs")
    compiled: list[object] = []
    real = re_module._compile

    def spy(pattern: object, flags: object) -> object:
        compiled.append(pattern)
        return real(pattern, flags)

    monkeypatch.setattr(re_module, "_compile", spy)
    diags = verify(m)
    monkeypatch.undo()
    assert len(diags) == n
    assert all(d.edits and d.edits[0].new == "f32[B, 4]" for d in diags)
    assert len(compiled) < 50, compiled[:5]
