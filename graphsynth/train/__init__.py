"""Training for architecture search: tasks (data, seed architecture, metric, budgets) and the
low-fidelity trainer that lowers a verified candidate and trains it with fixed seeds and caps.

    from graphsynth.train import load_task, train_candidate
    task = load_task("digits")
    result = train_candidate(task, task.seed_ir, seed=0)
    print(result.status, result.metrics["val_accuracy"])
"""

from graphsynth.train.data import SOURCES, Dataset, load_data
from graphsynth.train.errors import TaskError
from graphsynth.train.tasks import Budget, Task, builtin_tasks, load_task
from graphsynth.train.trainer import HP_SCHEMA, TrainResult, check_hp, estimate_memory_bytes, train_candidate

__all__ = [
    "HP_SCHEMA",
    "SOURCES",
    "Budget",
    "Dataset",
    "Task",
    "TaskError",
    "TrainResult",
    "builtin_tasks",
    "check_hp",
    "estimate_memory_bytes",
    "load_data",
    "load_task",
    "train_candidate",
]
