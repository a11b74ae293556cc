"""Where a piece of a statement is in its source line: the spans that fix-its replace.

The parser keeps one location per statement (its first column); a repair replaces a smaller
piece of it: the declared type of one result, the type of a parameter, the value of one
attribute, the name in one use.  These helpers find that piece in the line the statement was
read from, with the lexical rules of ``gs.lark`` (a statement is one line).  Each returns a
0-based ``(start, end)`` column span, or None when the line does not hold the piece as
expected (the caller then offers no edit rather than a wrong one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_TYPE = r"(?:f64|f32|f16|bf16|i64|i32|i16|i8|u8|bool)\[[^\]\n]*\]"
# Names are found with str.find and a boundary check, the pieces around them with patterns
# compiled once: a pattern per name would be compiled again for every diagnostic (Python's
# cache holds 512), which made 30,000 diagnostics cost seconds.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.$-")
_COLON_TYPE = re.compile(rf"[ \t]*:[ \t]*({_TYPE})")
_EQUALS = re.compile(r"[ \t]*=[ \t]*")
_PARAM = re.compile(r"[ \t]*(?:param|buffer)[ \t]+")
_TYPE_RE = re.compile(_TYPE)


def _words(code: str, name: str, start: int = 0) -> Iterator[int]:
    """The columns where ``name`` stands as a whole word (not inside a longer name or after a
    ``%``) at or after ``start``."""
    if not name:
        return
    i = code.find(name, start)
    while i >= 0:
        j = i + len(name)
        before = code[i - 1] if i else ""
        after = code[j] if j < len(code) else ""
        if before not in _NAME_CHARS and before != "%" and after not in _NAME_CHARS:
            yield i
        i = code.find(name, i + 1)


def _after_opening(code: str, name: str) -> Iterator[int]:
    """The columns just after ``name`` where it follows ``(`` or ``,`` (blanks between)."""
    i = code.find(name)
    while i >= 0:
        k = i
        while k > 0 and code[k - 1] in " \t":
            k -= 1
        if k > 0 and code[k - 1] in "(,":
            yield i + len(name)
        i = code.find(name, i + 1)


def result_type_span(line: str, value: str) -> tuple[int, int] | None:
    """The declared type of the result ``value`` (``%3``) in ``%3: f32[B, 256] = ...``."""
    name = value if value.startswith("%") else "%" + value
    code = _code(line)
    for i in _words(code, name):
        m = _COLON_TYPE.match(code, i + len(name))
        if m:
            return m.span(1)
    return None


def param_type_span(line: str, name: str) -> tuple[int, int] | None:
    """The type in ``param NAME: TYPE`` (or ``buffer NAME: TYPE``)."""
    code = _code(line)
    m = _PARAM.match(code)
    if not m or not name or not code.startswith(name, m.end()):
        return None
    t = _COLON_TYPE.match(code, m.end() + len(name))
    return t.span(1) if t else None


def graph_input_type_span(line: str, name: str) -> tuple[int, int] | None:
    """The type of the graph input ``name`` in a ``graph G(x: T, ...) -> ...`` header."""
    code = _code(line)
    for end in _after_opening(code, name):
        m = _COLON_TYPE.match(code, end)
        if m:
            return m.span(1)
    return None


def graph_output_type_span(line: str, index: int) -> tuple[int, int] | None:
    """Result type #``index`` after the ``->`` of a graph header."""
    code = _code(line)
    arrow = code.find("->")
    if arrow < 0:
        return None
    found = list(_TYPE_RE.finditer(code[arrow:]))
    if index >= len(found):
        return None
    s, e = found[index].span()
    return arrow + s, arrow + e


def attr_value_span(line: str, key: str) -> tuple[int, int] | None:
    """The value of ``key=VALUE`` in an op's argument list: a bracketed list, a string, or a
    token up to the next ``,`` or ``)`` outside parentheses."""
    code = _code(line)
    for end in _after_opening(code, key):
        m = _EQUALS.match(code, end)
        if m:
            break
    else:
        return None
    start = m.end()
    depth = 0
    i = start
    if i < len(code) and code[i] == '"':
        j = code.find('"', i + 1)
        return (i, j + 1) if j > 0 else None
    while i < len(code):
        ch = code[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                break
            depth -= 1
            if depth == 0 and ch == "]" and code[start] == "[":
                i += 1
                break
        elif ch == "," and depth == 0:
            break
        i += 1
    end = i
    while end > start and code[end - 1] in " \t":
        end -= 1
    return (start, end) if end > start else None


_CALL = re.compile(r"=[ \t]*[A-Za-z_][A-Za-z0-9_]*\(")


def args_end(line: str) -> int | None:
    """The column of the ``)`` that closes an op's argument list (where a new attribute goes)."""
    code = _code(line)
    m = _CALL.search(code)
    if not m:
        return None
    depth = 0
    for i in range(m.end() - 1, len(code)):
        if code[i] in "([":
            depth += 1
        elif code[i] in ")]":
            depth -= 1
            if depth == 0:
                return i
    return None


def word_span(line: str, name: str, start: int = 0) -> tuple[int, int] | None:
    """The first whole-word occurrence of ``name`` at or after column ``start``."""
    for i in _words(_code(line), name, start):
        return i, i + len(name)
    return None


def _code(line: str) -> str:
    """The line with a trailing ``//`` comment blanked out (same length, so columns hold);
    strings are kept (a ``//`` inside one is not a comment)."""
    if "//" not in line:
        return line
    out = []
    in_str = False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == '"':
            in_str = not in_str
        elif not in_str and line.startswith("//", i):
            return "".join(out) + " " * (len(line) - i)
        out.append(ch)
        i += 1
    return line
