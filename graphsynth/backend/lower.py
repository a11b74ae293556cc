"""gs IR -> ``torch.nn.Module``: the backend's entry points (``gs.lower`` is :func:`lower`).

This module decides what the fx lowerer (:mod:`graphsynth.backend.fx`) is asked to do: it
verifies the module first (only verified IR is lowered), picks the graph, resolves the
``fusion=`` choice to a hook for ``gs.fused`` regions (:data:`FUSIONS`: the fx lowerer itself
knows no kernel generator) and prints the generated code for ``--emit=python``.

The parts, each one job: :mod:`~graphsynth.backend.fx` walks a graph and emits fx nodes through
the lowerings registered by op class (:mod:`~graphsynth.backend.registry`,
:mod:`~graphsynth.backend.lowerings`); :mod:`~graphsynth.backend.state` maps ``state_dict`` keys
to attributes (mangling names torch uses, ``_gs_n_``); :mod:`~graphsynth.backend.budget` sums
what lowering allocates before the first tensor is made (GS605); :mod:`~graphsynth.backend.triton`
generates kernels for fused regions.
"""

from __future__ import annotations

import importlib

from torch import fx
from xdsl.dialects.builtin import ModuleOp

from graphsynth.backend.base import CONSTANTS, TORCH_DTYPES, FusedHook, LoweringError, type_of
from graphsynth.backend.budget import (
    DEFAULT_MEMORY_FRACTION,
    Budget,
    default_max_param_bytes,
    format_bytes,
    tensor_bytes,
)
from graphsynth.backend.fx import FxLowerer, lower_graph
from graphsynth.backend.lowerings import LOWERINGS
from graphsynth.backend.state import SAFE_STATE_PART, is_persistent, state_attr, tie_shared_parameters
from graphsynth.diagnostics import Diagnostic, VerificationError, error
from graphsynth.dialects import gs

__all__ = ["DEFAULT_MEMORY_FRACTION", "FUSIONS", "LOWERINGS", "TORCH_DTYPES", "LoweringError",
           "default_max_param_bytes", "format_bytes", "lower", "lower_graph", "pick_graph", "state_attr",
           "tensor_bytes", "tie_shared_parameters", "to_python"]

FUSIONS: dict[str, tuple[str, str] | None] = {
    "inline": None,
    "triton": ("graphsynth.backend.triton", "fused_hook"),
}
"""``fusion=`` choice -> the module and name of its hook for fused regions (None: inline the
region's ops).  Imported when chosen: the kernel generator is not loaded for inline lowering."""


def fused_hook_for(fusion: str) -> FusedHook | None:
    """The hook of a ``fusion=`` choice; an unknown choice is a GS604 LoweringError."""
    if fusion not in FUSIONS:
        choices = " | ".join(repr(k) for k in FUSIONS)
        raise LoweringError([error("GS604", f"lower: unknown fusion {fusion!r}", expected=choices, got=repr(fusion))])
    where = FUSIONS[fusion]
    if where is None:
        return None
    return getattr(importlib.import_module(where[0]), where[1])


def lower(module: ModuleOp, *, graph: str | None = None, fused: FusedHook | None = None,
          fusion: str | None = None, max_param_bytes: int | None = None) -> fx.GraphModule:
    """Lower a verified module to a ``torch.fx.GraphModule``.

    Unverified IR is refused: the verifier runs first and any diagnostic raises
    :class:`~graphsynth.diagnostics.VerificationError` carrying them, because code generated from
    an ill-typed graph would fail far from the cause (or, worse, compute something else).
    ``graph`` picks a graph by name when the module holds several.  ``fused(op)`` may return a
    callable (an ``nn.Module`` or a function) that computes a ``gs.fused`` region; ``None`` (or no
    hook) inlines the region's body.  ``fusion="triton"`` is a shorthand for
    ``fused=graphsynth.backend.triton.fused_hook`` (generated Triton kernels on CUDA, torch ops on
    CPU); ``fusion="inline"`` (or None) inlines.

    ``max_param_bytes`` bounds what lowering allocates (parameters, buffers and constants, summed):
    more raises :class:`LoweringError` with a GS605 diagnostic before any tensor is made.  None
    (the default) takes :func:`default_max_param_bytes`, what the machine has available now.
    """
    if fusion is not None:
        hook = fused_hook_for(fusion)
        if fused is not None:
            raise LoweringError([error("GS604", "lower: give either fused= or fusion=, not both")])
        fused = hook
    diags = _verify(module)
    if diags:
        raise VerificationError(diags, f"cannot lower a module that does not verify: {diags[0].message}"
                                + (f" (and {len(diags) - 1} more)" if len(diags) > 1 else ""))
    return lower_graph(pick_graph(module, graph), fused=fused, max_param_bytes=max_param_bytes)


def to_python(module: ModuleOp, *, graph: str | None = None) -> str:
    """The generated torch code, for reading (``--emit=python``): the declarations of the
    parameters and buffers, then the ``forward`` that fx generated.  The module is built on the
    ``meta`` device: printing allocates no parameter, whatever the types declare."""
    diags = _verify(module)
    if diags:
        raise VerificationError(diags, f"cannot lower a module that does not verify: {diags[0].message}")
    g = pick_graph(module, graph)
    gm = FxLowerer(g, None, budget=Budget.addressable(), device="meta").build()
    attrs = gm.meta.get("gs_state_attrs", {})
    lines = [f"# generated by graphsynth from graph {g.graph_name!r}", "# state (state_dict key, kind, type):"]
    for op in g.body.block.ops:
        if isinstance(op, gs.ParamOp):
            key = op.param_name.data
            shown = key if all(SAFE_STATE_PART.match(p) for p in key.split(".")) else repr(key)
            kind = op.kind.data + ("" if is_persistent(op) else " (not persistent)")
            held = f" (attribute {attrs[key]})" if key in attrs else ""
            lines.append(f"#   {shown}: {kind} {type_of(op.results[0])}{held}")
    consts = getattr(gm, CONSTANTS, None)
    if consts is not None:
        lines.append(f"# constants (non-persistent buffers under {CONSTANTS}):")
        for name, buf in consts.named_buffers():
            lines.append(f"#   {name}: {str(buf.dtype).replace('torch.', '')}{list(buf.shape)}")
    return "\n".join(lines) + "\n" + gm.code.strip("\n") + "\n"


def _verify(module: ModuleOp) -> list[Diagnostic]:
    from graphsynth.verifier import verify

    return list(verify(module))


def pick_graph(module: ModuleOp, name: str | None) -> gs.GraphOp:
    """The graph to lower: the one named ``name``; else the only graph, or the entry graph after
    ``outline`` (the one graph nobody calls).  Anything else is a GS604 LoweringError."""
    graphs = gs.graph_ops(module)
    if name is None and len(graphs) > 1:
        called = {op.attr_values()["callee"] for g in graphs for op in g.body.walk() if isinstance(op, gs.Call)}
        roots = [g for g in graphs if g.graph_name not in called]
        if len(roots) == 1 and called:
            return roots[0]
    if name is not None:
        for g in graphs:
            if g.graph_name == name:
                return g
        known = ", ".join(g.graph_name for g in graphs) or "none"
        raise LoweringError([error("GS604", f"lower: no graph named '{name}' (graphs: {known})")])
    if len(graphs) == 1:
        return graphs[0]
    if not graphs:
        raise LoweringError([error("GS604", "lower: the module holds no graph")])
    raise LoweringError([error(
        "GS604",
        f"lower: the module holds {len(graphs)} graphs; pick one with graph=NAME",
        notes=["graphs: " + ", ".join(g.graph_name for g in graphs)],
    )])
