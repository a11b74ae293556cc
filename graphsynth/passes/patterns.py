"""Shared machinery for rewrite passes: failures that name the op being rewritten, value naming.

xDSL's ``PatternRewriteWalker`` calls ``match_and_rewrite`` deep inside its worklist loop, so an
exception raised by a pattern surfaces with neither the pattern nor the op it was looking at.
:class:`Guarded` wraps each pattern and turns any exception into a :class:`PatternFailure` that
carries both; :func:`failure_diagnostic` renders it as a GS402 diagnostic pointing at the op's
source line.  ModulePasses that rewrite op by op use :func:`rewriting` for the same report.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriter, PatternRewriteWalker, RewritePattern

from graphsynth.diagnostics import Diagnostic, PassError, error
from graphsynth.dialects import gs


class PatternFailure(Exception):
    """An exception raised while a pattern (or a pass) was rewriting ``op``."""

    def __init__(self, op: Operation | None, cause: BaseException, pattern: str | None = None):
        self.op = op
        self.cause = cause
        self.pattern = pattern
        super().__init__(f"{pattern or 'pass'} raised {type(cause).__name__}: {cause}")


class Guarded(RewritePattern):
    """Runs ``inner``, attaches the op and the pattern's name to anything it raises, and counts
    the rewrites it reports (to name the culprit when a round changes nothing)."""

    def __init__(self, inner: RewritePattern):
        self.inner = inner
        self.actions = 0

    @property
    def label(self) -> str:
        return getattr(self.inner, "label", None) or type(self.inner).__name__

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        acted = rewriter.has_done_action
        try:
            self.inner.match_and_rewrite(op, rewriter)
        except PatternFailure:
            raise
        except Exception as e:  # a pattern bug: report it with the op, never as a bare traceback
            raise PatternFailure(op, e, self.label) from e
        if rewriter.has_done_action and not acted:
            self.actions += 1


def failure_in(e: BaseException | None) -> PatternFailure | None:
    """The PatternFailure in an exception's chain (xDSL's walker may re-raise it annotated)."""
    seen = 0
    while e is not None and seen < 20:
        if isinstance(e, PatternFailure):
            return e
        e = e.__cause__ or e.__context__
        seen += 1
    return None


MAX_ROUNDS = 64


def run_patterns(module: ModuleOp, patterns: Iterable[RewritePattern | type[RewritePattern]], pass_name: str,
                 max_rounds: int = MAX_ROUNDS) -> bool:
    """Apply ``patterns`` greedily, one walk over the IR per round, until a round changes nothing.

    After each round that reported a change, the printed IR is compared with the one before the
    round: a round that reported rewrites but left the text identical would make the driver spin
    forever, so it is reported as GS403 naming the patterns that claimed a change.  More than
    ``max_rounds`` rounds is reported the same way (patterns undoing each other).  An exception
    from a pattern is GS402 naming the pattern and the op.  Returns whether anything changed."""
    from graphsynth.grammar.printer import print_ir

    guarded = guard(patterns)
    walker = PatternRewriteWalker(GreedyRewritePatternApplier(guarded), walk_reverse=True, apply_recursively=False)
    text = print_ir(module)
    changed_any = False
    for _ in range(max_rounds):
        for g in guarded:
            g.actions = 0
        try:
            changed = walker.rewrite_module(module)
        except Exception as e:
            failure = failure_in(e)
            if failure is None:
                raise
            raise PassError(pass_name, [failure_diagnostic(pass_name, failure)]) from e
        if not changed:
            return changed_any
        new_text = print_ir(module)
        if new_text == text:
            culprits = [f"{g.label} ({g.actions} rewrite(s))" for g in guarded if g.actions] or ["unknown"]
            raise PassError(pass_name, [error(
                "GS403",
                f"pass '{pass_name}' reported a change but the IR is identical; a pattern does not converge",
                origin=pass_name,
                notes=["reported by " + ", ".join(culprits)],
                fix="a pattern must change the IR whenever it calls the rewriter, and do nothing otherwise",
            )])
        text = new_text
        changed_any = True
    raise PassError(pass_name, [error(
        "GS403",
        f"pass '{pass_name}' did not converge after {max_rounds} rounds; patterns undo each other",
        origin=pass_name,
        notes=["still rewriting: " + ", ".join(g.label for g in guarded if g.actions)],
    )])


def guard(patterns: Iterable[RewritePattern | type[RewritePattern]]) -> list[Guarded]:
    """Instances of ``patterns`` (classes are instantiated), each wrapped in :class:`Guarded`."""
    return [Guarded(p() if isinstance(p, type) else p) for p in patterns]


def describe_op(op: Operation | None) -> str:
    """``%3 = mul`` for an op with named results, ``mul`` otherwise."""
    if op is None:
        return "<no op>"
    name = op.name.removeprefix("gs.")
    if isinstance(op, gs.ParamOp):
        return f"param {op.param_name.data}"
    names = [n for n in gs.result_names(op) if n is not None] if op.results else []
    if names:
        return ", ".join("%" + n for n in names) + f" = {name}"
    return name


def failure_diagnostic(pass_name: str, failure: PatternFailure) -> Diagnostic:
    """GS402 naming the pass, the pattern, the op (with its source location) and the exception."""
    from graphsynth.diagnostics import source_line
    from graphsynth.verifier.locations import location

    op = failure.op
    loc = location(op) if op is not None else None
    who = f"pattern {failure.pattern}" if failure.pattern else f"pass '{pass_name}'"
    cause = failure.cause
    frames = traceback.extract_tb(cause.__traceback__)
    where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    names = [n for n in gs.result_names(op) if n is not None] if op is not None and op.results else []
    d = error(
        "GS402",
        f"pass '{pass_name}' raised {type(cause).__name__} while rewriting {describe_op(op)}: {cause}",
        op=op.name.removeprefix("gs.") if op is not None else None,
        value="%" + names[0] if names else None,
        loc=loc,
        origin=pass_name,
        notes=[f"raised by {who}{where}"],
    )
    d.source_line = source_line(loc)
    return d


@contextmanager
def rewriting(pass_name: str, op: Operation | None) -> Iterator[None]:
    """``with rewriting(self.name, op): ...`` reports an exception as GS402 naming ``op``."""
    try:
        yield
    except (PassError, PatternFailure):
        raise
    except Exception as e:
        raise PassError(pass_name, [failure_diagnostic(pass_name, PatternFailure(op, e))]) from e


# -- value names ---------------------------------------------------------------------------


def value_name(v: SSAValue) -> str | None:
    """The text name of a value without its ``%``: graph input names, parameter keys, result names."""
    owner = v.owner
    if isinstance(owner, Block):
        parent = owner.parent_op()
        if isinstance(parent, gs.GraphOp) and isinstance(v, BlockArgument):
            names = parent.arg_names.data
            return names[v.index].data if v.index < len(names) else None
        if isinstance(parent, gs.FusedOp) and isinstance(v, BlockArgument) and parent.arg_names is not None:
            names = parent.arg_names.data
            return names[v.index].data if v.index < len(names) else None
        return None
    if isinstance(owner, gs.ParamOp):
        return owner.param_name.data
    names = gs.result_names(owner)
    idx = list(owner.results).index(v)
    return names[idx] if idx < len(names) else None


def taken_names(graph: gs.GraphOp) -> set[str]:
    """Every result name used anywhere in ``graph`` (regions included), without ``%``."""
    out: set[str] = set()
    for op in graph.body.walk():
        if op is graph:
            continue
        if isinstance(op, gs.FusedOp) and op.arg_names is not None:
            out.update(a.data for a in op.arg_names.data)
        if op.results and not isinstance(op, gs.ParamOp):
            out.update(n for n in gs.result_names(op) if n is not None)
    return out


def fresh_name(base: str, taken: set[str]) -> str:
    """``base`` or ``base_1``, ``base_2``...: the first not in ``taken`` (which is updated)."""
    name, k = base, 1
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    taken.add(name)
    return name


def module_chain(table: dict[str, tuple[str, str]], scope: str) -> list[str]:
    """Module paths from the outermost down to ``scope`` (empty for the top level)."""
    out: list[str] = []
    seen: set[str] = set()
    while scope and scope not in seen:
        seen.add(scope)
        out.append(scope)
        scope = table.get(scope, ("?", ""))[1]
    return out[::-1]


def in_subtree(table: dict[str, tuple[str, str]], scope: str, root: str) -> bool:
    """Whether an op in ``scope`` belongs to module ``root`` or one of its descendants."""
    return root in module_chain(table, scope)


def common_scope(table: dict[str, tuple[str, str]], scopes: Iterable[str]) -> str:
    """The innermost module that contains every one of ``scopes`` ('' for the top level)."""
    chains = [module_chain(table, s) for s in scopes]
    if not chains:
        return ""
    common: list[str] = []
    for level in zip(*chains):
        if all(p == level[0] for p in level):
            common.append(level[0])
        else:
            break
    return common[-1] if common else ""


def op_scope(op: Operation) -> str:
    s = op.properties.get("scope")
    return getattr(s, "data", "") if s is not None else ""
