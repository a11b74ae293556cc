"""The menu: rewrites that apply to the graph right now, numbered, for the model to pick from.

Next to free edits, a model may answer ``CHOICE: <n>``.  Every entry is a verified-applicable
action (the pattern matched and changed the IR on a copy), in the spirit of xDSL's
individual-rewrite schedule space, so a choice can only fail later at verification or the goal's
checks, never at "does it apply".

The driver only needs a list of :class:`MenuItem` (a description and a function that rewrites a
fresh clone of the module), so any source of rewrites plugs in: :func:`individual_rewrites`
builds one from xDSL ``RewritePattern`` objects (the passes registry's patterns, or ops'
canonicalization patterns).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphsynth.dialects import gs
from graphsynth.dialects.traits import Activation

MAX_MENU = 40


@dataclass(frozen=True)
class MenuItem:
    """``apply`` receives a fresh clone of the module, rewrites it in place (or returns a new
    module) and must not touch anything else."""

    description: str
    apply: Callable[[Any], Any]


MenuSource = Callable[[Any], Sequence[MenuItem]]


def render_menu(items: Sequence[MenuItem]) -> str:
    return "\n".join(f"{i}. {it.description}" for i, it in enumerate(items, 1))


def _describe_op(op: Any) -> str:
    names = [n for n in gs.result_names(op) if n] if hasattr(op, "properties") else []
    head = ", ".join(("%" + n if not n.startswith("%") else n) for n in names)
    short = op.name.removeprefix("gs.")
    scope = op.properties.get("scope") if hasattr(op, "properties") else None
    where = f" in {scope.data}" if scope is not None and hasattr(scope, "data") else ""
    return f"{head} = {short}{where}" if head else f"{short}{where}"


def _pattern_name(p: Any) -> str:
    return getattr(p, "name", None) or type(p).__name__


def canonicalization_patterns(op: Any) -> list[Any]:
    from xdsl.traits import HasCanonicalizationPatternsTrait

    out: list[Any] = []
    for trait in op.get_traits_of_type(HasCanonicalizationPatternsTrait):
        out.extend(trait.get_canonicalization_patterns())
    return out


def individual_rewrites(
    module: Any,
    patterns: Iterable[Any] = (),
    *,
    include_canonicalization: bool = True,
    limit: int = MAX_MENU,
    time_budget_s: float = 2.0,
) -> list[MenuItem]:
    """Every (pattern, op) pair where the pattern rewrites the op, found by trying it on a clone.

    A clone is made once and reused while patterns do nothing (a pattern that does not match
    leaves the IR alone), and replaced after each match, so the cost is one walk times the
    patterns plus one clone per hit.  Stops after ``limit`` hits or ``time_budget_s``.
    """
    from xdsl.pattern_rewriter import PatternRewriter

    extra = list(patterns)
    items: list[MenuItem] = []
    t0 = time.perf_counter()
    originals = list(module.walk())
    work = module.clone()
    work_ops = list(work.walk())
    for idx, orig in enumerate(originals):
        if len(items) >= limit or time.perf_counter() - t0 > time_budget_s:
            break
        pats = list(extra)
        if include_canonicalization:
            pats += canonicalization_patterns(orig)
        for p in pats:
            target = work_ops[idx]
            rewriter = PatternRewriter(target)
            try:
                p.match_and_rewrite(target, rewriter)
            except Exception:  # noqa: BLE001 - a pattern that crashes is simply not offered
                work = module.clone()
                work_ops = list(work.walk())
                continue
            if rewriter.has_done_action:
                items.append(MenuItem(f"{_pattern_name(p)} at {_describe_op(orig)}", _applier(idx, orig.name, p)))
                work = module.clone()
                work_ops = list(work.walk())
                if len(items) >= limit:
                    break
    return items


def _applier(index: int, op_name: str, pattern: Any) -> Callable[[Any], Any]:
    def apply(clone: Any) -> Any:
        from xdsl.pattern_rewriter import PatternRewriter

        ops = list(clone.walk())
        if index >= len(ops) or ops[index].name != op_name:
            raise ValueError(f"the menu entry no longer matches: op #{index} is not {op_name}")
        rewriter = PatternRewriter(ops[index])
        pattern.match_and_rewrite(ops[index], rewriter)
        if not rewriter.has_done_action:
            raise ValueError(f"{_pattern_name(pattern)} no longer applies at op #{index}")
        return clone

    return apply


# -- menu sources -------------------------------------------------------------------------

# The activation family a model may swap between (ops with the Activation trait): each takes one
# tensor and keeps its type, so a swap keeps every type.
ACTIVATIONS: tuple[str, ...] = tuple(cls.SPEC.name for cls in gs.activations())


def activation_swaps(module: Any, limit: int = MAX_MENU) -> list[MenuItem]:
    """For each activation kind present: replace every op of that kind with another activation,
    then (space permitting) the same for single ops.  Replacing an op by one of the same shape
    rule keeps every type, so each entry is applicable by construction."""
    by_kind: dict[str, list[int]] = {}
    ops = list(module.walk())
    for i, op in enumerate(ops):
        if isinstance(op, gs.GsOp) and op.has_trait(Activation):
            by_kind.setdefault(op.SPEC.name, []).append(i)
    items: list[MenuItem] = []
    for kind, idxs in by_kind.items():
        for new in ACTIVATIONS:
            if new != kind:
                items.append(MenuItem(f"replace all {len(idxs)} {kind} ops with {new}", _swapper(idxs, kind, new)))
    for kind, idxs in by_kind.items():
        if len(idxs) < 2:
            continue
        for i in idxs:
            for new in ACTIVATIONS:
                if new != kind and len(items) < limit:
                    items.append(
                        MenuItem(f"replace {kind} with {new} at {_describe_op(ops[i])}", _swapper([i], kind, new))
                    )
    return items[:limit]


def _swapper(indices: list[int], old: str, new: str) -> Callable[[Any], Any]:
    def apply(clone: Any) -> Any:
        old_cls, new_cls = gs.OPS[old], gs.OPS[new]
        ops = list(clone.walk())
        for i in indices:
            op = ops[i]
            if not isinstance(op, old_cls):
                raise ValueError(f"op #{i} is {op.name}, not gs.{old}")
            x = op.arg_layout()[0]
            repl = gs.make_op(
                new_cls, [x], {}, [r.type for r in op.results], names=[n for n in gs.result_names(op) if n], scope=op.scope
            )
            if op.location is not None:
                repl.location = op.location
            parent = op.parent_block()
            assert parent is not None
            parent.insert_op_before(repl, op)
            for a, b in zip(op.results, repl.results):
                a.replace_all_uses_with(b)
            parent.erase_op(op)
        return clone

    return apply


def canonicalization_menu(module: Any) -> list[MenuItem]:
    return individual_rewrites(module)


def registry_menu(module: Any) -> list[MenuItem]:
    """Every pattern the shipped passes expose (:func:`graphsynth.passes.all_patterns`: the ops'
    canonicalization patterns, fusion and constant folding), at every op where it applies."""
    from graphsynth.passes import all_patterns

    return individual_rewrites(module, all_patterns(), include_canonicalization=False)


_SOURCES: dict[str, MenuSource] = {
    "activations": activation_swaps,
    "canonicalize": canonicalization_menu,
    "registry": registry_menu,
}


def menu_source(spec: str) -> MenuSource:
    """``"activations"``, ``"canonicalize"``, ``"registry"`` or several joined by ``+`` or ``,``."""
    names = [s.strip() for s in spec.replace(",", "+").split("+") if s.strip()]
    unknown = [n for n in names if n not in _SOURCES]
    if unknown:
        raise ValueError(f"unknown menu source '{unknown[0]}' (known: {', '.join(_SOURCES)})")
    funcs = [_SOURCES[n] for n in names]

    def menu(module: Any) -> list[MenuItem]:
        items: list[MenuItem] = []
        for f in funcs:
            items.extend(f(module))
        return items[:MAX_MENU]

    return menu
