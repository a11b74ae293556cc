"""Asking a model for a JSON document: ask, read, validate, reject with reasons, ask again.

The IR rewrite driver (:mod:`graphsynth.llm.driver`) judges edits of graph text; the training
room's model calls -- the vision diagnosis and the two designers -- want documents instead.  This
is the same loop for documents, on the same parts: a :class:`graphsynth.llm.proposer.Proposer`
(``AnthropicProposer`` through the official SDK with its total deadline and retries, or
``ReplayProposer``), ``ProposalRequest`` (with image blocks for the diagnosis), and the JSONL
transcript format of :mod:`graphsynth.llm.transcript` (a ``header`` line, one ``attempt`` line
per exchange with the prompt hashes, the reply, its diagnostics and verdict, tokens and latency,
and a ``result`` line), so a session replays with ``ReplayProposer`` exactly like a rewrite.

Per attempt: the reply's JSON object is extracted (GS921 when there is none), checked against
the schema (GS922) and by the caller's ``judge`` (which may parse, verify and probe a loss graph,
or check a hyper-parameter document against the search space: any diagnostics); a rejected reply
goes back into the conversation with its rendered diagnostics, up to ``attempts`` times.  A
proposer failure (network, rate limit after retries, malformed HTTP reply: GS507; out of time:
GS509) ends the session at once with ``error`` set.  ``deadline`` (seconds) bounds the whole
session: no attempt starts after it, and the request in flight is cut at it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.llm.proposer import Proposal, ProposalRequest, Usage, diagnostic_of
from graphsynth.llm.transcript import FORMAT_VERSION, TranscriptWriter
from graphsynth.train.schema import extract_json, render_problems, validate

Judge = Callable[[dict[str, Any]], tuple[Any, list[Diagnostic]]]
MAX_HISTORY_REPLY_CHARS = 20_000


@dataclass
class DocAttempt:
    index: int
    verdict: str  # accepted | rejected | error
    diagnostics: list[Diagnostic]
    reply: str = ""
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0


@dataclass
class DocResult:
    """``value`` is what ``judge`` made of the accepted document (None when none was accepted)."""

    kind: str
    value: Any
    document: dict[str, Any] | None
    attempts: list[DocAttempt]
    usage: Usage
    error: Diagnostic | None = None
    wall_s: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.document is not None and self.error is None

    @property
    def model_s(self) -> float:
        return sum(a.latency_s for a in self.attempts)

    @property
    def rejections(self) -> list[Diagnostic]:
        return [d for a in self.attempts if a.verdict != "accepted" for d in a.diagnostics]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def ask(proposer: Any, kind: str, system: str, prompt: str, schema: dict[str, Any], judge: Judge | None = None, *,
        images: Sequence[dict[str, str]] = (), attempts: int = 3, writer: TranscriptWriter | None = None,
        deadline: float | None = None, max_tokens: int = 4096) -> DocResult:
    """One session asking ``proposer`` for a document of ``schema`` (see the module docstring)."""
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be a positive integer, got {attempts!r}")
    t0 = time.perf_counter()
    at = time.monotonic() + deadline if deadline is not None else None
    result = DocResult(kind, None, None, [], Usage())
    imgs = [dict(im) for im in images]
    if writer is not None:
        writer.write({"kind": "header", "version": FORMAT_VERSION, "goal": kind, "session": kind, "attempts": attempts,
                      "proposer": getattr(proposer, "name", type(proposer).__name__), "model": getattr(proposer, "model", None),
                      "input_hash": _sha(prompt), "input_ir": "", "images": [{"media_type": im["media_type"], "sha": _sha(im["data"]),
                                                                              "base64_chars": len(im["data"])} for im in imgs]})
    history: list[tuple[str, str]] = []
    for n in range(1, attempts + 1):
        messages = [{"role": "user", "content": prompt}]
        for reply, feedback in history:
            messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": feedback}]
        request = ProposalRequest(system, messages, max_tokens, attempt=n, deadline=at, images=imgs)
        late = _late(at, deadline, t0, f"before attempt {n} of {kind} could start")
        proposal: Proposal | None = None
        if late is None:
            try:
                proposal = proposer.propose(request)
            except Exception as e:  # noqa: BLE001 - a proposer failure ends the session cleanly
                d = diagnostic_of(e) if isinstance(e, GraphsynthError) else error("GS507", f"proposer failed: {type(e).__name__}: {str(e)[:300]}")
                late = _late(at, deadline, t0, f"while attempt {n} of {kind} waited for the model") or d
            else:
                late = _late(at, deadline, t0, f"before the reply to attempt {n} of {kind} arrived (discarded)")
                if late is not None:
                    result.usage = result.usage + proposal.usage
        if late is not None:
            late.origin = late.origin or f"{getattr(proposer, 'name', 'proposer')} ({kind}, attempt {n})"
            att = DocAttempt(n, "error", [late])
            result.attempts.append(att)
            result.error = late
            if writer is not None:
                writer.write(_record(att, request, None, None))
            break
        assert proposal is not None
        result.usage = result.usage + proposal.usage
        doc, diags = extract_json(proposal.text)
        value = None
        if doc is not None:
            diags = validate(doc, schema)
            if not diags and judge is not None:
                try:
                    value, diags = judge(doc)
                except GraphsynthError as e:
                    diags = list(e.diagnostics)
        origin = f"{kind} reply (attempt {n})"
        for d in diags:
            d.origin = d.origin or origin
        errors = [d for d in diags if d.severity == "error"]
        att = DocAttempt(n, "rejected" if errors else "accepted", diags, proposal.text, proposal.usage, proposal.latency_s)
        result.attempts.append(att)
        feedback = None
        if errors:
            feedback = (f"Your reply (attempt {n}) was rejected:\n{render_problems(errors)}\n\n"
                        "Reply again with one JSON object that matches the schema and fixes these problems.")
        if writer is not None:
            writer.write(_record(att, request, proposal, feedback))
        if not errors:
            result.document, result.value = doc, value
            break
        reply = proposal.text if len(proposal.text) <= MAX_HISTORY_REPLY_CHARS else proposal.text[:MAX_HISTORY_REPLY_CHARS] + "\n[... cut]"
        history.append((reply, feedback or ""))
    result.wall_s = time.perf_counter() - t0
    if writer is not None:
        writer.write({"kind": "result", "accepted": result.accepted, "attempts": len(result.attempts),
                      "output_hash": _sha(str(result.document)) if result.document is not None else None,
                      "usage": result.usage.to_dict(), "error": result.error.to_dict() if result.error else None})
    return result


def _late(at: float | None, budget: float | None, t0: float, when: str) -> Diagnostic | None:
    if at is None or budget is None or time.monotonic() < at - 1e-3:
        return None
    elapsed = time.perf_counter() - t0
    return error("GS509", f"the deadline of {budget:g} s passed {when}: {elapsed:.2f} s elapsed", expected=f"<= {budget:g} s",
                 got=f"{elapsed:.2f} s", fix="raise the deadline or use fewer attempts")


def _record(att: DocAttempt, request: ProposalRequest, proposal: Proposal | None, feedback: str | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": "attempt", "attempt": att.index, "verdict": att.verdict, "prompt_hash": request.prompt_hash(),
                           "system_hash": request.system_hash(), "messages_hash": request.messages_hash(),
                           "images_hash": request.images_hash(), "diagnostics": [d.to_dict() for d in att.diagnostics]}
    if proposal is not None:
        rec.update({"reply": proposal.text, "model": proposal.model, "stop_reason": proposal.stop_reason,
                    "usage": proposal.usage.to_dict(), "latency_s": round(proposal.latency_s, 4), "feedback": feedback})
    return rec
