"""A scripted Messages API server on 127.0.0.1, for tests and offline demos.

The real ``anthropic`` SDK must be exercised end to end (its transport, retries, timeouts and
response parsing), and its transport cannot be mocked at the Python level, so tests point
``AnthropicProposer(base_url=server.url)`` at this server.  Each POST /v1/messages consumes
the next scripted :class:`Step` and every request body is kept in :attr:`FakeServer.requests`
so a test can assert what reached the "model" (e.g. the diagnostics of a rejected attempt).

Only the standard library is used; the server runs in a daemon thread on a random port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

ANSWER_GRACE_S = 5.0  # how long leaving the server waits for answers in progress to end


@dataclass
class Step:
    """One scripted answer.

    - ``text``: a normal 200 reply whose single text block is this string, or a function of the
      request body returning it (a scripted "model" that answers what it is asked);
    - ``status`` (with ``body``/``headers``): an HTTP error such as 429 or 500;
    - ``raw``: these exact bytes as a 200 body (a truncated JSON document, say);
    - ``delay``: seconds to wait before answering (longer than the client timeout = a timeout);
    - ``close``: drop the connection without answering;
    - ``drip``: send the answer one byte at a time, ``drip`` seconds apart (a server that keeps
      every read timeout happy and never finishes), from the status line on, or only the body
      when ``drip_body_only`` (the headers arrive at once).
    """

    text: str | Callable[[dict[str, Any]], str] | None = None
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0
    close: bool = False
    stop_reason: str = "end_turn"
    usage: dict[str, int] | None = None
    drip: float = 0.0
    drip_body_only: bool = False


def reply(text: str, **kw: Any) -> Step:
    return Step(text=text, **kw)


def rate_limited(retry_after_ms: int = 10) -> Step:
    """A 429 that asks the client to come back after ``retry_after_ms`` (keeps tests fast)."""
    return Step(
        status=429,
        body={
            "type": "error",
            "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"},
        },
        headers={"retry-after-ms": str(retry_after_ms)},
    )


def server_error(status: int = 500, retry_after_ms: int = 10) -> Step:
    return Step(
        status=status,
        body={"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
        headers={"retry-after-ms": str(retry_after_ms)},
    )


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeServer:
    """``with FakeServer([reply("..."), rate_limited(), ...]) as srv: ...``; ``srv.url`` is the
    base_url.  When the script runs out, further requests get a 500 with ``x-should-retry:
    false`` so an unexpected extra call fails fast and visibly."""

    def __init__(self, steps: list[Step], model: str = "claude-fake"):
        self.steps = list(steps)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._cache: set[str] = set()
        self._stopping = threading.Event()  # ends dripping answers when the server shuts down
        self.dripped: list[int] = []  # bytes sent by each dripping answer before it stopped
        self._answering = 0  # requests being answered; leaving the ``with`` block waits for them
        self._answered = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        # Answers in progress end at once (a drip stops at the event); wait for them, so that
        # what they record (``dripped``) is complete when the block is left, even on a loaded
        # machine where the handler thread has not yet run to its end.
        with self._answered:
            self._answered.wait_for(lambda: self._answering == 0, timeout=ANSWER_GRACE_S)
        self._server.shutdown()
        self._server.server_close()

    def request_texts(self) -> list[str]:
        """Every request flattened to text (system + messages), in arrival order."""
        out = []
        for body in self.requests:
            parts = [_flatten(body.get("system"))]
            for m in body.get("messages", []):
                parts.append(_flatten(m.get("content")))
            out.append("\n".join(parts))
        return out

    def _usage(self, body: dict[str, Any], reply_text: str) -> dict[str, int]:
        """Token counts (about 4 characters a token) with prompt caching simulated the way the
        service does it: the prompt up to the last ``cache_control`` block is written to the
        cache the first time and read from it afterwards."""
        blocks: list[tuple[str, bool]] = []
        system = body.get("system")
        if isinstance(system, list):
            blocks += [(b.get("text", ""), "cache_control" in b) for b in system if isinstance(b, dict)]
        elif isinstance(system, str):
            blocks.append((system, False))
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, list):
                blocks += [(b.get("text", ""), "cache_control" in b) for b in content if isinstance(b, dict)]
            else:
                blocks.append((str(content), False))
        last = max((i for i, (_, c) in enumerate(blocks) if c), default=-1)
        prefix = "".join(t for t, _ in blocks[: last + 1])
        rest = "".join(t for t, _ in blocks[last + 1 :])
        write = read = 0
        if prefix:
            with self._lock:
                if prefix in self._cache:
                    read = _estimate_tokens(prefix)
                else:
                    self._cache.add(prefix)
                    write = _estimate_tokens(prefix)
        return {
            "input_tokens": _estimate_tokens(rest) if rest else 0,
            "output_tokens": _estimate_tokens(reply_text),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Step | None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self.steps.pop(0) if self.steps else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                with server._answered:
                    server._answering += 1
                try:
                    self._answer()
                finally:
                    with server._answered:
                        server._answering -= 1
                        server._answered.notify_all()

            def _answer(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                data = self.rfile.read(length)
                try:
                    body = json.loads(data)
                except ValueError:
                    body = {"_unparsed": data.decode("utf-8", "replace")}
                step = server._next(body, {k.lower(): v for k, v in self.headers.items()})
                if not self.path.rstrip("/").endswith("/v1/messages"):
                    self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})
                    return
                if step is None:
                    self._send(
                        500,
                        {"type": "error", "error": {"type": "api_error", "message": "script exhausted"}},
                        {"x-should-retry": "false"},
                    )
                    return
                if step.delay and server._stopping.wait(step.delay):
                    return  # the server is shutting down: the client has long gone
                if step.close:
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.close()
                    return
                self._drip = step.drip
                self._drip_body_only = step.drip_body_only
                if step.raw is not None:
                    self._send_bytes(200, step.raw, {})
                    return
                if step.status != 200:
                    self._send(step.status, step.body or {}, step.headers)
                    return
                text = step.text(body) if callable(step.text) else (step.text or "")
                usage = step.usage or server._usage(body, text)
                msg = {
                    "id": f"msg_fake_{len(server.requests)}",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", server.model),
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": step.stop_reason,
                    "stop_sequence": None,
                    "usage": usage,
                }
                self._send(200, msg, step.headers)

            def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                self._send_bytes(status, json.dumps(obj).encode(), headers or {})

            _drip = 0.0
            _drip_body_only = False

            def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                if self._drip:
                    self._send_dripping(status, data, headers)
                    return
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", f"req_fake_{len(server.requests)}")
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def _send_dripping(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}", "content-type: application/json",
                         f"content-length: {len(data)}", f"request-id: req_fake_{len(server.requests)}"]
                lines += [f"{k}: {v}" for k, v in headers.items()]
                head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                sent = 0
                try:
                    if self._drip_body_only:
                        self.wfile.write(head)
                        self.wfile.flush()
                        sent, payload = len(head), data
                    else:
                        payload = head + data
                    for i in range(len(payload)):
                        if server._stopping.wait(self._drip):
                            break
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                        sent += 1
                except (BrokenPipeError, ConnectionResetError, OSError):  # the client gave up
                    pass
                finally:
                    server.dripped.append(sent)
                    self.close_connection = True

        return Handler


def _flatten(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)
