"""The training monitor: cheap per-step recording of what the rules and the pictures read.

:class:`Monitor` is a callback of :func:`graphsynth.train.trainer.train_candidate`.  It records

- every step: the training loss (``loss``) and the learning rate used (``lr``);
- every ``every``-th step (and the first): the gradient norm per module (``grad_norm/PATH``:
  the L2 norm over the gradients of the parameters the module owns, before clipping; ``grad_norm``
  over all parameters), the update-to-weight ratio per parameter (``update_ratio/KEY`` =
  ``||w_after - w_before|| / ||w_before||``, undefined -- not recorded -- while ``w_before`` is 0),
  and the fraction of dead units after each activation (``dead_fraction/%V``);
- every evaluation (each epoch): ``val_accuracy``, ``val_loss``, ``train_loss`` (the epoch's mean
  training loss, from the trainer), and ``train_accuracy``: the running accuracy over the epoch's
  training batches (what Keras's history calls ``acc``, which AUTOTRAINER's rules read), counted by
  the loss function the monitor wraps (:meth:`Monitor.wrap_loss`, as :func:`graphsynth.train.fit`
  does); without that, the accuracy on the first ``train_probe`` training examples in evaluation
  mode.

A *unit* of an activation's output is one position of it apart from the batch dim (a feature, or
a channel at one position); a unit is *dead* on a batch when its output does not change across
the batch's examples (``max - min <= 1e-6 * (1 + |max| + |min|)``): after a rectifier it is zero
for every example and passes no gradient; after a saturating unit it is pinned to a bound.
Batches of fewer than :data:`MIN_DEAD_BATCH` examples are not measured.  Which ops are activations
is asked of :func:`graphsynth.train.activations.is_activation`.

How it stays cheap (the overhead is measured by ``bench/designer.py``; target <= 10% of a step):
the loss and the rate cost nothing (the trainer has them); per-module and per-parameter norms are
one fused ``torch._foreach_norm`` call each on the recorded steps; the activations are read by a
second fx GraphModule over the *same* graph and parameters that also returns the activation values
(no interpreter, no hooks), used for the forward of recorded steps only.  The IR-to-fx mapping,
parameter ownership and data-flow order of modules come from :class:`graphsynth.grad.graph.ValueGraph`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic
from graphsynth.train.errors import warning

MIN_DEAD_BATCH = 8
DEFAULT_EVERY = 10
TRAIN_PROBE = 1024


@dataclass
class Series:
    """One recorded quantity: values at training steps (evaluations are at the step they follow)."""

    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def append(self, step: int, value: float) -> None:
        self.steps.append(int(step))
        self.values.append(float(value))

    def __len__(self) -> int:
        return len(self.values)

    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def to_dict(self) -> dict[str, list[Any]]:
        return {"steps": list(self.steps), "values": [v if math.isfinite(v) else repr(v) for v in self.values]}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Series:
        return Series([int(s) for s in d.get("steps", [])], [float(v) for v in d.get("values", [])])


class Monitor:
    """Records curves while :func:`train_candidate` trains (see the module docstring)."""

    def __init__(self, dataset: Any = None, every: int = DEFAULT_EVERY, train_probe: int = TRAIN_PROBE):
        self.every = max(1, int(every))
        self.dataset = dataset
        self.train_probe = train_probe
        self.curves: dict[str, Series] = {}
        self.meta: dict[str, Any] = {"every": self.every, "modules": [], "params": {}, "activations": {}}
        self.diagnostics: list[Diagnostic] = []
        self.overhead_s = 0.0  # time spent in the monitor's own work during training (hooks, statistics)
        self.setup_s = 0.0  # learning the graph and building the probe module, once per training
        self.recorded_steps = 0
        self._net: Any = None
        self._probe: Any = None
        self._act_names: list[str] = []
        self._params: list[tuple[str, Any]] = []
        self._owner: dict[str, str] = {}
        self._before: list[Any] | None = None
        self._done = 0  # steps completed
        self._correct: list[Any] = []
        self._seen = 0

    # -- helpers --------------------------------------------------------------------------
    def recorded(self, step: int) -> bool:
        return step == 1 or step % self.every == 0

    def _add(self, name: str, step: int, value: float) -> None:
        s = self.curves.get(name)
        if s is None:
            s = self.curves[name] = Series()
        s.append(step, value)

    def wrap_loss(self, fn: Any = None) -> Any:
        """``fn(logits, targets)`` (default cross-entropy) that also counts the training batches'
        correct predictions, for ``train_accuracy``."""
        import torch
        import torch.nn.functional as F

        base = fn or F.cross_entropy

        def loss(out: Any, y: Any) -> Any:
            value = base(out, y)
            if torch.is_grad_enabled():
                t = time.perf_counter()
                self._correct.append(torch.eq(out.argmax(dim=1), y).sum())
                self._seen += y.shape[0]
                self.overhead_s += time.perf_counter() - t
            return value

        return loss

    # -- callbacks ------------------------------------------------------------------------
    def on_start(self, net: Any, module: Any, optimizer: Any) -> None:
        """Learn the graph (once per training; ``setup_s`` of the overhead)."""
        t = time.perf_counter()
        self._net = net
        self._params = [(k, p) for k, p in net.named_parameters() if p.requires_grad]
        try:
            self._describe(net, module)
        except Exception as e:  # noqa: BLE001 - recording never stops training
            self.diagnostics.append(warning("GS928", f"monitor: per-module statistics unavailable ({type(e).__name__}: {str(e)[:200]}); "
                                                     "recording losses and per-parameter norms only"))
            self._owner = {k: k.rpartition(".")[0] or k for k, _ in self._params}
            self.meta["modules"] = list(dict.fromkeys(self._owner.values()))
            self.meta["params"] = dict(self._owner)
        self.setup_s = time.perf_counter() - t

    def _describe(self, net: Any, module: Any) -> None:
        """Parameter owners, modules in data-flow order, activations and the probe module."""
        from graphsynth.dialects import gs
        from graphsynth.grad.graph import ValueGraph
        from graphsynth.train.activations import is_activation

        vg = ValueGraph(net, module)
        first_use: dict[str, int] = {}
        for k, _ in self._params:
            owner = vg._owner(k) if k in vg.values else ""
            self._owner[k] = owner or (k.rpartition(".")[0] or k)
            uses = vg.consumers.get(k, [])
            m = self._owner[k]
            first_use[m] = min(first_use.get(m, 1 << 30), min(uses) if uses else 1 << 30)
        self.meta["params"] = dict(self._owner)
        self.meta["modules"] = sorted(first_use, key=lambda m: (first_use[m], m))
        acts: dict[str, dict[str, str]] = {}
        for op in vg.graph_op.body.block.ops:
            if isinstance(op, gs.GsOp) and is_activation(op):
                for name in gs.result_names(op):
                    if name is None:
                        continue
                    v = vg.values.get("%" + name)
                    if v is not None and v.node is not None and v.is_float and v.name not in vg.alias:
                        acts[v.name] = {"op": op.name.removeprefix("gs."), "module": v.scope, "node": v.node}
        self.meta["activations"] = {k: {"op": a["op"], "module": a["module"]} for k, a in acts.items()}
        if acts:
            self._act_names = list(acts)
            self._probe = _probe_module(net, [acts[k]["node"] for k in self._act_names])
            net.__dict__["forward"] = self._forward

    def _forward(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        net = self._net
        if self._probe is None or not torch.is_grad_enabled() or not self.recorded(self._done + 1):
            return type(net).forward(net, *args, **kwargs)
        out, acts = self._probe(*args, **kwargs)
        t = time.perf_counter()
        step = self._done + 1
        with torch.no_grad():
            fractions = []
            names = []
            for name, a in zip(self._act_names, acts):
                if not isinstance(a, torch.Tensor) or a.dim() < 1 or a.shape[0] < MIN_DEAD_BATCH:
                    continue
                lo, hi = torch.aminmax(a.detach().reshape(a.shape[0], -1), dim=0)
                dead = (hi - lo) <= 1e-6 * (1 + hi.abs() + lo.abs())
                fractions.append(dead.float().mean())
                names.append(name)
            if fractions:
                for name, f in zip(names, torch.stack(fractions).tolist()):
                    self._add(f"dead_fraction/{name}", step, f)
        self.overhead_s += time.perf_counter() - t
        return out

    def on_backward(self, step: int, net: Any, optimizer: Any) -> None:
        if not self.recorded(step):
            return
        import torch

        t = time.perf_counter()
        with torch.no_grad():
            grads = [(k, p.grad) for k, p in self._params if p.grad is not None]
            if grads:
                norms = torch.stack(torch._foreach_norm([g for _, g in grads])).tolist()
                per_module: dict[str, float] = {}
                total = 0.0
                for (k, _), n in zip(grads, norms):
                    m = self._owner.get(k, k)
                    per_module[m] = per_module.get(m, 0.0) + n * n
                    total += n * n
                for m, sq in per_module.items():
                    self._add(f"grad_norm/{m}", step, math.sqrt(sq))
                self._add("grad_norm", step, math.sqrt(total))
            self._before = [p.detach().clone() for _, p in self._params]
        self.recorded_steps += 1
        self.overhead_s += time.perf_counter() - t

    def on_step(self, step: int, loss: float, net: Any, optimizer: Any) -> None:
        t = time.perf_counter()
        self._done = step
        self._add("loss", step, loss)
        self._add("lr", step, float(optimizer.param_groups[0]["lr"]))
        if self._before is not None:
            import torch

            with torch.no_grad():
                now = [p.detach() for _, p in self._params]
                deltas = torch._foreach_sub(now, self._before)
                d = torch.stack(torch._foreach_norm(deltas)).tolist()
                w = torch.stack(torch._foreach_norm(self._before)).tolist()
            for (k, _), dn, wn in zip(self._params, d, w):
                if wn > 0 and math.isfinite(wn):
                    self._add(f"update_ratio/{k}", step, dn / wn)
            self._before = None
        self.overhead_s += time.perf_counter() - t

    def on_eval(self, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        t = time.perf_counter()
        for k in ("val_accuracy", "val_loss", "train_loss"):
            v = metrics.get(k)
            if isinstance(v, (int, float)):
                self._add(k, step, float(v))
        if self._seen:
            import torch

            self._add("train_accuracy", step, float(torch.stack(self._correct).sum()) / self._seen)
            self._correct, self._seen = [], 0
        elif self.dataset is not None and self._net is not None:
            acc, loss = _accuracy(self._net, self.dataset.x_train[: self.train_probe], self.dataset.y_train[: self.train_probe])
            self._add("train_accuracy", step, acc)
        self.overhead_s += time.perf_counter() - t

    def close(self) -> None:
        """Give the net its own forward back."""
        if self._net is not None and self._net.__dict__.get("forward") == self._forward:
            del self._net.__dict__["forward"]


def _probe_module(net: Any, nodes: list[str]) -> Any:
    """A GraphModule over the same parameters as ``net`` whose forward returns ``(output,
    (activation values...))``."""
    from torch import fx

    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    out = graph.graph_copy(net.graph, env)
    by_name = {n.name: n for n in net.graph.nodes}
    extras = tuple(env[by_name[n]] for n in nodes)
    graph.output((out, extras))
    return fx.GraphModule(net, graph)


def _accuracy(net: Any, x: Any, y: Any) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    if len(x) == 0:
        return float("nan"), float("nan")
    with torch.no_grad():
        xs, ys = torch.from_numpy(x), torch.from_numpy(y)
        out = type(net).forward(net, xs)
        return float((out.argmax(dim=1) == ys).float().mean()), float(F.cross_entropy(out, ys))
