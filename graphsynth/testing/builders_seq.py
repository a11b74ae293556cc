"""Builders of the sorting and scan ops, flips and rolls, 1-d pooling and one_hot, for
:data:`graphsynth.testing.builders.BUILDERS`.

Integer results (indices) are read by the op that follows (gather, cast) or left out of the pool,
so every value the generator may return or reuse stays a float tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from graphsynth.dialects import gs
from graphsynth.testing.building import Builder, State, emit, hide, is_float, pick, pick_dim


def _b_topk(draw: Callable, s: State) -> bool:
    """The top k values along a dim (k a small number at most the dim; 1 or the dim itself when
    the dim is symbolic, so k fits every binding)."""
    got = pick_dim(draw, s)
    if got is None:
        return False
    x, d = got
    size = x.sig.shape[d]
    k = draw(st.integers(1, min(size, 3))) if isinstance(size, int) else draw(st.sampled_from((1, size)))
    out = emit(s, gs.TopK, [x], {"k": k, "dim": d, "largest": draw(st.booleans())})
    return hide(s, out[1:] if out else None) is not None


def _b_sort(draw: Callable, s: State) -> bool:
    got = pick_dim(draw, s)
    if got is None:
        return False
    x, d = got
    out = emit(s, gs.Sort, [x], {"dim": d, "descending": draw(st.booleans())})
    return hide(s, out[1:] if out else None) is not None


def _b_argsort(draw: Callable, s: State) -> bool:
    """argsort, then the values it orders (gather along the same dim)."""
    got = pick_dim(draw, s)
    if got is None:
        return False
    x, d = got
    idx = hide(s, emit(s, gs.Argsort, [x], {"dim": d, "descending": draw(st.booleans())}))
    return idx is not None and emit(s, gs.Gather, [x, idx[0]], {"dim": d}) is not None


def _b_cumprod(draw: Callable, s: State) -> bool:
    got = pick_dim(draw, s)
    return got is not None and emit(s, gs.Cumprod, [got[0]], {"dim": got[1]}) is not None


def _b_flip(draw: Callable, s: State) -> bool:
    x = pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    dims = draw(st.lists(st.integers(-r, r - 1), min_size=1, max_size=r, unique_by=lambda d: d % r))
    return emit(s, gs.Flip, [x], {"dims": tuple(dims)}) is not None


def _b_roll(draw: Callable, s: State) -> bool:
    x = pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    if draw(st.booleans()):
        return emit(s, gs.Roll, [x], {"shifts": (draw(st.integers(-3, 3)),)}) is not None
    dims = draw(st.lists(st.integers(-r, r - 1), min_size=1, max_size=r, unique_by=lambda d: d % r))
    shifts = draw(st.lists(st.integers(-3, 3), min_size=len(dims), max_size=len(dims)))
    return emit(s, gs.Roll, [x], {"shifts": tuple(shifts), "dims": tuple(dims)}) is not None


def _b_pool1d(cls: type[gs.GsOp]) -> Builder:
    """A window over the last dim of a [N, C, L] or [C, L] value."""

    def build(draw: Callable, s: State) -> bool:
        x = pick(draw, s, lambda v: is_float(v) and len(v.sig.shape) in (2, 3))
        if x is None:
            return False
        if cls is gs.AdaptiveAvgPool1d:
            return emit(s, cls, [x], {"output_size": (draw(st.integers(1, 3)),)}) is not None
        kernel = draw(st.integers(1, 3))
        attrs: dict[str, Any] = {"kernel_size": (kernel,)}
        stride = draw(st.integers(1, 2))
        if stride != kernel:
            attrs["stride"] = (stride,)
        pad = draw(st.integers(0, kernel // 2))
        if pad:
            attrs["padding"] = (pad,)
        return emit(s, cls, [x], attrs) is not None

    return build


def _b_one_hot(draw: Callable, s: State) -> bool:
    """The class of the largest element along the last dim, one-hot, as a float tensor."""
    x = pick(draw, s, lambda v: is_float(v) and len(v.sig.shape) >= 1)
    if x is None:
        return False
    n = x.sig.shape[-1]
    idx = hide(s, emit(s, gs.Argmax, [x], {"dim": -1}))
    hot = hide(s, emit(s, gs.OneHot, [idx[0]], {"num_classes": n})) if idx else None
    return hot is not None and emit(s, gs.Cast, [hot[0]], {"dtype": s.dtype}) is not None


SEQUENCE_BUILDERS: dict[type[gs.GsOp], Builder] = {
    gs.TopK: _b_topk,
    gs.Sort: _b_sort,
    gs.Argsort: _b_argsort,
    gs.Cumprod: _b_cumprod,
    gs.Flip: _b_flip,
    gs.Roll: _b_roll,
    gs.MaxPool1d: _b_pool1d(gs.MaxPool1d),
    gs.AvgPool1d: _b_pool1d(gs.AvgPool1d),
    gs.AdaptiveAvgPool1d: _b_pool1d(gs.AdaptiveAvgPool1d),
    gs.OneHot: _b_one_hot,
}
"""The builder of each of these op classes."""
