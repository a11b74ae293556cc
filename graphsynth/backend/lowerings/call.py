"""The lowering of ``call``: the called graph lowered once to its own GraphModule."""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Any

from torch import nn

from graphsynth.backend.base import CALLS, Arg, fail
from graphsynth.backend.registry import register
from graphsynth.backend.state import attr_part
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer


def _call(L: FxLowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """A call of another graph of the module: that graph lowered once to its own GraphModule,
    held (stateless: parameters are passed as arguments) under ``_gs_calls`` and called there."""
    name = k["callee"]
    module = L.graph_op.parent_op()
    callee = next((g for g in gs.graph_ops(module) if g.graph_name == name), None) if module is not None else None
    if callee is None:
        raise fail(L.op, f"no graph named {name!r} in the module")
    if name in L.call_stack:
        raise fail(L.op, f"graph {name!r} calls itself ({' -> '.join([*L.call_stack, name])})")
    target = L.callees.get(name)
    if target is None:
        if any(isinstance(op, gs.ParamOp) for op in callee.body.block.ops):
            raise fail(L.op, f"graph {name!r} declares parameters; a called graph takes them as inputs")
        sub = type(L)(callee, L.fused_hook, device=L.device_kind)  # its constants were counted by the caller
        sub.call_stack = (*L.call_stack, name)
        gm = sub.build()
        holder = L.root._modules.get(CALLS)
        if holder is None:
            if hasattr(L.root, CALLS):
                raise fail(L.op, f"the name '{CALLS}' is taken by the model's state")
            holder = nn.Module()
            L.root.add_module(CALLS, holder)
        attr = attr_part(re.sub(r"\W", "_", name))
        while attr in holder._modules:
            attr += "_"
        holder.add_module(attr, gm)
        target = f"{CALLS}.{attr}"
        L.callees[name] = target
    node = L.g.call_module(target, tuple(a))
    if len(out) == 1:
        return node
    return [L.call(operator.getitem, node, i) for i in range(len(out))]


register(gs.Call, _call)
