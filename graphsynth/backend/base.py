"""What every part of the torch backend shares: the dtype map, the lowering error, small helpers
on the IR's values, and the attribute names the backend reserves in a lowered module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from xdsl.ir import SSAValue

from graphsynth.diagnostics import GraphsynthError, error
from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import DTYPES
from graphsynth.dialects.rules import Sig

TORCH_DTYPES: dict[str, torch.dtype] = {name: getattr(torch, d.torch) for name, d in DTYPES.items()}
"""gs dtype name -> torch dtype, from the dtype table."""

# Submodules the backend adds to a lowered module (names under the reserved ``_gs_`` prefix, which
# no state_dict key can take as it is: see graphsynth.backend.state).
CONSTANTS = "_gs_constants"  # tensors that are part of the program (non-persistent buffers)
FUSED = "_gs_fused"  # kernels of fused regions
CALLS = "_gs_calls"  # lowered graphs that `call` ops call

Arg = Any  # an fx.Node (a tensor), a Python literal, or None
FusedHook = Callable[[gs.FusedOp], "Callable[..., Any] | None"]


class LoweringError(GraphsynthError):
    """Verified IR that this backend cannot turn into torch code (GS604)."""


def fail(op: Any, message: str, **kw: Any) -> LoweringError:
    """GS604 naming the op being lowered, at its place in the text (with its source line), as
    every diagnostic is."""
    from graphsynth.diagnostics import source_line
    from graphsynth.verifier.locations import location

    opname = op.name.removeprefix("gs.") if op is not None else None
    loc = location(op) if op is not None else None
    d = error("GS604", f"{opname}: {message}" if opname else message, op=opname, loc=loc, **kw)
    d.source_line = source_line(loc)
    return LoweringError([d])


def type_of(value: SSAValue) -> gs.TensorType:
    t = value.type
    assert isinstance(t, gs.TensorType)
    return t


def sig_of(value: SSAValue) -> Sig:
    return type_of(value).sig()


def norm_dim(d: int, rank: int) -> int:
    return d % rank if rank else 0
