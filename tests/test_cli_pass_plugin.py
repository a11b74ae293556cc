"""``graphsynth-opt --load-pass-plugin``: a user's file or module that registers passes is imported
before the command line is read (its passes run with -p and show in --help); a plugin that is
missing, does not compile or raises is one usage-error line naming it and where, exit 2, never a
traceback.  The FileCheck side is tests/filecheck/cli/pass-plugin.gs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GS = "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = neg(x)\n  %1: f32[B, 4] = neg(%0)\n  return %1\n}\n"

PLUGIN = '''
from dataclasses import dataclass

from xdsl.passes import ModulePass

from graphsynth.passes.builtin import apply_patterns
from graphsynth.passes.registry import register
from helper_patterns import CancelNeg  # a file beside the plugin


@register
@dataclass(frozen=True)
class DropNegPairs(ModulePass):
    """Cancel neg(neg(x))."""

    name = "drop-neg-pairs"

    def apply(self, ctx, op):
        apply_patterns(op, (CancelNeg,), self.name)
'''

HELPER = '''
from xdsl.pattern_rewriter import RewritePattern

from graphsynth.dialects import gs


class CancelNeg(RewritePattern):
    def match_and_rewrite(self, op, rewriter):
        if isinstance(op, gs.OPS["neg"]) and isinstance(op.operands[0].owner, gs.OPS["neg"]):
            rewriter.replace(op, [], [op.operands[0].owner.operands[0]])
'''


def _opt(*args: str, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    paths = [str(ROOT)] + ([str(extra_path)] if extra_path else [])
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run([sys.executable, "-m", "graphsynth.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    (tmp_path / "neg_plugin.py").write_text(PLUGIN)
    (tmp_path / "helper_patterns.py").write_text(HELPER)
    (tmp_path / "in.gs").write_text(GS)
    return tmp_path


def test_plugin_by_path_runs_and_is_listed(plugin_dir: Path):
    out = _opt("--load-pass-plugin", str(plugin_dir / "neg_plugin.py"), "in.gs", "-p", "drop-neg-pairs", cwd=plugin_dir)
    assert out.returncode == 0, out.stderr
    assert "neg(" not in out.stdout and "return x" in out.stdout
    helped = _opt("--load-pass-plugin", "neg_plugin.py", "--help", cwd=plugin_dir)
    assert helped.returncode == 0 and "drop-neg-pairs" in helped.stdout and "Cancel neg(neg(x))." in helped.stdout


def test_plugin_by_module_name(plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    out = _opt("--load-pass-plugin", "neg_plugin", str(plugin_dir / "in.gs"), "-p", "drop-neg-pairs", cwd=elsewhere, extra_path=plugin_dir)
    assert out.returncode == 0, out.stderr
    assert "return x" in out.stdout


def test_without_the_plugin_the_pass_is_unknown(plugin_dir: Path):
    out = _opt("in.gs", "-p", "drop-neg-pairs", cwd=plugin_dir)
    assert out.returncode == 2 and "GS404" in out.stderr


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import math\nx = 1 / 0\n", "raised ZeroDivisionError: division by zero at {path}:2"),
        ("def broken(:\n", "raised SyntaxError"),
        ("import no_such_module_for_a_plugin\n", "raised ModuleNotFoundError: No module named 'no_such_module_for_a_plugin' at {path}:1"),
        ("import sys\nsys.exit(3)\n", "raised SystemExit: 3 at {path}:2"),
    ],
)
def test_a_failing_plugin_is_one_usage_error_line(tmp_path: Path, source: str, expected: str):
    path = tmp_path / "bad_plugin.py"
    path.write_text(source)
    (tmp_path / "in.gs").write_text(GS)
    out = _opt("--load-pass-plugin", str(path), "in.gs", cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"graphsynth-opt: error: --load-pass-plugin: '{path}' "), out.stderr
    assert expected.format(path=path) in lines[0]
    assert out.stdout == ""


def test_missing_plugin_file_is_a_usage_error(tmp_path: Path):
    (tmp_path / "in.gs").write_text(GS)
    out = _opt("--load-pass-plugin", "missing/plugin.py", "in.gs", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == "graphsynth-opt: error: --load-pass-plugin: no such file 'missing/plugin.py'"
