"""Parameter counts and FLOPs per module, as expressions of the symbolic dims.

FLOPs count one multiply or one add as one FLOP (a multiply-accumulate is 2).  Each op's count is
a sum of *terms*, each a product of factors that are dims of its operands, so it prints the way
one would write it by hand: ``linear`` from ``f32[B, S, 768]`` to 3072 features is
``2*B*S*768*3072`` (plus ``B*S*3072`` for the bias).  Totals are canonical polynomials of
:mod:`graphsynth.dialects.shapes`; ``bindings`` (``{"B": 2, "S": 128}``) give numbers.

Per-op formulas (``out`` is the result shape, ``numel`` its element count):

======================================  =====================================================
linear(x[..., K], W[N, K], b?)          2*...*K*N  (+ ...*N with a bias)
addmm(b, A[M, K], B[K, N])              2*M*K*N + M*N
matmul(A[..., M, K], B)                 2*numel(out)*K
conv1d/conv2d(x, W[Co, Ci/g, k...], b?)  2*numel(out)*(Ci/g)*k...  (+ numel(out) with a bias)
attention(q[.., L, E], k[.., S, E], v)   2*..*L*S*E (q k^T) + 6*..*L*S (scale, softmax)
                                        + 2*..*L*S*Ev (weights @ v) (+ ..*L*S for a mask)
softmax, log_softmax                    5*numel (max, subtract, exp, sum, divide)
layer_norm, group_norm                  5*numel (+ numel for each of weight, bias)
rms_norm                                4*numel (+ numel for the weight)
batch_norm (inference)                  2*numel (+ numel for each of weight, bias)
elementwise ops (add, gelu, where...)   numel (one FLOP per output element)
sum, mean, amax, amin, argmax, cumsum   numel(input);  var: 3*numel(input)
max_pool2d, avg_pool2d                  numel(out)*kh*kw;  adaptive_avg_pool2d: numel(input)
fused regions                           the sum over the ops inside
======================================  =====================================================

Data movement (reshape, permute, slice, concat, embedding, gather, dropout, cast, creation
ops...) counts 0 FLOPs.  Ops without a formula (``interpolate``, unknown ops) count 0 and are
listed in ``CostReport.unknown``.

Parameters belong to modules by their state_dict prefix, the way ``module.parameters()``
counts them (a module's count includes its submodules'); buffers are counted apart.  A shared
parameter (``param lm_head.weight: ... = transformer.wte.weight``) counts once in each module
that holds one of its keys, and once in the graph.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import Operation, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.ranges import SymbolRange
from graphsynth.dialects.shapes import Dim, SymDim, _poly, add, evaluate, free_symbols, mul, numel
from graphsynth.query.graph_index import GraphIndex, index, query_error

Term = tuple  # factors (ints and dims) whose product is a FLOP count

FREE = frozenset(
    "reshape expand permute transpose flatten unsqueeze squeeze concat slice select split index_select gather_rows "
    "index gather pad repeat tril triu embedding arange full full_like constant dropout cast identity".split()
)


def _shape(v: Any) -> tuple[Dim, ...] | None:
    if isinstance(v, SSAValue) and isinstance(v.type, gs.TensorType):
        return v.type.shape
    return None


def _linear(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    x, w = _shape(args[0]), _shape(args[1])
    if x is None or w is None or not x or len(w) != 2:
        return []
    terms: list[Term] = [(2, *x[:-1], x[-1], w[0])]
    if len(args) > 2 and _shape(args[2]) is not None:
        terms.append((*x[:-1], w[0]))
    return terms


def _addmm(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    a, b = _shape(args[1]), _shape(args[2])
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return []
    return [(2, a[0], a[1], b[1]), (a[0], b[1])]


def _matmul(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    a = _shape(args[0])
    if a is None or not a:
        return []
    return [(2, *out, a[-1])]


def _conv(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    w = _shape(args[1])
    if w is None:
        return []
    terms: list[Term] = [(2, *out, *w[1:])]
    if len(args) > 2 and _shape(args[2]) is not None:
        terms.append(tuple(out))
    return terms


def _attention(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    q, k, v = (_shape(a) for a in args[:3])
    if q is None or k is None or v is None or len(q) < 2 or len(k) < 2:
        return []
    batch, L, E, S, Ev = q[:-2], q[-2], q[-1], k[-2], v[-1]
    terms: list[Term] = [(2, *batch, L, S, E), (6, *batch, L, S), (2, *batch, L, S, Ev)]
    has_mask = len(args) > 3 and _shape(args[3]) is not None
    if has_mask or op.attr_values().get("is_causal"):
        terms.append((*batch, L, S))
    return terms


def _scaled(k: int, which: str = "out", affine_from: int = 1) -> Callable[[gs.GsOp, list[Any], tuple], list[Term]]:
    def f(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
        shape = out if which == "out" else _shape(args[0])
        if shape is None:
            return []
        terms: list[Term] = [(k, *shape) if k != 1 else tuple(shape)]
        if affine_from:
            for a in args[affine_from:affine_from + 2]:
                if _shape(a) is not None:
                    terms.append(tuple(shape))
        return terms

    return f


def _pool(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    ks = op.attr_values().get("kernel_size") or ()
    return [(*out, *ks)]


def _elementwise(op: gs.GsOp, args: list[Any], out: tuple) -> list[Term]:
    return [tuple(out)]


FORMULAS: dict[str, Callable[[gs.GsOp, list[Any], tuple], list[Term]]] = {
    "linear": _linear,
    "addmm": _addmm,
    "matmul": _matmul,
    "conv1d": _conv,
    "conv2d": _conv,
    "attention": _attention,
    "softmax": _scaled(5, affine_from=0),
    "log_softmax": _scaled(5, affine_from=0),
    "layer_norm": _scaled(5, "in"),
    "group_norm": _scaled(5, "in"),
    "rms_norm": _scaled(4, "in"),
    "batch_norm": _scaled(2, "in"),
    "sum": _scaled(1, "in", 0),
    "mean": _scaled(1, "in", 0),
    "amax": _scaled(1, "in", 0),
    "amin": _scaled(1, "in", 0),
    "argmax": _scaled(1, "in", 0),
    "cumsum": _scaled(1, "in", 0),
    "var": _scaled(3, "in", 0),
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "adaptive_avg_pool2d": _scaled(1, "in", 0),
}


def term_value(t: Term) -> Dim:
    v: Dim = 1
    for f in t:
        v = mul(v, f)
    return v


def _factor(d: Dim) -> str:
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
    """One op: the value it defines, its op name, module, FLOPs and the formula's terms."""

    value: str
    op: str
    module: str
    flops: Dim
    terms: list[Term]
    known: bool = True

    @property
    def formula(self) -> str:
        return format_terms(self.terms)

    def to_dict(self, bindings: dict[str, int] | None = None) -> dict[str, Any]:
        d = {"value": self.value, "op": self.op, "module": self.module, "flops": str(self.flops),
             "formula": self.formula, "known": self.known}
        if bindings is not None:
            d["flops_value"] = evaluate(self.flops, bindings)
        return d


@dataclass
class ModuleCost:
    """A module's totals, submodules included (``path`` "" is the whole graph)."""

    path: str
    cls: str
    params: Dim = 0
    buffers: Dim = 0
    flops: Dim = 0
    ops: int = 0
    flops_value: int | None = None
    params_value: int | None = None
    depth: int = 0  # nesting level in the module tree (the graph is 0)

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.path, "class": self.cls, "params": str(self.params), "buffers": str(self.buffers),
                "flops": str(self.flops), "ops": self.ops, "flops_value": self.flops_value,
                "params_value": self.params_value}


@dataclass
class CostReport:
    """Per-module parameter counts and FLOPs; ``unknown`` maps op names without a formula to
    how often they occur (each counted as 0 FLOPs)."""

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
                if e[3] == "return":
                    continue
                outs = ix.op_outs[k]
                out.append(OpCost(ix.names[outs[0]] if outs else "", e[3], ix.op_scope[k], e[1], e[0], e[2]))
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
            lines.append("no FLOP formula (counted as 0): " + ", ".join(f"{k} x{v}" for k, v in sorted(self.unknown.items())))
        return "\n".join(lines)


def op_terms(op: Operation) -> tuple[list[Term], bool, str]:
    """(terms, known, op name) for one op; a fused region sums the ops inside it."""
    if isinstance(op, gs.FusedOp):
        terms: list[Term] = []
        known = True
        for inner in op.body.block.ops:
            if isinstance(inner, gs.YieldOp):
                continue
            t, k, _ = op_terms(inner)
            terms += t
            known = known and k
        return terms, known, "fused"
    if not isinstance(op, gs.GsOp):
        return [], True, op.name
    name = op.SPEC.name
    if name in FREE:
        return [], True, name
    out = op.results[0].type.shape if op.results and isinstance(op.results[0].type, gs.TensorType) else ()
    f = FORMULAS.get(name)
    if f is None:
        if op.SPEC.elementwise:
            return _elementwise(op, [], out), True, name
        return [], False, name
    return f(op, op.arg_layout(), out), True, name


Entry = tuple  # (terms, total, known, op name, polynomial items of total)


def _op_costs(ix: GraphIndex) -> tuple[list[Entry], list[int]]:
    """Distinct cost entries and, per op, the index of its entry; computed once per index.
    Ops with the same types and attributes share an entry (every block of a transformer), and
    the per-class facts (free, elementwise, needs its operands) are looked up once per class."""
    cached = ix.cache.get("op_costs")
    if cached is not None:
        return cached
    entries: list[Entry] = [([], 0, True, "return", ())]
    eids: list[int] = []
    memo: dict[Any, int] = {}
    kinds: dict[type, str] = {}
    values, op_outs = ix.values, ix.op_outs
    for k, op in enumerate(ix.ops):
        cls = type(op)
        kind = kinds.get(cls)
        if kind is None:
            spec = getattr(cls, "SPEC", None)
            if cls is gs.ReturnOp:
                kind = "return"
            elif spec is None:
                kind = "other"
            elif spec.name in FREE:
                kind = "free"
            elif spec.elementwise and spec.name not in FORMULAS:
                kind = "ew"
            else:
                kind = "full"
            kinds[cls] = kind
        if kind == "return":
            eids.append(0)
            continue
        key: Any = None
        if kind == "free":
            key = cls
        elif kind == "ew":
            outs = op_outs[k]
            key = (cls, id(values[outs[0]].type)) if outs else None
        elif kind == "full":
            props = op.properties
            spec = cls.SPEC
            key = (cls, tuple(id(v.type) for v in op.operands), tuple(id(r.type) for r in op.results),
                   tuple(props.get(a.name) for a in spec.attrs),
                   tuple(props.get(a.name) is None for a in spec.args if a.scalar or a.optional))
        e = memo.get(key) if key is not None else None
        if e is None:
            terms, known, opname = op_terms(op)
            total: Dim = 0
            for t in terms:
                total = _add(total, term_value(t))
            e = len(entries)
            entries.append((terms, total, known, opname, tuple(_poly(total).items())))
            if key is not None:
                memo[key] = e
        eids.append(e)
    cached = ix.cache["op_costs"] = (entries, eids)
    return cached


def _add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    return add(a, b)


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
    roll: dict[str, dict] = {p: {} for p in mods}
    unknown: dict[str, int] = {}
    # Per scope, the (module, accumulator) pairs it adds to: the graph and each enclosing module.
    targets: dict[str, list[tuple[ModuleCost, dict]]] = {}
    for (s, i), n in pairs.items():
        _terms, _total, known, name, poly = entries[i]
        if name == "return":
            continue
        if not known:
            unknown[name] = unknown.get(name, 0) + n
        tg = targets.get(s)
        if tg is None:
            tg = targets[s] = [(mods[p], roll[p]) for p in ("", *ix.chain(s)) if p in mods]
        for m, dst in tg:
            m.ops += n
            for mono, c in poly:
                dst[mono] = dst.get(mono, 0) + c * n
    canon: dict[frozenset, Dim] = {}  # identical blocks have identical totals: build each once
    for p, acc in roll.items():
        key = frozenset(acc.items())
        d = canon.get(key)
        if d is None:
            d = canon[key] = SymDim._from_dict(dict(acc))
        mods[p].flops = d
    owned: dict[tuple[str, str], Dim] = {}
    numels: dict[int, Dim] = {}
    shared: list[tuple[int, str]] = []
    for v in ix.params:
        target = getattr(ix.values[v].owner, "alias_of", None)
        if target is not None:
            shared.append((v, target))
            continue
        t = ix.values[v].type
        n_el = numels.get(id(t))
        if n_el is None:
            n_el = numels[id(t)] = numel(t.shape)
        key = (ix.scopes[v], "buffers" if ix.param_kind[v] == "buffer" else "params")
        owned[key] = _add(owned.get(key, 0), n_el)
    for (owner, field_name), n_el in owned.items():
        for p in ("", *ix.chain(owner)):
            m = mods.get(p)
            if m is not None:
                setattr(m, field_name, _add(getattr(m, field_name), n_el))
    # A shared parameter counts once in every module that holds one of its keys (as
    # module.parameters() does), so once in the graph: modules that already hold the parameter it
    # names do not count it again.
    holders: dict[str, set[str]] = {}
    for v in ix.params:
        op = ix.values[v].owner
        name = getattr(op, "param_name", None)
        if name is not None and getattr(op, "alias_of", None) is None:
            holders.setdefault(name.data, set()).update(("", *ix.chain(ix.scopes[v])))
    for v, target in shared:
        seen = holders.setdefault(target, set())
        field_name = "buffers" if ix.param_kind[v] == "buffer" else "params"
        n_el = numel(ix.values[v].type.shape)
        for p in ("", *ix.chain(ix.scopes[v])):
            m = mods.get(p)
            if m is not None and p not in seen:
                seen.add(p)
                setattr(m, field_name, _add(getattr(m, field_name), n_el))
    cached = ix.cache["totals"] = (mods, unknown)
    return cached


def cost(module: Any, bindings: dict[str, int] | None = None, *, graph: str | None = None) -> CostReport:
    """Parameter counts and FLOPs of every module of the graph (and of the graph, key "").

    FLOPs are symbolic (``report["blocks.0"].flops``); with ``bindings`` each module also gets
    ``flops_value``.  A symbol left unbound is an error (GS704) naming it.
    """
    ix = index(module, graph)
    totals, unknown = _totals(ix)
    mods = {p: copy(m) for p, m in totals.items()}  # the report's own copies
    b = None
    if bindings is not None:
        needed: set[str] = set()
        for d in {id(x): x for m in mods.values() for x in (m.flops, m.params)}.values():
            needed |= free_symbols(d)
        b = _check_bindings(bindings, needed, ix.graph.symbol_ranges())
        values: dict[int, int] = {}
        for m in mods.values():
            for attr in ("flops", "params"):
                d = getattr(m, attr)
                v = values.get(id(d))
                if v is None:
                    v = values[id(d)] = evaluate(d, b)
                setattr(m, attr + "_value", v)
    return CostReport(ix.graph_name, mods, dict(unknown), b, _ix=ix)
