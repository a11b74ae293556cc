"""Recorded training: ``fit(task, arch, hp, loss, seed) -> TrainRun``.

    from graphsynth.train import fit
    run = fit("digits", None, hp={"lr": 0.3})          # None: the task's seed architecture
    run.curves["loss"].values[-1], run.metrics["val_accuracy"]
    for f in run.findings():
        print(f.kind, f.steps, f.modules, f.evidence, f.suggestion)

``fit`` trains with :func:`graphsynth.train.trainer.train_candidate` (the synthesis trainer: same
seeds, caps and failure diagnostics) with a :class:`graphsynth.train.record.Monitor` attached,
and returns a :class:`TrainRun`: the curves, the metrics, the hyper-parameters used, the loss
graph, the architecture text and the trainer's diagnostics.  A run that failed (a non-finite loss,
the time cap) is still a run: its curves up to the failure are kept, and the rules read them.
With ``db=`` the run is stored in that SQLite archive (:mod:`graphsynth.train.store`).

Training runs with ``threads`` torch threads (1 by default: the models are small, one thread is
faster than contending for cores, and the numbers do not depend on the machine's core count);
the process's thread count is restored afterwards.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic
from graphsynth.train.errors import task_error
from graphsynth.train.record import Series


@dataclass
class TrainRun:
    """One recorded training (see the module docstring).  ``curves`` maps a series name to its
    :class:`Series` (``.steps``, ``.values``); ``meta`` holds what the monitor learned about the
    graph (modules in data-flow order, parameter owners, activations, the recording interval)."""

    task: str
    status: str
    metrics: dict[str, float]
    curves: dict[str, Series]
    hp: dict[str, Any]
    arch: str
    loss: str | None = None
    loss_name: str = "cross_entropy"
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    id: int | None = None
    db: str | None = None
    origin: str = "fit"
    classes: int = 0

    def findings(self) -> list[Any]:
        """The offline rules' verdicts on this run (:func:`graphsynth.train.rules.check`)."""
        from graphsynth.train.rules import check

        return check(self)

    def metric(self, name: str = "val_accuracy") -> float | None:
        v = self.metrics.get(name)
        return float(v) if isinstance(v, (int, float)) else None

    def task_obj(self) -> Any:
        """The :class:`~graphsynth.train.tasks.Task` this run trained on (kept in ``meta``, so a
        run read back from an archive knows it even when the task file has moved)."""
        from graphsynth.train.tasks import Task, load_task

        spec = self.meta.get("task")
        return Task.from_dict(spec) if isinstance(spec, dict) else load_task(self.task)

    def series(self, prefix: str) -> dict[str, Series]:
        """The series whose names start with ``prefix/``, keyed by the rest of the name."""
        return {k[len(prefix) + 1:]: v for k, v in self.curves.items() if k.startswith(prefix + "/")}


def arch_text(task: Any, arch: Any) -> str:
    """The IR text of ``arch``: a parsed module, a ``.gs`` path, IR text, or None (the task's
    seed architecture)."""
    if arch is None:
        return task.seed_ir
    if isinstance(arch, (str, os.PathLike)):
        s = os.fspath(arch)
        if "graph " in s and "{" in s:
            return s
        from graphsynth.fileio import FileError, read_text
        from graphsynth.train.errors import TaskError

        try:
            return read_text(s, what="architecture")
        except FileError as e:
            raise TaskError(e.diagnostics) from None
    if hasattr(arch, "body"):
        import graphsynth as gs

        return gs.print_ir(arch)
    raise task_error("GS920", f"fit: arch must be a module, a .gs path or IR text, got {type(arch).__name__}")


def fit(task: Any, arch: Any = None, hp: dict[str, Any] | None = None, loss: Any = None, seed: int = 0, record: bool = True, *,
        db: str | os.PathLike[str] | None = None, every: int | None = None, threads: int | None = 1, origin: str = "fit",
        parent: int | None = None, candidate: int | None = None, session: str | None = None) -> TrainRun:
    """Train ``arch`` on ``task`` with hyper-parameters ``hp`` (missing keys: the task's defaults)
    and ``loss`` (None: cross-entropy; a shipped loss name, a ``.gs`` path, IR text or a
    :class:`~graphsynth.train.loss.LossGraph`), recording curves when ``record``."""
    from graphsynth.train.loss import LossGraph, load_loss
    from graphsynth.train.record import DEFAULT_EVERY, Monitor
    from graphsynth.train.tasks import load_task
    from graphsynth.train.trainer import check_hp, train_candidate

    task = load_task(task)
    ds = task.dataset()
    cfg = {**task.train, **check_hp(hp, where="fit hp")}
    lg: LossGraph | None = load_loss(loss, ds.classes)
    text = arch_text(task, arch)
    monitor = Monitor(ds, every or DEFAULT_EVERY) if record else None
    import torch

    before = torch.get_num_threads()
    try:
        loss_fn = lg.fn() if lg is not None else None
        if monitor is not None:
            loss_fn = monitor.wrap_loss(loss_fn)
        result = train_candidate(task, text, cfg, seed, callbacks=[monitor] if monitor else [], threads=threads, loss_fn=loss_fn)
    finally:
        if monitor is not None:
            monitor.close()
        torch.set_num_threads(before)
    curves = dict(monitor.curves) if monitor else {}
    last = result.curve[-1] if result.curve else {}
    if monitor is not None and result.status == "failed" and isinstance(last.get("loss"), float) and not math.isfinite(last["loss"]):
        curves.setdefault("loss", Series()).append(int(last.get("step", 0)) + 1, last["loss"])  # the step that failed
    meta = dict(monitor.meta) if monitor else {}
    diags = list(result.diagnostics) + (monitor.diagnostics if monitor else [])
    timings = dict(result.timings)
    if monitor is not None:
        timings["monitor_s"] = monitor.overhead_s
        timings["monitor_setup_s"] = monitor.setup_s
        meta["recorded_steps"] = monitor.recorded_steps
    steps = int(result.metrics.get("steps", 0) or (max(curves["loss"].steps) if "loss" in curves and len(curves["loss"]) else 0))
    n = len(ds.x_train)
    meta["task"] = task.to_dict()
    meta.update({"steps_per_epoch": -(-n // cfg["batch_size"]), "epochs": cfg["epochs"], "steps": steps,
                 "train_examples": n, "planned_steps": min(cfg["epochs"] * -(-n // cfg["batch_size"]), cfg["max_steps"] or 1 << 62)})
    run = TrainRun(task.name, result.status, dict(result.metrics), curves, cfg, text, lg.text if lg else None,
                   lg.name if lg else "cross_entropy", seed, meta, diags, timings, origin=origin, classes=ds.classes)
    if db is not None:
        from graphsynth.train.store import TrainStore

        with TrainStore(db) as store:
            store.add(run, parent=parent, candidate=candidate, session=session)
    return run
