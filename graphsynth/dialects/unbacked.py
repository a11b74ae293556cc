"""Where unbacked symbols come from: the checks that make a data-dependent size well defined.

An unbacked symbol (``symbol u0: [0, inf] unbacked``) is a size that no graph input gives: the
one op whose class has the :class:`~graphsynth.dialects.traits.DataDependentSize` trait and names
it in its ``size`` attribute defines it, at run time, from its result.  So, in a graph:

- no graph input has it in its type (it would be bound twice, by the input and by the op: GS331);
- no op, parameter or attribute mentions it before the op that defines it, and a symbol that no
  op defines is never used (GS332);
- exactly one op defines it (GS333);
- the ``size`` of a data-dependent op is a symbol declared unbacked, not a backed one (bound by
  an input, or undeclared) (GS334; the op's rule reports a number or an expression).

These are checks of the graph's order, not of any one op's shapes, so the verifier runs them
once per graph after the shape rules (:func:`order_problems`); they live beside the trait and the
declarations they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import Block, Operation

from graphsynth.dialects.dynamic import single_symbol
from graphsynth.dialects.structure import FusedOp, GraphOp, ParamOp, ReturnOp, result_names
from graphsynth.dialects.symdim import SymDim, free_symbols
from graphsynth.dialects.traits import DataDependentSize
from graphsynth.dialects.types import TensorType


@dataclass
class Problem:
    """One misuse, located at ``op``: the verifier reports it as ``code``."""

    op: Operation
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def _type_symbols(types: Iterable[Any]) -> set[str]:
    out: set[str] = set()
    for t in types:
        if isinstance(t, TensorType):
            for d in t.shape:
                if not isinstance(d, int):
                    out |= free_symbols(d)
    return out


def _attr_symbols(op: Operation) -> set[str]:
    """The symbols in an op's dim-valued attributes (a reshape's shape, a slice's end...)."""
    values = getattr(op, "attr_values", None)
    if values is None:
        return set()
    out: set[str] = set()
    try:
        items = values().values()
    except (TypeError, ValueError):
        return out  # malformed: the verifier reported it
    for v in items:
        for d in v if isinstance(v, tuple) else (v,):
            if isinstance(d, SymDim):
                out |= free_symbols(d)
    return out


def _ops(block: Block) -> Iterator[Operation]:
    """The ops of the graph's block in order, a fused region's ops after the fused op."""
    for op in block.ops:
        yield op
        if isinstance(op, FusedOp) and op.body.blocks:
            yield from _ops(op.body.block)


_DATA_DEPENDENT: dict[type, bool] = {}


def _data_dependent(op: Operation) -> bool:
    """Whether ``op``'s class has the DataDependentSize trait (traits belong to the class; the
    verifier asks of every op of every graph, and xDSL's lookup walks the trait list)."""
    found = _DATA_DEPENDENT.get(type(op))
    if found is None:
        found = _DATA_DEPENDENT[type(op)] = op.get_trait(DataDependentSize) is not None
    return found


def defined_symbol(op: Operation) -> str | None:
    """The symbol a data-dependent op defines (its ``size``), or None."""
    if not _data_dependent(op):
        return None
    try:
        return single_symbol(op.attr_values().get("size"))  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None


def order_problems(graph: GraphOp, unbacked: set[str], input_symbols: set[str], where: Any = None) -> list[Problem]:
    """Every misuse of the graph's unbacked symbols (``unbacked``: the declared ones; the
    symbols the inputs bind are ``input_symbols``).  ``where(op)`` gives an op's line for the
    messages (None: not shown)."""
    problems: list[Problem] = []
    line = where or (lambda op: "")
    for name in sorted(unbacked & input_symbols):
        problems.append(Problem(graph, "GS331", f"symbol '{name}' is declared unbacked, but a graph input has it in its type "
                                "(an input binds it; an unbacked symbol is defined by an op's result)", {
                                    "value": name, "fix": f"remove 'unbacked' from the declaration of '{name}', or rename "
                                    "the input's dim"}))
    defined: dict[str, Operation] = {}
    reported: set[str] = set()
    if len(graph.body.blocks) != 1:
        return problems
    block = graph.body.block
    for op in _ops(block):
        if not unbacked:  # nothing to order: only a data-dependent op naming a backed symbol
            name = defined_symbol(op)
            if name is not None:
                problems.append(_backed(op, name, unbacked, input_symbols))
            continue
        if isinstance(op, ReturnOp):
            continue
        name = defined_symbol(op)
        if name is None and _data_dependent(op):
            # Its size is a number or an expression: the op's rule reports it (GS334); the
            # symbols of its type are not reported again.
            reported |= _type_symbols(r.type for r in op.results)
            continue
        if name is not None and _data_dependent(op):
            if name not in unbacked:
                problems.append(_backed(op, name, unbacked, input_symbols))
            elif name in defined:
                problems.append(Problem(op, "GS333", f"defines the unbacked symbol '{name}', which another op already "
                                        f"defines{line(defined[name])}: each data-dependent size is its own symbol", {
                                            "value": name, "fix": "declare a new unbacked symbol for this op's size"}))
            else:
                defined[name] = op
        types = [r.type for r in op.results]
        used = (_type_symbols(types) | _attr_symbols(op)) & unbacked
        for sym in sorted(used - set(defined) - reported):
            reported.add(sym)
            what = "its result type" if sym in _type_symbols(types) else "an attribute"
            label = "parameter" if isinstance(op, ParamOp) else "op"
            problems.append(Problem(op, "GS332", f"uses the unbacked symbol '{sym}' (in {what}) before the op that "
                                    f"defines it{_definer(block, sym, op, line)}", {
                                        "value": sym, "fix": f"move this {label} below the op with size={sym}"}))
    outputs = _type_symbols(graph.output_types.data) & unbacked
    for sym in sorted(unbacked - set(defined)):
        if sym in reported:
            continue
        where_used = "the graph's result types use it" if sym in outputs else "it is declared"
        problems.append(Problem(graph, "GS332", f"no op defines the unbacked symbol '{sym}', but {where_used}", {
            "value": sym, "fix": f"give the op whose result size the data decides size={sym}, or remove the declaration"}))
    return problems


def _backed(op: Operation, name: str, unbacked: set[str], input_symbols: set[str]) -> Problem:
    how = "bound by a graph input" if name in input_symbols else "not declared unbacked"
    fresh = next(f"u{k}" for k in range(len(unbacked) + len(input_symbols) + 1)
                 if f"u{k}" not in unbacked and f"u{k}" not in input_symbols)
    return Problem(op, "GS334", f"size={name} must be an unbacked symbol, but '{name}' is {how}: the count this op "
                   "gives depends on the data", {"value": name, "expected": "an unbacked symbol", "got": name,
                                                 "fix": f"declare 'symbol {fresh}: [0, inf] unbacked' and write size={fresh}"})


def _definer(block: Block, sym: str, user: Operation, line: Any) -> str:
    for op in _ops(block):
        if op is not user and defined_symbol(op) == sym:
            return f" ({op.name.removeprefix('gs.')} {'%' + (result_names(op)[0] or '')}{line(op)})"
    return " (no op defines it)"
