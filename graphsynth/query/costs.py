"""Parameter counts, FLOPs and bytes per module, as expressions of the symbolic dims.

Each op's counts come from the cost formulas it declares (``graphsynth.dialects``: ``flops`` and
``bytes`` on the op class; ``--list-ops`` and :mod:`graphsynth.dialects.cost` say what they
count).  A count is a sum of *terms*, each a product of factors that are dims of the op's operands,
so it prints the way one would write it by hand: ``linear`` from ``f32[B, S, 768]`` to 3072
features is ``2*B*S*768*3072`` (plus ``B*S*3072`` for the bias).  Totals are canonical
polynomials of :mod:`graphsynth.dialects.shapes`; ``bindings`` (``{"B": 2, "S": 128}``) give
numbers.  A total too large to write as one polynomial (the dims' size limit) is a
:class:`~graphsynth.dialects.cost.TooLarge` count: it prints as such and still evaluates at
bindings.  A fused region counts the ops inside it; a ``call`` counts the called graph at the
dims it is called with.  An op whose formula cannot answer (a call of a graph the module does
not hold) counts 0 and is listed in ``CostReport.unknown``.

Bytes are memory traffic: the bytes of every tensor operand read and every result written.

Parameters belong to modules by their state_dict prefix, the way ``module.parameters()``
counts them (a module's count includes its submodules'); buffers are counted apart.  A shared
parameter (``param lm_head.weight: ... = transformer.wte.weight``) counts once in each module
that holds one of its keys, and once in the graph.
"""

from __future__ import annotations

from collections import Counter
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import Operation, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.cost import (
    CostContext,
    Count,
    Term,
    TooLarge,
    Unknown,
    add_counts,
    count_symbols,
    count_value,
    term_value,
    total,
)
from graphsynth.dialects.dtypes import DTYPES
from graphsynth.dialects.limits import LimitError
from graphsynth.dialects.ranges import SymbolRange
from graphsynth.dialects.symdim import SymDim, _poly, numel
from graphsynth.query.graph_index import GraphIndex, index, query_error

__all__ = ["CostReport", "ModuleCost", "OpCost", "cost", "format_terms", "op_terms", "term_value"]


def _factor(d: Any) -> str:
    s = str(d)
    if isinstance(d, int) or (isinstance(d, SymDim) and len(d.terms) == 1 and d.terms[0][1] == 1):
        return s
    return f"({s})"


def format_terms(terms: list[Term]) -> str:
    """``[(2, B, S, 768, 3072)]`` -> ``2*B*S*768*3072``."""
    if not terms:
        return "0"
    return " + ".join("*".join(_factor(f) for f in t) if t else "1" for t in terms)


@dataclass
class OpCost:
    """One op: the value it defines, its op name, module, FLOPs (with the formula's terms) and
    bytes moved."""

    value: str
    op: str
    module: str
    flops: Count
    terms: list[Term]
    known: bool = True
    bytes: Count = 0

    @property
    def formula(self) -> str:
        return format_terms(self.terms)

    def to_dict(self, bindings: dict[str, int] | None = None) -> dict[str, Any]:
        d = {"value": self.value, "op": self.op, "module": self.module, "flops": str(self.flops),
             "formula": self.formula, "known": self.known, "bytes": str(self.bytes)}
        if bindings is not None:
            d["flops_value"] = count_value(self.flops, bindings)
            d["bytes_value"] = count_value(self.bytes, bindings)
        return d


@dataclass
class ModuleCost:
    """A module's totals, submodules included (``path`` "" is the whole graph)."""

    path: str
    cls: str
    params: Count = 0
    buffers: Count = 0
    flops: Count = 0
    ops: int = 0
    flops_value: int | None = None
    params_value: int | None = None
    depth: int = 0  # nesting level in the module tree (the graph is 0)
    bytes: Count = 0
    bytes_value: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.path, "class": self.cls, "params": str(self.params), "buffers": str(self.buffers),
                "flops": str(self.flops), "ops": self.ops, "flops_value": self.flops_value,
                "params_value": self.params_value, "bytes": str(self.bytes), "bytes_value": self.bytes_value}


@dataclass
class CostReport:
    """Per-module parameter counts, FLOPs and bytes; ``unknown`` maps op names whose formula could
    not answer to how often they occur (each counted as 0)."""

    graph: str
    modules: dict[str, ModuleCost]
    unknown: dict[str, int] = field(default_factory=dict)
    bindings: dict[str, int] | None = None
    _ix: Any = field(default=None, repr=False)
    _ops: list[OpCost] | None = field(default=None, repr=False)

    @property
    def ops(self) -> list[OpCost]:
        """Per-op costs in program order (made on first access)."""
        if self._ops is None:
            ix = self._ix
            out = []
            entries, eids = _op_costs(ix)
            for k, i in enumerate(eids):
                e = entries[i]
                if e.op == "return":
                    continue
                outs = ix.op_outs[k]
                out.append(OpCost(ix.names[outs[0]] if outs else "", e.op, ix.op_scope[k], e.flops, e.terms, e.known,
                                  e.bytes))
            self._ops = out
        return self._ops

    @property
    def total(self) -> ModuleCost:
        return self.modules[""]

    def __getitem__(self, path: str) -> ModuleCost:
        if path not in self.modules:
            raise query_error("GS701", f"no module '{path}' in the cost report", value=path)
        return self.modules[path]

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph": self.graph,
            "bindings": self.bindings,
            "modules": [m.to_dict() for m in self.modules.values()],
            "ops": [o.to_dict(self.bindings) for o in self.ops],
            "unknown": self.unknown,
        }

    def table(self, depth: int | None = None) -> str:
        """A text table, one row per module (down to ``depth`` levels), the graph first."""
        rows = [m for m in self.modules.values() if depth is None or m.depth <= depth]
        head = ["module", "class", "params", "FLOPs"]
        if self.bindings is not None:
            head.append("FLOPs @ " + ",".join(f"{k}={v}" for k, v in self.bindings.items()))
        body = []
        for m in rows:
            r = ["  " * max(m.depth - 1, 0) + (m.path or "<graph>"), m.cls, str(m.params), str(m.flops)]
            if self.bindings is not None:
                r.append(f"{m.flops_value:,}" if m.flops_value is not None else "?")
            body.append(r)
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
        if self.unknown:
            lines.append("no FLOP count (counted as 0): " + ", ".join(f"{k} x{v}" for k, v in sorted(self.unknown.items())))
        return "\n".join(lines)


# -- per-op costs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """The cost of one op (shared by ops with the same types and attributes)."""

    terms: list[Term]
    flops: Count
    known: bool
    op: str
    bytes: Count


_RETURN = _Entry([], 0, True, "return", 0)
Callee = Any  # (name) -> (input sigs, flops, bytes) | None


def _context(op: gs.GsOp, callee: Callee) -> CostContext:
    args = [v.type.sig() if isinstance(v, SSAValue) else v for v in op.arg_layout()]
    return CostContext(op.SPEC.name, args, op.attr_values(), [r.type.sig() for r in op.results], callee)


def op_terms(op: Operation, callee: Callee = None) -> tuple[list[Term], bool, str, list[Term]]:
    """(FLOP terms, known, op name, byte terms) of one op, from the formulas its class declares;
    a fused region sums the ops inside it (its bytes are those of its own operands and results:
    the values inside never reach memory)."""
    if isinstance(op, gs.FusedOp):
        terms: list[Term] = []
        known = True
        for inner in op.body.block.ops:
            if isinstance(inner, gs.YieldOp):
                continue
            t, k, _, _ = op_terms(inner, callee)
            terms += t
            known = known and k
        moved = [(DTYPES[v.type.sig().dtype].itemsize, *v.type.shape) for v in (*op.operands, *op.results)]
        return terms, known, "fused", moved
    if not isinstance(op, gs.GsOp):
        return [], True, op.name, []
    spec = op.SPEC
    ctx = _context(op, callee)
    try:
        flops = spec.flops(ctx)
        moved = spec.bytes(ctx)
    except Unknown:
        return [], False, spec.name, []
    return flops, True, spec.name, moved


def _entry(op: Operation, callee: Callee) -> _Entry:
    terms, known, name, moved = op_terms(op, callee)
    return _Entry(terms, total(terms), known, name, total(moved))


def _op_costs(ix: GraphIndex) -> tuple[list[_Entry], list[int]]:
    """Distinct cost entries and, per op, the index of its entry; computed once per index.
    Ops of one class with the same types and attributes share an entry (every block of a
    transformer)."""
    cached = ix.cache.get("op_costs")
    if cached is not None:
        return cached
    callee = _callee_costs(ix)
    entries: list[_Entry] = [_RETURN]
    eids: list[int] = []
    memo: dict[Any, int] = {}
    for op in ix.ops:
        cls = type(op)
        if cls is gs.ReturnOp:
            eids.append(0)
            continue
        key: Any = None
        spec = getattr(cls, "SPEC", None)
        if spec is not None:
            props = op.properties
            key = (cls, tuple(id(v.type) for v in op.operands), tuple(id(r.type) for r in op.results),
                   tuple(props.get(a.name) for a in spec.attrs),
                   tuple(props.get(a.name) for a in spec.args if a.scalar or a.optional))
        e = memo.get(key) if key is not None else None
        if e is None:
            e = len(entries)
            entries.append(_entry(op, callee))
            if key is not None:
                memo[key] = e
        eids.append(e)
    cached = ix.cache["op_costs"] = (entries, eids)
    return cached


# -- calls: the callee's totals, at the dims it is called with -------------------------------------

_CALLEE_STACK: list[str] = []


def _callee_costs(ix: GraphIndex) -> Callee:
    """For a ``call``: the called graph's input sigs and total FLOPs and bytes (None for a graph
    the module does not hold, or one already being costed: a call cycle, which the verifier
    reports)."""
    module = ix.graph.parent_op()

    def lookup(name: str) -> tuple[tuple, Count, Count] | None:
        if module is None or name in _CALLEE_STACK or name == ix.graph_name:
            return None
        graph = next((g for g in gs.graph_ops(module) if g.graph_name == name), None)
        if graph is None:
            return None
        _CALLEE_STACK.append(ix.graph_name)
        try:
            sub = index(module, name)
            mods, _unknown = _totals(sub)
        finally:
            _CALLEE_STACK.pop()
        ins = tuple(a.type.sig() for a in graph.body.block.args)
        return ins, mods[""].flops, mods[""].bytes

    return lookup


# -- totals -------------------------------------------------------------------------------------------


class _Sum:
    """A running sum of counts: polynomial terms in a dict, counts too large for that aside."""

    __slots__ = ("poly", "large")

    def __init__(self) -> None:
        self.poly: dict = {}
        self.large: list[tuple[int, TooLarge]] = []

    def add(self, c: Count, n: int) -> None:
        if isinstance(c, TooLarge):
            self.large.append((n, c))
            return
        for mono, coeff in _poly(c).items():
            self.poly[mono] = self.poly.get(mono, 0) + coeff * n

    def value(self) -> Count:
        try:
            out: Count = SymDim._from_dict(dict(self.poly))
        except LimitError:
            out = TooLarge(tuple((c, _mono_factors(m)) for m, c in self.poly.items() if c))
        for n, big in self.large:
            out = add_counts(out, big, n)
        return out


def _mono_factors(mono: tuple) -> Term:
    factors: list[Any] = []
    for atom, e in mono:
        f = SymDim.symbol(atom) if isinstance(atom, str) else SymDim(((((atom, 1),), 1),))
        factors.extend([f] * e)
    return tuple(factors)


def _totals(ix: GraphIndex) -> tuple[dict[str, ModuleCost], dict[str, int]]:
    """Per-module totals (symbolic, no bindings) and unknown ops; computed once per index."""
    cached = ix.cache.get("totals")
    if cached is not None:
        return cached
    entries, eids = _op_costs(ix)
    # Count (scope, entry) pairs, then accumulate polynomial terms per scope and roll them up
    # the module chain: a dict update per distinct pair, not a SymDim sum per op.
    pairs = Counter(zip(ix.op_scope, eids))
    mods: dict[str, ModuleCost] = {"": ModuleCost("", ix.graph_name)}
    for p, (cls, _parent) in ix.table.items():
        mods[p] = ModuleCost(p, cls, depth=len(ix.chain(p)))
    flops = {p: _Sum() for p in mods}
    moved = {p: _Sum() for p in mods}
    unknown: dict[str, int] = {}
    # Per scope, the modules it adds to: the graph and each enclosing module.
    targets: dict[str, list[str]] = {}
    for (s, i), n in pairs.items():
        e = entries[i]
        if e.op == "return":
            continue
        if not e.known:
            unknown[e.op] = unknown.get(e.op, 0) + n
        tg = targets.get(s)
        if tg is None:
            tg = targets[s] = [p for p in ("", *ix.chain(s)) if p in mods]
        for p in tg:
            mods[p].ops += n
            flops[p].add(e.flops, n)
            moved[p].add(e.bytes, n)
    canon: dict[Any, Count] = {}  # identical blocks have identical totals: build each once
    for p in mods:
        for field_name, acc in (("flops", flops[p]), ("bytes", moved[p])):
            key = (frozenset(acc.poly.items()), tuple((n, id(b)) for n, b in acc.large))
            d = canon.get(key)
            if d is None:
                d = canon[key] = acc.value()
            setattr(mods[p], field_name, d)
    owned: dict[tuple[str, str], Count] = {}
    numels: dict[int, Count] = {}

    def numel_of(t: Any) -> Count:
        n_el = numels.get(id(t))
        if n_el is None:
            try:
                n_el = numel(t.shape)
            except LimitError:
                n_el = TooLarge(((1, tuple(t.shape)),))
            numels[id(t)] = n_el
        return n_el

    shared: list[tuple[int, str]] = []
    for v in ix.params:
        target = getattr(ix.values[v].owner, "alias_of", None)
        if target is not None:
            shared.append((v, target))
            continue
        key = (ix.scopes[v], "buffers" if ix.param_kind[v] == "buffer" else "params")
        owned[key] = add_counts(owned.get(key, 0), numel_of(ix.values[v].type))
    for (owner, field_name), n_el in owned.items():
        for p in ("", *ix.chain(owner)):
            m = mods.get(p)
            if m is not None:
                setattr(m, field_name, add_counts(getattr(m, field_name), n_el))
    # A shared parameter counts once in every module that holds one of its keys (as
    # module.parameters() does), so once in the graph: modules that already hold the parameter it
    # names do not count it again.
    holders: dict[str, set[str]] = {}
    for v in ix.params:
        op = ix.values[v].owner
        if getattr(op, "alias_of", None) is None and hasattr(op, "param_name"):
            holders.setdefault(op.param_name.data, set()).update(("", *ix.chain(ix.scopes[v])))
    for v, target in shared:
        seen = holders.setdefault(target, set())
        field_name = "buffers" if ix.param_kind[v] == "buffer" else "params"
        for p in ("", *ix.chain(ix.scopes[v])):
            m = mods.get(p)
            if m is not None and p not in seen:
                seen.add(p)
                setattr(m, field_name, add_counts(getattr(m, field_name), numel_of(ix.values[v].type)))
    cached = ix.cache["totals"] = (mods, unknown)
    return cached


def _check_bindings(bindings: dict[str, int] | None, needed: set[str],
                    ranges: dict[str, SymbolRange] | None = None) -> dict[str, int] | None:
    if bindings is None:
        return None
    if not isinstance(bindings, dict):
        raise query_error("GS704", f"bindings must map symbol names to integers, got {type(bindings).__name__}")
    for k, v in bindings.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise query_error("GS704", f"binding {k}={v!r}: symbols stand for positive integers", value=str(k))
        declared = (ranges or {}).get(k)
        if declared is not None and not declared.contains(v):
            raise query_error("GS704", f"binding {k}={v}: the graph declares {k}: {declared.text()}", value=str(k),
                              expected=declared.text(), got=str(v))
    missing = sorted(needed - set(bindings))
    if missing:
        raise query_error(
            "GS704",
            f"no value for symbol{'s' if len(missing) > 1 else ''} {', '.join(missing)} (bound: {', '.join(sorted(bindings)) or 'none'})",
            expected=", ".join(sorted(needed)),
            got=", ".join(sorted(bindings)),
            fix="bind every symbol, e.g. " + ",".join(f"{s}=2" for s in sorted(needed)),
        )
    return dict(bindings)


def cost(module: Any, bindings: dict[str, int] | None = None, *, graph: str | None = None) -> CostReport:
    """Parameter counts, FLOPs and bytes of every module of the graph (and of the graph, key "").

    Counts are symbolic (``report["blocks.0"].flops``); with ``bindings`` each module also gets
    ``flops_value``, ``params_value`` and ``bytes_value``.  A symbol left unbound is an error
    (GS704) naming it.
    """
    ix = index(module, graph)
    totals, unknown = _totals(ix)
    mods = {p: copy(m) for p, m in totals.items()}  # the report's own copies
    b = None
    if bindings is not None:
        needed: set[str] = set()
        for d in {id(x): x for m in mods.values() for x in (m.flops, m.params, m.bytes)}.values():
            needed |= count_symbols(d)
        b = _check_bindings(bindings, needed, ix.graph.symbol_ranges())
        values: dict[int, int] = {}
        for m in mods.values():
            for attr in ("flops", "params", "bytes"):
                d = getattr(m, attr)
                v = values.get(id(d))
                if v is None:
                    v = values[id(d)] = count_value(d, b)
                setattr(m, attr + "_value", v)
    return CostReport(ix.graph_name, mods, dict(unknown), b, _ix=ix)
