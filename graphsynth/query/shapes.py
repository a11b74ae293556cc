"""Shapes at module boundaries: what flows into and out of a module, with types.

``interface(m, "blocks.0")`` lists the module's inputs (values defined outside it and used
inside; graph inputs count, parameters are listed apart), its outputs (values defined inside it
and used outside it or returned by the graph) and the parameters and buffers its ops read.
``shape(m, target)`` is the type of a value, or the interface of a module (``PATH:in`` and
``PATH:out`` narrow it to one side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphsynth.query.graph_index import Step, index, query_error


@dataclass
class Interface:
    """The boundary of one module (see the module docstring)."""

    path: str
    cls: str
    inputs: list[Step]
    outputs: list[Step]
    params: list[Step]

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.path,
            "class": self.cls,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
            "params": [s.to_dict() for s in self.params],
        }

    def signature(self) -> str:
        """One line, the printer's folding form: ``module p : Cls(%a, x) -> (%b: f32[B, 4])``."""
        ins = ", ".join(s.name for s in self.inputs)
        outs = ", ".join(f"{s.name}: {s.type}" for s in self.outputs)
        return f"module {self.path} : {self.cls}({ins}) -> ({outs})"

    def render(self) -> str:
        lines = [self.signature()]
        for s in self.inputs:
            where = "a graph input" if s.kind == "input" else f"from {s.module or '<top>'}"
            lines.append(f"  in  {s.name}: {s.type}  ({where})")
        lines += [f"  out {s.name}: {s.type}" for s in self.outputs]
        lines += [f"  {s.kind} {s.name}: {s.type}" for s in self.params]
        return "\n".join(lines)


def interface(module: Any, path: str, *, graph: str | None = None) -> Interface:
    """The inputs, outputs and parameters of module ``path`` with their types."""
    ix = index(module, graph)
    t = ix.resolve(path, "any")
    if t.kind != "module":
        raise query_error("GS701", f"'{path}' is a value, not a module (modules: {', '.join(list(ix.table)[:8])}...)", value=path)
    assert t.module is not None
    ins, outs, params = ix.boundary(t.module)
    return Interface(t.module, ix.table[t.module][0], ix.steps(ins), ix.steps(outs), ix.steps(params))


def shape(module: Any, target: str, *, graph: str | None = None) -> Step | Interface:
    """The type of a value (a :class:`Step`, ``.type``), or the :class:`Interface` of a module;
    ``PATH:in``/``PATH:out`` keep one side only."""
    ix = index(module, graph)
    t = ix.resolve(target, "any")
    if t.kind == "value":
        return ix.step(t.values[0])
    if t.kind == "return":
        return Interface("return", "<graph>", ix.steps(t.values), [], [])
    assert t.module is not None
    full = interface(ix, t.module)
    if target.strip().endswith(":in"):
        full.outputs = []
    elif target.strip().endswith(":out"):
        full.inputs, full.params = [], []
    return full
