"""Structural and symbolic-shape verification of gs IR, returning every problem as a Diagnostic.

xDSL's ``verify()`` stops at the first error, does not say which op failed and does not check
dominance; this verifier walks each graph once, checks definitions before uses (and names the
cycle when there is one), parameter declarations (shared parameters name an unshared one of
the same type), symbol declarations, arity and attributes against the op table, then runs
each op's shape rule (the graph's symbol ranges and steps are facts of the proofs, see
dialects/ranges.py) and compares the inferred result types with the declared ones
symbolically.  Plain-int dims never touch the symbolic path, which keeps 10k ops well under the
0.5 s budget.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from graphsynth.diagnostics import Diagnostic, error
from graphsynth.dialects import gs
from graphsynth.gcpause import cyclic_gc_paused
from graphsynth.verifier.calls import _check_call_cycles, callee_signatures
from graphsynth.verifier.graph import _GraphVerifier, format_sig, valid_symbol_ranges
from graphsynth.verifier.locations import location
from graphsynth.verifier.text_form import text_form_problems

__all__ = ["callee_signatures", "format_sig", "location", "text_form_problems", "valid_symbol_ranges", "verify"]


def verify(module: ModuleOp | gs.GraphOp) -> list[Diagnostic]:
    """Every problem in ``module``; ``[]`` means it is valid.

    Linear in the number of graphs: the signatures that ``call`` ops check against are computed
    once per module, and the call-cycle check is one depth-first search over the call graph.
    The cyclic garbage collector is paused meanwhile (see graphsynth/gcpause.py)."""
    with cyclic_gc_paused():
        return _verify(module)


def _verify(module: ModuleOp | gs.GraphOp) -> list[Diagnostic]:
    if isinstance(module, gs.GraphOp):
        return _GraphVerifier(module, callee_signatures(module.parent_op())).run()
    diags: list[Diagnostic] = []
    if not isinstance(module, ModuleOp):
        return [error("GS211", f"expected a builtin.module of gs.graph ops, got {type(module).__name__}")]
    if len(module.body.blocks) != 1:
        return [error("GS211", f"builtin.module must have one block, got {len(module.body.blocks)}", loc=location(module))]
    callees = callee_signatures(module)
    for op in module.body.block.ops:
        if isinstance(op, gs.GraphOp):
            diags.extend(_GraphVerifier(op, callees).run())
        else:
            diags.append(error("GS211", f"{op.name}: only gs.graph ops may stand at the top level", op=op.name, loc=location(op)))
    diags.extend(_check_call_cycles(module))
    return diags

