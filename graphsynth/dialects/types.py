"""The tensor type of the ``gs`` dialect: a dtype and a list of dims, each an int or a symbolic
expression (``f32[B, S+1, 768]``).

Symbolic dims are stored as their canonical text so that two equal shapes are equal attributes;
:meth:`TensorType.sig` gives the parsed shape (memoised on the instance).  Types are interned
(:func:`tensor_type`): most lines of a graph repeat a few types.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xdsl.dialects.builtin import ArrayAttr, IntAttr, StringAttr
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.utils.exceptions import ParseError as XParseError
from xdsl.utils.lexer import Span

from graphsynth.dialects import rules
from graphsynth.dialects.attrs import dim_attr
from graphsynth.dialects.dimtext import check_dim, format_shape, parse_dim
from graphsynth.dialects.limits import LimitError
from graphsynth.dialects.memo import BoundedMemo
from graphsynth.dialects.symdim import Dim, Shape

if TYPE_CHECKING:  # xDSL's text parser and printer load only when MLIR syntax is read or written
    from xdsl.parser import AttrParser
    from xdsl.printer import Printer


@irdl_attr_definition
class TensorType(ParametrizedAttribute, TypeAttribute):
    """``!gs.tensor<f32, ["B", 784]>``; text form ``f32[B, 784]``.

    Symbolic dims are stored as their canonical text so that two equal shapes are equal
    attributes; :meth:`sig` gives the parsed shape (memoised on the instance).
    """

    name = "gs.tensor"
    dtype: StringAttr
    dims: ArrayAttr[IntAttr | StringAttr]

    def sig(self) -> rules.Sig:
        cached = self.__dict__.get("_sig")
        if cached is None:
            shape = tuple(d.data if isinstance(d, IntAttr) else parse_dim(d.data) for d in self.dims.data)
            cached = rules.Sig(shape, self.dtype.data)
            object.__setattr__(self, "_sig", cached)
        return cached

    @property
    def shape(self) -> Shape:
        return self.sig().shape

    def __hash__(self) -> int:
        # The dataclass hash (of dtype and dims), computed once: types are immutable and
        # interned, and sets and memo tables of the verifier and the passes hash them per line.
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.dtype, self.dims))
            object.__setattr__(self, "_hash", h)
        return h

    def __str__(self) -> str:
        # The text form of the type, made once (the printer and the diagnostics ask per line).
        text = self.__dict__.get("_text")
        if text is None:
            text = f"{self.dtype.data}{format_shape(self.shape)}"
            object.__setattr__(self, "_text", text)
        return text

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<" + self.dtype.data + ", [")
        printer.print_string(
            ", ".join(str(d.data) if isinstance(d, IntAttr) else f'"{d.data}"' for d in self.dims.data)
        )
        printer.print_string("]>")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        """MLIR syntax: every dim goes through the text form's own reading and range check
        (``parse_dim``, ``check_dim``), so both forms accept exactly the same types; a plain
        int dim written as a string is stored as an int, as the text form stores it.

        A graph repeats a few types thousands of times: the parameters read from one text are
        kept by that text, and the same text again is taken from there, the lexer moved past it
        (xDSL's lexer costs most of reading a type)."""
        start = parser.pos
        source = parser.lexer.input.content
        seen = _PARAMS_TEXT.match(source, start)
        if seen is not None:
            hit = _PARAMS_CACHE.get(seen.group())
            if hit is not None:
                parser._resume_from(seen.end())
                return hit
        params = cls._parse_parameters(parser)
        if seen is not None and not source[seen.end() : parser.pos].strip():
            _PARAMS_CACHE.put(seen.group(), params, len(seen.group()))
        return params

    @classmethod
    def _parse_parameters(cls, parser: AttrParser) -> tuple[Attribute, Attribute]:
        parser.parse_punctuation("<")
        dtype = parser.parse_identifier()
        parser.parse_punctuation(",")

        def parse_one() -> Attribute:
            start = parser.pos
            value = parser.parse_optional_integer(allow_boolean=False)
            try:
                if value is None:
                    text = parser.parse_str_literal()
                    value = parse_dim(text)
                d = check_dim(value)
            except LimitError as e:
                raise DimError(Span(start, parser.pos, parser.lexer.input), e.message, e.code) from None
            return dim_attr(d)

        dims = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parse_one)
        parser.parse_punctuation(">")
        return (StringAttr(dtype), ArrayAttr(dims))


@dataclass
class DimError(XParseError):
    """A dim of an MLIR-syntax type that the text form would refuse, with its diagnostic code."""

    code: str = "GS105"


# Interned types, bounded by the number of dims they hold (hostile input brings new ones).
_TYPE_CACHE = BoundedMemo(1 << 21)
# The parameters of MLIR-syntax types by their text (``<f32, ["B", 64]>``; strings without
# escapes), bounded by the length of the texts held.
_PARAMS_TEXT = re.compile(r'<[ \t]*[A-Za-z0-9_]+[ \t]*,[ \t]*\[(?:[^\]"\\\n]|"[^"\\\n]*")*\][ \t]*>')
_PARAMS_CACHE = BoundedMemo(1 << 22)


def tensor_type(shape: Sequence[Dim], dtype: str) -> TensorType:
    """The (interned) TensorType of a shape and dtype."""
    key = (tuple(shape), dtype)
    t = _TYPE_CACHE.get(key)
    if t is None:
        dims = [IntAttr(d) if isinstance(d, int) else StringAttr(str(d)) for d in key[0]]
        t = TensorType(StringAttr(dtype), ArrayAttr(dims))
        object.__setattr__(t, "_sig", rules.Sig(key[0], dtype))
        _TYPE_CACHE.put(key, t, 1 + sum(1 if isinstance(d, int) else d.size for d in key[0]))
    return t


def sig_type(sig: rules.Sig) -> TensorType:
    return tensor_type(sig.shape, sig.dtype)


