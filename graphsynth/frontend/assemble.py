"""The end of a conversion: the graph's outputs, the gs.graph op with its module table and its
symbol declarations (the ranges export knows, unbacked symbols included), and the parameters the
model shares under several state_dict keys."""

from __future__ import annotations

from typing import Any

import torch
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.ranges import SymbolRange
from graphsynth.dialects.symdim import free_symbols
from graphsynth.dialects.unbacked import defined_symbol
from graphsynth.frontend.handlers import (
    Fail,
)


class Assembly:
    """How the converter builds the gs.graph (mixed into
    :class:`~graphsynth.frontend.convert.Converter`)."""

    def symbol_ranges(self) -> dict[str, SymbolRange]:
        """What export knows about each symbol (``ep.range_constraints``), in the user's names:
        the range a ``Dim(min=..., max=...)`` gave or export narrowed it to.  Export's own floor of
        2 (it specialises sizes 0 and 1) and its open upper end say nothing about the model and
        are left out, so a graph keeps taking a batch of one."""
        import sympy
        from torch.utils._sympy.symbol import SymT, symbol_is_type

        out: dict[str, SymbolRange] = {}
        by_symbol = {k.name: v for k, v in getattr(self.ep, "range_constraints", {}).items() if isinstance(k, sympy.Symbol)}
        for sym, name in self.symbols.items():
            vr = by_symbol.get(sym)
            if name in out:
                continue
            if vr is None:
                if symbol_is_type(sympy.Symbol(sym), SymT.UNBACKED_INT):
                    out[name] = SymbolRange(0, None, unbacked=True)
                continue
            lo, hi = _finite_int(vr.lower), _finite_int(vr.upper)
            if symbol_is_type(sympy.Symbol(sym), SymT.UNBACKED_INT):
                # A data-dependent size: what export knows of it (at least 0; an upper bound
                # when a torch._check gave one).
                out[name] = SymbolRange(max(lo or 0, 0), hi if hi is not None and hi < 2**62 else None, unbacked=True)
                continue
            low = lo if lo is not None and lo > 2 else 1
            high = hi if hi is not None and hi < 2**62 else None
            r = SymbolRange(low, high)
            if not r.is_default() and r.problem() is None:
                out[name] = r
        return out

    def outputs(self, out_node: Any) -> list[SSAValue]:
        from torch.export.graph_signature import OutputKind

        flat = list(out_node.args[0]) if isinstance(out_node.args[0], (list, tuple)) else [out_node.args[0]]
        specs = self.ep.graph_signature.output_specs
        returned = []
        self.node = out_node
        for spec, a in zip(specs, flat):
            if spec.kind != OutputKind.USER_OUTPUT:
                if spec.kind == OutputKind.BUFFER_MUTATION and not self.bn_state(spec.target):
                    raise self.fail(
                        f"the model updates buffer '{spec.target}' in forward; graphsynth graphs are pure functions",
                        fix="import the model in eval mode (model.eval()) or without the buffer update",
                    )
                continue
            if not isinstance(a, torch.fx.Node):
                continue  # constant outputs (None, ints) are not part of the graph
            try:
                v = self.value(a)
            except Fail as e:
                raise self.fail(e.message, e.fix) from None
            if not isinstance(v, SSAValue):
                raise self.fail(f"output {a.name} is not a tensor ({v!r})")
            returned.append(v)
        return returned

    def finish(self, block: Block, returned: list[SSAValue]) -> ModuleOp:
        # Dead-code elimination: every gs op is pure; export keeps dead mask-building nodes.
        live: set[SSAValue] = set(returned)
        kept: list[Operation] = []
        for op in reversed(self.ops):
            if any(r in live for r in op.results):
                kept.append(op)
                live.update(op.operands)
        kept.reverse()
        # Parameters in state_dict order (export lists parameters before buffers).
        order = {k: i for i, k in enumerate(self.model.state_dict(keep_vars=True))}
        params = sorted(self.params, key=lambda p: order.get(p.param_name.data, len(order)))
        self.mark_shared(params)
        for p in params:
            block.add_op(p)
        counter = 0
        modules: dict[str, tuple[str, str]] = {}
        for op in kept:
            gs.set_result_names(op, [str(counter + i) for i in range(len(op.results))])
            counter += len(op.results)
            parent = ""
            for path, cls in self.op_stack.get(id(op), ()):
                if path not in modules:
                    modules[path] = (cls, parent)
                parent = path
            block.add_op(op)
        block.add_op(gs.ReturnOp.create(operands=returned))
        props = {
            "sym_name": StringAttr(self.graph_name),
            "arg_names": ArrayAttr([StringAttr(a) for a in self.input_names]),
            "output_types": ArrayAttr([v.type for v in returned]),
            "modules": ArrayAttr([ArrayAttr([StringAttr(p), StringAttr(c), StringAttr(par)]) for p, (c, par) in modules.items()]),
        }
        used = set().union(*(free_symbols(d) for a in block.args for d in a.type.shape))
        used |= {s for op in block.ops if (s := defined_symbol(op)) is not None}  # unbacked ones
        symbols = gs.symbols_attr({n: r for n, r in getattr(self, "ranges", {}).items() if n in used})
        if symbols is not None:
            props["symbols"] = symbols
        graph = gs.GraphOp.create(properties=props, regions=[Region(block)])
        return ModuleOp([graph])

    def mark_shared(self, params: list[gs.ParamOp]) -> None:
        """Tied weights: the model holds one tensor under several state_dict keys (GPT-2's
        ``lm_head.weight`` and ``transformer.wte.weight``) and export gives each key its own
        placeholder.  The first key of each group (in state_dict order) stays a parameter, the
        others are declared as sharing it, so the lowered module has one parameter again."""
        by_key = {p.param_name.data: p for p in params}
        for p in params:
            key = p.param_name.data
            group = [k for k in self.tied.get(key, ()) if k in by_key]
            if not group or group[0] == key:
                continue
            leader = by_key[group[0]]
            if leader.kind.data == p.kind.data and leader.results[0].type == p.results[0].type:
                p.properties["alias"] = StringAttr(group[0])


def _finite_int(v: Any) -> int | None:
    """A bound of export's ValueRanges as an int; None for its infinities (int_oo, oo)."""
    import sympy

    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, sympy.Integer):
        return int(v)
    return None


def tied_keys(model: torch.nn.Module) -> dict[str, list[str]]:
    """For each state_dict key of a tensor that has several keys (tied weights), all its keys."""
    by_id: dict[int, list[str]] = {}
    for k, v in model.state_dict(keep_vars=True).items():
        by_id.setdefault(id(v), []).append(k)
    return {k: keys for keys in by_id.values() if len(keys) > 1 for k in keys}
