"""The passes every pipeline can name: verify, canonicalize, cse, dce, print-summary."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms.common_subexpression_elimination import cse
from xdsl.transforms.dead_code_elimination import region_dce

from graphsynth.diagnostics import PassError
from graphsynth.dialects import gs
from graphsynth.passes.canonicalize import canonicalization_patterns
from graphsynth.passes.registry import register


@register
@dataclass(frozen=True)
class VerifyPass(ModulePass):
    """Verify the module (the pipeline runner also verifies after every pass)."""

    name = "verify"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from graphsynth.verifier import verify

        diags = verify(op)
        if diags:
            raise PassError(self.name, diags)


def structural_text(module: ModuleOp) -> str:
    from graphsynth.grammar.printer import print_ir

    return print_ir(module)


def apply_patterns(module: ModuleOp, patterns, pass_name: str) -> None:
    """Greedy application of RewritePattern classes or instances, then dce.  A round of rewrites
    that leaves the text identical is a bug of one of the patterns (it would make a fixpoint driver
    spin), reported as GS403 naming it; an exception from a pattern is GS402 naming the pattern
    and the op it was rewriting (see passes/patterns.py)."""
    from graphsynth.passes.patterns import run_patterns

    run_patterns(module, patterns, pass_name)
    region_dce(module.body)


@register
@dataclass(frozen=True)
class CanonicalizePass(ModulePass):
    """Fold identities and no-ops: identity/dropout, no-op reshape, reshape chains, transpose pairs, x*1, x+0.

    The patterns are those the ops declare (xDSL's ``HasCanonicalizationPatternsTrait``), each
    applied to the ops that declare it."""

    name = "canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        apply_patterns(op, canonicalization_patterns(), self.name)


@register
@dataclass(frozen=True)
class DcePass(ModulePass):
    """Erase ops whose results are unused (parameters are kept: they belong to the state_dict)."""

    name = "dce"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        region_dce(op.body)


@register
@dataclass(frozen=True)
class CsePass(ModulePass):
    """Merge ops that compute the same thing from the same operands (xDSL's cse; value names are
    presentation, so they are set aside while it compares ops)."""

    name = "cse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        saved = {}
        for inner in op.walk():
            names = inner.properties.pop("names", None)
            if names is not None:
                saved[inner] = names
        cse(op)
        for inner, names in saved.items():
            if inner.parent is not None:
                inner.properties["names"] = names


@register
@dataclass(frozen=True)
class PrintSummaryPass(ModulePass):
    """Print op counts, parameters and modules of each graph to stderr; the IR is unchanged."""

    name = "print-summary"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for g in gs.graph_ops(op):
            counts: Counter[str] = Counter()
            n_params = 0
            for inner in g.body.block.ops:
                if isinstance(inner, gs.ParamOp):
                    n_params += 1
                elif not isinstance(inner, gs.ReturnOp):
                    counts[inner.name.removeprefix("gs.")] += 1
            ops = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            print(f"graph {g.sym_name.data}: {sum(counts.values())} ops, {n_params} params, {len(g.modules.data)} modules", file=sys.stderr)
            print(f"  {ops}", file=sys.stderr)
