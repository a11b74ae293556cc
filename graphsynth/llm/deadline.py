"""A total wall-clock deadline for HTTP requests made through the ``anthropic`` SDK.

httpx's timeouts (and so the SDK's ``timeout=``) bound each connect, each read and each write
separately: a server that sends one byte a second never trips a 5 s read timeout and can hold a
request for as long as it likes.  Here every socket operation of a request (connect, TLS
handshake, each read, each write of at most :data:`WRITE_CHUNK` bytes) gets
``min(its own timeout, time left before the deadline)``, and one that would start after the
deadline fails at once with httpcore's timeout error, which the SDK reports as
``APITimeoutError``.  So a request ends by its deadline whatever the server does with the status
line, the headers or the body.

The deadline is per call, held in a context variable (``with deadline(at): client.messages.create(...)``),
so one client serves concurrent callers with their own deadlines; outside such a block requests
have only their ordinary timeouts.  The transport wraps httpcore's own network backend, so TLS,
proxies from the environment and connection pooling are httpx's.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore2
import httpx2

WRITE_CHUNK = 16 * 1024  # bytes per write: one TLS record; a slow reader cannot stretch one write

_DEADLINE: ContextVar[float | None] = ContextVar("graphsynth_http_deadline", default=None)


@contextlib.contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Requests made inside end by ``at`` (a ``time.monotonic()`` value; None: no deadline)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _clamp(timeout: float | None, exc: type[Exception]) -> float | None:
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise exc("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        while view:
            self._inner.write(bytes(view[:WRITE_CHUNK]), _clamp(timeout, httpcore2.WriteTimeout))
            view = view[WRITE_CHUNK:]

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore2.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore2.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _clamp(timeout, httpcore2.ConnectTimeout), local_address,
                                               socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore2.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _clamp(timeout, httpcore2.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        at = _DEADLINE.get()
        self._inner.sleep(seconds if at is None else max(0.0, min(seconds, at - time.monotonic())))


class DeadlineTransport(httpx2.HTTPTransport):
    """``httpx2.HTTPTransport`` (same arguments) whose network operations obey :func:`deadline`."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        pool = self._pool
        inner = getattr(pool, "_network_backend", None)
        if inner is None:  # a layout this module was not written for: refuse rather than run unbounded
            raise RuntimeError("httpcore2's connection pool has no _network_backend; cannot enforce deadlines")
        pool._network_backend = _Backend(inner)


def _keepalive_options() -> list[tuple[int, int, int]]:
    """The TCP keep-alive settings the SDK gives its own transport."""
    opts = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPINTVL", 60), ("TCP_KEEPCNT", 5), ("TCP_KEEPIDLE", 60)):
        const = getattr(socket, name, None)
        if const is not None:
            opts.append((socket.IPPROTO_TCP, const, value))
    if sys.platform == "darwin" and not hasattr(socket, "TCP_KEEPINTVL"):  # pragma: no cover
        opts.append((socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPALIVE", 0x10), 60))
    return opts


def http_client() -> httpx2.Client:
    """An HTTP client for ``anthropic.Anthropic(http_client=...)`` whose requests obey
    :func:`deadline`: the SDK's defaults, with every transport (direct, and one per proxy named by
    the environment, as the SDK would mount them) a :class:`DeadlineTransport`."""
    from anthropic import DefaultHttpxClient

    try:  # what httpx itself reads (HTTPS_PROXY, ALL_PROXY, NO_PROXY ...), as the SDK does
        from httpx2._utils import get_environment_proxies

        proxies = get_environment_proxies()
    except ImportError:  # pragma: no cover - a later httpx2 moved it: no proxies rather than unbounded ones
        proxies = {}
    opts = _keepalive_options()
    mounts = {key: None if url is None else DeadlineTransport(proxy=url, socket_options=opts)
              for key, url in proxies.items()}
    return DefaultHttpxClient(transport=DeadlineTransport(socket_options=opts), mounts=mounts)
