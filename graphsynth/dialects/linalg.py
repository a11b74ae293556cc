"""Linear algebra and convolution: linear, linear_act, matmul, addmm, conv1d, conv2d, attention.

FLOPs count a multiply-accumulate as 2: ``linear`` from ``[..., K]`` to ``N`` features costs
``2*...*K*N`` (plus ``...*N`` for the bias).
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects.attrs import REQUIRED
from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.cost import CostContext, Term
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.dtypes import DTYPES
from graphsynth.dialects.elementwise import GELU_APPROXIMATIONS
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.rules import (
    FLOAT_DTYPES,
    RuleContext,
    Sig,
    broadcast,
    conv_out,
    pair,
    same_dtype,
    shape_rule,
)
from graphsynth.dialects.symdim import Shape, mul
from graphsynth.dialects.traits import FusedActivation, Random, WidthLayer

# The activations linear_act fuses (its ``activation`` attribute), from fuse-linear-activation.
LINEAR_ACTIVATIONS = ("relu", "gelu", "silu")

# -- shape rules ---------------------------------------------------------------------------------


@shape_rule('input [..., in], weight [out, in], bias [out] -> [..., out]')
def linear_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.tensor(0)
    if not x.shape:
        raise ctx.fail("is a scalar; linear needs rank >= 1", 0, code="GS302")
    w = ctx.rank(1, 2)
    # compare() first: the messages are built only for a dim that fails (linear is on every layer).
    if not compare(w.shape[1], x.shape[-1]):
        ctx.eq(w.shape[1], x.shape[-1], arg=1, what=f"has shape {format_shape(w.shape)}; dim 1", ref=f"dim -1 of operand #{ctx.operand_index(0)}")
    same_dtype(ctx, 1, x, w)
    if ctx.has(2):
        b = ctx.rank(2, 1)
        if not compare(b.shape[0], w.shape[0]):
            ctx.eq(b.shape[0], w.shape[0], arg=2, what=f"has shape {format_shape(b.shape)}; dim 0", ref=f"dim 0 of operand #{ctx.operand_index(1)}")
    return [Sig(x.shape[:-1] + (w.shape[0],), x.dtype)]


@shape_rule('as linear: input [..., in], weight [out, in], bias [out] -> [..., out]; float dtype; approximate=tanh only with gelu')
def linear_act_rule(ctx: RuleContext) -> list[Sig]:
    """linear's rule; the activation keeps the type (linear's operands are floats).  The values
    ``activation`` and ``approximate`` may take are declared with the op (the verifier checks
    them); which go together is this rule's: a tanh approximation exists for gelu only."""
    act = ctx.attrs.get("activation")
    approx = ctx.attrs.get("approximate") or "none"
    if approx != "none" and act != "gelu":
        raise ctx.fail(f"approximate={approx!r} is not valid for activation {act}", code="GS306",
                       expected="none (tanh for gelu)", got=repr(approx))
    (sig,) = linear_rule(ctx)
    if sig.dtype not in FLOAT_DTYPES:
        raise ctx.fail(f"has dtype {sig.dtype}; {act} needs a float input", 0, code="GS303", expected="a float dtype", got=sig.dtype)
    return [sig]


@shape_rule('[..., n, k] @ [..., k, m] -> [..., n, m]; batch dims broadcast; 1-d operands as torch.matmul')
def matmul_rule(ctx: RuleContext) -> list[Sig]:
    a, b = ctx.tensor(0), ctx.tensor(1)
    if not a.shape or not b.shape:
        raise ctx.fail("matmul operands must have rank >= 1", 0 if not a.shape else 1, code="GS302")
    same_dtype(ctx, 1, a, b)
    ak = a.shape[-1]
    bk = b.shape[0] if len(b.shape) == 1 else b.shape[-2]
    ctx.eq(bk, ak, arg=1, what=f"has shape {format_shape(b.shape)}; dim {0 if len(b.shape) == 1 else -2}", ref=f"dim -1 of operand #{ctx.operand_index(0)}")
    a_batch, a_rows = (a.shape[:-2], a.shape[-2:-1]) if len(a.shape) > 1 else ((), ())
    b_batch, b_cols = (b.shape[:-2], b.shape[-1:]) if len(b.shape) > 1 else ((), ())
    batch: Shape = ()
    if a_batch or b_batch:
        batch = broadcast(ctx, [(0, Sig(a_batch, a.dtype)), (1, Sig(b_batch, b.dtype))])
    return [Sig(batch + a_rows + b_cols, a.dtype)]


@shape_rule('bias + lhs @ rhs: lhs [n, k], rhs [k, m] -> [n, m]; bias broadcasts to [n, m]')
def addmm_rule(ctx: RuleContext) -> list[Sig]:
    a, b = ctx.rank(1, 2), ctx.rank(2, 2)
    same_dtype(ctx, 2, a, b)
    ctx.eq(b.shape[0], a.shape[1], arg=2, what=f"has shape {format_shape(b.shape)}; dim 0", ref=f"dim 1 of operand #{ctx.operand_index(1)}")
    out = Sig((a.shape[0], b.shape[1]), a.dtype)
    bias = ctx.tensor(0)
    if broadcast(ctx, [(0, bias), (1, out)]) != out.shape:
        raise ctx.fail(f"bias {bias} does not broadcast to the product {out}", 0, code="GS301")
    return [out]


@shape_rule('input [N, C, H, W], weight [O, C/groups, kh, kw] -> [N, O, (H+2p-d(kh-1)-1)//s+1, ...]')
def conv2d_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (3, 4))
    w = ctx.rank(1, 4)
    same_dtype(ctx, 1, x, w)
    groups = ctx.attrs.get("groups", 1)
    stride, pad, dil = (pair(ctx.attrs.get(k, d)) for k, d in (("stride", 1), ("padding", 0), ("dilation", 1)))
    cin = x.shape[-3]
    ctx.eq(mul(w.shape[1], groups), cin, arg=1, what=f"has shape {format_shape(w.shape)}; dim 1 times groups ({groups})", ref=f"dim -3 of operand #{ctx.operand_index(0)}")
    if ctx.has(2):
        b = ctx.rank(2, 1)
        ctx.eq(b.shape[0], w.shape[0], arg=2, what=f"has shape {format_shape(b.shape)}; dim 0", ref=f"dim 0 of operand #{ctx.operand_index(1)}")
    h = conv_out(x.shape[-2], w.shape[2], stride[0], pad[0], dil[0])
    wd = conv_out(x.shape[-1], w.shape[3], stride[1], pad[1], dil[1])
    for name, d in (("height", h), ("width", wd)):
        if isinstance(d, int) and d <= 0:
            raise ctx.fail(f"output {name} would be {d}; the kernel does not fit the input", 0, code="GS306")
    return [Sig(x.shape[:-3] + (w.shape[0], h, wd), x.dtype)]


@shape_rule('input [N, C, L], weight [O, C/groups, k] -> [N, O, (L+2p-d(k-1)-1)//s+1]')
def conv1d_rule(ctx: RuleContext) -> list[Sig]:
    x = ctx.rank(0, (2, 3))
    w = ctx.rank(1, 3)
    groups = ctx.attrs.get("groups", 1)
    stride, pad, dil = (pair(ctx.attrs.get(k, d))[0] for k, d in (("stride", 1), ("padding", 0), ("dilation", 1)))
    ctx.eq(mul(w.shape[1], groups), x.shape[-2], arg=1, what=f"has shape {format_shape(w.shape)}; dim 1 times groups ({groups})")
    if ctx.has(2):
        ctx.eq(ctx.rank(2, 1).shape[0], w.shape[0], arg=2, what="dim 0")
    length = conv_out(x.shape[-1], w.shape[2], stride, pad, dil)
    return [Sig(x.shape[:-2] + (w.shape[0], length), x.dtype)]


@shape_rule('q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev]; mask broadcasts to [..., L, S]')
def attention_rule(ctx: RuleContext) -> list[Sig]:
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


# -- cost formulas ---------------------------------------------------------------------------------


def linear_flops(ctx: CostContext) -> list[Term]:
    """2*...*K*N (+ ...*N with a bias)."""
    x, w = ctx.shape(0), ctx.shape(1)
    if x is None or w is None or not x or len(w) != 2:
        return []
    terms: list[Term] = [(2, *x[:-1], x[-1], w[0])]
    if ctx.shape(2) is not None:
        terms.append((*x[:-1], w[0]))
    return terms


def linear_act_flops(ctx: CostContext) -> list[Term]:
    """linear's, plus one per output element for the activation."""
    return [*linear_flops(ctx), tuple(ctx.out[0].shape)]


def matmul_flops(ctx: CostContext) -> list[Term]:
    """2*numel(out)*K."""
    a = ctx.shape(0)
    if a is None or not a:
        return []
    return [(2, *ctx.out[0].shape, a[-1])]


def addmm_flops(ctx: CostContext) -> list[Term]:
    """2*M*K*N + M*N."""
    a, b = ctx.shape(1), ctx.shape(2)
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return []
    return [(2, a[0], a[1], b[1]), (a[0], b[1])]


def conv_flops(ctx: CostContext) -> list[Term]:
    """2*numel(out)*(C/groups)*k... (+ numel(out) with a bias)."""
    w = ctx.shape(1)
    if w is None:
        return []
    out: Shape = ctx.out[0].shape
    terms: list[Term] = [(2, *out, *w[1:])]
    if ctx.shape(2) is not None:
        terms.append(tuple(out))
    return terms


def attention_flops(ctx: CostContext) -> list[Term]:
    """2*..*L*S*E (q k^T) + 6*..*L*S (scale, softmax) + 2*..*L*S*Ev (weights @ v) (+ ..*L*S
    for a mask or causal masking)."""
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if q is None or k is None or v is None or len(q) < 2 or len(k) < 2:
        return []
    batch, L, E, S, Ev = q[:-2], q[-2], q[-1], k[-2], v[-1]
    terms: list[Term] = [(2, *batch, L, S, E), (6, *batch, L, S), (2, *batch, L, S, Ev)]
    if ctx.shape(3) is not None or ctx.attrs.get("is_causal"):
        terms.append((*batch, L, S))
    return terms


def attention_workspace(ctx: CostContext) -> list[Term]:
    """The score matrix q k^T and the softmax weights, ..*L*S elements each, held at once."""
    q, k = ctx.shape(0), ctx.shape(1)
    if q is None or k is None or len(q) < 2 or len(k) < 2 or not ctx.out or len(ctx.out[0].shape) < 2:
        return []
    out = ctx.out[0]
    return [(2 * DTYPES[out.dtype].itemsize, *out.shape[:-2], q[-2], k[-2])]


def _attention_dropout(op: object) -> bool:
    return bool(op.attr_values().get("dropout_p"))  # type: ignore[attr-defined]


_CONV2D = (A("stride", "ints", (1, 1)), A("padding", "ints", (0, 0)), A("dilation", "ints", (1, 1)), A("groups", "int", 1))
_CONV1D = (A("stride", "ints", (1,)), A("padding", "ints", (0,)), A("dilation", "ints", (1,)), A("groups", "int", 1))

# -- ops ---------------------------------------------------------------------------------------------


@gs_op
class Linear(GsOp):
    """input @ weight^T + bias (weight: [out, in])"""

    name = "gs.linear"
    args = "input weight bias?"
    rule = linear_rule
    flops = linear_flops
    traits = traits_def(WidthLayer(-1))


@gs_op
class LinearAct(GsOp):
    """activation(input @ weight^T + bias): linear fused with relu, gelu or silu (made by fuse-linear-activation); approximate=tanh only with gelu"""

    name = "gs.linear_act"
    args = "input weight bias?"
    attrs = (A("activation", "str", REQUIRED, LINEAR_ACTIVATIONS), A("approximate", "str", "none", GELU_APPROXIMATIONS))
    rule = linear_act_rule
    flops = linear_act_flops
    traits = traits_def(FusedActivation())


@gs_op
class Matmul(GsOp):
    """batched matrix product with broadcasting batch dims"""

    name = "gs.matmul"
    args = "lhs rhs"
    rule = matmul_rule
    flops = matmul_flops


@gs_op
class Addmm(GsOp):
    """bias + lhs @ rhs for 2-d lhs, rhs (GPT-2's Conv1D; weight [in, out])"""

    name = "gs.addmm"
    args = "bias lhs rhs"
    rule = addmm_rule
    flops = addmm_flops


@gs_op
class Conv2d(GsOp):
    """2-d convolution, NCHW, weight [out, in/groups, kh, kw]"""

    name = "gs.conv2d"
    args = "input weight bias?"
    attrs = _CONV2D
    rule = conv2d_rule
    flops = conv_flops
    traits = traits_def(WidthLayer(1))


@gs_op
class Conv1d(GsOp):
    """1-d convolution, NCL, weight [out, in/groups, k]"""

    name = "gs.conv1d"
    args = "input weight bias?"
    attrs = _CONV1D
    rule = conv1d_rule
    flops = conv_flops
    traits = traits_def(WidthLayer(1))


@gs_op
class Attention(GsOp):
    """scaled dot-product attention softmax(q k^T * scale + mask) v"""

    name = "gs.attention"
    args = "query key value mask?"
    attrs = (A("is_causal", "bool", False), A("scale", "float", None), A("dropout_p", "float", 0.0))
    rule = attention_rule
    flops = attention_flops
    workspace = attention_workspace
    traits = traits_def(Random(when=_attention_dropout))

