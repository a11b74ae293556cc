"""lit configuration of the FileCheck tests of ``graphsynth-opt``.

Run from the repository root with ``lit -v tests/filecheck``.  The tools resolve from the Python
environment that runs lit (``sys.executable``), not from PATH, so the suite runs the same in a
fresh virtual environment, with graphsynth installed or straight from the checkout:

- ``graphsynth-opt`` -> ``python -m graphsynth.cli`` (the checkout is put on PYTHONPATH),
- ``filecheck``      -> ``python -m filecheck`` (the ``filecheck`` package, a FileCheck clone),
- ``not``            -> lit's built-in (inverts the exit status: ``not graphsynth-opt bad.gs``).

Temporary files (``%t``) go to a directory outside the source tree, one per checkout (several
checkouts' suites may run at once on one machine and must not share ``%t`` files).
"""

from __future__ import annotations

import atexit
import compileall
import hashlib
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

import lit.formats

# `config` is injected by lit.
config = globals()["config"]  # noqa: F821 - keeps linters quiet about the injected name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = shlex.quote(sys.executable)

config.name = "graphsynth"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".gs", ".mlir"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
_CHECKOUT = hashlib.sha256(ROOT.encode("utf-8", "surrogateescape")).hexdigest()[:12]
config.test_exec_root = os.path.join(
    tempfile.gettempdir(), f"graphsynth-lit-{os.getuid() if hasattr(os, 'getuid') else 0}-{_CHECKOUT}"
)
config.excludes = ["Inputs", "lit.cfg.py", "forkrun.py"]


def _graphsynth_opt() -> str:
    """The command a RUN line's ``graphsynth-opt`` stands for: a client of forkrun.py's server
    (started here, once), which forks each run from a process that has imported the tool;
    ``python -m graphsynth.cli`` itself with GRAPHSYNTH_LIT_FORK=0."""
    if os.environ.get("GRAPHSYNTH_LIT_FORK") == "0" or not hasattr(socket, "send_fds"):
        return f"{PYTHON} -m graphsynth.cli"
    os.makedirs(config.test_exec_root, exist_ok=True)
    sock = os.path.join(config.test_exec_root, "graphsynth-opt.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    env = {**os.environ, **config.environment}
    subprocess.Popen([sys.executable, _FORKRUN, "serve", sock, str(os.getpid())], env=env, cwd=ROOT,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    atexit.register(lambda: os.path.exists(sock) and os.unlink(sock))
    deadline = time.monotonic() + 30
    while not os.path.exists(sock) and time.monotonic() < deadline:  # the client falls back meanwhile anyway
        time.sleep(0.02)
    return f"{PYTHON} -S -E {shlex.quote(_FORKRUN)} client {shlex.quote(sock)}"


_FORKRUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkrun.py")

# A word on its own (not part of a path or a longer name), so that `%s` paths under
# tests/filecheck/ are never rewritten.
_WORD = r"(?<![\w/.-]){}(?![\w/.-])"
config.substitutions.append((_WORD.format("filecheck"), f"{PYTHON} -m filecheck"))
config.substitutions.append(("%examples", os.path.join(ROOT, "examples")))
config.substitutions.append(("%python", PYTHON))

pythonpath = [ROOT] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
config.environment["PYTHONPATH"] = os.pathsep.join(pythonpath)
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"
# ... but read: the package is compiled once here, so that the tool runs (one per RUN line) do not
# each compile it from source (compileall writes regardless of PYTHONDONTWRITEBYTECODE).
compileall.compile_dir(os.path.join(ROOT, "graphsynth"), quiet=2)
# Diagnostics and output must not depend on the caller's locale or terminal.
config.environment["LC_ALL"] = "C.UTF-8"
config.environment["PYTHONIOENCODING"] = "utf-8"
config.substitutions.append((_WORD.format("graphsynth-opt"), _graphsynth_opt()))
