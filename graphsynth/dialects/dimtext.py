"""The text of symbolic dims: reading ``"2*S+1"`` into a canonical dim and writing it back.

The one reader of dim text for the text form, MLIR input and the verifier (ASCII only, every
failure a :class:`DimSyntaxError` with a code and column), and the one check of the range a
tensor type's dim may hold, so every form accepts the same types.  Reading is memoised and
bounded (parentheses depth, expression size, token count read on demand).
"""

from __future__ import annotations

import re

from graphsynth.dialects.limits import MAX_DIM_SIZE, MAX_INT, MAX_NESTING_DEPTH, LimitError, read_int, shorten, show_int
from graphsynth.dialects.memo import BoundedMemo
from graphsynth.dialects.symdim import Dim, Shape, SymDim, _poly, _size, _too_large, floordiv, mod, mul

# ASCII only: [0-9] and [ \t], never \d or \s, which also match fullwidth digits, superscripts
# and Unicode spaces.
_TOKEN = re.compile(r"[ \t]*(?:([0-9]+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*%()]))")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


class DimSyntaxError(LimitError):
    """A dim expression that cannot be read; ``column`` is 0-based, ``code`` the diagnostic
    code (GS105 malformed, GS107 non-ASCII character, GS108 number out of range, GS109 nested
    too deeply, GS307 too large)."""

    def __init__(self, message: str, column: int, code: str = "GS105"):
        super().__init__(message, code, column)


def non_ascii_message(ch: str) -> str:
    """What GS107 says about a character the ASCII grammar does not have."""
    import unicodedata

    name = unicodedata.name(ch, "")
    return f"non-ASCII character {ch!r} (U+{ord(ch):04X}{' ' + name if name else ''}); the text form is ASCII outside strings and comments"


def parse_dim(text: str) -> Dim:
    """Parse ``"2*S+1"``-style text into a canonical dim (memoised: dims repeat).

    Raises :class:`DimSyntaxError` (a :class:`LimitError`) with a code and column."""
    d = _DIM_CACHE.get(text)
    if d is None:
        d = _parse_dim(text)
        _DIM_CACHE.put(text, d, len(text) + _size(d))
    return d


_DIM_CACHE = BoundedMemo(1 << 21)


def _parse_dim(text: str) -> Dim:
    if text.isascii() and text.isdigit():
        return _read_int(text, 0, text)
    bad = _NON_ASCII.search(text)
    if bad is not None:
        raise DimSyntaxError(non_ascii_message(bad.group()), bad.start(), "GS107")
    tokens = _Tokens(text)
    parser = _DimParser(tokens, text)
    try:
        value = parser.expr()
    except LimitError as e:
        if isinstance(e, DimSyntaxError):
            raise
        raise DimSyntaxError(e.message, parser.last_col, e.code) from None
    extra = tokens.get(parser.i)
    if extra is not None:
        raise DimSyntaxError(f"unexpected '{extra[1]}' in dim '{shorten(text, 60)}'", extra[2])
    if isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
        # A dim is read back from its text: its value must be an integer the text can hold.
        raise DimSyntaxError(f"dim '{shorten(text, 60)}' is {show_int(value)}, out of range (-{MAX_INT}..{MAX_INT})", 0, "GS108")
    return value


def _read_int(tok: str, col: int, text: str) -> int:
    try:
        return read_int(tok, col)
    except LimitError as e:
        raise DimSyntaxError(e.message, col, e.code) from None


class _Tokens:
    """The tokens of a dim, read on demand: parsing stops at the first error (a parenthesis 33
    deep, a product too large), so a 600,000-character dim refused after a few tokens costs a
    few tokens, not a list of all of them."""

    def __init__(self, text: str):
        self.text = text.rstrip(" \t")
        self.items: list[tuple[str, str, int]] = []
        self.pos = 0

    def get(self, i: int) -> tuple[str, str, int] | None:
        """The i-th token (kind, text, 0-based column), or None past the end."""
        while len(self.items) <= i and self.pos < len(self.text):
            m = _TOKEN.match(self.text, self.pos)
            if not m:
                raise DimSyntaxError(f"unexpected character {self.text[self.pos]!r} in dim '{shorten(self.text, 60)}'", self.pos)
            kind = "int" if m.group(1) else "name" if m.group(2) else "op"
            self.items.append((kind, m.group(m.lastindex), m.start(m.lastindex)))
            self.pos = m.end()
        return self.items[i] if i < len(self.items) else None


class _DimParser:
    """Recursive descent over the tokens; parentheses recurse (at most MAX_NESTING_DEPTH deep),
    chains of operators and unary minus signs loop."""

    def __init__(self, tokens: _Tokens, text: str):
        self.tokens = tokens
        self.text = text
        self.i = 0
        self.depth = 0
        self.last_col = 0  # the token being combined, for errors raised by arithmetic

    def _peek(self) -> str | None:
        tok = self.tokens.get(self.i)
        return None if tok is None else tok[1]

    def expr(self) -> Dim:
        value = self.term()
        if self._peek() not in ("+", "-"):
            return value
        # A sum collects its terms in one table and builds the canonical form once: adding term
        # by term would copy and sort the partial sum each time (quadratic in its length).
        acc = _poly(value)
        naive = _size(value)
        while self._peek() in ("+", "-"):
            _, tok, self.last_col = self.tokens.items[self.i]
            sign = 1 if tok == "+" else -1
            self.i += 1
            rhs = self.term()
            for m, c in _poly(rhs).items():
                v = acc.get(m, 0) + sign * c
                if v:
                    acc[m] = v
                else:
                    acc.pop(m, None)
            naive += _size(rhs)
            if naive > MAX_DIM_SIZE:
                naive = sum(1 + sum(e * (1 if isinstance(a, str) else a.size) for a, e in m) for m in acc)
                if naive > MAX_DIM_SIZE:
                    raise _too_large("a sum", naive)
        return SymDim._from_dict(acc)

    def term(self) -> Dim:
        value = self.factor()
        while self._peek() in ("*", "//", "%"):
            _, op, self.last_col = self.tokens.items[self.i]
            self.i += 1
            rhs = self.factor()
            if op == "*":
                value = mul(value, rhs)
            else:
                if rhs == 0:
                    raise DimSyntaxError(f"division by zero in dim '{shorten(self.text, 60)}'", 0)
                value = floordiv(value, rhs) if op == "//" else mod(value, rhs)
        return value

    def factor(self) -> Dim:
        negate = False
        while True:
            token = self.tokens.get(self.i)
            if token is None:
                raise DimSyntaxError(f"dim '{shorten(self.text, 60)}' ends early", len(self.text))
            kind, tok, col = token
            self.i += 1
            if tok != "-" or kind != "op":
                break
            negate = not negate
        self.last_col = col
        if kind == "int":
            value: Dim = _read_int(tok, col, self.text)
        elif kind == "name":
            value = SymDim.symbol(tok)
        elif tok == "(":
            self.depth += 1
            if self.depth > MAX_NESTING_DEPTH:
                raise DimSyntaxError(f"parentheses nest more than {MAX_NESTING_DEPTH} deep in dim '{shorten(self.text, 60)}'", col, "GS109")
            value = self.expr()
            if self._peek() != ")":
                raise DimSyntaxError(f"missing ')' in dim '{shorten(self.text, 60)}'", len(self.text))
            self.i += 1
            self.depth -= 1
        else:
            raise DimSyntaxError(f"unexpected '{tok}' in dim '{shorten(self.text, 60)}'", col)
        return mul(value, -1) if negate else value


def check_dim(d: Dim, column: int = 0) -> Dim:
    """``d`` if a tensor type may hold it, else :class:`DimSyntaxError`: a plain-int dim lies
    in ``0..MAX_INT`` (int64, what torch holds).  The one check of the text form, MLIR input
    and the verifier, so every form accepts the same types."""
    if isinstance(d, int):
        if d < 0:
            raise DimSyntaxError(f"negative dim {show_int(d)}", column)
        if d > MAX_INT:
            raise DimSyntaxError(f"dim {show_int(d)} is out of range (0..{MAX_INT})", column, "GS108")
    return d


def format_dim(d: Dim) -> str:
    return str(d)


def format_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
