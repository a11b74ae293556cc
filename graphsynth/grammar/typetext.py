"""Type text -> gs TensorType.

A type (``f32[B, S+1]``) is one token of the grammar; its dims are read here, with the limits of
the dim grammar checked and the column of each error kept, and memoised because the same types
repeat on most lines of a graph.
"""

from __future__ import annotations

import re

from graphsynth.dialects import gs
from graphsynth.dialects.dimtext import DimSyntaxError, check_dim, parse_dim
from graphsynth.dialects.dtypes import DTYPE_PATTERN
from graphsynth.dialects.limits import LimitError
from graphsynth.dialects.memo import BoundedMemo

_TYPE_RE = re.compile(rf"^({DTYPE_PATTERN})\[(.*)\]$")


def parse_type(text: str) -> gs.TensorType:
    """``f32[B, S+1]`` -> TensorType (memoised: types repeat on most lines).

    Raises :class:`DimSyntaxError` with a diagnostic code and the 0-based column in ``text``."""
    t = _TYPE_CACHE.get(text)
    if t is None:
        m = _TYPE_RE.match(text)
        if m is None:
            raise DimSyntaxError(f"malformed type '{text}'", 0)
        inner = m.group(2).strip(" \t")
        dims = []
        if inner:
            offset = text.index("[") + 1 + len(m.group(2)) - len(m.group(2).lstrip(" \t"))
            for part in _split_dims(inner):
                stripped = part.strip(" \t")
                start = offset + len(part) - len(part.lstrip(" \t"))  # column of the dim itself
                if not stripped:
                    raise DimSyntaxError(f"empty dim in type '{text}'", offset)
                try:
                    d = check_dim(parse_dim(stripped))
                except LimitError as e:
                    raise DimSyntaxError(e.message, start + e.column, e.code) from None
                dims.append(d)
                offset += len(part) + 1
        t = gs.tensor_type(dims, m.group(1))
        _TYPE_CACHE.put(text, t, len(text))
    return t


_TYPE_CACHE = BoundedMemo(1 << 22)


_DIM_PUNCT = re.compile(r"[(),]")


def _split_dims(inner: str) -> list[str]:
    """The dims of a type's bracket, split at its top-level commas (a regex finds the commas and
    parentheses, so a 600,000-character dim is not walked a character at a time)."""
    parts, depth, start = [], 0, 0
    for m in _DIM_PUNCT.finditer(inner):
        c = m.group()
        if c == ",":
            if depth == 0:
                parts.append(inner[start : m.start()])
                start = m.end()
        else:
            depth += 1 if c == "(" else -1
    parts.append(inner[start:])
    return parts
