"""Property-based testing of rewrites: hypothesis strategies for random well-typed gs modules
(:mod:`graphsynth.testing.strategies`) and :func:`assert_rewrite_sound`, which checks that a pass,
a pattern or any module-to-module function keeps modules valid, keeps their interface and
computes the same function (see docs/writing-passes.md).  :mod:`graphsynth.testing.hostile` has
strategies for hostile text (dims, names, nesting) to feed a parser and a verifier.

Importing this package does not import hypothesis or torch; the strategies module needs
hypothesis, the numerical check needs torch.
"""

from __future__ import annotations

from graphsynth.testing.soundness import (
    RewriteUnsound,
    apply_rewrite,
    assert_rewrite_sound,
    check_rewrite,
    default_bindings,
)

__all__ = ["RewriteUnsound", "apply_rewrite", "assert_rewrite_sound", "check_rewrite", "default_bindings", "strategies"]


def __getattr__(name: str):
    if name == "strategies":
        import importlib

        return importlib.import_module("graphsynth.testing.strategies")
    raise AttributeError(f"module 'graphsynth.testing' has no attribute '{name}'")
