"""examples/custom_pass.py, the example of docs/writing-passes.md: its self-test passes (the pass
is sound, the wrong pattern is caught), its FileCheck test passes, and it works as a private
graphsynth-opt with one more pass."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "custom_pass.py"
FILECHECK_INPUT = ROOT / "examples" / "custom_pass.gs"
DOC = ROOT / "docs" / "writing-passes.md"


def _load():
    name = "graphsynth_example_custom_pass"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_self_test_passes_and_catches_the_wrong_pattern():
    report = _load().self_test(max_examples=20)
    assert "pattern WrongSwapReluNeg is unsound" in report
    example = report.split("counter-example (shrunk by hypothesis):\n")[1].split("\n\n")[0]
    assert re.findall(r"= (\w+)\(", example) == ["neg", "relu"], example


def test_pass_is_registered_with_its_summary():
    from graphsynth.passes.registry import PASSES, pass_summary

    _load()
    assert "simplify-activations" in PASSES
    assert pass_summary("simplify-activations").startswith("Collapse relu(relu(x))")


def _run_line() -> list[list[str]]:
    """The RUN line of the FileCheck input, with lit's substitutions done by hand."""
    line = next(x for x in FILECHECK_INPUT.read_text().splitlines() if x.startswith("// RUN:"))
    cmd = line.removeprefix("// RUN:").strip()
    cmd = (
        cmd.replace("%python", sys.executable)
        .replace("%examples", str(ROOT / "examples"))
        .replace("%s", str(FILECHECK_INPUT))
    )
    left, right = cmd.split("|")
    right = right.replace("filecheck", f"{sys.executable} -m filecheck", 1)
    return [left.split(), right.split()]


def test_filecheck_test_of_the_example():
    producer, checker = _run_line()
    out = subprocess.run(producer, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    check = subprocess.run(checker, input=out.stdout, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert check.returncode == 0, check.stderr + check.stdout
    # FileCheck fails on the output without the pass: the test tests something.
    plain = subprocess.run(
        [p for p in producer if not p.startswith("-p") and p != "simplify-activations"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert plain.returncode == 0 and "relu(%0)" in plain.stdout
    unchanged = subprocess.run(checker, input=plain.stdout, capture_output=True, text=True, timeout=120)
    assert unchanged.returncode != 0


def test_private_opt_tool_lists_the_pass_and_rejects_bad_options():
    helped = subprocess.run([sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "simplify-activations" in helped.stdout
    bad = subprocess.run(
        [sys.executable, str(EXAMPLE), str(FILECHECK_INPUT), "-p", "simplify-activations{depth=2}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "GS404" in bad.stderr


def test_docs_walk_through_the_example():
    text = DOC.read_text()
    for needle in (
        "RewritePattern",
        "@register",
        "run_pipeline",
        "graphsynth-opt",
        "FileCheck",
        "assert_rewrite_sound",
        "strategies.modules",
        "examples/custom_pass.py",
        "counter-example",
    ):
        assert needle in text, needle
    # Every Python block in the guide at least compiles.
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        compile(block, "writing-passes.md", "exec")
