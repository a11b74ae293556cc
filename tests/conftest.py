"""Settings every test process shares, the pytest-xdist workers (``pytest -n auto``) included.

Threads: torch starts one intra-op thread per core in every process.  With one xdist worker per
core that is cores² threads, and OpenMP threads spin while they wait for each other: on two
cores a one-second test took minutes.  Each worker gets its share of the cores instead; the
variables are read when torch is first imported (after this file) and are inherited by the tools
the tests start as subprocesses.  A value set by the caller is kept.

Everything else a test writes goes to its own ``tmp_path`` or a ``mkdtemp`` directory, servers
bind port 0 on 127.0.0.1, and hypothesis' example database is a directory that several processes
may share, so the workers need nothing more.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path

from hypothesis import settings
from hypothesis_budget import CI, FULL

_WORKERS = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
if _WORKERS:
    _share = str(max(1, (os.cpu_count() or 1) // max(1, int(_WORKERS))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, _share)

# Hypothesis: the ``ci`` profile (the default) draws a third of each property test's examples,
# ``full`` all of them (see tests/hypothesis_budget.py).
settings.register_profile(CI, settings())
settings.register_profile(FULL, settings())
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", CI))


# -- order: the long tests first, handed out one at a time -----------------------------------------
# With ``-n`` pytest-xdist's load scheduling hands each worker a run of consecutive tests (by
# default a quarter of its share at the start, then large batches).  Long tests next to each
# other in one run keep one worker busy with all of them, and a long test handed out last keeps
# one worker busy while the other waits.  So the tests marked ``long`` (each a minute or more of a
# core: a whole document's session, a real model's export, a killed and resumed search) come
# first, and the workers take tests a few at a time (``--maxschedchunk 1``, unless given), each
# taking the next test when it is free: the long tests spread over the workers, and the many
# short ones fill in behind them so that the workers end together.


# -- bytecode: cached -------------------------------------------------------------------------------
# Many tests start the tools as subprocesses (the CLI, the docs' commands, the lit suite after
# pytest), and the README installs with ``pip install --no-compile`` (compiling all ~27k files of
# the environment's packages is half the install; the tests import a fraction of them).  So the
# session lets Python cache the bytecode of what is imported, where PYTHONDONTWRITEBYTECODE would
# forbid it: the variable is dropped here, before the workers start, for the whole session (the
# workers, the tools they start, and pytest's rewritten test modules).  Otherwise every process
# would compile torch and graphsynth from source again.  graphsynth, the tests, the examples and
# the benches are compiled up front (compileall -j0) so that the first tools do not race for them.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
    sys.dont_write_bytecode = False
_ROOT = Path(__file__).resolve().parents[1]
_COMPILED = ("graphsynth", "tests", "examples", "bench")


def _compile_bytecode() -> None:
    for folder in _COMPILED:
        compileall.compile_dir(_ROOT / folder, quiet=2, workers=0)


def pytest_configure(config):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _compile_bytecode()
    config.addinivalue_line("markers", "long: takes a minute or more of a core; run first, spread over the workers")
    if getattr(config.option, "maxschedchunk", 0) is None:  # pytest-xdist's option, not given
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: otherwise as collected
