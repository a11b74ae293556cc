"""Builders of random ops for :func:`graphsynth.testing.strategies.modules`, keyed by op class.

A builder draws what one op needs (operands from the values built so far, attributes from small
choices) and adds the op when its shape rule accepts the operands; it returns False when the op
does not apply to the values at hand.  :data:`BUILDERS` maps each op class to its builder;
:data:`EXEMPT` lists the op classes without one, each with the reason (a test checks that every
op of the dialect is in one of the two).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from graphsynth.dialects import gs
from graphsynth.dialects.symdim import Dim, mul, numel
from graphsynth.testing.builders_seq import SEQUENCE_BUILDERS
from graphsynth.testing.builders_spectral import SPECTRAL_BUILDERS
from graphsynth.testing.building import Builder, State, Value
from graphsynth.testing.building import dim_choice as _dim_choice
from graphsynth.testing.building import emit as _emit
from graphsynth.testing.building import infer as _infer
from graphsynth.testing.building import is_float as _is_float
from graphsynth.testing.building import pick as _pick
from graphsynth.testing.building import scalar as _scalar

# -- one builder per op kind ----------------------------------------------------------------------
# A builder draws what it needs and returns True when it added an op; False when the op does
# not apply to the values at hand (the generator then falls back to a unary op).


def _b_unary(cls: type[gs.GsOp]) -> Builder:
    def build(draw: Callable, s: State) -> bool:
        x = _pick(draw, s, _is_float)
        if x is None:
            return False
        attrs: dict[str, Any] = {}
        if cls is gs.Gelu and draw(st.booleans()):
            attrs["approximate"] = "tanh"
        elif cls is gs.Clamp:
            lo = _scalar(draw, (None, -1.0, 0.0, -0.5))
            hi = _scalar(draw, (1.0, None, 0.5, 2.0))
            if lo is not None:
                attrs["min"] = lo
            if hi is not None:
                attrs["max"] = hi
        elif cls is gs.Dropout:
            attrs["p"] = _scalar(draw, (0.1, 0.5, 0.0))
        elif cls is gs.LeakyRelu:
            attrs["negative_slope"] = _scalar(draw, (0.01, 0.2))
        elif cls is gs.Hardtanh:
            attrs["min_val"], attrs["max_val"] = _scalar(draw, ((-1.0, 1.0), (-0.5, 2.0)))
        return _emit(s, cls, [x], attrs) is not None

    return build


def _broadcast_partner(draw: Callable, s: State, x: Value) -> Value | None:
    """A second tensor operand that broadcasts with ``x``: an earlier value (residual), ``x``
    itself, or a new parameter shaped like a trailing part of ``x`` (a bias)."""
    how = draw(st.integers(0, 2))
    if how == 0:
        return _pick(draw, s, lambda v: v.sig.dtype == x.sig.dtype and _infer(gs.Add, [x, v], {}) is not None)
    if how == 1:
        return x
    if not x.sig.shape:
        return None
    k = draw(st.integers(1, len(x.sig.shape)))
    tail = [d if isinstance(d, int) else 1 for d in x.sig.shape[-k:]]
    if draw(st.booleans()) and tail:
        tail[0] = 1
    return s.param(tail, x.sig.dtype, "bias")


_SCALARS: dict[type, tuple[Any, ...]] = {
    gs.Add: (1.0, 0, 0.0, -2.0, 3),
    gs.Sub: (1.0, 0, 0.5, -2.0),
    gs.Mul: (2.0, 1, 1.0, 0.5, -1.0, 0),
    gs.Maximum: (0.0, -0.5),
    gs.Minimum: (0.0, 0.5),
    gs.Div: (2.0, 1, 4.0, 0.5, -3.0),
    gs.Pow: (2, 1, 3, 2.0),
}


def _b_binary(cls: type[gs.GsOp]) -> Builder:

    def build(draw: Callable, s: State) -> bool:
        x = _pick(draw, s, _is_float)
        if x is None:
            return False
        tensor_rhs = (
            cls not in (gs.Div, gs.Pow, gs.Maximum, gs.Minimum) or cls in (gs.Maximum, gs.Minimum) and draw(st.booleans())
        )
        if tensor_rhs and draw(st.integers(0, 2)) > 0:
            y = _broadcast_partner(draw, s, x)
            if y is None:
                return False
            args: list[Any] = [x, y]
            if cls is gs.Sub and draw(st.booleans()):
                args = [y, x]
        else:
            c = _scalar(draw, _SCALARS.get(cls, (1.0,)))
            args = [x, c]
            if cls in (gs.Add, gs.Mul, gs.Sub) and draw(st.integers(0, 3)) == 3:
                args = [c, x]  # a number on the left
        return _emit(s, cls, args, {}) is not None

    return build


def _b_where(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, _is_float)
    if x is None:
        return False
    cond = _emit(s, draw(st.sampled_from((gs.Gt, gs.Lt, gs.Ge))), [x, _scalar(draw, (0.0, 0.5))], {})
    if cond is None:
        return False
    other = _scalar(draw, (0.0, 1.0)) if draw(st.booleans()) else x
    args = [cond[0], x, other] if draw(st.booleans()) else [cond[0], other, x]
    return _emit(s, gs.Where, args, {}) is not None


def _b_cast(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, _is_float)
    if x is None:
        return False
    target = draw(st.sampled_from((x.sig.dtype, "f64", "f32")))
    return _emit(s, gs.Cast, [x], {"dtype": target}) is not None


def _b_linear(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: _is_float(v) and bool(v.sig.shape) and isinstance(v.sig.shape[-1], int))
    if x is None:
        return False
    k = x.sig.shape[-1]
    n = draw(st.sampled_from((3, 2, 4, 6)))
    w = s.param((n, k), x.sig.dtype, "linear")
    args: list[Any] = [x, w]
    if draw(st.booleans()):
        b = s.param((n,), x.sig.dtype, "linear_bias")
        args.append(b)
    return _emit(s, gs.Linear, args, {}) is not None


def _b_matmul(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: _is_float(v) and len(v.sig.shape) >= 1)
    if x is None:
        return False
    if draw(st.booleans()) and isinstance(x.sig.shape[-1], int):
        n = draw(st.sampled_from((3, 2, 4)))
        w = s.param((x.sig.shape[-1], n), x.sig.dtype, "matmul")
        return _emit(s, gs.Matmul, [x, w], {}) is not None
    # A product of two values, as attention scores are: x @ y where the contraction dims agree.
    y = _pick(draw, s, lambda v: v.sig.dtype == x.sig.dtype and _infer(gs.Matmul, [x, v], {}) is not None)
    if y is None:
        if len(x.sig.shape) < 2:
            return False
        # x @ x^T: always well typed for rank >= 2.
        t = _emit(s, gs.Transpose, [x], {"dim0": -1, "dim1": -2})
        if t is None:
            return False
        y = t[0]
    return _emit(s, gs.Matmul, [x, y], {}) is not None


def _reshape_targets(shape: tuple[Dim, ...]) -> list[tuple[Dim, ...]]:
    out: list[tuple[Dim, ...]] = [shape]  # the no-op reshape canonicalize removes
    r = len(shape)
    for i in range(r - 1):
        out.append(shape[:i] + (mul(shape[i], shape[i + 1]),) + shape[i + 2 :])
    for i, d in enumerate(shape):
        if isinstance(d, int):
            for f in (2, 3):
                if d % f == 0 and d > f:
                    out.append(shape[:i] + (f, d // f) + shape[i + 1 :])
        out.append(shape[:i] + (1, d) + shape[i + 1 :])
    if r >= 1:
        n = numel(shape)
        out.append((n,))
    ints = [i for i, d in enumerate(shape) if isinstance(d, int)]
    if ints and len(ints) < r:
        # -1 where only plain ints are known around it: [B, S, 4] -> [-1, 4]
        out.append((-1,) + tuple(shape[i] for i in ints))
    if r == 0:
        out.append((1,))
    return out


def _b_reshape(draw: Callable, s: State) -> bool:
    x = _pick(draw, s)
    if x is None:
        return False
    target = draw(st.sampled_from(_reshape_targets(x.sig.shape)))
    return _emit(s, gs.Reshape, [x], {"shape": target}) is not None


def _b_transpose(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 2)
    if x is None:
        return False
    r = len(x.sig.shape)
    a = draw(st.integers(-r, r - 1))
    b = draw(st.integers(-r, r - 1))
    return _emit(s, gs.Transpose, [x], {"dim0": a, "dim1": b}) is not None


def _b_permute(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 2)
    if x is None:
        return False
    perm = draw(st.permutations(range(len(x.sig.shape))))
    return _emit(s, gs.Permute, [x], {"dims": tuple(perm)}) is not None


def _b_flatten(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    a = draw(st.integers(0, r - 1))
    b = draw(st.integers(a, r - 1))
    attrs: dict[str, Any] = {"start_dim": a}
    if b != r - 1 or draw(st.booleans()):
        attrs["end_dim"] = b
    return _emit(s, gs.Flatten, [x], attrs) is not None


def _b_unsqueeze(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) < 4)
    if x is None:
        return False
    r = len(x.sig.shape)
    return _emit(s, gs.Unsqueeze, [x], {"dim": draw(st.integers(-r - 1, r))}) is not None


def _with_unit_dim(draw: Callable, s: State) -> Value | None:
    """A value with a size-1 dim: one from the pool, or a new unsqueeze of one."""
    x = _pick(draw, s, lambda v: 1 in v.sig.shape) if draw(st.booleans()) else None
    if x is not None:
        return x
    y = _pick(draw, s, lambda v: len(v.sig.shape) < 4)
    if y is None:
        return None
    r = len(y.sig.shape)
    out = _emit(s, gs.Unsqueeze, [y], {"dim": draw(st.integers(0, r))})
    return out[0] if out else None


def _b_squeeze(draw: Callable, s: State) -> bool:
    x = _with_unit_dim(draw, s)
    if x is None:
        return False
    ones = [i for i, d in enumerate(x.sig.shape) if d == 1]
    attrs = {} if draw(st.booleans()) else {"dims": (draw(st.sampled_from(ones)),)}
    return _emit(s, gs.Squeeze, [x], attrs) is not None


def _b_expand(draw: Callable, s: State) -> bool:
    x = _with_unit_dim(draw, s)
    if x is None:
        return False
    target = list(x.sig.shape)
    for i, d in enumerate(target):
        if d == 1 and draw(st.booleans()):
            target[i] = _dim_choice(draw, s)
    if draw(st.booleans()):
        target = [-1 if d == x.sig.shape[i] and d != 1 else d for i, d in enumerate(target)]
    return _emit(s, gs.Expand, [x], {"shape": tuple(target)}) is not None


def _b_softmax(cls: type[gs.GsOp]) -> Builder:
    def build(draw: Callable, s: State) -> bool:
        x = _pick(draw, s, lambda v: _is_float(v) and len(v.sig.shape) >= 1)
        if x is None:
            return False
        r = len(x.sig.shape)
        return _emit(s, cls, [x], {"dim": draw(st.integers(-r, r - 1))}) is not None

    return build


def _b_layer_norm(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: _is_float(v) and len(v.sig.shape) >= 1)
    if x is None:
        return False
    k = draw(st.integers(1, min(2, len(x.sig.shape))))
    normalized = tuple(x.sig.shape[-k:])
    args: list[Any] = [x]
    if all(isinstance(d, int) for d in normalized) and draw(st.booleans()):
        args.append(s.param(normalized, x.sig.dtype, "norm"))
        if draw(st.booleans()):
            args.append(s.param(normalized, x.sig.dtype, "norm_bias"))
    attrs: dict[str, Any] = {"normalized_shape": normalized}
    if draw(st.booleans()):
        attrs["eps"] = 1e-3
    return _emit(s, gs.LayerNorm, args, attrs) is not None


def _b_reduce(cls: type[gs.GsOp]) -> Builder:
    def build(draw: Callable, s: State) -> bool:
        x = _pick(draw, s, _is_float)
        if x is None:
            return False
        r = len(x.sig.shape)
        attrs: dict[str, Any] = {}
        if r and draw(st.integers(0, 3)):
            picked = draw(st.lists(st.integers(-r, r - 1), min_size=1, max_size=r, unique_by=lambda d: d % r))
            attrs["dims"] = tuple(picked)
        if draw(st.booleans()):
            attrs["keepdim"] = True
        return _emit(s, cls, [x], attrs) is not None

    return build


def _b_concat(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    d = draw(st.integers(-r, r - 1))
    n = draw(st.integers(1, 2))
    parts = [x]
    for _ in range(n):
        y = _pick(draw, s, lambda v: _infer(gs.Concat, [x, v], {"dim": d}) is not None)
        parts.append(y if y is not None else x)
    return _emit(s, gs.Concat, parts, {"dim": d}) is not None


def _b_slice(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    d = draw(st.integers(-r, r - 1))
    attrs: dict[str, Any] = {"dim": d}
    start = draw(st.sampled_from((0, 1, -2)))
    if start:
        attrs["start"] = start
    end = draw(st.sampled_from((None, -1, 2)))
    if end is not None:
        attrs["end"] = end
    step = draw(st.sampled_from((1, 2)))
    if step != 1:
        attrs["step"] = step
    return _emit(s, gs.Slice, [x], attrs) is not None


def _b_split(draw: Callable, s: State) -> bool:
    x = _pick(draw, s, lambda v: any(isinstance(d, int) and d >= 2 for d in v.sig.shape))
    if x is None:
        return False
    dims_ok = [i for i, d in enumerate(x.sig.shape) if isinstance(d, int) and d >= 2]
    d = draw(st.sampled_from(dims_ok))
    size = x.sig.shape[d]
    first = draw(st.integers(1, size - 1))
    return _emit(s, gs.Split, [x], {"dim": d, "sizes": (first, size - first)}) is not None


_FILL_VALUES = (1.0, 0.0, 2.5, -1.0, 2)


def _b_full(draw: Callable, s: State) -> bool:
    """A splat shaped like a value of the pool (so it combines with it), or like its trailing dims."""
    x = _pick(draw, s)
    if x is None:
        return False
    shape = x.sig.shape[-draw(st.integers(0, len(x.sig.shape))) :] if x.sig.shape else ()
    value = _scalar(draw, _FILL_VALUES)
    dtype = draw(st.sampled_from((s.dtype, x.sig.dtype)))
    return _emit(s, gs.Full, [], {"shape": tuple(shape), "value": value, "dtype": dtype}) is not None


def _b_full_like(draw: Callable, s: State) -> bool:
    x = _pick(draw, s)
    if x is None:
        return False
    attrs: dict[str, Any] = {"value": _scalar(draw, _FILL_VALUES)}
    if draw(st.booleans()):
        attrs["dtype"] = s.dtype
    return _emit(s, gs.FullLike, [x], attrs) is not None


def _b_constant(draw: Callable, s: State) -> bool:
    """A small literal tensor shaped like the trailing static dim of a value ([k] or [1, k])."""
    x = _pick(draw, s, lambda v: bool(v.sig.shape) and isinstance(v.sig.shape[-1], int) and v.sig.shape[-1] <= 8)
    k = x.sig.shape[-1] if x is not None else draw(st.integers(1, 3))
    shape = (k,) if draw(st.booleans()) else (1, k)
    values = draw(st.lists(st.sampled_from((0.5, -1.0, 2.0, 0.0, 1.5)), min_size=k, max_size=k))
    return _emit(s, gs.Constant, [], {"value": tuple(values), "shape": shape, "dtype": s.dtype}) is not None


def _b_arange(draw: Callable, s: State) -> bool:
    """0, 1, ... up to a symbol or a small int, as floats (so it broadcasts against a last dim)."""
    x = _pick(draw, s, lambda v: bool(v.sig.shape))
    end = x.sig.shape[-1] if x is not None and draw(st.booleans()) else _dim_choice(draw, s)
    return _emit(s, gs.Arange, [], {"end": end, "dtype": s.dtype}) is not None


# -- the table ------------------------------------------------------------------------------------

BUILDERS: dict[type[gs.GsOp], Builder] = {
    **{cls: _b_unary(cls) for cls in (
        gs.Relu, gs.Gelu, gs.Silu, gs.Tanh, gs.Sigmoid, gs.Neg, gs.Abs, gs.Identity, gs.Detach, gs.Dropout, gs.Clamp,
        gs.LeakyRelu, gs.Hardtanh, gs.Exp, gs.Sin, gs.Cos, gs.Erf, gs.Softplus, gs.Log, gs.Sqrt, gs.Rsqrt,
        gs.Reciprocal, gs.LogicalNot, gs.Sign, gs.Floor, gs.Ceil, gs.Round, gs.Trunc)},
    **{cls: _b_binary(cls) for cls in (gs.Add, gs.Sub, gs.Mul, gs.Maximum, gs.Minimum, gs.Div, gs.Pow, gs.Remainder,
                                       gs.Eq, gs.Ne, gs.Lt, gs.Le, gs.Gt, gs.Ge, gs.LogicalAnd, gs.LogicalOr)},
    gs.Where: _b_where,
    gs.Cast: _b_cast,
    gs.Linear: _b_linear,
    gs.Matmul: _b_matmul,
    gs.Reshape: _b_reshape,
    gs.Transpose: _b_transpose,
    gs.Permute: _b_permute,
    gs.Flatten: _b_flatten,
    gs.Unsqueeze: _b_unsqueeze,
    gs.Squeeze: _b_squeeze,
    gs.Expand: _b_expand,
    gs.Softmax: _b_softmax(gs.Softmax),
    gs.LogSoftmax: _b_softmax(gs.LogSoftmax),
    gs.LayerNorm: _b_layer_norm,
    gs.Sum: _b_reduce(gs.Sum),
    gs.Mean: _b_reduce(gs.Mean),
    gs.Amax: _b_reduce(gs.Amax),
    gs.Amin: _b_reduce(gs.Amin),
    gs.Concat: _b_concat,
    gs.Slice: _b_slice,
    gs.Split: _b_split,
    gs.Full: _b_full,
    gs.FullLike: _b_full_like,
    gs.Constant: _b_constant,
    gs.Arange: _b_arange,
    gs.Log1p: _b_unary(gs.Log1p),
    gs.Logsumexp: _b_reduce(gs.Logsumexp),
    **SEQUENCE_BUILDERS,
    **SPECTRAL_BUILDERS,
}
"""The builder of each op class the strategy can generate."""

_NEEDS_INTS = "takes integer or bool tensors; the generator builds modules of one float dtype"
_NEEDS_LAYOUT = "needs operands in a layout (channels, spatial dims) the generator's tensors do not have"
_NEEDS_INDICES = "needs an integer index tensor whose values must lie in range; the generator builds float tensors"
_NEEDS_UNBACKED = ("needs a bool mask and an unbacked symbol declared on the graph for its data-dependent size; the "
                   "generator builds float tensors over input-bound symbols")

EXEMPT: dict[type[gs.GsOp], str] = {
    gs.BitwiseAnd: _NEEDS_INTS,
    gs.BitwiseOr: _NEEDS_INTS,
    gs.MaskedFill: "needs a bool mask of a broadcastable shape; the generator builds float tensors",
    gs.LinearAct: "made by fuse-linear-activation from linear and an activation, which the generator builds",
    gs.Addmm: "written by the importer for addmm/baddbmm; linear and matmul cover its rule in generated modules",
    gs.Conv2d: _NEEDS_LAYOUT,
    gs.Conv1d: _NEEDS_LAYOUT,
    gs.Attention: "needs query, key and value of matching head layout; not built by the generator",
    gs.MaxPool2d: _NEEDS_LAYOUT,
    gs.AvgPool2d: _NEEDS_LAYOUT,
    gs.AdaptiveAvgPool2d: _NEEDS_LAYOUT,
    gs.Interpolate: _NEEDS_LAYOUT,
    gs.RmsNorm: "a normalisation like layer_norm, which the generator builds; its weight layout is not drawn",
    gs.BatchNorm: _NEEDS_LAYOUT,
    gs.GroupNorm: _NEEDS_LAYOUT,
    gs.Select: "removes a dim at an index that must be in range for every binding of the symbols",
    gs.Pad: "its padding widths are not drawn by the generator",
    gs.Repeat: "its repeat counts are not drawn by the generator",
    gs.Tril: "needs a matrix (two trailing dims) as operand; not drawn by the generator",
    gs.Triu: "needs a matrix (two trailing dims) as operand; not drawn by the generator",
    gs.Embedding: _NEEDS_INDICES,
    gs.IndexSelect: _NEEDS_INDICES,
    gs.GatherRows: _NEEDS_INDICES,
    gs.Index: _NEEDS_INDICES,
    gs.Gather: _NEEDS_INDICES,
    gs.IndexAdd: _NEEDS_INDICES,
    gs.Nonzero: _NEEDS_UNBACKED,
    gs.MaskedSelect: _NEEDS_UNBACKED,
    gs.BooleanIndex: _NEEDS_UNBACKED,
    gs.Var: "a reduction like sum and mean, which the generator builds; its correction is not drawn",
    gs.Argmax: "gives an integer tensor, which no generated op can read",
    gs.Cumsum: "its dim is not drawn by the generator",
    gs.Call: "calls another graph of the module; the generator builds single-graph modules (outline makes calls)",
}
"""Op classes without a builder, each with the reason."""
