"""The element types of gs tensors: one table, read by every room that needs a fact about a dtype.

The text form's type words (``f32[B, 768]``), the verifier's check of a type, the shape rules'
promotion of mixed dtypes, the torch dtype a backend allocates, the Triton types a kernel loads,
stores and computes in, the importer's reverse map from torch: all of it comes from :data:`DTYPES`.
Adding a dtype is one row here (and, for torch, a name that exists in the installed torch).

Complex dtypes (``c64``: two f32, ``c128``: two f64) are rows of kind ``"complex"`` whose
``real`` names the dtype of each component.  They have no Triton type (a fused kernel never holds
one: ``fuse-elementwise`` leaves ops on them to torch), and they promote as torch promotes
(:func:`promote`): a real and a complex operand give the complex dtype whose components are the
promotion of the real operand's float dtype and the complex operand's components (``f64 + c64 ->
c128``; integers and bools count as the default float, f32).  Which ops take complex operands is
declared by each op (``dtypes`` in its record, see :mod:`graphsynth.dialects.opbase`).

The table imports nothing: torch and Triton names are strings, resolved by the backends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    """One element type.

    ``kind`` is ``"float"``, ``"int"``, ``"bool"`` or ``"complex"``; ``bits`` the storage width; ``rank`` the
    position in torch's promotion order among tensors of one category (a mixed binary op gives
    the higher one; f16 and bf16 share a rank); ``torch`` the attribute of the ``torch`` module;
    ``triton`` the type a kernel stores (``tl.bfloat16``), ``triton_compute`` the type it computes
    in (f16 and bf16 compute in f32, as torch's opmath does), ``triton_pointer`` the pointer type of
    a kernel signature (the three are empty for a dtype no kernel handles); ``real`` is the dtype
    of a complex dtype's real and imaginary parts (empty for the others)."""

    name: str
    kind: str
    bits: int
    rank: int
    torch: str
    triton: str
    triton_compute: str
    triton_pointer: str
    real: str = ""

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

    @property
    def is_complex(self) -> bool:
        return self.kind == "complex"


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
    DType("c64", "complex", 64, 8, "complex64", "", "", "", real="f32"),
    DType("c128", "complex", 128, 9, "complex128", "", "", "", real="f64"),
)

DTYPES: dict[str, DType] = {d.name: d for d in _ROWS}
"""Every dtype by its text-form name, in the order the docs list them."""

DTYPE_NAMES: tuple[str, ...] = tuple(DTYPES)
FLOAT_DTYPES: tuple[str, ...] = tuple(d.name for d in _ROWS if d.kind == "float")
INT_DTYPES: tuple[str, ...] = tuple(d.name for d in _ROWS if d.kind == "int")
COMPLEX_DTYPES: tuple[str, ...] = tuple(d.name for d in _ROWS if d.kind == "complex")

KINDS: tuple[str, ...] = ("float", "int", "bool", "complex")
"""The dtype kinds, as an op's record names the ones it accepts."""
REAL_KINDS: frozenset[str] = frozenset({"float", "int", "bool"})
ALL_KINDS: frozenset[str] = frozenset(KINDS)

# Alternation for regular expressions over type words: longest first, so that no name is taken
# for a prefix of another (``f6`` never stops ``f64``).
DTYPE_PATTERN = "|".join(sorted(DTYPE_NAMES, key=lambda n: (-len(n), n)))


def is_dtype(name: object) -> bool:
    return isinstance(name, str) and name in DTYPES


def promote(a: str, b: str) -> str:
    """The dtype of a binary op on tensors of dtypes ``a`` and ``b`` (the higher promotion rank;
    ``a`` on a tie); with a complex operand, the complex dtype of the promoted components (see the
    module docstring)."""
    da, db = DTYPES[a], DTYPES[b]
    if da.is_complex or db.is_complex:
        return complex_of(promote(real_of(a), real_of(b)))
    return a if da.rank >= db.rank else b


def kind(name: str) -> str:
    """``"float"``, ``"int"``, ``"bool"`` or ``"complex"``."""
    return DTYPES[name].kind


def is_complex(name: str) -> bool:
    d = DTYPES.get(name)
    return d is not None and d.is_complex


def real_of(name: str) -> str:
    """The real dtype of ``name``'s values: a complex dtype's components, a float dtype itself,
    f32 for integers and bools (the float dtype torch computes them in)."""
    d = DTYPES[name]
    if d.is_complex:
        return d.real
    return name if d.is_float else "f32"


def complex_of(name: str) -> str:
    """The complex dtype a value of dtype ``name`` becomes in a complex op (an FFT, a mixed
    binary op): ``c128`` for f64, ``c64`` for the other real dtypes (torch's complex32 of f16 is
    not a gs dtype; f16 and bf16 computations are widened to c64, as on torch's CPU)."""
    d = DTYPES[name]
    if d.is_complex:
        return name
    real = real_of(name)
    for row in _ROWS:
        if row.is_complex and row.real == real:
            return row.name
    return "c64"


def itemsize(name: str) -> int:
    return DTYPES[name].itemsize
