"""Running the command-line tools as real processes under real failure conditions: a file-size
limit (RLIMIT_FSIZE), no permission to write or read (with root's override capabilities dropped
when the suite runs as root, so that a chmod means what it says), signals."""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"opt": "graphsynth.cli", "import": "graphsynth.frontend.cli", "query": "graphsynth.query.cli"}
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def env() -> dict[str, str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop("GRAPHSYNTH_READ_LIMIT", None)
    return e


def command(tool: str, *args: str) -> list[str]:
    return [sys.executable, "-m", TOOLS[tool], *map(str, args)]


def run(tool: str, *args: str, preexec: Callable[[], None] | None = None, stdin: bytes | None = None,
        extra_env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    e = env()
    e.update(extra_env or {})
    p = subprocess.run(command(tool, *args), input=stdin, capture_output=True, env=e, cwd=cwd or ROOT,
                       preexec_fn=preexec, timeout=timeout)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
                                       p.stderr.decode("utf-8", "replace"))


def file_size_limit(nbytes: int) -> Callable[[], None]:
    """A preexec function: writes beyond ``nbytes`` fail with EFBIG (Python ignores SIGXFSZ)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


def _drop_override() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def unprivileged() -> Callable[[], None] | None:
    """A preexec function under which permission bits hold: root's DAC override capabilities are
    dropped from the bounding set before exec (None when not root: nothing to drop)."""
    if os.geteuid() != 0:
        return None
    probe = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_drop_override, capture_output=True)
    if probe.returncode != 0:  # pragma: no cover - a container without CAP_SETPCAP
        pytest.skip("running as root without the capability to drop DAC override")
    return _drop_override


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    """Files in ``folder`` other than ``keep`` (temporary files a failed write left behind)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


GOOD = """graph M(x: f32[B, 4]) -> f32[B, 4] {
  param w: f32[4, 4]
  %0: f32[B, 4] = linear(x, w)
  %1: f32[B, 4] = relu(%0)
  return %1
}
"""
BAD = GOOD.replace("param w: f32[4, 4]", "param w: f32[4, 5]")


def chain(n_ops: int, name: str = "Big") -> str:
    """A straight chain of ``n_ops`` relus: big enough to take seconds to read and verify."""
    lines = [f"graph {name}(x: f32[B, 4]) -> f32[B, 4] {{"]
    prev = "x"
    for i in range(n_ops):
        lines.append(f"  %{i}: f32[B, 4] = relu({prev})")
        prev = f"%{i}"
    lines.append(f"  return {prev}")
    lines.append("}")
    return "\n".join(lines) + "\n"
