"""A custom pass from scratch: two rewrite patterns, a registered pass, a private -opt tool, and its
tests (see docs/writing-passes.md, which walks through this file).

    python examples/custom_pass.py examples/custom_pass.gs -p simplify-activations   # run it
    python examples/custom_pass.py --self-test                                        # test it

``simplify-activations`` removes two redundancies that show up after other rewrites (an inserted
block that ends in a ReLU in front of a ReLU, a sign flip undone later):

- ``relu(relu(x))`` is ``relu(x)``: ReLU is idempotent;
- ``neg(neg(x))`` is ``x``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from graphsynth.dialects import gs
from graphsynth.passes.builtin import apply_patterns
from graphsynth.passes.registry import register


def _is(op: object, name: str) -> bool:
    """``op`` is the primitive gs op ``name`` (gs.OPS maps names to op classes)."""
    return isinstance(op, gs.OPS[name])


class CollapseDoubleRelu(RewritePattern):
    """relu(relu(x)) -> relu(x): the outer relu reads a value that is already >= 0."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if _is(op, "relu") and _is(op.operands[0].owner, "relu"):
            # Both results have the same type, so the outer one can stand for the inner one.
            rewriter.replace(op, [], [op.operands[0]])


class CancelDoubleNeg(RewritePattern):
    """neg(neg(x)) -> x."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if _is(op, "neg") and _is(op.operands[0].owner, "neg"):
            x = op.operands[0].owner.operands[0]
            if x.type == op.results[0].type:
                rewriter.replace(op, [], [x])


PATTERNS = (CollapseDoubleRelu, CancelDoubleNeg)


@register
@dataclass(frozen=True)
class SimplifyActivationsPass(ModulePass):
    """Collapse relu(relu(x)) to relu(x) and neg(neg(x)) to x."""

    name = "simplify-activations"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # The shared greedy driver: walks the module, applies the patterns to a fixpoint, drops
        # dead ops, and reports a pattern that claims a change but leaves the IR identical.
        apply_patterns(op, PATTERNS, self.name)


class WrongSwapReluNeg(RewritePattern):
    """A deliberately wrong pattern, to show what a failing soundness check looks like:
    relu(neg(x)) -> neg(relu(x)) (the two do not commute)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if _is(op, "relu") and _is(op.operands[0].owner, "neg"):
            x = op.operands[0].owner.operands[0]
            t = op.results[0].type
            inner = gs.make_op("relu", [x], {}, [t])
            outer = gs.make_op("neg", [inner.results[0]], {}, [t], names=[n for n in gs.result_names(op) if n] or None)
            rewriter.replace(op, [inner, outer])


def self_test(max_examples: int = 40) -> str:
    """Test the pass as docs/writing-passes.md describes; returns the wrong pattern's report."""
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.grammar.printer import print_ir
    from graphsynth.passes.registry import run_pipeline
    from graphsynth.testing import RewriteUnsound, assert_rewrite_sound

    # 1. On a module written by hand: the rewrite does what it says.
    m = parse_ir(
        "graph G(x: f32[B, 4]) -> f32[B, 4] {\n"
        "  %0: f32[B, 4] = relu(x)\n  %1: f32[B, 4] = relu(%0)\n"
        "  %2: f32[B, 4] = neg(%1)\n  %3: f32[B, 4] = neg(%2)\n  return %3\n}\n"
    )
    out = run_pipeline(m, "simplify-activations")
    assert print_ir(out) == "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = relu(x)\n  return %0\n}\n", (
        print_ir(out)
    )

    # 2. On modules drawn by hypothesis, with an op set where the patterns fire often.
    ops = ("relu", "neg", "add", "tanh", "linear", "reshape")
    assert_rewrite_sound("simplify-activations", ops=ops, max_examples=max_examples)
    # The patterns on their own, and the pass inside a pipeline, are checked the same way.
    assert_rewrite_sound(list(PATTERNS), ops=ops, max_examples=max_examples // 2)
    assert_rewrite_sound("canonicalize,simplify-activations,dce", max_examples=max_examples // 2)

    # 3. The check can fail: the wrong pattern is caught with a small counter-example.
    try:
        assert_rewrite_sound(WrongSwapReluNeg(), ops=("relu", "neg", "add"), max_examples=200)
    except RewriteUnsound as e:
        return str(e)
    raise AssertionError("the wrong pattern was not caught")


if __name__ == "__main__" and sys.argv[1:] == ["--self-test"]:
    print(self_test())
    print("\nself-test passed: simplify-activations is sound; the wrong pattern was caught (above)")
    sys.exit(0)

if __name__ == "__main__":
    # Importing this file registered the pass; graphsynth-opt's own main does the rest, so this
    # script is graphsynth-opt plus one pass (as mlir-opt tools are built around mlir::MlirOptMain).
    from graphsynth.cli import main

    sys.exit(main())
