"""Lark's syntax errors -> located Diagnostics.

Lark reports where it stopped and which terminals it would have taken; this module turns that into
the GS1xx diagnostic a reader needs: the file's line and column (the text Lark read may start
lines into the file), the expected terminals in words, a truncated file told apart from a bad
token, a folded module line (GS110) told apart from a typo, and brackets nested too deeply
(GS109) found by a scan before Lark spends seconds on them.
"""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from graphsynth.diagnostics import Diagnostic, Location, error, source_line
from graphsynth.dialects.dimtext import non_ascii_message
from graphsynth.dialects.limits import MAX_NESTING_DEPTH
from graphsynth.grammar.larkgrammar import _FAST
from graphsynth.grammar.printer import find_fold_marker

_TERMINAL_NAMES = {
    "_NL": "end of line",
    "$END": "end of input",
    "NAME": "a name",
    "VALUE": "a %value",
    "TYPE": "a type like f32[B, 768]",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "NONE": "None",
    "MODPATH": "a module path",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "PKIND": "'param'",
    "SYMBOL": "'symbol'",
    "UNBACKED": "'unbacked'",
    "STEP": "'step'",
    "RKIND": "'return'",
    "GRAPH": "'graph'",
    "MODULE": "'module'",
    "CIRCUMFLEX": "'^'",
    "__ANON_0": "'->'",
}


# Brackets outside strings and comments (the grammar's own STRING and COMMENT terminals: ``//``
# after a name, a digit or a closing bracket is floor division, not a comment).
_BRACKETS = re.compile("|".join(f"(?:{_FAST.re[t].pattern})" for t in ("STRING", "COMMENT")) + r"|[\[\]{}()]")
_OPENING = {"{": "}", "(": ")", "[": "]"}
_KIND = {"{": "module blocks and fused regions", "(": "parentheses", "[": "lists"}


def _too_deep(text: str) -> tuple[int, str] | None:
    """(offset, message) of the first bracket nested more than MAX_NESTING_DEPTH deep (the graph's
    own brace, a call's parenthesis and a type's bracket aside), or None.  Lark reads a token in
    about 25 microseconds and the fast reader declines deep text, so 300,000 nested brackets
    would take seconds to read before the builder refused them; this scan takes milliseconds.
    Each kind of bracket is counted on its own, as the builder counts them."""
    depth = {"{": 0, "(": 0, "[": 0}
    closing = {v: k for k, v in _OPENING.items()}
    for m in _BRACKETS.finditer(text):
        c = m.group()
        if c in depth:
            depth[c] += 1
            if depth[c] > MAX_NESTING_DEPTH + 1:
                return m.start(), f"{_KIND[c]} nest more than {MAX_NESTING_DEPTH} deep"
        elif c in closing:
            depth[closing[c]] = max(depth[closing[c]] - 1, 0)
    return None


# The op a statement line names: ``module`` blocks, ``param``/``buffer``/``symbol``/``return`` lines, ``%v: T = op(``.
_STATEMENT_OP = re.compile(r"[ \t]*(?:(module|param|buffer|symbol|return)\b|[^=\n]*?=[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\()")


def _deep_diagnostic(text: str, offset: int, message: str, filename: str, shift: int = 0) -> Diagnostic:
    """GS109 at the bracket that nests too deeply, attributed to the statement of its line (as
    the builder attributes its own nesting diagnostics: ``module: ...``, ``fused: ...``)."""
    start = text.rfind("\n", 0, offset) + 1
    m = _STATEMENT_OP.match(text, start, offset)
    op = (m.group(1) or m.group(2)) if m else None
    return _with_line(error("GS109", f"{op}: {message}" if op else message, loc=_offset_loc(text, offset, filename, shift + 1), op=op))


def _offset_loc(text: str, offset: int, filename: str, first_line: int = 1) -> Location:
    line = text.count("\n", 0, offset) + first_line
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(filename, line, col)


def _byte_loc(data: bytes, offset: int, filename: str, first_line: int = 1) -> Location:
    line = data.count(b"\n", 0, offset) + first_line
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return Location(filename, line, col)


def _with_line(d: Diagnostic) -> Diagnostic:
    d.source_line = source_line(d.loc)
    return d


def _describe_expected(expected: set[str] | frozenset[str]) -> str:
    names = sorted({_TERMINAL_NAMES.get(t, t.lower()) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


def _at_end(e: UnexpectedInput, text: str) -> bool:
    """The parser stopped at the end of the text: at $END, or at the last line break with
    only blanks after it (the file was cut in the middle of a statement)."""
    if isinstance(e, UnexpectedEOF):
        return True
    if not isinstance(e, UnexpectedToken):
        return False
    tok = e.token
    if tok.type == "$END":
        return True
    start = getattr(tok, "start_pos", None)
    return tok.type == "_NL" and start is not None and not text[start:].strip()


def _syntax_diagnostic(e: UnexpectedInput, text: str, filename: str, shift: int = 0) -> Diagnostic:
    """The diagnostic of Lark's error ``e`` in ``text``, which starts ``shift`` lines into the file."""
    if _at_end(e, text):
        # The end of the last line with text on it (trailing blank lines do not count).
        line = text.rstrip().count("\n") + 1
        last = text.rstrip().split("\n")[-1] if text.strip() else ""
        loc = Location(filename, max(line, 1) + shift, len(last) + 1)
        expected = getattr(e, "expected", None) or getattr(e, "accepts", None) or set()
        msg = "unexpected end of input (truncated file?)"
        if expected:
            msg += f"; expected {_describe_expected(expected)}"
        return _with_line(error("GS102", msg, loc=loc, expected=_describe_expected(expected) or None, got="end of input"))
    folded = _folded_diagnostic(e, text, filename, shift)
    if folded is not None:
        return folded
    loc = Location(filename, (e.line if e.line > 0 else 1) + shift, e.column if e.column > 0 else 1)
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        if ch and not ch.isascii():
            return _with_line(error("GS107", non_ascii_message(ch), loc=loc, got=repr(ch), expected="ASCII text"))
        allowed = e.allowed or set()
        msg = f"unexpected character {ch!r}"
        if allowed:
            msg += f"; expected {_describe_expected(allowed)}"
        return _with_line(error("GS103", msg, loc=loc, got=repr(ch), expected=_describe_expected(allowed) or None))
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    expected = e.accepts or e.expected or set()
    got = "end of line" if tok.type == "_NL" else repr(str(tok))
    return _with_line(
        error(
            "GS101",
            f"unexpected {got}; expected {_describe_expected(expected)}",
            loc=loc,
            expected=_describe_expected(expected),
            got=got,
        )
    )


def _folded_diagnostic(e: UnexpectedInput, text: str, filename: str, shift: int = 0) -> Diagnostic | None:
    """GS110 when the parser stopped at the fold marker of a folded module line.

    ``print_ir(m, depth=k)`` (``graphsynth-opt --depth=k``) prints a module below depth ``k`` as
    one line with its interface; the ops inside are not in the text.  Reading such a line as
    anything would yield a different module from the one printed, so it is refused, located on
    the marker, with every other folded line of the text listed in the notes.
    """
    if e.line < 1 or e.column < 1:
        return None
    lines = text.split("\n")
    if e.line > len(lines):
        return None
    mark = find_fold_marker(lines[e.line - 1])
    if mark is None or e.column < mark.column:
        return None
    if mark.ops is None:
        hidden = "the ops inside it are"
    else:
        hidden = f"the {mark.ops} op inside it is" if mark.ops == 1 else f"the {mark.ops} ops inside it are"
    others = [i + shift for i, line in enumerate(lines, start=1) if i != e.line and find_fold_marker(line) is not None]
    notes = []
    if others:
        shown = ", ".join(str(i) for i in others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "")
        notes.append(f"other folded modules: line{'s' if len(others) > 1 else ''} {shown}")
    return _with_line(
        error(
            "GS110",
            f"module: folded module '{mark.path}' is a read-only view (printed with depth=k): "
            f"{hidden} not in the text, so it cannot be parsed",
            loc=Location(filename, e.line + shift, mark.column),
            op="module",
            value=mark.path,
            expected="'{' and the module's ops",
            got="a folded module",
            fix="print without folding (print_ir(m) with depth=None; graphsynth-opt without --depth) to get text that parses",
            notes=notes,
        )
    )
