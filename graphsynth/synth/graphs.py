"""Structural helpers the mutations share: module boundaries, edges, copying and removing modules.

They work on the one graph of a candidate (a ``gs.graph`` in a ``builtin.module``) in place, and
leave verification to the caller: a mutation is judged by the verifier like any other proposal.
A *simple* module has one input value and one output value (parameters aside), no parameter
shared with ops outside it, and nothing else read from outside: such a module can be copied,
swapped for another with the same types, bypassed or wrapped in a residual connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import ArrayAttr, StringAttr
from xdsl.ir import Block, Operation, SSAValue

from graphsynth.dialects import gs
from graphsynth.passes.patterns import fresh_name, in_subtree, op_scope, taken_names, value_name


class Inapplicable(Exception):
    """The mutation has no site in this graph (or the chosen site does not fit)."""


def the_graph(module: object) -> gs.GraphOp:
    graphs = gs.graph_ops(module)
    if len(graphs) != 1:
        raise Inapplicable(f"expected one graph, found {len(graphs)}")
    return graphs[0]


def _param_op(v: SSAValue) -> gs.ParamOp | None:
    return v.owner if isinstance(v.owner, gs.ParamOp) else None


def top_level(op: Operation, block: Block) -> Operation | None:
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


@dataclass
class ModuleInfo:
    """A module's ops (program order), its external inputs and outputs and its own parameters."""

    path: str
    ops: list[Operation]
    inputs: list[SSAValue]
    outputs: list[SSAValue]
    params: list[gs.ParamOp]
    shared_params: bool

    @property
    def simple(self) -> bool:
        return len(self.inputs) == 1 and len(self.outputs) == 1 and not self.shared_params and bool(self.ops)

    @property
    def same_type(self) -> bool:
        return self.simple and self.inputs[0].type == self.outputs[0].type


def module_info(graph: gs.GraphOp, path: str) -> ModuleInfo:
    table = graph.module_table()
    block = graph.body.block
    ops = [op for op in block.ops if not isinstance(op, (gs.ParamOp, gs.ReturnOp)) and in_subtree(table, op_scope(op), path)]
    inside = set(ops)
    inputs: list[SSAValue] = []
    params: list[gs.ParamOp] = []
    for op in ops:
        for inner in op.walk():
            for v in inner.operands:
                p = _param_op(v)
                if p is not None:
                    if p not in params:
                        params.append(p)
                    continue
                owner = v.owner
                top = top_level(owner, block) if isinstance(owner, Operation) else None
                if isinstance(owner, Operation) and (top in inside or top is None and owner.parent_op() in inside):
                    continue
                if isinstance(owner, Block) and owner is not block:
                    continue  # a region argument of a fused op inside the module
                if v not in inputs:
                    inputs.append(v)
    outputs: list[SSAValue] = []
    for op in ops:
        for r in op.results:
            if any(top_level(u.operation, block) not in inside for u in r.uses):
                outputs.append(r)
    shared = any(top_level(u.operation, block) not in inside for p in params for u in p.results[0].uses)
    return ModuleInfo(path, ops, inputs, outputs, params, shared)


def modules(graph: gs.GraphOp) -> list[ModuleInfo]:
    return [module_info(graph, p) for p in graph.module_table()]


def edges(graph: gs.GraphOp) -> list[tuple[str, str, str]]:
    """(module A, module B, value) for every value computed in A and read in B, A and B disjoint:
    the places ``insert-block`` can put a block."""
    table = graph.module_table()
    block = graph.body.block
    out: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    chains = {p: _chain(table, p) for p in table}
    for op in block.ops:
        reader = op_scope(op)
        if not reader:
            continue
        for v in op.operands:
            owner = v.owner
            if not isinstance(owner, Operation) or isinstance(owner, gs.ParamOp):
                continue
            writer = op_scope(owner)
            name = value_name(v)
            if not writer or name is None:
                continue
            for a in chains.get(writer, []):
                for b in chains.get(reader, []):
                    if a == b or in_subtree(table, b, a) or in_subtree(table, a, b):
                        continue
                    key = (a, b, name)
                    if key not in seen:
                        seen.add(key)
                        out.append(key)
    return out


def _chain(table: dict[str, tuple[str, str]], scope: str) -> list[str]:
    out = []
    while scope and scope not in out:
        out.append(scope)
        scope = table.get(scope, ("", ""))[1]
    return out


def fresh_path(graph: gs.GraphOp, base: str) -> str:
    """A module path (top level) that is neither a module nor a parameter prefix yet."""
    table = graph.module_table()
    keys = {o.param_name.data for o in graph.body.block.ops if isinstance(o, gs.ParamOp)}
    k = 0
    while True:
        path = f"{base}{k}"
        if path not in table and not any(key == path or key.startswith(path + ".") for key in keys):
            return path
        k += 1


def _rename(path: str, old: str, new: str) -> str:
    return new + path[len(old):] if path == old or path.startswith(old + ".") else path


def copy_module(src: gs.GraphOp, info: ModuleInfo, dst: gs.GraphOp, new_path: str, input_value: SSAValue,
                before: Operation | None, parent: str) -> tuple[SSAValue, list[Operation]]:
    """Copy simple module ``info`` of ``src`` into ``dst`` as ``new_path`` (under ``parent``),
    reading ``input_value``; the ops go before ``before`` (or at the end, before the return).
    Parameters are copied with their declarations (``init`` included) under the new path.
    Returns the copy's output value and its ops."""
    if not info.simple:
        raise Inapplicable(f"module '{info.path}' is not simple")
    block = dst.body.block
    taken = taken_names(dst)
    mapper: dict[SSAValue, SSAValue] = {info.inputs[0]: input_value}
    params = [op for op in block.ops if isinstance(op, gs.ParamOp)]
    anchor: Operation | None = params[-1] if params else None
    for p in info.params:
        name = p.param_name.data
        new_name = _rename(name, info.path, new_path)
        if new_name == name:
            new_name = f"{new_path}.{name.replace('.', '_')}"
        q = p.clone()
        q.properties["name"] = StringAttr(new_name)
        if anchor is None:
            block.insert_op_before(q, block.first_op)
        else:
            block.insert_op_after(q, anchor)
        anchor = q
        mapper[p.results[0]] = q.results[0]
    ret = block.last_op
    where = before if before is not None else ret
    new_ops: list[Operation] = []
    for op in info.ops:
        q = op.clone(mapper)
        scope = op_scope(op)
        if scope:
            q.properties["scope"] = StringAttr(_rename(scope, info.path, new_path))
        names = [fresh_name(n or "v", taken) if n else None for n in gs.result_names(op)]
        if any(n is not None for n in names):
            gs.set_result_names(q, [n or fresh_name("v", taken) for n in names])
        block.insert_op_before(q, where)
        new_ops.append(q)
    table = src.module_table()
    entries = list(dst.modules.data)
    for p, (cls, par) in table.items():
        if in_subtree(table, p, info.path):
            entries.append(ArrayAttr([StringAttr(_rename(p, info.path, new_path)), StringAttr(cls),
                                      StringAttr(parent if p == info.path else _rename(par, info.path, new_path))]))
    dst.properties["modules"] = ArrayAttr(entries)
    return mapper[info.outputs[0]], new_ops


def redirect(old: SSAValue, new: SSAValue, keep: set[Operation], block: Block) -> None:
    """Uses of ``old`` by top-level ops outside ``keep`` now read ``new``."""
    old.replace_uses_with_if(new, lambda use: top_level(use.operation, block) not in keep)


def erase_module(graph: gs.GraphOp, info: ModuleInfo) -> None:
    """Erase a module whose outputs are no longer used: its ops, its parameters, its entries."""
    for op in reversed(info.ops):
        op.detach()
        op.erase(safe_erase=False)
    drop_unused(graph)


def drop_unused(graph: gs.GraphOp) -> None:
    """Erase parameters nothing reads and module-table entries with neither ops nor parameters
    (a synthesised candidate has no state_dict to keep)."""
    block = graph.body.block
    for op in list(block.ops):
        if isinstance(op, gs.ParamOp) and not op.results[0].uses:
            op.detach()
            op.erase()
    table = graph.module_table()
    used = {op_scope(op) for op in block.ops if not isinstance(op, gs.ParamOp)}
    keys = [o.param_name.data for o in block.ops if isinstance(o, gs.ParamOp)]
    keep = []
    for e in graph.modules.data:
        p = e.data[0].data
        if any(in_subtree(table, s, p) for s in used if s) or any(k.startswith(p + ".") for k in keys):
            keep.append(e)
    graph.properties["modules"] = ArrayAttr(keep)


def replace_op(op: Operation, result_types: list[gs.TensorType], properties: dict | None = None) -> Operation:
    """The same op with other result types (and properties), in its place."""
    props = dict(op.properties)
    if properties:
        props.update(properties)
    new = type(op).create(operands=list(op.operands), result_types=result_types, properties=props,
                          attributes=dict(op.attributes))
    block = op.parent_block()
    assert block is not None
    block.insert_op_before(new, op)
    for a, b in zip(op.results, new.results):
        a.replace_all_uses_with(b)
    op.detach()
    op.erase()
    return new


def with_dim(t: gs.TensorType, axis: int, size: int) -> gs.TensorType:
    shape = list(t.shape)
    shape[axis] = size
    return gs.tensor_type(tuple(shape), t.sig().dtype)
