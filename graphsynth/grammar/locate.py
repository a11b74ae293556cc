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

_TYPE = r"(?:f64|f32|f16|bf16|i64|i32|i16|i8|u8|bool)\[[^\]\n]*\]"
_NAME_CH = r"A-Za-z0-9_.$\-"


def _word(name: str) -> str:
    return rf"(?<![{_NAME_CH}%]){re.escape(name)}(?![{_NAME_CH}])"


def result_type_span(line: str, value: str) -> tuple[int, int] | None:
    """The declared type of the result ``value`` (``%3``) in ``%3: f32[B, 256] = ...``."""
    name = value if value.startswith("%") else "%" + value
    m = re.search(rf"{_word(name)}[ \t]*:[ \t]*({_TYPE})", _code(line))
    return m.span(1) if m else None


def param_type_span(line: str, name: str) -> tuple[int, int] | None:
    """The type in ``param NAME: TYPE`` (or ``buffer NAME: TYPE``)."""
    m = re.match(rf"[ \t]*(?:param|buffer)[ \t]+{re.escape(name)}[ \t]*:[ \t]*({_TYPE})", _code(line))
    return m.span(1) if m else None


def graph_input_type_span(line: str, name: str) -> tuple[int, int] | None:
    """The type of the graph input ``name`` in a ``graph G(x: T, ...) -> ...`` header."""
    m = re.search(rf"[(,][ \t]*{re.escape(name)}[ \t]*:[ \t]*({_TYPE})", _code(line))
    return m.span(1) if m else None


def graph_output_type_span(line: str, index: int) -> tuple[int, int] | None:
    """Result type #``index`` after the ``->`` of a graph header."""
    code = _code(line)
    arrow = code.find("->")
    if arrow < 0:
        return None
    found = list(re.finditer(_TYPE, code[arrow:]))
    if index >= len(found):
        return None
    s, e = found[index].span()
    return arrow + s, arrow + e


def attr_value_span(line: str, key: str) -> tuple[int, int] | None:
    """The value of ``key=VALUE`` in an op's argument list: a bracketed list, a string, or a
    token up to the next ``,`` or ``)`` outside parentheses."""
    code = _code(line)
    m = re.search(rf"[(,][ \t]*{re.escape(key)}[ \t]*=[ \t]*", code)
    if not m:
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


def args_end(line: str) -> int | None:
    """The column of the ``)`` that closes an op's argument list (where a new attribute goes)."""
    code = _code(line)
    m = re.search(r"=[ \t]*[A-Za-z_][A-Za-z0-9_]*\(", code)
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
    m = re.compile(_word(name)).search(_code(line), start)
    return m.span() if m else None


def _code(line: str) -> str:
    """The line with a trailing ``//`` comment blanked out (same length, so columns hold);
    strings are kept (a ``//`` inside one is not a comment)."""
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
