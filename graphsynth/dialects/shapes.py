"""Symbolic dimensions: the public face of parse, print, arithmetic and comparison.

A dim is a plain ``int`` or a :class:`SymDim`, a polynomial with integer coefficients over
positive-integer symbols (``B``, ``S``) and floor-division atoms (``(H-3)//2``), kept in a
canonical form so that two dims are equal exactly when their forms are equal.  The work is done
in one module per job: :mod:`graphsynth.dialects.symdim` (the canonical form, its arithmetic and
size limits), :mod:`graphsynth.dialects.dimcompare` (proving dims equal or different) and
:mod:`graphsynth.dialects.dimtext` (reading and writing dim text); this module gathers their
public names so that users of symbolic dims have one import.
"""

from __future__ import annotations

from graphsynth.dialects.dimcompare import compare, is_positive_known
from graphsynth.dialects.dimtext import (
    DimSyntaxError,
    check_dim,
    format_dim,
    format_shape,
    non_ascii_message,
    parse_dim,
)
from graphsynth.dialects.memo import BoundedMemo
from graphsynth.dialects.symdim import (
    Dim,
    FloorDiv,
    Monomial,
    Shape,
    SymDim,
    add,
    evaluate,
    floordiv,
    free_symbols,
    mod,
    mul,
    numel,
    sub,
    to_sympy,
)

__all__ = [
    "BoundedMemo",
    "Dim",
    "DimSyntaxError",
    "FloorDiv",
    "Monomial",
    "Shape",
    "SymDim",
    "add",
    "check_dim",
    "compare",
    "evaluate",
    "floordiv",
    "format_dim",
    "format_shape",
    "free_symbols",
    "is_positive_known",
    "mod",
    "mul",
    "non_ascii_message",
    "numel",
    "parse_dim",
    "sub",
    "to_sympy",
]
