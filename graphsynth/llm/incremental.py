"""Re-parse an edited graph text in time proportional to the edit, not to the graph.

Every attempt of a rewrite is the same base text with a few lines replaced.  Parsing the whole
text again costs ~120 µs a line in Lark (≈ 90 ms for a GPT-2-small graph), which alone would
break the driver's budget of 100 ms per attempt.  So the base text is parsed once (in a
background thread while the model thinks) and kept as a Lark tree; for each attempt only the
smallest run of whole statements around the changed lines is parsed (as a ``body`` fragment, with
its line numbers in place), spliced into the base tree, the statements after it shifted by the
change in line count, and the usual tree-to-IR builder of :mod:`graphsynth.grammar.builder` runs
on the result.  The grammar, the tree shapes and the builder are the parser's own, so the result
is the module that ``parse_ir`` would build; ``tests/test_llm_incremental.py`` checks that on
random edits, and anything unusual (an edit touching a graph header, a syntax error, a tree of a
shape this module does not expect) falls back to ``parse_ir`` itself.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from lark import Token, Tree
from lark.tree import Meta


def _lark() -> Any:
    from graphsynth.grammar.larkgrammar import fragment_parser

    return fragment_parser()


class IncrementalParser:
    """Parses edits of one base text.  ``parse(new_text, first, last_old, last_new)`` where the
    changed lines are ``first..last_old`` (1-based, inclusive) in the base and
    ``first..last_new`` in the new text; everything outside them is unchanged."""

    def __init__(self, base_text: str, background: bool = True):
        self.base_text = base_text
        self._tree: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.stats = {"incremental": 0, "fallback": 0}
        self.wait_s = 0.0  # time spent waiting for the background parse of the base text
        if background:
            self._thread = threading.Thread(target=self._parse_base, daemon=True)
            self._thread.start()

    def _parse_base(self) -> None:
        try:
            text = self.base_text if self.base_text.endswith("\n") else self.base_text + "\n"
            self._tree = _lark().parse(text, start="start")
        except BaseException as e:  # noqa: BLE001 - reported as "no base tree": callers fall back
            self._error = e

    def base_tree(self) -> Any:
        if self._thread is not None:
            t = time.perf_counter()
            self._thread.join()
            self._thread = None
            self.wait_s += time.perf_counter() - t
        elif self._tree is None and self._error is None:
            self._parse_base()
        return self._tree

    def parse(self, new_text: str, first: int, last_old: int, last_new: int, filename: str) -> Any:
        from graphsynth.grammar.parser import parse_ir

        tree = self.base_tree()
        spliced = None
        if tree is not None:
            try:
                spliced = _splice(tree, new_text, first, last_old, last_new)
            except _Fallback:
                spliced = None
        if spliced is None:
            self.stats["fallback"] += 1
            return parse_ir(new_text, filename=filename)
        self.stats["incremental"] += 1
        return _build(spliced, new_text, filename)


class _Fallback(Exception):
    pass


def _build(tree: Any, text: str, filename: str) -> Any:
    from graphsynth.grammar.builder import build_module

    return build_module(tree, text, filename)


def _span(node: Any) -> tuple[int, int]:
    """First and last line (1-based, inclusive) of a statement; its trailing newline token ends
    on the line after it (or on the next statement's line, over blank lines)."""
    meta = node.meta
    if getattr(meta, "empty", True):
        raise _Fallback
    return meta.line, max(meta.line, meta.end_line - 1)


def _splice(tree: Any, new_text: str, first: int, last_old: int, last_new: int) -> Any:
    path, body, i, j, frag = _fragment(tree, new_text, first, last_old, last_new)
    delta = last_new - last_old
    kids = body.children
    new_kids = kids[:i] + list(frag.children) + [_shift(c, delta) for c in kids[j + 1 :]]
    node = Tree(body.data, new_kids, body.meta)
    # Rebuild the path upwards: later siblings at every level move by delta too.
    for parent, k in reversed(path):
        pk = parent.children
        node = Tree(parent.data, pk[:k] + [node] + [_shift(c, delta) for c in pk[k + 1 :]], parent.meta)
    return node


def _fragment(tree: Any, new_text: str, first: int, last_old: int, last_new: int) -> tuple[list[tuple[Any, int]], Any, int, int, Any]:
    """The body holding the edit (and the path of (node, child index) down to it), the range
    ``i..j`` of its statements the edit replaces, and the parsed statements that replace them
    (line numbers those of ``new_text``)."""
    delta = last_new - last_old
    if getattr(tree, "data", None) != "start" or len(tree.children) != 1:
        raise _Fallback  # several graphs: rare, take the simple road
    graph = tree.children[0]
    body_idx = next((i for i, c in enumerate(graph.children) if isinstance(c, Tree) and c.data == "body"), None)
    if body_idx is None:
        raise _Fallback
    path: list[tuple[Any, int]] = [(tree, 0), (graph, body_idx)]  # (node, index of the child on the path)
    body = graph.children[body_idx]
    if getattr(body.meta, "empty", True) or not body.children:
        raise _Fallback
    # The edit must stay strictly inside the graph's braces (the header holds the interface).
    if first <= graph.meta.line or last_old >= body.meta.end_line:
        raise _Fallback
    while True:
        kids = body.children
        hit = [i for i, c in enumerate(kids) if _overlaps(_span(c), first, last_old)]
        if not hit:
            raise _Fallback  # the edit only touches blank or comment lines between statements
        i, j = hit[0], hit[-1]
        if i == j and kids[i].data == "module":
            inner = kids[i].children[2] if len(kids[i].children) > 2 else None
            if inner is not None and inner.children:
                lo = kids[i].meta.line + 1
                hi = inner.meta.end_line - 1
                if lo <= first and last_old <= hi and not getattr(inner.meta, "empty", True):
                    path.append((body, i))
                    path.append((kids[i], 2))
                    body = inner
                    continue
        break
    start = min(first, _span(kids[i])[0])
    end_old = max(last_old, _span(kids[j])[1])
    if i > 0 and _span(kids[i - 1])[1] >= start or j + 1 < len(kids) and _span(kids[j + 1])[0] <= end_old:
        raise _Fallback
    end_new = end_old + delta
    lines = new_text.split("\n")
    if end_new < start - 1 or end_new > len(lines):
        raise _Fallback
    chunk = "\n".join(lines[start - 1 : end_new])
    if any((ord(ch) < 32 and ch not in "\t\r\n") or ch == "\ufffd" for ch in chunk):
        raise _Fallback  # let parse_ir report invalid characters
    try:
        frag = _lark().parse("\n" * (start - 1) + chunk + "\n", start="body")
    except Exception:  # noqa: BLE001 - syntax errors get parse_ir's diagnostics
        raise _Fallback from None
    if any(getattr(c, "data", None) not in ("op", "param", "module", "ret") for c in frag.children):
        raise _Fallback
    return path, body, i, j, frag


def _overlaps(span: tuple[int, int], a: int, b: int) -> bool:
    return span[0] <= b and a <= span[1]


def _shift(node: Any, d: int) -> Any:
    """A copy of ``node`` with every line number moved by ``d`` (the base tree stays intact)."""
    if d == 0:
        return node
    return _shift_rec(node, d)


def _shift_rec(node: Any, d: int) -> Any:
    if type(node) is Token:
        line, end_line = node.line, node.end_line
        return Token(
            node.type,
            node.value,
            node.start_pos,
            None if line is None else line + d,
            node.column,
            None if end_line is None else end_line + d,
            node.end_column,
            node.end_pos,
        )
    old = node.meta
    meta = Meta.__new__(Meta)
    meta.__dict__.update(old.__dict__)
    if not getattr(old, "empty", True):
        meta.line = old.line + d
        meta.end_line = old.end_line + d
    return Tree(node.data, [_shift_rec(c, d) for c in node.children], meta)
