"""The allocation budget of lowering: what building a module allocates, summed from the types
before the first tensor is made.

Lowering allocates the parameters and buffers (zeros, or the op's ``init``) and the tensors some
lowerings build into the module (``constant``: see ``ALLOCATES`` beside the lowerings); nothing
else until the module runs.  A total over ``max_param_bytes`` is refused with a GS605 diagnostic
at the op's line (the key, its type, its bytes, the budget).  By default the budget is
:data:`DEFAULT_MEMORY_FRACTION` of the memory the machine has available now (see
:func:`default_max_param_bytes`), so the models that fit the machine lower and a 100-byte file
declaring ``param w: f32[1000000000]`` is refused on a machine without 4 GB to spare.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from graphsynth.backend.base import TORCH_DTYPES, LoweringError, type_of
from graphsynth.backend.registry import ALLOCATES
from graphsynth.diagnostics import Diagnostic, error, source_line
from graphsynth.dialects import gs
from graphsynth.dialects.symdim import evaluate

DEFAULT_MEMORY_FRACTION = 0.75
"""The share of the machine's available memory that lowering may fill by default."""

_MAX_TENSOR_BYTES = (1 << 63) - 1  # torch sizes storage in int64 bytes, also on the meta device
_ALWAYS_OK_BYTES = 1 << 20  # below this the machine is not asked (lowering of tiny graphs stays cheap)
_HUGE = 1 << 256  # byte counts are capped here: any such number is over every budget


def default_max_param_bytes() -> int:
    """:data:`DEFAULT_MEMORY_FRACTION` of the memory available now: ``MemAvailable`` of
    /proc/meminfo, lowered to what a cgroup (container) limit leaves, else the physical pages
    the OS reports free; 8 GiB when the machine says nothing."""
    avail = _available_memory()
    return int((avail if avail is not None else 8 << 30) * DEFAULT_MEMORY_FRACTION)


def _available_memory() -> int | None:
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            pass
    try:  # cgroup v2: the container's limit minus what it already uses
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                found.append(max(int(limit) - int(fh.read().strip()), 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def tensor_bytes(t: gs.TensorType, binding: Mapping[str, int] | None = None) -> int | None:
    """Bytes of a tensor of type ``t``, its symbols taken from ``binding``; None when a dim is
    symbolic and not bound.  Computed from the type, nothing is allocated; capped at 2**256."""
    sig = t.sig()
    n = TORCH_DTYPES[sig.dtype].itemsize
    for d in sig.shape:
        if not isinstance(d, int):
            if binding is None:
                return None
            try:
                d = evaluate(d, dict(binding))
            except Exception:  # noqa: BLE001 - an unbound symbol, a division by zero
                return None
        if d <= 0:
            return 0
        n = min(n * d, _HUGE)
    return n


def format_bytes(n: int) -> str:
    """``4000000000 bytes (3.7 GiB)``."""
    if n >= _HUGE:
        return "more than 2**256 bytes"
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n} bytes ({n / size:.1f} {unit})"
    return f"{n} bytes"


class Budget:
    """What one lowering may allocate, shared with the lowerings of called graphs."""

    def __init__(self, limit: int | None, *, addressable: bool = False):
        self.limit = limit  # None: ask the machine when the total is not tiny
        self.addressable = addressable

    @staticmethod
    def of(max_param_bytes: int | None) -> Budget:
        if max_param_bytes is not None and (isinstance(max_param_bytes, bool) or not isinstance(max_param_bytes, int)
                                            or max_param_bytes < 0):
            raise LoweringError([error("GS604", f"lower: max_param_bytes must be a number of bytes >= 0, got "
                                                f"{max_param_bytes!r}", expected="int >= 0", got=repr(max_param_bytes))])
        return Budget(max_param_bytes)

    @staticmethod
    def addressable() -> Budget:
        """On the meta device nothing is allocated, but torch still sizes storage in int64 bytes."""
        return Budget(_MAX_TENSOR_BYTES, addressable=True)

    def check(self, planned: list[tuple[Any, str, str, int | None]]) -> None:
        """``planned``: (op, what, name, bytes) for everything about to be allocated.  Raises
        GS605 at the first entry that brings the total over the limit."""
        total = 0
        limit = self.limit
        for op, what, name, nbytes in planned:
            if nbytes is None:
                continue
            total = min(total + nbytes, _HUGE)
            if limit is None and total > _ALWAYS_OK_BYTES:
                limit = self.limit = default_max_param_bytes()
            if limit is not None and (nbytes > limit or total > limit):
                raise LoweringError([self._diagnostic(op, what, name, nbytes, total, limit, planned)])

    def _diagnostic(self, op: Any, what: str, name: str, nbytes: int, total: int, limit: int,
                    planned: list[tuple[Any, str, str, int | None]]) -> Diagnostic:
        from graphsynth.verifier.locations import location

        try:
            t = str(op.results[0].type)
        except ValueError:  # a dim with more digits than Python converts to text
            t = f"{op.results[0].type.sig().dtype}[...]"
        if self.addressable:
            head = f"{what} '{name}': {t} needs {format_bytes(nbytes)}; torch cannot address a tensor that large"
            budget = f"{format_bytes(limit)} (the largest tensor torch can address)"
        else:
            head = (f"{what} '{name}': {t} needs {format_bytes(nbytes)}, over the lowering budget of "
                    f"{format_bytes(limit)}" if nbytes > limit else
                    f"{what} '{name}': {t} ({format_bytes(nbytes)}) brings what lowering allocates to "
                    f"{format_bytes(total)}, over the budget of {format_bytes(limit)}")
            budget = f"{limit} bytes (max_param_bytes)"
        largest = sorted((p for p in planned if p[3]), key=lambda p: -p[3])[:3]
        loc = location(op)
        d = error(
            "GS605", head, op=op.name.removeprefix("gs."), value=name, loc=loc,
            expected=f"<= {budget}", got=f"{nbytes} bytes",
            fix=None if self.addressable else "shrink the tensor, or raise the budget: gs.lower(..., max_param_bytes=N)",
            notes=["largest: " + ", ".join(f"{p[2]} ({format_bytes(p[3])})" for p in largest)] if len(largest) > 1 else [],
        )
        d.source_line = source_line(loc)
        return d


def planned_allocations(graph_op: gs.GraphOp) -> list[tuple[Any, str, str, int | None]]:
    """(op, what, name, bytes) of every tensor lowering ``graph_op`` would make: its state, the
    constants of its body and of the graphs it calls (each once)."""
    out: list[tuple[Any, str, str, int | None]] = []
    module = graph_op.parent_op()
    graphs = {g.graph_name: g for g in gs.graph_ops(module)} if module is not None else {}
    seen = {graph_op.graph_name}
    todo = [graph_op]
    while todo:
        g = todo.pop()
        for op in g.body.walk():
            if isinstance(op, gs.ParamOp):
                if op.alias_of is None:  # a shared parameter is the tensor of the one it names
                    out.append((op, op.kind.data, op.param_name.data, tensor_bytes(type_of(op.results[0]))))
            elif isinstance(op, gs.GsOp):
                name = op.SPEC.name
                size = ALLOCATES.get(type(op))
                if size is not None:
                    out.append((op, name, ", ".join(n for n in gs.result_names(op) if n) or name, size(op)))
                elif isinstance(op, gs.Call):
                    callee = graphs.get(op.attr_values()["callee"])
                    if callee is not None and callee.graph_name not in seen:
                        seen.add(callee.graph_name)
                        todo.append(callee)
    return out
