"""The rewrite loop: ask, apply to a copy, parse, verify, check, accept or send diagnostics back.

The input module is never touched: the loop works on its printed text and on modules parsed from
edited text (or, for a menu choice, on a clone).  A proposal is only ever data: it is split into
lines and spliced into text, which the parser and the verifier then judge.

Per attempt the loop records (in the :class:`RewriteResult` and, when asked, in a JSONL
transcript): the prompt hashes, the reply, the edit as applied, the diagnostics, the verdict,
tokens, model latency and the time spent outside the model (parse, verify, checks).
Proposer failures (network, rate limits after retries, malformed replies) end the rewrite at
once as a failure with the graph unchanged; a bad edit costs one attempt and its diagnostics go
back to the model.  A rewrite may have a wall-clock ``deadline``: no attempt starts after it, the
request in flight is cut at it (:attr:`ProposalRequest.deadline`), and running out is a GS509
failure that gives the elapsed time, the graph unchanged.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error
from graphsynth.llm.checks import NumericChecker, NumericsUnavailable, check_interface, interface
from graphsynth.llm.edits import EditError, Hunk, Offer, apply_edit, parse_reply
from graphsynth.llm.incremental import IncrementalParser
from graphsynth.llm.menu import MenuItem
from graphsynth.llm.prompt import (
    FEEDBACK_STYLES,
    ContextFn,
    Goal,
    build_request,
    feedback_message,
    whole_graph,
)
from graphsynth.llm.proposer import Proposer, Usage, diagnostic_of
from graphsynth.llm.transcript import FORMAT_VERSION, TranscriptWriter

# A rejected reply goes back into the conversation; a huge one is cut so it cannot blow up
# every later prompt.
MAX_HISTORY_REPLY_CHARS = 20_000

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
    """Whether a model was asked for this attempt.  Every attempt is a model call today; an
    attempt the compiler makes on its own (applying machine-applicable fixes) sets it false, and
    ``bench/llm_efficacy.py`` counts those as model calls saved."""

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics if d.severity == "error"]


@dataclass
class RewriteResult:
    """``module`` is the accepted rewrite, or the input module itself (unchanged) on failure."""

    module: Any
    accepted: bool
    attempts: list[Attempt]
    usage: Usage
    goal: Goal
    wall_s: float = 0.0
    input_text: str = ""
    output_text: str | None = None
    error: Diagnostic | None = None
    notes: list[str] = field(default_factory=list)
    replay_ok: bool | None = None  # set by replay_transcript: did the re-run match the recording
    setup_s: float = 0.0  # printing the graph for the prompt, and waiting for its background parse

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Why the rewrite failed: the proposer error, or the last attempt's diagnostics."""
        if self.error is not None:
            return [self.error]
        return self.attempts[-1].diagnostics if self.attempts else []

    @property
    def model_s(self) -> float:
        return sum(a.latency_s for a in self.attempts)

    @property
    def check_s(self) -> float:
        return sum(a.check_s for a in self.attempts)

    @property
    def accepted_mode(self) -> str | None:
        if not self.accepted:
            return None
        return self.attempts[-1].edit.get("mode")

    def rejection_codes(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for a in self.attempts:
            if a.verdict != "accepted":
                c.update(set(a.codes))
        return c

    def summary(self) -> str:
        return summary_table([self])


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _print(module: Any) -> str:
    from graphsynth.grammar.printer import print_ir

    return print_ir(module)


def _menu_items(menu: MenuArg, module: Any) -> list[MenuItem]:
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
    check the goal's invariants, and render the feedback of a rejection.

    Every loop that asks a model for edits (:func:`rewrite`, ``graphsynth.dspy.GraphRewrite``)
    judges replies here, so they accept and reject exactly the same things.  What is set up once
    per rewrite lives here: the printed base text and the offer made of it, the menu, the input's
    interface, the numerical checker, and the background parse that lets each attempt re-parse
    only what it changed.  ``module`` is never modified.

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
        if feedback not in FEEDBACK_STYLES:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_STYLES)}, got {feedback!r}")
        t = time.perf_counter()
        self.module = module
        self.goal = Goal.parse(goal)
        self.feedback = feedback
        self.text = _print(module) if text is None else text
        self.print_s = time.perf_counter() - t
        self.offer = (context or whole_graph)(module, self.text, self.goal.text)
        self.items = _menu_items(menu, module)
        self.before = interface(module)
        # Parse the base text once, in the background while the model thinks; each attempt then
        # re-parses only the statements around its edit.
        self.incremental = IncrementalParser(self.offer.text)
        self.checker = numerics
        if self.goal.preserve_semantics and self.checker is None:
            self.checker = NumericChecker(module)

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
                "install/lower with graphsynth.backend.torch, or drop [preserve-semantics]",
            )
        return None

    def judge(self, n: int, reply: str) -> Judgement:
        """Judge ``reply`` as attempt ``n``."""
        t0 = time.perf_counter()
        with _gc_paused():
            att, candidate, out_text, edited = _judge(
                n, reply, self.offer, self.items, self.module, self.before, self.checker, self.goal, self.incremental
            )
        att.check_s = time.perf_counter() - t0 - att.timings.get("base_wait", 0.0)
        feedback = None
        if att.verdict != "accepted":
            feedback = feedback_message(n, att.diagnostics, edited, style=self.feedback)
        return Judgement(att, candidate, out_text, edited, feedback)


def rewrite(
    module: Any,
    goal: str | Goal,
    proposer: Proposer,
    attempts: int = 4,
    transcript: str | IO[str] | None = None,
    *,
    context: ContextFn | None = None,
    menu: MenuArg = None,
    menu_source: str = "",
    context_source: str = "",
    numerics: NumericChecker | None = None,
    deadline: float | None = None,
    feedback: str = "full",
) -> RewriteResult:
    """Rewrite ``module`` towards ``goal`` with proposals from ``proposer``.

    ``goal`` may carry flags (``[preserve-semantics]``, ``[change-interface]``, see
    :class:`Goal`).  ``context`` picks what the model sees (default: the whole graph);
    ``menu`` offers applicable rewrites (a list of :class:`MenuItem`, or a function of the
    module); ``transcript`` is a path or text stream for the JSONL record.  ``menu_source`` and
    ``context_source`` name the menu and context (see :func:`graphsynth.llm.menu.menu_source`,
    :func:`graphsynth.llm.context.context_source`) in the transcript so a replay rebuilds them.

    ``deadline`` is a wall-clock budget in seconds for the whole rewrite (None: none beyond each
    proposer's own timeout).  No attempt starts once it has passed; each request carries it
    (:attr:`ProposalRequest.deadline`) so the model call in flight ends by it; a reply that a
    proposer returns later is discarded.  Running out ends the rewrite with a GS509 error that
    gives the elapsed time; the input module is untouched.  Judging a reply that arrived in time
    is finished even when the deadline passes meanwhile.

    ``feedback`` is how a rejection is sent back: ``"full"`` (every diagnostic rendered, with its
    line, caret, relation and fix, and an excerpt of the edited text) or ``"first-line"`` (only
    the first line of each diagnostic, as a compiler's stderr would show it: the ablation that
    ``bench/llm_efficacy.py`` measures).  Each attempt is judged by an :class:`AttemptJudge`.
    """
    t_start = time.perf_counter()
    g = Goal.parse(goal)
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    if deadline is not None and not 0 < deadline < 1e9:
        raise ValueError(f"deadline must be a positive number of seconds, got {deadline}")
    at = time.monotonic() + deadline if deadline is not None else None
    judge = AttemptJudge(module, g, context=context, menu=menu, numerics=numerics, feedback=feedback)
    text, offer, items = judge.text, judge.offer, judge.items
    usage = Usage()
    result = RewriteResult(module, False, [], usage, g, input_text=text)
    result.setup_s = judge.print_s

    writer = TranscriptWriter(transcript) if transcript is not None else None
    try:
        if writer:
            writer.write(
                {
                    "kind": "header",
                    "version": FORMAT_VERSION,
                    "goal": g.text,
                    "flags": g.flags(),
                    "attempts": attempts,
                    "proposer": getattr(proposer, "name", type(proposer).__name__),
                    "model": getattr(proposer, "model", None),
                    "base_url": _base_url(proposer),
                    "input_hash": _sha(text),
                    "input_ir": text,
                    "offer": {"editable": offer.editable, "description": offer.description},
                    "menu": [it.description for it in items],
                    "menu_source": menu_source,
                    "context_source": context_source,
                    "feedback": feedback,
                }
            )
        failure = judge.prepare()
        if failure is not None:
            result.error = failure
            return _finish(result, writer, t_start)

        history: list[tuple[str, str]] = []
        for n in range(1, attempts + 1):
            request = build_request(g, offer, history, items, attempt=n)
            request.deadline = at
            late = _out_of_time(at, deadline, t_start, f"before attempt {n} could start")
            if late is None:
                try:
                    proposal = proposer.propose(request)
                except Exception as e:  # noqa: BLE001 - any proposer failure ends the rewrite cleanly
                    d = (
                        diagnostic_of(e)
                        if isinstance(e, GraphsynthError)
                        else error("GS507", f"proposer failed: {type(e).__name__}: {str(e)[:300]}")
                    )
                    late = _out_of_time(at, deadline, t_start, f"while attempt {n} waited for the model", d)
                    if late is None:
                        d.origin = f"{getattr(proposer, 'name', 'proposer')} (attempt {n})"
                        _fail_attempt(result, writer, n, d, request)
                        break
                else:
                    late = _out_of_time(at, deadline, t_start, f"before the reply to attempt {n} arrived (discarded)")
                    if late is not None:
                        usage = usage + proposal.usage  # discarded, but paid for
            if late is not None:
                late.origin = f"{getattr(proposer, 'name', 'proposer')} (attempt {n})"
                _fail_attempt(result, writer, n, late, request)
                break
            usage = usage + proposal.usage
            j = judge.judge(n, proposal.text)
            att, fb = j.attempt, j.feedback
            att.usage = proposal.usage
            att.latency_s = proposal.latency_s
            att.prompt_hash = request.prompt_hash()
            result.attempts.append(att)
            if writer:
                writer.write(_record(att, request, proposal, fb))
            if j.accepted:
                result.module = j.module
                result.accepted = True
                result.output_text = j.text
                break
            reply = proposal.text
            if len(reply) > MAX_HISTORY_REPLY_CHARS:
                reply = reply[:MAX_HISTORY_REPLY_CHARS] + f"\n[... reply cut: {len(proposal.text)} characters in all]"
            history.append((reply, fb or ""))
        result.usage = usage
        result.setup_s += judge.incremental.wait_s
        notes = getattr(proposer, "notes", None)
        if notes:
            result.notes.extend(notes)
        return _finish(result, writer, t_start)
    finally:
        if writer:
            writer.close()


def _out_of_time(at: float | None, budget: float | None, t_start: float, when: str,
                 cause: Diagnostic | None = None) -> Diagnostic | None:
    """GS509 when the rewrite's deadline has passed (None otherwise), with the elapsed time."""
    if at is None or budget is None or time.monotonic() < at - 1e-3:
        return None
    elapsed = time.perf_counter() - t_start
    return error(
        "GS509",
        f"llm-rewrite: the deadline of {budget:g} s passed {when}: {elapsed:.2f} s elapsed; the graph is unchanged",
        expected=f"<= {budget:g} s", got=f"{elapsed:.2f} s",
        fix="raise the deadline (rewrite(..., deadline=S), llm-rewrite{deadline=S}) or use fewer attempts",
        notes=[cause.message] if cause is not None and cause.message else [],
    )


def _fail_attempt(result: RewriteResult, writer: TranscriptWriter | None, n: int, d: Diagnostic, request: Any) -> None:
    """The rewrite ends at attempt ``n`` with ``d`` (recorded without a reply, so that a replay,
    which has none to give there, ends the same way)."""
    att = Attempt(n, "error", [d], prompt_hash=request.prompt_hash())
    result.attempts.append(att)
    result.error = d
    if writer:
        writer.write(_record(att, request, None))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Building a module allocates many small objects; a full cyclic collection in the middle of
    it costs more than the work itself (100+ ms spikes on GPT-2-sized graphs).  The collector
    runs again as soon as the attempt is judged."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _base_url(proposer: Any) -> str | None:
    client = getattr(proposer, "client", None)
    url = getattr(client, "base_url", None)
    return str(url) if url is not None else None


def _finish(result: RewriteResult, writer: TranscriptWriter | None, t_start: float) -> RewriteResult:
    result.wall_s = time.perf_counter() - t_start
    if writer:
        writer.write(
            {
                "kind": "result",
                "accepted": result.accepted,
                "output_hash": _sha(result.output_text) if result.output_text is not None else None,
                "attempts": len(result.attempts),
                "usage": result.usage.to_dict(),
                "error": result.error.to_dict() if result.error else None,
            }
        )
    return result


def _record(att: Attempt, request: Any, proposal: Any, feedback: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "kind": "attempt",
        "attempt": att.index,
        "verdict": att.verdict,
        "prompt_hash": request.prompt_hash(),
        "system_hash": request.system_hash(),
        "messages_hash": request.messages_hash(),
        "diagnostics": [d.to_dict() for d in att.diagnostics],
        "model_call": att.model_call,
    }
    if proposal is not None:
        rec.update(
            {
                "reply": proposal.text,
                "model": proposal.model,
                "stop_reason": proposal.stop_reason,
                "edit": att.edit,
                "usage": proposal.usage.to_dict(),
                "latency_s": round(proposal.latency_s, 4),
                "check_s": round(att.check_s, 5),
                "timings": {k: round(v, 5) for k, v in att.timings.items()},
                "feedback": feedback,
            }
        )
    return rec


def _judge(
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

    filename = f"attempt-{n}.gs"
    if edit.mode == "choice":
        assert edit.choice is not None
        item = items[edit.choice - 1]
        record = {"mode": "choice", "choice": edit.choice, "description": item.description}
        try:
            clone = module.clone()
            out = item.apply(clone)
            candidate = out if out is not None else clone
            new_text = _print(candidate)
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

    # Parse (the text is the single source of truth, also for menu choices: what is accepted is
    # exactly what its text says).
    t = time.perf_counter()
    span = _changed_span(hunks) if edit.mode == "blocks" and incremental is not None else None
    waited = incremental.wait_s if incremental is not None else 0.0
    diags = _parse(new_text, filename, incremental if span else None, span)
    if incremental is not None and incremental.wait_s > waited:
        # Waiting for the background parse of the base text is setup shared by all attempts
        # (in a live session it overlaps the first model call); it is reported apart.
        timings["base_wait"] = incremental.wait_s - waited
    timings["parse"] = time.perf_counter() - t - timings.get("base_wait", 0.0)
    if isinstance(diags, list):
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
    vd = _verify(candidate)
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


# -- metrics ----------------------------------------------------------------------------------


def _fmt_cost(c: float | None) -> str:
    return "n/a" if c is None else f"${c:.4f}"


def summary_table(results: Sequence[RewriteResult]) -> str:
    """Attempts, verdicts with the codes that caused rejections, tokens, cost and wall time."""
    rows = [("goal", "#", "verdict", "mode", "codes", "in", "out", "cache r/w", "model s", "check ms")]
    for r in results:
        goal = r.goal.text if len(r.goal.text) <= 32 else r.goal.text[:29] + "..."
        for a in r.attempts:
            rows.append(
                (
                    goal,
                    str(a.index),
                    a.verdict,
                    str(a.edit.get("mode", "-")),
                    ",".join(sorted(set(a.codes))) or "-",
                    str(a.usage.input_tokens),
                    str(a.usage.output_tokens),
                    f"{a.usage.cache_read_input_tokens}/{a.usage.cache_creation_input_tokens}",
                    f"{a.latency_s:.2f}",
                    f"{a.check_s * 1000:.1f}",
                )
            )
            goal = ""
        if not r.attempts:
            rows.append((goal, "0", "error", "-", r.error.code if r.error else "-", "0", "0", "0/0", "0.00", "0.0"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = Usage()
    for r in results:
        total = total + r.usage
    n_att = sum(len(r.attempts) for r in results)
    acc = sum(r.accepted for r in results)
    codes: Counter[str] = Counter()
    for r in results:
        codes += r.rejection_codes()
    code_txt = ", ".join(f"{c} x{k}" for c, k in sorted(codes.items())) or "none"
    lines.append("")
    lines.append(f"rewrites: {acc}/{len(results)} accepted in {n_att} attempts; rejections by code: {code_txt}")
    lines.append(
        f"tokens: {total.input_tokens} in, {total.output_tokens} out, cache read {total.cache_read_input_tokens}, "
        f"cache write {total.cache_creation_input_tokens}; cost {_fmt_cost(total.cost_usd)}; "
        f"wall {sum(r.wall_s for r in results):.2f} s (model {sum(r.model_s for r in results):.2f} s, "
        f"compiler {sum(r.check_s for r in results) * 1000:.1f} ms per-attempt checks "
        f"+ {sum(r.setup_s for r in results) * 1000:.1f} ms setup)"
    )
    return "\n".join(lines)
