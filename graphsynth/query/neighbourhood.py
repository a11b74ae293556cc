"""Producers, consumers and the neighbourhood of a value or module within k hops; the output cone.

One hop is one op: the producers of ``%5`` at distance 1 are the inputs of the op that defines
it (parameters included, they are inputs too), its consumers at distance 1 the results of the
ops that use it.  A module counts as one node: its producers at distance 1 are its inputs and
the parameters its ops use, its consumers at distance 1 the results of the outside ops that use
its outputs; values inside the module are never part of the answer.

The *output cone* is the set of values some graph result depends on (everything from which a
returned value is reachable); the values outside it are dead: nothing returned depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphsynth.query.graph_index import GraphIndex, Step, index, query_error

DIRECTIONS = ("up", "down", "both")


@dataclass(frozen=True)
class Hop:
    """A value found ``distance`` ops away from the target, upstream ("up") or downstream."""

    step: Step
    distance: int
    direction: str

    def __str__(self) -> str:
        arrow = "<-" if self.direction == "up" else "->"
        return f"{arrow}{self.distance} {self.step}: {self.step.type}"

    def to_dict(self) -> dict[str, Any]:
        return {**self.step.to_dict(), "distance": self.distance, "direction": self.direction}


class Neighbourhood(list):
    """The hops found (a list of :class:`Hop`, nearest first, upstream before downstream)."""

    def __init__(self, hops: list[Hop], target: str, k: int, direction: str):
        super().__init__(hops)
        self.target, self.k, self.direction = target, k, direction

    def names(self, direction: str | None = None) -> list[str]:
        return [h.step.name for h in self if direction is None or h.direction == direction]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "k": self.k, "direction": self.direction, "values": [h.to_dict() for h in self]}

    def render(self) -> str:
        head = f"neighbours of {self.target} within {self.k} hop(s) ({self.direction}): {len(self)}"
        return "\n".join([head, *(f"  {h}" for h in self)])


def _bfs(ix: GraphIndex, start: list[int], adj: list[list[int]], k: int, skip: Any, first: int) -> list[tuple[int, int]]:
    """Values reached from ``start`` (at distance ``first``) in at most ``k`` hops, skipping
    ``skip(v)``; returns (value, distance) in BFS order."""
    out: list[tuple[int, int]] = []
    seen = set(start)
    frontier = [v for v in start if not skip(v)]
    for v in frontier:
        out.append((v, first))
    d = first
    while frontier and d < k:
        d += 1
        nxt = []
        for u in frontier:
            for w in adj[u]:
                if w not in seen:
                    seen.add(w)
                    if not skip(w):
                        nxt.append(w)
                        out.append((w, d))
        frontier = nxt
    return out


def neighbours(module: Any, target: str, k: int = 1, direction: str = "both", *, params: bool = True,
               graph: str | None = None) -> Neighbourhood:
    """Values within ``k`` hops of ``target`` (a value or a module), upstream, downstream or
    both; ``params=False`` leaves parameters out of the answer (they still count as hops)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise query_error("GS705", f"k must be a non-negative integer, got {k!r}")
    if direction not in DIRECTIONS:
        raise query_error("GS705", f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    ix = index(module, graph)
    t = ix.resolve(target, "any")
    hops: list[Hop] = []
    if t.kind == "module":
        path = t.module
        assert path is not None
        ins, outs, used_params = ix.boundary(path)

        def inside(v: int) -> bool:
            return ix.kinds[v] == "op" and ix.inside(ix.op_scope[ix.def_op[v]], path)

        up_start, down_start = ins + used_params, [w for o in outs for w in ix.succ[o] if not inside(w)]
        up = _bfs(ix, up_start, ix.pred, k, inside, 1) if k >= 1 else []
        down = _bfs(ix, list(dict.fromkeys(down_start)), ix.succ, k, inside, 1) if k >= 1 else []
    else:
        starts = t.values

        def never(v: int) -> bool:
            return False

        up = [(v, d) for v, d in _bfs(ix, starts, ix.pred, k, never, 0) if d > 0]
        down = [(v, d) for v, d in _bfs(ix, starts, ix.succ, k, never, 0) if d > 0]
    up.sort(key=lambda vd: (vd[1], vd[0]))  # nearest first, then in program order
    down.sort(key=lambda vd: (vd[1], vd[0]))
    if direction in ("up", "both"):
        hops += [Hop(ix.step(v), d, "up") for v, d in up if params or ix.kinds[v] != "param"]
    if direction in ("down", "both"):
        hops += [Hop(ix.step(v), d, "down") for v, d in down]
    return Neighbourhood(hops, target, k, direction)


def producers(module: Any, target: str, k: int = 1, **kw: Any) -> Neighbourhood:
    """What ``target`` reads, up to ``k`` ops back."""
    return neighbours(module, target, k, "up", **kw)


def consumers(module: Any, target: str, k: int = 1, **kw: Any) -> Neighbourhood:
    """What reads ``target``, up to ``k`` ops on."""
    return neighbours(module, target, k, "down", **kw)


class Cone:
    """Values the graph's results depend on (``values``, in program order) and the dead rest;
    steps are made on first access (``names()`` and ``ids`` are cheap)."""

    def __init__(self, ix: GraphIndex, live: list[int], dead: list[int]):
        self._ix = ix
        self.ids = live
        self.dead_ids = dead

    @property
    def values(self) -> list[Step]:
        return self._ix.steps(self.ids)

    @property
    def dead(self) -> list[Step]:
        return self._ix.steps(self.dead_ids)

    def names(self) -> list[str]:
        names = self._ix.names
        return [names[v] for v in self.ids]

    def dead_names(self) -> list[str]:
        names = self._ix.names
        return [names[v] for v in self.dead_ids]

    def to_dict(self) -> dict[str, Any]:
        return {"values": [s.to_dict() for s in self.values], "dead": [s.to_dict() for s in self.dead]}

    def render(self) -> str:
        lines = [f"output cone: {len(self.ids)} values feed the result(s); {len(self.dead_ids)} do not"]
        lines += [f"  dead: {s}: {s.type}" for s in self.dead]
        return "\n".join(lines)


def output_cone(module: Any, outputs: list[str] | None = None, *, graph: str | None = None) -> Cone:
    """The values some result depends on (``outputs``: targets to use instead of the graph's
    results), and the values nothing returned depends on."""
    ix = index(module, graph)
    if outputs is None:
        roots = list(ix.returned)
    else:
        roots = [v for o in outputs for v in ix.resolve(o, "src").values]
    seen = set(roots)
    stack = list(roots)
    while stack:
        u = stack.pop()
        for p in ix.pred[u]:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    live = sorted(seen)
    dead = [v for v in range(len(ix.values)) if v not in seen]
    return Cone(ix, live, dead)
