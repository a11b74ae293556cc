"""What an fx node of an exported program says about itself: where it comes from in the model's
source (file, line, the line's text), its module stack, its ATen op name, and its arguments bound
to the ATen schema's names."""

from __future__ import annotations

import re
from typing import Any

import torch

from graphsynth.diagnostics import Location

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)')


def source_of(node: Any) -> tuple[Location | None, str | None]:
    """The innermost user frame of a node's stack trace: (file:line, code)."""
    trace = node.meta.get("stack_trace") if node is not None else None
    if not trace:
        return None, None
    frames = _FRAME.findall(trace)
    if not frames:
        return None, None
    # Prefer the innermost frame outside torch itself (the model's own code).
    pick = frames[-1]
    for f in reversed(frames):
        if "/torch/" not in f[0]:
            pick = f
            break
    return Location(pick[0], int(pick[1]), 1), pick[3]


def module_stack(node: Any) -> tuple[tuple[str, str], ...] | None:
    """``nn_module_stack`` as ((path, class name), ...), outermost first, without the root."""
    st = node.meta.get("nn_module_stack")
    if not st:
        return None
    out = []
    for path, cls in st.values():
        path = re.sub(r"@\d+$", "", str(path))
        if not path:
            continue
        name = cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1]
        if out and out[-1][0] == path:
            continue
        out.append((path, name))
    return tuple(out)


def aten_name(target: Any) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    if isinstance(target, torch._ops.HigherOrderOperator):
        return target.name()
    return getattr(target, "__name__", str(target))


def packet_name(target: Any) -> str:
    """``aten.add_.Tensor`` -> ``add_``; higher-order ops and Python functions by name."""
    if isinstance(target, torch._ops.OpOverload):
        return target._schema.name.split("::", 1)[-1]
    if isinstance(target, torch._ops.HigherOrderOperator):
        return target.name()
    return getattr(target, "__name__", str(target))


def bind(node: Any) -> dict[str, Any]:
    """The node's arguments by schema name, with defaults filled in."""
    target = node.target
    if not isinstance(target, torch._ops.OpOverload):
        return {f"arg{i}": a for i, a in enumerate(node.args)} | dict(node.kwargs)
    out: dict[str, Any] = {}
    for i, a in enumerate(target._schema.arguments):
        if i < len(node.args):
            out[a.name] = node.args[i]
        elif a.name in node.kwargs:
            out[a.name] = node.kwargs[a.name]
        elif a.has_default_value():
            out[a.name] = a.default_value
        else:
            out[a.name] = None
    return out
