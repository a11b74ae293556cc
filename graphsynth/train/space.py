"""The hyper-parameter search space: what a designer may propose and what Optuna samples.

One table, :data:`SEARCH_SPACE`, read by three users: the JSON schema shown to the designer
model (:func:`hp_schema`), the check of its documents (:func:`check_design_hp`), and the Optuna
TPE baseline (:func:`suggest`), so the model and the baseline search exactly the same space.
Every key is also a key of :data:`graphsynth.train.trainer.HP_SCHEMA`, whose wider bounds any
training accepts; the space is narrower on purpose:

- ``epochs`` at most the task's own ``[train] epochs``: a proposal may train shorter, never
  longer, so "at equal budget" (the same number of trainings) also caps the compute per training;
- the optimizer from the allowlist ``sgd``, ``adam``, ``adamw``; the learning rate on a log scale
  in [1e-5, 1]; weight decay in [0, 0.1]; batch size in [8, 512]; a schedule
  (``constant``, ``cosine``, ``linear``, ``step``) with up to 500 warm-up steps; gradient clipping
  in [0, 10] (0: off); SGD's momentum in [0, 0.99].
"""

from __future__ import annotations

from typing import Any

from graphsynth.diagnostics import Diagnostic, error

# key -> (kind, bounds or choices); "log" floats are sampled on a log scale.
SEARCH_SPACE: dict[str, tuple[str, Any]] = {
    "optimizer": ("choice", ("sgd", "adam", "adamw")),
    "lr": ("log", (1e-5, 1.0)),
    "weight_decay": ("float", (0.0, 0.1)),
    "momentum": ("float", (0.0, 0.99)),
    "batch_size": ("int", (8, 512)),
    "epochs": ("epochs", (1, None)),
    "schedule": ("choice", ("constant", "cosine", "linear", "step")),
    "warmup_steps": ("int", (0, 500)),
    "grad_clip": ("float", (0.0, 10.0)),
}


def _bounds(key: str, task: Any) -> tuple[Any, Any]:
    kind, b = SEARCH_SPACE[key]
    if kind == "epochs":
        return 1, int(task.train["epochs"])
    return b


def hp_schema(task: Any) -> dict[str, Any]:
    """A JSON schema (object, every key optional) of a partial hyper-parameter document."""
    props: dict[str, Any] = {}
    for key, (kind, _) in SEARCH_SPACE.items():
        if kind == "choice":
            props[key] = {"enum": list(SEARCH_SPACE[key][1])}
        else:
            lo, hi = _bounds(key, task)
            props[key] = {"type": "integer" if kind in ("int", "epochs") else "number", "minimum": lo, "maximum": hi}
    return {"type": "object", "additionalProperties": False, "properties": props}


def check_design_hp(hp: dict[str, Any], task: Any, where: str = "$.hp") -> list[Diagnostic]:
    """GS923 for keys outside the space or values outside its bounds (the schema check, GS922,
    catches the same for documents; this also guards documents built in code)."""
    out = []
    for k, v in hp.items():
        if k not in SEARCH_SPACE:
            out.append(error("GS923", f"{where}.{k}: '{k}' is not a designable hyper-parameter", expected=" | ".join(SEARCH_SPACE), got=k))
            continue
        kind, _ = SEARCH_SPACE[k]
        if kind == "choice":
            if v not in SEARCH_SPACE[k][1]:
                out.append(error("GS923", f"{where}.{k}: {v!r} is not one of {', '.join(SEARCH_SPACE[k][1])}",
                                 expected=" | ".join(SEARCH_SPACE[k][1]), got=repr(v)))
            continue
        lo, hi = _bounds(k, task)
        integer = kind in ("int", "epochs")
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (not integer or isinstance(v, int)) and lo <= v <= hi
        if not ok:
            why = " (a proposal may train shorter than the task's default, never longer)" if kind == "epochs" else ""
            out.append(error("GS923", f"{where}.{k}: {v!r} is outside the search space [{lo}, {hi}]{why}",
                             expected=f"{'an integer' if integer else 'a number'} in [{lo}, {hi}]", got=repr(v)))
    return out


def suggest(trial: Any, task: Any) -> dict[str, Any]:
    """An Optuna trial's hyper-parameters over the same space."""
    hp: dict[str, Any] = {}
    for key, (kind, b) in SEARCH_SPACE.items():
        if kind == "choice":
            hp[key] = trial.suggest_categorical(key, list(b))
        elif kind == "log":
            hp[key] = trial.suggest_float(key, b[0], b[1], log=True)
        elif kind == "float":
            hp[key] = trial.suggest_float(key, b[0], b[1])
        else:
            lo, hi = _bounds(key, task)
            hp[key] = trial.suggest_int(key, lo, hi, log=key == "batch_size")
    return hp


def default_point(task: Any) -> dict[str, Any]:
    """The task's default configuration restricted to the space (Optuna's first, enqueued trial)."""
    return {k: task.train[k] for k in SEARCH_SPACE if k in task.train}
