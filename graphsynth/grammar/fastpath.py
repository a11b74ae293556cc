"""A fast path for reading the text form: the tree Lark's LALR parser would build, or None.

Lark with positions costs about 150-300 µs per line here (DESIGN.md measured 155 µs); a graph
of 100k ops took over half a minute to read.  Valid text is line-shaped (one statement per line)
and uses a handful of statement forms, so a small recursive-descent reader over the same
terminal regexes (taken from the Lark grammar, so the two cannot drift apart) builds the same
``lark.Tree`` -- same rule names, children, tokens and positions -- several times faster.  It
reads only what it is sure of: graphs, symbol declarations, params and buffers (shared ones
too), module blocks, ops with or without a fused region, return and yield.  Anything else (a
syntax error, an odd spacing it does not model) makes it decline the graph it is in:
:meth:`FastReader.read_graphs` returns the graphs read before it and where the declined one
starts, and the caller reads that graph with Lark, which then also produces the syntax
diagnostics, and goes on with the fast path after it (so one odd line in the last of a thousand
graphs costs one graph's Lark parse, not the file's).  ``tests/test_verifier_text_fastpath.py``
checks that whenever the fast path answers, its tree equals Lark's.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from lark import Lark, Token, Tree
from lark.tree import Meta

from graphsynth.dialects.limits import MAX_NESTING_DEPTH


class Decline(Exception):
    """The fast path does not handle this text; use Lark."""


def _terminal(lark: Lark, name: str) -> re.Pattern[str]:
    return re.compile(lark.get_terminal(name).pattern.to_regexp())


class FastReader:
    """Reads gs text into Lark's tree for the grammar of ``lark`` (see the module docstring)."""

    def __init__(self, lark: Lark):
        self.re = {n: _terminal(lark, n) for n in ("NAME", "MODPATH", "VALUE", "TYPE", "INT", "FLOAT", "STRING", "COMMENT", "_NL", "WS")}

    def read(self, text: str) -> Tree | None:
        """The whole text's tree, or None when the fast path declines any part of it."""
        graphs, stop = self.read_graphs(text)
        if stop is not None:
            return None
        return Tree("start", graphs, graphs[0].meta if graphs else Meta())

    def read_graphs(self, text: str, pos: int = 0, line: int = 1) -> tuple[list[Tree], Stop | None]:
        """The graphs of ``text`` from offset ``pos`` (at line ``line``) on, and None; or, where it
        declines, the graphs read before and a :class:`Stop`."""
        scan = _Scan(self.re, text)
        scan.pos, scan.line, scan.line_start = pos, line, text.rfind("\n", 0, pos) + 1
        graphs: list[Tree] = []
        while True:
            here = Stop(scan.pos, scan.line, scan.pos - scan.line_start + 1, scan.pos)
            scan.body_at = scan.stmt_at = None
            try:
                scan.blank_lines()
                if scan.pos >= len(text):
                    return graphs, None
                graphs.append(scan.graph())
            except (Decline, IndexError, RecursionError):
                return graphs, Stop(here.pos, here.line, here.column, max(scan.pos, here.pos), scan.body_at, scan.stmt_at)


class Stop(NamedTuple):
    """Where the fast path declined: the text from ``pos`` (``line``:``column``, just after the last
    graph it read) holds the graph it could not read; it gave up at offset ``at``."""

    pos: int
    line: int
    column: int
    at: int
    # (offset, line) of the start of the line where the graph's body begins, and of the line of the
    # statement of that body (not of a nested block) being read when it declined; None before.
    body_at: tuple[int, int] | None = None
    stmt_at: tuple[int, int] | None = None


_WORD = re.compile(r"[A-Za-z_]+")


def _token(kind: str, value: str, start: int, line: int, column: int, end_column: int, end: int) -> Token:
    """``Token(kind, value, start, line, column, line, end_column, end)`` (a token on one line)
    with its slots set directly: Lark's constructor also handles deprecated keyword forms and
    costs 4x as much, an eighth of the fast path's time."""
    tok = str.__new__(Token, value)
    tok.type = kind
    tok.value = value
    tok.start_pos = start
    tok.line = tok.end_line = line
    tok.column = column
    tok.end_column = end_column
    tok.end_pos = end
    return tok


def _meta(line: int, column: int, pos: int) -> Meta:
    m = Meta()
    m.line = line
    m.column = column
    m.start_pos = pos
    m.empty = False
    return m


class _Scan:
    def __init__(self, res: dict[str, re.Pattern[str]], text: str):
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.name_re = res["NAME"]
        self.modpath_re = res["MODPATH"]
        self.value_re = res["VALUE"]
        self.type_re = res["TYPE"]
        self.int_re = res["INT"]
        self.float_re = res["FLOAT"]
        self.string_re = res["STRING"]
        self.comment_re = res["COMMENT"]
        self.nl_re = res["_NL"]
        self.ws_re = res["WS"]
        self.depth = 0  # blocks, lists, parentheses and signs around the current position
        self.body_at: tuple[int, int] | None = None  # see Stop
        self.stmt_at: tuple[int, int] | None = None

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            raise Decline  # Lark reads it and the builder reports GS109

    # -- lexing ---------------------------------------------------------------------------
    def skip(self) -> None:
        """Blanks and a trailing comment (never a line break)."""
        c = self.text[self.pos : self.pos + 1]
        if c == " " or c == "\t":  # the grammar's WS: [ \t]+ (most tokens follow none or one blank)
            m = self.ws_re.match(self.text, self.pos)
            if m:
                self.pos = m.end()
                c = self.text[self.pos : self.pos + 1]
        if c == "/" and self.text.startswith("//", self.pos):
            c = self.comment_re.match(self.text, self.pos)
            if c is None:
                raise Decline  # '//' that is not a comment here: let Lark say what it is
            self.pos = c.end()

    def skip_ws(self) -> None:
        m = self.ws_re.match(self.text, self.pos)
        if m:
            self.pos = m.end()

    # token, lit and peek look first where they stand, since most tokens follow no blank, and
    # skip only when that fails: no token or literal starts with a blank or '/', so the answer is
    # the same (a third of the calls of this reader were skips that skipped nothing).
    def token(self, kind: str, regex: re.Pattern[str]) -> Token:
        m = regex.match(self.text, self.pos)
        if m is None:
            self.skip()
            m = regex.match(self.text, self.pos)
            if m is None:
                raise Decline
        return self._make(kind, m.group(), m.end())

    def _make(self, kind: str, value: str, end: int) -> Token:
        start = self.pos
        col = start - self.line_start + 1
        self.pos = end
        return _token(kind, value, start, self.line, col, col + (end - start), end)

    def lit(self, s: str) -> tuple[int, int, int]:
        """Consume the literal ``s``; returns its (line, column, pos)."""
        if not self.text.startswith(s, self.pos):
            self.skip()
            if not self.text.startswith(s, self.pos):
                raise Decline
        where = (self.line, self.pos - self.line_start + 1, self.pos)
        self.pos += len(s)
        return where

    def peek(self) -> str:
        c = self.text[self.pos : self.pos + 1]
        if c == " " or c == "\t" or c == "/":
            self.skip()
            c = self.text[self.pos : self.pos + 1]
        return c

    def keyword(self, word: str) -> tuple[int, int, int]:
        """A keyword followed by a blank (a keyword glued to a name is Lark's business)."""
        where = self.lit(word)
        if self.text[self.pos : self.pos + 1] not in (" ", "\t"):
            raise Decline
        return where

    def word_ahead(self) -> str:
        self.skip()
        m = _WORD.match(self.text, self.pos)
        return m.group() if m else ""

    def newline(self) -> None:
        """The end of a statement: a line break (then blank and comment lines)."""
        self.skip()
        if self.pos >= len(self.text):
            return
        m = self.nl_re.match(self.text, self.pos)
        if m is None:
            raise Decline
        self._advance_lines(m.end())
        self.blank_lines()

    def blank_lines(self) -> None:
        while True:
            self.skip()
            if self.pos >= len(self.text):
                return
            m = self.nl_re.match(self.text, self.pos)
            if m is None:
                return
            self._advance_lines(m.end())

    def _advance_lines(self, end: int) -> None:
        chunk = self.text[self.pos : end]
        self.line += chunk.count("\n")
        self.line_start = self.text.rfind("\n", 0, end) + 1
        self.pos = end

    # -- statements ------------------------------------------------------------------------
    def graph(self) -> Tree:
        self.body_at = self.stmt_at = None
        line, col, pos = self.keyword("graph")
        name = self.token("NAME", self.name_re)
        self.lit("(")
        children: list[Any] = [name]
        if self.peek() != ")":
            while True:
                arg_name = self.token("NAME", self.name_re)
                self.lit(":")
                arg_type = self.token("TYPE", self.type_re)
                children.append(Tree("arg", [arg_name, arg_type], _meta(arg_name.line, arg_name.column, arg_name.start_pos)))
                if self.peek() != ",":
                    break
                self.lit(",")
        self.lit(")")
        self.lit("->")
        if self.peek() == "(":
            rl, rc, rp = self.lit("(")
            types = []
            if self.peek() != ")":
                types.append(self.token("TYPE", self.type_re))
                while self.peek() == ",":
                    self.lit(",")
                    types.append(self.token("TYPE", self.type_re))
            self.lit(")")
            children.append(Tree("result_types", types, _meta(rl, rc, rp)))
        else:
            first = self.token("TYPE", self.type_re)
            types = [first]
            while self.peek() == ",":
                self.lit(",")
                types.append(self.token("TYPE", self.type_re))
            children.append(Tree("result_types", types, _meta(first.line, first.column, first.start_pos)))
        self.lit("{")
        self.newline()
        self.body_at = (self.line_start, self.line)
        children.append(self.body(top=True))
        self.lit("}")
        self.skip()
        if self.pos < len(self.text) and self.nl_re.match(self.text, self.pos) is None:
            raise Decline
        return Tree("graph", children, _meta(line, col, pos))

    def body(self, top: bool = False) -> Tree:
        stmts: list[Tree] = []
        while True:
            c = self.peek()
            if top:
                self.stmt_at = (self.line_start, self.line)
            if c == "}":
                break
            if c == "%":
                stmts.append(self.op())
                continue
            word = self.word_ahead()
            if word in ("param", "buffer"):
                stmts.append(self.param(word))
            elif word == "symbol":
                stmts.append(self.symbol())
            elif word == "module":
                stmts.append(self.module())
            elif word in ("return", "yield"):
                stmts.append(self.ret(word))
            else:
                raise Decline
        meta = stmts[0].meta if stmts else Meta()
        return Tree("body", stmts, meta)

    def param(self, word: str) -> Tree:
        line, col, pos = self.keyword(word)
        kind = _token("PKIND", word, pos, line, col, col + len(word), pos + len(word))
        name = self.token("NAME", self.name_re)
        self.lit(":")
        typ = self.token("TYPE", self.type_re)
        children = [kind, name, typ]
        if self.peek() == "=":
            self.lit("=")
            children.append(self.token("NAME", self.name_re))  # a shared parameter
        self.newline()
        return Tree("param", children, _meta(line, col, pos))

    def symbol(self) -> Tree:
        line, col, pos = self.keyword("symbol")
        name = self.token("NAME", self.name_re)
        self.lit(":")
        self.lit("[")
        lo = self.token("INT", self.int_re)
        self.lit(",")
        self.skip()
        if self.text.startswith("inf", self.pos):
            hi = self.token("FLOAT", self.float_re)
        else:
            hi = self.token("INT", self.int_re)
        self.lit("]")
        children = [name, lo, hi]
        if self.word_ahead() == "step":
            self.keyword("step")
            children.append(self.token("INT", self.int_re))
        if self.word_ahead() == "unbacked":
            children.append(self._make("UNBACKED", "unbacked", self.pos + len("unbacked")))
        self.newline()
        return Tree("symbol", children, _meta(line, col, pos))

    def module(self) -> Tree:
        line, col, pos = self.keyword("module")
        path = self.token("MODPATH", self.modpath_re)
        self.lit(":")
        cls = self.token("NAME", self.name_re)
        self.lit("{")
        self.newline()
        self.enter()
        body = self.body()
        self.depth -= 1
        self.lit("}")
        self.newline()
        return Tree("module", [path, cls, body], _meta(line, col, pos))

    def ret(self, word: str) -> Tree:
        self.skip()
        line, col, pos = self.line, self.pos - self.line_start + 1, self.pos
        end = self.pos + len(word)
        if not self.text.startswith(word, self.pos) or self.text[end : end + 1] not in (" ", "\t", "\n", "\r", ""):
            raise Decline
        kind = self._make("RKIND", word, end)
        children: list[Any] = [kind]
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] not in "\r\n":
            children.append(self.operand())
            while self.peek() == ",":
                self.lit(",")
                children.append(self.operand())
        self.newline()
        return Tree("ret", children, _meta(line, col, pos))

    def op(self) -> Tree:
        defs = []
        while True:
            v = self.token("VALUE", self.value_re)
            self.lit(":")
            t = self.token("TYPE", self.type_re)
            defs.append(Tree("def", [v, t], _meta(v.line, v.column, v.start_pos)))
            if self.peek() != ",":
                break
            self.lit(",")
        self.lit("=")
        name = self.token("NAME", self.name_re)
        self.lit("(")
        children: list[Any] = [Tree("defs", defs, defs[0].meta), name]
        if self.peek() != ")":
            items = [self.item()]
            while self.peek() == ",":
                self.lit(",")
                items.append(self.item())
            children.append(Tree("items", items, items[0].meta))
        self.lit(")")
        if self.peek() == "{":
            children.append(self.region())
        self.newline()
        return Tree("op", children, defs[0].meta)

    def region(self) -> Tree:
        """``{ ^(%a: T, ...) body }`` of a fused op (the line break after '}' is the op's)."""
        line, col, pos = self.lit("{")
        self.newline()
        self.lit("^")
        self.lit("(")
        children: list[Any] = []
        if self.peek() != ")":
            while True:
                v = self.token("VALUE", self.value_re)
                self.lit(":")
                t = self.token("TYPE", self.type_re)
                children.append(Tree("barg", [v, t], _meta(v.line, v.column, v.start_pos)))
                if self.peek() != ",":
                    break
                self.lit(",")
        self.lit(")")
        self.newline()
        self.enter()
        children.append(self.body())
        self.depth -= 1
        self.lit("}")
        return Tree("region", children, _meta(line, col, pos))

    # -- operands and attribute values ------------------------------------------------------------
    def operand(self) -> Tree:
        self.skip()
        text, pos = self.text, self.pos
        c = text[pos : pos + 1]
        if c == "%":
            tok = self.token("VALUE", self.value_re)
        else:
            tok = self._number_or_name()
        return Tree("operand", [tok], _meta(tok.line, tok.column, tok.start_pos))

    def _number_or_name(self) -> Token:
        """INT, FLOAT, NONE or NAME (their regexes never match the same text)."""
        text, pos = self.text, self.pos
        m = self.int_re.match(text, pos)
        if m:
            return self._make("INT", m.group(), m.end())
        m = self.float_re.match(text, pos)
        if m:
            return self._make("FLOAT", m.group(), m.end())
        m = self.name_re.match(text, pos)
        if m:
            word = m.group()
            return self._make("NONE" if word == "None" else "NAME", word, m.end())
        raise Decline

    def item(self) -> Tree:
        self.skip()
        m = self.name_re.match(self.text, self.pos)
        if m is not None and m.group() != "None":
            after = self.ws_re.match(self.text, m.end())
            nxt = after.end() if after else m.end()
            if self.text.startswith("=", nxt):
                key = self._make("NAME", m.group(), m.end())
                self.lit("=")
                value = self.value()
                return Tree("kwarg", [key, value], _meta(key.line, key.column, key.start_pos))
            # A name operand: what operand() would find (INT and FLOAT never match a NAME's text).
            tok = self._make("NAME", m.group(), m.end())
            return Tree("operand", [tok], _meta(tok.line, tok.column, tok.start_pos))
        return self.operand()

    def value(self) -> Tree:
        self.skip()
        text, pos = self.text, self.pos
        c = text[pos : pos + 1]
        if c == "[":
            line, col, p = self.lit("[")
            self.enter()
            vals = []
            if self.peek() != "]":
                vals.append(self.value())
                while self.peek() == ",":
                    self.lit(",")
                    vals.append(self.value())
            self.lit("]")
            self.depth -= 1
            return Tree("list", vals, _meta(line, col, p))
        if c == '"':
            tok = self.token("STRING", self.string_re)
            return Tree("string", [tok], _meta(tok.line, tok.column, tok.start_pos))
        m = self.float_re.match(text, pos)
        if m:
            tok = self._make("FLOAT", m.group(), m.end())
            return Tree("float", [tok], _meta(tok.line, tok.column, tok.start_pos))
        if text.startswith("None", pos):
            m = self.name_re.match(text, pos)
            if m and m.group() == "None":
                tok = self._make("NONE", "None", m.end())
                return Tree("none", [tok], _meta(tok.line, tok.column, tok.start_pos))
        return self.dexpr()

    def dexpr(self) -> Tree:
        return self._dexpr()[0]

    # Each returns (tree, start): ``start`` is the position of the first token of the span, which
    # Lark gives to a parent built on it: in ``(S-1)//2`` the floor division starts at '(' (its
    # first child is the dparen node) while the subtraction inside starts at 'S'.
    def _dexpr(self) -> tuple[Tree, Meta]:
        left, start = self._dterm()
        while True:
            self.skip_ws()
            c = self.text[self.pos : self.pos + 1]
            if c not in ("+", "-"):
                return left, start
            self.pos += 1
            right, _ = self._dterm()
            left = Tree("dadd" if c == "+" else "dsub", [left, right], start)

    def _dterm(self) -> tuple[Tree, Meta]:
        left, start = self._dfactor()
        while True:
            self.skip_ws()  # not skip(): after a factor, '//' is floor division, never a comment
            text, pos = self.text, self.pos
            if text.startswith("//", pos):
                op = self._make("FLOORDIV", "//", pos + 2)
                right, _ = self._dfactor()
                left = Tree("dfloordiv", [left, op, right], start)
            elif text.startswith("*", pos) or text.startswith("%", pos):
                c = text[pos]
                self.pos += 1
                right, _ = self._dfactor()
                left = Tree("dmul" if c == "*" else "dmod", [left, right], start)
            else:
                return left, start

    def _dfactor(self) -> tuple[Tree, Meta]:
        self.skip()
        text, pos = self.text, self.pos
        m = self.int_re.match(text, pos)
        if m:
            tok = self._make("INT", m.group(), m.end())
            t = Tree("int", [tok], _meta(tok.line, tok.column, tok.start_pos))
            return t, t.meta
        c = text[pos : pos + 1]
        if c == "-":
            line, col, p = self.lit("-")
            self.enter()
            inner, _ = self._dfactor()
            self.depth -= 1
            t = Tree("dneg", [inner], _meta(line, col, p))
            return t, t.meta
        if c == "(":
            line, col, p = self.lit("(")
            self.enter()
            inner, _ = self._dexpr()
            self.lit(")")
            self.depth -= 1
            t = Tree("dparen", [inner], _meta(line, col, p))
            return t, t.meta
        m = self.name_re.match(text, pos)
        if m and m.group() != "None":
            tok = self._make("NAME", m.group(), m.end())
            t = Tree("dname", [tok], _meta(tok.line, tok.column, tok.start_pos))
            return t, t.meta
        raise Decline
