"""The call graph of a module: the signatures ``call`` ops check against, and call cycles.

Computed once per module (not per graph or per call), so verifying a module of many graphs
stays linear: one pass collects the callees' signatures, one depth-first search over the call
graph finds graphs that call themselves and calls of graphs that declare state.
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import (
    ModuleOp,
)
from xdsl.ir import Operation

from graphsynth.diagnostics import Diagnostic, error
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig
from graphsynth.verifier.locations import location
from graphsynth.verifier.text_form import type_problem


def callee_signatures(module: Any) -> dict[str, tuple[tuple[Sig, ...], tuple[Sig, ...]]]:
    """name -> (input sigs, output sigs) of each graph of ``module`` (for ``call`` ops).  A
    graph whose types cannot be read is left out (its own verification reports them)."""
    out = {}
    if not isinstance(module, ModuleOp):
        return out
    for g in module.body.block.ops:
        if isinstance(g, gs.GraphOp) and len(g.body.blocks) == 1:
            types = [a.type for a in g.body.block.args] + list(g.output_types.data)
            if any(type_problem(t) for t in types):
                continue
            ins = tuple(a.type.sig() for a in g.body.block.args)
            outs = tuple(t.sig() for t in g.output_types.data)
            out[g.sym_name.data] = (ins, outs)
    return out


def _check_call_cycles(module: ModuleOp) -> list[Diagnostic]:
    """GS211 for calls of graphs that declare state; GS204 for graphs that call themselves,
    directly or through others: one iterative
    depth-first search with colours over the call graph (each graph and call visited once), a
    report per back edge into a graph not yet reported."""
    calls: dict[str, list[tuple[str, Operation]]] = {}
    stateful: set[str] = set()
    for g in module.body.block.ops:
        if isinstance(g, gs.GraphOp):
            mine = calls.setdefault(g.sym_name.data, [])
            for op in g.body.walk():
                if isinstance(op, gs.ParamOp):
                    stateful.add(g.sym_name.data)
                elif isinstance(op, gs.Call):
                    mine.append((op.attr_values()["callee"], op))
    diags: list[Diagnostic] = []
    # A called graph takes its parameters as inputs (as outline writes it): state declared inside
    # it would have no state_dict key of its own, so neither lowering nor inline can place it.
    for edges in calls.values():
        for callee, op in edges:
            if callee in stateful:
                diags.append(error("GS211", f"call: graph '{callee}' declares parameters or buffers; a called graph takes "
                                   "them as inputs", op="call", loc=location(op),
                                   fix=f"pass the parameters of '{callee}' to it as inputs"))
    reported: set[str] = set()
    colour: dict[str, int] = {}  # absent: not seen, 1: on the current path, 2: done
    for root in calls:
        if root in colour:
            continue
        path = [root]
        where = {root: 0}  # position on the path
        stack = [iter(calls[root])]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done = path.pop()
                where.pop(done)
                colour[done] = 2
                continue
            callee, op = nxt
            if callee not in calls:
                continue  # an unknown callee: the call's own rule reports it
            c = colour.get(callee)
            if c == 1:
                if callee not in reported:
                    reported.add(callee)
                    cycle = path[where[callee] :]
                    shown = cycle if len(cycle) <= 12 else [*cycle[:6], "...", *cycle[-5:]]
                    chain = " -> ".join([*shown, callee])
                    diags.append(error("GS204", f"call: graph '{callee}' calls itself ({chain})", op="call", loc=location(op), relation=chain))
            elif c is None:
                colour[callee] = 1
                where[callee] = len(path)
                path.append(callee)
                stack.append(iter(calls[callee]))
    return diags
