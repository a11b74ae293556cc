"""Graph queries and context retrieval, for people (``graphsynth-query``) and prompts.

    from graphsynth import query
    query.paths(m, "transformer.h.0", "transformer.h.0", parallel=True)  # branches across a block
    query.paths(m, "%4", "return", limit=10)          # paths from a value to the graph's results
    query.neighbours(m, "%36", k=2)                    # values within 2 ops, up- and downstream
    query.output_cone(m)                               # what the results depend on; the dead rest
    query.shape(m, "transformer.h.0")                  # a module's interface with types
    query.cost(m, {"B": 2, "S": 128})                  # params and FLOPs per module, symbolic
    query.symbols(m)                                   # each symbol: bound where, range, step
    query.context(m, "transformer.h.0", 2000)          # a gs slice for editing one block

Targets are value names (``%3``, ``x``, ``fc1.weight``) or module paths (``named_modules()``
paths; as a path's source a module means its outputs, as its destination its inputs;
``PATH:in``/``PATH:out`` pick a side; ``return`` is the graph's results).  Every query builds the
graph's index once and caches it on the graph (``index``); errors are :class:`QueryError`
carrying diagnostics GS701-GS705.  See docs/query.md for the definitions.
"""

from graphsynth.query.costs import CostReport, ModuleCost, OpCost, cost
from graphsynth.query.graph_index import GraphIndex, QueryError, Step, index, invalidate
from graphsynth.query.neighbourhood import Cone, Hop, Neighbourhood, consumers, neighbours, output_cone, producers
from graphsynth.query.pathfinding import Group, Path, PathSet, paths
from graphsynth.query.shapes import Interface, interface, shape
from graphsynth.query.slicing import Slice, context, count_tokens
from graphsynth.query.symbols import SymbolInfo, symbols

__all__ = [
    "Cone",
    "CostReport",
    "GraphIndex",
    "Group",
    "Hop",
    "Interface",
    "ModuleCost",
    "Neighbourhood",
    "OpCost",
    "Path",
    "PathSet",
    "QueryError",
    "Slice",
    "Step",
    "SymbolInfo",
    "consumers",
    "context",
    "cost",
    "count_tokens",
    "index",
    "interface",
    "invalidate",
    "neighbours",
    "output_cone",
    "paths",
    "producers",
    "shape",
    "symbols",
]
