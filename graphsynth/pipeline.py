"""Pipelines: the table of every pass by name and the functions that parse and run pipelines.

:func:`all_passes` is lazy in the way of xDSL's ``get_all_passes``: each entry imports its pass
when the pipeline names it, so ``graphsynth-opt -p cse`` loads neither the fusion passes nor the
LLM driver.  It sits above both the passes and the LLM driver (``llm-rewrite`` is a pass like the
others), so no pass imports the driver.  Passes users register with
:func:`graphsynth.passes.registry.register` are in the table too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from graphsynth.passes.registry import PASSES, PassTable
from graphsynth.passes.registry import parse_pipeline as _parse
from graphsynth.passes.registry import run_pipeline as _run

__all__ = ["all_passes", "parse_pipeline", "run_pipeline"]

# name -> (module, class) of each pass this package ships.
_SHIPPED: dict[str, tuple[str, str]] = {
    "verify": ("graphsynth.passes.builtin", "VerifyPass"),
    "canonicalize": ("graphsynth.passes.builtin", "CanonicalizePass"),
    "dce": ("graphsynth.passes.builtin", "DcePass"),
    "cse": ("graphsynth.passes.builtin", "CsePass"),
    "print-summary": ("graphsynth.passes.builtin", "PrintSummaryPass"),
    "fold-constants": ("graphsynth.passes.fold_constants", "FoldConstantsPass"),
    "fuse-linear-activation": ("graphsynth.passes.fusion", "FuseLinearActivationPass"),
    "fuse-elementwise": ("graphsynth.passes.fusion", "FuseElementwisePass"),
    "insert-block": ("graphsynth.passes.insert_block", "InsertBlockPass"),
    "outline": ("graphsynth.passes.outline", "OutlinePass"),
    "inline": ("graphsynth.passes.outline", "InlinePass"),
    "llm-rewrite": ("graphsynth.llm.rewrite_pass", "LLMRewritePass"),
}


def _loader(module: str, name: str) -> Callable[[], Any]:
    return lambda: getattr(importlib.import_module(module), name)


def all_passes() -> PassTable:
    """Pass name -> a function returning its class (imported on first call)."""
    table: PassTable = {name: _loader(*where) for name, where in _SHIPPED.items()}
    table.update((k, v) for k, v in PASSES.items() if k not in table)
    return table


def parse_pipeline(pipeline: str) -> list[Any]:
    """Pipeline text -> pass instances (unknown passes and options raise PassError, GS404)."""
    return _parse(pipeline, all_passes())


def run_pipeline(module: Any, pipeline: str | list[Any], *,
                 after_pass: Callable[[Any, Any, Any], None] | None = None) -> Any:
    """Apply ``pipeline`` to a clone of ``module`` and return the new module (the input is
    untouched); each pass is followed by the verifier and rolled back when the result does not
    verify.  ``after_pass(pass, before, after)`` is called after each pass that verified."""
    return _run(module, pipeline, after_pass=after_pass, table=all_passes())
