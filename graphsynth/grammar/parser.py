"""Text -> gs IR.

Lark (LALR, positions kept) turns the text into a tree; this module turns the tree into xDSL ops
and reports what cannot be built (syntax errors, unknown ops, undefined names, malformed
attributes) as Diagnostics with file:line:column.  What *can* be built but is wrong (shapes,
ordering, cycles) is left to the verifier, so the two never report the same problem twice.
"""

from __future__ import annotations

import difflib
import gc
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta
from xdsl.dialects.builtin import ArrayAttr, FileLineColLoc, IntAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region, SSAValue

from graphsynth.diagnostics import (
    MACHINE_APPLICABLE,
    MAYBE_INCORRECT,
    Diagnostic,
    Location,
    ParseError,
    TextEdit,
    error,
    remember_source,
    source_line,
)
from graphsynth.dialects import gs
from graphsynth.dialects.attrs import AttrValueError, Name, read_dim
from graphsynth.dialects.dimtext import DimSyntaxError, check_dim, non_ascii_message, parse_dim
from graphsynth.dialects.dtypes import DTYPE_PATTERN
from graphsynth.dialects.limits import MAX_INT, MAX_NESTING_DEPTH, MIN_INT, LimitError, read_int, shorten
from graphsynth.dialects.memo import BoundedMemo
from graphsynth.dialects.ranges import SymbolRange
from graphsynth.dialects.symdim import add as gs_add
from graphsynth.dialects.symdim import floordiv as gs_floordiv
from graphsynth.dialects.symdim import mod as gs_mod
from graphsynth.dialects.symdim import mul as gs_mul
from graphsynth.dialects.symdim import sub as gs_sub
from graphsynth.grammar.fastpath import FastReader, Stop
from graphsynth.grammar.printer import find_fold_marker

if TYPE_CHECKING:
    from xdsl.parser.core import ForwardDeclaredValue

# The type words of the grammar come from the dtype table (one place for the dtypes).
_GRAMMAR = (Path(__file__).parent / "gs.lark").read_text().replace("@DTYPES@", DTYPE_PATTERN)
# cache=True keeps the built LALR tables in the temp dir (keyed by grammar and Lark version):
# building them costs ~50 ms of every start, loading them ~4 ms.
_LARK = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False, cache=True)
_FAST = FastReader(_LARK)

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
    "STEP": "'step'",
    "RKIND": "'return'",
    "GRAPH": "'graph'",
    "MODULE": "'module'",
    "CIRCUMFLEX": "'^'",
    "__ANON_0": "'->'",
}

_TYPE_RE = re.compile(rf"^({DTYPE_PATTERN})\[(.*)\]$")


def parse_type(text: str) -> gs.TensorType:
    """``f32[B, S+1]`` -> TensorType (memoised: types repeat on most lines).

    Raises :class:`DimSyntaxError` with a diagnostic code and the 0-based column in ``text``."""
    t = _TYPE_CACHE.get(text)
    if t is None:
        m = _TYPE_RE.match(text)
        if m is None:
            raise DimSyntaxError(f"malformed type '{text}'", 0)
        inner = m.group(2).strip(" \t")
        dims = []
        if inner:
            offset = text.index("[") + 1 + len(m.group(2)) - len(m.group(2).lstrip(" \t"))
            for part in _split_dims(inner):
                stripped = part.strip(" \t")
                start = offset + len(part) - len(part.lstrip(" \t"))  # column of the dim itself
                if not stripped:
                    raise DimSyntaxError(f"empty dim in type '{text}'", offset)
                try:
                    d = check_dim(parse_dim(stripped))
                except LimitError as e:
                    raise DimSyntaxError(e.message, start + e.column, e.code) from None
                dims.append(d)
                offset += len(part) + 1
        t = gs.tensor_type(dims, m.group(1))
        _TYPE_CACHE.put(text, t, len(text))
    return t


_TYPE_CACHE = BoundedMemo(1 << 22)


_DIM_PUNCT = re.compile(r"[(),]")


def _split_dims(inner: str) -> list[str]:
    """The dims of a type's bracket, split at its top-level commas (a regex finds the commas and
    parentheses, so a 600,000-character dim is not walked a character at a time)."""
    parts, depth, start = [], 0, 0
    for m in _DIM_PUNCT.finditer(inner):
        c = m.group()
        if c == ",":
            if depth == 0:
                parts.append(inner[start : m.start()])
                start = m.end()
        else:
            depth += 1 if c == "(" else -1
    parts.append(inner[start:])
    return parts


def parse_ir(text: str, filename: str | None = None) -> ModuleOp:
    """Parse the gs text form into a ``builtin.module`` holding one ``gs.graph`` per graph.

    Raises ``ParseError`` whose ``.diagnostics`` locate every problem found.
    """
    filename = filename or "<input>"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError([error("GS103", f"input is not UTF-8 text (byte {e.start})", loc=_byte_loc(text, e.start, filename))]) from None
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark, as some editors write
    remember_source(filename, text)
    if not text.strip():
        raise ParseError([error("GS104", "empty input: expected 'graph NAME(...) -> ... { ... }'", loc=Location(filename, 1, 1))])
    found = _BAD_CHAR.search(text)
    if found is not None:
        bad = found.start()
        loc = _offset_loc(text, bad, filename)
        raise ParseError([_with_line(error("GS103", f"invalid character {text[bad]!r} (binary data?)", loc=loc))])
    # Reading builds a million small objects for a big graph; the cyclic GC would re-scan all of
    # them again and again (half the parse time at 10k ops), and nothing built here is garbage.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        source = text if text.endswith("\n") else text + "\n"
        tree = _read_tree(source, filename)
        builder = _Builder(filename)
        module = builder.build(tree)
    finally:
        if gc_was_enabled:
            gc.enable()
    if builder.diagnostics:
        raise ParseError(builder.diagnostics)
    if not tree.children:
        # Only comments: as empty as an empty file.  Point at the first comment.
        first = next(i for i, line in enumerate(text.splitlines(), start=1) if line.strip())
        loc = Location(filename, first, len(text.splitlines()[first - 1]) - len(text.splitlines()[first - 1].lstrip()) + 1)
        raise ParseError([_with_line(error("GS104", "no graph in the input: expected 'graph NAME(...) -> ... { ... }'", loc=loc))])
    return module


def fragment_parser() -> Lark:
    """A Lark parser of this grammar that also parses a run of statements (start symbol
    ``body``), with positions: what re-parsing only the edited lines of a text needs.  Built on
    first use (the start-up path never needs it)."""
    global _FRAGMENT_LARK
    with _FRAGMENT_LOCK:
        if _FRAGMENT_LARK is None:
            _FRAGMENT_LARK = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False,
                                  start=["start", "body"])
        return _FRAGMENT_LARK


_FRAGMENT_LARK: Lark | None = None
_FRAGMENT_LOCK = threading.Lock()


def build_module(tree: Tree, text: str, filename: str) -> ModuleOp:
    """The module of a parse tree of ``text`` (from :func:`fragment_parser`, or spliced from
    trees of it): the builder :func:`parse_ir` uses.  Raises ``ParseError`` as it does."""
    remember_source(filename, text)
    builder = _Builder(filename)
    module = builder.build(tree)
    if builder.diagnostics:
        raise ParseError(builder.diagnostics)
    return module


def _read_tree(source: str, filename: str) -> Tree:
    """Lark's tree of ``source``: the fast path reads the graphs it can (several times faster than
    Lark), Lark each graph it declines.  Lark reads that graph alone, from the end of the graph
    before it to the next line that starts with ``graph``, with the text before it blanked to
    line breaks so that lines and columns are the file's; the tree is the one Lark would build
    for the whole text (graphs are independent and the grammar splits at those line starts).  A
    syntax error that Lark meets at the end of that stretch may belong to what follows (a graph
    left open): then Lark reads on to the end of the text, as it would have."""
    graphs: list[Tree] = []
    # Leading blank lines (a --split-input-file chunk keeps its line numbers so) are stepped over
    # at once: reading them line by line would make a file of many chunks quadratic.
    pos = len(source) - len(source.lstrip("\n"))
    line = 1 + pos
    while True:
        got, stop = _FAST.read_graphs(source, pos, line)
        graphs += got
        if stop is None:
            break
        nxt = _GRAPH_LINE.search(source, stop.at + 1)
        end = nxt.start() if nxt is not None else len(source)
        part = _read_with_lark(source, stop, end, filename)
        if part is None:
            end = len(source)
            part = _read_with_lark(source, stop, end, filename)
        graphs += part.children
        if end >= len(source):
            break
        pos, line = end, stop.line + source.count("\n", stop.pos, end)
    return Tree("start", graphs, graphs[0].meta if graphs else Meta())


_GRAPH_LINE = re.compile(r"^graph[ \t]", re.M)


def _read_with_lark(source: str, stop: Stop, end: int, filename: str) -> Tree | None:
    """Lark's tree of ``source[stop.pos:end]`` placed at its line and column; None when Lark
    stops at the end of that stretch while more text follows it."""
    text = "\n" * (stop.line - 1) + " " * (stop.column - 1) + source[stop.pos : end]
    deep = _too_deep(text)
    if deep is not None:
        raise ParseError([_deep_diagnostic(text, deep[0], deep[1], filename)])
    try:
        return _LARK.parse(text)
    except UnexpectedInput as e:
        if end < len(source) and _at_end(e, text):
            return None
        raise ParseError([_syntax_diagnostic(e, text, filename)]) from None


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


def _deep_diagnostic(text: str, offset: int, message: str, filename: str) -> Diagnostic:
    """GS109 at the bracket that nests too deeply, attributed to the statement of its line (as
    the builder attributes its own nesting diagnostics: ``module: ...``, ``fused: ...``)."""
    start = text.rfind("\n", 0, offset) + 1
    m = _STATEMENT_OP.match(text, start, offset)
    op = (m.group(1) or m.group(2)) if m else None
    return _with_line(error("GS109", f"{op}: {message}" if op else message, loc=_offset_loc(text, offset, filename), op=op))


# Control characters other than tab and line breaks, and the replacement character that
# decoding binary data with errors="replace" leaves behind.
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


def _offset_loc(text: str, offset: int, filename: str) -> Location:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(filename, line, col)


def _byte_loc(data: bytes, offset: int, filename: str) -> Location:
    line = data.count(b"\n", 0, offset) + 1
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


def _syntax_diagnostic(e: UnexpectedInput, text: str, filename: str) -> Diagnostic:
    if _at_end(e, text):
        # The end of the last line with text on it (trailing blank lines do not count).
        line = text.rstrip().count("\n") + 1
        last = text.rstrip().split("\n")[-1] if text.strip() else ""
        loc = Location(filename, max(line, 1), len(last) + 1)
        expected = getattr(e, "expected", None) or getattr(e, "accepts", None) or set()
        msg = "unexpected end of input (truncated file?)"
        if expected:
            msg += f"; expected {_describe_expected(expected)}"
        return _with_line(error("GS102", msg, loc=loc, expected=_describe_expected(expected) or None, got="end of input"))
    folded = _folded_diagnostic(e, text, filename)
    if folded is not None:
        return folded
    loc = Location(filename, e.line if e.line > 0 else 1, e.column if e.column > 0 else 1)
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


def _folded_diagnostic(e: UnexpectedInput, text: str, filename: str) -> Diagnostic | None:
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
    others = [i for i, line in enumerate(lines, start=1) if i != e.line and find_fold_marker(line) is not None]
    notes = []
    if others:
        shown = ", ".join(str(i) for i in others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "")
        notes.append(f"other folded modules: line{'s' if len(others) > 1 else ''} {shown}")
    return _with_line(
        error(
            "GS110",
            f"module: folded module '{mark.path}' is a read-only view (printed with depth=k): "
            f"{hidden} not in the text, so it cannot be parsed",
            loc=Location(filename, e.line, mark.column),
            op="module",
            value=mark.path,
            expected="'{' and the module's ops",
            got="a folded module",
            fix="print without folding (print_ir(m) with depth=None; graphsynth-opt without --depth) to get text that parses",
            notes=notes,
        )
    )


class _Builder:
    """Walks the Lark tree and builds xDSL ops, collecting diagnostics on the way."""

    def __init__(self, filename: str):
        self.filename = filename
        self.file_attr = StringAttr(filename)
        self.diagnostics: list[Diagnostic] = []
        # The statement being read, so that diagnostics of names start with it (DESIGN.md §3:
        # "op: message"), and the statement that first used each undefined name.
        self.current_op = "graph"
        self.use_op: dict[str, str] = {}
        self.depth = 0  # module blocks and fused regions around the statement being read

    # -- helpers ----------------------------------------------------------
    def loc(self, node: Tree | Token) -> Location:
        if isinstance(node, Token):
            return Location(self.filename, node.line or 1, node.column or 1)
        meta = node.meta
        return Location(self.filename, getattr(meta, "line", 1), getattr(meta, "column", 1))

    def report(self, code: str, message: str, node: Tree | Token, **kw: Any) -> None:
        self.diagnostics.append(_with_line(error(code, message, loc=self.loc(node), **kw)))

    def xloc(self, node: Tree | Token) -> FileLineColLoc:
        loc = self.loc(node)
        return FileLineColLoc(self.file_attr, IntAttr(loc.line), IntAttr(loc.column))

    def type_of(self, tok: Token) -> gs.TensorType | None:
        try:
            return parse_type(str(tok))
        except LimitError as e:
            col = (tok.column or 1) + e.column
            what = "malformed type" if e.code == "GS105" else "type"
            self.diagnostics.append(
                _with_line(error(e.code, f"{what} '{_short(str(tok), 60)}': {e.message}", loc=Location(self.filename, tok.line or 1, col)))
            )
            return None

    # -- fix-its: names --------------------------------------------------------
    def token_edit(self, tok: Token, new: str) -> TextEdit:
        line, col = tok.line or 1, tok.column or 1
        return TextEdit(self.filename, line, col, line, col + len(str(tok)), str(tok), new)

    def token_fixit(self, d: Diagnostic, tok: Token, choices: list[str]) -> None:
        """An unknown op or attribute name with one close match is a typo of it."""
        found = difflib.get_close_matches(str(tok), choices, n=2, cutoff=0.75)
        if found:
            d.edits = [self.token_edit(tok, found[0])]
            d.applicability = MACHINE_APPLICABLE if len(found) == 1 else MAYBE_INCORRECT

    def rename_fixit(self, d: Diagnostic, name: str) -> None:
        """An undefined name close to a defined one.  When exactly one close name is defined and
        used nowhere, the use is a typo of it (machine-applicable); a close name that is used
        elsewhere may be what was meant, or a declaration may be missing (maybe-incorrect)."""
        sigil = name.startswith("%")
        defined = [n for n, v in self.env.items() if v is not None and n.startswith("%") == sigil]
        # A definition nothing reads is rare in a graph that verified before the edit, so one
        # that looks like the name (a letter dropped, doubled or swapped) is the one meant.
        unused = difflib.get_close_matches(name, [n for n in defined if not self.env[n].uses], n=2, cutoff=0.5)
        found = difflib.get_close_matches(name, defined, n=3, cutoff=0.5 if len(unused) == 1 else 0.75)
        if not found:
            return
        pick = unused[0] if len(unused) == 1 else found[0]
        d.edits = [self.token_edit(t, pick) for t in self.use_sites.get(name, [])]
        d.applicability = MACHINE_APPLICABLE if len(unused) == 1 else MAYBE_INCORRECT

    # -- structure ----------------------------------------------------------
    def build(self, tree: Tree) -> ModuleOp:
        graphs = []
        seen: dict[str, Tree] = {}
        for g in tree.children:
            name = str(g.children[0])
            if name in seen:
                self.report("GS202", f"graph '{name}' is defined twice (first at line {seen[name].meta.line})", g, value=name)
                continue
            seen[name] = g
            graph = self.build_graph(g)
            if graph is not None:
                graphs.append(graph)
        return ModuleOp(graphs)

    def build_graph(self, g: Tree) -> gs.GraphOp | None:
        name_tok = g.children[0]
        args = [c for c in g.children[1:] if isinstance(c, Tree) and c.data == "arg"]
        results = next(c for c in g.children if isinstance(c, Tree) and c.data == "result_types")
        body = next(c for c in g.children if isinstance(c, Tree) and c.data == "body")
        arg_names = [str(a.children[0]) for a in args]
        arg_types = [self.type_of(a.children[1]) for a in args]
        out_types = [self.type_of(t) for t in results.children]
        if any(t is None for t in arg_types + out_types):
            return None
        block = Block(arg_types=arg_types)
        self.env: dict[str, SSAValue | None] = {}
        self.def_site: dict[str, Tree | Token] = {}
        self.forward: dict[str, ForwardDeclaredValue] = {}
        self.forward_site: dict[str, Tree | Token] = {}
        self.use_sites: dict[str, list[Token]] = {}
        for a, v, tree in zip(arg_names, block.args, args):
            if a in self.env:
                self.report("GS202", f"graph input '{a}' is declared twice", tree, value=a)
            self.env[a] = v
            self.def_site[a] = tree
        self.modules: dict[str, list[str]] = {}
        self.params: dict[str, gs.TensorType] = {}
        self.symbol_decls: dict[str, tuple[SymbolRange, Tree]] = {}
        self.build_body(body, block, scope="", parent_tree=g)
        for name, fwd in self.forward.items():
            if fwd.uses:
                op = self.use_op.get(name, "graph")
                self.report("GS201", f"{op}: use of undefined value '{name}'", self.forward_site[name], value=name, op=op)
                self.rename_fixit(self.diagnostics[-1], name)
        if len(self.diagnostics) > 1:
            # Ops that failed to build read nothing, so "unused" proves nothing: renames wait
            # until the rest is repaired.
            for d in self.diagnostics:
                if d.code == "GS201" and d.applicability == MACHINE_APPLICABLE:
                    d.applicability = MAYBE_INCORRECT
        if not self.diagnostics:
            last = block.last_op
            if not isinstance(last, gs.ReturnOp):
                self.report("GS211", f"graph '{name_tok}' has no 'return'", g, fix="end the graph body with 'return %value'")
        props = {
            "sym_name": StringAttr(str(name_tok)),
            "arg_names": ArrayAttr([StringAttr(a) for a in arg_names]),
            "output_types": ArrayAttr(out_types),
            "modules": ArrayAttr(
                [ArrayAttr([StringAttr(p), StringAttr(c), StringAttr(par)]) for p, (c, par) in self.modules.items()]
            ),
        }
        # Every declaration is kept as written (a default range too), so the verifier sees it.
        if self.symbol_decls:
            props["symbols"] = ArrayAttr(
                [
                    ArrayAttr([StringAttr(n), IntAttr(r.min), gs.UNBOUNDED if r.max is None else IntAttr(r.max), IntAttr(r.step)])
                    for n, (r, _) in self.symbol_decls.items()
                ]
            )
        graph = gs.GraphOp.create(properties=props, regions=[Region(block)])
        graph.location = self.xloc(g)
        return graph

    def build_body(self, body: Tree, block: Block, scope: str, parent_tree: Tree, in_region: bool = False) -> None:
        for stmt in body.children:
            kind = stmt.data
            if kind == "op":
                self.build_op(stmt, block, scope)
            elif kind == "param":
                self.build_param(stmt, block, scope)
            elif kind == "symbol":
                self.build_symbol(stmt, scope, in_region)
            elif kind == "module":
                path, cls = str(stmt.children[0]), str(stmt.children[1])
                known = self.modules.get(path)
                if known is not None and (known[0] != cls or known[1] != scope):
                    self.report(
                        "GS202",
                        f"module '{path}' is declared as {known[0]} (in '{known[1] or '<top>'}') and again as {cls} (in '{scope or '<top>'}')",
                        stmt,
                        value=path,
                    )
                self.modules.setdefault(path, [cls, scope])
                if self.depth >= MAX_NESTING_DEPTH:
                    self.too_deep(stmt, f"module: module '{_short(path, 40)}' nests blocks more than {MAX_NESTING_DEPTH} deep", "module")
                    continue
                self.depth += 1
                try:
                    self.build_body(stmt.children[2], block, path, stmt, in_region)
                finally:
                    self.depth -= 1
            elif kind == "ret":
                self.build_return(stmt, block, in_region)

    def too_deep(self, stmt: Tree, message: str, opname: str) -> None:
        """GS109 for a block nested too deeply; what it defines is defined as failed, so that
        its uses further down stay quiet (the block is not read)."""
        self.report("GS109", message, stmt, op=opname)
        for node in stmt.iter_subtrees():
            if node.data == "def":
                self.env.setdefault("%" + str(node.children[0])[1:], None)
            elif node.data == "param":
                self.env.setdefault(str(node.children[1]), None)

    def build_symbol(self, stmt: Tree, scope: str, in_region: bool) -> None:
        """``symbol S: [min, max] step k`` at the top of a graph body."""
        name_tok, lo_tok, hi_tok, *step_tok = stmt.children
        self.current_op = "symbol"
        name = str(name_tok)
        if scope or in_region:
            where = "a fused region" if in_region else f"module block '{scope}'"
            self.report("GS211", f"symbol: '{name}' is declared inside {where}; declare symbols in the graph body", stmt, value=name, op="symbol")
            return
        if name in self.symbol_decls:
            first = self.loc(self.symbol_decls[name][1]).line
            self.report("GS202", f"symbol: '{name}' is declared twice (first at line {first})", stmt, value=name, op="symbol")
            return
        if hi_tok.type == "FLOAT" and str(hi_tok) != "inf":
            self.report("GS106", f"symbol: the upper bound of '{name}' must be an integer or inf, got {hi_tok}", hi_tok, value=name, op="symbol", got=str(hi_tok), expected="an integer or inf")
            return
        values = []
        for tok in [lo_tok, *([] if hi_tok.type == "FLOAT" else [hi_tok]), *step_tok]:
            v = self.int_literal(tok)
            if v is _BAD:
                return
            values.append(v)
        lo = values[0]
        hi = None if hi_tok.type == "FLOAT" else values[1]
        step = values[-1] if step_tok else 1
        r = SymbolRange(lo, hi, step)
        problem = r.problem()
        if problem is not None:
            # The verifier says the same of MLIR input; here the declaration's line is known.
            self.report("GS313", f"symbol: '{name}': {r.text()} allows no value: {problem}", stmt, value=name, op="symbol",
                        got=r.text(), fix="declare [min, max] with 1 <= min <= max and step >= 1")
            return
        self.symbol_decls[name] = (r, stmt)

    def build_param(self, stmt: Tree, block: Block, scope: str) -> None:
        kind_tok, name_tok, type_tok, *init_tok = stmt.children
        self.current_op = "param"
        name = str(name_tok)
        t = self.type_of(type_tok)
        if t is None:
            return
        if name in self.params:
            prev = self.params[name]
            detail = "" if prev == t else f" with another type ({prev} vs {t})"
            self.report("GS206", f"param: parameter '{name}' is declared twice{detail}", stmt, value=name, expected=str(prev), got=str(t), op="param")
            return
        if name in self.env:
            self.report("GS202", f"param: '{name}' is already defined (line {self.loc(self.def_site[name]).line})", stmt, value=name, op="param")
            return
        op = gs.ParamOp.create(properties={"name": StringAttr(name), "kind": StringAttr(str(kind_tok))}, result_types=[t])
        if init_tok and init_tok[0] is not None and init_tok[0].type == "NAME":
            op.properties["alias"] = StringAttr(str(init_tok[0]))  # the verifier checks the target
        elif init_tok and init_tok[0] is not None:
            init = _unquote(init_tok[0])
            if not gs.INIT_RE.fullmatch(init):
                self.report("GS209", f"param: init={init_tok[0]} is not one of \"zeros\", \"ones\", \"normal:<std>\"", init_tok[0], value=name, op="param")
            else:
                op.attributes["init"] = StringAttr(init)
        op.location = self.xloc(stmt)
        block.add_op(op)
        self.params[name] = t
        self.define(name, op.results[0], stmt)

    def define(self, name: str, value: SSAValue | None, site: Tree | Token) -> None:
        if name in self.env:
            self.report(
                "GS202",
                f"{self.current_op}: '{name}' is defined twice (first at line {self.loc(self.def_site[name]).line})",
                site,
                value=name,
                op=self.current_op,
                fix=f"rename one of the two definitions of '{name}'",
            )
            return
        self.env[name] = value
        self.def_site[name] = site
        fwd = self.forward.pop(name, None)
        if fwd is not None and value is not None:
            if fwd.type != value.type:
                # The later definition decides; the verifier reports the operand mismatch.
                pass
            fwd.replace_all_uses_with(value)

    def lookup(self, tok: Token, expected_type: gs.TensorType | None = None) -> SSAValue | None:
        name = str(tok)
        if name in self.env:
            return self.env[name]
        fwd = self.forward.get(name)
        if fwd is None:
            from xdsl.parser.core import ForwardDeclaredValue  # rare: a use before its definition

            fwd = ForwardDeclaredValue(expected_type or gs.tensor_type((), "f32"))
            self.forward[name] = fwd
            self.forward_site[name] = tok
            self.use_op[name] = self.current_op
            self.use_sites[name] = []
        self.use_sites[name].append(tok)
        return fwd

    def build_op(self, stmt: Tree, block: Block, scope: str) -> None:
        defs, name_tok = stmt.children[0], stmt.children[1]
        self.current_op = str(name_tok)
        rest = stmt.children[2:]
        items = next((c for c in rest if isinstance(c, Tree) and c.data == "items"), None)
        region = next((c for c in rest if isinstance(c, Tree) and c.data == "region"), None)
        names = [str(d.children[0])[1:] for d in defs.children]
        types = [self.type_of(d.children[1]) for d in defs.children]
        opname = str(name_tok)
        positional: list[Any] = []
        kwargs: list[tuple[Token, Any]] = []
        bad_value = False
        for item in items.children if items is not None else []:
            if item.data == "kwarg":
                try:
                    kwargs.append((item.children[0], self.literal(item.children[1])))
                except LimitError as e:
                    self.report(e.code, f"{opname}: attribute '{item.children[0]}': {e.message}", item.children[0], op=opname)
                    bad_value = True
            else:
                positional.append(item.children[0])
        if bad_value:
            op = None
        elif opname == "fused":
            op = self.build_fused(stmt, positional, kwargs, region, types, names, scope)
        else:
            op = self.build_primitive(stmt, name_tok, positional, kwargs, region, types, names, scope)
        self.current_op = opname  # a fused region read its inner ops in between
        if op is None or any(t is None for t in types):
            for n, d in zip(names, defs.children):
                self.define("%" + n, None, d)
            return
        op.location = self.xloc(stmt)
        block.add_op(op)
        for n, r, d in zip(names, op.results, defs.children):
            self.define("%" + n, r, d)

    def operand(self, tok: Token) -> Any:
        """A value, a literal (int, float, bool, None), or _BAD for a name whose definition
        failed (already reported, so its uses stay quiet) or an integer out of range."""
        if tok.type == "INT":
            return self.int_literal(tok)
        if tok.type == "FLOAT":
            return float(tok)
        if tok.type == "NONE":
            return None
        if tok.type == "NAME" and str(tok) in ("true", "false") and str(tok) not in self.env:
            return str(tok) == "true"  # a bool scalar, unless a graph input is named so
        v = self.lookup(tok)
        return _BAD if v is None else v

    def _is_value(self, tok: Token) -> bool:
        """``tok`` names a value (not a number, None or a bool literal)."""
        if tok.type in ("INT", "FLOAT", "NONE"):
            return False
        return not (tok.type == "NAME" and str(tok) in ("true", "false") and str(tok) not in self.env)

    def int_literal(self, tok: Token) -> Any:
        """An integer operand; scalars are int64 in every backend, so a larger one is an error
        (refused before converting: a long digit string costs quadratic time)."""
        try:
            return read_int(str(tok))
        except LimitError as e:
            self.report(
                e.code,
                f"{self.current_op}: {e.message}",
                tok,
                op=self.current_op,
                got=_short(str(tok)),
                expected=f"an integer in [{_I64_MIN}, {_I64_MAX}]",
            )
            return _BAD

    def build_primitive(self, stmt, name_tok, positional, kwargs, region, types, names, scope):
        opname = str(name_tok)
        cls = gs.op_class(opname)
        if cls is None:
            close = _close_matches(opname, list(gs.OPS))
            self.report(
                "GS207",
                f"{opname}: unknown op",
                name_tok,
                op=opname,
                fix=f"did you mean {close}?" if close else "see `graphsynth-opt --list-ops` for the op set",
            )
            self.token_fixit(self.diagnostics[-1], name_tok, list(gs.OPS))
            return None
        if region is not None:
            self.report("GS211", f"{opname}: op takes no region", region, op=opname)
            return None
        spec = cls.SPEC
        args = []
        ok = True
        for i, tok in enumerate(positional):
            if i >= len(spec.args) and not (spec.args and spec.args[-1].variadic) and not self._is_value(tok):
                # One argument more than the op declares: a literal there has no slot to go to
                # (a value does: the operand count is the verifier's GS208).
                self.report("GS208", f"{opname}: expects {spec.signature()} but got {len(positional)} arguments",
                            tok, op=opname, got=str(tok), expected=f"{len(spec.args)} argument(s)")
                ok = False
                continue
            value = self.operand(tok)
            if value is _BAD:
                ok = False
                args.append(None)
                continue
            arg_spec = spec.args[min(i, len(spec.args) - 1)] if spec.args else None
            if not isinstance(value, SSAValue) and (arg_spec is None or not (arg_spec.scalar or (arg_spec.optional and value is None))):
                what = "None" if value is None else f"literal {tok}" if isinstance(value, bool) else f"number {tok}"
                where = f"argument #{i} ({arg_spec.name})" if arg_spec and i < len(spec.args) else f"argument #{i}"
                self.report("GS209", f"{opname}: {where} must be a value, got {what}", tok, op=opname, got=str(tok), expected="a %value or a name")
                ok = False
            args.append(value)
        attrs: dict[str, Any] = {}
        for key_tok, value in kwargs:
            key = str(key_tok)
            a = spec.attr_index.get(key)
            if a is None:
                valid = ", ".join(x.name for x in spec.attrs) or "none"
                self.report("GS209", f"{opname}: unknown attribute '{key}' (valid: {valid})", key_tok, op=opname, got=key)
                given = {str(k) for k, _ in kwargs}
                self.token_fixit(self.diagnostics[-1], key_tok, [x.name for x in spec.attrs if x.name not in given])
                ok = False
                continue
            if key in attrs:
                self.report("GS209", f"{opname}: attribute '{key}' given twice", key_tok, op=opname)
                ok = False
                continue
            converted = self.convert(a, value, key_tok, opname)
            if converted is _BAD:
                ok = False
                continue
            attrs[key] = converted
        if not ok or any(t is None for t in types):
            return None
        try:
            return gs.make_op(opname, args, attrs, types, names=names, scope=scope)
        except (ValueError, TypeError, OverflowError) as e:
            self.report("GS106", f"{opname}: {e}", stmt, op=opname)
            return None

    def build_fused(self, stmt, positional, kwargs, region, types, names, scope):
        if region is None:
            self.report("GS211", "fused: expected a region '{ ^(...) ... yield ... }'", stmt, op="fused")
            return None
        if kwargs:
            self.report("GS209", "fused: takes no attributes", kwargs[0][0], op="fused")
            return None
        operands = []
        for tok in positional:
            v = self.operand(tok)
            if v is _BAD:
                return None
            if not isinstance(v, SSAValue):
                self.report("GS209", f"fused: operands must be values, got {tok}", tok, op="fused")
                return None
            operands.append(v)
        if self.depth >= MAX_NESTING_DEPTH:
            self.report("GS109", f"fused: regions and module blocks nest more than {MAX_NESTING_DEPTH} deep", stmt, op="fused")
            return None
        bargs = [c for c in region.children if isinstance(c, Tree) and c.data == "barg"]
        body = next(c for c in region.children if isinstance(c, Tree) and c.data == "body")
        btypes = [self.type_of(b.children[1]) for b in bargs]
        if any(t is None for t in btypes) or any(t is None for t in types):
            return None
        inner = Block(arg_types=btypes)
        saved = (self.env, self.def_site)
        # Region bodies see their block arguments and nothing else (isolated from above).
        self.env, self.def_site = {}, {}
        saved_fwd = (self.forward, self.forward_site, self.use_sites)
        self.forward, self.forward_site, self.use_sites = {}, {}, {}
        for b, v in zip(bargs, inner.args):
            self.define(str(b.children[0]), v, b)
        self.depth += 1
        try:
            self.build_body(body, inner, scope="", parent_tree=stmt, in_region=True)
        finally:
            self.depth -= 1
        for name, fwd in self.forward.items():
            if fwd.uses:
                op = self.use_op.get(name, "fused")
                self.report("GS201", f"{op}: use of undefined value '{name}' (a fused region sees only its block arguments)", self.forward_site[name], value=name, op=op)
        self.env, self.def_site = saved
        self.forward, self.forward_site, self.use_sites = saved_fwd
        # The inner ops carry no scope: the fused op's scope covers them.
        for inner_op in inner.ops:
            gs.set_scope(inner_op, "")
        props = {"names": ArrayAttr([StringAttr(n) for n in names]), "arg_names": ArrayAttr([StringAttr(str(b.children[0])[1:]) for b in bargs])}
        if scope:
            props["scope"] = StringAttr(scope)
        return gs.FusedOp.create(operands=operands, result_types=types, properties=props, regions=[Region(inner)])

    def build_return(self, stmt: Tree, block: Block, in_region: bool) -> None:
        kind_tok = stmt.children[0]
        kind = str(kind_tok)
        self.current_op = kind
        if (kind == "yield") != in_region:
            where = "a fused region" if in_region else "a graph"
            want = "yield" if in_region else "return"
            self.report("GS211", f"'{kind}' cannot end {where}; use '{want}'", kind_tok)
            return
        values = []
        for op_tree in stmt.children[1:]:
            v = self.operand(op_tree.children[0])
            if v is _BAD:
                return
            if not isinstance(v, SSAValue):
                self.report("GS209", f"{kind}: operands must be values, got {op_tree.children[0]}", op_tree.children[0])
                return
            values.append(v)
        op = (gs.YieldOp if in_region else gs.ReturnOp).create(operands=values)
        op.location = self.xloc(stmt)
        block.add_op(op)

    # -- attribute values ------------------------------------------------------------
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


def _close_matches(word: str, choices: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return ", ".join(f"'{c}'" for c in found) if found else None
