"""DSPy around the compiler's verify-feedback loop (the optional extra ``graphsynth[dspy]``).

    import dspy
    from graphsynth.dspy import GraphRewrite, verifier_metric

    dspy.configure(lm=dspy.LM("anthropic/claude-sonnet-4-6"))   # any DSPy LM
    rewrite = GraphRewrite(attempts=4, deadline=300)           # seconds for the whole rewrite
    pred = rewrite(ir=open("examples/mlp.gs").read(), goal="replace the ReLU with GELU")
    pred.accepted, pred.ir, pred.diagnostics

- :class:`RewriteIR` is the signature: rewrite this IR for this goal given these diagnostics,
  answered with search/replace blocks.
- :class:`GraphRewrite` is a ``dspy.Module`` whose ``forward`` runs propose -> apply -> parse ->
  verify -> check the invariants -> feed the rendered diagnostics back, up to ``attempts`` times,
  within an optional wall-clock ``deadline`` (GS509 when it passes).
  Each reply is judged by the rewrite driver's own single attempt step
  (:class:`graphsynth.llm.AttemptJudge`), so this loop accepts exactly what ``rewrite`` and the
  ``llm-rewrite`` pass accept.  The model's output is data: its blocks are spliced into the text by
  the edit applier, then parsed and verified; nothing in it is executed.
- :func:`verifier_metric` scores a prediction and explains the score with the rendered
  diagnostics, as ``dspy.Prediction(score=..., feedback=...)``: the form GEPA reads, so its
  reflection step learns from what the verifier said.

Importing this module imports DSPy; ``import graphsynth`` does not.  LiteLLM (DSPy's route to
hosted models, ``anthropic/<model>`` for Claude) fetches a price list from the network when it is
first imported, with retries that take seconds; this module asks it to use its bundled copy
(``LITELLM_LOCAL_MODEL_COST_MAP``, unless that is already set), so that no network call happens
before a model is asked.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

try:
    import dspy
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(f"graphsynth.dspy needs DSPy: pip install 'graphsynth[dspy]' ({e})") from None
from dspy.utils.exceptions import AdapterParseError

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.llm.driver import MAX_HISTORY_REPLY_CHARS, Attempt, AttemptJudge
from graphsynth.llm.prompt import FEEDBACK_STYLES, constraints, system_prompt

__all__ = ["GraphRewrite", "RewriteIR", "verifier_metric", "NO_DIAGNOSTICS"]

NO_DIAGNOSTICS = "none: this is the first attempt"
NO_EDIT = "none"
MAX_FEEDBACK_CHARS = 12_000


class RewriteIR(dspy.Signature):
    """Rewrite the graph `ir`, written in graphsynth's text IR, so that it achieves `goal`.

    Answer `edit` with search/replace blocks against `ir`, in the edit format that `reference`
    describes (it also gives the text form and every op's signature and shape rule). Each block's
    SEARCH lines are copied exactly from `ir`. When `diagnostics` is not 'none', your previous
    edit (`previous_edit`) was applied to `ir` and rejected for those reasons: write a corrected
    edit against `ir` itself."""

    reference: str = dspy.InputField(desc="the IR's text form, its ops and the edit format")
    goal: str = dspy.InputField(desc="what the rewritten graph must achieve, and the constraints it must keep")
    ir: str = dspy.InputField(desc="the graph to rewrite")
    diagnostics: str = dspy.InputField(desc="the compiler's diagnostics of the previous edit, or 'none'")
    previous_edit: str = dspy.InputField(desc="the previous, rejected edit, or 'none'")
    edit: str = dspy.OutputField(desc="search/replace blocks against ir")


class GraphRewrite(dspy.Module):
    """propose -> parse -> verify -> feed diagnostics back, up to ``attempts`` times.

    Called with ``ir=TEXT, goal=TEXT`` it returns a ``dspy.Prediction`` with

    - ``ir``: the accepted graph's text, or the input text unchanged when no edit was accepted;
    - ``accepted``: whether an edit parsed, verified and kept the goal's invariants;
    - ``diagnostics``: a list of :class:`graphsynth.Diagnostic` (why the last attempt was
      rejected; the warnings of an accepted one; why nothing could be tried, such as an input that
      does not parse or an LM that failed: GS507);
    - ``feedback``: the diagnostics rendered as the model was shown them;
    - ``attempts``: the driver's :class:`graphsynth.llm.Attempt` records (verdict, reply, edit,
      diagnostics, timings).

    The goal may carry the driver's flags (``[preserve-semantics]``, ``[change-interface]``).
    ``feedback`` is how rejections are rendered for the model (``"full"`` or ``"first-line"``,
    see :data:`graphsynth.llm.FEEDBACK_STYLES`); ``reference=False`` leaves the op reference out
    of the prompt.  The predictor is ``self.propose`` (a ``dspy.Predict(RewriteIR)``), the one
    GEPA and other optimizers tune.

    ``deadline`` bounds the whole rewrite's wall-clock time in seconds (None: only each LM call's
    own timeout).  No attempt starts after it, and the rewrite stops waiting for the LM call in
    flight when it passes: the call runs in a worker thread that is abandoned (it ends when the
    LM's own ``timeout`` does or its reply arrives; the reply is discarded).  Running out is a
    GS509 diagnostic with the elapsed time, and the input text is returned unchanged.  A DSPy
    LM's ``timeout`` bounds each read, not the call, so a server that drips its answer is only
    cut by ``deadline``.

    Replies that do not follow the adapter's field format are not lost: the raw text is judged
    like any reply (the edit parser finds blocks anywhere in it), and when no adapter is
    configured the chat adapter runs without its JSON fallback, so that a malformed reply costs
    one model call, not two.
    """

    def __init__(self, attempts: int = 4, *, feedback: str = "full", reference: bool = True,
                 deadline: float | None = None):
        super().__init__()
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1, got {attempts!r}")
        if feedback not in FEEDBACK_STYLES:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_STYLES)}, got {feedback!r}")
        if deadline is not None and (
            isinstance(deadline, bool) or not isinstance(deadline, (int, float))
            or not math.isfinite(deadline) or not 0 < deadline < 1e9
        ):
            raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
        self.attempts = attempts
        self.feedback = feedback
        self.reference = reference
        self.deadline = float(deadline) if deadline is not None else None
        self.propose = dspy.Predict(RewriteIR)

    def forward(self, ir: str, goal: str) -> dspy.Prediction:
        from graphsynth.grammar.parser import parse_ir

        t_start = time.monotonic()
        at = t_start + self.deadline if self.deadline is not None else None
        if not isinstance(ir, str) or not isinstance(goal, str):
            d = error("GS104", f"ir and goal must be text, got {type(ir).__name__} and {type(goal).__name__}")
            return _prediction(ir if isinstance(ir, str) else "", False, [d], [])
        try:
            module = parse_ir(ir, filename="ir.gs")
        except GraphsynthError as e:
            return _prediction(ir, False, list(e.diagnostics), [])
        judge = AttemptJudge(module, goal, feedback=self.feedback)
        failure = judge.prepare()
        if failure is not None:
            return _prediction(ir, False, [failure], [])
        said = constraints(judge.goal)
        inputs = {
            "reference": system_prompt() if self.reference else "(not given)",
            "goal": judge.goal.text + (f"\n{said}" if said else ""),
            "ir": judge.offer.prompt_text,
        }
        diagnostics, previous = NO_DIAGNOSTICS, NO_EDIT
        attempts: list[Attempt] = []
        last = None
        for n in range(1, self.attempts + 1):
            if at is not None and time.monotonic() >= at:
                d = self._late(t_start, f"before attempt {n} could start")
                return _prediction(ir, False, [d], attempts)
            kwargs = dict(inputs, diagnostics=diagnostics, previous_edit=previous)
            try:
                out = _within(functools.partial(self._propose, kwargs), at)
                reply = out.edit if isinstance(out.edit, str) else str(out.edit)
            except _Late:
                d = self._late(t_start, f"while attempt {n} waited for the LM (the call was abandoned)")
                attempts.append(Attempt(n, "error", [d]))
                return _prediction(ir, False, [d], attempts)
            except AdapterParseError as e:
                reply = str(e.lm_response or "")
            except Exception as e:  # noqa: BLE001 - an LM failure ends the rewrite as a diagnostic
                d = error("GS507", f"the DSPy LM failed on attempt {n}: {type(e).__name__}: {str(e)[:300]}",
                          fix="check the configured LM (dspy.configure(lm=...)) and its credentials",
                          origin=f"dspy (attempt {n})")
                attempts.append(Attempt(n, "error", [d]))
                return _prediction(ir, False, [d], attempts)
            last = judge.judge(n, reply)
            attempts.append(last.attempt)
            if last.accepted:
                return _prediction(last.text or ir, True, last.attempt.diagnostics, attempts)
            diagnostics, previous = last.feedback or "", _shown(reply)
        assert last is not None
        return _prediction(ir, False, last.attempt.diagnostics, attempts, last.feedback)

    def _propose(self, kwargs: dict[str, str]) -> Any:
        with _adapter():
            return self.propose(**kwargs)

    def _late(self, t_start: float, when: str) -> Diagnostic:
        elapsed = time.monotonic() - t_start
        return error(
            "GS509",
            f"GraphRewrite: the deadline of {self.deadline:g} s passed {when}: {elapsed:.2f} s elapsed; "
            "the graph is unchanged",
            expected=f"<= {self.deadline:g} s", got=f"{elapsed:.2f} s",
            fix="raise the deadline (GraphRewrite(deadline=S)), use fewer attempts or a faster LM",
            origin="dspy",
        )


class _Late(Exception):
    """The rewrite's deadline passed while an LM call was in flight."""


def _within(call: Callable[[], Any], at: float | None) -> Any:
    """``call()``, waited for until ``at`` (a ``time.monotonic()`` value) at most.

    Without a deadline the call runs here.  With one it runs in a daemon thread, in a copy of
    this context (DSPy's settings, such as ``dspy.context(lm=...)`` and the trace GEPA records,
    live in context variables), and :class:`_Late` is raised when it has not returned by ``at``.
    """
    if at is None:
        return call()
    ctx = contextvars.copy_context()
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["out"] = ctx.run(call)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            box["err"] = e
        finally:
            done.set()

    threading.Thread(target=run, name="graphsynth-dspy-lm-call", daemon=True).start()
    if not done.wait(max(0.0, at - time.monotonic())):
        raise _Late()
    if "err" in box:
        raise box["err"]
    return box["out"]


def _shown(reply: str) -> str:
    """A rejected reply as it goes back to the model: cut when huge, so that one runaway reply
    cannot blow up every later prompt (as the driver does with its history)."""
    if not reply.strip():
        return "(empty reply)"
    if len(reply) > MAX_HISTORY_REPLY_CHARS:
        return reply[:MAX_HISTORY_REPLY_CHARS] + f"\n[... reply cut: {len(reply)} characters in all]"
    return reply


@contextlib.contextmanager
def _adapter() -> Iterator[None]:
    """The chat adapter without its JSON fallback, unless the caller configured an adapter."""
    if dspy.settings.adapter is not None:
        yield
        return
    with dspy.context(adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
        yield


def _prediction(ir: str, accepted: bool, diags: list[Diagnostic], attempts: list[Attempt],
                feedback: str | None = None) -> dspy.Prediction:
    if feedback is None:
        feedback = "\n".join(d.render() for d in diags)
    return dspy.Prediction(ir=ir, accepted=accepted, diagnostics=list(diags), feedback=feedback, attempts=attempts)


def verifier_metric(example: Any, prediction: Any, trace: Any = None, pred_name: str | None = None,
                    pred_trace: Any = None) -> dspy.Prediction:
    """Score a :class:`GraphRewrite` prediction and say why, in the form DSPy's feedback-driven
    optimizers (GEPA) read: ``dspy.Prediction(score=..., feedback=...)`` (it also converts to a
    float, for ``dspy.Evaluate``).

    The score is ``1/k`` when attempt ``k`` was accepted (1.0 on the first try, 0.5 on the
    second...) and 0.0 when none was; when ``example`` carries ``must_contain`` /
    ``must_not_contain`` (substrings of the accepted text), an accepted graph that fails them
    scores 0.0, because the verifier only knows that the edit is well-formed.  The feedback is the
    rendered diagnostics of every rejected attempt (what the compiler told the model), and for an
    accepted one what the rejections before it were.  When GEPA asks about one call of the
    predictor (``pred_trace``), the feedback is that call's own verdict and diagnostics; the
    score stays the whole rewrite's, as GEPA expects.
    """
    attempts = list(getattr(prediction, "attempts", None) or []) if prediction is not None else []
    accepted = bool(getattr(prediction, "accepted", False)) if prediction is not None else False
    if prediction is None or not hasattr(prediction, "accepted"):
        return dspy.Prediction(score=0.0, feedback="The program produced no rewrite prediction.")
    score = 1.0 / len(attempts) if accepted and attempts else 0.0
    unmet = _unmet(example, getattr(prediction, "ir", None)) if accepted else []
    if unmet:
        score = 0.0
    own = _own_attempt(attempts, pred_trace) if pred_trace else None
    if own is not None:
        text = _attempt_text(own)
    else:
        text = _rewrite_text(prediction, attempts, accepted)
    if unmet:
        text += "\nThe accepted graph does not reach the goal: " + "; ".join(unmet) + "."
    return dspy.Prediction(score=score, feedback=text[:MAX_FEEDBACK_CHARS])


def _unmet(example: Any, text: Any) -> list[str]:
    """The example's text checks that the accepted graph fails."""
    if example is None or not isinstance(text, str):
        return []
    get = example.get if hasattr(example, "get") else (lambda k, d=None: getattr(example, k, d))
    out = [f"it lacks {s!r}" for s in (get("must_contain", None) or []) if s not in text]
    out += [f"it still contains {s!r}" for s in (get("must_not_contain", None) or []) if s in text]
    return out


def _own_attempt(attempts: list[Attempt], pred_trace: Any) -> Attempt | None:
    """The attempt made by the predictor call in ``pred_trace`` (matched by its reply)."""
    try:
        outputs = pred_trace[-1][2]
        edit = outputs["edit"] if not hasattr(outputs, "edit") else outputs.edit
    except (IndexError, KeyError, TypeError):
        return None
    for a in attempts:
        if a.reply == edit:
            return a
    return None


def _attempt_text(a: Attempt) -> str:
    if a.verdict == "accepted":
        return f"Attempt {a.index}: this edit was accepted: it applied, parsed, verified and kept the goal's invariants."
    body = "\n".join(_render(d) for d in a.diagnostics)
    return f"Attempt {a.index}: this edit was rejected by the compiler:\n{body}"


def _rewrite_text(prediction: Any, attempts: list[Attempt], accepted: bool) -> str:
    if not attempts:
        diags = list(getattr(prediction, "diagnostics", None) or [])
        body = "\n".join(_render(d) for d in diags) or "no attempt was made"
        return f"No edit could be tried:\n{body}"
    parts = []
    if accepted:
        parts.append(f"Accepted on attempt {len(attempts)} of the rewrite.")
        rejected = attempts[:-1]
        if rejected:
            parts.append("Earlier attempts were rejected by the compiler:")
    else:
        parts.append(f"No edit was accepted in {len(attempts)} attempt(s). The compiler's diagnostics:")
        rejected = attempts
    for a in rejected:
        parts.append(f"- attempt {a.index} ({a.verdict}):")
        parts.extend(_render(d) for d in a.diagnostics)
    return "\n".join(parts)


def _render(d: Diagnostic) -> str:
    import dataclasses

    return dataclasses.replace(d, origin=None).render()
