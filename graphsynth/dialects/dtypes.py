"""The element types of gs tensors: one table, read by every room that needs a fact about a dtype.

The text form's type words (``f32[B, 768]``), the verifier's check of a type, the shape rules'
promotion of mixed dtypes, the torch dtype a backend allocates, the Triton types a kernel loads,
stores and computes in, the importer's reverse map from torch: all of it comes from :data:`DTYPES`.
Adding a dtype is one row here (and, for torch, a name that exists in the installed torch).

The table imports nothing: torch and Triton names are strings, resolved by the backends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    """One element type.

    ``kind`` is ``"float"``, ``"int"`` or ``"bool"``; ``bits`` the storage width; ``rank`` the
    position in torch's promotion order among tensors of one category (a mixed binary op gives
    the higher one; f16 and bf16 share a rank); ``torch`` the attribute of the ``torch`` module;
    ``triton`` the type a kernel stores (``tl.bfloat16``), ``triton_compute`` the type it computes
    in (f16 and bf16 compute in f32, as torch's opmath does), ``triton_pointer`` the pointer type of
    a kernel signature."""

    name: str
    kind: str
    bits: int
    rank: int
    torch: str
    triton: str
    triton_compute: str
    triton_pointer: str

    @property
    def itemsize(self) -> int:
        """Bytes per element (a bool takes one byte, as torch stores it)."""
        return max(self.bits // 8, 1)

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_int(self) -> bool:
        return self.kind == "int"


_ROWS = (
    DType("f32", "float", 32, 6, "float32", "tl.float32", "tl.float32", "*fp32"),
    DType("f16", "float", 16, 5, "float16", "tl.float16", "tl.float32", "*fp16"),
    DType("bf16", "float", 16, 5, "bfloat16", "tl.bfloat16", "tl.float32", "*bf16"),
    DType("f64", "float", 64, 7, "float64", "tl.float64", "tl.float64", "*fp64"),
    DType("i64", "int", 64, 4, "int64", "tl.int64", "tl.int64", "*i64"),
    DType("i32", "int", 32, 3, "int32", "tl.int32", "tl.int32", "*i32"),
    DType("i16", "int", 16, 2, "int16", "tl.int16", "tl.int16", "*i16"),
    DType("i8", "int", 8, 1, "int8", "tl.int8", "tl.int8", "*i8"),
    DType("u8", "int", 8, 1, "uint8", "tl.uint8", "tl.uint8", "*u8"),
    DType("bool", "bool", 1, 0, "bool", "tl.int1", "tl.int1", "*i1"),
)

DTYPES: dict[str, DType] = {d.name: d for d in _ROWS}
"""Every dtype by its text-form name, in the order the docs list them."""

DTYPE_NAMES: tuple[str, ...] = tuple(DTYPES)
FLOAT_DTYPES: tuple[str, ...] = tuple(d.name for d in _ROWS if d.kind == "float")
INT_DTYPES: tuple[str, ...] = tuple(d.name for d in _ROWS if d.kind == "int")

# Alternation for regular expressions over type words: longest first, so that no name is taken
# for a prefix of another (``f6`` never stops ``f64``).
DTYPE_PATTERN = "|".join(sorted(DTYPE_NAMES, key=lambda n: (-len(n), n)))


def is_dtype(name: object) -> bool:
    return isinstance(name, str) and name in DTYPES


def promote(a: str, b: str) -> str:
    """The dtype of a binary op on tensors of dtypes ``a`` and ``b`` (the higher promotion rank;
    ``a`` on a tie)."""
    return a if DTYPES[a].rank >= DTYPES[b].rank else b


def itemsize(name: str) -> int:
    return DTYPES[name].itemsize
