"""graphsynth: an MLIR-style compiler for neural-network graphs.

    import graphsynth as gs
    m     = gs.import_torch(model, example_inputs, dynamic_dims={"x": {0: "B"}})
    text  = gs.print_ir(m, depth=None)
    m     = gs.parse_ir(text, filename="m.gs")
    diags = gs.verify(m)
    m2    = gs.run_pipeline(m, "canonicalize,cse")
    net   = gs.lower(m2)

Importing this package does not import torch or sympy: the verifier is embeddable in compilers
that use neither.  The torch-facing functions load torch on first use.
"""

from __future__ import annotations

from typing import Any

from graphsynth.diagnostics import (
    Diagnostic,
    FrontendError,
    GraphsynthError,
    Location,
    ParseError,
    PassError,
    VerificationError,
)
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.pipeline import run_pipeline
from graphsynth.verifier import verify

__version__ = "0.1.0"

_LAZY = {
    "import_torch": ("graphsynth.frontend.importer", "import_torch"),
    "lower": ("graphsynth.backend.lower", "lower"),
}


# Subpackages that pull in torch (or are large) load on first attribute access, so
# `import graphsynth; graphsynth.grad.instrument(...)` works without paying for them up front.
_SUBPACKAGES = ("grad", "llm", "query", "synth", "testing", "train")


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"graphsynth.{name}")
    raise AttributeError(f"module 'graphsynth' has no attribute '{name}'")


__all__ = [
    "Diagnostic",
    "FrontendError",
    "GraphsynthError",
    "Location",
    "ParseError",
    "PassError",
    "VerificationError",
    "import_torch",
    "lower",
    "parse_ir",
    "print_ir",
    "run_pipeline",
    "verify",
]
