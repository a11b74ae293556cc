"""Context functions: what part of the graph the model sees and may edit.

A context function is ``(module, full_text, goal) -> Offer``.  The default shows and offers the
whole graph.  :func:`focus_module` offers one named module for editing and folds the other
module blocks to one line each, so a prompt about one block of a large network stays small while
the model still sees how that block is wired.  Edits are always located in the full text:
an anchor on a folded line is not found (GS502) and an anchor outside the focused module is
refused (GS504).  With a token budget (``focus_module(path, budget_tokens=2000)``, spec
``focus:PATH:2000``) the prompt shows :func:`graphsynth.query.context`'s slice instead: the module
in full as a graph of its own and the rest of the graph as a folded outline, cut to the budget,
for graphs too large to send whole.  Any function of this shape plugs into
``rewrite(context=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphsynth.llm.edits import Offer

_MODULE_OPEN = re.compile(r"^(\s*)module\s+([A-Za-z_][A-Za-z0-9_.]*)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*\{\s*$")


def module_spans(text: str) -> dict[str, tuple[int, int, str]]:
    """path -> (line of ``module ... {``, line of its ``}``, class), 0-based, from the text alone
    (the printer writes one ``module`` opener per line and the closing brace alone on a line)."""
    lines = text.split("\n")
    spans: dict[str, tuple[int, int, str]] = {}
    stack: list[tuple[str, int, str]] = []
    for i, ln in enumerate(lines):
        m = _MODULE_OPEN.match(ln)
        if m:
            stack.append((m.group(2), i, m.group(3)))
            continue
        s = ln.strip()
        if s.endswith("{"):  # a graph header or an op with a region: balance it too
            stack.append(("", i, ""))
        elif s == "}" and stack:
            path, start, cls = stack.pop()
            if path:
                spans[path] = (start, i, cls)
    return spans


def focus_module(path: str, fold_others: bool = True, budget_tokens: int | None = None) -> Callable[[Any, str, str], Offer]:
    """Offer the body of module ``path`` for editing; fold the module blocks that neither contain
    it nor are inside it.  With ``budget_tokens`` the prompt shows the slice of
    :func:`graphsynth.query.context` within that many tokens (edits still land in the full text)."""

    def context(module: Any, text: str, goal: str) -> Offer:
        spans = module_spans(text)
        if path not in spans:
            known = ", ".join(sorted(spans)[:20]) or "none"
            raise ValueError(f"no module '{path}' in the graph (modules: {known})")
        start, end, _cls = spans[path]
        # The module's own lines, opener and closer included: renaming or closing it is an edit of it.
        editable = [(start, end + 1)]
        shown = text
        description = f"module {path} only"
        if budget_tokens is not None:
            from graphsynth.query import QueryError
            from graphsynth.query import context as query_context

            try:
                piece = query_context(module, path, budget_tokens)
            except QueryError as e:
                raise ValueError(str(e)) from None
            shown = piece.text
            description += f" (a {piece.tokens}-token slice: the module in full, the rest folded)"
        elif fold_others:
            shown = _fold(text.split("\n"), spans, path, (start, end))
        return Offer(text, editable=editable, shown=shown, description=description)

    return context


_DEF = re.compile(r"(%[A-Za-z0-9_.$-]+)\s*:\s*((?:f64|f32|f16|bf16|i64|i32|i16|i8|u8|bool)\[[^\]]*\])")
_USE = re.compile(r"%[A-Za-z0-9_.$-]+")
_PARAM = re.compile(r"^\s*(?:param|buffer)\s+([A-Za-z_][A-Za-z0-9_.]*)\s*:")


def _fold(lines: list[str], spans: dict[str, tuple[int, int, str]], path: str, focus: tuple[int, int]) -> str:
    """Fold every module block of two or more inner lines that is neither on the way to the
    focused module nor inside it into one line naming the values it defines that are used
    elsewhere, with their types (what the model needs in order to wire new ops to them)."""
    keep = [True] * len(lines)
    folded: list[tuple[int, int, str, str]] = []
    # Outermost first, so the modules inside a folded one are not folded again.
    for p, (a, b, cls) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        if p == path or not keep[a] or b - a < 3:
            continue
        if _contains((a, b), focus) or _contains(focus, (a, b)):
            continue
        folded.append((a, b, p, cls))
        for k in range(a, b + 1):
            keep[k] = False
    # Parameters of folded modules that no visible line refers to are left out too.
    prefixes = tuple(p + "." for _a, _b, p, _c in folded)
    visible = "\n".join(ln for k, ln in enumerate(lines) if keep[k] and not _PARAM.match(ln))
    hidden_params = 0
    first_hidden = None
    for k, ln in enumerate(lines):
        m = _PARAM.match(ln)
        if keep[k] and m and m.group(1).startswith(prefixes) and m.group(1) not in visible:
            keep[k] = False
            hidden_params += 1
            first_hidden = k if first_hidden is None else first_hidden
    used: set[str] = set()
    for k, ln in enumerate(lines):
        if keep[k]:
            used.update(_USE.findall(ln))
    summary: dict[int, str] = {}
    for a, b, p, cls in folded:
        outs = []
        for k in range(a + 1, b):
            for name, typ in _DEF.findall(lines[k].split("=", 1)[0]):
                if name in used:
                    outs.append(f"{name}: {typ}")
        indent = lines[a][: len(lines[a]) - len(lines[a].lstrip())]
        note = f"{b - a - 1} lines folded" + (f"; defines {', '.join(outs)}" if outs else "")
        summary[a] = f"{indent}module {p} : {cls} {{ ... }}  // {note}"
    if first_hidden is not None:
        indent = lines[first_hidden][: len(lines[first_hidden]) - len(lines[first_hidden].lstrip())]
        summary[first_hidden] = f"{indent}// {hidden_params} parameters of folded modules not shown"
    return "\n".join(summary.get(k, ln) for k, ln in enumerate(lines) if keep[k] or k in summary)


def _contains(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def context_source(spec: str) -> Callable[[Any, str, str], Offer] | None:
    """The context function a transcript header or a pass option names: ``""`` (the whole
    graph), ``"focus:PATH"`` or ``"focus:PATH:TOKENS"`` (a budgeted slice, see focus_module)."""
    if not spec:
        return None
    kind, _, arg = spec.partition(":")
    if kind == "focus" and arg:
        path, sep, budget = arg.partition(":")
        if sep:
            if not budget.isdigit() or int(budget) < 1:
                raise ValueError(f"context '{spec}': the token budget must be a positive integer")
            return focus_module(path, budget_tokens=int(budget))
        return focus_module(arg)
    raise ValueError(f"unknown context '{spec}' (known: focus:MODULE.PATH, focus:MODULE.PATH:TOKENS)")
