"""A one-line progress display for people at a terminal: trained/budget, candidates per second,
the valid rate and the best metric so far.  Off when stderr is not a terminal (logs stay clean)."""

from __future__ import annotations

import sys
import time
from typing import IO


class Progress:
    def __init__(self, total: int, label: str, *, enabled: bool | None = None, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self.total = total
        self.label = label
        self.t0 = time.perf_counter()
        self.start_done: int | None = None
        self._last = 0.0
        self._open = False

    def update(self, done: int, proposals: int, valid_rate: float, best: float | None) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.start_done is None:
            self.start_done = done
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        width = 24
        filled = int(width * min(done, self.total) / max(self.total, 1))
        rate = (done - self.start_done) / max(now - self.t0, 1e-9)
        best_txt = "-" if best is None else f"{best:.4f}"
        line = (f"\r[{self.label}] |{'#' * filled}{'.' * (width - filled)}| {done}/{self.total} trained "
                f"| {rate:.2f} cand/s | valid {valid_rate:.0%} of {proposals} | best {best_txt}")
        self.stream.write(line)
        self.stream.flush()
        self._open = True

    def close(self) -> None:
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
