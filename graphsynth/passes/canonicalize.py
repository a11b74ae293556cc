"""Canonicalization patterns: each removes one kind of no-op or folds one identity, and says why.

They are small xDSL ``RewritePattern`` classes; ``canonicalize`` applies them greedily.  A value
replaced by another must have the same type, so every pattern checks that first: a rewrite that
changes a type is a different rewrite, not a canonicalization.
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from graphsynth.dialects import gs


def _forward(op: Operation, value: SSAValue, rewriter: PatternRewriter) -> bool:
    """Replace ``op``'s single result by ``value`` when the types agree."""
    if len(op.results) != 1 or op.results[0].type != value.type:
        return False
    rewriter.replace(op, [], [value])
    return True


def _name(op: Operation) -> str:
    return op.name.removeprefix("gs.")


class RemoveIdentity(RewritePattern):
    """identity(x) and dropout at inference compute x: use x."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, gs.GsOp) or _name(op) not in ("identity", "dropout"):
            return
        if _name(op) == "dropout" and op.attr_values().get("train"):
            return
        layout = op.arg_layout()
        if layout and isinstance(layout[0], SSAValue):
            _forward(op, layout[0], rewriter)


class RemoveNoopReshape(RewritePattern):
    """A reshape, expand or cast whose result type equals its input type does nothing."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, gs.GsOp) and _name(op) in ("reshape", "expand", "cast", "flatten", "contiguous"):
            _forward(op, op.operands[0], rewriter) if op.operands else None


class FoldReshapeChain(RewritePattern):
    """reshape(reshape(x)) is one reshape of x: the intermediate shape does not matter."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not (isinstance(op, gs.GsOp) and _name(op) == "reshape" and op.operands):
            return
        inner = op.operands[0].owner
        if isinstance(inner, gs.GsOp) and _name(inner) == "reshape" and inner.operands:
            new = gs.make_op(
                "reshape",
                [inner.operands[0]],
                {"shape": op.attr_values()["shape"]},
                [op.results[0].type],
                names=[n for n in gs.result_names(op) if n is not None] or None,
                scope=op.scope,
            )
            rewriter.replace(op, [new])


class FoldTransposePair(RewritePattern):
    """permute/transpose of permute/transpose composes to one permutation; the identity vanishes."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not (isinstance(op, gs.GsOp) and _name(op) in ("permute", "transpose") and op.operands):
            return
        inner = op.operands[0].owner
        if not (isinstance(inner, gs.GsOp) and _name(inner) in ("permute", "transpose") and inner.operands):
            return
        rank = len(inner.operands[0].type.shape)
        composed = [_perm(inner, rank)[i] for i in _perm(op, rank)]
        if composed == list(range(rank)):
            _forward(op, inner.operands[0], rewriter)
            return
        new = gs.make_op(
            "permute",
            [inner.operands[0]],
            {"dims": tuple(composed)},
            [op.results[0].type],
            names=[n for n in gs.result_names(op) if n is not None] or None,
            scope=op.scope,
        )
        rewriter.replace(op, [new])


def _perm(op: gs.GsOp, rank: int) -> list[int]:
    attrs = op.attr_values()
    if _name(op) == "permute":
        return [d % rank for d in attrs["dims"]]
    p = list(range(rank))
    a, b = attrs["dim0"] % rank, attrs["dim1"] % rank
    p[a], p[b] = p[b], p[a]
    return p


class FoldNeutralScalar(RewritePattern):
    """x*1, 1*x, x/1, x+0, 0+x, x-0 and x**1 are x (when broadcasting leaves the type alone)."""

    NEUTRAL = {"mul": (1, 1), "add": (0, 0), "sub": (None, 0), "div": (None, 1), "pow": (None, 1)}

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, gs.GsOp) or _name(op) not in self.NEUTRAL:
            return
        if _name(op) == "div" and op.attr_values().get("rounding_mode") is not None:
            return
        left, right = self.NEUTRAL[_name(op)]
        layout = op.arg_layout()
        if len(layout) != 2:
            return
        a, b = layout
        if isinstance(a, SSAValue) and _is(b, right):
            _forward(op, a, rewriter)
        elif isinstance(b, SSAValue) and left is not None and _is(a, left):
            _forward(op, b, rewriter)


def _is(v: object, n: int | None) -> bool:
    return n is not None and isinstance(v, (int, float)) and not isinstance(v, bool) and v == n


PATTERNS: tuple[type[RewritePattern], ...] = (
    RemoveIdentity,
    RemoveNoopReshape,
    FoldReshapeChain,
    FoldTransposePair,
    FoldNeutralScalar,
)
