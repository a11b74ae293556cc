"""Parent selection over the trained candidates: tournament and Pareto (metric vs parameters).

Both are functions of (candidates, rng), so a run replays and resumes exactly.

- ``tournament``: draw ``sample`` candidates from the population without replacement and keep
  the best by the metric (ties: the earlier candidate), as regularised evolution does.
- ``pareto``: the candidates no other candidate beats on both the metric and the parameter count
  (the front of metric vs params); one of them uniformly at random.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def _key(c: Any, metric: str, maximise: bool) -> tuple[float, int]:
    v = c.metric(metric)
    v = float("-inf") if v is None else (v if maximise else -v)
    return (v, -c.id)


def tournament(pop: Sequence[Any], rng: random.Random, metric: str, maximise: bool, sample: int) -> Any:
    if not pop:
        raise ValueError("empty population")
    drawn = rng.sample(list(pop), min(sample, len(pop)))
    return max(drawn, key=lambda c: _key(c, metric, maximise))


def pareto_front(pop: Sequence[Any], metric: str, maximise: bool) -> list[Any]:
    """Candidates not dominated on (metric, params): better-or-equal on both and better on one."""
    def score(c: Any) -> tuple[float, float]:
        v = c.metric(metric)
        v = float("-inf") if v is None else (v if maximise else -v)
        return v, -(c.params if c.params is not None else float("inf"))

    scored = [(score(c), c) for c in pop]
    front = []
    for s, c in scored:
        if not any(o[0] >= s[0] and o[1] >= s[1] and o != s for o, _ in scored):
            front.append(c)
    return sorted(front, key=lambda c: c.id)


def pareto(pop: Sequence[Any], rng: random.Random, metric: str, maximise: bool, sample: int) -> Any:
    front = pareto_front(pop, metric, maximise)
    if not front:
        raise ValueError("empty population")
    return rng.choice(front)


SELECTIONS = {"tournament": tournament, "pareto": pareto}
