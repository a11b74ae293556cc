"""Gradient gain of use-def edges, and the weakest/strongest path between two targets.

Definitions (docs/gradients.md):

- The **gain of an edge** ``u -> v`` (``u`` an operand of the op computing ``v``) is how much a
  gradient arriving at ``v`` is amplified on its way back to ``u`` through that op, averaged over
  directions: with ``J = ∂v/∂u`` at the recorded forward (every other operand held fixed) and
  ``k`` Gaussian probes ``w_i ~ N(0, I)`` shaped like ``v``,
  ``gain(u -> v) = sqrt(Σ_i ‖Jᵀ w_i‖² / Σ_i ‖w_i‖²)``, an estimate of ``‖J‖_F / sqrt(numel(v))``
  (the root-mean-square singular value scaled to ``v``'s size; exact for ``J = c·I``: ``|c|``).
  Each ``Jᵀ w`` is one ``torch.func.vjp`` of the op alone.  ``gain="observed"`` uses the
  recorded gradient instead of probes: ``‖gradient reaching u through the op‖ / ‖∂L/∂(results)‖``.
- The **gain of a path** is the product of its edge gains; with ``dst="loss"`` the path ends at a
  graph output ``o`` and gets one more factor, ``‖∂L/∂o‖`` (the loss's own gradient).
- ``weakest_path``/``strongest_path`` minimise/maximise ``Σ log(gain)`` over all paths from any
  value ``src`` stands for to any value ``dst`` stands for, through differentiable (floating
  point) values only.  The IR is a DAG in definition order, so this is one dynamic-programming
  sweep over the edges between ``src`` and ``dst`` (linear in their number, no path enumeration).

Targets are read as ``graphsynth.query`` reads them: a value name stands for itself; a module
path stands for its outputs as the source and for its inputs as the destination (``PATH:out`` /
``PATH:in`` pick a side); ``return`` is the graph's results and ``loss`` (the default
destination) the results followed by the loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.dialects import gs
from graphsynth.dialects.traits import DataMovement
from graphsynth.grad.graph import LOSS, ValueGraph, fail, math_attention, norm

if TYPE_CHECKING:
    from graphsynth.grad.recorder import Recorder

__all__ = ["GradPath", "Step", "best_path", "corridor_gains"]


@dataclass(frozen=True)
class Step:
    """One value on a path; ``gain`` is that of the edge entering it (None for the first)."""

    value: str
    module: str
    op: str
    gain: float | None = None

    def __str__(self) -> str:
        # The same spelling as graphsynth.query's steps: "%3 @ fc1", "x @ <input>", "%9 @ <top>".
        if self.op == LOSS:
            return LOSS
        return f"{self.value} @ {self.module or ('<input>' if self.op == 'input' else '<top>')}"


class GradPath(list[Step]):
    """A list of :class:`Step`; ``gain`` is the product of the edge gains along it."""

    def __init__(self, steps: list[Step], *, kind: str, estimator: str, log_gain: float,
                 chains: list[list[str]] | None = None):
        super().__init__(steps)
        self.kind = kind
        self.estimator = estimator
        self.log_gain = log_gain
        self._chains = chains or [[] for _ in steps]  # module chain of each step, outermost first

    @property
    def gain(self) -> float:
        return math.exp(self.log_gain) if self.log_gain > -745 else 0.0

    @property
    def log10_gain(self) -> float:
        return self.log_gain / math.log(10) if math.isfinite(self.log_gain) else self.log_gain

    def __str__(self) -> str:
        return " -> ".join(str(s) for s in self)

    def describe(self, depth: int | None = None) -> str:
        """One line per step with the gain of the edge entering it; with ``depth``, consecutive
        steps inside the same module (cut to ``depth`` levels) share one line with the product
        of their gains."""
        lines = [f"{self.kind} path, gain {self.gain:.3e} (log10 {self.log10_gain:.2f}, {self.estimator} gains):"]
        if depth is None:
            for s in self:
                g = "" if s.gain is None else f"  x{s.gain:.3e}"
                lines.append(f"  {str(s):<60} {s.op}{g}")
            return "\n".join(lines)
        for where, steps in self.by_module(depth):
            gain = math.prod(s.gain for s in steps if s.gain is not None)
            ops = ", ".join(s.op for s in steps[:4]) + (", ..." if len(steps) > 4 else "")
            span = steps[0].value if len(steps) == 1 else f"{steps[0].value}..{steps[-1].value}"
            label = LOSS if where == LOSS else f"{span} @ {where or '<top>'}"
            lines.append(f"  {label:<50} {len(steps):>3} step(s)  x{gain:.3e}  ({ops})")
        return "\n".join(lines)

    def by_module(self, depth: int) -> list[tuple[str, list[Step]]]:
        """Runs of consecutive steps in the same module, cut to ``depth`` levels."""
        runs: list[tuple[str, list[Step]]] = []
        for s, chain in zip(self, self._chains):
            where = chain[min(depth, len(chain)) - 1] if chain and depth > 0 else ""
            if s.op == LOSS:
                where = LOSS
            if runs and runs[-1][0] == where:
                runs[-1][1].append(s)
            else:
                runs.append((where, [s]))
        return runs

    def __repr__(self) -> str:
        return f"<GradPath {self.kind} gain={self.gain:.3e}: {self}>"


def _targets(vg: ValueGraph, src: str | None, dst: str | None) -> tuple[list[str], list[str], bool]:
    """(sources, targets, whether the path goes on to the loss)."""
    to_loss = dst in (None, LOSS)
    targets = list(dict.fromkeys(vg.outputs)) if to_loss else vg.resolve(dst, "dst")
    sources = list(vg.values) if src is None else vg.resolve(src, "src")
    return sources, targets, to_loss


def _corridor(vg: ValueGraph, sources: list[str], targets: list[str]) -> tuple[set[str], list[tuple[str, str, int]]]:
    """Float values on some src -> dst path, and the edges between them."""
    edges = [(u, r, i) for u, r, i in vg.edges()
             if u != r and vg.values[u].is_float and vg.values[r].is_float and vg.values[r].node is not None
             and vg.values[u].node is not None]
    fwd: dict[str, list[str]] = {}
    bwd: dict[str, list[str]] = {}
    for u, r, _ in edges:
        fwd.setdefault(u, []).append(r)
        bwd.setdefault(r, []).append(u)

    def reach(start: list[str], nxt: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = [s for s in start if vg.values[s].is_float]
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            stack.extend(nxt.get(x, ()))
        return seen

    keep = reach(sources, fwd) & reach(targets, bwd)
    return keep, [e for e in edges if e[0] in keep and e[1] in keep]


def _exact_gains(rec: Recorder, u: str, op_index: int) -> dict[str, float] | None:
    """Gains known without probes: 1 for ops that only move elements, each at most once
    (``DataMovement(injective=True)``: the Jacobian is an orthogonal matrix, or a selection whose
    transpose pads with zeros), and for an operand of add/sub that has the result's shape (J = ±I)."""
    vg = rec.graph
    op = vg.ops[op_index]
    moves = op.cls.get_trait(DataMovement) if op.cls is not None and hasattr(op.cls, "get_trait") else None
    if moves is not None and moves.injective and len(set(op.operands)) == 1:
        return {r: 1.0 for r in op.results}
    if op.cls in (gs.Add, gs.Sub) and op.operands.count(u) == 1 and len(op.results) == 1:
        x, y = rec.frozen.tensor(u), rec.frozen.tensor(op.results[0])
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.shape == y.shape:
            return {op.results[0]: 1.0}
    return None


def _probe_gains(rec: Recorder, u: str, op_index: int, probes: int, seed: int) -> dict[str, float]:
    """Gains of the edges ``u -> r`` for every float result ``r`` of one op, by random VJPs."""
    key = (u, op_index, probes, seed)
    cached = rec._gains.get(key)
    if cached is not None:
        return cached
    known = _exact_gains(rec, u, op_index)
    if known is not None:
        rec._gains[key] = known
        return known
    vg = rec.graph
    op = vg.ops[op_index]
    frozen = rec.frozen
    x0 = frozen.tensor(u)
    fn = vg.op_function(op, frozen, u)
    try:
        with math_attention():
            outs, vjp_fn = torch.func.vjp(fn, x0)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds; report the op
        raise fail("GS803", f"{op.name}: cannot differentiate {op.results} with respect to {u}: {e}",
                   op=op.name, value=u) from None
    gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + op_index * 7919 + vg.values[u].index)
    gains: dict[str, float] = {}
    for i, r in enumerate(op.results):
        out = outs[i]
        if not (isinstance(out, torch.Tensor) and out.is_floating_point()):
            continue
        ws = torch.randn((probes, *out.shape), generator=gen, dtype=out.dtype).to(out.device)

        def pull(w: torch.Tensor, i: int = i) -> torch.Tensor:
            return vjp_fn([w if j == i else _zero_cot(o) for j, o in enumerate(outs)])[0]

        with math_attention():
            try:  # all probes in one batched product (a batched matmul instead of k of them)
                rows = torch.func.vmap(pull)(ws)
            except Exception:  # noqa: BLE001 - an op without a batching rule: one probe at a time
                rows = torch.stack([pull(w) for w in ws])
        den = norm(ws) ** 2
        gains[r] = math.sqrt(norm(rows) ** 2 / den) if den > 0 else 0.0
    rec._gains[key] = gains
    return gains


def _zero_cot(o: Any) -> Any:
    return torch.zeros_like(o) if isinstance(o, torch.Tensor) else o


def _observed_gains(rec: Recorder, u: str, op_index: int) -> dict[str, float]:
    vg = rec.graph
    op = vg.ops[op_index]
    into_u = norm(rec.edge_grads.get((u, op_index)))
    out = math.sqrt(sum(norm(rec.grad(r)) ** 2 for r in op.results))
    g = into_u / out if out > 0 else 0.0
    return {r: g for r in op.results}


def _edge_gain_fn(rec: Recorder, gain: str, probes: int, seed: int) -> Any:
    if gain == "probe":
        rec._need_forward()
        if probes < 1:
            raise fail("GS805", f"probes must be at least 1, got {probes}")
        return lambda u, r, i: _probe_gains(rec, u, i, probes, seed).get(r, 0.0)
    if gain == "observed":
        rec._need_backward()
        return lambda u, r, i: _observed_gains(rec, u, i).get(r, 0.0)
    raise fail("GS805", f"gain must be 'probe' or 'observed', got {gain!r}")


def corridor_gains(rec: Recorder, src: str | None, dst: str | None, *, gain: str = "probe", probes: int = 4,
                   seed: int = 0) -> dict[tuple[str, str], float]:
    vg = rec.graph
    sources, targets, _ = _targets(vg, src, dst)
    _, edges = _corridor(vg, sources, targets)
    fn = _edge_gain_fn(rec, gain, probes, seed)
    return {(u, r): fn(u, r, i) for u, r, i in edges}


def _log(g: float) -> float:
    return math.log(g) if g > 0 else -math.inf


def best_path(rec: Recorder, src: str, dst: str | None, *, strongest: bool, gain: str = "probe", probes: int = 4,
              seed: int = 0) -> GradPath:
    vg = rec.graph
    sources, targets, to_loss = _targets(vg, src, dst)
    keep, edges = _corridor(vg, sources, targets)
    if not (keep & set(targets)):
        raise fail("GS806", f"no differentiable path from '{src}' to '{dst or LOSS}'",
                   notes=["paths run through floating-point values only; integer and boolean values carry no gradient"])
    fn = _edge_gain_fn(rec, gain, probes, seed)
    terminal: dict[str, float] = {}
    if to_loss:
        rec._need_backward()
        terminal = {t: _log(norm(rec.grad(t))) for t in targets}
    better = (lambda a, b: a > b) if strongest else (lambda a, b: a < b)
    incoming: dict[str, list[tuple[str, int]]] = {}
    for u, r, i in edges:
        incoming.setdefault(r, []).append((u, i))
    best: dict[str, float] = {}
    pred: dict[str, tuple[str, int, float] | None] = {}
    src_set = set(sources)
    for name in sorted(keep, key=lambda n: vg.values[n].index):
        cand: float | None = 0.0 if name in src_set else None
        how: tuple[str, int, float] | None = None
        for u, i in incoming.get(name, ()):
            if u not in best:
                continue
            g = fn(u, name, i)
            score = best[u] + _log(g)
            if cand is None or better(score, cand):
                cand, how = score, (u, i, g)
        if cand is not None:
            best[name], pred[name] = cand, how
    ends = [(best[t] + terminal.get(t, 0.0), t) for t in targets if t in best]
    if not ends:
        raise fail("GS806", f"no differentiable path from '{src}' to '{dst or LOSS}'")
    total, end = ends[0]
    for score, t in ends[1:]:
        if better(score, total):
            total, end = score, t
    steps: list[Step] = []
    cur: str | None = end
    entering: float | None = None
    chain: list[tuple[str, float | None]] = []
    while cur is not None:
        how = pred[cur]
        chain.append((cur, how[2] if how else None))
        cur = how[0] if how else None
    for name, entering in reversed(chain):
        v = vg.values[name]
        op = vg.ops[v.op].name if v.op is not None else v.kind
        steps.append(Step(name, v.scope, op, entering))
    if to_loss:
        steps.append(Step(LOSS, "", "loss", norm(rec.grad(end))))
    chains = [vg.chain(s.module) for s in steps]
    return GradPath(steps, kind="strongest" if strongest else "weakest", estimator=gain, log_gain=total,
                    chains=chains)
