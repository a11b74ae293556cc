"""All paths and parallel paths between two values or modules.

Definitions (docs/query.md repeats them with a picture):

- An *edge* runs from each input of an op to each of its results; a *path* is a sequence of
  values, each an input of the op defining the next.  The graph is a DAG, so every path is
  simple.  ``paths(m, src, dst)`` lists paths from any value of ``src`` to any value of ``dst``
  (a module as ``src`` stands for its outputs, as ``dst`` for its inputs; the same module as
  both, or ``PATH:in``/``PATH:out``, means across it).
- The listing never enumerates more than it returns: a backward sweep first marks the values
  from which ``dst`` is reachable, so a depth-first walk restricted to them produces a path at
  every leaf; it stops after ``limit`` paths.  The total number of paths is counted exactly by
  dynamic programming in topological order (capped at 10**18, see ``PathSet.total_exact``).
- ``parallel=True`` gives the *parallel branches* between ``src`` and ``dst``: the region of
  values lying on some src->dst path is cut at its *bottlenecks* (the values every path passes
  through: the dominator chain of the destination, from a virtual source feeding ``src`` to a
  virtual sink fed by ``dst``).  Between two consecutive bottlenecks, the branches are a largest
  set of paths sharing no value but their two ends (Menger's theorem; found by unit-capacity
  max-flow with shortest augmenting paths, so shorter branches come first).  Source and
  destination values may be shared by several branches.  Stretches with a single branch are
  joined into one path.  Across a transformer block this yields two groups of two branches:
  residual and attention, then residual and MLP.

``edge_filter(u_name, v_name) -> bool`` drops edges (for callers that weigh or mask edges, such
as gradient-path queries).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphsynth.query.graph_index import GraphIndex, Step, Target, index, query_error

CAP = 10**18
EdgeFilter = Callable[[str, str], bool]


class Path:
    """A path: its steps (values, each with its module), and for parallel branches the group it
    belongs to (branches of one group run between the same two bottleneck values).  Steps are
    made on first access: a listing of long paths costs only their value ids until read."""

    __slots__ = ("_ix", "ids", "group", "_steps")

    def __init__(self, ix: GraphIndex, ids: list[int], group: int | None = None):
        self._ix = ix
        self.ids = ids
        self.group = group
        self._steps: list[Step] | None = None

    @property
    def steps(self) -> list[Step]:
        if self._steps is None:
            self._steps = self._ix.steps(self.ids)
        return self._steps

    def __str__(self) -> str:
        return " -> ".join(str(s) for s in self.steps)

    def __repr__(self) -> str:
        return f"Path({self})"

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    @property
    def names(self) -> list[str]:
        names = self._ix.names
        return [names[v] for v in self.ids]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        if self.group is not None:
            d["group"] = self.group
        return d


@dataclass
class Group:
    """Parallel branches between two bottlenecks (``fork``/``join`` are value names; the
    virtual source and sink are written as the src/dst target text)."""

    fork: str
    join: str
    paths: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"fork": self.fork, "join": self.join, "paths": [p.to_dict() for p in self.paths]}


class PathSet(list):
    """The paths found (a list of :class:`Path`), with what was asked and what was left out:
    ``total`` (all paths, exact up to 10**18; in parallel mode, all branches), ``truncated``
    (``limit`` cut the listing), ``groups`` (parallel mode: the branch groups)."""

    def __init__(self, paths: list[Path], src: str, dst: str, parallel: bool, limit: int, total: int,
                 total_exact: bool, truncated: bool, groups: list[Group] | None = None):
        super().__init__(paths)
        self.src, self.dst, self.parallel, self.limit = src, dst, parallel, limit
        self.total, self.total_exact, self.truncated = total, total_exact, truncated
        self.groups = groups or []

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "src": self.src,
            "dst": self.dst,
            "parallel": self.parallel,
            "limit": self.limit,
            "total": self.total,
            "total_exact": self.total_exact,
            "truncated": self.truncated,
            "paths": [p.to_dict() for p in self],
        }
        if self.parallel:
            d["groups"] = [g.to_dict() for g in self.groups]
        return d

    def render(self) -> str:
        lines = []
        if self.parallel:
            lines.append(f"parallel branches from {self.src} to {self.dst}: {len(self)} in {len(self.groups)} group(s)")
            for gi, g in enumerate(self.groups):
                lines.append(f"group {gi}: {g.fork} => {g.join} ({len(g.paths)} branch{'es' if len(g.paths) != 1 else ''})")
                for p in g.paths:
                    lines.append(f"  {p}")
        else:
            total = f"{self.total}" if self.total_exact else f"more than {CAP}"
            lines.append(f"paths from {self.src} to {self.dst}: {total} in all, {len(self)} listed")
            for i, p in enumerate(self):
                lines.append(f"{i}: {p}")
        if self.truncated:
            lines.append(f"(limit {self.limit} reached; more exist)")
        return "\n".join(lines)


def endpoints(ix: GraphIndex, src: str, dst: str) -> tuple[Target, Target]:
    """Resolve src/dst; the same module on both sides means across it (inputs -> outputs)."""
    s = ix.resolve(src, "src")
    d = ix.resolve(dst, "dst")
    if s.kind == "module" and d.kind == "module" and s.module == d.module and src.strip() == dst.strip():
        ins, outs, _ = ix.boundary(s.module)
        s = Target(f"{s.module}:in", "module", ins, module=s.module, side="in")
        d = Target(f"{s.module}:out", "module", outs, module=s.module, side="out")
    for t in (s, d):
        if not t.values:
            what = f"module {t.module} has no {'inputs' if t.side == 'in' else 'outputs'}" if t.kind == "module" else "nothing is returned"
            raise query_error("GS702", f"{t.text}: {what}", value=t.text)
    return s, d


def _filtered(ix: GraphIndex, edge_filter: EdgeFilter | None) -> Callable[[int], list[int]]:
    if edge_filter is None:
        return ix.succ.__getitem__
    names = ix.names
    memo: dict[int, list[int]] = {}

    def succ(u: int) -> list[int]:
        r = memo.get(u)
        if r is None:
            r = [w for w in ix.succ[u] if edge_filter(names[u], names[w])]
            memo[u] = r
        return r

    return succ


def relevant(ix: GraphIndex, sources: list[int], sinks: list[int], succ: Callable[[int], list[int]],
             filtered: bool = False) -> list[int]:
    """Values on some source->sink path, sorted (topologically).  ``filtered``: ``succ`` drops
    some edges, so a predecessor counts only when its filtered successors include the value."""
    fwd = set(sources)
    stack = list(sources)
    while stack:
        u = stack.pop()
        for w in succ(u):
            if w not in fwd:
                fwd.add(w)
                stack.append(w)
    reach = {d for d in sinks if d in fwd}
    stack = list(reach)
    while stack:
        u = stack.pop()
        for p in ix.pred[u]:
            if p in fwd and p not in reach and (not filtered or u in succ(p)):
                reach.add(p)
                stack.append(p)
    return sorted(reach)


def paths(
    module: Any,
    src: str,
    dst: str,
    parallel: bool = False,
    limit: int = 100,
    *,
    edge_filter: EdgeFilter | None = None,
    graph: str | None = None,
) -> PathSet:
    """Paths from ``src`` to ``dst`` (value names or module paths), at most ``limit`` of them;
    ``parallel=True`` gives the parallel branches instead (see the module docstring)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise query_error("GS705", f"limit must be a positive integer, got {limit!r}")
    ix = index(module, graph)
    s, d = endpoints(ix, src, dst)
    succ = _filtered(ix, edge_filter)
    filtered = edge_filter is not None
    # Sources keep the target's order (a module's inputs by first use): parallel mode prefers
    # branches from the earlier ones.
    sources, sinks = list(dict.fromkeys(s.values)), sorted(set(d.values))
    rel = relevant(ix, sources, sinks, succ, filtered)
    if not rel:
        back = relevant(ix, sinks, sources, succ, filtered) if s.kind == "value" and d.kind == "value" else []
        hint = f"there are paths the other way, from {dst} to {src}" if back else None
        raise query_error("GS702", f"no path from {src} to {dst}", value=dst, fix=hint)
    relset = set(rel)
    if parallel:
        return _parallel(ix, s.text, d.text, sources, sinks, rel, relset, succ, filtered, limit)
    sinkset = set(sinks)
    # Exact count by DP over the relevant values in topological order.
    count: dict[int, int] = {}
    sourceset = set(sources)
    for v in rel:
        c = 1 if v in sourceset else 0
        for p in ix.pred[v]:
            if p in count and (not filtered or v in succ(p)):
                c += count[p]
        count[v] = min(c, CAP)
    total = min(sum(count[x] for x in sinks if x in count), CAP)
    found: list[Path] = []
    for s0 in sources:
        if s0 not in relset:
            continue
        # Iterative DFS over relevant successors; each stack frame is (value, next child index).
        path = [s0]
        kids = {s0: [w for w in succ(s0) if w in relset]}
        stack = [0]
        if s0 in sinkset:
            found.append(Path(ix, list(path)))
        while stack and len(found) < limit:
            u = path[-1]
            i = stack[-1]
            ch = kids[u]
            if i >= len(ch):
                stack.pop()
                path.pop()
                continue
            stack[-1] = i + 1
            w = ch[i]
            if w not in kids:
                kids[w] = [x for x in succ(w) if x in relset]
            path.append(w)
            stack.append(0)
            if w in sinkset:
                found.append(Path(ix, list(path)))
        if len(found) >= limit:
            break
    truncated = total > len(found)
    return PathSet(found, src, dst, False, limit, total, total < CAP, truncated)


# -- parallel branches -----------------------------------------------------------------------

_SRC, _SNK = -1, -2


def _parallel(ix: GraphIndex, src: str, dst: str, sources: list[int], sinks: list[int], rel: list[int],
              relset: set[int], succ: Callable[[int], list[int]], filtered: bool, limit: int) -> PathSet:
    sourceset, sinkset = set(sources), set(sinks)

    def preds(v: int) -> list[int]:
        out = [p for p in ix.pred[v] if p in relset and (not filtered or v in succ(p))]
        if v in sourceset:
            out.append(_SRC)
        return out

    # Immediate dominators from the virtual source, in topological order (DAG: the idom of v is
    # the nearest common dominator-tree ancestor of its predecessors).
    idom: dict[int, int] = {_SRC: _SRC}
    depth: dict[int, int] = {_SRC: 0}
    pos = {v: i + 1 for i, v in enumerate(rel)}
    pos[_SRC] = 0
    pos[_SNK] = len(rel) + 1

    def meet(a: int, b: int) -> int:
        while a != b:
            if depth[a] >= depth[b]:
                a = idom[a]
            else:
                b = idom[b]
        return a

    def dominate(v: int, ps: list[int]) -> None:
        d = ps[0]
        for p in ps[1:]:
            d = meet(d, p)
        idom[v] = d
        depth[v] = depth[d] + 1

    for v in rel:
        dominate(v, preds(v))
    dominate(_SNK, [x for x in sinks if x in relset])
    chain = [_SNK]
    while chain[-1] != _SRC:
        chain.append(idom[chain[-1]])
    chain.reverse()  # _SRC, c1, ..., ck, _SNK

    def name(v: int) -> str:
        return src if v == _SRC else dst if v == _SNK else ix.names[v]

    # Branches of each segment between consecutive bottlenecks.
    segments: list[tuple[int, int, list[list[int]]]] = []
    for a, b in zip(chain, chain[1:]):
        members = rel[pos[a] : pos[b] - 1]  # rel is sorted and pos[rel[i]] == i + 1
        branches = [[a, b]] if not members else _disjoint(a, b, members, sources, sinkset, succ, relset)
        segments.append((a, b, branches))
    # Join consecutive single-branch segments into one series path.
    groups: list[tuple[int, int, list[list[int]]]] = []
    for a, b, br in segments:
        if len(br) == 1 and groups and len(groups[-1][2]) == 1:
            fa, _fb, prev = groups[-1]
            prev[0].extend(br[0][1:])
            groups[-1] = (fa, b, prev)
        else:
            groups.append((a, b, br))
    # Virtual ends are not values; a group left with one-value paths only says nothing.
    real = [(a, b, [[v for v in p if v >= 0] for p in br]) for a, b, br in groups]
    kept = [g for g in real if any(len(p) > 1 for p in g[2])] or real[:1]
    out: list[Path] = []
    gout: list[Group] = []
    truncated = False
    total = sum(len(br) for _a, _b, br in kept)
    for gi, (a, b, br) in enumerate(kept):
        g = Group(name(a), name(b))
        for p in br:
            if len(out) >= limit:
                truncated = True
                break
            path = Path(ix, p, group=gi)
            g.paths.append(path)
            out.append(path)
        if g.paths:
            gout.append(g)
    return PathSet(out, src, dst, True, limit, total, True, truncated, gout)


def _disjoint(a: int, b: int, members: list[int], sources: list[int], sinkset: set[int],
              succ: Callable[[int], list[int]], relset: set[int]) -> list[list[int]]:
    """A largest set of a->b paths through ``members`` sharing no member (sources and sinks
    may be shared), by unit-capacity max-flow on the node-split graph with BFS (shortest)
    augmenting paths.  From the virtual source, the sources are opened one at a time in order,
    so a block's main input wins over a side input (a mask) that reaches the same branch.

    Flat arrays, not dicts of tuples: a long residual stack has one such problem per block."""
    nodes = [a, *members]
    if b not in members:
        nodes.append(b)
    loc = {v: i for i, v in enumerate(nodes)}
    nb = loc[b]
    # Node i splits into in = 2i and out = 2i + 1; edge e and its residual twin e ^ 1.  Edges are
    # appended inline (no helper call): a long residual stack has one such problem per block.
    head: list[list[int]] = [[] for _ in range(2 * len(nodes))]
    to: list[int] = []
    cap: list[int] = []
    INF = 1 << 30
    sourceset = set(sources)
    for i in range(1, len(nodes)):
        if i == nb:
            continue
        v = nodes[i]
        e = len(to)
        head[2 * i].append(e)
        head[2 * i + 1].append(e + 1)
        to += (2 * i + 1, 2 * i)
        cap += (INF if (v in sourceset or v in sinkset) else 1, 0)
    links = len(to)  # edges from here on run out(u) -> in(w)
    for i, u in enumerate(nodes):
        if u == _SRC or i == nb:
            continue
        outs = [loc.get(w) for w in succ(u)]
        if b == _SNK and u in sinkset:
            outs.append(nb)
        x = 2 * i + 1
        hx = head[x]
        for j in outs:
            if j is not None and j != 0:
                e = len(to)
                hx.append(e)
                head[2 * j].append(e + 1)
                to += (2 * j, x)
                cap += (1, 0)

    def edge(x: int, y: int, c: int) -> None:
        head[x].append(len(to))
        to.append(y)
        cap.append(c)
        head[y].append(len(to))
        to.append(x)
        cap.append(0)

    start, end = 1, 2 * nb
    flows = 0
    if a == _SRC:
        for s0 in sources:
            j = loc.get(s0)
            if j is not None and j != 0:
                edge(start, 2 * j, INF)
                flows += _augment(start, end, head, to, cap)
    else:
        flows = _augment(start, end, head, to, cap)
    # Decompose: the flow on a link edge e is the capacity its twin e ^ 1 gained.
    flow = {e: cap[e ^ 1] for e in range(links, len(to), 2) if cap[e ^ 1] > 0}
    branches: list[list[int]] = []
    for _ in range(flows):
        path = [a]
        x = start
        while x != end:
            nxt = next((e for e in head[x] if flow.get(e, 0) > 0), None)
            if nxt is None:
                break
            flow[nxt] -= 1
            j = to[nxt] // 2
            path.append(nodes[j])
            x = 2 * j + 1 if 2 * j != end else end
        if x == end:
            branches.append(path)
    branches.sort(key=len)
    return branches


def _augment(start: int, end: int, head: list[list[int]], to: list[int], cap: list[int]) -> int:
    """Push unit flows along shortest augmenting paths until none is left; returns how many."""
    n = 0
    size = len(head)
    while True:
        prev = [-1] * size
        prev[start] = -2
        q = deque([start])
        while q and prev[end] == -1:
            x = q.popleft()
            for e in head[x]:
                y = to[e]
                if prev[y] == -1 and cap[e] > 0:
                    prev[y] = e
                    q.append(y)
        if prev[end] == -1:
            return n
        y = end
        while y != start:
            e = prev[y]
            cap[e] -= 1
            cap[e ^ 1] += 1
            y = to[e ^ 1]
        n += 1
