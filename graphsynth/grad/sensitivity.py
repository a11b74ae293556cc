"""How strongly every value responds to perturbing one input feature (forward-mode JVP).

``sensitivity(inputs, feature)`` runs the graph at ``inputs``, then pushes one tangent ``t``
through it with ``torch.func.jvp``: the tangent at the perturbed value is ``t`` (a one-hot at
``feature``'s index, or a direction you give), and every value ``v`` gets its directional
derivative ``∂v/∂ε`` of ``v(x + ε t)`` at ``ε = 0``.  The score of ``v`` is ``‖∂v/∂ε‖₂``;
values that do not depend on the perturbed one score exactly 0.  The ranking answers "which part
of the model responds most when feature X moves"; a module's score is the L2 norm over the
scores of the op results computed inside it.

Features: ``("x", 3)``, ``("x", (0, 3))``, ``("x", (..., 3))`` (feature 3 of every row: numpy
indexing into a one-hot tangent), ``("x", direction_tensor)``, or a bare tensor (a direction
for the graph's only floating-point input).  Any floating-point IR value can be the perturbed
one (``("%0", (..., 5))`` perturbs the embedding output of a language model, whose token-id
input cannot be perturbed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from graphsynth.grad.graph import ValueGraph, fail, math_attention, norm
from graphsynth.grad.jacobian import prepared_run, substituted

__all__ = ["Sensitivity", "SensitivityEntry", "sensitivity"]


@dataclass(frozen=True)
class SensitivityEntry:
    value: str
    module: str
    op: str
    score: float  # ‖∂value/∂ε‖₂

    def __str__(self) -> str:
        return f"{self.value} @ {self.module or ('<input>' if self.op == 'input' else '<top>')}"


class Sensitivity(list[SensitivityEntry]):
    """Entries for every floating-point value, largest response first."""

    def __init__(self, entries: list[SensitivityEntry], feature: str, module_scores: dict[str, float]):
        super().__init__(entries)
        self.feature = feature
        self.module_scores = module_scores
        self.scores = {e.value: e.score for e in entries}

    def top(self, k: int = 10) -> list[SensitivityEntry]:
        return list(self[:k])

    def modules(self) -> list[tuple[str, float]]:
        """Modules by score, largest first."""
        return sorted(self.module_scores.items(), key=lambda kv: -kv[1])

    def describe(self, k: int = 10) -> str:
        lines = [f"sensitivity to {self.feature} (‖∂v/∂ε‖, largest first):"]
        lines += [f"  {str(e):<50} {e.op:<14} {e.score:.3e}" for e in self.top(k)]
        return "\n".join(lines)


def _feature(vg: ValueGraph, frozen: Any, feature: Any) -> tuple[str, torch.Tensor, str]:
    """(value name, tangent, description)."""
    if isinstance(feature, torch.Tensor):
        floats = [v for v in vg.values.values() if v.kind == "input" and v.is_float]
        if len(floats) != 1:
            raise fail("GS803", f"a bare direction tensor needs exactly one floating-point graph input, "
                                f"the graph has {len(floats)}; pass (name, direction)")
        feature = (floats[0].name, feature)
    if not (isinstance(feature, tuple) and len(feature) == 2 and isinstance(feature[0], str)):
        raise fail("GS803", f"feature must be (value, index) or (value, direction tensor), got {feature!r}")
    name, where = feature
    v = vg.value(name)
    if not v.is_float:
        raise fail("GS803", f"{v.name} has dtype {v.dtype} and cannot be perturbed; perturb a floating-point value "
                            "computed from it instead (e.g. an embedding output)", value=v.name)
    x0 = frozen.tensor(v.name)
    if not isinstance(x0, torch.Tensor):
        raise fail("GS803", f"{v.name} is never computed by the lowered graph", value=v.name)
    if isinstance(where, torch.Tensor):
        if tuple(where.shape) != tuple(x0.shape):
            raise fail("GS803", f"direction for {v.name} has shape {list(where.shape)}, the value has "
                                f"{list(x0.shape)}", value=v.name, expected=str(list(x0.shape)),
                       got=str(list(where.shape)))
        return v.name, where.to(x0.dtype), f"{v.name} along a given direction"
    tangent = torch.zeros_like(x0)
    try:
        tangent[where] = 1
    except (IndexError, TypeError, RuntimeError) as e:
        raise fail("GS803", f"index {where!r} does not fit {v.name} of shape {list(x0.shape)}: {e}",
                   value=v.name) from None
    if not tangent.any():
        raise fail("GS803", f"index {where!r} selects no element of {v.name}", value=v.name)
    return v.name, tangent, f"{v.name}[{_fmt_index(where)}]"


def _fmt_index(where: Any) -> str:
    items = where if isinstance(where, tuple) else (where,)
    return ", ".join("..." if i is Ellipsis else (":" if isinstance(i, slice) else str(i)) for i in items)


def sensitivity(vg: ValueGraph, inputs: Any, feature: Any) -> Sensitivity:
    args = vg.normalise_inputs(inputs)
    frozen = prepared_run(vg, args)
    name, tangent, desc = _feature(vg, frozen, feature)
    want = [v.name for v in vg.values.values() if v.is_float and v.node is not None]
    active = vg.descendants([vg.values[name].node])
    fn = substituted(vg, frozen, args, name, active, want)
    try:
        with math_attention():
            _, tangents = torch.func.jvp(fn, (frozen.tensor(name),), (tangent,))
    except NotImplementedError as e:
        raise fail("GS803", f"forward-mode AD is not available for an op on the way: {str(e).splitlines()[0]}") from None
    scores = {w: norm(t) for w, t in zip(want, tangents)}
    entries = []
    for w in want:
        v = vg.values[w]
        op = vg.ops[v.op].name if v.op is not None else v.kind
        entries.append(SensitivityEntry(w, v.scope, op, scores[w]))
    entries.sort(key=lambda e: (-e.score, vg.values[e.value].index))
    module_scores = {}
    for path in vg.modules:
        members = [n for n in vg.module_values(path) if vg.values[n].kind == "op" and n in scores]
        module_scores[path] = math.sqrt(sum(scores[n] ** 2 for n in members))
    return Sensitivity(entries, desc, module_scores)
