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

import os

_WORKERS = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
if _WORKERS:
    _share = str(max(1, (os.cpu_count() or 1) // max(1, int(_WORKERS))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, _share)
