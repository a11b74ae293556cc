"""Training: tasks, the low-fidelity trainer, recorded training with offline rules and pictures,
the vision-model diagnosis, and the hyper-parameter and loss designers.

    from graphsynth.train import fit, load_task, train_candidate
    run = fit("digits", None, hp={"lr": 0.3})      # the task's seed architecture, lr 100x too high
    for f in run.findings():
        print(f.kind, f.steps, f.modules, f.evidence, f.suggestion)

    task = load_task("digits")
    result = train_candidate(task, task.seed_ir, seed=0)
    print(result.status, result.metrics["val_accuracy"])

See docs/training.md and docs/synthesis.md.
"""

from graphsynth.train.data import SOURCES, Dataset, load_data
from graphsynth.train.errors import TaskError
from graphsynth.train.loss import LossGraph, builtin_losses, load_loss
from graphsynth.train.record import Monitor, Series
from graphsynth.train.rules import KINDS, THRESHOLDS, Finding
from graphsynth.train.run import TrainRun, fit
from graphsynth.train.tasks import Budget, Task, builtin_tasks, load_task
from graphsynth.train.trainer import HP_SCHEMA, TrainResult, check_hp, estimate_memory_bytes, train_candidate

__all__ = [
    "HP_SCHEMA",
    "KINDS",
    "SOURCES",
    "THRESHOLDS",
    "Budget",
    "Dataset",
    "Finding",
    "LossGraph",
    "Monitor",
    "Series",
    "Task",
    "TaskError",
    "TrainResult",
    "TrainRun",
    "builtin_losses",
    "builtin_tasks",
    "check_hp",
    "estimate_memory_bytes",
    "fit",
    "load_data",
    "load_loss",
    "load_task",
    "train_candidate",
]
