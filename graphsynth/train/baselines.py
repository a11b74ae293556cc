"""Baselines for the designers, at the same budget of trainings.

- ``default``: the task's default configuration (``[train]``), trained with seeds ``seed``,
  ``seed + 1``, ... ``budget`` times; the best by the task's metric is kept (what the same budget
  buys without any search).  Trial 0 -- seed ``seed`` -- is the designer's own trial 0.
- ``optuna``: Optuna's TPE sampler, seeded, over :data:`graphsynth.train.space.SEARCH_SPACE`
  with the task's default configuration enqueued as the first trial (a budget-matched comparison
  must let the baseline evaluate the good default first too), every trial trained with seed
  ``seed`` like the designer's.  Needs ``optuna`` (``pip install 'graphsynth[tune]'``; ``dev``
  includes it).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from graphsynth.train.designer import DesignResult, better
from graphsynth.train.errors import task_error


def default_baseline(task: Any, arch: Any = None, budget: int = 6, seed: int = 0, *, db: str | os.PathLike[str] | None = None,
                     record: bool = False) -> DesignResult:
    from graphsynth.train.run import fit
    from graphsynth.train.tasks import load_task

    task = load_task(task)
    t0 = time.perf_counter()
    session = f"default-{uuid.uuid4().hex[:8]}"
    out: DesignResult | None = None
    for i in range(budget):
        run = fit(task, arch, None, None, seed + i, record=record, db=db, origin="default", session=session)
        if out is None:
            out = DesignResult(task.name, "default", [run], ["default"], run, session=session)
            continue
        out.trials.append(run)
        out.kinds.append(f"seed {seed + i}")
        if better(run, out.best, task.metric, task.maximise):
            out.best = run
    assert out is not None
    out.wall_s = time.perf_counter() - t0
    return out


def optuna_search(task: Any, arch: Any = None, budget: int = 6, seed: int = 0, *, db: str | os.PathLike[str] | None = None,
                  record: bool = False, candidate: int | None = None) -> DesignResult:
    try:
        import optuna
    except ImportError:
        raise task_error("GS930", "the Optuna baseline needs the optuna package", fix="pip install 'graphsynth[tune]'") from None
    from graphsynth.train.run import fit
    from graphsynth.train.space import default_point, suggest
    from graphsynth.train.tasks import load_task

    task = load_task(task)
    t0 = time.perf_counter()
    session = f"optuna-{uuid.uuid4().hex[:8]}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if task.maximise else "minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(default_point(task))
    runs: list[Any] = []
    worst = float("-inf") if task.maximise else float("inf")

    def objective(trial: Any) -> float:
        hp = suggest(trial, task)
        run = fit(task, arch, {**task.train, **hp}, None, seed, record=record, db=db, origin="optuna", session=session,
                  candidate=candidate)
        runs.append(run)
        v = run.metric(task.metric)
        return v if run.status == "trained" and v is not None else worst

    study.optimize(objective, n_trials=budget)
    out = DesignResult(task.name, "optuna", runs, ["default"] + ["tpe"] * (len(runs) - 1), runs[0], session=session)
    for run in runs[1:]:
        if better(run, out.best, task.metric, task.maximise):
            out.best = run
    out.wall_s = time.perf_counter() - t0
    return out
