"""The lit suite's ``graphsynth-opt`` (tests/filecheck/forkrun.py) behaves as the tool itself:
same stdout, stderr and exit status, stdin passed through, and without its server it runs the
tool directly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORKRUN = ROOT / "tests" / "filecheck" / "forkrun.py"
BAD = "graph G(x: f32[B]) -> f32[B] {\n  return y\n}\n"


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8")


def _client(sock: Path, args: list[str], stdin: str, cwd: Path) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-S", "-E", str(FORKRUN), "client", str(sock), *args], input=stdin, cwd=cwd,
                       env=_env(), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def _direct(args: list[str], stdin: str, cwd: Path) -> tuple[int, str, str]:
    p = subprocess.run([sys.executable, "-m", "graphsynth.cli", *args], input=stdin, cwd=cwd, env=_env(),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_forked_runs_equal_direct_runs(tmp_path: Path):
    (tmp_path / "bad.gs").write_text(BAD, encoding="utf-8")
    mlp = (ROOT / "examples" / "mlp.gs").read_text(encoding="utf-8")
    sock = tmp_path / "s.sock"
    server = subprocess.Popen([sys.executable, str(FORKRUN), "serve", str(sock), str(os.getpid())], env=_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sock.exists(), "the server did not start"
        cases = [(["bad.gs"], ""), (["-", "-p", "canonicalize,cse"], mlp), (["--bogus"], ""), (["-", "--emit=mlir"], mlp)]
        for args, stdin in cases:
            got = _client(sock, args, stdin, tmp_path)
            assert got == _direct(args, stdin, tmp_path), args
        assert _client(sock, ["bad.gs"], "", tmp_path)[0] == 1
    finally:
        sock.unlink(missing_ok=True)
        server.wait(timeout=30)  # it ends once its socket is gone
    # No server: the client runs the tool itself.
    assert _client(sock, ["bad.gs"], "", tmp_path) == _direct(["bad.gs"], "", tmp_path)
