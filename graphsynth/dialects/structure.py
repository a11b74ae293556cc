"""The structure ops of the ``gs`` dialect: a graph, its parameters, its return, fused regions.

The module hierarchy of the source model is recorded flat, the way torch.fx records
``nn_module_stack``: each op carries its module path in the ``scope`` property and the graph
holds the table of modules (path, class, parent).  The printer nests ``module`` blocks from it.
Keeping one SSA block per graph means every pattern, fusion and query works across module
boundaries without yield plumbing, and the generic form stays valid MLIR (no value escapes a
region).  Value names are a property (``names``) so that they survive cloning and the MLIR round
trip exactly; xDSL's name hints cannot hold names such as ``%0`` or ``%x_1``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import ArrayAttr, IntAttr, StringAttr
from xdsl.ir import Attribute, Block, Region
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import IsTerminator, Pure

from graphsynth.dialects.ranges import SymbolRange
from graphsynth.dialects.types import TensorType


@irdl_op_definition
class GraphOp(IRDLOperation):
    """A whole network: inputs are block arguments, outputs are ``gs.return`` operands.

    ``modules`` is the module table ``[[path, class, parent], ...]`` in first-use order.
    """

    name = "gs.graph"
    sym_name = prop_def(StringAttr)
    arg_names = prop_def(ArrayAttr)
    output_types = prop_def(ArrayAttr)
    modules = prop_def(ArrayAttr)
    # What the graph declares about its symbols: [[name, min, max, step], ...] (max is
    # "inf" when unbounded; a fifth entry "unbacked" for a symbol an op's result defines at
    # run time); absent when nothing is declared.  See dialects/ranges.py.
    symbols = opt_prop_def(ArrayAttr)
    body = region_def("single_block")

    @property
    def graph_name(self) -> str:
        return self.sym_name.data

    def unbacked_symbols(self) -> set[str]:
        """The symbols declared unbacked (defined by an op's result, not by an input)."""
        return {n for n, r in self.symbol_ranges().items() if r.unbacked}

    def symbol_ranges(self) -> dict[str, SymbolRange]:
        """name -> declared range, for the well-formed entries (the verifier reports the
        others, GS313)."""
        out: dict[str, SymbolRange] = {}
        for entry in self.symbols.data if self.symbols is not None else ():
            r = symbol_entry(entry)
            if r is not None and r[0] not in out:
                out[r[0]] = r[1]
        return out

    def module_table(self) -> dict[str, tuple[str, str]]:
        """path -> (class name, parent path)."""
        return {e.data[0].data: (e.data[1].data, e.data[2].data) for e in self.modules.data}


UNBOUNDED = StringAttr("inf")  # the max of a symbol without an upper bound
UNBACKED = StringAttr("unbacked")  # the fifth entry of a symbol an op's result defines


def symbol_entry(entry: Attribute) -> tuple[str, SymbolRange] | None:
    """One entry of ``gs.graph``'s ``symbols``, or None when it is malformed."""
    if not isinstance(entry, ArrayAttr) or len(entry.data) not in (4, 5):
        return None
    if len(entry.data) == 5 and entry.data[4] != UNBACKED:
        return None
    name, lo, hi, step = entry.data[:4]
    if not (isinstance(name, StringAttr) and isinstance(lo, IntAttr) and isinstance(step, IntAttr)):
        return None
    if not (isinstance(hi, IntAttr) or hi == UNBOUNDED):
        return None
    return name.data, SymbolRange(lo.data, hi.data if isinstance(hi, IntAttr) else None, step.data, len(entry.data) == 5)


def symbol_row(name: str, r: SymbolRange) -> ArrayAttr:
    """One entry of ``gs.graph``'s ``symbols``."""
    row = [StringAttr(name), IntAttr(r.min), UNBOUNDED if r.max is None else IntAttr(r.max), IntAttr(r.step)]
    return ArrayAttr(row + [UNBACKED] if r.unbacked else row)


def symbols_attr(ranges: dict[str, SymbolRange]) -> ArrayAttr | None:
    """The ``symbols`` property for ``ranges`` (declared order; default ranges left out)."""
    rows = [symbol_row(n, r) for n, r in ranges.items() if not r.is_default()]
    return ArrayAttr(rows) if rows else None


INIT_RE = re.compile(r"zeros|ones|normal:[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?")


@irdl_op_definition
class ParamOp(IRDLOperation):
    """A parameter or buffer, named by its ``state_dict`` key.

    A parameter that a pass creates (``insert-block``) has no value in the source model's
    state_dict, so it may carry an ``init`` attribute (``INIT_RE``) that the lowering uses as its
    initial value; it is printed as ``param norm.weight: f32[128] init="ones"``.
    """

    name = "gs.param"
    param_name = prop_def(StringAttr, prop_name="name")
    kind = prop_def(StringAttr)
    # Shared (tied) parameters: the state_dict key of the parameter this one is another name
    # for (GPT-2's lm_head.weight is transformer.wte.weight).  Printed as
    # ``param lm_head.weight: f32[V, D] = transformer.wte.weight``; the two keys stay in the
    # state_dict, the lowering makes one nn.Parameter, counts count it once.
    alias = opt_prop_def(StringAttr)
    out = var_result_def(TensorType)
    # Not Pure: dce must keep unused parameters, they are part of the state_dict contract.

    @property
    def alias_of(self) -> str | None:
        """The key of the parameter this one shares, or None."""
        a = self.properties.get("alias")
        return a.data if isinstance(a, StringAttr) else None


@irdl_op_definition
class ReturnOp(IRDLOperation):
    name = "gs.return"
    ins = var_operand_def(TensorType)
    traits = traits_def(IsTerminator())


@irdl_op_definition
class FusedOp(IRDLOperation):
    """A fused elementwise region: block arguments are the operands, ``gs.yield`` the results."""

    name = "gs.fused"
    ins = var_operand_def(TensorType)
    outs = var_result_def(TensorType)
    p_names = opt_prop_def(ArrayAttr, prop_name="names")
    p_scope = opt_prop_def(StringAttr, prop_name="scope")
    arg_names = opt_prop_def(ArrayAttr)
    body = region_def("single_block")
    traits = traits_def(Pure())

    @property
    def scope(self) -> str:
        s = self.properties.get("scope")
        return s.data if isinstance(s, StringAttr) else ""


@irdl_op_definition
class YieldOp(IRDLOperation):
    name = "gs.yield"
    ins = var_operand_def(TensorType)
    traits = traits_def(IsTerminator())


STRUCTURE_OPS = (GraphOp, ParamOp, ReturnOp, FusedOp, YieldOp)

def result_names(op: Any) -> list[str | None]:
    names = op.properties.get("names")
    if names is None:
        return [None] * len(op.results)
    return [n.data for n in names.data]


def set_result_names(op: Any, names: Sequence[str]) -> None:
    op.properties["names"] = ArrayAttr([StringAttr(n) for n in names])


def set_scope(op: Any, scope: str) -> None:
    if scope:
        op.properties["scope"] = StringAttr(scope)
    else:
        op.properties.pop("scope", None)


def graph_ops(module: Any) -> list[GraphOp]:
    return [op for op in module.body.block.ops if isinstance(op, GraphOp)]


def region_from(block_arg_types: Sequence[Attribute]) -> Region:
    return Region(Block(arg_types=block_arg_types))
