"""Calls between graphs of one module (made by ``outline``, undone by ``inline``).

A ``call`` has the callee's output types with the callee's symbols bound to the dims of the
actual inputs, and costs what the callee costs at those dims.  A rule cannot see other graphs, so
the verifier publishes the signatures of the module's graphs in :data:`CALLEES` while it checks
one graph; the cost query gives a formula the callee's cost through ``CostContext.callee``.
"""

from __future__ import annotations

from contextvars import ContextVar

from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.cost import CostContext, Term, Unknown, substitute_count
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, Sig, shape_rule
from graphsynth.dialects.symdim import Dim, FloorDiv, SymDim, add, floordiv, mul, sub

# The signatures of the graphs of the module being verified (name -> (input sigs, output sigs)).
# The verifier sets it around each graph.
CALLEES: ContextVar[dict[str, tuple[tuple[Sig, ...], tuple[Sig, ...]]] | None] = ContextVar("gs_callees", default=None)


def substitute(d: Dim, bindings: dict[str, Dim]) -> Dim:
    """``d`` with each symbol replaced by its binding (unbound symbols stay)."""
    if not isinstance(d, SymDim):
        return d
    total: Dim = 0
    for mono, coeff in d.terms:
        term: Dim = coeff
        for atom, e in mono:
            if isinstance(atom, FloorDiv):
                base = floordiv(substitute(atom.num, bindings), substitute(atom.den, bindings))
            else:
                base = bindings.get(atom, SymDim.symbol(atom))
            for _ in range(e):
                term = mul(term, base)
        total = add(total, term)
    return total


def bind_symbol(want: Dim, got: Dim, bindings: dict[str, Dim]) -> None:
    """Bind the symbol of a callee dim ``c*S + k`` to ``(got - k) // c`` if it is still free."""
    if not isinstance(want, SymDim):
        return
    sym, c, k = None, 0, 0
    for mono, coeff in want.terms:
        if mono == ():
            k = coeff
        elif len(mono) == 1 and isinstance(mono[0][0], str) and mono[0][1] == 1 and sym is None:
            sym, c = mono[0][0], coeff
        else:
            return
    if sym is not None and c > 0 and sym not in bindings:
        bindings[sym] = floordiv(sub(got, k), c) if c != 1 else sub(got, k)


def bindings_for(ins: tuple[Sig, ...], args: list[Sig]) -> dict[str, Dim]:
    """The callee's symbols bound from the dims of the actual inputs (as far as they bind)."""
    bindings: dict[str, Dim] = {}
    for want, got in zip(ins, args):
        if len(want.shape) == len(got.shape):
            for w, g in zip(want.shape, got.shape):
                bind_symbol(w, g, bindings)
    return bindings


@shape_rule("the outputs of graph callee, its input symbols bound to the dims of the inputs, which must match its input types")
def call_rule(ctx: RuleContext) -> list[Sig]:
    """The callee's output types with its symbols bound to the dims of the actual inputs."""
    callee = ctx.attrs.get("callee")
    table = CALLEES.get()
    if table is None or callee not in table:
        known = ", ".join(sorted(table)) if table else "none"
        raise ctx.fail(f"no graph named {callee!r} in this module (graphs: {known})", code="GS207", got=repr(callee), expected=known)
    ins, outs = table[callee]
    args = [a for a in ctx.args if a is not None]
    if len(args) != len(ins):
        raise ctx.fail(f"graph {callee!r} takes {len(ins)} input(s), got {len(args)}", code="GS208",
                       expected=str(len(ins)), got=str(len(args)))
    for i, want in enumerate(ins):
        got = ctx.tensor(i)
        if len(want.shape) != len(got.shape):
            raise ctx.fail(f"is {got}; input #{i} of graph {callee!r} has rank {len(want.shape)} ({want})", i,
                           code="GS302", expected=str(want), got=str(got))
        if want.dtype != got.dtype:
            raise ctx.fail(f"is {got}; input #{i} of graph {callee!r} has dtype {want.dtype}", i, code="GS303",
                           expected=want.dtype, got=got.dtype)
    bindings = bindings_for(ins, [ctx.tensor(i) for i in range(len(ins))])
    for i, (want, got) in enumerate(zip(ins, args)):
        for k, (w, g) in enumerate(zip(want.shape, got.shape)):
            expected = substitute(w, bindings)
            if compare(g, expected):
                continue  # proved: the message below is built only for a dim that fails
            ctx.eq(g, expected, arg=i, what=f"has shape {format_shape(got.shape)}; dim {k}",
                   ref=f"dim {k} of input #{i} of graph {callee!r}, {want},")
    return [Sig(tuple(substitute(d, bindings) for d in o.shape), o.dtype) for o in outs]


def _callee_count(ctx: CostContext, which: int) -> list[Term]:
    name = ctx.attrs.get("callee")
    found = ctx.callee(name) if ctx.callee is not None else None
    if found is None:
        raise Unknown(f"no cost for graph {name!r}")
    ins, *counts = found
    args = [a for a in ctx.args if isinstance(a, Sig)]
    count = substitute_count(counts[which], bindings_for(ins, args), substitute)
    return [(count,)] if count != 0 else []


def call_flops(ctx: CostContext) -> list[Term]:
    """The callee's FLOPs at the dims of the actual inputs."""
    return _callee_count(ctx, 0)


def call_bytes(ctx: CostContext) -> list[Term]:
    """The callee's bytes at the dims of the actual inputs."""
    return _callee_count(ctx, 1)


@gs_op
class Call(GsOp):
    """the outputs of graph `callee` of this module on inputs (its symbols bind to the inputs' dims)"""

    name = "gs.call"
    args = "inputs*"
    attrs = (A("callee", "str"),)
    rule = call_rule
    results = -1
    flops = call_flops
    bytes = call_bytes
