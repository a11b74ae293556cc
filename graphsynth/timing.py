"""Wall-clock timers for the phases of a tool run, reported as mlir-opt's ``--mlir-timing`` does.

A :class:`Timer` holds a tree of named phases (read, parse, verify, pipeline -> one row per pass
-> the verifier after it, print, write).  A phase entered twice (``--split-input-file`` chunks)
accumulates.  The text report has mlir-opt's layout::

    ===-------------------------------------------------------------------------===
                             ... Execution time report ...
    ===-------------------------------------------------------------------------===
      Total Execution Time: 0.0135 seconds

      ----Wall Time----  ----Name----
        0.0004 (  3.1%)  Parse
        0.0111 ( 82.4%)  Pipeline
        0.0019 ( 14.0%)    canonicalize
        0.0005 (  3.7%)      Verify
        ...
        0.0135 (100.0%)  Total

A parent's time includes its children's.  ``Rest`` is the time of the run that no phase
accounts for (argument parsing, imports, reporting).  The JSON report is the same tree:
``{"total": {"wall": {"duration": s, "percentage": 100.0}}, "timers": [{"name": ..., "wall":
{"duration": s, "percentage": p}, "passes": [...children...]}, ...]}``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Phase", "Timer"]

BAR = "===" + "-" * 73 + "==="


@dataclass
class Phase:
    name: str
    wall: float = 0.0
    children: dict[Any, Phase] = field(default_factory=dict)

    def child(self, name: str, key: Any = None) -> Phase:
        k = name if key is None else key
        c = self.children.get(k)
        if c is None:
            c = self.children[k] = Phase(name)
        return c


class Timer:
    """Nested phase timers (see the module docstring); ``time.perf_counter`` wall time."""

    def __init__(self, started: float | None = None) -> None:
        """``started``: the ``time.perf_counter()`` the run began at (default: now)."""
        self.root = Phase("Total")
        self._stack = [self.root]
        self._t0 = time.perf_counter() if started is None else started

    @contextlib.contextmanager
    def phase(self, name: str, key: Any = None) -> Iterator[Phase]:
        node = self._stack[-1].child(name, key)
        self._stack.append(node)
        t = time.perf_counter()
        try:
            yield node
        finally:
            node.wall += time.perf_counter() - t
            self._stack.pop()

    def add(self, node: Phase, seconds: float) -> None:
        node.wall += seconds

    @property
    def current(self) -> Phase:
        return self._stack[-1]

    def total(self) -> float:
        return time.perf_counter() - self._t0

    def _rows(self, total: float) -> list[tuple[int, Phase]]:
        rows: list[tuple[int, Phase]] = []

        def walk(node: Phase, depth: int) -> None:
            for c in node.children.values():
                rows.append((depth, c))
                walk(c, depth + 1)

        walk(self.root, 0)
        rest = total - sum(c.wall for c in self.root.children.values())
        rows.append((0, Phase("Rest", max(rest, 0.0))))
        return rows

    def report_text(self) -> str:
        total = self.total()
        pct = (lambda s: 100.0 * s / total) if total > 0 else (lambda s: 0.0)
        out = [BAR, " " * 25 + "... Execution time report ...", BAR,
               f"  Total Execution Time: {total:.4f} seconds", "", "  ----Wall Time----  ----Name----"]
        for depth, node in self._rows(total):
            out.append(f"  {node.wall:8.4f} ({pct(node.wall):5.1f}%)  {'  ' * depth}{node.name}")
        out.append(f"  {total:8.4f} ({100.0 if total > 0 else 0.0:5.1f}%)  Total")
        return "\n".join(out) + "\n"

    def report_json(self) -> str:
        total = self.total()

        def wall(s: float) -> dict[str, float]:
            return {"duration": round(s, 6), "percentage": round(100.0 * s / total, 1) if total > 0 else 0.0}

        def tree(node: Phase) -> dict[str, Any]:
            return {"name": node.name, "wall": wall(node.wall), "passes": [tree(c) for c in node.children.values()]}

        timers = [tree(c) for c in self.root.children.values()]
        rest = max(total - sum(c.wall for c in self.root.children.values()), 0.0)
        timers.append({"name": "Rest", "wall": wall(rest), "passes": []})
        import json  # only --timing-format=json needs it (start-up)

        return json.dumps({"total": {"wall": wall(total)}, "timers": timers}, indent=1) + "\n"

    def report(self, fmt: str = "text") -> str:
        return self.report_json() if fmt == "json" else self.report_text()
