"""Shape manipulation: reshape, expand, permute, transpose, flatten, unsqueeze, squeeze, concat,
slice, select, split, pad, repeat, tril, triu.

All of them move, copy or select elements and compute nothing (``DataMovement``: 0 FLOPs); those
that never read an element twice and never invent one (reshape, permute, slice ...) are
``injective``, so a gradient passes through them unchanged in norm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xdsl.irdl import traits_def
from xdsl.traits import HasCanonicalizationPatternsTrait

from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import RuleContext, ShapeError, Sig, norm_dim, same_dtype, shape_rule, sum_dims
from graphsynth.dialects.symdim import Dim, add, floordiv, mul, numel, sub
from graphsynth.dialects.traits import DataMovement, NoopWhenSameType

if TYPE_CHECKING:
    from xdsl.pattern_rewriter import RewritePattern

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule('same number of elements; at most one -1')
def reshape_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    target = list(ctx.attrs["shape"])
    holes = [k for k, d in enumerate(target) if d == -1]
    if len(holes) > 1:
        raise ctx.fail("shape has more than one -1", None, code="GS306", got=format_shape(tuple(target)))
    total = numel(x.shape)
    if holes:
        known = numel(tuple(d for d in target if d != -1))
        inferred = floordiv(total, known)
        if compare(mul(inferred, known), total) is False:
            raise ctx.fail(
                f"cannot reshape {x} to {format_shape(tuple(target))}: {total} elements are not divisible by {known}",
                0,
                code="GS306",
            )
        target[holes[0]] = inferred
    verdict = compare(numel(tuple(target)), total)
    if not verdict:
        code = "GS304" if verdict is None else "GS306"
        raise ShapeError(
            f"has shape {format_shape(x.shape)} ({total} elements); cannot reshape to "
            f"{format_shape(tuple(target))} ({numel(tuple(target))} elements)",
            operand=ctx.operand_index(0),
            code=code,
            expected=str(total),
            got=str(numel(tuple(target))),
            relation=f"{numel(tuple(target))} == {total}",
        )
    return [Sig(tuple(target), x.dtype)]


@shape_rule('size-1 dims broadcast to the new sizes; -1 keeps a dim')
def expand_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    target = list(ctx.attrs["shape"])
    if len(target) < len(x.shape):
        raise ctx.fail(f"cannot expand {x} to fewer dims {format_shape(tuple(target))}", 0, code="GS302")
    off = len(target) - len(x.shape)
    for k, d in enumerate(x.shape):
        t = target[off + k]
        if t == -1:
            target[off + k] = d
        elif d != 1:
            ctx.eq(d, t, arg=0, what=f"has shape {format_shape(x.shape)}; dim {k}")
    return [Sig(tuple(target), x.dtype)]


@shape_rule('dims is a permutation of 0..rank-1')
def permute_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    dims = [norm_dim(d, len(x.shape), ctx, name="dims") for d in ctx.attrs["dims"]]
    if sorted(dims) != list(range(len(x.shape))):
        raise ctx.fail(
            f"dims={list(ctx.attrs['dims'])} is not a permutation of the {len(x.shape)} dims of {x}",
            0,
            code="GS306",
        )
    return [Sig(tuple(x.shape[d] for d in dims), x.dtype)]


@shape_rule('dims dim0 and dim1 swapped')
def transpose_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    r = len(x.shape)
    a = norm_dim(ctx.attrs["dim0"], r, ctx, name="dim0")
    b = norm_dim(ctx.attrs["dim1"], r, ctx, name="dim1")
    shape = list(x.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return [Sig(tuple(shape), x.dtype)]


@shape_rule('dims start_dim..end_dim merged into their product')
def flatten_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    r = len(x.shape)
    if r == 0:
        return [Sig((1,), x.dtype)]
    s = norm_dim(ctx.attrs.get("start_dim", 0), r, ctx, name="start_dim")
    e = norm_dim(ctx.attrs.get("end_dim", -1), r, ctx, name="end_dim")
    if e < s:
        raise ctx.fail(f"end_dim ({e}) is before start_dim ({s})", 0, code="GS306")
    return [Sig(x.shape[:s] + (numel(x.shape[s : e + 1]),) + x.shape[e + 1 :], x.dtype)]


@shape_rule('a size-1 dim inserted at dim')
def unsqueeze_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = norm_dim(ctx.attrs["dim"], len(x.shape) + 1, ctx)
    return [Sig(x.shape[:d] + (1,) + x.shape[d:], x.dtype)]


@shape_rule('listed (or all) size-1 dims removed')
def squeeze_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    dims = ctx.attrs.get("dims")
    if dims is None:
        return [Sig(tuple(d for d in x.shape if d != 1), x.dtype)]
    norm = {norm_dim(d, len(x.shape), ctx, name="dims") for d in dims}
    return [Sig(tuple(d for k, d in enumerate(x.shape) if not (k in norm and d == 1)), x.dtype)]


@shape_rule('equal shapes except along dim, where sizes add; at least one input')
def concat_rule(ctx: RuleContext) -> list[Sig]:
    tensors = [ctx.tensor(i) for i in range(len(ctx.args))]
    if not tensors:
        raise ctx.fail("needs at least one operand", code="GS208")
    first = tensors[0]
    r = len(first.shape)
    d = norm_dim(ctx.attrs["dim"], r, ctx)
    total: Dim = 0
    for i, t in enumerate(tensors):
        if len(t.shape) != r:
            raise ctx.fail(f"has rank {len(t.shape)}, expected {r} like operand #0", i, code="GS302")
        same_dtype(ctx, i, first, t)
        for k in range(r):
            if k != d:
                ctx.eq(t.shape[k], first.shape[k], arg=i, what=f"has shape {format_shape(t.shape)}; dim {k}")
        total = add(total, t.shape[d])
    shape = list(first.shape)
    shape[d] = total
    return [Sig(tuple(shape), first.dtype)]


def _clip(v: Dim, size: Dim) -> Dim:
    if isinstance(v, int) and v < 0:
        v = add(size, v)
        if isinstance(v, int) and v < 0:
            return 0
    if compare(v, size) is True:
        return size
    if isinstance(v, int) and isinstance(size, int):
        return min(v, size)
    return v


@shape_rule('dim becomes the number of elements in start:end:step')
def slice_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    r = len(x.shape)
    d = norm_dim(ctx.attrs["dim"], r, ctx)
    size = x.shape[d]
    start = ctx.attrs.get("start") or 0
    end = ctx.attrs.get("end")
    step = ctx.attrs.get("step") or 1
    if not isinstance(step, int) or step < 1:
        raise ctx.fail(f"step must be a positive int, got {step}", 0, code="GS306")
    start = _clip(start, size)
    end = size if end is None else _clip(end, size)
    length = floordiv(add(sub(end, start), step - 1), step)
    if isinstance(length, int) and length < 0:
        length = 0
    shape = list(x.shape)
    shape[d] = length
    return [Sig(tuple(shape), x.dtype)]


@shape_rule('dim removed')
def select_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    return [Sig(x.shape[:d] + x.shape[d + 1 :], x.dtype)]


@shape_rule('sizes add up to the size of dim; one result per size')
def split_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    sizes = list(ctx.attrs["sizes"])
    ctx.eq(sum_dims(sizes), x.shape[d], arg=0, what=f"the sum of sizes {format_shape(tuple(sizes))}")
    out = []
    for s in sizes:
        shape = list(x.shape)
        shape[d] = s
        out.append(Sig(tuple(shape), x.dtype))
    return out


@shape_rule('pairs (before, after) from the last dim backwards add to each size')
def pad_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    pads = list(ctx.attrs["pad"])
    if len(pads) % 2 or len(pads) // 2 > len(x.shape):
        raise ctx.fail(f"pad={pads} must have an even length of at most 2*rank", 0, code="GS306")
    shape = list(x.shape)
    for k in range(len(pads) // 2):
        pos = len(shape) - 1 - k
        shape[pos] = add(add(shape[pos], pads[2 * k]), pads[2 * k + 1])
    return [Sig(tuple(shape), x.dtype)]


@shape_rule('each size multiplied by its repeat count (len(repeats) >= rank)')
def repeat_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    reps = list(ctx.attrs["repeats"])
    if len(reps) < len(x.shape):
        raise ctx.fail("repeats must have at least as many entries as the input has dims", 0, code="GS306")
    shape = (1,) * (len(reps) - len(x.shape)) + x.shape
    return [Sig(tuple(mul(a, b) for a, b in zip(shape, reps)), x.dtype)]


@shape_rule('result like input (rank >= 2)')
def triangle_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if len(x.shape) < 2:
        raise ctx.fail(f"has rank {len(x.shape)}; needs rank >= 2", 0, code="GS302")
    return [x]


# -- canonicalization hooks (the patterns live in graphsynth.dialects.canonicalization) -----------


class ReshapeCanonicalization(HasCanonicalizationPatternsTrait):
    """A no-op reshape goes; reshape(reshape(x)) is one reshape."""

    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from graphsynth.dialects.canonicalization import FoldReshapeChain, RemoveNoop

        return (RemoveNoop(), FoldReshapeChain())


class PermutationCanonicalization(HasCanonicalizationPatternsTrait):
    """Two permutations compose to one; the identity permutation goes."""

    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from graphsynth.dialects.canonicalization import FoldTransposePair

        return (FoldTransposePair(),)


# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class Reshape(GsOp):
    """same elements, new shape (one dim may be -1)"""

    name = "gs.reshape"
    args = "input"
    attrs = (A("shape", "dims"),)
    rule = reshape_rule
    traits = traits_def(DataMovement(injective=True), ReshapeCanonicalization())


@gs_op
class Expand(GsOp):
    """broadcast size-1 dims to shape (-1 keeps a dim)"""

    name = "gs.expand"
    args = "input"
    attrs = (A("shape", "dims"),)
    rule = expand_rule
    traits = traits_def(DataMovement(), NoopWhenSameType())


@gs_op
class Permute(GsOp):
    """reorder dims"""

    name = "gs.permute"
    args = "input"
    attrs = (A("dims", "ints"),)
    rule = permute_rule
    traits = traits_def(DataMovement(injective=True), PermutationCanonicalization())


@gs_op
class Transpose(GsOp):
    """swap two dims"""

    name = "gs.transpose"
    args = "input"
    attrs = (A("dim0", "int"), A("dim1", "int"))
    rule = transpose_rule
    traits = traits_def(DataMovement(injective=True), PermutationCanonicalization())


@gs_op
class Flatten(GsOp):
    """merge dims start_dim..end_dim"""

    name = "gs.flatten"
    args = "input"
    attrs = (A("start_dim", "int", 0), A("end_dim", "int", -1))
    rule = flatten_rule
    traits = traits_def(DataMovement(injective=True), NoopWhenSameType())


@gs_op
class Unsqueeze(GsOp):
    """insert a size-1 dim"""

    name = "gs.unsqueeze"
    args = "input"
    attrs = (A("dim", "int"),)
    rule = unsqueeze_rule
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Squeeze(GsOp):
    """drop size-1 dims (all, or those listed)"""

    name = "gs.squeeze"
    args = "input"
    attrs = (A("dims", "ints", None),)
    rule = squeeze_rule
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Concat(GsOp):
    """join along dim"""

    name = "gs.concat"
    args = "inputs*"
    attrs = (A("dim", "int"),)
    rule = concat_rule
    traits = traits_def(DataMovement())


@gs_op
class Slice(GsOp):
    """elements start:end:step along dim"""

    name = "gs.slice"
    args = "input"
    attrs = (A("dim", "int"), A("start", "dim", 0), A("end", "dim", None), A("step", "int", 1))
    rule = slice_rule
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Select(GsOp):
    """one index along dim, which disappears"""

    name = "gs.select"
    args = "input"
    attrs = (A("dim", "int"), A("index", "dim"))
    rule = select_rule
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Split(GsOp):
    """pieces of the given sizes along dim"""

    name = "gs.split"
    args = "input"
    attrs = (A("dim", "int"), A("sizes", "dims"))
    rule = split_rule
    results = -1
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Pad(GsOp):
    """constant padding, last dim first (torch.nn.functional.pad)"""

    name = "gs.pad"
    args = "input"
    attrs = (A("pad", "dims"), A("value", "float", 0.0))
    rule = pad_rule
    traits = traits_def(DataMovement())


@gs_op
class Repeat(GsOp):
    """tile the input"""

    name = "gs.repeat"
    args = "input"
    attrs = (A("repeats", "dims"),)
    rule = repeat_rule
    traits = traits_def(DataMovement())


@gs_op
class Tril(GsOp):
    """lower triangle (others zero)"""

    name = "gs.tril"
    args = "input"
    attrs = (A("diagonal", "int", 0),)
    rule = triangle_rule
    traits = traits_def(DataMovement())


@gs_op
class Triu(GsOp):
    """upper triangle (others zero)"""

    name = "gs.triu"
    args = "input"
    attrs = (A("diagonal", "int", 0),)
    rule = triangle_rule
    traits = traits_def(DataMovement())


# -- permutations of the elements along dims: flip, roll ---------------------------------------------


def _distinct_dims(ctx: RuleContext, dims: tuple[int, ...], rank: int, name: str = "dims") -> list[int]:
    """Normalised dims, each in range and named once."""
    seen: list[int] = []
    for d in dims:
        k = norm_dim(d, rank, ctx, name=name)
        if k in seen:
            raise ctx.fail(f"{name} names dim {k} twice", code="GS306", expected="distinct dims", got=str(list(dims)))
        seen.append(k)
    return seen


@shape_rule("result like input; the elements along each of dims in reverse order")
def flip_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    _distinct_dims(ctx, tuple(ctx.attrs["dims"]), len(x.shape))
    return [x]


@shape_rule("result like input; elements shifted along dims (one shift per dim), or flattened when dims=None")
def roll_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    shifts = tuple(ctx.attrs["shifts"])
    dims = ctx.attrs.get("dims")
    if not shifts:
        raise ctx.fail("roll needs at least one shift", code="GS306", expected="one shift or more", got="[]")
    if dims is None:
        if len(shifts) != 1:
            raise ctx.fail(f"a roll of the flattened input takes one shift, got {len(shifts)}", code="GS306",
                           expected="one shift", got=str(list(shifts)))
    else:
        if len(dims) != len(shifts):
            raise ctx.fail(f"roll takes one shift per dim: {len(shifts)} shifts for {len(dims)} dims", code="GS306",
                           expected=f"{len(dims)} shifts", got=str(len(shifts)))
        for d in dims:
            norm_dim(d, len(x.shape), ctx, name="dims")
    return [x]


@gs_op
class Flip(GsOp):
    """the elements along each of dims in reverse order"""

    name = "gs.flip"
    args = "input"
    attrs = (A("dims", "ints"),)
    rule = flip_rule
    traits = traits_def(DataMovement(injective=True))


@gs_op
class Roll(GsOp):
    """the elements shifted cyclically along dims (torch.roll)"""

    name = "gs.roll"
    args = "input"
    attrs = (A("shifts", "ints"), A("dims", "ints", None))
    rule = roll_rule
    traits = traits_def(DataMovement(injective=True))
