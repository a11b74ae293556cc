"""Passes over gs IR: the registry, the pipeline runner and the passes we ship."""

from graphsynth.passes.registry import PASSES, parse_pipeline, register, run_pipeline

__all__ = ["PASSES", "parse_pipeline", "register", "run_pipeline"]
