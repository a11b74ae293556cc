"""Readers of ATen arguments that handlers of several families share."""

from __future__ import annotations

from typing import Any

from graphsynth.dialects.dtypes import FLOAT_DTYPES

FLOATS = FLOAT_DTYPES


def ints(v: Any, k: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * k
    v = tuple(int(x) for x in v)
    return v * k if len(v) == 1 else v


def dims_arg(v: Any) -> tuple[int, ...] | None:
    if v is None:
        return None
    if isinstance(v, int):
        return (v,)
    return tuple(int(d) for d in v) or None
