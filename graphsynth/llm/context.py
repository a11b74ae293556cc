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

from collections.abc import Callable
from typing import Any

from graphsynth.llm.edits import Offer


def text_map(text: str, module: Any = None) -> Any:
    """The printer's :class:`~graphsynth.grammar.printer.TextMap` of ``text`` (the printed form of
    ``module``, or of the module ``text`` parses to); ValueError when the text is not what the
    printer writes for it."""
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.grammar.printer import print_ir_mapped

    if module is not None:
        printed, where = print_ir_mapped(module)
        if printed == text:
            return where
    printed, where = print_ir_mapped(parse_ir(text, filename="<context>"))
    if printed != text:
        raise ValueError("the text is not in the printer's form; print the module first")
    return where


def module_spans(text: str, module: Any = None) -> dict[str, tuple[int, int, str]]:
    """path -> (line of ``module ... {``, line of its ``}``, class), 0-based, as the printer
    reports them (any module path, ``0`` of an ``nn.Sequential`` included)."""
    return dict(text_map(text, module).modules)


def focus_module(path: str, fold_others: bool = True, budget_tokens: int | None = None) -> Callable[[Any, str, str], Offer]:
    """Offer the body of module ``path`` for editing; fold the module blocks that neither contain
    it nor are inside it.  With ``budget_tokens`` the prompt shows the slice of
    :func:`graphsynth.query.context` within that many tokens (edits still land in the full text)."""

    def context(module: Any, text: str, goal: str) -> Offer:
        where = text_map(text, module)
        spans = where.modules
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
            shown = _fold(text.split("\n"), where, path, (start, end))
        return Offer(text, editable=editable, shown=shown, description=description)

    return context


def _fold(lines: list[str], where: Any, path: str, focus: tuple[int, int]) -> str:
    """Fold every module block of two or more inner lines that is neither on the way to the
    focused module nor inside it into one line naming the values it defines that are used
    elsewhere, with their types (what the model needs in order to wire new ops to them)."""
    spans = where.modules
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
    read = {name for k, names in where.uses.items() if keep[k] for name in names}
    hidden_params = 0
    first_hidden = None
    for k, key in sorted(where.params.items()):
        if keep[k] and key.startswith(prefixes) and key not in read:
            keep[k] = False
            hidden_params += 1
            first_hidden = k if first_hidden is None else first_hidden
    used = {name for k, names in where.uses.items() if keep[k] for name in names if name.startswith("%")}
    summary: dict[int, str] = {}
    for a, b, p, cls in folded:
        outs = []
        for k in range(a + 1, b):
            for name, typ in where.defs.get(k, ()):
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
