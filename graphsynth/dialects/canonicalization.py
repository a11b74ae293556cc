"""Canonicalization patterns: each removes one kind of no-op or folds one identity, and says why.

An op lists the patterns that canonicalize it through xDSL's ``HasCanonicalizationPatternsTrait``
(declared with the op, e.g. ``ReshapeCanonicalization`` in :mod:`graphsynth.dialects.shape`), so
xDSL's own walker, the ``canonicalize`` pass, the LLM menu and any user pass find them on the op
without a list.  A pattern matches op classes and traits, never op names.  A value replaced by
another must have the same type, so every pattern checks that first: a rewrite that changes a
type is a different rewrite, not a canonicalization.
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from graphsynth.dialects.opbase import GsOp, make_op
from graphsynth.dialects.shape import Permute, Reshape, Transpose
from graphsynth.dialects.structure import result_names
from graphsynth.dialects.traits import LeftUnit, RightUnit, is_random


def _forward(op: Operation, value: SSAValue, rewriter: PatternRewriter) -> bool:
    """Replace ``op``'s single result by ``value`` when the types agree."""
    if len(op.results) != 1 or op.results[0].type != value.type:
        return False
    rewriter.replace(op, [], [value])
    return True


def _names(op: Operation) -> list[str] | None:
    return [n for n in result_names(op) if n is not None] or None


class RemoveIdentity(RewritePattern):
    """identity(x), and dropout when it draws no random numbers (at inference), compute x: use x."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, GsOp) or is_random(op):
            return
        layout = op.arg_layout()
        if layout and isinstance(layout[0], SSAValue):
            _forward(op, layout[0], rewriter)


class RemoveNoop(RewritePattern):
    """A reshape, expand, flatten or cast whose result type equals its input type does nothing."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, GsOp) and op.operands:
            _forward(op, op.operands[0], rewriter)


class FoldReshapeChain(RewritePattern):
    """reshape(reshape(x)) is one reshape of x: the intermediate shape does not matter."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not (isinstance(op, Reshape) and op.operands):
            return
        inner = op.operands[0].owner
        if isinstance(inner, Reshape) and inner.operands:
            new = make_op(Reshape, [inner.operands[0]], {"shape": op.attr_values()["shape"]}, [op.results[0].type],
                          names=_names(op), scope=op.scope)
            rewriter.replace(op, [new])


class FoldTransposePair(RewritePattern):
    """permute/transpose of permute/transpose composes to one permutation; the identity vanishes."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not (isinstance(op, (Permute, Transpose)) and op.operands):
            return
        inner = op.operands[0].owner
        if not (isinstance(inner, (Permute, Transpose)) and inner.operands):
            return
        rank = len(inner.operands[0].type.shape)
        composed = [_perm(inner, rank)[i] for i in _perm(op, rank)]
        if composed == list(range(rank)):
            _forward(op, inner.operands[0], rewriter)
            return
        new = make_op(Permute, [inner.operands[0]], {"dims": tuple(composed)}, [op.results[0].type],
                      names=_names(op), scope=op.scope)
        rewriter.replace(op, [new])


def _perm(op: GsOp, rank: int) -> list[int]:
    attrs = op.attr_values()
    if isinstance(op, Permute):
        return [d % rank for d in attrs["dims"]]
    p = list(range(rank))
    a, b = attrs["dim0"] % rank, attrs["dim1"] % rank
    p[a], p[b] = p[b], p[a]
    return p


class FoldUnit(RewritePattern):
    """x*1, 1*x, x/1, x+0, 0+x, x-0 and x**1 are x (when broadcasting leaves the type alone): the
    op's ``RightUnit``/``LeftUnit`` traits say which number is a unit on which side."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, GsOp):
            return
        right, left = op.get_trait(RightUnit), op.get_trait(LeftUnit)
        if right is None and left is None:
            return
        layout = op.arg_layout()
        if len(layout) != 2:
            return
        a, b = layout
        if right is not None and isinstance(a, SSAValue) and _is(b, right.value) and right.when(op):
            _forward(op, a, rewriter)
        elif left is not None and isinstance(b, SSAValue) and _is(a, left.value) and left.when(op):
            _forward(op, b, rewriter)


def _is(v: object, n: int | float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == n
