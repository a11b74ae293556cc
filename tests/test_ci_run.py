"""``.ci/run`` runs the README's test command: it finds the same line a reader sees, and the
command fails (exit 5) when pytest collects nothing instead of going on to lit."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from docs_snippets import ROOT, all_blocks

CI = ROOT / ".ci" / "run"


def _readme_test_command() -> str:
    lines = [
        line
        for b in all_blocks()
        if b.doc.name == "README.md" and b.kind == "bash"
        for line in b.code.splitlines()
        if "pytest" in line
    ]
    assert len(lines) == 1, f"README.md should show one test command, found {lines}"
    return lines[0]


def test_ci_extracts_the_readme_test_command():
    out = subprocess.run(["bash", str(CI), "--print-command"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cmd = out.stdout.strip()
    assert cmd == _readme_test_command()
    # It installs the pinned CPU torch first, then the dev extra, then runs both suites.
    assert re.match(r"pip install (--no-compile )?torch==", cmd) and re.search(r"pip install (--no-compile )?-e '\.\[dev\]'", cmd)
    assert cmd.index("torch==") < cmd.index("[dev]") < cmd.index("pytest")
    assert "python -m pytest" in cmd and "lit " in cmd and "tests/filecheck" in cmd


def test_readme_pytest_flags_come_from_the_dev_extra():
    cmd = _readme_test_command()
    pyproject = (ROOT / "pyproject.toml").read_text()
    dev = pyproject.split("dev = [", 1)[1].split("]", 1)[0]
    if " -n " in cmd:
        assert '"pytest-xdist' in dev, "the test command uses -n: pytest-xdist must be in the dev extra"


def test_no_tests_collected_fails_the_command(tmp_path: Path):
    """pip and lit stand-ins record that they ran; the python stand-in exits as pytest does when
    it collects nothing (5).  The command as written must stop there with 5."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ran.log"
    for tool, code in (("pip", 0), ("python", 5), ("lit", 0)):
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\nexit {code}\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", _readme_test_command()], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 5
    ran = log.read_text().splitlines()
    assert [r.split()[0] for r in ran] == ["pip", "pip", "python"], ran
