"""Attribute value trees -> Python values, checked against the op's attribute specs.

An attribute's text (ints, floats, strings, None, lists, symbolic dim expressions) is evaluated
here, iteratively and within the nesting and integer limits, and converted by the attribute's
codec; kept apart from the statement builder so that each stays small.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Tree

from graphsynth.dialects import gs
from graphsynth.dialects.attrs import AttrValueError, Name, read_dim
from graphsynth.dialects.limits import MAX_INT, MAX_NESTING_DEPTH, MIN_INT, LimitError, read_int, shorten
from graphsynth.dialects.symdim import add as gs_add
from graphsynth.dialects.symdim import floordiv as gs_floordiv
from graphsynth.dialects.symdim import mod as gs_mod
from graphsynth.dialects.symdim import mul as gs_mul
from graphsynth.dialects.symdim import sub as gs_sub


class _AttrLiterals:
    """The attribute-value part of the tree-to-IR builder (needs the builder's ``report``)."""

    def literal(self, node: Tree | Token) -> Any:
        """Attribute value tree -> Python: ints, floats, str, None, lists, dims, Name.

        Iterative (a chain ``B+1+1+...`` or ``---B`` is a tree as deep as it is long); lists and
        parentheses nest at most MAX_NESTING_DEPTH deep (LimitError GS109), as in types.
        Integers beyond int64 and dims beyond the size limit raise LimitError (GS108, GS307)."""
        out: list[Any] = []
        stack: list[tuple[Any, int, bool]] = [(node, 0, False)]
        while stack:
            n, depth, done = stack.pop()
            if isinstance(n, Token):
                out.append(n)
                continue
            kind = n.data
            if kind == "int":
                out.append(read_int(str(n.children[0])))
            elif kind == "float":
                out.append(float(n.children[0]))
            elif kind == "string":
                out.append(_unquote(str(n.children[0])))
            elif kind == "none":
                out.append(None)
            elif kind == "dname":
                out.append(Name(str(n.children[0])))
            elif not done:
                inner = depth + (kind in _NESTING)
                if inner > MAX_NESTING_DEPTH:
                    what = "lists" if kind == "list" else "parentheses"
                    raise LimitError(f"{what} nest more than {MAX_NESTING_DEPTH} deep", "GS109")
                stack.append((n, depth, True))
                for c in reversed(n.children):
                    if isinstance(c, Tree):
                        stack.append((c, inner, False))
            else:
                k = sum(1 for c in n.children if isinstance(c, Tree))
                args = out[len(out) - k :]
                del out[len(out) - k :]
                out.append(self._combine(kind, args))
        return out[0]

    @staticmethod
    def _combine(kind: str, args: list[Any]) -> Any:
        if kind == "list":
            return args
        if kind == "dparen":
            return args[0]
        if kind == "dneg":
            inner = _dim_value(args[0])
            return _BAD if inner is _BAD else gs_mul(inner, -1)
        a, b = _dim_value(args[0]), _dim_value(args[-1])
        if a is _BAD or b is _BAD:
            return _BAD
        if kind == "dadd":
            return gs_add(a, b)
        if kind == "dsub":
            return gs_sub(a, b)
        if kind == "dmul":
            return gs_mul(a, b)
        if b == 0:
            return _BAD
        return gs_floordiv(a, b) if kind == "dfloordiv" else gs_mod(a, b)

    def convert(self, a: gs.AttrSpec, value: Any, key_tok: Token, opname: str) -> Any:
        """Check a literal against the attribute's kind and convert it."""

        def bad(expected: str) -> Any:
            self.report(
                "GS106",
                f"{opname}: attribute '{a.name}' expects {expected}, got {_show(value)}",
                key_tok,
                op=opname,
                expected=expected,
                got=_show(value),
            )
            return _BAD

        if value is _BAD or isinstance(value, list) and any(v is _BAD for v in value):
            return bad("a valid dim expression")
        if _out_of_range(value):
            expected = f"integers in [{_I64_MIN}, {_I64_MAX}]"
            self.report("GS108", f"{opname}: attribute '{a.name}' expects {expected}, got {_show(value)}", key_tok, op=opname, expected=expected, got=_show(value))
            return _BAD
        if value is None:
            return None if a.default is None else bad(a.kind)
        try:
            return a.codec.read(value)
        except AttrValueError as e:
            return bad(e.expected)


_BAD = object()
_I64_MIN, _I64_MAX = MIN_INT, MAX_INT
_NESTING = frozenset(("list", "dparen"))


def _dim_value(v: Any) -> Any:
    """An evaluated attribute value as a dim operand: a symbol for a bare name, ints and dims as
    they are, _BAD for anything else (a quoted string is not a dim operand)."""
    if isinstance(v, str) and not isinstance(v, Name):
        return _BAD
    try:
        return read_dim(v)
    except AttrValueError:
        return _BAD


def _out_of_range(v: Any) -> bool:
    if isinstance(v, list):
        return any(_out_of_range(x) for x in v)
    return isinstance(v, int) and not _I64_MIN <= v <= _I64_MAX


_short = shorten


def _show(v: Any) -> str:
    return _short(_show_full(v), 200)


def _show_full(v: Any) -> str:
    if v is _BAD:
        return "<invalid dim>"
    if v is None:
        return "None"
    if isinstance(v, list):
        return "[" + ", ".join(_show_full(x) for x in v) + "]"
    if isinstance(v, str) and not isinstance(v, Name):
        return f'"{v}"'
    return str(v)


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)
