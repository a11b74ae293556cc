"""Lookups by integer index tensors: embedding, index_select, gather_rows, index, gather; their
scatter, index_add; and one_hot, which encodes them.

The lookups select elements and compute nothing (``DataMovement``: 0 FLOPs); an index may repeat,
so none is injective.  one_hot costs one compare per output element.
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import INT_DTYPES, RuleContext, Sig, broadcast, norm_dim, shape_rule
from graphsynth.dialects.traits import DataMovement

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule('weight [V, D], integer indices [...] -> [..., D]')
def embedding_rule(ctx: RuleContext) -> list[Sig]:
    w = ctx.rank(0, 2)
    idx = ctx.tensor(1)
    if idx.dtype not in INT_DTYPES:
        raise ctx.fail(f"indices have dtype {idx.dtype}, expected an integer dtype", 1, code="GS303", expected="i64", got=idx.dtype)
    return [Sig(idx.shape + (w.shape[1],), w.dtype)]


@shape_rule('index is 1-d integer; dim becomes len(index)')
def index_select_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    idx = ctx.rank(1, (0, 1))
    d = norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    n = idx.shape[0] if idx.shape else 1
    return [Sig(x.shape[:d] + (n,) + x.shape[d + 1 :], x.dtype)]


@shape_rule('input [R, ...], integer index [I...] -> [I..., ...]')
def gather_rows_rule(ctx: RuleContext) -> list[Sig]:
    """``x[idx]`` along dim 0 with an integer index tensor of any shape."""
    x = ctx.tensor(0)
    idx = ctx.tensor(1)
    if idx.dtype == "bool":
        raise ctx.fail("boolean indexing has a data-dependent shape and is not supported", 1, code="GS306")
    return [Sig(idx.shape + x.shape[1:], x.dtype)]


@shape_rule('integer index tensors broadcast together; at the indexed dims (adjacent: in place, else first) their broadcast shape replaces those dims')
def index_rule(ctx: RuleContext) -> list[Sig]:
    """``x[i0, i1]`` with integer index tensors (broadcast together) at ``dims``; like numpy,
    the broadcast index dims replace the indexed dims in place when those are adjacent, and
    go first otherwise."""
    x = ctx.tensor(0)
    r = len(x.shape)
    idx = [(i, ctx.tensor(i)) for i in range(1, len(ctx.args))]
    if not idx:
        raise ctx.fail("needs at least one index tensor", code="GS208")
    for i, t in idx:
        if t.dtype not in INT_DTYPES:
            raise ctx.fail(f"index has dtype {t.dtype}, expected an integer dtype (boolean masks have data-dependent shapes)", i, code="GS303", expected="i64", got=t.dtype)
    raw = ctx.attrs.get("dims")
    dims = list(range(len(idx))) if raw is None else [norm_dim(d, r, ctx, name="dims") for d in raw]
    if len(dims) != len(idx) or any(dims[k + 1] <= dims[k] for k in range(len(dims) - 1)):
        raise ctx.fail(f"dims={list(dims)} must name {len(idx)} increasing dims of {x}", 0, code="GS306")
    bshape = broadcast(ctx, idx)
    rest = tuple(d for k, d in enumerate(x.shape) if k not in dims)
    if dims == list(range(dims[0], dims[-1] + 1)):
        return [Sig(x.shape[: dims[0]] + bshape + x.shape[dims[-1] + 1 :], x.dtype)]
    return [Sig(bshape + rest, x.dtype)]


@shape_rule("integer index of the input's rank; the result has the index's shape")
def gather_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    idx = ctx.tensor(1)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    if len(idx.shape) != len(x.shape):
        raise ctx.fail(f"index has rank {len(idx.shape)}, expected {len(x.shape)} like the input", 1, code="GS302")
    if idx.dtype not in INT_DTYPES:
        raise ctx.fail(f"index has dtype {idx.dtype}, expected an integer dtype", 1, code="GS303", expected="i64", got=idx.dtype)
    return [Sig(idx.shape, x.dtype)]


# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class Embedding(GsOp):
    """rows of weight [V, D] picked by integer indices"""

    name = "gs.embedding"
    args = "weight indices"
    attrs = (A("padding_idx", "int", None),)
    rule = embedding_rule
    traits = traits_def(DataMovement())


@gs_op
class IndexSelect(GsOp):
    """entries of a 1-d integer index along dim"""

    name = "gs.index_select"
    args = "input index"
    attrs = (A("dim", "int"),)
    rule = index_select_rule
    traits = traits_def(DataMovement())


@gs_op
class GatherRows(GsOp):
    """input[index]: rows picked by an integer tensor of any shape"""

    name = "gs.gather_rows"
    args = "input index"
    rule = gather_rows_rule
    traits = traits_def(DataMovement())


@gs_op
class Index(GsOp):
    """input[..., i0, i1, ...]: advanced indexing by broadcast integer tensors at dims"""

    name = "gs.index"
    args = "input indices*"
    attrs = (A("dims", "ints", None),)
    rule = index_rule
    traits = traits_def(DataMovement())


@gs_op
class Gather(GsOp):
    """input[..., index[i, j], ...] along dim (torch.gather)"""

    name = "gs.gather"
    args = "input index"
    attrs = (A("dim", "int"),)
    rule = gather_rule
    traits = traits_def(DataMovement())


@shape_rule("index is 1-d integer of length N; source is input with dim replaced by N; the result has the input's type")
def index_add_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    idx = ctx.rank(1, (0, 1))
    src = ctx.tensor(2)
    if idx.dtype not in INT_DTYPES:
        raise ctx.fail(f"index has dtype {idx.dtype}, expected an integer dtype", 1, code="GS303", expected="i64", got=idx.dtype)
    if src.dtype != x.dtype:
        raise ctx.fail(f"source has dtype {src.dtype}, expected {x.dtype} (the input's)", 2, code="GS303", expected=x.dtype,
                       got=src.dtype)
    d = norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    n = idx.shape[0] if idx.shape else 1
    want = x.shape[:d] + (n,) + x.shape[d + 1 :]
    if len(src.shape) != len(want):
        raise ctx.fail(f"source has rank {len(src.shape)}, expected {len(want)} like the input", 2, code="GS302",
                       expected=f"rank {len(want)}", got=f"rank {len(src.shape)}")
    for j, (got, exp) in enumerate(zip(src.shape, want)):
        ctx.eq(got, exp, arg=2, what=f"has shape {list(src.shape)}; dim {j}",
               ref="the length of the index" if j == d else f"dim {j} of operand #0")
    return [Sig(x.shape, x.dtype)]


def _source_elements(ctx: cost.CostContext) -> list[cost.Term]:
    """One add per element of the source (a scale by ``alpha`` adds one more)."""
    s = ctx.shape(2)
    if s is None:
        return []
    return [tuple(s)] if ctx.attrs.get("alpha", 1) == 1 else [(2, *s)]


@gs_op
class IndexAdd(GsOp):
    """input with alpha * source added at the positions index gives along dim (torch.index_add)"""

    name = "gs.index_add"
    args = "input index source"
    attrs = (A("dim", "int"), A("alpha", "float", 1.0))
    rule = index_add_rule
    flops = _source_elements


@shape_rule("integer indices [...] -> i64 [..., num_classes]: 1 where the class equals the index")
def one_hot_rule(ctx: RuleContext) -> list[Sig]:
    idx = ctx.tensor(0)
    if idx.dtype not in INT_DTYPES:
        raise ctx.fail(f"has dtype {idx.dtype}; one_hot needs integer class indices", 0, code="GS303", expected="i64",
                       got=idx.dtype)
    k = ctx.attrs["num_classes"]
    if isinstance(k, int) and k < 1:
        raise ctx.fail(f"num_classes must be >= 1, got {k}", code="GS306", expected="num_classes >= 1", got=str(k))
    return [Sig(idx.shape + (k,), "i64")]


@gs_op
class OneHot(GsOp):
    """one-hot encoding of integer class indices (torch.nn.functional.one_hot)"""

    name = "gs.one_hot"
    args = "input"
    attrs = (A("num_classes", "dim"),)
    rule = one_hot_rule
    flops = cost.per_output_element
