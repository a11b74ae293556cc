"""Executors: where trainings run.  They decide only *where*: the job (task snapshot, IR text,
hyper-parameters, seed) and the trainer are the same everywhere, so a run gives the same archive
on either executor.

- :class:`ProcessExecutor` (default): ``workers`` long-lived processes (one torch thread each)
  fed one job at a time over pipes, forked from a multiprocessing forkserver that has imported
  torch and the trainer (spawned where the platform has no forkserver).  A worker that passes
  its job's hard deadline (the task's time cap x 1.5 + 30 s, plus start-up time for a fresh
  worker) or whose resident memory grows by more than twice the task's memory cap plus 512 MiB
  is killed and replaced, and the job is recorded as failed (GS912 / GS911; memory is measured
  above the worker's size once torch is imported); a worker that dies (segfault, OOM killer) is
  recorded as GS913.
- :class:`RayExecutor` (``executor="ray"``, extra ``graphsynth[ray]``): one Ray task per job
  (``num_cpus=1``, no retries).  A cluster that is already initialised is used as it is;
  otherwise ``ray.init(address=...)`` attaches to ``address`` (or ``$RAY_ADDRESS``), or starts a
  local one with ``num_cpus=workers``, no dashboard, bound to 127.0.0.1.  Ray's own access
  control cannot be relied on (see docs/synthesis.md): a cluster spanning machines belongs on a
  private network.  Jobs past their deadline are cancelled (``ray.cancel(force=True)``) and
  recorded as GS912.

``submit(job)`` queues a training, ``poll(timeout)`` returns the ``(job, result_dict, worker)``
of the trainings that finished (in any order), ``pending()`` counts those not yet returned; the
loop submits each candidate as soon as it is judged, so proposing overlaps training.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphsynth.diagnostics import error
from graphsynth.synth.archive import synth_error

STARTUP_GRACE_S = 90.0
WATCHDOG_SLACK_MB = 512


@dataclass
class Job:
    cid: int
    task: dict[str, Any]
    ir: str
    hp: dict[str, Any]
    seed: int

    @property
    def deadline_s(self) -> float:
        return float(self.task["budget"]["time_per_candidate_s"]) * 1.5 + 30.0

    def payload(self) -> dict[str, Any]:
        return {"cid": self.cid, "task": self.task, "ir": self.ir, "hp": self.hp, "seed": self.seed}


def failure(code: str, message: str) -> dict[str, Any]:
    return {"status": "failed", "metrics": {}, "curve": [], "diagnostics": [error(code, message).to_dict()], "timings": {}}


def run_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Train one job in this process (what every worker runs)."""
    import torch

    from graphsynth.train.tasks import Task
    from graphsynth.train.trainer import train_candidate

    torch.set_num_threads(1)
    task = Task.from_dict(payload["task"])
    try:
        return train_candidate(task, payload["ir"], payload["hp"], payload["seed"]).to_dict()
    except Exception as e:  # noqa: BLE001 - the trainer reports failures itself; this is a last guard
        return failure("GS913", f"the worker raised {type(e).__name__}: {str(e)[:300]}")


def _warm_up(task: dict[str, Any] | None) -> None:
    """Load what every job needs (torch, the task's data, the lowering machinery) once, at start."""
    import torch

    torch.set_num_threads(1)
    if task is None:
        return
    import graphsynth as gs
    from graphsynth.train.tasks import Task

    try:
        t = Task.from_dict(task)
        t.dataset()
        gs.lower(t.seed_module())
    except Exception:  # noqa: BLE001 - a job will report the same problem with its diagnostic
        pass


def _worker_main(conn: Any, warm: dict[str, Any] | None = None) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the loop, which stops the workers
    _warm_up(warm)

    conn.send(("ready", _rss_bytes(os.getpid())))
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is None:
            return
        conn.send(run_job(payload))


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# What the forkserver imports before it forks a worker: everything a training needs (torch._dynamo
# comes with the first optimizer).  Only imports: the server runs nothing, so no thread pool
# exists when it forks.
WORKER_PRELOAD = ("torch", "torch._dynamo", "graphsynth.train.trainer", "graphsynth.synth.executors")


def _worker_context() -> Any:
    """Workers forked from a forkserver that has imported torch once: a new or replaced worker is
    ready in milliseconds instead of the seconds of importing torch again (spawn, where the
    platform has no forkserver)."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    return ctx


class _Worker:
    def __init__(self, ctx: Any, index: int, warm: dict[str, Any] | None = None):
        self.index = index
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, warm), daemon=True, name=f"graphsynth-synth-worker-{index}")
        self.proc.start()
        child.close()
        self.job: Job | None = None
        self.deadline = 0.0
        self.fresh = True
        self.baseline: int | None = None  # resident memory once torch is imported

    def send(self, job: Job) -> None:
        self.job = job
        self.deadline = time.monotonic() + job.deadline_s + (STARTUP_GRACE_S if self.fresh else 0.0)
        self.fresh = False
        self.conn.send(job.payload())

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    @property
    def name(self) -> str:
        return f"process-{self.index}:{self.proc.pid}"


class ProcessExecutor:
    name = "process"

    def __init__(self, workers: int, memory_cap_mb: int | None = None, warm: dict[str, Any] | None = None):
        self.ctx = _worker_context()
        self.workers = max(1, workers)
        # a hard guard above the trainer's own estimate: twice the cap, plus room for the libraries a
        # job imports after start-up (data loaders, torch.fx)
        self.memory_cap = (memory_cap_mb * 2 + WATCHDOG_SLACK_MB) * 2**20 if memory_cap_mb else None
        self.pool: list[_Worker] = []
        self.queue: list[Job] = []
        self.busy: dict[Any, _Worker] = {}
        self._spawned = 0
        self.warm = warm
        # every worker starts (and warms up) at once, in parallel with the first proposals
        self.pool = [self._spawn() for _ in range(self.workers)]

    def _spawn(self) -> _Worker:
        w = _Worker(self.ctx, self._spawned, self.warm)
        self._spawned += 1
        return w

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self.pool[self.pool.index(w)] = self._spawn()

    def submit(self, job: Job) -> None:
        self.queue.append(job)
        self._dispatch()

    def pending(self) -> int:
        return len(self.queue) + len(self.busy)

    def _dispatch(self) -> None:
        for w in list(self.pool):
            if w.job is None and self.queue:
                job = self.queue.pop(0)
                try:
                    w.send(job)
                except (OSError, EOFError):
                    idx = self.pool.index(w)
                    self._replace(w)
                    w = self.pool[idx]
                    w.send(job)
                self.busy[w.conn] = w

    def poll(self, timeout: float) -> list[tuple[Job, dict[str, Any], str]]:
        """Results that landed within ``timeout`` seconds (deadlines and memory are checked too)."""
        from multiprocessing.connection import wait

        out: list[tuple[Job, dict[str, Any], str]] = []
        self._dispatch()
        if not self.busy:
            return out
        for conn in wait(list(self.busy), timeout=timeout):
            w = self.busy.pop(conn)
            job = w.job
            assert job is not None
            try:
                result = conn.recv()
                if isinstance(result, tuple) and result[0] == "ready":
                    w.baseline = int(result[1])
                    self.busy[conn] = w
                    continue
            except (EOFError, OSError):
                code = w.proc.exitcode
                self._replace(w)
                result = failure("GS913", f"the worker died while training (exit code {code})")
            w.job = None
            out.append((job, result, w.name))
        now = time.monotonic()
        for conn, w in list(self.busy.items()):
            reason = None
            if now > w.deadline:
                reason = failure("GS912", f"training passed its hard deadline of {w.job.deadline_s:g} s; the worker was stopped")
            elif self.memory_cap and w.baseline is not None and _rss_bytes(w.proc.pid) > w.baseline + self.memory_cap:
                reason = failure("GS911", f"the worker's memory grew past {self.memory_cap / 2**20:.0f} MiB over its "
                                 "start-up size; it was stopped")
            if reason is not None:
                self.busy.pop(conn)
                job = w.job
                assert job is not None
                name = w.name
                self._replace(w)
                out.append((job, reason, name))
        self._dispatch()
        return out

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, dict[str, Any], str]]:
        for job in jobs:
            self.submit(job)
        while self.pending():
            yield from self.poll(0.5)

    def close(self) -> None:
        for w in self.pool:
            try:
                w.conn.send(None)
            except (OSError, EOFError):
                pass
        for w in self.pool:
            w.proc.join(2)
            w.kill()
        self.pool, self.queue, self.busy = [], [], {}


def _ray_train(payload: dict[str, Any]) -> dict[str, Any]:
    return run_job(payload)


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise synth_error("GS917", "executor 'ray' needs Ray", fix="pip install 'graphsynth[ray]'") from None
        self.ray = ray
        self.owned = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                # a local cluster listens on the loopback interface only
                ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False,
                         _node_ip_address="127.0.0.1")
            self.owned = True
        self.remote = ray.remote(num_cpus=1, max_retries=0)(_ray_train)
        self.refs: dict[Any, tuple[Job, float]] = {}

    def submit(self, job: Job) -> None:
        self.refs[self.remote.remote(job.payload())] = (job, time.monotonic() + job.deadline_s + STARTUP_GRACE_S)

    def pending(self) -> int:
        return len(self.refs)

    def poll(self, timeout: float) -> list[tuple[Job, dict[str, Any], str]]:
        ray = self.ray
        out: list[tuple[Job, dict[str, Any], str]] = []
        if not self.refs:
            return out
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        for ref in ready:
            job, _ = self.refs.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - a crashed Ray worker is a failed training
                result = failure("GS913", f"the Ray task failed: {type(e).__name__}: {str(e)[:300]}")
            out.append((job, result, "ray"))
        now = time.monotonic()
        for ref, (job, deadline) in list(self.refs.items()):
            if now > deadline:
                ray.cancel(ref, force=True)
                self.refs.pop(ref)
                out.append((job, failure("GS912", f"training passed its hard deadline of {job.deadline_s:g} s; "
                                         "the Ray task was cancelled"), "ray"))
        return out

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, dict[str, Any], str]]:
        for job in jobs:
            self.submit(job)
        while self.pending():
            yield from self.poll(0.5)

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


class InlineExecutor:
    """Trains in the calling process, one job per poll (``executor="inline"``: debugging, tests,
    and a baseline for the executors' overhead)."""

    name = "inline"

    def __init__(self) -> None:
        self.queue: list[Job] = []

    def submit(self, job: Job) -> None:
        self.queue.append(job)

    def pending(self) -> int:
        return len(self.queue)

    def poll(self, timeout: float) -> list[tuple[Job, dict[str, Any], str]]:
        if not self.queue:
            return []
        job = self.queue.pop(0)
        return [(job, run_job(job.payload()), "inline")]

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, dict[str, Any], str]]:
        for job in jobs:
            self.submit(job)
        while self.pending():
            yield from self.poll(0.0)

    def close(self) -> None:
        self.queue = []


EXECUTORS = ("process", "ray", "inline")


def make_executor(kind: str, workers: int, memory_cap_mb: int | None = None, address: str | None = None,
                  warm: dict[str, Any] | None = None) -> Any:
    """An executor by name; ``warm`` (a task dict) lets process workers load its data at start."""
    if kind == "process":
        return ProcessExecutor(workers, memory_cap_mb, warm)
    if kind == "ray":
        return RayExecutor(workers, address)
    if kind == "inline":
        return InlineExecutor()
    raise synth_error("GS917", f"unknown executor '{kind}'", expected=" | ".join(EXECUTORS), got=str(kind))
