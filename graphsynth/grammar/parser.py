"""Text -> gs IR: :func:`parse_ir`, the one entry point of the text form.

Lark (LALR, positions kept) turns the text into a tree; the tree is turned into xDSL ops, and what
cannot be built (syntax errors, unknown ops, undefined names, malformed attributes) is reported
as Diagnostics with file:line:column.  What *can* be built but is wrong (shapes, ordering,
cycles) is left to the verifier, so the two never report the same problem twice.

This module checks the input as a whole (encoding, binary data, empty text) and runs the parts,
each in its own module: the Lark parsers of the grammar (:mod:`.larkgrammar`), the graph-by-graph
reading (:mod:`.reading`), the syntax-error diagnostics (:mod:`.syntaxerrors`), the tree-to-IR
builder (:mod:`.builder`, with type text in :mod:`.typetext` and attribute values in
:mod:`.attrtext`).  The names other code imports from here stay importable from here.
"""

from __future__ import annotations

import re

from xdsl.dialects.builtin import ModuleOp

from graphsynth.diagnostics import Location, ParseError, error, remember_source
from graphsynth.gcpause import cyclic_gc_paused
from graphsynth.grammar.builder import _Builder, build_module
from graphsynth.grammar.larkgrammar import _FAST, _LARK, fragment_parser
from graphsynth.grammar.reading import _read_tree, shift_lines
from graphsynth.grammar.syntaxerrors import _byte_loc, _offset_loc, _syntax_diagnostic, _with_line
from graphsynth.grammar.typetext import parse_type

__all__ = [
    "_FAST",
    "_LARK",
    "_Builder",
    "_offset_loc",
    "_read_tree",
    "_syntax_diagnostic",
    "build_module",
    "fragment_parser",
    "parse_ir",
    "parse_type",
    "remember_source",
    "shift_lines",
]


def parse_ir(text: str, filename: str | None = None, first_line: int = 1) -> ModuleOp:
    """Parse the gs text form into a ``builtin.module`` holding one ``gs.graph`` per graph.

    ``text`` starts at line ``first_line`` of ``filename`` (a ``--split-input-file`` chunk):
    locations are the file's, and the cost is that of ``text`` alone.
    Raises ``ParseError`` whose ``.diagnostics`` locate every problem found.
    """
    filename = filename or "<input>"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError([error("GS103", f"input is not UTF-8 text (byte {e.start})", loc=_byte_loc(text, e.start, filename, first_line))]) from None
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark, as some editors write
    remember_source(filename, text, first_line)
    if not text.strip():
        raise ParseError([error("GS104", "empty input: expected 'graph NAME(...) -> ... { ... }'", loc=Location(filename, first_line, 1))])
    found = _BAD_CHAR.search(text)
    if found is not None:
        bad = found.start()
        loc = _offset_loc(text, bad, filename, first_line)
        raise ParseError([_with_line(error("GS103", f"invalid character {text[bad]!r} (binary data?)", loc=loc))])
    with cyclic_gc_paused():  # a million small objects for a big graph, none of them garbage
        source = text if text.endswith("\n") else text + "\n"
        tree = _read_tree(source, filename, first_line)
        builder = _Builder(filename)
        module = builder.build(tree)
    if builder.diagnostics:
        raise ParseError(builder.diagnostics)
    if not tree.children:
        # Only comments: as empty as an empty file.  Point at the first comment.
        lines = text.split("\n")
        first = next(i for i, line in enumerate(lines) if line.strip())
        loc = Location(filename, first_line + first, len(lines[first]) - len(lines[first].lstrip()) + 1)
        raise ParseError([_with_line(error("GS104", "no graph in the input: expected 'graph NAME(...) -> ... { ... }'", loc=loc))])
    return module


# Control characters other than tab and line breaks, and the replacement character that
# decoding binary data with errors="replace" leaves behind.
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
