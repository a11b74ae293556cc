"""The IR graph itself as a picture (``graphsynth-opt --view-op-graph FILE``, as mlir-opt's
``--view-op-graph``): one node per op, graph input and (optionally) parameter, one edge per
use-def dependency, the graph's ``return`` as the sink.

With ``depth=k`` every module nested deeper than ``k`` levels is folded into one node (as
``print_ir(module, depth=k)`` folds it into one line); the modules that stay unfolded are drawn as
nested clusters.  Edges between two ops folded into the same node disappear; parallel edges
between two drawn nodes are drawn once.  A module holding several graphs draws each in a cluster
of its own.  The layout and the engines (DOT source, graphviz's ``dot``, a matplotlib fallback)
are those of the gradient pictures: :mod:`graphsynth.query.picture`.
"""

from __future__ import annotations

from typing import Any

from graphsynth.dialects import gs
from graphsynth.query.graph_index import GraphIndex, graph_of, index
from graphsynth.query.picture import PEdge, Picture, PNode

__all__ = ["op_graph"]

MAX_LABEL = 48


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Builder:
    """Nodes and edges of a picture under construction, in drawing order."""

    def __init__(self, depth: int | None):
        self.depth = depth
        self.nodes: dict[str, PNode] = {}
        self.edges: dict[tuple[str, str], PEdge] = {}

    def add(self, key: str, label: str, kind: str, cluster: list[str]) -> str:
        self.nodes[key] = PNode(key, label, kind, len(self.nodes), None, cluster)
        return key

    def place(self, ix: GraphIndex, prefix: str, outer: list[str], scope: str, key: str, label: str, kind: str) -> str:
        """The node a thing in module ``scope`` is drawn as: its own, or its folded module's."""
        chain = ix.chain(scope)
        if self.depth is not None and len(chain) > self.depth:
            path = chain[self.depth]
            mkey = f"{prefix}module:{path}"
            if mkey not in self.nodes:
                cls = ix.table.get(path, ("?", ""))[0]
                self.add(mkey, _short(path) + "\n" + _short(cls), "module", [*outer, *chain[: self.depth]])
            return mkey
        return self.add(key, label, kind, [*outer, *chain])

    def edge(self, src: str | None, dst: str) -> None:
        if src is not None and src != dst and (src, dst) not in self.edges:
            self.edges[(src, dst)] = PEdge(src, dst, None)


def op_graph(module: Any, depth: int | None = None, *, show_params: bool = False, graph: str | None = None) -> Picture:
    """The nodes and edges of ``module``'s graphs (or of the one named ``graph``), folded below
    ``depth`` (None: nothing folded)."""
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be >= 0 or None, got {depth}")
    graphs = [graph_of(module, graph)] if graph is not None or isinstance(module, gs.GraphOp) else gs.graph_ops(module)
    b = _Builder(depth)
    multi = len(graphs) > 1
    for g in graphs:
        ix = index(g)
        prefix = f"{ix.graph_name}/" if multi else ""
        outer = [f"graph {ix.graph_name}"] if multi else []
        node_of: dict[int, str] = {}
        for v, kind in enumerate(ix.kinds):
            text = _short(ix.names[v]) + "\n" + _short(ix.type_text(v))
            if kind == "input":
                node_of[v] = b.add(f"{prefix}value:{ix.names[v]}", text, "input", list(outer))
            elif kind == "param" and show_params:
                node_of[v] = b.place(ix, prefix, outer, ix.scopes[v], f"{prefix}value:{ix.names[v]}", text, "param")
        for k, op in enumerate(ix.ops):
            outs = ix.op_outs[k]
            if k == ix.ret_op:
                types = ", ".join(ix.type_text(v) for v in ix.op_ins[k])
                dst = b.add(f"{prefix}return", "return\n" + _short(types), "output", list(outer))
            else:
                results = ", ".join(ix.names[v] for v in outs)
                types = ", ".join(dict.fromkeys(ix.type_text(v) for v in outs))
                name = op.name.removeprefix("gs.")
                label = (_short(f"{results} = {name}") if results else name) + ("\n" + _short(types) if types else "")
                dst = b.place(ix, prefix, outer, ix.op_scope[k], f"{prefix}op:{k}", label, "op")
            for v in ix.op_ins[k]:
                b.edge(node_of.get(v), dst)
            for v in outs:
                node_of[v] = dst
    names = ", ".join(g.graph_name for g in graphs)
    where = "all modules unfolded" if depth is None else f"modules folded below depth {depth}"
    return Picture(b.nodes, list(b.edges.values()), f"{names} ({where})", weighted=False, name="ops")
