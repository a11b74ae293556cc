"""The graph index every query runs on: values as integers, adjacency as lists, modules as op lists.

Queries must answer in well under 100 ms on a 10k-op graph, and xDSL's linked lists and use
chains are too slow to walk from Python for every question.  So the first query on a graph walks
it once and records:

- every value (graph inputs, parameters, op results) as an integer id in definition order, which
  is a topological order (the verifier checks dominance);
- its printed name (the same names ``print_ir`` writes: the index names values with the
  printer's own :class:`~graphsynth.grammar.printer.GraphPrinter`), its type and the module path
  it belongs to;
- value -> value edges (``succ``/``pred``, an edge for every op input and result), value -> using
  ops (``users``), and per module path the ops inside it, submodules included.

The index is cached on the graph op (an attribute), so it lives exactly as long as the graph.
A graph changed in place after indexing is detected by a cheap fingerprint (its first and last
op, and 32 ops sampled at build time still in place with the same successor); an edit that
keeps all of these needs :func:`invalidate`.  Passes return new modules, so
this only matters to code that mutates a module itself.

Targets (``resolve``) are value names (``%3``, ``x``, ``fc1.weight``; a missing ``%`` is added
when that names a value), module paths from the source model's ``named_modules()`` (``blocks.0``),
a module boundary written ``PATH:in`` or ``PATH:out``, or ``return`` (the graph's results).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import Operation, SSAValue

from graphsynth.diagnostics import GraphsynthError, error
from graphsynth.dialects import gs
from graphsynth.grammar.printer import GraphPrinter


class QueryError(GraphsynthError):
    """A query that cannot be answered (unknown target, no path, budget too small...).

    Codes: GS701 unknown value or module, GS702 no path, GS703 token budget too small,
    GS704 missing or bad symbol binding, GS705 invalid query argument.
    """


def query_error(code: str, message: str, **kw: Any) -> QueryError:
    return QueryError([error(code, message, **kw)])


@dataclass(frozen=True)
class Step:
    """One value on a path or in an answer: its name, the module path it belongs to (the
    module of the op that defines it; for a parameter, the module that owns it by state_dict
    prefix; "" at the top level), its kind (input, param, op) and its type as text."""

    name: str
    module: str
    kind: str
    type: str
    index: int = field(compare=False, default=-1)

    def __str__(self) -> str:
        where = self.module or ("<input>" if self.kind == "input" else "<top>")
        return f"{self.name} @ {where}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "module": self.module, "kind": self.kind, "type": self.type}


@dataclass
class Target:
    """A resolved target: the values it stands for and how it was named."""

    text: str
    kind: str  # "value" | "module" | "return"
    values: list[int]
    module: str | None = None
    side: str | None = None  # for modules: "in" | "out"


class GraphIndex:
    """Adjacency arrays and module tables of one graph (see the module docstring)."""

    def __init__(self, graph: gs.GraphOp):
        self.graph = graph
        self.graph_name = graph.graph_name
        self.table: dict[str, tuple[str, str]] = graph.module_table()
        block = graph.body.block
        printer = GraphPrinter(graph)
        for a, n in zip(block.args, graph.arg_names.data):
            printer._claim(a, n.data, prefix="")
        all_ops = list(block.ops)
        printer._name_block(all_ops)
        self.printer = printer
        step = max(1, len(all_ops) // 32)
        self.samples = [(op, op.next_op) for op in all_ops[::step]]
        self.fingerprint = _fingerprint(graph, self.samples)

        self.values: list[SSAValue] = []
        self.names: list[str] = []
        self.scopes: list[str] = []
        self.kinds: list[str] = []
        self.def_op: list[int] = []
        # Keyed by id(): SSAValue.__hash__ is a Python-level method, and the values are kept
        # alive by self.values, so their ids are stable.
        self.vid: dict[int, int] = {}
        printed = {id(v): n for v, n in printer.names.items()}
        self._chain_cache: dict[str, tuple[str, ...]] = {"": ()}
        self._inside_cache: dict[str, frozenset[str]] = {"": frozenset()}

        def add_value(v: SSAValue, scope: str, kind: str, op_index: int) -> None:
            self.vid[id(v)] = len(self.values)
            self.values.append(v)
            n = printed.get(id(v))
            self.names.append(n if n is not None else printer.name(v))
            self.scopes.append(scope)
            self.kinds.append(kind)
            self.def_op.append(op_index)

        for a in block.args:
            add_value(a, "", "input", -1)
        self.ops: list[Operation] = []
        self.op_scope: list[str] = []
        self.op_ins: list[list[int]] = []
        self.op_outs: list[list[int]] = []
        self.params: list[int] = []
        self.param_kind: dict[int, str] = {}  # "param" | "buffer"
        self.ret_op = -1
        for op in all_ops:
            if isinstance(op, gs.ParamOp):
                self.params.append(len(self.values))
                self.param_kind[len(self.values)] = op.kind.data
                add_value(op.results[0], self._param_owner(op.param_name.data), "param", -1)
                continue
            k = len(self.ops)
            scope = op.properties.get("scope")
            s = scope.data if scope is not None else ""
            self.ops.append(op)
            self.op_scope.append(s)
            ins: list[int] = []
            seen: set[int] = set()
            for v in _operands_deep(op):
                i = self.vid.get(id(v))
                if i is not None and i not in seen:
                    seen.add(i)
                    ins.append(i)
            self.op_ins.append(ins)
            outs = []
            for r in op.results:
                outs.append(len(self.values))
                add_value(r, s, "op", k)
            self.op_outs.append(outs)
            if isinstance(op, gs.ReturnOp):
                self.ret_op = k
        n = len(self.values)
        self.succ: list[list[int]] = [[] for _ in range(n)]
        self.pred: list[list[int]] = [[] for _ in range(n)]
        self.users: list[list[int]] = [[] for _ in range(n)]
        for k, (ins, outs) in enumerate(zip(self.op_ins, self.op_outs)):
            for i in ins:
                self.users[i].append(k)
                for o in outs:
                    self.succ[i].append(o)
            for o in outs:
                self.pred[o].extend(ins)
        self.returned: list[int] = list(self.op_ins[self.ret_op]) if self.ret_op >= 0 else []
        self.by_name: dict[str, int] = {name: i for i, name in enumerate(self.names)}
        # Ops per module path, submodules included, in program order.
        self.module_ops: dict[str, list[int]] = {p: [] for p in self.table}
        for k, s in enumerate(self.op_scope):
            for p in self.chain(s):
                self.module_ops.setdefault(p, []).append(k)
        self.children: dict[str, list[str]] = {}
        for p, (_cls, parent) in self.table.items():
            self.children.setdefault(parent, []).append(p)
        self._boundary: dict[str, tuple[list[int], list[int], list[int]]] = {}
        self._type_text: dict[int, str] = {}
        self._type_keep: list[Any] = []  # keeps the ids above from being reused
        self.cache: dict[str, Any] = {}  # per-query memo (e.g. op costs), dropped with the index

    # -- modules -----------------------------------------------------------------------
    def chain(self, scope: str) -> tuple[str, ...]:
        """Module paths from the outermost down to ``scope`` (by the graph's module table)."""
        c = self._chain_cache.get(scope)
        if c is None:
            out: list[str] = []
            s, seen = scope, set()
            while s and s not in seen:
                seen.add(s)
                out.append(s)
                s = self.table.get(s, ("?", ""))[1]
            c = tuple(reversed(out))
            self._chain_cache[scope] = c
        return c

    def inside(self, scope: str, path: str) -> bool:
        """Is something in module ``scope`` inside module ``path`` (or ``path`` itself)?"""
        s = self._inside_cache.get(scope)
        if s is None:
            s = frozenset(self.chain(scope))
            self._inside_cache[scope] = s
        return path in s

    def _param_owner(self, name: str) -> str:
        """The deepest module of the table whose path prefixes a state_dict key."""
        parts = name.split(".")
        for k in range(len(parts) - 1, 0, -1):
            p = ".".join(parts[:k])
            if p in self.table:
                return p
        return ""

    def boundary(self, path: str) -> tuple[list[int], list[int], list[int]]:
        """(inputs, outputs, params) of module ``path``: inputs are the values defined outside
        it and used inside (parameters apart), outputs the values defined inside and used
        outside or returned by the graph, params the parameters and buffers its ops use."""
        b = self._boundary.get(path)
        if b is not None:
            return b
        ops = self.module_ops.get(path, [])
        inputs: list[int] = []
        params: list[int] = []
        outputs: list[int] = []
        seen: set[int] = set()
        for k in ops:
            for v in self.op_ins[k]:
                if v in seen:
                    continue
                kind = self.kinds[v]
                if kind == "param":
                    seen.add(v)
                    params.append(v)
                elif kind == "input" or not self.inside(self.op_scope[self.def_op[v]], path):
                    seen.add(v)
                    inputs.append(v)
        for k in ops:
            for v in self.op_outs[k]:
                if any(not self.inside(self.op_scope[u], path) for u in self.users[v]):
                    outputs.append(v)
        b = (inputs, outputs, params)
        self._boundary[path] = b
        return b

    # -- values ------------------------------------------------------------------------
    def type_text(self, v: int) -> str:
        t = self.values[v].type
        # Keyed by identity: types are interned, and hashing a TensorType costs microseconds.
        s = self._type_text.get(id(t))
        if s is None:
            s = self._type_text[id(t)] = str(t)
            self._type_keep.append(t)
        return s

    def step(self, v: int) -> Step:
        return Step(self.names[v], self.scopes[v], self.kinds[v], self.type_text(v), v)

    def steps(self, vs: Iterable[int]) -> list[Step]:
        return [self.step(v) for v in vs]

    def op_position(self, v: int) -> int:
        """Program position of the op defining ``v`` (-1 for inputs and parameters)."""
        return self.def_op[v]

    # -- targets -----------------------------------------------------------------------
    def resolve(self, text: str, role: str = "any") -> Target:
        """A target string -> the values it stands for.  ``role`` is "src" (a module means its
        outputs), "dst" (its inputs) or "any" (the module itself; values are its outputs)."""
        if not isinstance(text, str) or not text.strip():
            raise query_error("GS705", f"empty target {text!r}: give a value name (%3, x) or a module path")
        t = text.strip()
        v = self.by_name.get(t)
        if v is None and not t.startswith("%"):
            v = self.by_name.get("%" + t)
        if v is not None:
            return Target(t, "value", [v])
        if t in self.table:
            ins, outs, _ = self.boundary(t)
            side = "in" if role == "dst" else "out"
            return Target(t, "module", ins if side == "in" else outs, module=t, side=side)
        base, sep, side = t.rpartition(":")
        if sep and side in ("in", "out") and base in self.table:
            ins, outs, _ = self.boundary(base)
            return Target(t, "module", ins if side == "in" else outs, module=base, side=side)
        if t == "return":
            return Target(t, "return", list(self.returned))
        raise self.unknown(t)

    def unknown(self, t: str) -> QueryError:
        cands = difflib.get_close_matches(t, [*self.table, *self.names[:20000]], n=3, cutoff=0.6)
        fix = f"did you mean {', '.join(cands)}?" if cands else None
        kinds = "value or module"
        return query_error(
            "GS701",
            f"graph '{self.graph_name}' has no {kinds} '{t}' ({len(self.names)} values, {len(self.table)} modules)",
            value=t,
            fix=fix,
        )


def _operands_deep(op: Operation) -> Iterable[SSAValue]:
    """Operands of ``op`` and of the ops in its regions (a fused region may read outer values)."""
    yield from op.operands
    for region in op.regions:
        for inner in region.walk():
            yield from inner.operands


def _fingerprint(graph: gs.GraphOp, samples: list[tuple[Operation, Operation | None]] | None = None) -> tuple:
    """O(1) evidence that the graph is the one indexed: its first and last ops, and that a
    few ops sampled at build time still sit in the block followed by the same op (counting the
    ops would walk the linked list, ~2 ms per 10k ops, on every query)."""
    block = graph.body.block
    fp: tuple = (id(block.first_op), id(block.last_op))
    if samples:
        fp += tuple(op.parent is block and op.next_op is nxt for op, nxt in samples)
    return fp


# The index is stored on the graph op itself.  A WeakKeyDictionary keyed by the graph would leak:
# the index holds the graph's values, which hold their ops, which hold the graph, and the
# dictionary holds the index strongly, so the key could never die.  As an attribute of the op it
# lives exactly as long as the graph (the cycle is ordinary garbage once the module is dropped).
_ATTR = "_graphsynth_query_index"


def graph_of(module: Any, graph: str | None = None) -> gs.GraphOp:
    """The graph a query runs on: ``module`` itself when it is a graph op, else the graph named
    ``graph`` in the module, else its first graph."""
    if isinstance(module, gs.GraphOp):
        return module
    if isinstance(module, GraphIndex):
        return module.graph
    try:
        graphs = gs.graph_ops(module)
    except AttributeError:
        raise query_error("GS705", f"expected a gs module or graph, got {type(module).__name__}") from None
    if not graphs:
        raise query_error("GS705", "the module holds no graph")
    if graph is None:
        return graphs[0]
    for g in graphs:
        if g.graph_name == graph:
            return g
    names = ", ".join(g.graph_name for g in graphs)
    raise query_error("GS701", f"no graph '{graph}' in the module (graphs: {names})", value=graph)


def index(module: Any, graph: str | None = None) -> GraphIndex:
    """The (cached) index of a module's graph; built on first use, rebuilt when the graph changed."""
    if isinstance(module, GraphIndex):
        return module
    g = graph_of(module, graph)
    ix = g.__dict__.get(_ATTR)
    if ix is None or ix.fingerprint != _fingerprint(g, ix.samples):
        ix = GraphIndex(g)
        g.__dict__[_ATTR] = ix
    return ix


def invalidate(module: Any) -> None:
    """Forget the cached indexes of a module's graphs (after changing them in place)."""
    graphs = [module] if isinstance(module, gs.GraphOp) else gs.graph_ops(module)
    for g in graphs:
        g.__dict__.pop(_ATTR, None)
