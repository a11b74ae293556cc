"""Attribute kinds: how a value of each kind is read from the text form, printed, stored as an
xDSL attribute, read back from one, and checked.

An op declares each attribute once (:class:`AttrSpec`: name, kind, default, choices); the kind
says everything else.  The parser converts the literal it read with :meth:`AttrKind.read`, the
printer writes it with :meth:`AttrKind.format`, :meth:`AttrKind.to_attr` and
:meth:`AttrKind.from_attr` convert between Python values and xDSL attributes (for building ops,
the MLIR form and the backends), and :meth:`AttrKind.holds` tells the verifier whether an
attribute built by a pass or read from MLIR is one the text form writes and reads back.  No other
module switches on a kind.

The kinds: ``int``, ``ints`` (a list of integers; one integer reads as a list of one), ``float``,
``floats``, ``bool``, ``scalar`` (an int, float or bool), ``str`` (quoted), ``dtype`` (a bare dtype
word), ``dim`` and ``dims`` (integers or symbolic expressions such as ``S+1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import ArrayAttr, FloatAttr, IntAttr, IntegerAttr, NoneAttr, StringAttr, f64, i1
from xdsl.ir import Attribute

from graphsynth.dialects.dimtext import DimSyntaxError, parse_dim
from graphsynth.dialects.dtypes import DTYPE_NAMES, DTYPES
from graphsynth.dialects.limits import MAX_INT, MIN_INT
from graphsynth.dialects.symdim import Dim, SymDim

REQUIRED: Any = object()
"""The default of an attribute that must be given."""


class Name(str):
    """A bare word in an attribute value as the parser read it (a dim symbol, a dtype, true/false),
    as opposed to a quoted string."""


class AttrValueError(ValueError):
    """A literal that is not a value of the kind; ``expected`` says what would be."""

    def __init__(self, expected: str):
        super().__init__(expected)
        self.expected = expected


# -- Python values <-> xDSL attributes ---------------------------------------------------------


def dim_attr(d: Dim) -> Attribute:
    return IntAttr(d) if isinstance(d, int) else StringAttr(str(d))


def scalar_attr(value: Any) -> Attribute:
    """A number (or bool, or a symbolic scalar) as an attribute."""
    if isinstance(value, bool):
        return IntegerAttr.from_bool(value)
    if isinstance(value, int):
        return IntAttr(value)
    if isinstance(value, SymDim):
        return StringAttr(str(value))
    return FloatAttr(float(value), f64)


def from_attr(attr: Attribute) -> Any:
    """The Python value of an attribute, whatever its kind (dims stay text; see
    :meth:`AttrKind.from_attr` for the value of a declared attribute)."""
    # The common classes by exact type first: an isinstance check of an xDSL class goes through
    # ABCMeta and costs several times more (the verifier reads every attribute of every op).
    t = type(attr)
    if t is IntAttr or t is StringAttr:
        return attr.data
    if t is ArrayAttr:
        return tuple([from_attr(a) for a in attr.data])
    if isinstance(attr, IntAttr):
        return attr.data
    if isinstance(attr, NoneAttr):
        return None
    if isinstance(attr, IntegerAttr):
        v = attr.value.data
        return bool(v) if attr.type == i1 else v
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, ArrayAttr):
        return tuple(from_attr(a) for a in attr.data)
    raise TypeError(f"unsupported attribute {attr}")


def dim_value(value: Any) -> Any:
    """Values of kind dim/dims keep symbolic entries as text in attributes; parse them."""
    if isinstance(value, str):
        return parse_dim(value)
    if isinstance(value, tuple):
        return tuple(parse_dim(v) if isinstance(v, str) else v for v in value)
    return value


def dim_from_attr(attr: Attribute) -> Any:
    """The value of a dim/dims attribute (symbolic entries parsed)."""
    return dim_value(from_attr(attr))


# -- printing -------------------------------------------------------------------------------------


def format_scalar(v: Any) -> str:
    """A number, bool or None as the text form writes it (``inf``, ``nan``, ``true``)."""
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return str(v)


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _format_item(v: Any) -> str:
    return str(v) if isinstance(v, SymDim) else format_scalar(v)


# -- the kinds ------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    """A literal number (not a bare word, not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, (bool, Name))


def _int64(v: Any) -> bool:
    return _is_int(v) and MIN_INT <= v <= MAX_INT


def read_dim(v: Any) -> Dim:
    """A literal as a dim: an int, a symbol (a bare word that is no keyword, dtype or dotted
    name), an expression the parser already combined, or a quoted dim expression."""
    if isinstance(v, Name):
        if v in ("true", "false") or v in DTYPES or "." in v:
            raise AttrValueError("a dim")
        return SymDim.symbol(v)
    if isinstance(v, (bool, float)):
        raise AttrValueError("a dim")
    if isinstance(v, (int, SymDim)):
        return v
    if isinstance(v, str):
        try:
            return parse_dim(v)
        except DimSyntaxError:
            raise AttrValueError("a dim") from None
    raise AttrValueError("a dim")


def _dim_text_ok(x: Any) -> bool:
    if _int64(x):
        return True
    try:
        return isinstance(x, str) and parse_dim(x) is not None
    except ValueError:
        return False


@dataclass(frozen=True)
class AttrKind:
    """One kind of attribute value; see the module docstring."""

    name: str
    expects: str  # what a message says a value must be: "an integer", "a list of dims"

    def read(self, value: Any) -> Any:
        """The value of a literal the parser read (a :class:`Name` for a bare word, lists as
        lists); raises :class:`AttrValueError` naming what was expected."""
        raise NotImplementedError

    def format(self, value: Any) -> str:
        if isinstance(value, tuple):
            return "[" + ", ".join(map(_format_item, value)) + "]"
        return _format_item(value)

    def to_attr(self, value: Any) -> Attribute:
        return NoneAttr() if value is None else scalar_attr(value)

    # A plain function, not a method: readers of many attributes keep it (OpSpec.readers) and
    # call it without a bound-method hop.
    from_attr = staticmethod(from_attr)

    def holds(self, attr: Attribute) -> bool:
        """Whether ``attr`` (not a NoneAttr) holds a value of this kind that the text form writes
        and reads back (integers within int64: a larger one would print as text that does not
        parse)."""
        return self.holds_value(_value(attr))

    def holds_value(self, v: Any) -> bool:
        raise NotImplementedError

    def bad(self) -> AttrValueError:
        return AttrValueError(self.expects)


class _Int(AttrKind):
    def read(self, value: Any) -> Any:
        if _is_int(value) and not isinstance(value, Name):
            return value
        raise self.bad()

    def holds_value(self, v: Any) -> bool:
        return _int64(v)


class _Float(AttrKind):
    def read(self, value: Any) -> Any:
        if _is_number(value):
            return float(value)
        raise self.bad()

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Bool(AttrKind):
    def read(self, value: Any) -> Any:
        if isinstance(value, Name) and value in ("true", "false"):
            return value == "true"
        raise self.bad()

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, bool)


class _Scalar(AttrKind):
    def read(self, value: Any) -> Any:
        if isinstance(value, Name) and value in ("true", "false"):
            return value == "true"
        if _is_number(value):
            return value
        raise self.bad()

    def holds_value(self, v: Any) -> bool:
        return _int64(v) or isinstance(v, (float, bool))


class _Str(AttrKind):
    def read(self, value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, Name):
            return value
        raise self.bad()

    def format(self, value: Any) -> str:
        return quote(value) if isinstance(value, str) else super().format(value)

    def to_attr(self, value: Any) -> Attribute:
        return NoneAttr() if value is None else StringAttr(value)

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, str)


class _DType(AttrKind):
    def read(self, value: Any) -> Any:
        if isinstance(value, Name) and value in DTYPES:
            return str(value)
        raise self.bad()

    def format(self, value: Any) -> str:
        return value if isinstance(value, str) else super().format(value)

    def to_attr(self, value: Any) -> Attribute:
        return NoneAttr() if value is None else StringAttr(value)

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, str) and v in DTYPES


class _Dim(AttrKind):
    def read(self, value: Any) -> Any:
        try:
            return read_dim(value)
        except AttrValueError:
            raise self.bad() from None

    def to_attr(self, value: Any) -> Attribute:
        return NoneAttr() if value is None else dim_attr(value)

    from_attr = staticmethod(dim_from_attr)

    def holds_value(self, v: Any) -> bool:
        return _dim_text_ok(v)


class _Ints(AttrKind):
    def read(self, value: Any) -> Any:
        if not isinstance(value, list):
            if _is_int(value) and not isinstance(value, Name):
                return (value,)
            raise AttrValueError("a list")
        if not all(_is_int(v) and not isinstance(v, Name) for v in value):
            raise self.bad()
        return tuple(value)

    def to_attr(self, value: Any) -> Attribute:
        return NoneAttr() if value is None else ArrayAttr([dim_attr(d) for d in value])

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, tuple) and all(_int64(x) for x in v)


class _Dims(_Ints):
    def read(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise AttrValueError("a list")
        try:
            return tuple(read_dim(v) for v in value)
        except AttrValueError:
            raise self.bad() from None

    from_attr = staticmethod(dim_from_attr)

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, tuple) and all(_dim_text_ok(x) for x in v)


class _Floats(AttrKind):
    def read(self, value: Any) -> Any:
        if not isinstance(value, list) or not all(_is_number(v) for v in value):
            raise self.bad()
        return tuple(float(v) for v in value)

    def to_attr(self, value: Any) -> Attribute:
        return NoneAttr() if value is None else ArrayAttr([scalar_attr(v) for v in value])

    def holds_value(self, v: Any) -> bool:
        return isinstance(v, tuple) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


_NOT_A_VALUE = object()


def _value(attr: Attribute) -> Any:
    try:
        return from_attr(attr)
    except TypeError:
        return _NOT_A_VALUE


KINDS: dict[str, AttrKind] = {
    k.name: k
    for k in (
        _Int("int", "an integer"),
        _Ints("ints", "a list of integers"),
        _Float("float", "a number"),
        _Floats("floats", "a list of numbers"),
        _Bool("bool", "true or false"),
        _Scalar("scalar", "a number"),
        _Str("str", "a quoted string"),
        _DType("dtype", "a dtype (" + ", ".join(DTYPE_NAMES) + ")"),
        _Dim("dim", "a dim (integer or symbolic expression)"),
        _Dims("dims", "a list of dims"),
    )
}


def kind(name: str) -> AttrKind:
    k = KINDS.get(name)
    if k is None:
        raise ValueError(f"unknown attribute kind {name!r} (kinds: {', '.join(KINDS)})")
    return k


# -- declared attributes ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttrSpec:
    """An op attribute: its ``name``, its ``kind`` (a key of :data:`KINDS`), its ``default``
    (:data:`REQUIRED` when it must be given) and, for a str attribute with a fixed set of values
    (``gelu``'s ``approximate``), its ``choices``.

    Choices are declared here, with the attribute, and nowhere else: the verifier refuses any
    other value (GS209), the backends read them, and :meth:`describe` shows them to
    ``--list-ops``, the docs and the model's prompt.  A default of None is allowed besides the
    choices."""

    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        kind(self.kind)  # an unknown kind is refused when the op is declared

    @property
    def codec(self) -> AttrKind:
        return KINDS[self.kind]

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices (always, for an attribute without any)."""
        return self.choices is None or value in self.choices or (value is None and self.default is None)

    def holds(self, attr: Attribute) -> bool:
        """Whether an attribute (from a pass, an LLM edit or MLIR) is a valid value of this
        attribute as the text form writes it; None only where the default is None."""
        if isinstance(attr, NoneAttr):
            return self.default is None
        return self.codec.holds(attr)

    def is_default(self, value: Any) -> bool:
        """Whether ``value`` equals the default (so a builder may leave the attribute out);
        bools and numbers compare by kind, never ``True == 1``."""
        d = self.default
        if d is REQUIRED:
            return False
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(d, bool) or isinstance(value, bool):
            return type(d) is type(value) and d == value
        if isinstance(d, float):
            return isinstance(value, (int, float)) and float(value) == d
        return value == d and type(value) is type(d)

    def describe(self) -> str:
        """``name=kind`` (required), ``name=default``, or with choices ``name='a'|'b'`` (the
        default first) and ``name=str('a'|'b')`` when required."""
        if self.choices is None:
            return f"{self.name}={self.kind}" if self.default is REQUIRED else f"{self.name}={_fmt_default(self.default)}"
        options = list(self.choices)
        if self.default is REQUIRED:
            return f"{self.name}={self.kind}(" + "|".join(map(repr, options)) + ")"
        rest = [o for o in options if o != self.default]
        return f"{self.name}=" + "|".join([_fmt_default(self.default), *map(repr, rest)])


def _fmt_default(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "[" + ", ".join(map(str, v)) + "]"
    return repr(v) if isinstance(v, str) else str(v)
