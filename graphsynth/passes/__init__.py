"""Passes over gs IR: the pass machinery (registry, transactional runner) and the passes we ship.

The table of every pass by name, ``llm-rewrite`` included, is :func:`graphsynth.pipeline.all_passes`
(a layer above this package, so that no pass imports the LLM driver).
"""

from __future__ import annotations

from typing import Any

from graphsynth.passes.registry import PASSES, parse_pipeline, register, run_pipeline

__all__ = ["PASSES", "all_patterns", "parse_pipeline", "register", "run_pipeline"]


def all_patterns() -> list[Any]:
    """The rewrite patterns of the shipped passes, each usable on its own: the ops'
    canonicalization patterns (each restricted to the ops that declare it), linear+activation
    fusion and the constant-folding patterns."""
    from graphsynth.passes.canonicalize import canonicalization_patterns
    from graphsynth.passes.fold_constants import FoldConstantOp, FoldScalarChain, FoldSplatElementwise, FullLikeToFull
    from graphsynth.passes.fusion import FuseLinearActivation

    return [*canonicalization_patterns(), FuseLinearActivation(), FullLikeToFull(), FoldSplatElementwise(),
            FoldConstantOp(), FoldScalarChain()]
