"""The torch lowerings of every op, one module per op family; importing this package registers them
all in :data:`graphsynth.backend.registry.LOWERINGS` (the lowerer imports it before it looks one up)."""

from __future__ import annotations

from graphsynth.backend.lowerings import (
           call,
           creation,
           dynamic,
           elementwise,
           index,
           linalg,
           norm,
           pool,
           reduce,
           shape,
           spectral,
)
from graphsynth.backend.registry import ALLOCATES, LOWERINGS

__all__ = ["ALLOCATES", "LOWERINGS", "call", "creation", "dynamic", "elementwise", "index", "linalg", "norm", "pool", "reduce", "shape",
           "spectral"]
