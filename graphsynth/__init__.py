"""graphsynth: an MLIR-style compiler for neural-network graphs.

    import graphsynth as gs
    m     = gs.import_torch(model, example_inputs, dynamic_dims={"x": {0: "B"}})
    text  = gs.print_ir(m, depth=None)
    m     = gs.parse_ir(text, filename="m.gs")
    diags = gs.verify(m)
    m2    = gs.run_pipeline(m, "canonicalize,cse")
    net   = gs.lower(m2)

Importing this package does not import torch or sympy: the verifier is embeddable in compilers
that use neither.  Every function loads its module on first use (PEP 562), so ``import
graphsynth`` costs only the diagnostics; the torch-facing functions load torch then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphsynth.diagnostics import (
    Diagnostic,
    FrontendError,
    GraphsynthError,
    Location,
    ParseError,
    PassError,
    VerificationError,
)

if TYPE_CHECKING:
    from graphsynth.backend.lower import lower
    from graphsynth.frontend.importer import import_torch
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.grammar.printer import print_ir
    from graphsynth.pipeline import run_pipeline
    from graphsynth.verifier import verify

__version__ = "0.1.0"

_LAZY = {
    "parse_ir": ("graphsynth.grammar.parser", "parse_ir"),
    "print_ir": ("graphsynth.grammar.printer", "print_ir"),
    "verify": ("graphsynth.verifier", "verify"),
    "run_pipeline": ("graphsynth.pipeline", "run_pipeline"),
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
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later lookups skip this function
        return value
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
