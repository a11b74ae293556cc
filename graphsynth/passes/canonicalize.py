"""Canonicalization patterns, gathered from the ops that declare them.

Each op class lists the patterns that canonicalize it through xDSL's
``HasCanonicalizationPatternsTrait`` (the patterns themselves are in
:mod:`graphsynth.dialects.canonicalization`); nothing here names an op.  :func:`canonicalization_patterns`
collects them from the dialect's op classes, each pattern applied only to the ops whose class
declares it, as xDSL's own ``canonicalize`` does, so that the ``canonicalize`` pass, the LLM menu
and any user pass see the same set.
"""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.ir import Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern
from xdsl.traits import HasCanonicalizationPatternsTrait

from graphsynth.dialects import gs


def patterns_of(op_or_class: Operation | type[Operation]) -> list[RewritePattern]:
    """The canonicalization patterns an op (or op class) declares."""
    cls = op_or_class if isinstance(op_or_class, type) else type(op_or_class)
    return [p for trait in cls.get_traits_of_type(HasCanonicalizationPatternsTrait) for p in trait.get_patterns(cls)]


class ForOps(RewritePattern):
    """``pattern`` applied only to ops of ``classes`` (the classes that declare it); named after it
    in diagnostics."""

    def __init__(self, pattern: RewritePattern, classes: Iterable[type[Operation]]):
        self.pattern = pattern
        self.classes = frozenset(classes)

    @property
    def label(self) -> str:
        return type(self.pattern).__name__

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) in self.classes:
            self.pattern.match_and_rewrite(op, rewriter)


def canonicalization_patterns(classes: Iterable[type[Operation]] | None = None) -> tuple[ForOps, ...]:
    """One :class:`ForOps` per distinct pattern class declared by ``classes`` (default: every op
    of the dialect), restricted to the classes that declare it."""
    by_pattern: dict[type, tuple[RewritePattern, list[type[Operation]]]] = {}
    for cls in classes if classes is not None else (*gs.STRUCTURE_OPS, *gs.OP_CLASSES):
        for p in patterns_of(cls):
            entry = by_pattern.setdefault(type(p), (p, []))
            entry[1].append(cls)
    return tuple(ForOps(p, owners) for p, owners in by_pattern.values())


PATTERNS: tuple[ForOps, ...] = canonicalization_patterns()
"""Every canonicalization pattern of the dialect, each restricted to the ops that declare it."""
