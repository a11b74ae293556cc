"""``import_torch``: a torch.nn.Module -> gs IR, through torch.export (non-strict).

The steps, each with its own failure mode and diagnostic:

1. bind the example inputs to ``forward``'s signature: tensors become graph inputs (named by
   the forward's argument names), everything else (``return_dict=False``, ``use_cache=False``)
   is bound as a constant, so export traces exactly the call the user means (GS601 on a
   mismatch);
2. turn ``dynamic_dims`` into ``torch.export.Dim`` objects: a symbol name gives a ``Dim`` of that
   name (one object per name, so equal names are equal sizes), an unnamed dim gets the readable
   name ``<input>_<axis>``, a ``Dim`` or Dim expression is used as given;
3. export; when export narrows the range of a dim that was given only by name (``S <= 64``
   because of a position table), retry once with that range, because a name says "dynamic", not
   "unbounded".  Any other constraint violation is GS603 naming the dim, the guard in the
   user's names and the source line that added it; any other failure is GS601 with export's
   reason in one message and what to do about it;
4. map export's symbols (``s0``, ``s77``) to the user's names through the input placeholders and
   convert the graph (:mod:`graphsynth.frontend.convert`).

Steps 2 and 3 are :mod:`graphsynth.frontend.exporting`.
"""

from __future__ import annotations

import inspect
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from graphsynth.diagnostics import Diagnostic, FrontendError, error
from graphsynth.frontend.exporting import DimRequest, dim_requests, export_with_diagnostics


def import_torch(model: Any, example_inputs: Any, dynamic_dims: dict[str, Any] | None = None) -> ModuleOp:
    """Import ``model`` called on ``example_inputs`` (a tuple of positional inputs or a dict of
    keyword inputs) as a gs ``ModuleOp`` holding one graph.

    ``dynamic_dims`` is keyed by ``forward``'s argument names: ``{"input_ids": {0: "B", 1: "S"}}``;
    a dim may be a symbol name, ``None`` (named ``<input>_<axis>``), or a ``torch.export.Dim``
    (or Dim expression such as ``2 * Dim("T")``) when export must know a range or divisibility.
    Raises :class:`graphsynth.FrontendError` with diagnostics (GS601 export failed, GS602
    unsupported op, GS603 specialised dynamic dim).
    """
    import torch

    from graphsynth.frontend.convert import Converter

    if not isinstance(model, torch.nn.Module):
        raise FrontendError([error("GS601", f"import_torch expects a torch.nn.Module, got {type(model).__name__}")])
    tensors, constants = bind_inputs(model, example_inputs)
    requests = dim_requests(tensors, dynamic_dims or {})
    progress = Progress(type(model).__name__)
    progress.stage("exporting with torch.export")
    refused: list[Diagnostic] = []
    ep = export_with_diagnostics(model, tensors, constants, requests, refused)
    nodes = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    progress.stage(f"converting {nodes} ATen ops")
    try:
        symbols = symbol_names(ep, tensors, requests)
        module = Converter(ep, model, symbols, list(tensors), type(model).__name__).convert()
    except FrontendError:
        if refused:  # exported only with deferred guards, and those do not hold: the guards are the story
            raise FrontendError(refused) from None
        raise
    progress.done(f"{sum(1 for _ in module.walk()) - 2} gs ops")
    return module


class Progress:
    """Import stages and op counts on stderr when it is a terminal; silent otherwise (pipes,
    logs, tests), so nothing is written where a program reads the output."""

    def __init__(self, name: str, stream: Any = None):
        import sys
        import time

        self.stream = stream if stream is not None else sys.stderr
        self.on = bool(getattr(self.stream, "isatty", lambda: False)())
        self.name = name
        self.clock = time.perf_counter
        self.t0 = self.clock()

    def stage(self, what: str) -> None:
        if self.on:
            self.stream.write(f"\r\x1b[Kimport {self.name}: {what} ({self.clock() - self.t0:.1f} s)")
            self.stream.flush()

    def done(self, what: str) -> None:
        if self.on:
            self.stream.write(f"\r\x1b[Kimport {self.name}: {what} in {self.clock() - self.t0:.1f} s\n")
            self.stream.flush()


# -- 1. inputs --------------------------------------------------------------------------------


def bind_inputs(model: Any, example_inputs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensor inputs by forward argument name in signature order, constant keyword inputs)."""
    import torch

    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError) as e:
        raise FrontendError([error("GS601", f"cannot read the signature of {type(model).__name__}.forward: {e}")]) from None
    try:
        if isinstance(example_inputs, dict):
            bound = sig.bind_partial(**example_inputs)
        elif isinstance(example_inputs, (tuple, list)):
            bound = sig.bind_partial(*example_inputs)
        elif isinstance(example_inputs, torch.Tensor):
            bound = sig.bind_partial(example_inputs)
        else:
            raise FrontendError(
                [error("GS601", f"example_inputs must be a tuple of positional inputs or a dict of keyword inputs, got {type(example_inputs).__name__}")]
            )
    except TypeError as e:
        raise FrontendError(
            [error("GS601", f"example inputs do not match {type(model).__name__}.forward{sig}: {e}", fix="pass the inputs forward() takes, by position (tuple) or by name (dict)")]
        ) from None
    tensors: dict[str, Any] = {}
    constants: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            tensors[name] = value
        elif _has_tensor(value):
            raise FrontendError(
                [
                    error(
                        "GS601",
                        f"input '{name}' is a {type(value).__name__} holding tensors; graphsynth graphs take tensors as separate inputs",
                        fix="wrap the model so that forward() takes each tensor as its own argument",
                    )
                ]
            )
        else:
            constants[name] = value

    for name, value in bound.arguments.items():
        p = sig.parameters[name]
        if p.kind == p.VAR_POSITIONAL:
            if value:
                raise FrontendError([error("GS601", f"forward(*{name}) takes variadic positional inputs, which graphsynth cannot name")])
        elif p.kind == p.VAR_KEYWORD:
            for k, v in value.items():
                put(k, v)
        elif p.kind == p.POSITIONAL_ONLY and not isinstance(value, torch.Tensor):
            raise FrontendError([error("GS601", f"positional-only non-tensor input '{name}' cannot be bound as a constant")])
        else:
            put(name, value)
    if not tensors:
        raise FrontendError([error("GS601", "the example inputs contain no tensor", fix="pass at least one tensor input")])
    return tensors, constants


def _has_tensor(v: Any) -> bool:
    import torch

    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, (list, tuple, set)):
        return any(_has_tensor(x) for x in v)
    if isinstance(v, dict):
        return any(_has_tensor(x) for x in v.values())
    return False


# -- 4. symbols -------------------------------------------------------------------------------


def symbol_names(ep: Any, tensors: dict[str, Any], requests: list[DimRequest]) -> dict[str, str]:
    """export's symbol names (``s77``) -> the user's (``S``), through the input placeholders."""
    import torch
    from torch.export.graph_signature import InputKind

    placeholders = {
        spec.arg.name: n
        for spec, n in zip(ep.graph_signature.input_specs, [n for n in ep.graph.nodes if n.op == "placeholder"])
        if spec.kind == InputKind.USER_INPUT
    }
    user_nodes = list(placeholders.values())
    by_arg = dict(zip(tensors, user_nodes))
    names: dict[str, str] = {}
    taken: set[str] = set()
    diags = []
    for r in requests:
        node = by_arg.get(r.arg)
        size = node.meta["val"].shape[r.axis] if node is not None else None
        if not isinstance(size, torch.SymInt):
            diags.append(
                error("GS603", f"dynamic dim {r.name} ({r.where()}) was specialised to {size} by export", value=r.name,
                      fix="leave it out of dynamic_dims, or change the code that fixes its size")
            )
            continue
        expr = size.node.expr
        free = sorted(expr.free_symbols, key=lambda s: s.name)
        if len(free) != 1:
            continue
        sym = free[0].name
        if sym in names and names[sym] != r.name:
            diags.append(error("GS603", f"dynamic dims {names[sym]} and {r.name} were unified by export: they are always equal", value=r.name,
                               fix=f"give both the same name ('{names[sym]}')"))
            continue
        names[sym] = r.name
        taken.add(r.name)
    if diags:
        raise FrontendError(diags)
    # Sizes export made dynamic on its own get the readable name <input>_<axis>.
    for arg, node in by_arg.items():
        for axis, size in enumerate(node.meta["val"].shape):
            if isinstance(size, torch.SymInt):
                for s in sorted(size.node.expr.free_symbols, key=lambda s: s.name):
                    if s.name not in names:
                        name = f"{arg}_{axis}"
                        while name in taken:
                            name += "_"
                        names[s.name] = name
                        taken.add(name)
    # Data-dependent sizes (nonzero's count...) keep export's name (u0) as unbacked symbols of
    # the IR, renamed only where a user's dim has that name.
    from torch.utils._sympy.symbol import SymT, symbol_is_type

    for s in sorted(getattr(ep, "range_constraints", {}), key=lambda s: str(s)):
        if getattr(s, "name", None) and symbol_is_type(s, SymT.UNBACKED_INT) and s.name not in names:
            name = s.name
            while name in taken:
                name += "_"
            names[s.name] = name
            taken.add(name)
    return names
