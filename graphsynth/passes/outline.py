"""``outline{module=PATH}`` and ``inline``: between flat and hierarchical form.

The IR keeps a network's hierarchy flat: one SSA block per graph, each op tagged with the module
path it came from (``scope``) and a module table (see gs.py).  ``outline`` makes a module a graph
of its own and leaves a ``call`` in its place; ``inline`` puts every call's body back.  The two are
inverses: ``inline`` after ``outline`` prints exactly the text the module printed before.

How a module becomes a graph:

- Its ops (those whose scope is the module or one of its submodules) must form a *convex* set
  (no op outside reads one of its values and feeds it back); otherwise one call cannot replace
  them and the pass says which outside op sits on the path (GS406).
- The callee's inputs are the values its ops read from outside, in first-use order: graph inputs,
  results of other ops, and parameters.  Parameters stay where they are, in the caller, and are
  passed in: a called graph is a pure function (``torch.func.functional_call`` style), so the
  caller's ``state_dict`` keys do not change, tied weights need no special case, and two modules
  of the same structure could share one callee.  A parameter under the module's path is named
  by its relative key in the callee (``weight`` for ``fc1.weight``).
- A symbol used inside the module but carried by none of those inputs is bound by passing a graph
  input that carries it as one more (unused) input.
- Its outputs are the module's values read outside it, with their names; the ``call`` op takes
  those names and sits in the module's scope, at the position of the module's last op (outside
  ops in between that read the module's values move after it).  The callee's ops keep their names
  and their absolute scopes, and its module table holds the module (as a root) and its
  submodules, so the callee prints as the same ``module`` block and inlining restores every name,
  scope and table entry as it was.  The callee graph is named after the module path.

The text is identical after ``outline`` then ``inline`` when the module's ops were contiguous in
the block (the printer shows a module as one ``module { }`` block exactly then); otherwise inlining
puts them together at the call's position, which is an equivalent order.

The torch backend lowers a ``call`` to a call of the callee's own GraphModule (held, without
state, under ``_gs_calls``); numerics are those of the flat graph.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from graphsynth.diagnostics import PassError, error
from graphsynth.dialects import gs
from graphsynth.dialects.symdim import free_symbols
from graphsynth.passes.patterns import fresh_name, in_subtree, op_scope, taken_names, value_name
from graphsynth.passes.registry import register

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*"  # a bare name of the text form (gs.lark NAME)


def _fail(code: str, message: str, **kw) -> PassError:
    return PassError("outline", [error(code, f"outline: {message}", origin="outline", **kw)])


class NothingReadOutside(PassError):
    """The module computes nothing that is read outside it: a call would have no results, which
    neither the text form nor a caller can use.  Outlining every module skips such modules."""


def is_call(op: Operation) -> bool:
    return isinstance(op, gs.Call)


def called_names(module: ModuleOp) -> set[str]:
    return {op.attr_values()["callee"] for g in gs.graph_ops(module) for op in g.body.walk() if is_call(op)}


def entry_graph(module: ModuleOp) -> gs.GraphOp | None:
    """The graph no other graph calls (the first one when that is not unique)."""
    graphs = gs.graph_ops(module)
    called = called_names(module)
    roots = [g for g in graphs if g.graph_name not in called]
    return roots[0] if roots else (graphs[0] if graphs else None)


def _operands_deep(op: Operation) -> list[SSAValue]:
    values = list(op.operands)
    for region in op.regions:
        for inner in region.walk():
            values.extend(inner.operands)
    return values


def _label(v: SSAValue) -> str:
    n = value_name(v)
    if n is None:
        return "<unnamed>"
    return "%" + n if isinstance(v.owner, Operation) and not isinstance(v.owner, gs.ParamOp) else n


def _top(op: Operation, block: Block) -> Operation | None:
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


def _non_convex_witness(block: Block, inside: set[Operation]) -> tuple[Operation, Operation] | None:
    """(outside op on a path, member it feeds) when ``inside`` is not convex, else None."""
    tainted: dict[Operation, Operation] = {}  # outside op -> the outside op where the path left
    started = False
    for op in block.ops:
        producers = [_top(v.owner, block) for v in _operands_deep(op) if isinstance(v.owner, Operation)]
        if op in inside:
            started = True
            for p in producers:
                if p in tainted:
                    return tainted[p], op
        elif started:
            for p in producers:
                if p in inside:
                    tainted[op] = op
                    break
                if p in tainted:
                    tainted[op] = tainted[p]
                    break
    return None


def outline_module(module: ModuleOp, graph: gs.GraphOp, path: str) -> gs.GraphOp:
    """Move module ``path`` of ``graph`` into a new graph of ``module``; returns the callee."""
    table = graph.module_table()
    block = graph.body.block
    if path not in table:
        close = difflib.get_close_matches(path, list(table), n=3)
        top = [p for p, (_, parent) in table.items() if not parent]
        raise _fail("GS405", f"graph '{graph.graph_name}' has no module '{path}'", got=path,
                    fix=f"did you mean {', '.join(close)}?" if close else None,
                    notes=[f"top-level modules: {', '.join(top) if top else 'none'}"])
    members = [op for op in block.ops if not isinstance(op, (gs.ParamOp, gs.ReturnOp)) and in_subtree(table, op_scope(op), path)]
    if not members:
        raise _fail("GS406", f"module '{path}' of graph '{graph.graph_name}' has no ops to outline (only parameters, or nothing)")
    inside = set(members)
    witness = _non_convex_witness(block, inside)
    if witness is not None:
        outside, member = witness
        from graphsynth.passes.patterns import describe_op

        where = op_scope(outside) or "the top level"
        raise _fail("GS406", f"module '{path}' cannot become one call: {describe_op(outside)} (in {where}) reads a value of "
                    f"the module and feeds {describe_op(member)} inside it", relation=f"{path} -> {where} -> {path}",
                    fix="outline a module whose values leave it only once they are final")

    # Inputs: what the members read from outside, in first-use order.
    inputs: list[SSAValue] = []
    for op in members:
        for v in _operands_deep(op):
            owner = v.owner
            if isinstance(owner, Operation):
                top = _top(owner, block)
                if top is None or top in inside:
                    continue
            elif owner is not block:
                continue  # a block argument of a region inside a member
            if v not in inputs:
                inputs.append(v)
    # Symbols used inside but carried by no input: pass a graph input that carries them.
    carried: set[str] = set()
    for v in inputs:
        for d in v.type.shape:
            if not isinstance(d, int):
                carried |= free_symbols(d)
    used: set[str] = set()
    for op in members:
        for inner in [op, *[o for r in op.regions for o in r.walk()]]:
            for r in inner.results:
                for d in r.type.shape:
                    if not isinstance(d, int):
                        used |= free_symbols(d)
            if isinstance(inner, gs.GsOp):
                for value in inner.attr_values().values():
                    for d in value if isinstance(value, tuple) else (value,):
                        if not isinstance(d, (int, float, str, bool, type(None))):
                            used |= free_symbols(d)
    for sym in sorted(used - carried):
        carrier = next((a for a in block.args if any(not isinstance(d, int) and sym in free_symbols(d) for d in a.type.shape)), None)
        if carrier is None:
            raise _fail("GS406", f"module '{path}' uses the symbol {sym}, which no graph input carries")
        if carrier not in inputs:
            inputs.append(carrier)
        for d in carrier.type.shape:
            if not isinstance(d, int):
                carried |= free_symbols(d)

    outputs = [r for op in members for r in op.results if any(_top(u.operation, block) not in inside for u in r.uses)]
    if not outputs:
        raise NothingReadOutside("outline", [error(
            "GS406", f"outline: module '{path}' computes nothing that is read outside it (dead code)",
            origin="outline", fix="run 'dce' first")])

    # The callee: same ops, same names, same (absolute) scopes.
    arg_names: list[str] = []
    arg_taken: set[str] = set()
    for i, v in enumerate(inputs):
        n = value_name(v)
        if isinstance(v.owner, gs.ParamOp) and n is not None and n.startswith(path + "."):
            n = n[len(path) + 1:]
        elif n is not None and isinstance(v.owner, Operation) and not isinstance(v.owner, gs.ParamOp):
            n = "in_" + re.sub(r"\W", "_", n)
        if n is None or not re.fullmatch(_NAME, n):
            n = f"in{i}"
        arg_names.append(fresh_name(n, arg_taken))
    body = Block(arg_types=[v.type for v in inputs])
    mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, body.args))
    for op in members:
        clone = op.clone(value_mapper=mapping)
        body.add_op(clone)
        for old, new in zip(op.results, clone.results):
            mapping[old] = new
    body.add_op(gs.ReturnOp.create(operands=[mapping[r] for r in outputs]))
    cls, _parent = table[path]
    sub_entries = [e for e in graph.modules.data if e.data[0].data != path and in_subtree(table, e.data[0].data, path)]
    names = {g.graph_name for g in gs.graph_ops(module)}
    # The module path names the graph; a path the grammar cannot spell as a name ("0" in an
    # nn.Sequential) gets a prefix.  inline restores scopes from the call, never from this name.
    base = path if re.fullmatch(_NAME, path) else "m_" + re.sub(r"\W", "_", path)
    callee_name = fresh_name(base, names)
    callee = gs.GraphOp.create(
        properties={
            "sym_name": StringAttr(callee_name),
            "arg_names": ArrayAttr([StringAttr(n) for n in arg_names]),
            "output_types": ArrayAttr([r.type for r in outputs]),
            "modules": ArrayAttr([ArrayAttr([StringAttr(path), StringAttr(cls), StringAttr("")]), *sub_entries]),
        },
        regions=[Region(body)],
    )

    # The call, in the module's scope, where the module's last op was.
    taken = taken_names(graph)
    out_names = [value_name(r) or fresh_name(f"{path}.out{i}", taken) for i, r in enumerate(outputs)]
    call = gs.make_op(gs.Call, inputs, {"callee": callee_name}, [r.type for r in outputs], names=out_names, scope=path)
    ops = list(block.ops)
    first, last = ops.index(members[0]), ops.index(members[-1])
    block.insert_op_after(call, members[-1])
    anchor: Operation = call
    moving: set[Operation] = set()
    for op in ops[first + 1:last]:
        if op in inside:
            continue
        producers = {_top(v.owner, block) for v in _operands_deep(op) if isinstance(v.owner, Operation)}
        if producers & (inside | moving):
            moving.add(op)
            op.detach()
            block.insert_op_after(op, anchor)
            anchor = op
    for old, new in zip(outputs, call.results):
        old.replace_all_uses_with(new)
    for op in reversed(members):
        block.erase_op(op)
    sub_paths = {e.data[0].data for e in sub_entries}
    graph.properties["modules"] = ArrayAttr([e for e in graph.modules.data if e.data[0].data not in sub_paths])
    module.body.block.add_op(callee)
    return callee


def _bindings(callee: gs.GraphOp, call: gs.GsOp) -> dict:
    """The callee's symbols in terms of the caller's dims (as the ``call`` shape rule binds them);
    empty when every symbol binds to itself (what outline makes)."""
    from graphsynth.dialects.call import bindings_for
    from graphsynth.dialects.symdim import SymDim

    bindings = bindings_for(tuple(a.type.sig() for a in callee.body.block.args), [v.type.sig() for v in call.operands])
    if all(isinstance(d, SymDim) and d == SymDim.symbol(s) for s, d in bindings.items()):
        return {}
    return bindings


def _retype(t, bindings: dict):
    from graphsynth.dialects.call import substitute

    sig = t.sig()
    return gs.tensor_type(tuple(substitute(d, bindings) for d in sig.shape), sig.dtype)


def _instantiate(op: Operation, mapping: dict[SSAValue, SSAValue], bindings: dict) -> Operation:
    """A copy of ``op`` reading ``mapping``'s values, with the callee's symbols replaced by their
    bindings in its types and in its dim-valued attributes."""
    if not bindings:
        return op.clone(value_mapper=mapping)
    from graphsynth.dialects.call import substitute

    props = dict(op.properties)
    if isinstance(op, gs.GsOp):
        kinds = {a.name: a.kind for a in op.SPEC.attrs} | {a.name: "scalar" for a in op.SPEC.args if a.scalar}
        for key, kind in kinds.items():
            attr = props.get(key)
            if attr is None or kind not in ("dim", "dims", "scalar"):
                continue
            value = gs.from_attr(attr)
            if isinstance(value, str) or (isinstance(value, tuple) and any(isinstance(d, str) for d in value)):
                parsed = gs.dim_value(value)
                new = tuple(substitute(d, bindings) for d in parsed) if isinstance(parsed, tuple) else substitute(parsed, bindings)
                props[key] = gs.to_attr(kind, new)
    regions = []
    for region in op.regions:
        old_block = region.block
        block = Block(arg_types=[_retype(a.type, bindings) for a in old_block.args])
        for a, b in zip(old_block.args, block.args):
            mapping[a] = b
        for inner in old_block.ops:
            clone = _instantiate(inner, mapping, bindings)
            block.add_op(clone)
            for r, c in zip(inner.results, clone.results):
                mapping[r] = c
        regions.append(Region(block))
    return type(op).create(
        operands=[mapping.get(v, v) for v in op.operands],
        result_types=[_retype(r.type, bindings) for r in op.results],
        properties=props,
        attributes=dict(op.attributes),
        regions=regions,
    )


def inline_call(module: ModuleOp, graph: gs.GraphOp, call: gs.GsOp) -> None:
    """Replace ``call`` (an op of ``graph``'s block) by a copy of its callee's body."""
    name = call.attr_values()["callee"]
    callee = next((g for g in gs.graph_ops(module) if g.graph_name == name), None)
    if callee is None:
        raise PassError("inline", [error("GS207", f"inline: call of unknown graph '{name}'", op="call", origin="inline")])
    block = graph.body.block
    body = callee.body.block
    if any(isinstance(op, gs.ParamOp) for op in body.ops):
        raise PassError("inline", [error("GS406", f"inline: graph '{name}' declares parameters; only parameter-free graphs (as outline makes them) can be inlined", op="call", origin="inline")])
    mapping: dict[SSAValue, SSAValue] = dict(zip(body.args, call.operands))
    taken = taken_names(graph)
    for n in gs.result_names(call):
        taken.discard(n)
    results: list[SSAValue] = []
    bindings = _bindings(callee, call)
    for op in body.ops:
        if isinstance(op, gs.ReturnOp):
            results = [mapping[v] for v in op.operands]
            break
        clone = _instantiate(op, mapping, bindings)
        names = gs.result_names(clone)
        if any(n is not None for n in names):
            gs.set_result_names(clone, [fresh_name(n, taken) if n is not None else f"{name}.r{k}" for k, n in enumerate(names)])
        if not op_scope(clone) and op_scope(call):
            gs.set_scope(clone, op_scope(call))
        block.insert_op_before(clone, call)
        for old, new in zip(op.results, clone.results):
            mapping[old] = new
    for old, new in zip(call.results, results):
        old.replace_all_uses_with(new)
    block.erase_op(call)
    # The callee's module table joins the caller's, right after the call's module.
    entries = list(graph.modules.data)
    present = {e.data[0].data for e in entries}
    scope = op_scope(call)
    new_entries = []
    for e in callee.modules.data:
        path, cls, parent = (x.data for x in e.data)
        if path in present:
            continue
        new_entries.append(ArrayAttr([StringAttr(path), StringAttr(cls), StringAttr(parent or (scope if scope != path else ""))]))
    at = next((i + 1 for i, e in enumerate(entries) if e.data[0].data == scope), len(entries))
    graph.properties["modules"] = ArrayAttr(entries[:at] + new_entries + entries[at:])


@register
@dataclass(frozen=True)
class OutlinePass(ModulePass):
    """Make a module (module=PATH; default: every top-level module) a graph of its own, called where it was."""

    name = "outline"

    module: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        graph = entry_graph(op)
        if graph is None:
            raise _fail("GS405", "the module holds no graph")
        table = graph.module_table()
        if self.module:
            targets = [self.module]
        else:
            scopes = {op_scope(o) for o in graph.body.block.ops}
            targets = [p for p, (_, parent) in table.items() if not parent and any(in_subtree(table, s, p) for s in scopes)]
        for path in targets:
            try:
                outline_module(op, graph, path)
            except NothingReadOutside:
                if self.module:
                    raise


@register
@dataclass(frozen=True)
class InlinePass(ModulePass):
    """Inline every call (flat form); graphs that were called and no longer are go away."""

    name = "inline"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        callees = called_names(op)
        for _ in range(10_000):
            found = next(((g, c) for g in gs.graph_ops(op) if g.graph_name not in callees
                          for c in g.body.block.ops if is_call(c)), None)
            if found is None:
                break
            inline_call(op, *found)
        else:  # pragma: no cover - the verifier refuses recursive calls before any pass runs
            raise PassError("inline", [error("GS204", "inline: calls do not terminate (recursive graphs)", origin="inline")])
        while True:  # a callee that only a removed callee called goes too
            still = called_names(op)
            gone = [g for g in gs.graph_ops(op) if g.graph_name in callees and g.graph_name not in still]
            if not gone:
                break
            for g in gone:
                op.body.block.erase_op(g)
