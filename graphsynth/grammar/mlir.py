"""Reading MLIR generic syntax with bounded cost: xDSL's parser, guarded.

xDSL builds what the text asks for: ``dense<1.0> : tensor<300000000xf32>`` is 60 bytes that
materialise a list of 300 million floats (gigabytes) before anything can refuse it, an ``i99999999999``
type makes it compute ``2**99999999999``, a 5,000-digit literal trips Python's int() limit, and
its recursive descent runs out of stack at about 150 nested brackets.  So, before and while xDSL
parses, with the limits of ``graphsynth.dialects.limits``:

- :func:`prescan` reads the text once (strings and comments skipped) and refuses brackets nested
  deeper than ``MAX_MLIR_NESTING`` (GS109), decimal literals longer than
  ``MAX_MLIR_INT_DIGITS`` (GS108) and string literals that xDSL's lexer would not match (GS101:
  its pattern backtracks exponentially on them, so a 40-character unclosed string takes hours), at
  their position;
- :class:`GuardedParser` (an xDSL ``Parser``) checks the type of every dense elements attribute
  before the elements are built (``MAX_ATTR_ELEMENTS``) and the width of every integer type
  before it exists (``MAX_INTEGER_TYPE_WIDTH``), raising :class:`LimitParseError` (GS308) with
  the span of the offending text.  Hooking the parser, not the text, sees through type aliases
  (``!t = tensor<...>``) and every syntax that reaches a dense attribute.

Both report as xDSL's own ``ParseError`` does (a span), with a diagnostic code.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import FileLineColLoc, IntAttr, StringAttr
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError as XParseError
from xdsl.utils.lexer import Span

from graphsynth.dialects.limits import (
    MAX_ATTR_ELEMENTS,
    MAX_INTEGER_TYPE_WIDTH,
    MAX_MLIR_INT_DIGITS,
    MAX_MLIR_NESTING,
    shorten,
)


@dataclass
class LimitParseError(XParseError):
    """A ParseError for input beyond a limit; ``code`` is its diagnostic code."""

    code: str = "GS308"


@dataclass(frozen=True)
class Refusal:
    """What :func:`prescan` refuses: code, message and the 0-based offset in the text."""

    code: str
    message: str
    offset: int


# A string literal exactly as xDSL's lexer accepts it, one character at a time: xDSL's own pattern
# (``"(?:[^"\\\n\v\f]+|\\...)*"``) backtracks exponentially on a string it cannot match (a quote
# left open, an unknown escape), so those are refused here first.
_STRING = r'"(?:[^"\\\n\v\f]|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"'
_SCAN = re.compile(_STRING + r'|"|//[^\n]*|->|[\[({<]|[\])}>]|[0-9]{' + str(MAX_MLIR_INT_DIGITS + 1) + ",}")
_OPEN = frozenset("[({<")


def prescan(text: str) -> Refusal | None:
    """The first bracket nested deeper than MAX_MLIR_NESTING or decimal literal longer than
    MAX_MLIR_INT_DIGITS (outside strings and comments), or None."""
    depth = 0
    for m in _SCAN.finditer(text):
        tok = m.group()
        c = tok[0]
        if c in _OPEN:
            depth += 1
            if depth > MAX_MLIR_NESTING:
                return Refusal("GS109", f"brackets nest more than {MAX_MLIR_NESTING} deep", m.start())
        elif c in "])}>":
            depth = max(depth - 1, 0)
        elif tok == '"':
            return Refusal("GS101", "MLIR syntax error: string literal not closed on its line, or with an escape "
                           "other than \\n, \\t, \\\\, \\\" or two hex digits", m.start())
        elif c.isdigit():
            return Refusal("GS108", f"integer literal {shorten(tok)} has {len(tok)} digits, more than {MAX_MLIR_INT_DIGITS}", m.start())
    return None


class GuardedParser(Parser):
    """xDSL's parser with the materialisation checks of the module docstring.  It also gives
    every op it reads the line and column where its text starts (unless the text states a
    location), whatever the layout of the text, so that later diagnostics point into it."""

    _line_starts: list[int] | None = None

    def parse_operation(self) -> Any:
        start = self._current_token.span.start
        op = super().parse_operation()
        if not isinstance(op.location, FileLineColLoc):
            line, col = self._line_col(start)
            op.location = FileLineColLoc(StringAttr(self.lexer.input.name), IntAttr(line), IntAttr(col))
        return op

    def _line_col(self, offset: int) -> tuple[int, int]:
        if self._line_starts is None:
            text = self.lexer.input.content
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        k = bisect.bisect_right(self._line_starts, offset)
        return k, offset - self._line_starts[k - 1] + 1

    def _parse_dense_literal_type(self) -> Any:
        start = self.pos
        t = super()._parse_dense_literal_type()
        self._check_elements(t, start)
        return t

    def parse_dense_int_or_fp_elements_attr(self, type: Any) -> Any:
        if type is not None:
            self._check_elements(type, self.pos)
        return super().parse_dense_int_or_fp_elements_attr(type)

    def _check_elements(self, t: Any, start: int) -> None:
        shape = list(t.get_shape())
        n = math.prod(max(d, 0) for d in shape)
        if n > MAX_ATTR_ELEMENTS:
            raise LimitParseError(
                Span(start, max(self.pos, start + 1), self.lexer.input),
                f"a dense attribute of type {_show_type(shape)} would hold {n} elements, over the limit of {MAX_ATTR_ELEMENTS}",
                "GS308",
            )

    def _parse_optional_integer_or_float_type(self) -> Any:
        tok = self._current_token
        text = tok.text if isinstance(tok.text, str) else ""
        m = self._builtin_integer_type_regex.match(text) if text else None
        if m is not None:
            digits = m.group(1)
            if len(digits.lstrip("0")) > len(str(MAX_INTEGER_TYPE_WIDTH)) or int(digits) > MAX_INTEGER_TYPE_WIDTH:
                raise LimitParseError(
                    tok.span,
                    f"integer type {shorten(text)} is wider than {MAX_INTEGER_TYPE_WIDTH} bits",
                    "GS308",
                )
        return super()._parse_optional_integer_or_float_type()


def _show_type(shape: list[int]) -> str:
    return shorten("x".join(map(str, shape)), 60)
