"""Text -> Lark tree, graph by graph.

The fast reader takes the graphs it can; Lark reads each graph it declines, alone, with its
positions moved to the lines of the file, so that the cost of reading (and of a syntax error)
is that of the graph or statement concerned, not of the text before it.
"""

from __future__ import annotations

import re

from lark import Token, Tree
from lark.exceptions import UnexpectedInput
from lark.tree import Meta

from graphsynth.diagnostics import Diagnostic, ParseError
from graphsynth.grammar.fastpath import Stop
from graphsynth.grammar.larkgrammar import _FAST, _LARK
from graphsynth.grammar.syntaxerrors import _at_end, _deep_diagnostic, _syntax_diagnostic, _too_deep


def _read_tree(source: str, filename: str, first_line: int = 1) -> Tree:
    """Lark's tree of ``source``: the fast path reads the graphs it can (several times faster than
    Lark), Lark each graph it declines.  Lark reads that graph alone, from the end of the graph
    before it to the next line that starts with ``graph``, and its positions are then moved to
    the lines and columns of the file (``source`` starts at line ``first_line``); the tree is the one Lark would build
    for the whole text (graphs are independent and the grammar splits at those line starts).  A
    syntax error that Lark meets at the end of that stretch may belong to what follows (a graph
    left open): then Lark reads on to the end of the text, as it would have."""
    graphs: list[Tree] = []
    pos, line = 0, first_line
    while True:
        got, stop = _FAST.read_graphs(source, pos, line)
        graphs += got
        if stop is None:
            break
        nxt = _GRAPH_LINE.search(source, stop.at + 1)
        end = nxt.start() if nxt is not None else len(source)
        part = _read_with_lark(source, stop, end, filename, first_line)
        if part is None:
            end = len(source)
            part = _read_with_lark(source, stop, end, filename, first_line)
        graphs += part.children
        if end >= len(source):
            break
        pos, line = end, stop.line + source.count("\n", stop.pos, end)
    return Tree("start", graphs, graphs[0].meta if graphs else Meta())


_GRAPH_LINE = re.compile(r"^graph[ \t]", re.M)


def _read_with_lark(source: str, stop: Stop, end: int, filename: str, first_line: int = 1) -> Tree | None:
    """Lark's tree of ``source[stop.pos:end]`` placed at its line and column; None when Lark
    stops at the end of that stretch while more text follows it.  Lark reads the stretch alone
    (its first line indented to its column) and the positions are moved down by the lines above
    it, so that the cost is the stretch's, wherever it is in the file."""
    located = _locate_with_lark(source, stop, end, filename)
    if located is not None:
        raise ParseError([located])
    text = " " * (stop.column - 1) + source[stop.pos : end]
    shift = stop.line - 1
    deep = _too_deep(text)
    if deep is not None:
        raise ParseError([_deep_diagnostic(text, deep[0], deep[1], filename, shift)])
    try:
        tree = _LARK.parse(text)
    except UnexpectedInput as e:
        if end < len(source) and _at_end(e, text):
            return None
        raise ParseError([_syntax_diagnostic(e, text, filename, shift)]) from None
    if shift:
        shift_lines(tree, shift)
    return tree


def _locate_with_lark(source: str, stop: Stop, end: int, filename: str) -> Diagnostic | None:
    """The syntax error of the graph the fast path declined, found by Lark reading the graph's
    header and its body from the statement the fast path gave up in (the statements before it
    were read, and the grammar's state after a whole statement of a graph's body is the state
    at its start: Lark meets the same token there as in the whole text); None when that text
    parses or the fast path stopped outside a statement of the graph's body.  A syntax error on
    the last line of a graph of 10,000 ops costs the reading of that line, not of the graph."""
    if stop.body_at is None or stop.stmt_at is None:
        return None
    (body_pos, _), (stmt_pos, stmt_line) = stop.body_at, stop.stmt_at
    if not stop.pos <= body_pos < stmt_pos < end:
        return None
    head = " " * (stop.column - 1) + source[stop.pos : body_pos]
    text = head + source[stmt_pos:end]
    if _too_deep(text) is not None:
        return None
    try:
        _LARK.parse(text)
    except UnexpectedInput as e:
        if end < len(source) and _at_end(e, text):
            return None
        k = head.count("\n")  # the header's lines; the body's follow from line stmt_line on
        at_end = _at_end(e, text)
        line = text.rstrip().count("\n") + 1 if at_end else e.line
        return _syntax_diagnostic(e, text, filename, stop.line - 1 if 0 < line <= k else stmt_line - k - 1)
    return None


def shift_lines(tree: Tree, shift: int) -> None:
    """Move every position in ``tree`` (Lark's metas and tokens) ``shift`` lines down."""
    seen: set[int] = set()
    for sub in tree.iter_subtrees():
        meta = sub.meta
        if not meta.empty and id(meta) not in seen:
            seen.add(id(meta))
            meta.line += shift
            meta.end_line += shift
        for child in sub.children:
            if isinstance(child, Token) and child.line is not None and id(child) not in seen:
                seen.add(id(child))
                child.line += shift
                if child.end_line is not None:
                    child.end_line += shift
