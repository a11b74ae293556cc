"""Reductions, scans and sorting: sum, mean, amax, amin, var, argmax, cumsum, topk, sort, argsort,
cumprod, logsumexp.

FLOPs: one per input element (an add or a compare); ``var`` three (mean, subtract-square, sum).
"""

from __future__ import annotations

from graphsynth.dialects import cost
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.cost import CostContext, Term
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import FLOAT_DTYPES, INT_DTYPES, RuleContext, Sig, norm_dim, shape_rule
from graphsynth.dialects.symdim import Dim, sub

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule("listed dims removed (kept as 1 with keepdim); all dims when dims=None")
def reduce_rule(ctx: RuleContext, dtype: str | None = None) -> list[Sig]:
    x = ctx.tensor(0)
    dims = ctx.attrs.get("dims")
    keep = bool(ctx.attrs.get("keepdim"))
    r = len(x.shape)
    norm = set(range(r)) if dims is None or len(dims) == 0 else {norm_dim(d, r, ctx, name="dims") for d in dims}
    shape = tuple((1 if k in norm else d) for k, d in enumerate(x.shape) if keep or k not in norm)
    return [Sig(shape, dtype or ctx.attrs.get("dtype") or x.dtype)]


@shape_rule("listed dims removed (kept as 1 with keepdim); all dims when dims=None; ints and bools sum in i64")
def sum_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if not ctx.attrs.get("dtype") and x.dtype not in FLOAT_DTYPES:
        return reduce_rule(ctx, "i64")  # torch sums ints and bools in i64
    return reduce_rule(ctx)


@shape_rule("like sum; float dtype")
def mean_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if x.dtype not in FLOAT_DTYPES and not ctx.attrs.get("dtype"):
        raise ctx.fail(f"mean of a {x.dtype} tensor needs a float dtype", 0, code="GS303", expected="a float dtype", got=x.dtype)
    return reduce_rule(ctx)


@shape_rule('dim removed (kept as 1 with keepdim); i64 result')
def argreduce_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = ctx.attrs.get("dim")
    keep = bool(ctx.attrs.get("keepdim"))
    if d is None:
        return [Sig((), "i64")]
    d = norm_dim(d, len(x.shape), ctx)
    shape = tuple((1 if k == d else s) for k, s in enumerate(x.shape) if keep or k != d)
    return [Sig(shape, "i64")]


@shape_rule('result like input; ints and bools accumulate in i64')
def cumsum_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    dtype = ctx.attrs.get("dtype") or ("i64" if x.dtype in INT_DTYPES + ("bool",) else x.dtype)
    return [Sig(x.shape, dtype)]


_RED = (A("dims", "ints", None), A("keepdim", "bool", False), A("dtype", "dtype", None))

# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class Sum(GsOp):
    """sum over dims (all when None)"""

    name = "gs.sum"
    args = "input"
    attrs = _RED
    rule = sum_rule
    flops = cost.per_element(1, "in")


@gs_op
class Mean(GsOp):
    """mean over dims (all when None)"""

    name = "gs.mean"
    args = "input"
    attrs = _RED
    rule = mean_rule
    flops = cost.per_element(1, "in")


@gs_op
class Amax(GsOp):
    """max over dims"""

    name = "gs.amax"
    args = "input"
    attrs = _RED[:2]
    rule = reduce_rule
    flops = cost.per_element(1, "in")


@gs_op
class Amin(GsOp):
    """min over dims"""

    name = "gs.amin"
    args = "input"
    attrs = _RED[:2]
    rule = reduce_rule
    flops = cost.per_element(1, "in")


@gs_op
class Var(GsOp):
    """variance over dims"""

    name = "gs.var"
    args = "input"
    attrs = (*_RED[:2], A("correction", "int", 1))
    rule = reduce_rule
    flops = cost.per_element(3, "in")


@gs_op
class Argmax(GsOp):
    """index of the max along dim"""

    name = "gs.argmax"
    args = "input"
    attrs = (A("dim", "int", None), A("keepdim", "bool", False))
    rule = argreduce_rule
    flops = cost.per_element(1, "in")


@gs_op
class Cumsum(GsOp):
    """running sum along dim"""

    name = "gs.cumsum"
    args = "input"
    attrs = (A("dim", "int"), A("dtype", "dtype", None))
    rule = cumsum_rule
    flops = cost.per_element(1, "in")


# -- selection, sorting and more scans -------------------------------------------------------------
# topk, sort, argsort, cumprod, logsumexp.  A comparison sort costs about n*ceil(log2 L) compares
# for n elements sorted in runs of L (a number); with a symbolic L the count is n*L, a bound.


def _selected(ctx: RuleContext) -> tuple[Sig, int]:
    """The input and its normalised ``dim``."""
    x = ctx.tensor(0)
    return x, norm_dim(ctx.attrs["dim"], len(x.shape), ctx) if x.shape else 0


def _provably_greater(a: Dim, b: Dim) -> bool:
    """``a > b`` for every binding of the symbols (>= 1): a - b is a positive number, or a sum of
    plain monomials with positive coefficients (each >= 1)."""
    d = sub(a, b)
    if isinstance(d, int):
        return d > 0
    return all(c > 0 and all(isinstance(atom, str) for atom, _ in mono) for mono, c in d.terms)


@shape_rule("input [..., L, ...] -> values and i64 indices [..., k, ...] along dim; k <= L")
def topk_rule(ctx: RuleContext) -> list[Sig]:
    x, d = _selected(ctx)
    k = ctx.attrs["k"]
    size = x.shape[d] if x.shape else 1
    if isinstance(k, int) and k < 0:
        raise ctx.fail(f"k must be >= 0, got {k}", code="GS306", expected="k >= 0", got=str(k))
    if _provably_greater(k, size):
        raise ctx.fail(
            f"has size {size} along dim {ctx.attrs['dim']}; k must be at most {size}, got {k}", 0, code="GS330",
            expected=f"k <= {size}", got=str(k), relation=f"{k} <= {size}",
            fix=f"choose k <= {size}, or take the top k along another dim",
        )
    shape = tuple(k if i == d else s for i, s in enumerate(x.shape))
    return [Sig(shape, x.dtype), Sig(shape, "i64")]


@shape_rule("input -> sorted values (same type) and i64 indices along dim")
def sort_rule(ctx: RuleContext) -> list[Sig]:
    x, _ = _selected(ctx)
    return [Sig(x.shape, x.dtype), Sig(x.shape, "i64")]


@shape_rule("input -> i64 indices that sort it along dim (same shape)")
def argsort_rule(ctx: RuleContext) -> list[Sig]:
    x, _ = _selected(ctx)
    return [Sig(x.shape, "i64")]


@shape_rule("listed dims removed (kept as 1 with keepdim); all dims when dims=None; float dtype")
def logsumexp_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if x.dtype not in FLOAT_DTYPES:
        raise ctx.fail(f"has dtype {x.dtype}; logsumexp needs a float dtype", 0, code="GS303",
                       expected="a float dtype", got=x.dtype)
    return reduce_rule(ctx)


def _log2_ceil(n: Dim) -> Dim:
    """ceil(log2 n) for a number (at least 1); ``n`` itself, a bound, for a symbolic dim."""
    return max(1, (n - 1).bit_length()) if isinstance(n, int) else n


def sort_flops(ctx: CostContext) -> list[Term]:
    """numel(in) * ceil(log2 L) compares, L the size along dim (L itself when symbolic)."""
    x = ctx.args[0]
    if not x.shape:
        return []
    return [(*x.shape, _log2_ceil(x.shape[ctx.attrs["dim"] % len(x.shape)]))]


def topk_flops(ctx: CostContext) -> list[Term]:
    """numel(in) * ceil(log2 k) compares (a heap of k; k itself when symbolic)."""
    x = ctx.args[0]
    return [(*x.shape, _log2_ceil(ctx.attrs["k"]))] if x.shape else []


_SORTED = (A("dim", "int", -1), A("descending", "bool", False), A("stable", "bool", False))


@gs_op
class TopK(GsOp):
    """the k largest (or smallest) elements along dim and their indices"""

    name = "gs.topk"
    args = "input"
    attrs = (A("k", "dim"), A("dim", "int", -1), A("largest", "bool", True), A("sorted", "bool", True))
    rule = topk_rule
    results = 2
    flops = topk_flops


@gs_op
class Sort(GsOp):
    """the elements sorted along dim and their original indices"""

    name = "gs.sort"
    args = "input"
    attrs = _SORTED
    rule = sort_rule
    results = 2
    flops = sort_flops


@gs_op
class Argsort(GsOp):
    """the indices that sort the input along dim"""

    name = "gs.argsort"
    args = "input"
    attrs = _SORTED
    rule = argsort_rule
    flops = sort_flops


@gs_op
class Cumprod(GsOp):
    """running product along dim"""

    name = "gs.cumprod"
    args = "input"
    attrs = (A("dim", "int"), A("dtype", "dtype", None))
    rule = cumsum_rule
    flops = cost.per_element(1, "in")


@gs_op
class Logsumexp(GsOp):
    """log(sum(exp(x))) over dims, computed without overflow (all when None)"""

    name = "gs.logsumexp"
    args = "input"
    attrs = _RED[:2]
    rule = logsumexp_rule
    flops = cost.per_element(4, "in")
