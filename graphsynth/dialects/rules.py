"""Shape rules: one function per primitive op, from operand signatures to result signatures.

A rule sees a :class:`RuleContext` (operand shapes and dtypes, literal scalars, attribute
values) and returns the result signatures, or raises :class:`ShapeError` naming the operand
and the violated relation.  Rules never look at xDSL objects, so they are plain functions
that the verifier, the importer and the hypothesis generators all share.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphsynth.dialects.dtypes import FLOAT_DTYPES, INT_DTYPES, promote
from graphsynth.dialects.shapes import (
    Dim,
    Shape,
    add,
    compare,
    floordiv,
    format_shape,
    is_positive_known,
    mul,
    numel,
    sub,
)


@dataclass(frozen=True)
class Sig:
    """A tensor signature: shape and dtype."""

    shape: Shape
    dtype: str

    def __str__(self) -> str:
        return f"{self.dtype}{format_shape(self.shape)}"


class ShapeError(Exception):
    """A violated shape rule; the verifier turns it into a Diagnostic."""

    def __init__(
        self,
        message: str,
        *,
        operand: int | None = None,
        code: str = "GS301",
        expected: str | None = None,
        got: str | None = None,
        relation: str | None = None,
        fix: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.operand = operand
        self.code = code
        self.expected = expected
        self.got = got
        self.relation = relation
        self.fix = fix


# ``what`` of RuleContext.eq shows the actual value when it names a dim of the shape it prints.
_SHOWS_DIM = re.compile(r"^has shape \[.*\]; dim -?\d+( \([a-z ]+\))?$")


@dataclass
class RuleContext:
    """What a rule sees: operands by argument position (Sig, a literal, or None)."""

    op: str
    args: list[Any]
    attrs: dict[str, Any]
    arg_operand: list[int | None] = field(default_factory=list)

    def tensor(self, i: int) -> Sig:
        a = self.args[i]
        if not isinstance(a, Sig):
            raise ShapeError(f"argument #{i} must be a tensor, got literal {a!r}", code="GS209")
        return a

    def has(self, i: int) -> bool:
        return i < len(self.args) and isinstance(self.args[i], Sig)

    def operand_index(self, i: int) -> int | None:
        return self.arg_operand[i] if i < len(self.arg_operand) else i

    def eq(self, got: Dim, expected: Dim, *, arg: int, what: str, ref: str | None = None) -> None:
        """Require ``got == expected`` symbolically; ``what`` says where ``got`` lives
        (``"has shape [256, 700]; dim 1"``), ``ref`` where ``expected`` comes from
        (``"dim -1 of operand #0"``).  The message names the expected value before the actual
        one (DESIGN.md §3): ``has shape [256, 700]; dim 1 must equal dim -1 of operand #0 (784)``;
        the actual value is spelled out unless ``what`` shows it as a dim of the shape."""
        verdict = compare(got, expected)
        if verdict:
            return
        relation = f"{expected} == {got}"
        want = f"{ref} ({expected})" if ref else str(expected)
        if verdict is None:
            raise ShapeError(
                f"{what} must equal {want}, but cannot prove {relation}",
                operand=self.operand_index(arg),
                code="GS304",
                expected=str(expected),
                got=str(got),
                relation=relation,
                fix="bind the symbols so that both sides are the same expression",
            )
        shown = _SHOWS_DIM.search(what) is not None
        raise ShapeError(
            f"{what} must equal {want}" + ("" if shown else f", got {got}"),
            operand=self.operand_index(arg),
            expected=str(expected),
            got=str(got),
            relation=relation,
        )

    def rank(self, i: int, expected: int | tuple[int, ...], what: str = "") -> Sig:
        t = self.tensor(i)
        ok = len(t.shape) in expected if isinstance(expected, tuple) else len(t.shape) == expected
        if not ok:
            want = " or ".join(map(str, expected)) if isinstance(expected, tuple) else str(expected)
            raise ShapeError(
                f"must have rank {want}{what}, got rank {len(t.shape)} ({t})",
                operand=self.operand_index(i),
                code="GS302",
                expected=f"rank {want}",
                got=f"rank {len(t.shape)}",
            )
        return t

    def fail(self, message: str, arg: int | None = None, **kw: Any) -> ShapeError:
        return ShapeError(message, operand=None if arg is None else self.operand_index(arg), **kw)


def norm_dim(d: int, rank: int, ctx: RuleContext, arg: int = 0, name: str = "dim") -> int:
    """Normalise a possibly negative dim index, or report it out of range."""
    if not isinstance(d, int) or not -rank <= d < max(rank, 1):
        raise ctx.fail(
            f"{name} must be in [{-rank}, {max(rank, 1) - 1}] for rank {rank}, got {d}",
            arg,
            code="GS306",
            expected=f"{name} in [{-rank}, {max(rank, 1) - 1}]",
            got=str(d),
        )
    return d % rank if rank else 0


# -- elementwise --------------------------------------------------------------


def broadcast(ctx: RuleContext, sigs: list[tuple[int, Sig]]) -> Shape:
    """Numpy-style broadcasting of the tensor arguments (arg index, Sig)."""
    rank = max(len(s.shape) for _, s in sigs)
    out: list[Dim] = []
    for k in range(rank):
        chosen: Dim | None = None
        chosen_arg = -1
        for i, s in sigs:
            pos = k - (rank - len(s.shape))
            if pos < 0:
                continue
            d = s.shape[pos]
            if d == 1:
                continue
            if chosen is None:
                chosen, chosen_arg = d, i
                continue
            verdict = compare(d, chosen)
            if verdict is False:
                raise ShapeError(
                    f"dim {pos - len(s.shape)} must equal dim {k - rank} of operand "
                    f"#{ctx.operand_index(chosen_arg)} ({chosen}) or 1 to broadcast, got {d}",
                    operand=ctx.operand_index(i),
                    expected=f"{chosen} or 1",
                    got=str(d),
                    relation=f"{chosen} == {d}",
                )
            if verdict is None:
                raise ShapeError(
                    f"dim {pos - len(s.shape)} must equal dim {k - rank} of operand "
                    f"#{ctx.operand_index(chosen_arg)} ({chosen}) or 1 to broadcast, but cannot prove {chosen} == {d}",
                    operand=ctx.operand_index(i),
                    code="GS304",
                    expected=f"{chosen} or 1",
                    got=str(d),
                    relation=f"{chosen} == {d}",
                )
        out.append(1 if chosen is None else chosen)
    return tuple(out)


def _literal_dtype(v: Any) -> str:
    return "bool" if isinstance(v, bool) else "i64" if isinstance(v, int) else "f32"


def elementwise(ctx: RuleContext, result_dtype: str | None = None) -> list[Sig]:
    tensors = [(i, a) for i, a in enumerate(ctx.args) if isinstance(a, Sig)]
    if not tensors:
        raise ctx.fail("needs at least one tensor operand", code="GS208")
    shape = broadcast(ctx, tensors)
    dtype = tensors[0][1].dtype
    for _, s in tensors[1:]:
        dtype = promote(dtype, s.dtype)
    for a in ctx.args:
        if a is not None and not isinstance(a, Sig) and dtype in INT_DTYPES + ("bool",):
            lit = _literal_dtype(a)
            if lit == "f32":
                dtype = "f32"
            elif lit == "i64" and dtype == "bool":  # torch: bool tensor + int number -> i64
                dtype = "i64"
    return [Sig(shape, result_dtype or dtype)]


def unary(ctx: RuleContext) -> list[Sig]:
    return [ctx.tensor(0)]


def float_unary(ctx: RuleContext) -> list[Sig]:
    t = ctx.tensor(0)
    return [Sig(t.shape, t.dtype if t.dtype in FLOAT_DTYPES else "f32")]


def binary(ctx: RuleContext) -> list[Sig]:
    return elementwise(ctx)


def true_div(ctx: RuleContext) -> list[Sig]:
    (sig,) = elementwise(ctx)
    if ctx.attrs.get("rounding_mode") is None and sig.dtype not in FLOAT_DTYPES:
        return [Sig(sig.shape, "f32")]
    return [sig]


def compare_op(ctx: RuleContext) -> list[Sig]:
    return elementwise(ctx, "bool")


def logical(ctx: RuleContext) -> list[Sig]:
    return elementwise(ctx, "bool")


def where(ctx: RuleContext) -> list[Sig]:
    cond = ctx.tensor(0)
    if cond.dtype != "bool":
        raise ctx.fail(f"condition has dtype {cond.dtype}, expected bool", 0, code="GS303", expected="bool", got=cond.dtype)
    tensors = [(i, a) for i, a in enumerate(ctx.args) if isinstance(a, Sig)]
    shape = broadcast(ctx, tensors)
    values = [a for a in ctx.args[1:] if isinstance(a, Sig)]
    dtype = values[0].dtype if values else _literal_dtype(ctx.args[1])
    for v in values[1:]:
        dtype = promote(dtype, v.dtype)
    for lit in (a for a in ctx.args[1:] if a is not None and not isinstance(a, Sig)):
        # as torch promotes: a float number makes an integer result f32, an int number a bool one i64
        kind = _literal_dtype(lit)
        if kind == "f32" and dtype not in FLOAT_DTYPES or kind == "i64" and dtype == "bool":
            dtype = kind
    return [Sig(shape, dtype)]


def masked_fill(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    mask = ctx.tensor(1)
    if mask.dtype != "bool":
        raise ctx.fail(f"mask has dtype {mask.dtype}, expected bool", 1, code="GS303", expected="bool", got=mask.dtype)
    shape = broadcast(ctx, [(0, x), (1, mask)])
    ctx.eq(len(shape), len(x.shape), arg=1, what="rank of the broadcast mask")
    for k, (a, b) in enumerate(zip(shape, x.shape)):
        ctx.eq(a, b, arg=1, what=f"broadcast dim {k} of the mask")
    return [x]


def cast(ctx: RuleContext) -> list[Sig]:
    return [Sig(ctx.tensor(0).shape, ctx.attrs["dtype"])]


def clamp(ctx: RuleContext) -> list[Sig]:
    return [ctx.tensor(0)]


# -- linear algebra ---------------------------------------------------------------


def linear(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if not x.shape:
        raise ctx.fail("is a scalar; linear needs rank >= 1", 0, code="GS302")
    w = ctx.rank(1, 2)
    ctx.eq(w.shape[1], x.shape[-1], arg=1, what=f"has shape {format_shape(w.shape)}; dim 1", ref=f"dim -1 of operand #{ctx.operand_index(0)}")
    _same_dtype(ctx, 1, x, w)
    if ctx.has(2):
        b = ctx.rank(2, 1)
        ctx.eq(b.shape[0], w.shape[0], arg=2, what=f"has shape {format_shape(b.shape)}; dim 0", ref=f"dim 0 of operand #{ctx.operand_index(1)}")
    return [Sig(x.shape[:-1] + (w.shape[0],), x.dtype)]


def linear_act(ctx: RuleContext) -> list[Sig]:
    """linear's rule; the activation keeps the type (linear's operands are floats).  The values
    ``activation`` and ``approximate`` may take are declared with the op (the verifier checks
    them); which go together is this rule's: a tanh approximation exists for gelu only."""
    act = ctx.attrs.get("activation")
    approx = ctx.attrs.get("approximate") or "none"
    if approx != "none" and act != "gelu":
        raise ctx.fail(f"approximate={approx!r} is not valid for activation {act}", code="GS306",
                       expected="none (tanh for gelu)", got=repr(approx))
    (sig,) = linear(ctx)
    if sig.dtype not in FLOAT_DTYPES:
        raise ctx.fail(f"has dtype {sig.dtype}; {act} needs a float input", 0, code="GS303", expected="a float dtype", got=sig.dtype)
    return [sig]


def _same_dtype(ctx: RuleContext, arg: int, ref: Sig, other: Sig) -> None:
    if ref.dtype != other.dtype:
        raise ctx.fail(
            f"must have dtype {ref.dtype} (the dtype of operand #{ctx.operand_index(0)}), got {other.dtype}",
            arg,
            code="GS303",
            expected=ref.dtype,
            got=other.dtype,
        )


def matmul(ctx: RuleContext) -> list[Sig]:
    a, b = ctx.tensor(0), ctx.tensor(1)
    if not a.shape or not b.shape:
        raise ctx.fail("matmul operands must have rank >= 1", 0 if not a.shape else 1, code="GS302")
    _same_dtype(ctx, 1, a, b)
    ak = a.shape[-1]
    bk = b.shape[0] if len(b.shape) == 1 else b.shape[-2]
    ctx.eq(bk, ak, arg=1, what=f"has shape {format_shape(b.shape)}; dim {0 if len(b.shape) == 1 else -2}", ref=f"dim -1 of operand #{ctx.operand_index(0)}")
    a_batch, a_rows = (a.shape[:-2], a.shape[-2:-1]) if len(a.shape) > 1 else ((), ())
    b_batch, b_cols = (b.shape[:-2], b.shape[-1:]) if len(b.shape) > 1 else ((), ())
    batch: Shape = ()
    if a_batch or b_batch:
        batch = broadcast(ctx, [(0, Sig(a_batch, a.dtype)), (1, Sig(b_batch, b.dtype))])
    return [Sig(batch + a_rows + b_cols, a.dtype)]


def addmm(ctx: RuleContext) -> list[Sig]:
    a, b = ctx.rank(1, 2), ctx.rank(2, 2)
    _same_dtype(ctx, 2, a, b)
    ctx.eq(b.shape[0], a.shape[1], arg=2, what=f"has shape {format_shape(b.shape)}; dim 0", ref=f"dim 1 of operand #{ctx.operand_index(1)}")
    out = Sig((a.shape[0], b.shape[1]), a.dtype)
    bias = ctx.tensor(0)
    if broadcast(ctx, [(0, bias), (1, out)]) != out.shape:
        raise ctx.fail(f"bias {bias} does not broadcast to the product {out}", 0, code="GS301")
    return [out]


def _conv_out(size: Dim, k: Dim, stride: int, pad: int, dil: int) -> Dim:
    # floor((size + 2*pad - dil*(k-1) - 1) / stride) + 1
    num = sub(sub(add(size, 2 * pad), mul(dil, sub(k, 1))), 1)
    return add(floordiv(num, stride), 1)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def conv2d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4))
    w = ctx.rank(1, 4)
    _same_dtype(ctx, 1, x, w)
    groups = ctx.attrs.get("groups", 1)
    stride, pad, dil = (_pair(ctx.attrs.get(k, d)) for k, d in (("stride", 1), ("padding", 0), ("dilation", 1)))
    cin = x.shape[-3]
    ctx.eq(mul(w.shape[1], groups), cin, arg=1, what=f"has shape {format_shape(w.shape)}; dim 1 times groups ({groups})", ref=f"dim -3 of operand #{ctx.operand_index(0)}")
    if ctx.has(2):
        b = ctx.rank(2, 1)
        ctx.eq(b.shape[0], w.shape[0], arg=2, what=f"has shape {format_shape(b.shape)}; dim 0", ref=f"dim 0 of operand #{ctx.operand_index(1)}")
    h = _conv_out(x.shape[-2], w.shape[2], stride[0], pad[0], dil[0])
    wd = _conv_out(x.shape[-1], w.shape[3], stride[1], pad[1], dil[1])
    for name, d in (("height", h), ("width", wd)):
        if isinstance(d, int) and d <= 0:
            raise ctx.fail(f"output {name} would be {d}; the kernel does not fit the input", 0, code="GS306")
    return [Sig(x.shape[:-3] + (w.shape[0], h, wd), x.dtype)]


def conv1d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3))
    w = ctx.rank(1, 3)
    groups = ctx.attrs.get("groups", 1)
    stride, pad, dil = (_pair(ctx.attrs.get(k, d))[0] for k, d in (("stride", 1), ("padding", 0), ("dilation", 1)))
    ctx.eq(mul(w.shape[1], groups), x.shape[-2], arg=1, what=f"has shape {format_shape(w.shape)}; dim 1 times groups ({groups})")
    if ctx.has(2):
        ctx.eq(ctx.rank(2, 1).shape[0], w.shape[0], arg=2, what="dim 0")
    length = _conv_out(x.shape[-1], w.shape[2], stride, pad, dil)
    return [Sig(x.shape[:-2] + (w.shape[0], length), x.dtype)]


def pool2d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4))
    kernel = _pair(ctx.attrs["kernel_size"])
    stride = _pair(ctx.attrs.get("stride") or kernel)
    pad = _pair(ctx.attrs.get("padding", 0))
    dil = _pair(ctx.attrs.get("dilation", 1))
    if ctx.attrs.get("ceil_mode"):
        raise ctx.fail("ceil_mode=true is not supported", 0, code="GS306")
    h = _conv_out(x.shape[-2], kernel[0], stride[0], pad[0], dil[0])
    w = _conv_out(x.shape[-1], kernel[1], stride[1], pad[1], dil[1])
    return [Sig(x.shape[:-2] + (h, w), x.dtype)]


def adaptive_avg_pool2d(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4))
    out = _pair(ctx.attrs["output_size"])
    return [Sig(x.shape[:-2] + out, x.dtype)]


def interpolate(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4, 5))
    size = tuple(ctx.attrs["size"])
    k = len(x.shape) - 2
    if len(size) != k:
        raise ctx.fail(f"size {format_shape(size)} must have {k} entries for {x}", 0, code="GS306")
    scales = ctx.attrs.get("scales")
    if scales is not None and len(scales) != k:
        raise ctx.fail(f"scales has {len(scales)} entries, expected {k}", 0, code="GS306")
    return [Sig(x.shape[:2] + size, x.dtype)]


# -- normalisation -------------------------------------------------------------


def layer_norm(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    normalized = tuple(ctx.attrs["normalized_shape"])
    if len(normalized) > len(x.shape):
        raise ctx.fail(f"normalized_shape {format_shape(normalized)} has more dims than the input {x}", 0, code="GS302")
    for k, d in enumerate(normalized):
        pos = len(x.shape) - len(normalized) + k
        ctx.eq(x.shape[pos], d, arg=0, what=f"has shape {format_shape(x.shape)}; dim {pos}")
    for arg in (1, 2):
        if ctx.has(arg):
            p = ctx.tensor(arg)
            if len(p.shape) != len(normalized):
                raise ctx.fail(f"has shape {format_shape(p.shape)}, expected {format_shape(normalized)}", arg, code="GS302")
            for k, (a, b) in enumerate(zip(p.shape, normalized)):
                ctx.eq(a, b, arg=arg, what=f"has shape {format_shape(p.shape)}; dim {k}")
    return [x]


def rms_norm(ctx: RuleContext) -> list[Sig]:
    return layer_norm(ctx)


def batch_norm(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3, 4, 5))
    c = x.shape[1]
    for arg in range(1, 5):
        if ctx.has(arg):
            p = ctx.rank(arg, 1)
            ctx.eq(p.shape[0], c, arg=arg, what=f"has shape {format_shape(p.shape)}; dim 0 (channels)")
    return [x]


def group_norm(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3, 4, 5))
    groups = ctx.attrs["num_groups"]
    c = x.shape[1]
    if isinstance(c, int) and c % groups:
        raise ctx.fail(f"channels ({c}) are not divisible by num_groups ({groups})", 0, code="GS306")
    for arg in (1, 2):
        if ctx.has(arg):
            ctx.eq(ctx.rank(arg, 1).shape[0], c, arg=arg, what="dim 0 (channels)")
    return [x]


def softmax(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    return [Sig(x.shape, ctx.attrs.get("dtype") or x.dtype)]


def embedding(ctx: RuleContext) -> list[Sig]:
    w = ctx.rank(0, 2)
    idx = ctx.tensor(1)
    if idx.dtype not in INT_DTYPES:
        raise ctx.fail(f"indices have dtype {idx.dtype}, expected an integer dtype", 1, code="GS303", expected="i64", got=idx.dtype)
    return [Sig(idx.shape + (w.shape[1],), w.dtype)]


def attention(ctx: RuleContext) -> list[Sig]:
    q, k, v = ctx.tensor(0), ctx.tensor(1), ctx.tensor(2)
    for i, t in ((1, k), (2, v)):
        if len(t.shape) != len(q.shape):
            raise ctx.fail(f"has rank {len(t.shape)}, expected {len(q.shape)} like the query", i, code="GS302")
    ctx.eq(k.shape[-1], q.shape[-1], arg=1, what=f"has shape {format_shape(k.shape)}; dim -1 (head size)")
    ctx.eq(v.shape[-2], k.shape[-2], arg=2, what=f"has shape {format_shape(v.shape)}; dim -2 (key length)")
    if ctx.has(3):
        mask = ctx.tensor(3)
        scores = Sig(q.shape[:-1] + (k.shape[-2],), q.dtype)
        broadcast(ctx, [(3, mask), (0, scores)])
    return [Sig(q.shape[:-1] + (v.shape[-1],), q.dtype)]


# -- shape manipulation --------------------------------------------------------------


def reshape(ctx: RuleContext) -> list[Sig]:
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


def expand(ctx: RuleContext) -> list[Sig]:
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


def permute(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    dims = [norm_dim(d, len(x.shape), ctx, name="dims") for d in ctx.attrs["dims"]]
    if sorted(dims) != list(range(len(x.shape))):
        raise ctx.fail(
            f"dims={list(ctx.attrs['dims'])} is not a permutation of the {len(x.shape)} dims of {x}",
            0,
            code="GS306",
        )
    return [Sig(tuple(x.shape[d] for d in dims), x.dtype)]


def transpose(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    r = len(x.shape)
    a = norm_dim(ctx.attrs["dim0"], r, ctx, name="dim0")
    b = norm_dim(ctx.attrs["dim1"], r, ctx, name="dim1")
    shape = list(x.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return [Sig(tuple(shape), x.dtype)]


def flatten(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    r = len(x.shape)
    if r == 0:
        return [Sig((1,), x.dtype)]
    s = norm_dim(ctx.attrs.get("start_dim", 0), r, ctx, name="start_dim")
    e = norm_dim(ctx.attrs.get("end_dim", -1), r, ctx, name="end_dim")
    if e < s:
        raise ctx.fail(f"end_dim ({e}) is before start_dim ({s})", 0, code="GS306")
    return [Sig(x.shape[:s] + (numel(x.shape[s : e + 1]),) + x.shape[e + 1 :], x.dtype)]


def unsqueeze(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = norm_dim(ctx.attrs["dim"], len(x.shape) + 1, ctx)
    return [Sig(x.shape[:d] + (1,) + x.shape[d:], x.dtype)]


def squeeze(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    dims = ctx.attrs.get("dims")
    if dims is None:
        return [Sig(tuple(d for d in x.shape if d != 1), x.dtype)]
    norm = {norm_dim(d, len(x.shape), ctx, name="dims") for d in dims}
    return [Sig(tuple(d for k, d in enumerate(x.shape) if not (k in norm and d == 1)), x.dtype)]


def concat(ctx: RuleContext) -> list[Sig]:
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
        _same_dtype(ctx, i, first, t)
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


def slice_(ctx: RuleContext) -> list[Sig]:
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


def select(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    return [Sig(x.shape[:d] + x.shape[d + 1 :], x.dtype)]


def split(ctx: RuleContext) -> list[Sig]:
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


def sum_dims(dims: list[Dim]) -> Dim:
    total: Dim = 0
    for d in dims:
        total = add(total, d)
    return total


def index_select(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    idx = ctx.rank(1, (0, 1))
    d = norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    n = idx.shape[0] if idx.shape else 1
    return [Sig(x.shape[:d] + (n,) + x.shape[d + 1 :], x.dtype)]


def gather_index(ctx: RuleContext) -> list[Sig]:
    """``x[idx]`` along dim 0 with an integer index tensor of any shape."""
    x = ctx.tensor(0)
    idx = ctx.tensor(1)
    if idx.dtype == "bool":
        raise ctx.fail("boolean indexing has a data-dependent shape and is not supported", 1, code="GS306")
    return [Sig(idx.shape + x.shape[1:], x.dtype)]


def index(ctx: RuleContext) -> list[Sig]:
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


def gather(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    idx = ctx.tensor(1)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    if len(idx.shape) != len(x.shape):
        raise ctx.fail(f"index has rank {len(idx.shape)}, expected {len(x.shape)} like the input", 1, code="GS302")
    if idx.dtype not in INT_DTYPES:
        raise ctx.fail(f"index has dtype {idx.dtype}, expected an integer dtype", 1, code="GS303", expected="i64", got=idx.dtype)
    return [Sig(idx.shape, x.dtype)]


def pad(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    pads = list(ctx.attrs["pad"])
    if len(pads) % 2 or len(pads) // 2 > len(x.shape):
        raise ctx.fail(f"pad={pads} must have an even length of at most 2*rank", 0, code="GS306")
    shape = list(x.shape)
    for k in range(len(pads) // 2):
        pos = len(shape) - 1 - k
        shape[pos] = add(add(shape[pos], pads[2 * k]), pads[2 * k + 1])
    return [Sig(tuple(shape), x.dtype)]


def repeat(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    reps = list(ctx.attrs["repeats"])
    if len(reps) < len(x.shape):
        raise ctx.fail("repeats must have at least as many entries as the input has dims", 0, code="GS306")
    shape = (1,) * (len(reps) - len(x.shape)) + x.shape
    return [Sig(tuple(mul(a, b) for a, b in zip(shape, reps)), x.dtype)]


def tril(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if len(x.shape) < 2:
        raise ctx.fail(f"has rank {len(x.shape)}; needs rank >= 2", 0, code="GS302")
    return [x]


# -- reductions ----------------------------------------------------------------------


def reduce(ctx: RuleContext, dtype: str | None = None) -> list[Sig]:
    x = ctx.tensor(0)
    dims = ctx.attrs.get("dims")
    keep = bool(ctx.attrs.get("keepdim"))
    r = len(x.shape)
    norm = set(range(r)) if dims is None or len(dims) == 0 else {norm_dim(d, r, ctx, name="dims") for d in dims}
    shape = tuple((1 if k in norm else d) for k, d in enumerate(x.shape) if keep or k not in norm)
    if ctx.op == "sum" and not dtype and not ctx.attrs.get("dtype") and x.dtype not in FLOAT_DTYPES:
        dtype = "i64"  # torch sums ints and bools in i64
    return [Sig(shape, dtype or ctx.attrs.get("dtype") or x.dtype)]


def mean(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if x.dtype not in FLOAT_DTYPES and not ctx.attrs.get("dtype"):
        raise ctx.fail(f"mean of a {x.dtype} tensor needs a float dtype", 0, code="GS303", expected="a float dtype", got=x.dtype)
    return reduce(ctx)


def argreduce(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    d = ctx.attrs.get("dim")
    keep = bool(ctx.attrs.get("keepdim"))
    if d is None:
        return [Sig((), "i64")]
    d = norm_dim(d, len(x.shape), ctx)
    shape = tuple((1 if k == d else s) for k, s in enumerate(x.shape) if keep or k != d)
    return [Sig(shape, "i64")]


def cumsum(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    norm_dim(ctx.attrs["dim"], len(x.shape), ctx)
    dtype = ctx.attrs.get("dtype") or ("i64" if x.dtype in INT_DTYPES + ("bool",) else x.dtype)
    return [Sig(x.shape, dtype)]


# -- creation ------------------------------------------------------------------------------


def arange(ctx: RuleContext) -> list[Sig]:
    start = ctx.attrs.get("start") or 0
    end = ctx.attrs["end"]
    step = ctx.attrs.get("step") or 1
    if not isinstance(step, int) or step < 1:
        raise ctx.fail(f"step must be a positive int, got {step}", code="GS306")
    n = floordiv(add(sub(end, start), step - 1), step)
    if not is_positive_known(n) and not (isinstance(n, int) and n >= 0):
        raise ctx.fail(f"arange length {n} is not known to be non-negative", code="GS304")
    return [Sig((n,), ctx.attrs.get("dtype") or "i64")]


def full(ctx: RuleContext) -> list[Sig]:
    return [Sig(tuple(ctx.attrs["shape"]), ctx.attrs["dtype"])]


def constant(ctx: RuleContext) -> list[Sig]:
    values = ctx.attrs["value"]
    dtype = ctx.attrs["dtype"]
    shape = tuple(ctx.attrs["shape"])
    n = numel(shape)
    if not isinstance(n, int) or n != len(values):
        raise ctx.fail(f"value has {len(values)} entries but shape {format_shape(shape)} needs {n}", code="GS306")
    return [Sig(shape, dtype)]


def like(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    return [Sig(x.shape, ctx.attrs.get("dtype") or x.dtype)]


# -- calls between graphs ------------------------------------------------------------------
# The signatures of the graphs of the module being verified (name -> (input sigs, output sigs)).
# The verifier sets it around each graph; a rule cannot see other graphs otherwise.
CALLEES: ContextVar[dict[str, tuple[tuple[Sig, ...], tuple[Sig, ...]]] | None] = ContextVar("gs_callees", default=None)


def substitute(d: Dim, bindings: dict[str, Dim]) -> Dim:
    """``d`` with each symbol replaced by its binding (unbound symbols stay)."""
    from graphsynth.dialects.shapes import FloorDiv, SymDim

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


def _bind(want: Dim, got: Dim, bindings: dict[str, Dim]) -> None:
    """Bind the symbol of a callee dim ``c*S + k`` to ``(got - k) // c`` if it is still free."""
    from graphsynth.dialects.shapes import SymDim

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


def call(ctx: RuleContext) -> list[Sig]:
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
    bindings: dict[str, Dim] = {}
    for i, (want, got) in enumerate(zip(ins, args)):
        got = ctx.tensor(i)
        if len(want.shape) != len(got.shape):
            raise ctx.fail(f"is {got}; input #{i} of graph {callee!r} has rank {len(want.shape)} ({want})", i,
                           code="GS302", expected=str(want), got=str(got))
        if want.dtype != got.dtype:
            raise ctx.fail(f"is {got}; input #{i} of graph {callee!r} has dtype {want.dtype}", i, code="GS303",
                           expected=want.dtype, got=got.dtype)
        for w, g in zip(want.shape, got.shape):
            _bind(w, g, bindings)
    for i, (want, got) in enumerate(zip(ins, args)):
        for k, (w, g) in enumerate(zip(want.shape, got.shape)):
            ctx.eq(g, substitute(w, bindings), arg=i, what=f"has shape {format_shape(got.shape)}; dim {k}",
                   ref=f"dim {k} of input #{i} of graph {callee!r}, {want},")
    return [Sig(tuple(substitute(d, bindings) for d in o.shape), o.dtype) for o in outs]
