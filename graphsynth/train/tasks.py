"""Tasks: data, a seed architecture, a metric, budgets and training defaults, from a TOML file.

A task file (the format is documented in docs/synthesis.md)::

    name = "digits"
    description = "8x8 handwritten digits"
    seed = "digits.gs"              # the seed architecture, relative to this file
    metric = "val_accuracy"         # val_accuracy (maximised) or val_loss (minimised)

    [data]
    source = "digits"               # digits | mnist1d | sequence | npz (graphsynth.train.data)

    [budget]
    max_params = 50000              # parameters (buffers are not counted)
    max_flops = "40000*B"           # an int or an expression over the graph's symbols
    bind = { B = 1 }                # symbol values used to evaluate both sides (default: 1 each)
    time_per_candidate_s = 60       # training time cap per candidate
    max_memory_mb = 1024            # memory cap per training

    [train]                         # defaults of the hyper-parameters (see trainer.HP_SCHEMA)
    optimizer = "adam"
    lr = 0.003
    batch_size = 64
    epochs = 4

``load_task("digits")`` reads a shipped task (graphsynth/train/tasks/), ``load_task("my.toml")``
a file.  Everything is checked when the task is loaded: unknown keys, types and ranges, the
seed graph (it must parse and verify), its interface against the data (one input
``f32[B, *features]``, one output ``f32[B, classes]``) and the budget expressions.  Problems are
:class:`TaskError` diagnostics GS901-GS905, never tracebacks.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphsynth.train.errors import TaskError, task_error

TASK_DIR = Path(__file__).parent / "tasks"
MAX_TASK_BYTES = 1_000_000
MAX_SEED_BYTES = 5_000_000
METRICS = {"val_accuracy": "max", "val_loss": "min"}

_TOP_KEYS = {"name", "description", "seed", "metric", "data", "budget", "train"}
_BUDGET_KEYS = {"max_params", "max_flops", "bind", "time_per_candidate_s", "max_memory_mb"}


def builtin_tasks() -> list[str]:
    """Names of the shipped tasks."""
    return sorted(p.stem for p in TASK_DIR.glob("*.toml"))


@dataclass
class Budget:
    """Per-candidate limits: parameters and FLOPs (checked before training, with ``bind``), time
    and memory (enforced while training)."""

    max_params: int | None = None
    max_flops: str | None = None
    bind: dict[str, int] = field(default_factory=dict)
    time_per_candidate_s: float = 60.0
    max_memory_mb: int = 1024

    def to_dict(self) -> dict[str, Any]:
        return {"max_params": self.max_params, "max_flops": self.max_flops, "bind": dict(self.bind),
                "time_per_candidate_s": self.time_per_candidate_s, "max_memory_mb": self.max_memory_mb}


@dataclass
class Task:
    """What a search optimises: ``data`` (a ``[data]`` spec), the seed architecture's IR text,
    the metric, the budget and the training defaults ``train`` (hyper-parameters)."""

    name: str
    description: str
    seed_ir: str
    data: dict[str, Any]
    metric: str = "val_accuracy"
    budget: Budget = field(default_factory=Budget)
    train: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    base_dir: str | None = None

    @property
    def maximise(self) -> bool:
        return METRICS[self.metric] == "max"

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether metric value ``a`` is strictly better than ``b`` (None is worst)."""
        if a is None:
            return False
        if b is None:
            return True
        return a > b if self.maximise else a < b

    def dataset(self) -> Any:
        """The task's :class:`~graphsynth.train.data.Dataset` (made once per process)."""
        from graphsynth.train.data import load_data

        return load_data(self.data, Path(self.base_dir) if self.base_dir else None)

    def seed_module(self) -> Any:
        import graphsynth as gs

        return gs.parse_ir(self.seed_ir, filename=f"{self.name}.seed.gs")

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the task (stored in each run's archive, so a run resumes
        even when the task file has moved or changed)."""
        return {"name": self.name, "description": self.description, "seed_ir": self.seed_ir, "data": dict(self.data),
                "metric": self.metric, "budget": self.budget.to_dict(), "train": dict(self.train),
                "path": self.path, "base_dir": self.base_dir}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Task:
        b = d.get("budget") or {}
        return Task(d["name"], d.get("description", ""), d["seed_ir"], dict(d["data"]), d.get("metric", "val_accuracy"),
                    Budget(b.get("max_params"), b.get("max_flops"), dict(b.get("bind") or {}),
                           float(b.get("time_per_candidate_s", 60.0)), int(b.get("max_memory_mb", 1024))),
                    dict(d.get("train") or {}), d.get("path"), d.get("base_dir"))


def load_task(name_or_path: str | os.PathLike[str] | Task) -> Task:
    """A shipped task by name (``digits``, ``mnist1d``, ``sequence``) or a task file by path."""
    if isinstance(name_or_path, Task):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".toml") or path.is_file()):
        if text in builtin_tasks():
            path = TASK_DIR / f"{text}.toml"
        else:
            close = difflib.get_close_matches(text, builtin_tasks(), n=1)
            raise task_error("GS901", f"no task '{text}': not a shipped task and not a file",
                             expected=" | ".join(builtin_tasks()) + " | path/to/task.toml", got=text,
                             fix=f"did you mean '{close[0]}'?" if close else "give the path of a .toml task file")
    return _load_file(path)


def _load_file(path: Path) -> Task:
    import tomllib

    try:
        size = path.stat().st_size
        if size > MAX_TASK_BYTES:
            raise task_error("GS901", f"task file {path} is {size} bytes; the limit is {MAX_TASK_BYTES}")
        raw = path.read_bytes()
    except OSError as e:
        raise task_error("GS901", f"cannot read task file {path}: {e.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise task_error("GS901", f"task file {path} is not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise task_error("GS901", f"task file {path} is not valid TOML: {e}") from None
    return task_from_doc(doc, path)


def _unknown(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        close = difflib.get_close_matches(extra[0], sorted(allowed), n=1)
        raise task_error("GS902", f"{where}: unknown key '{extra[0]}'", got=extra[0], expected=" | ".join(sorted(allowed)),
                         fix=f"did you mean '{close[0]}'?" if close else None)


def _str(doc: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    v = doc.get(key, default)
    if not isinstance(v, str) or not v:
        raise task_error("GS902", f"{where}: '{key}' must be a non-empty string, got {v!r}", expected="a string", got=repr(v))
    return v


def task_from_doc(doc: dict[str, Any], path: Path | None = None) -> Task:
    """Check a parsed task document and build the :class:`Task` (GS902-GS905 on problems)."""
    from graphsynth.train.trainer import check_hp

    where = str(path) if path else "task"
    if not isinstance(doc, dict):
        raise task_error("GS902", f"{where}: a task is a TOML table")
    _unknown(set(doc), _TOP_KEYS, where)
    name = _str(doc, "name", where)
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise task_error("GS902", f"{where}: 'description' must be a string")
    metric = _str(doc, "metric", where, "val_accuracy")
    if metric not in METRICS:
        raise task_error("GS902", f"{where}: unknown metric '{metric}'", expected=" | ".join(METRICS), got=metric)
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("source"), str):
        raise task_error("GS902", f"{where}: a [data] table with source = \"...\" is required",
                         fix='add [data] with source = "digits" | "mnist1d" | "sequence" | "npz"')
    base = path.parent if path else Path.cwd()
    seed_file = _str(doc, "seed", where)
    seed_path = Path(seed_file) if os.path.isabs(seed_file) else base / seed_file
    try:
        if seed_path.stat().st_size > MAX_SEED_BYTES:
            raise task_error("GS903", f"{where}: seed architecture {seed_path} exceeds {MAX_SEED_BYTES} bytes")
        seed_ir = seed_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise task_error("GS903", f"{where}: cannot read the seed architecture {seed_path}: {getattr(e, 'strerror', None) or e}") from None
    budget = _budget(doc.get("budget", {}), where)
    train = doc.get("train", {})
    if not isinstance(train, dict):
        raise task_error("GS902", f"{where}: [train] must be a table")
    train = check_hp(train, where=f"{where} [train]", partial=False)
    task = Task(name, description, seed_ir, dict(data), metric, budget, train,
                str(path) if path else None, str(base))
    check_seed(task)
    return task


def _budget(b: Any, where: str) -> Budget:
    if not isinstance(b, dict):
        raise task_error("GS902", f"{where}: [budget] must be a table")
    _unknown(set(b), _BUDGET_KEYS, f"{where} [budget]")
    out = Budget()
    mp = b.get("max_params")
    if mp is not None and (not isinstance(mp, int) or isinstance(mp, bool) or mp < 1):
        raise task_error("GS902", f"{where} [budget]: max_params must be a positive integer, got {mp!r}")
    out.max_params = mp
    mf = b.get("max_flops")
    if mf is not None:
        if isinstance(mf, bool) or not isinstance(mf, (int, str)):
            raise task_error("GS905", f"{where} [budget]: max_flops must be an integer or an expression string, got {mf!r}")
        out.max_flops = str(mf)
    bind = b.get("bind", {})
    if not isinstance(bind, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                             for k, v in bind.items()):
        raise task_error("GS905", f"{where} [budget]: bind must map symbol names to positive integers, got {bind!r}")
    out.bind = dict(bind)
    t = b.get("time_per_candidate_s", out.time_per_candidate_s)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 86400:
        raise task_error("GS902", f"{where} [budget]: time_per_candidate_s must be in (0, 86400], got {t!r}")
    out.time_per_candidate_s = float(t)
    mem = b.get("max_memory_mb", out.max_memory_mb)
    if isinstance(mem, bool) or not isinstance(mem, int) or not 16 <= mem <= 1_000_000:
        raise task_error("GS902", f"{where} [budget]: max_memory_mb must be an integer in [16, 1000000], got {mem!r}")
    out.max_memory_mb = mem
    return out


def check_seed(task: Task) -> None:
    """The seed parses, verifies, fits the data and the budget expressions make sense."""
    import graphsynth as gs
    from graphsynth.diagnostics import GraphsynthError

    try:
        m = task.seed_module()
    except GraphsynthError as e:
        raise TaskError([_tagged(d, "GS903") for d in e.diagnostics], f"seed architecture of task '{task.name}' does not parse") from None
    diags = gs.verify(m)
    if diags:
        raise TaskError(diags, f"seed architecture of task '{task.name}' does not verify: {diags[0].message}")
    problems = interface_problems(task, m)
    if problems:
        raise task_error("GS903", f"seed architecture of task '{task.name}': {problems[0]}")
    budget_limits(task, m)  # raises GS905 on a bad expression


def _tagged(d: Any, code: str) -> Any:
    d.notes.append(f"while loading a task ({code})")
    return d


def interface_problems(task: Task, module: Any) -> list[str]:
    """Why ``module`` cannot be trained on the task's data (empty when it can): one graph, one
    input ``f32[B, *features]``, one output ``f32[B, classes]``, B the same symbol."""
    from graphsynth.dialects import gs as d
    from graphsynth.dialects.symdim import SymDim

    graphs = d.graph_ops(module)
    if len(graphs) != 1:
        return [f"a candidate holds exactly one graph, found {len(graphs)}"]
    g = graphs[0]
    args = list(g.body.block.args)
    outs = [t for t in g.output_types.data]
    ds = task.dataset()
    problems = []
    if len(args) != 1:
        return [f"the graph takes {len(args)} inputs; the task feeds one, f32[B, {', '.join(map(str, ds.feature_shape))}]"]
    t = args[0].type
    shape = t.shape
    if t.sig().dtype != "f32" or len(shape) != 1 + len(ds.feature_shape) or not isinstance(shape[0], SymDim) \
            or tuple(shape[1:]) != ds.feature_shape:
        problems.append(f"input is {t}; the data is f32[B, {', '.join(map(str, ds.feature_shape))}] (B a symbol)")
    if len(outs) != 1:
        problems.append(f"the graph returns {len(outs)} values; the task needs one, f32[B, {ds.classes}]")
    elif not problems:
        o = outs[0]
        if o.sig().dtype != "f32" or tuple(o.shape) != (shape[0], ds.classes):
            problems.append(f"output is {o}; the task needs f32[{shape[0]}, {ds.classes}] (logits)")
    return problems


def budget_limits(task: Task, module: Any) -> tuple[int | None, int | None, dict[str, int]]:
    """(max params, max FLOPs as a number, bindings) for this module's symbols."""
    from graphsynth.dialects import gs as d
    from graphsynth.dialects.dimtext import DimSyntaxError, parse_dim
    from graphsynth.dialects.symdim import evaluate, free_symbols

    symbols: set[str] = set()
    for g in d.graph_ops(module):
        for a in g.body.block.args:
            for dim in a.type.shape:
                symbols |= free_symbols(dim)
    bind = {s: task.budget.bind.get(s, 1) for s in symbols}
    flops = None
    if task.budget.max_flops is not None:
        try:
            expr = parse_dim(task.budget.max_flops.replace(" ", ""))
        except (DimSyntaxError, ValueError, RecursionError) as e:
            raise task_error("GS905", f"[budget] max_flops = {task.budget.max_flops!r} is not an expression of the dims: {e}") from None
        unknown = sorted(free_symbols(expr) - set(bind) - set(task.budget.bind))
        if unknown:
            raise task_error("GS905", f"[budget] max_flops uses symbol(s) {', '.join(unknown)} that the graph's inputs do not have",
                             expected=", ".join(sorted(bind)) or "no symbols", got=", ".join(unknown))
        flops = evaluate(expr, {**task.budget.bind, **bind})
    return task.budget.max_params, flops, bind
