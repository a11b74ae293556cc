"""The symbols of a graph: where each is bound and what values it may take.

``symbols(m)`` lists every symbol of the graph inputs' types in the order they first appear,
with the input dim that binds it (what the lowered module reads at run time), its declared range
and step (``symbol S: [400, 4000] step 8``; ``[1, inf]`` when undeclared), and whether that
range was declared.  Prompts and tools use it to pick bindings that the graph allows (two
bindings of every symbol for a numerical check must both lie in its range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphsynth.dialects.ranges import SymbolRange
from graphsynth.dialects.symdim import free_symbols
from graphsynth.query.graph_index import index


@dataclass(frozen=True)
class SymbolInfo:
    """One symbol: its name, the first input dim it appears in, its range and step."""

    name: str
    input: str
    axis: int
    dim: str  # the dim expression at that axis (``S``, ``8*k``)
    range: SymbolRange
    declared: bool

    def samples(self, k: int = 2) -> list[int]:
        """Up to ``k`` distinct allowed values, small ones first (the lowest allowed value,
        then the next multiples of the step), for numerical checks at several bindings."""
        out = []
        v = self.range.low
        high = self.range.high
        while len(out) < k and (high is None or v <= high):
            out.append(v)
            v += self.range.step
        return out

    def to_dict(self) -> dict[str, Any]:
        r = self.range
        return {"symbol": self.name, "input": self.input, "axis": self.axis, "dim": self.dim, "min": r.min,
                "max": r.max, "step": r.step, "declared": self.declared}

    def render(self) -> str:
        where = f"dim {self.axis} of {self.input} ({self.dim})"
        return f"{self.name}: {self.range.text()}{'' if self.declared else ' (undeclared)'}  bound by {where}"


def symbols(module: Any, *, graph: str | None = None) -> list[SymbolInfo]:
    """Every symbol of the graph's inputs, with where it is bound and its range."""
    ix = index(module, graph)
    g = ix.graph
    declared = g.symbol_ranges()
    names = [a.data for a in g.arg_names.data]
    out: dict[str, SymbolInfo] = {}
    for name, arg in zip(names, g.body.block.args):
        for axis, d in enumerate(arg.type.shape):
            if isinstance(d, int):
                continue
            for s in sorted(free_symbols(d)):
                if s not in out:
                    r = declared.get(s)
                    out[s] = SymbolInfo(s, name, axis, str(d), r or SymbolRange(), r is not None)
    return list(out.values())
