"""Judging one attempt of a rewrite: apply the reply to the text, parse, verify, check.

The driver (:mod:`graphsynth.llm.driver`) and ``graphsynth.dspy`` ask and record; this module
says what an attempt's text is worth (:class:`AttemptJudge`, so every loop accepts and rejects
exactly the same things).  An edit inside the graph body is re-verified incrementally
(:mod:`graphsynth.llm.reverify`), anything else parsed and verified in full; a rejection for
machine-applicable findings only can be repaired (:func:`repair_attempt`: the fix-its applied,
the result judged as the next attempt, without a model call).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error
from graphsynth.gcpause import cyclic_gc_paused
from graphsynth.llm.checks import NumericChecker, NumericsUnavailable, check_interface, interface
from graphsynth.llm.edits import EditError, Hunk, Offer, apply_edit, parse_reply
from graphsynth.llm.incremental import IncrementalParser
from graphsynth.llm.menu import MenuItem
from graphsynth.llm.prompt import FEEDBACK_STYLES, ContextFn, Goal, feedback_message, whole_graph
from graphsynth.llm.proposer import Usage

MenuArg = Sequence[MenuItem] | Callable[[Any], Sequence[MenuItem]] | None


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
    model_call: bool = True
    """Whether a model was asked for this attempt: a repair (machine-applicable fix-its applied
    by the driver) sets it false, and ``bench/llm_efficacy.py`` counts those as calls saved."""

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics if d.severity == "error"]


def print_module(module: Any) -> str:
    from graphsynth.grammar.printer import print_ir

    return print_ir(module)


def judge_reply(
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
        "model_call": False,
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


def menu_items(menu: MenuArg, module: Any) -> list[MenuItem]:
    if menu is None:
        return []
    if callable(menu):
        return list(menu(module))
    return list(menu)


@dataclass
class Judgement:
    """What :meth:`AttemptJudge.judge` found: the attempt, and when it was accepted the new
    module and its text; ``edited`` is the text the edit produced (None when it did not apply),
    ``feedback`` what goes back to the model when it was rejected."""

    attempt: Attempt
    module: Any = None
    text: str | None = None
    edited: str | None = None
    feedback: str | None = None

    @property
    def accepted(self) -> bool:
        return self.attempt.verdict == "accepted"


class AttemptJudge:
    """The single attempt step: apply a reply's edit to a copy of the base text, parse, verify,
    check the goal's invariants, and render the feedback of a rejection; and the repair step that
    applies a rejection's machine-applicable fix-its without asking anyone.

    Every loop that asks a model for edits (:func:`graphsynth.llm.rewrite`,
    ``graphsynth.dspy.GraphRewrite``) judges replies here.  What is set up once per rewrite lives
    here: the printed base text and the offer made of it, the menu, the input's interface, the
    numerical checker, and the background parse that lets each attempt re-parse and re-verify only
    what it changed.  ``module`` is never modified.

    ``feedback`` picks how a rejection is rendered (see :data:`graphsynth.llm.prompt.FEEDBACK_STYLES`).
    """

    def __init__(
        self,
        module: Any,
        goal: str | Goal,
        *,
        context: ContextFn | None = None,
        menu: MenuArg = None,
        numerics: NumericChecker | None = None,
        feedback: str = "full",
        text: str | None = None,
    ):
        from graphsynth.llm.reverify import IncrementalVerifier

        if feedback not in FEEDBACK_STYLES:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_STYLES)}, got {feedback!r}")
        t = time.perf_counter()
        self.module = module
        self.goal = Goal.parse(goal)
        self.feedback = feedback
        self.text = print_module(module) if text is None else text
        self.print_s = time.perf_counter() - t
        self.offer = (context or whole_graph)(module, self.text, self.goal.text)
        self.items = menu_items(menu, module)
        self.before = interface(module)
        # Parse the base text once, in the background while the model thinks; each attempt then
        # re-parses only the statements around its edit, and re-verifies only what they touch.
        self.incremental = IncrementalParser(self.offer.text)
        self.incremental.reverifier = IncrementalVerifier(self.incremental)  # type: ignore[attr-defined]
        self.checker = numerics
        if self.goal.preserve_semantics and self.checker is None:
            self.checker = NumericChecker(module)

    @property
    def wait_s(self) -> float:
        """Time attempts spent waiting for the background parse and verification of the base."""
        return self.incremental.wait_s + self.incremental.reverifier.wait_s  # type: ignore[attr-defined]

    def prepare(self) -> Diagnostic | None:
        """Get the goal's checks ready before the model is asked (the numerical reference of a
        ``[preserve-semantics]`` goal); a diagnostic when the rewrite cannot be checked at all."""
        if self.checker is None or not self.goal.preserve_semantics:
            return None
        try:
            self.checker.prepare()
        except NumericsUnavailable as e:
            return error(
                e.code,
                f"cannot check that the rewrite preserves semantics: {e}",
                fix="raise the check's budget (NumericChecker(max_bytes=...), llm-rewrite{max-check-bytes=N}), "
                "or drop [preserve-semantics]" if e.code == "GS508" else
                "install/lower with graphsynth.backend.lower, or drop [preserve-semantics]",
            )
        return None

    def judge(self, n: int, reply: str) -> Judgement:
        """Judge ``reply`` as attempt ``n``."""
        t0 = time.perf_counter()
        with cyclic_gc_paused():
            judged = judge_reply(n, reply, self.offer, self.items, self.module, self.before, self.checker, self.goal,
                                 self.incremental)
        return self._judgement(n, t0, *judged)

    def repair(self, n: int, prev: Judgement) -> Judgement | None:
        """Attempt ``n`` without a model call: ``prev``'s edited text with its machine-applicable
        fix-its applied, judged like any reply.  None when ``prev`` was not rejected for such
        findings only, when none applies, or when they would only undo the edit (the model
        decides then)."""
        att = prev.attempt
        if att.verdict != "rejected" or not repairable(att.diagnostics, prev.edited):
            return None
        t0 = time.perf_counter()
        fixed_text, applied = apply_fixits(att, prev.edited)
        if not applied or fixed_text == self.offer.text:
            return None
        with cyclic_gc_paused():
            judged = repair_attempt(n, att, fixed_text, applied, self.offer, self.module, self.before, self.checker,
                                    self.goal, self.incremental)
        out = self._judgement(n, t0, *judged)
        out.attempt.model_call = False
        return out

    def _judgement(self, n: int, t0: float, att: Attempt, candidate: Any, out_text: str | None,
                   edited: str | None) -> Judgement:
        # The module of an accepted attempt is built once per rewrite ("materialise"), like the
        # base module at the start: reported apart from the per-attempt checks.
        att.check_s = time.perf_counter() - t0 - att.timings.get("base_wait", 0.0) - att.timings.get("materialise", 0.0)
        feedback = None
        if att.verdict != "accepted":
            feedback = feedback_message(n, att.diagnostics, edited, style=self.feedback)
        return Judgement(att, candidate, out_text, edited, feedback)
