"""What input may ask of the core: every limit the parser, the symbolic dims, the verifier and the
MLIR reader enforce, in one place.

Most IR is written by models, so any text may be hostile.  Each limit below bounds a cost that
would otherwise grow faster than the input (exponential expansion of products of sums, quadratic
conversion of huge integers, recursion over nesting, a ten-byte attribute that materialises
gigabytes).  Going over one is a located diagnostic with its own code, never a traceback:

============================  =======  ==========================================================
limit                         code     what it bounds
============================  =======  ==========================================================
``MIN_INT``..``MAX_INT``      GS108    every integer written in the text (dims, literals,
                                       attribute values) and every dim of a type: int64, what
                                       torch holds; the text form and MLIR input share the check
``MAX_INT_DIGITS``            GS108    digits read before converting (Python's own int() is
                                       quadratic in the digits and refuses more than 4,300)
``MAX_ARITH_BITS``            GS307    plain integers that dim arithmetic computes (products
                                       such as a numel): they stay printable and O(1); the
                                       integers inside a symbolic dim are int64, so that the
                                       text form reads back every dim it prints
``MAX_DIM_SIZE``              GS307    the expanded size of a symbolic dim (see below)
``MAX_NESTING_DEPTH``         GS109    module blocks and fused regions, parentheses in a dim,
                                       lists in an attribute value, floor divisions in a dim
``MAX_MLIR_NESTING``          GS109    brackets in MLIR generic syntax (xDSL's parser recurses
                                       about seven frames per bracket)
``MAX_MLIR_INT_DIGITS``       GS108    a decimal literal in MLIR text (i128 values fit)
``MAX_ATTR_ELEMENTS``         GS308    elements an MLIR attribute may materialise
                                       (``dense<1.0> : tensor<300000000xf32>``)
``MAX_INTEGER_TYPE_WIDTH``    GS308    the width of an MLIR integer type (MLIR's own limit)
============================  =======  ==========================================================

The size of a symbolic dim is the number of symbols and floor atoms its expanded form writes,
counting each term once more: ``2*B*S + S`` has size 5, ``(H-1)//2`` size 4.  It bounds the
printed length (times the longest symbol name), the memory of the canonical form and the work
of every operation on it: a product is refused before it is expanded when the expansion would
exceed the limit, so no single operation does more than about ``MAX_DIM_SIZE`` steps.  Real
models stay far below it (GPT-2's dims have size 1 to 5, the numel of a 3-d convolution's output with symbolic depth, height and width about 85).
"""

from __future__ import annotations

MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
MAX_INT_DIGITS = 19  # significant digits of MAX_INT

MAX_ARITH_BITS = 256
MAX_DIM_SIZE = 128
MAX_NESTING_DEPTH = 32
MAX_MLIR_NESTING = 2 * MAX_NESTING_DEPTH + 16  # a nested region costs two brackets: ({
MAX_MLIR_INT_DIGITS = 40
MAX_ATTR_ELEMENTS = 1 << 20
MAX_INTEGER_TYPE_WIDTH = (1 << 24) - 1


class LimitError(ValueError):
    """Input beyond one of the limits above; ``code`` is the diagnostic code, ``column`` the
    0-based offset of the offending text within what was being read (when known)."""

    def __init__(self, message: str, code: str, column: int = 0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.column = column


def shorten(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters for a message (a 5,000-digit number is not shown)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_int(v: int) -> str:
    """An integer for a message, whatever its size (``str()`` refuses more than 4,300 digits)."""
    if v.bit_length() > 4096:
        return f"{'-' if v < 0 else ''}<{v.bit_length()}-bit integer>"
    return shorten(str(v))


def read_int(text: str, column: int = 0) -> int:
    """The value of an ASCII decimal integer token (optional sign), refused with GS108 when it
    is outside ``MIN_INT..MAX_INT``, before converting a long digit string."""
    digits = text[1:] if text[:1] in "+-" else text
    if len(digits.lstrip("0")) > MAX_INT_DIGITS:
        raise LimitError(f"integer {shorten(text)} is out of range ({MIN_INT}..{MAX_INT})", "GS108", column)
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise LimitError(f"integer {shorten(text)} is out of range ({MIN_INT}..{MAX_INT})", "GS108", column)
    return value
