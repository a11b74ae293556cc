"""The design benchmark: every (task, proposer) pair at an equal evaluation budget over seeds.

Per task and proposer it reports the valid rate (proposals that parse, verify and fit the task),
the success rate (runs whose best candidate beats the seed architecture's metric), the best metric
(mean +- std over seeds), the evaluations needed to reach the seed's metric + delta (mean over the
runs that reached it), the throughput (evaluations per minute) and the compiler's share of wall
time (see :func:`graphsynth.synth.search.run_stats`).  One process pool serves every run, so the
figures measure the loop, not worker start-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphsynth.synth.archive import Archive
from graphsynth.synth.search import run_stats, search


@dataclass
class RunResult:
    task: str
    proposer: str
    seed: int
    db: str
    seed_metric: float | None
    best: float | None
    valid_rate: float
    to_target: int | None
    per_minute: float
    compiler_share: float
    best_test: float | None


def summarise(db: str, delta: float) -> RunResult:
    a = Archive(db)
    try:
        meta = a.meta
        name, maximise = a.metric_name()
        rows = a.candidates()
        seed_row = next(c for c in rows if c.id == 0)
        seed_metric = seed_row.metric(name)
        best = a.best()
        proposals = [c for c in rows if c.id != 0]
        valid = sum(c.status != "rejected" for c in proposals) / max(len(proposals), 1)
        to_target = None
        if seed_metric is not None:
            target = seed_metric + delta if maximise else seed_metric - delta
            for i, c in enumerate([c for c in rows if c.status in ("trained", "failed")], 1):
                v = c.metric(name) if c.status == "trained" else None
                if v is not None and (v >= target if maximise else v <= target):
                    to_target = i
                    break
        st = run_stats(a)
        s = meta["settings"]
        return RunResult(meta["task"]["name"], s["proposer"], s["seed"], db, seed_metric, best.metric(name) if best else None,
                         valid, to_target, st["per_minute"], st["compiler_share"], best.metric("test_accuracy") if best else None)
    finally:
        a.close()


def table(results: Sequence[RunResult], delta: float) -> str:
    head = ["task", "proposer", "runs", "valid rate", "success rate", "best metric (mean ± std)", f"evals to seed+{delta:g}",
            "evals/min", "compiler %"]
    rows = []
    keys = list(dict.fromkeys((r.task, r.proposer) for r in results))
    for task, prop in keys:
        rs = [r for r in results if r.task == task and r.proposer == prop]
        bests = [r.best for r in rs if r.best is not None]
        mean = statistics.fmean(bests) if bests else float("nan")
        std = statistics.pstdev(bests) if len(bests) > 1 else 0.0
        success = sum(1 for r in rs if r.best is not None and r.seed_metric is not None and r.best > r.seed_metric) / len(rs)
        reached = [r.to_target for r in rs if r.to_target is not None]
        to = f"{statistics.fmean(reached):.1f} ({len(reached)}/{len(rs)})" if reached else f"- (0/{len(rs)})"
        rows.append([task, prop, str(len(rs)), f"{statistics.fmean(r.valid_rate for r in rs):.0%}", f"{success:.0%}",
                     f"{mean:.4f} ± {std:.4f}", to, f"{statistics.fmean(r.per_minute for r in rs):.1f}",
                     f"{100 * statistics.fmean(r.compiler_share for r in rs):.2f}"])
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def verdict(results: Sequence[RunResult], a: str = "evolution", b: str = "random") -> str:
    """Which tasks proposer ``a`` beats ``b`` on (mean best metric)."""
    tasks = list(dict.fromkeys(r.task for r in results))
    wins = []
    for t in tasks:
        ma = [r.best for r in results if r.task == t and r.proposer == a and r.best is not None]
        mb = [r.best for r in results if r.task == t and r.proposer == b and r.best is not None]
        if ma and mb and statistics.fmean(ma) > statistics.fmean(mb):
            wins.append(t)
    return f"{a} beats {b} on mean best metric on {len(wins)} of {len(tasks)} tasks ({', '.join(wins) or 'none'})"


def run_bench(tasks: Sequence[str], proposers: Sequence[str], seeds: int, budget: int, out: str | Path,
              workers: int | None = None, executor: str = "process", delta: float = 0.01, batch: int = 4,
              proposer_options: dict[str, Any] | None = None, log: Any = print) -> list[RunResult]:
    from graphsynth.synth.executors import make_executor
    from graphsynth.train.tasks import load_task

    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    import os

    workers = workers or max(1, os.cpu_count() or 1)
    results = []
    loaded = {t: load_task(t) for t in tasks}
    pool = make_executor(executor, workers, max(t.budget.max_memory_mb for t in loaded.values()))
    try:
        for t in tasks:
            for p in proposers:
                for s in range(seeds):
                    db = outdir / f"{loaded[t].name}-{p}-{s}.sqlite"
                    t0 = time.perf_counter()
                    search(loaded[t], p, budget, s, db, pool, workers, batch=batch, proposer_options=proposer_options, progress=False)
                    r = summarise(str(db), delta)
                    results.append(r)
                    log(f"{t:9s} {p:10s} seed {s}: best {r.best:.4f} (seed arch {r.seed_metric:.4f}), "
                        f"{time.perf_counter() - t0:.1f} s")
    finally:
        pool.close()
    return results
