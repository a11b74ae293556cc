"""Judging one attempt of a rewrite: apply the reply to the text, parse, verify, check.

The driver (:mod:`graphsynth.llm.driver`) asks and records; this module says what an attempt's
text is worth.  An edit inside the graph body is re-verified incrementally
(:mod:`graphsynth.llm.reverify`), anything else parsed and verified in full; a rejection for
machine-applicable findings only can be repaired (:func:`repair_attempt`: the fix-its applied,
the result judged as the next attempt, without a model call).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error
from graphsynth.llm.checks import NumericChecker, check_interface
from graphsynth.llm.edits import EditError, Hunk, Offer, apply_edit, parse_reply
from graphsynth.llm.incremental import IncrementalParser
from graphsynth.llm.menu import MenuItem
from graphsynth.llm.prompt import Goal
from graphsynth.llm.proposer import Usage


@dataclass
class Attempt:
    """One round trip and its judgement."""

    index: int
    verdict: str  # "accepted" | "rejected" | "error"
    diagnostics: list[Diagnostic]
    reply: str = ""
    edit: dict[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    check_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    prompt_hash: str = ""

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics if d.severity == "error"]


def print_module(module: Any) -> str:
    from graphsynth.grammar.printer import print_ir

    return print_ir(module)


def judge(
    n: int,
    reply: str,
    offer: Offer,
    items: list[MenuItem],
    module: Any,
    before: dict[str, Any],
    checker: NumericChecker | None,
    goal: Goal,
    incremental: IncrementalParser | None = None,
) -> tuple[Attempt, Any, str | None, str | None]:
    """Apply and check one reply.  Returns the attempt, the candidate module, its text, and the
    edited text (for the feedback excerpt)."""
    timings: dict[str, float] = {}
    origin = f"llm proposal (attempt {n})"
    t = time.perf_counter()
    try:
        edit = parse_reply(reply, menu_size=len(items))
    except EditError as e:
        return (
            Attempt(n, "rejected", _tag(e.diagnostics, origin), reply, {"mode": "invalid"}, timings=timings),
            None,
            None,
            None,
        )

    if edit.mode == "choice":
        assert edit.choice is not None
        item = items[edit.choice - 1]
        record = {"mode": "choice", "choice": edit.choice, "description": item.description}
        try:
            clone = module.clone()
            out = item.apply(clone)
            candidate = out if out is not None else clone
            new_text = print_module(candidate)
        except Exception as e:  # noqa: BLE001 - a menu entry that fails is reported, not raised
            d = error(
                "GS501",
                f"menu entry {edit.choice} ({item.description}) could not be applied: "
                f"{type(e).__name__}: {str(e)[:200]}",
                fix="choose another entry or write search/replace blocks",
            )
            return Attempt(n, "rejected", _tag([d], origin), reply, record, timings=timings), None, None, None
    else:
        try:
            new_text, hunks = apply_edit(offer, edit)
        except EditError as e:
            return (
                Attempt(
                    n,
                    "rejected",
                    _tag(e.diagnostics, origin),
                    reply,
                    {"mode": "blocks", "blocks": len(edit.blocks)},
                    timings=timings,
                ),
                None,
                None,
                None,
            )
        record = {"mode": "blocks", "blocks": len(edit.blocks), "diff": "\n".join(h.render() for h in hunks)}
    timings["edit"] = time.perf_counter() - t

    span = _changed_span(hunks) if edit.mode == "blocks" and incremental is not None else None
    return _check_text(n, new_text, span, reply, record, timings, module, before, checker, goal, incremental, origin)


def _check_text(
    n: int,
    new_text: str,
    span: tuple[int, int, int] | None,
    reply: str,
    record: dict[str, Any],
    timings: dict[str, float],
    module: Any,
    before: dict[str, Any],
    checker: NumericChecker | None,
    goal: Goal,
    incremental: IncrementalParser | None,
    origin: str,
) -> tuple[Attempt, Any, str | None, str | None]:
    """Parse, verify and check the text of attempt ``n`` (``span``: the lines that differ from
    the base text, for the incremental parser)."""
    filename = f"attempt-{n}.gs"
    reverifier = getattr(incremental, "reverifier", None) if span else None
    fast: list[Diagnostic] | None = None
    if reverifier is not None and span is not None:
        # The edited statements and the ops reading what they define, against the base module
        # (graphsynth.llm.reverify); None when the edit needs the full path below.
        t = time.perf_counter()
        waited = reverifier.wait_s + incremental.wait_s
        fast = reverifier.check(new_text, *span, filename=filename)
        wait = reverifier.wait_s + incremental.wait_s - waited
        if wait:
            timings["base_wait"] = wait
        timings["reverify"] = time.perf_counter() - t - wait
        if fast:
            return (
                Attempt(n, "rejected", _tag(_with_lines(fast, new_text, filename), origin), reply, record, timings=timings),
                None,
                None,
                new_text,
            )
    # Parse (the text is the single source of truth, also for menu choices: what is accepted is
    # exactly what its text says).  After a clean incremental verdict this only materialises the
    # accepted module (once per rewrite).
    t = time.perf_counter()
    waited = incremental.wait_s if incremental is not None else 0.0
    diags = _parse(new_text, filename, incremental if span else None, span)
    if incremental is not None and incremental.wait_s > waited:
        # Waiting for the background parse of the base text is setup shared by all attempts
        # (in a live session it overlaps the first model call); it is reported apart.
        timings["base_wait"] = timings.get("base_wait", 0.0) + incremental.wait_s - waited
    timings["materialise" if fast is not None else "parse"] = time.perf_counter() - t - (
        incremental.wait_s - waited if incremental is not None else 0.0)
    if isinstance(diags, list):
        if any(d.code == "GS201" for d in diags):
            from graphsynth.fixes import checked_renames, declaration_fixits

            t = time.perf_counter()
            declaration_fixits(new_text, filename, diags)
            checked_renames(new_text, filename, diags)
            timings["fixits"] = time.perf_counter() - t
        return (
            Attempt(
                n, "rejected", _tag(_with_lines(diags, new_text, filename), origin), reply, record, timings=timings
            ),
            None,
            None,
            new_text,
        )
    candidate = diags

    t = time.perf_counter()
    vd = _verify(candidate) if fast is None else []
    if fast is None:
        timings["verify"] = time.perf_counter() - t
    errors = [d for d in vd if d.severity == "error"]
    if errors:
        return (
            Attempt(n, "rejected", _tag(_with_lines(vd, new_text, filename), origin), reply, record, timings=timings),
            None,
            None,
            new_text,
        )

    t = time.perf_counter()
    problems: list[Diagnostic] = []
    if goal.keep_interface:
        problems = check_interface(before, candidate)
    timings["interface"] = time.perf_counter() - t
    if not problems and checker is not None:
        t = time.perf_counter()
        problems = _with_lines(checker.check(candidate), new_text, filename)
        timings["numerics"] = time.perf_counter() - t
    if problems:
        return Attempt(n, "rejected", _tag(problems, origin), reply, record, timings=timings), None, None, new_text
    return Attempt(n, "accepted", _tag(vd, origin), reply, record, timings=timings), candidate, new_text, new_text


def repairable(diags: Sequence[Diagnostic], edited: str | None) -> bool:
    """Rejected only for findings with machine-applicable fix-its, and for findings downstream
    of those (which the repair may clear; the repaired text is judged in full anyway)."""
    errors = [d for d in diags if d.severity == "error"]
    fixable = [d for d in errors if d.machine_applicable]
    return edited is not None and bool(fixable) and all(d.machine_applicable or d.derived for d in errors)


def apply_fixits(prev: Attempt, edited: str | None) -> tuple[str, list[Diagnostic]]:
    from graphsynth.fixes import apply_diagnostics

    if edited is None:
        return "", []
    return apply_diagnostics(edited, prev.diagnostics, f"attempt-{prev.index}.gs")


def repair_attempt(
    n: int,
    prev: Attempt,
    new_text: str,
    applied: list[Diagnostic],
    offer: Offer,
    module: Any,
    before: dict[str, Any],
    checker: NumericChecker | None,
    goal: Goal,
    incremental: IncrementalParser | None,
) -> tuple[Attempt, Any, str | None, str | None]:
    """Attempt ``n``: the previous attempt's text with its machine-applicable fix-its applied
    (``new_text``, from the findings ``applied``)."""
    t = time.perf_counter()
    record: dict[str, Any] = {
        "mode": "repair",
        "of_attempt": prev.index,
        "fixes": [{"code": d.code, "edits": [e.render() for e in d.edits]} for d in applied],
    }
    span = diff_span(offer.text, new_text)
    timings = {"edit": time.perf_counter() - t}
    return _check_text(n, new_text, span, "", record, timings, module, before, checker, goal, incremental,
                       origin=f"fix-its of attempt {prev.index}")


def diff_span(base: str, new: str) -> tuple[int, int, int] | None:
    """(first, last_old, last_new), 1-based inclusive, of the lines where ``new`` differs from
    ``base``; None when they are equal."""
    a, b = base.split("\n"), new.split("\n")
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    if i == len(a) and i == len(b):
        return None
    j = 0
    while j < len(a) - i and j < len(b) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    return i + 1, len(a) - j, len(b) - j


def repair_record(att: Attempt, feedback: str | None) -> dict[str, Any]:
    return {
        "kind": "attempt",
        "attempt": att.index,
        "verdict": att.verdict,
        "repair": True,
        "edit": att.edit,
        "diagnostics": [d.to_dict() for d in att.diagnostics],
        "check_s": round(att.check_s, 5),
        "timings": {k: round(v, 5) for k, v in att.timings.items()},
        "feedback": feedback,
    }


def _changed_span(hunks: Sequence[Hunk]) -> tuple[int, int, int] | None:
    """(first, last_old, last_new), 1-based inclusive, covering every hunk."""
    if not hunks:
        return None
    first = min(h.start for h in hunks) + 1
    last_old = max(h.start + len(h.removed) for h in hunks)
    delta = sum(len(h.added) - len(h.removed) for h in hunks)
    return first, last_old, last_old + delta


def _parse(
    text: str, filename: str, incremental: IncrementalParser | None = None, span: tuple[int, int, int] | None = None
) -> Any:
    from graphsynth.grammar.parser import parse_ir

    try:
        if incremental is not None and span is not None:
            return incremental.parse(text, span[0], span[1], span[2], filename=filename)
        return parse_ir(text, filename=filename)
    except GraphsynthError as e:
        return list(e.diagnostics) or [error("GS101", str(e))]
    except RecursionError:
        return [error("GS101", "the edited text nests too deeply to parse")]
    except Exception as e:  # noqa: BLE001 - hostile text must never escape as a traceback
        return [error("GS101", f"the edited text could not be parsed ({type(e).__name__}: {str(e)[:200]})")]


def _verify(module: Any) -> list[Diagnostic]:
    from graphsynth.verifier import verify

    try:
        return list(verify(module))
    except GraphsynthError as e:
        return list(e.diagnostics)
    except Exception as e:  # noqa: BLE001
        return [error("GS211", f"the edited graph could not be verified ({type(e).__name__}: {str(e)[:200]})")]


def _tag(diags: Sequence[Diagnostic], origin: str) -> list[Diagnostic]:
    for d in diags:
        if d.origin is None:
            d.origin = origin
    return list(diags)


def _with_lines(diags: Sequence[Diagnostic], text: str, filename: str) -> list[Diagnostic]:
    """Attach the offending line of the edited text to each diagnostic that lacks it."""
    lines: list[str] | None = None
    for d in diags:
        if d.source_line is None and isinstance(d.loc, Location) and d.loc.file == filename:
            if lines is None:
                lines = text.split("\n")
            if 0 < d.loc.line <= len(lines):
                d.source_line = lines[d.loc.line - 1]
    return list(diags)
