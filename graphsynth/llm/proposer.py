"""Proposers: something that turns a request (a prompt) into a proposal (the reply text).

The driver never cares where a reply comes from.  ``AnthropicProposer`` asks a model through the
official SDK; ``ReplayProposer`` answers from a recorded transcript, so tests and pipelines are
reproducible and cost nothing.  Anything that has ``name`` and ``propose(request) -> Proposal``
is a proposer (a :class:`typing.Protocol`, no base class to inherit).

Failures of the service (network, rate limits, malformed replies) surface as one exception type,
:class:`ProposerError`, carrying a GS507 diagnostic (GS509 when the time ran out); the driver
turns it into a failed rewrite with the graph unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 8192
DEFAULT_TIMEOUT_S = 120.0  # one proposal, all tries included

# USD per million tokens: (input, output).  Cache writes cost 1.25x input, cache reads 0.1x.
# Estimates from the public price list; a model not listed here has no cost estimate.
_PRICES: list[tuple[str, float, float]] = [
    ("claude-opus-4-1", 15.0, 75.0),
    ("claude-opus-4-0", 15.0, 75.0),
    ("claude-opus-4-2", 15.0, 75.0),
    ("claude-opus-4-", 5.0, 25.0),  # 4.5 and later
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-haiku-4", 1.0, 5.0),
    ("claude-3-5-haiku", 0.8, 4.0),
]


def prices(model: str) -> tuple[float, float] | None:
    for prefix, inp, out in _PRICES:
        if model.startswith(prefix):
            return inp, out
    return None


@dataclass
class Usage:
    """Token counts of one call (or a sum of calls) and the cost estimate in USD."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    calls: int = 0
    cost_usd: float | None = 0.0

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.calls + other.calls,
            cost,
        )

    @staticmethod
    def priced(model: str, input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0) -> Usage:
        p = prices(model)
        cost = None
        if p is not None:
            inp, out = p
            cost = (input_tokens * inp + cache_write * inp * 1.25 + cache_read * inp * 0.1 + output_tokens * out) / 1e6
        return Usage(input_tokens, output_tokens, cache_write, cache_read, 1, cost)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any] | None) -> Usage:
        if not d:
            return Usage()
        return Usage(
            int(d.get("input_tokens", 0)),
            int(d.get("output_tokens", 0)),
            int(d.get("cache_creation_input_tokens", 0)),
            int(d.get("cache_read_input_tokens", 0)),
            int(d.get("calls", 1)),
            d.get("cost_usd"),
        )


@dataclass
class ProposalRequest:
    """What the model is asked.

    ``system`` is the unchanging part (the IR syntax, the op reference, the edit format): it is
    the same for every goal and attempt, so it is marked for prompt caching.  ``messages`` is the
    conversation so far: the first user turn holds the goal and the graph text (the same for
    every attempt of one rewrite, so it is cached too), then each earlier reply and the
    diagnostics it earned.
    """

    system: str
    messages: list[dict[str, str]]
    max_tokens: int = DEFAULT_MAX_TOKENS
    attempt: int = 1
    deadline: float | None = None
    """A ``time.monotonic()`` value by which the reply is needed (the rewrite's wall-clock budget),
    or None.  Not part of the question: it changes no hash.  Proposers that talk to a service
    stop by it; the driver discards a reply that arrives later."""
    images: list[dict[str, str]] = field(default_factory=list)
    """Pictures sent with the first user turn, before its text: ``{"media_type": "image/png",
    "data": <base64>}`` each (image content blocks of the Messages API).  They are in
    :meth:`prompt_hash` but not in :meth:`messages_hash`: a picture is drawn from numbers the text
    already carries, and a replay should not fail because a plotting library drew a pixel
    differently."""

    def system_hash(self) -> str:
        return _sha(self.system)

    def messages_hash(self) -> str:
        return _sha(json.dumps(self.messages, sort_keys=True, ensure_ascii=True))

    def images_hash(self) -> str:
        return _sha(json.dumps(self.images, sort_keys=True, ensure_ascii=True)) if self.images else ""

    def prompt_hash(self) -> str:
        """Identifies the whole prompt (system + messages, and the images when there are any)."""
        return _sha(self.system_hash() + self.messages_hash() + self.images_hash())


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass
class Proposal:
    """A reply: the raw text, what it cost, how long it took."""

    text: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    model: str = ""
    stop_reason: str | None = None


@runtime_checkable
class Proposer(Protocol):
    name: str

    def propose(self, request: ProposalRequest) -> Proposal: ...


class ProposerError(GraphsynthError):
    """The proposer could not produce a reply (network, rate limit, malformed reply,
    replay divergence, missing configuration)."""

    def __init__(self, message: str, *, fix: str | None = None, notes: list[str] | None = None, code: str = "GS507"):
        super().__init__([error(code, message, fix=fix, notes=list(notes or []))])


class ProposerConfigError(ProposerError):
    """Misconfiguration found before any work is done (e.g. no API key)."""


# -- Anthropic ------------------------------------------------------------------------------


class AnthropicProposer:
    """Asks a Claude model through the official ``anthropic`` SDK.

    - The key comes from ``ANTHROPIC_API_KEY``; without it the constructor raises
      :class:`ProposerConfigError` at once, before a graph is printed or a request sent.
    - The model is ``model``, else ``$GRAPHSYNTH_MODEL``, else :data:`DEFAULT_MODEL`.
    - ``timeout`` is a total deadline in seconds for one proposal: every try, the waits between
      tries and the time to receive each reply, however slowly the server sends it, fit in it (and
      in ``request.deadline`` when the driver gives one).  The SDK's own timeouts bound each socket
      read, not a request, so its calls run inside :func:`graphsynth.llm.deadline.deadline` on a
      transport that enforces the deadline on every socket operation.  When it passes, a
      :class:`ProposerError` with code GS509 gives the elapsed time.
    - Retries (``max_retries`` after the first try) are done here, not by the SDK, so that no
      back-off sleeps past the deadline: 408/409/429/5xx answers (unless ``x-should-retry: false``),
      connection errors, and replies that cannot be decoded or lack text are tried again after
      ``retry-after(-ms)`` when the server gives one, else 0.5 s * 2^n (capped at 8 s, with
      jitter).  A wait that would end past the deadline is not started.
    - Prompt caching: the system prompt and the first user turn carry ``cache_control``, so
      every attempt after the first reads them from the cache.
    """

    name = "anthropic"
    retry_base_s = 0.5  # first delay before a retry without retry-after (doubles, capped at 8 s)

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        max_retries: int = 3,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        api_key: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float | None = None,
    ):
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ProposerConfigError(
                "the anthropic proposer needs an API key: ANTHROPIC_API_KEY is not set",
                fix="export ANTHROPIC_API_KEY=sk-ant-... (or use proposer=replay with a recorded transcript)",
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ProposerConfigError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 1e9:
            raise ProposerConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        import anthropic  # deferred: only this proposer needs the SDK

        from graphsynth.llm.deadline import http_client

        self._anthropic = anthropic
        self.model = model or os.environ.get("GRAPHSYNTH_MODEL") or DEFAULT_MODEL
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.base_url = base_url
        # api_key= explicitly, so the SDK does not fall back to other credential sources;
        # max_retries=0: the retries are ours (see the class docstring).
        self.client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0, timeout=self.timeout,
                                          http_client=http_client())

    def propose(self, request: ProposalRequest) -> Proposal:
        from graphsynth.llm.deadline import deadline

        anthropic = self._anthropic
        system = [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]
        messages: list[dict[str, Any]] = []
        for i, m in enumerate(request.messages):
            block: dict[str, Any] = {"type": "text", "text": m["content"]}
            pictures: list[dict[str, Any]] = []
            if i == 0:
                block["cache_control"] = {"type": "ephemeral"}
                pictures = [{"type": "image", "source": {"type": "base64", "media_type": im["media_type"], "data": im["data"]}}
                            for im in request.images]
            messages.append({"role": m["role"], "content": [*pictures, block]})
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": min(request.max_tokens, self.max_tokens),
            "system": system,
            "messages": messages,
        }
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature

        t0 = time.monotonic()
        end = t0 + self.timeout
        if request.deadline is not None:
            end = min(end, request.deadline)
        last = ""
        tried = 0
        for tries in range(1, self.max_retries + 2):
            left = end - time.monotonic()
            if left <= 0:
                break
            tried = tries
            headers: Any = None
            try:
                with deadline(end):
                    msg = self.client.messages.create(
                        **kwargs, timeout=left, extra_headers={"x-stainless-retry-count": str(tries - 1)}
                    )
                text, usage, stop = self._read(msg)
                return Proposal(text, usage, time.monotonic() - t0, self.model, stop)
            except anthropic.APIStatusError as e:
                last = f"HTTP {e.status_code} ({_api_message(e)})"
                headers = e.response.headers
                if not _retryable(e.status_code, headers) or tries > self.max_retries:
                    raise ProposerError(
                        f"{self.model}: the API answered {last}"
                        + (f" after {tries} tries" if tries > 1 else ""),
                        fix=_fix_for_status(e.status_code),
                    ) from None
            except anthropic.APITimeoutError:
                if time.monotonic() >= end - 1e-3:
                    break
                last = "a try timed out"
            except anthropic.APIConnectionError as e:
                last = f"cannot reach the API at {self.client.base_url} ({e})"
                if tries > self.max_retries:
                    raise ProposerError(
                        f"{self.model}: cannot reach the API at {self.client.base_url} after {tries} tries ({e})",
                        fix="check the network or base_url / ANTHROPIC_BASE_URL",
                    ) from None
            except (ValueError, _MalformedReply, anthropic.APIResponseValidationError) as e:
                last = f"malformed reply: {str(e) or type(e).__name__}"
                if tries > self.max_retries:
                    raise ProposerError(
                        f"{self.model}: malformed reply after {tries} tries: {(str(e) or type(e).__name__)[:200]}",
                        fix="try again later; if it persists, the base_url may not be a Messages API endpoint",
                    ) from None
            if tries > self.max_retries:
                break
            wait = _retry_after(headers)
            if wait is None:
                wait = min(self.retry_base_s * 2 ** (tries - 1), 8.0) * (1 - 0.25 * random.random())
            if time.monotonic() + wait >= end:
                raise self._out_of_time(t0, end, tries, f"{last[:200]}; the next try would start after {wait:.3g} s")
            time.sleep(wait)
        if time.monotonic() < end - 1e-3:  # every try failed before the deadline
            raise ProposerError(f"{self.model}: no reply after {tried} tries: {last[:200]}", fix="try again later")
        raise self._out_of_time(t0, end, tried, last[:200])

    def _out_of_time(self, t0: float, end: float, tries: int, last: str) -> ProposerError:
        elapsed = time.monotonic() - t0
        budget = end - t0
        own = abs(budget - self.timeout) < 1e-6
        limit = f"the {self.timeout:g} s timeout" if own else f"the {budget:.3g} s left of the rewrite's deadline"
        return ProposerError(
            f"{self.model}: no complete reply within {limit} ({elapsed:.2f} s elapsed, {tries} tr{'y' if tries == 1 else 'ies'})"
            + (f": {last}" if last else ""),
            fix="raise timeout= (seconds for one proposal, retries included) or the rewrite's deadline, or try later",
            code="GS509",
        )

    def _read(self, msg: Any) -> tuple[str, Usage, str | None]:
        content = getattr(msg, "content", None)
        if not isinstance(content, list):
            raise _MalformedReply("the reply has no content list")
        texts = [getattr(b, "text", None) for b in content if getattr(b, "type", None) == "text"]
        texts = [t for t in texts if isinstance(t, str)]
        if not texts:
            raise _MalformedReply("the reply has no text block")
        u = getattr(msg, "usage", None)
        usage = Usage.priced(
            self.model,
            int(getattr(u, "input_tokens", 0) or 0),
            int(getattr(u, "output_tokens", 0) or 0),
            int(getattr(u, "cache_creation_input_tokens", 0) or 0),
            int(getattr(u, "cache_read_input_tokens", 0) or 0),
        )
        return "".join(texts), usage, getattr(msg, "stop_reason", None)


def _retryable(status: int, headers: Any) -> bool:
    """The SDK's policy: the server's ``x-should-retry`` decides; else 408, 409, 429 and 5xx."""
    flag = headers.get("x-should-retry") if headers is not None else None
    if flag in ("true", "false"):
        return flag == "true"
    return status in (408, 409, 429) or status >= 500


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asks to wait (``retry-after-ms``, ``retry-after`` as seconds or an HTTP
    date), or None."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            import email.utils

            parsed = email.utils.parsedate_tz(raw)
            if parsed is None:
                continue
            value = email.utils.mktime_tz(parsed) - time.time()
        if value == value and value > 0:  # not NaN
            return value
    return None


class _MalformedReply(Exception):
    pass


def _api_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:200]
    return str(getattr(e, "message", e))[:200]


def _fix_for_status(status: int) -> str | None:
    return {
        400: "the request was rejected; the prompt may be too long for the model (use a smaller context slice)",
        401: "check ANTHROPIC_API_KEY",
        403: "the key lacks permission for this model",
        404: "check the model name (model= or GRAPHSYNTH_MODEL) and base_url",
        413: "the prompt is too large; use a smaller context slice",
        429: "rate limited even after retries; raise max_retries or try later",
        529: "the service is overloaded; try later",
    }.get(status, "try again later" if status >= 500 else None)


# -- Replay ---------------------------------------------------------------------------------


class ReplayProposer:
    """Answers from a recorded JSONL transcript, in order.

    Every recorded exchange carries the hash of the messages it answered; a request whose hash
    differs (the graph, the goal, the diagnostics or an earlier reply changed) raises a
    :class:`ProposerError` naming the attempt and both hashes, because the recorded reply would
    answer a question that was not asked.  The system prompt (op reference, edit format) is
    compared too, but only reported in :attr:`notes` unless ``strict=True``: adding an op to the
    dialect should not invalidate every recorded session.
    """

    name = "replay"

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = False, check: bool = True):
        from graphsynth.llm.transcript import read_transcript

        self.path = str(path)
        self.transcript = read_transcript(self.path)
        self.exchanges = [r for r in self.transcript.records if r.get("kind") == "attempt" and "reply" in r]
        self.strict = strict
        self.check = check
        self.notes: list[str] = []
        self._next = 0
        self.model = self.transcript.header.get("model", "replay")

    def propose(self, request: ProposalRequest) -> Proposal:
        if self._next >= len(self.exchanges):
            raise ProposerError(
                f"replay of {self.path}: the recording has {len(self.exchanges)} exchange(s); attempt "
                f"{self._next + 1} was not recorded",
                fix="the session diverged from the recording: re-record it",
            )
        rec = self.exchanges[self._next]
        self._next += 1
        if self.check:
            got, want = request.messages_hash(), rec.get("messages_hash")
            if want is not None and got != want:
                raise ProposerError(
                    f"replay of {self.path}: attempt {rec.get('attempt', self._next)} asks a different question "
                    f"than the recording (messages hash {got}, recorded {want})",
                    fix="the input graph, the goal, an earlier reply or the diagnostics differ from the "
                    "recorded session; re-record the transcript",
                )
            got_s, want_s = request.system_hash(), rec.get("system_hash")
            if want_s is not None and got_s != want_s:
                note = f"attempt {rec.get('attempt')}: system prompt differs from the recording ({got_s} vs {want_s})"
                if self.strict:
                    raise ProposerError(f"replay of {self.path}: {note}", fix="re-record the transcript")
                self.notes.append(note)
        return Proposal(
            text=str(rec["reply"]),
            usage=Usage.from_dict(rec.get("usage")),
            latency_s=0.0,
            model=str(rec.get("model", self.model)),
            stop_reason=rec.get("stop_reason"),
        )


def make_proposer(kind: str, **options: Any) -> Proposer:
    """``anthropic`` or ``replay`` (which needs ``transcript=``), for the pass and the CLI."""
    if kind == "anthropic":
        keep = {
            k: v
            for k, v in options.items()
            if k in ("model", "base_url", "max_retries", "timeout") and v not in (None, "")
        }
        return AnthropicProposer(**keep)
    if kind == "replay":
        path = options.get("replay") or options.get("transcript")
        if not path:
            raise ProposerConfigError("proposer=replay needs a recorded transcript", fix='add replay="session.jsonl"')
        return ReplayProposer(path)
    raise ProposerConfigError(f"unknown proposer '{kind}'", fix="use proposer=anthropic or proposer=replay")


def diagnostic_of(e: BaseException) -> Diagnostic:
    if isinstance(e, GraphsynthError) and e.diagnostics:
        return e.diagnostics[0]
    return error("GS507", f"proposer failed: {type(e).__name__}: {e}")
