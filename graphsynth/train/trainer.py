"""Low-fidelity training of one verified candidate: fixed seeds, deterministic data order, caps.

``train_candidate(task, arch, hp, seed)`` parses and verifies ``arch`` (IR text or a module; the
text is the single source of truth, nothing else is ever run), checks that it fits the task's
data, estimates its memory, lowers it with ``gs.lower``, initialises the parameters, trains it for
the task's (or ``hp``'s) epochs and evaluates it.  It never raises for a bad candidate: every
failure is a :class:`TrainResult` with status ``failed`` and a located diagnostic:

- GS909 the graph's interface does not fit the data; GS913 it does not parse, verify or lower,
  or training raised;
- GS910 a non-finite loss (NaN or inf), with the step where it appeared;
- GS911 the memory estimate exceeds ``[budget] max_memory_mb`` (parameters, gradients and
  optimizer state, plus every activation of a batch twice, for the backward), or an allocation
  failed;
- GS912 the time cap ``[budget] time_per_candidate_s`` was reached (checked every step; the
  executors add a hard deadline that ends a worker stuck inside one step).

Determinism: the same (task, arch, hp, seed) gives the same numbers in any process with the same
torch thread count (the executors use one thread per worker): torch's generator is seeded before
lowering and initialisation, and the batches of each epoch follow a permutation drawn from a
generator seeded with ``seed``.

Initial values: a parameter whose declaration carries ``init="..."`` (``zeros``, ``ones``,
``normal:<std>``) gets it from the backend; any other parameter of rank >= 2 is drawn uniformly
from +-1/sqrt(fan_in) (fan_in = the product of all dims but the first: torch's default for
``nn.Linear``/``nn.Conv*``), and parameters of rank <= 1 start at zero.  So a normalisation weight
must say ``init="ones"``.

Learning-rate schedule (``schedule``, ``warmup_steps``): the rate of step ``s`` (0-based) of a
run of ``T`` steps is ``lr * warmup(s) * decay(p)`` with ``warmup(s) = min(1, (s + 1) / warmup_steps)``
and ``p = (s - warmup_steps) / (T - warmup_steps)`` clipped to [0, 1]: ``constant`` 1, ``cosine``
``(1 + cos(pi p)) / 2``, ``linear`` ``1 - p``, ``step`` 1, then 0.1 from ``p = 0.5`` and 0.01 from
``p = 0.75``.  ``grad_clip`` > 0 rescales the gradients to at most that global L2 norm before
each step (0: off).

``callbacks`` are objects with any of ``on_start(net, module, optimizer)``,
``on_backward(step, net, optimizer)`` (after the backward, before clipping and the optimizer
step; ``step`` is the number the step will have), ``on_step(step, loss, net, optimizer)`` (after
the optimizer step) and ``on_eval(epoch, step, metrics)``; recording tools hook in there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.train.errors import task_error

# name -> (kind, bounds or choices, default)
HP_SCHEMA: dict[str, tuple[str, Any, Any]] = {
    "optimizer": ("choice", ("sgd", "adam", "adamw"), "adam"),
    "lr": ("float", (1e-7, 10.0), 3e-3),
    "weight_decay": ("float", (0.0, 1.0), 0.0),
    "momentum": ("float", (0.0, 0.999), 0.9),
    "batch_size": ("int", (1, 65536), 64),
    "epochs": ("int", (1, 100_000), 5),
    "max_steps": ("int", (0, 10_000_000), 0),
    "log_every": ("int", (1, 1_000_000), 10),
    "schedule": ("choice", ("constant", "cosine", "linear", "step"), "constant"),
    "warmup_steps": ("int", (0, 1_000_000), 0),
    "grad_clip": ("float", (0.0, 1e6), 0.0),
}
EVAL_BATCH = 1024


def check_hp(hp: dict[str, Any] | None, *, where: str = "hp", partial: bool = True) -> dict[str, Any]:
    """Validate hyper-parameters against :data:`HP_SCHEMA`; with ``partial=False`` missing keys
    take the schema's defaults.  Unknown keys and out-of-range values are GS902."""
    import difflib

    out: dict[str, Any] = {} if partial else {k: v[2] for k, v in HP_SCHEMA.items()}
    for k, v in (hp or {}).items():
        spec = HP_SCHEMA.get(k)
        if spec is None:
            close = difflib.get_close_matches(str(k), list(HP_SCHEMA), n=1)
            raise task_error("GS902", f"{where}: unknown hyper-parameter '{k}'", expected=" | ".join(HP_SCHEMA), got=str(k),
                             fix=f"did you mean '{close[0]}'?" if close else None)
        kind, bounds, _ = spec
        if kind == "choice":
            ok = v in bounds
            want = " | ".join(bounds)
        elif kind == "int":
            ok = isinstance(v, int) and not isinstance(v, bool) and bounds[0] <= v <= bounds[1]
            want = f"an integer in [{bounds[0]}, {bounds[1]}]"
        else:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and bounds[0] <= v <= bounds[1]
            want = f"a number in [{bounds[0]:g}, {bounds[1]:g}]"
            v = float(v) if ok else v
        if not ok:
            raise task_error("GS902", f"{where}: {k} must be {want}, got {v!r}", expected=want, got=repr(v))
        out[k] = v
    return out


@dataclass
class TrainResult:
    """``status`` is ``trained`` or ``failed``; ``metrics`` has val/test accuracy and loss,
    ``train_loss``, ``steps``, ``params``; ``curve`` the logged steps and evaluations."""

    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "metrics": self.metrics, "curve": self.curve,
                "diagnostics": [d.to_dict() for d in self.diagnostics], "timings": self.timings}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TrainResult:
        from graphsynth.train.errors import diagnostic_from_dict

        return TrainResult(d["status"], dict(d.get("metrics") or {}), list(d.get("curve") or []),
                           [diagnostic_from_dict(x) for x in d.get("diagnostics") or []], dict(d.get("timings") or {}))


def _failed(code: str, message: str, timings: dict[str, float], curve: list[dict[str, Any]] | None = None,
            diags: Sequence[Diagnostic] = (), **kw: Any) -> TrainResult:
    return TrainResult("failed", {}, curve or [], [error(code, message, **kw), *diags], timings)


def estimate_memory_bytes(module: Any, batch_size: int, optimizer: str = "adam") -> int:
    """Parameters x (weights, gradients, optimizer state) + every value of one batch, twice
    (kept for the backward and its gradient) — or of one evaluation batch, once."""
    from graphsynth.dialects import gs
    from graphsynth.dialects.dtypes import DTYPES
    from graphsynth.dialects.symdim import evaluate, free_symbols, numel

    state = {"sgd": 3, "adam": 4, "adamw": 4}.get(optimizer, 4)

    def bytes_of(t: Any, bind: dict[str, int]) -> int:
        n = numel(t.shape)
        if not isinstance(n, int):
            n = evaluate(n, {s: bind.get(s, 1) for s in free_symbols(n)})
        return max(int(n), 0) * DTYPES[t.sig().dtype].itemsize

    params = acts_train = acts_eval = 0
    for g in gs.graph_ops(module):
        symbols: set[str] = set()
        for a in g.body.block.args:
            for d in a.type.shape:
                symbols |= free_symbols(d)
        train_bind = dict.fromkeys(symbols, batch_size)
        eval_bind = dict.fromkeys(symbols, EVAL_BATCH)
        for op in g.walk():
            for r in op.results:
                if not isinstance(r.type, gs.TensorType):
                    continue
                if isinstance(op, gs.ParamOp):
                    params += bytes_of(r.type, train_bind)
                else:
                    acts_train += bytes_of(r.type, train_bind)
                    acts_eval += bytes_of(r.type, eval_bind)
    return params * state + max(2 * acts_train, acts_eval)


def initialise(net: Any, module: Any) -> None:
    """Fan-in uniform for parameters of rank >= 2 without an explicit ``init`` (see above)."""
    import torch
    from xdsl.dialects.builtin import StringAttr

    from graphsynth.dialects import gs

    own = dict(net.named_parameters())
    with torch.no_grad():
        for g in gs.graph_ops(module):
            for op in g.body.block.ops:
                if not isinstance(op, gs.ParamOp) or op.kind.data != "param":
                    continue
                if isinstance(op.attributes.get("init"), StringAttr):
                    continue
                p = own.get(op.param_name.data)
                if p is None or p.dim() < 2 or not p.is_floating_point():
                    continue
                fan_in = max(1, p[0].numel())
                bound = 1.0 / math.sqrt(fan_in)
                p.uniform_(-bound, bound)


def _module_of(arch: Any) -> Any:
    if isinstance(arch, str):
        import graphsynth as gs

        return gs.parse_ir(arch, filename="candidate.gs")
    return arch


def train_candidate(task: Any, arch: Any, hp: dict[str, Any] | None = None, seed: int = 0, *,
                    callbacks: Sequence[Any] = (), threads: int | None = None, loss_fn: Any = None) -> TrainResult:
    """Train ``arch`` (IR text or a parsed module) on ``task`` (a Task or its name).

    ``loss_fn(logits, targets) -> scalar tensor`` replaces the cross-entropy used for training
    (evaluation always reports accuracy and cross-entropy)."""
    from graphsynth.train.tasks import interface_problems, load_task

    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    task = load_task(task)
    cfg = {**task.train, **check_hp(hp)}
    import graphsynth as gs

    t = time.perf_counter()
    try:
        module = _module_of(arch)
    except GraphsynthError as e:
        return _failed("GS913", "the candidate does not parse", timings, diags=e.diagnostics)
    diags = gs.verify(module)
    timings["verify_s"] = time.perf_counter() - t
    if diags:
        return _failed("GS913", f"the candidate does not verify: {diags[0].message}", timings, diags=diags)
    problems = interface_problems(task, module)
    if problems:
        return _failed("GS909", f"the candidate does not fit task '{task.name}': {problems[0]}", timings)
    need = estimate_memory_bytes(module, cfg["batch_size"], cfg["optimizer"])
    cap = task.budget.max_memory_mb * 1024 * 1024
    if need > cap:
        return _failed("GS911", f"training needs about {need / 2**20:.0f} MiB (estimate); the cap is {task.budget.max_memory_mb} MiB",
                       timings, expected=f"<= {task.budget.max_memory_mb} MiB", got=f"{need / 2**20:.0f} MiB",
                       fix="fewer or narrower layers, or a smaller batch_size")

    import torch
    import torch.nn.functional as F

    if threads is not None:
        torch.set_num_threads(threads)
    ds = task.dataset()
    curve: list[dict[str, Any]] = []
    try:
        t = time.perf_counter()
        torch.manual_seed(seed)
        net = gs.lower(module)
        initialise(net, module)
        timings["lower_s"] = time.perf_counter() - t
        n_params = sum(p.numel() for p in net.parameters())
        x_tr, y_tr = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
        opt = _optimizer(net, cfg)
        for cb in callbacks:
            if hasattr(cb, "on_start"):
                cb.on_start(net, module, opt)
        gen = torch.Generator().manual_seed(seed)
        n, bs = len(x_tr), cfg["batch_size"]
        deadline = t_all + task.budget.time_per_candidate_s
        step, last_loss, train_s, eval_s = 0, float("nan"), 0.0, 0.0
        max_steps = cfg["max_steps"] or None
        total_steps = cfg["epochs"] * -(-n // bs)
        if max_steps:
            total_steps = min(total_steps, max_steps)
        params = list(net.parameters())
        backward_hooks = [cb for cb in callbacks if hasattr(cb, "on_backward")]
        for epoch in range(cfg["epochs"]):
            t = time.perf_counter()
            net.train()
            perm = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                out = net(x_tr[idx])
                loss = (loss_fn or F.cross_entropy)(out, y_tr[idx])
                value = float(loss.detach())
                if not math.isfinite(value):
                    curve.append({"step": step, "epoch": epoch, "loss": value})
                    return _failed("GS910", f"the loss became {value} at step {step} (epoch {epoch})", timings, curve,
                                   got=str(value), fix="a smaller lr, a normalisation, or ops that stay finite (log/sqrt of negatives, division by zero)")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                for cb in backward_hooks:
                    cb.on_backward(step + 1, net, opt)
                if cfg["grad_clip"] > 0:
                    torch.nn.utils.clip_grad_norm_(params, cfg["grad_clip"])
                rate = cfg["lr"] * lr_factor(cfg, step, total_steps)
                for group in opt.param_groups:
                    group["lr"] = rate
                opt.step()
                step += 1
                total += value * len(idx)
                count += len(idx)
                for cb in callbacks:
                    if hasattr(cb, "on_step"):
                        cb.on_step(step, value, net, opt)
                if step % cfg["log_every"] == 0:
                    curve.append({"step": step, "epoch": epoch, "loss": value})
                if time.perf_counter() > deadline:
                    timings["train_s"] = train_s + time.perf_counter() - t
                    return _failed("GS912", f"training exceeded the time cap of {task.budget.time_per_candidate_s:g} s at step {step}",
                                   timings, curve, fix="a smaller model or fewer epochs")
                if max_steps and step >= max_steps:
                    break
            last_loss = total / max(count, 1)
            train_s += time.perf_counter() - t
            t = time.perf_counter()
            val = _evaluate(net, ds.x_val, ds.y_val)
            eval_s += time.perf_counter() - t
            row = {"step": step, "epoch": epoch, "train_loss": last_loss, "val_accuracy": val[0], "val_loss": val[1]}
            curve.append(row)
            for cb in callbacks:
                if hasattr(cb, "on_eval"):
                    cb.on_eval(epoch, step, row)
            if not math.isfinite(val[1]):
                return _failed("GS910", f"the validation loss is {val[1]} after epoch {epoch}", timings, curve, got=str(val[1]))
            if max_steps and step >= max_steps:
                break
        t = time.perf_counter()
        test = _evaluate(net, ds.x_test, ds.y_test)
        eval_s += time.perf_counter() - t
    except MemoryError:
        return _failed("GS911", "an allocation failed while training (out of memory)", timings, curve)
    except RuntimeError as e:
        if "alloc" in str(e).lower() and "memory" in str(e).lower():
            return _failed("GS911", f"an allocation failed while training: {str(e)[:200]}", timings, curve)
        return _failed("GS913", f"training raised RuntimeError: {str(e)[:300]}", timings, curve)
    except GraphsynthError as e:
        return _failed("GS913", f"the candidate could not be lowered: {e}", timings, curve, diags=e.diagnostics)
    except Exception as e:  # noqa: BLE001 - a candidate must never take the loop down
        return _failed("GS913", f"training raised {type(e).__name__}: {str(e)[:300]}", timings, curve)
    timings.update(train_s=train_s, eval_s=eval_s, total_s=time.perf_counter() - t_all)
    metrics = {"val_accuracy": val[0], "val_loss": val[1], "test_accuracy": test[0], "test_loss": test[1],
               "train_loss": last_loss, "steps": step, "params": n_params}
    return TrainResult("trained", metrics, curve, [], timings)


def lr_factor(cfg: dict[str, Any], step: int, total: int) -> float:
    """The multiplier of ``lr`` at 0-based ``step`` of ``total`` (see the module docstring)."""
    warm = cfg.get("warmup_steps", 0) or 0
    factor = min(1.0, (step + 1) / warm) if warm else 1.0
    kind = cfg.get("schedule", "constant")
    if kind == "constant":
        return factor
    p = min(1.0, max(0.0, (step - warm) / max(1, total - warm)))
    if kind == "cosine":
        return factor * 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "linear":
        return factor * (1.0 - p)
    return factor * (0.01 if p >= 0.75 else 0.1 if p >= 0.5 else 1.0)


def _optimizer(net: Any, cfg: dict[str, Any]) -> Any:
    import torch

    params = list(net.parameters())
    if cfg["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    cls = torch.optim.AdamW if cfg["optimizer"] == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])


def _evaluate(net: Any, x: Any, y: Any) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) over a split, in batches of EVAL_BATCH."""
    import torch
    import torch.nn.functional as F

    net.eval()
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(xs), EVAL_BATCH):
            out = net(xs[i:i + EVAL_BATCH])
            loss += float(F.cross_entropy(out, ys[i:i + EVAL_BATCH], reduction="sum"))
            correct += int((out.argmax(dim=1) == ys[i:i + EVAL_BATCH]).sum())
    n = max(len(xs), 1)
    return correct / n, loss / n
