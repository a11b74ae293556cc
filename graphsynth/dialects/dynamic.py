"""Ops whose result size depends on the data: nonzero, masked_select, boolean-mask indexing.

``nonzero(mask)`` has as many rows as ``mask`` has true elements, which no shape of any input
tells.  torch.export writes such a size as an *unbacked* symbol (``u0``) and so does the IR: the
graph declares it (``symbol u0: [0, inf] unbacked``), the op names it in its ``size`` attribute
and its result type has it at the data-dependent dim::

    %nz: i64[u0, 2] = nonzero(mask, size=u0)

The rule here requires ``size`` to be one bare symbol; the verifier
(:mod:`graphsynth.dialects.unbacked`) checks that the symbol is declared unbacked, that no graph
input binds it, and that exactly one op defines it, before any other op uses it.  The lowering
binds the symbol from the result's run-time size and checks its declared range.  Never a
silent specialisation to the example's count.
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, ShapeError, Sig, broadcast, shape_rule
from graphsynth.dialects.symdim import Dim, SymDim
from graphsynth.dialects.traits import DataDependentSize, DataMovement


def single_symbol(d: Dim) -> str | None:
    """The name of ``d`` when it is one bare symbol (``u0``), else None."""
    if isinstance(d, SymDim) and len(d.terms) == 1:
        mono, c = d.terms[0]
        if c == 1 and len(mono) == 1 and isinstance(mono[0][0], str) and mono[0][1] == 1:
            return mono[0][0]
    return None


def data_size(ctx: RuleContext) -> Dim:
    """The ``size`` attribute: one unbacked symbol, the count the data decides (GS334 when it
    is a number or an expression, which would fix a count no input shape gives)."""
    size = ctx.attrs.get("size")
    if single_symbol(size) is None:
        raise ShapeError(
            f"size={size} must be one unbacked symbol: the number of selected elements depends on the data",
            code="GS334", expected="an unbacked symbol (symbol u0: [0, inf] unbacked)", got=str(size),
            fix="declare 'symbol u0: [0, inf] unbacked' in the graph and write size=u0",
        )
    return size


def _bool_mask(ctx: RuleContext, i: int) -> Sig:
    m = ctx.tensor(i)
    if m.dtype != "bool":
        raise ctx.fail(f"mask has dtype {m.dtype}, expected bool", i, code="GS303", expected="bool", got=m.dtype)
    return m


@shape_rule("input [...] (rank r) -> i64 [size, r]: the indices of the nonzero elements; size is the unbacked symbol the op defines")
def nonzero_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    return [Sig((data_size(ctx), len(x.shape)), "i64")]


@shape_rule("input and bool mask broadcast together -> [size]: the elements where the mask is true; size is the unbacked symbol the op defines")
def masked_select_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    _bool_mask(ctx, 1)
    broadcast(ctx, [(0, x), (1, ctx.tensor(1))])
    return [Sig((data_size(ctx),), x.dtype)]


@shape_rule("bool mask [D_dim, ..., D_dim+k-1] over k dims of input from dim: those dims become [size], the unbacked symbol the op defines")
def boolean_index_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    m = _bool_mask(ctx, 1)
    d = ctx.attrs.get("dim") or 0
    k = len(m.shape)
    if not isinstance(d, int) or d < 0 or d + k > len(x.shape) or k == 0:
        raise ctx.fail(f"a mask of rank {k} at dim={d} must cover dims of {x} (dim >= 0, rank >= 1)", 1, code="GS306",
                       expected=f"0 <= dim <= {len(x.shape) - k}", got=str(d))
    for j in range(k):
        ctx.eq(m.shape[j], x.shape[d + j], arg=1, what=f"has shape {list(m.shape)}; dim {j}",
               ref=f"dim {d + j} of operand #0")
    return [Sig(x.shape[:d] + (data_size(ctx),) + x.shape[d + k :], x.dtype)]


def _input_elements(ctx: cost.CostContext) -> list[cost.Term]:
    """One compare per element of the input."""
    s = ctx.shape(0)
    return [] if s is None else [tuple(s)]


_SIZE = A("size", "dim")


@gs_op
class Nonzero(GsOp):
    """indices of the nonzero elements, one row each (torch.nonzero, argwhere, where(cond))"""

    name = "gs.nonzero"
    args = "input"
    attrs = (_SIZE,)
    rule = nonzero_rule
    flops = _input_elements
    traits = traits_def(DataDependentSize())


@gs_op
class MaskedSelect(GsOp):
    """the elements of input where the (broadcast) bool mask is true, as a 1-d tensor"""

    name = "gs.masked_select"
    args = "input mask"
    attrs = (_SIZE,)
    rule = masked_select_rule
    traits = traits_def(DataMovement(), DataDependentSize())


@gs_op
class BooleanIndex(GsOp):
    """input[mask] (input[:, mask] from dim=1): the sub-tensors where a bool mask is true"""

    name = "gs.boolean_index"
    args = "input mask"
    attrs = (A("dim", "int", 0), _SIZE)
    rule = boolean_index_rule
    traits = traits_def(DataMovement(), DataDependentSize("dim"))
