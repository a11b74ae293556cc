"""gs IR -> text: deterministic, one op per line, a type on every value, foldable by depth.

The printer is the inverse of the parser: ``print_ir(parse_ir(t))`` reproduces ``t`` for any
text the printer wrote without ``depth``.  Module blocks are rebuilt from each op's ``scope`` and
the graph's module table; with ``depth=k`` a module nested deeper than ``k`` levels prints as one
line with its interface (what flows in, what flows out), which is how large graphs fit in a
prompt.  Folded text is a read-only view, like MLIR's elided output: the ops inside a folded
module are not in it, so the parser refuses it with its own diagnostic (GS110) rather than read
something other than the module that was printed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.shapes import SymDim


def print_ir(module: ModuleOp | gs.GraphOp, depth: int | None = None) -> str:
    """The text form of every graph in ``module``; ``depth`` folds modules below that level."""
    graphs = [module] if isinstance(module, gs.GraphOp) else gs.graph_ops(module)
    return "\n".join(GraphPrinter(g, depth).print() for g in graphs)


class FoldMarker(NamedTuple):
    """Where a line of text is a folded module (see :func:`find_fold_marker`)."""

    column: int  # 1-based column of the marker: the '(' of the interface, or the '{' of '{ ... }'
    path: str
    cls: str
    ops: int | None  # how many ops the fold hides, when the line says so


# A folded module line as ``print_ir(m, depth=k)`` writes it (``module PATH : Class(ins) ->
# (outs)  // N ops folded``), or as prompt outlines elide a module (``module PATH : Class { ... }``).
# Folded text is a read-only view: the ops inside are not in it.  Kept beside ``_folded`` so that
# the form the printer writes and the form the parser recognises (GS110) cannot drift apart.
_FOLD_LINE = re.compile(
    r"[ \t]*module[ \t]+(?P<path>[A-Za-z0-9_.]+)[ \t]*:[ \t]*(?P<cls>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*"
    r"(?P<marker>\(|\{[ \t]*\.\.\.)"
)
_FOLD_COUNT = re.compile(r"//[ \t]*(\d{1,9})[ \t]+(?:ops|lines) folded")


def find_fold_marker(line: str) -> FoldMarker | None:
    """The fold marker of ``line`` when it is a folded module line, else None."""
    m = _FOLD_LINE.match(line)
    if m is None:
        return None
    count = _FOLD_COUNT.search(line, m.end())
    return FoldMarker(m.start("marker") + 1, m.group("path"), m.group("cls"), int(count.group(1)) if count else None)


def format_scalar(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return str(v)


def format_attr(kind: str, v: Any) -> str:
    if v is None:
        return "None"
    if kind in ("str",):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    if kind == "dtype":
        return v
    if isinstance(v, tuple):
        return "[" + ", ".join(format_attr("dim", x) for x in v) + "]"
    if isinstance(v, SymDim):
        return str(v)
    return format_scalar(v)


class GraphPrinter:
    """Prints one graph; assigns fresh names only to values that have none (or a taken one)."""

    def __init__(self, graph: gs.GraphOp, depth: int | None = None):
        self.graph = graph
        self.depth = depth
        self.names: dict[SSAValue, str] = {}
        self.taken: set[str] = set()
        self.counter = 0
        self.table = graph.module_table()

    # -- names --------------------------------------------------------------------
    def _claim(self, value: SSAValue, wanted: str | None, prefix: str = "%") -> None:
        if wanted is not None and wanted not in self.taken:
            name = wanted
        else:
            while True:
                name = f"{prefix}t{self.counter}"
                self.counter += 1
                if name not in self.taken:
                    break
        self.taken.add(name)
        self.names[value] = name

    def _name_block(self, ops: Iterable[Operation]) -> None:
        for op in ops:
            if isinstance(op, gs.ParamOp):
                self._claim(op.results[0], op.param_name.data, prefix="")
                continue
            if op.results:
                for r, n in zip(op.results, gs.result_names(op)):
                    self._claim(r, None if n is None else "%" + n)
            if isinstance(op, gs.FusedOp):
                arg_names = op.arg_names.data if op.arg_names is not None else []
                block = op.body.block
                for i, a in enumerate(block.args):
                    self._claim(a, "%" + arg_names[i].data if i < len(arg_names) else None)
                self._name_block(block.ops)

    def name(self, v: SSAValue) -> str:
        n = self.names.get(v)
        if n is None:
            self._claim(v, None)
            n = self.names[v]
        return n

    # -- modules ------------------------------------------------------------------------
    def chain(self, scope: str) -> list[str]:
        """Module paths from the outermost to ``scope``."""
        out = []
        seen = set()
        while scope and scope not in seen:
            seen.add(scope)
            out.append(scope)
            scope = self.table.get(scope, ("?", ""))[1]
        return out[::-1]

    def print(self) -> str:
        g = self.graph
        block = g.body.block
        for a, n in zip(block.args, g.arg_names.data):
            self._claim(a, n.data, prefix="")
        self._name_block(block.ops)
        args = ", ".join(f"{self.name(a)}: {a.type}" for a in block.args)
        outs = [t for t in g.output_types.data]
        res = ", ".join(str(t) for t in outs) if len(outs) == 1 else "(" + ", ".join(str(t) for t in outs) + ")"
        lines = [f"graph {g.sym_name.data}({args}) -> {res} {{"]
        ops = list(block.ops)
        for op in ops:
            if isinstance(op, gs.ParamOp):
                init = op.attributes.get("init")
                suffix = f' init="{init.data}"' if isinstance(init, StringAttr) else ""
                lines.append(f"  {op.kind.data} {op.param_name.data}: {op.results[0].type}{suffix}")
        body = [op for op in ops if not isinstance(op, gs.ParamOp)]
        self._print_ops(body, lines, indent=1)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _print_ops(self, ops: list[Operation], lines: list[str], indent: int) -> None:
        open_modules: list[str] = []
        i = 0
        while i < len(ops):
            op = ops[i]
            scope = op.properties.get("scope")
            chain = self.chain(scope.data) if scope is not None else []
            common = 0
            while common < min(len(open_modules), len(chain)) and open_modules[common] == chain[common]:
                common += 1
            while len(open_modules) > common:
                open_modules.pop()
                lines.append("  " * (indent + len(open_modules)) + "}")
            for path in chain[common:]:
                level = len(open_modules) + 1
                if self.depth is not None and level > self.depth:
                    # Fold: every following op inside `path` goes into one line.
                    j = i
                    while j < len(ops) and path in self._op_chain(ops[j]):
                        j += 1
                    lines.append("  " * (indent + len(open_modules)) + self._folded(path, ops[i:j]))
                    i = j
                    break
                cls = self.table.get(path, ("?", ""))[0]
                lines.append("  " * (indent + len(open_modules)) + f"module {path} : {cls} {{")
                open_modules.append(path)
            else:
                self._print_op(op, lines, indent + len(open_modules))
                i += 1
        while open_modules:
            open_modules.pop()
            lines.append("  " * (indent + len(open_modules)) + "}")

    def _op_chain(self, op: Operation) -> list[str]:
        scope = op.properties.get("scope")
        return self.chain(scope.data) if scope is not None else []

    def _folded(self, path: str, ops: list[Operation]) -> str:
        inside = set(ops)
        defined = {r for op in ops for r in op.results}
        inputs: list[SSAValue] = []
        for op in ops:
            for v in _operands_deep(op):
                owner = v.owner
                if v not in defined and v not in inputs and not isinstance(owner, gs.ParamOp):
                    if isinstance(owner, Operation) and owner in inside:
                        continue
                    inputs.append(v)
        outputs = [r for op in ops for r in op.results if any(u.operation not in inside for u in r.uses)]
        cls = self.table.get(path, ("?", ""))[0]
        ins = ", ".join(self.name(v) for v in inputs)
        outs = ", ".join(f"{self.name(v)}: {v.type}" for v in outputs)
        n = sum(1 for _ in ops)
        return f"module {path} : {cls}({ins}) -> ({outs})  // {n} ops folded"  # see _FOLD_LINE

    def _print_op(self, op: Operation, lines: list[str], indent: int) -> None:
        pad = "  " * indent
        if isinstance(op, (gs.ReturnOp, gs.YieldOp)):
            kw = "return" if isinstance(op, gs.ReturnOp) else "yield"
            vals = ", ".join(self.name(v) for v in op.operands)
            lines.append(f"{pad}{kw} {vals}".rstrip())
            return
        defs = ", ".join(f"{self.name(r)}: {r.type}" for r in op.results)
        if isinstance(op, gs.FusedOp):
            args = ", ".join(self.name(v) for v in op.operands)
            lines.append(f"{pad}{defs} = fused({args}) {{")
            block = op.body.block
            bargs = ", ".join(f"{self.name(a)}: {a.type}" for a in block.args)
            lines.append(f"{pad}  ^({bargs})")
            for inner in block.ops:
                self._print_op(inner, lines, indent + 1)
            lines.append(f"{pad}}}")
            return
        if not isinstance(op, gs.GsOp):
            lines.append(f"{pad}// unsupported op {op.name}")
            return
        lines.append(f"{pad}{defs} = {op.SPEC.name}({self.call_args(op)})")

    def call_args(self, op: gs.GsOp) -> str:
        parts = []
        layout = op.arg_layout()
        while layout and layout[-1] is None:
            layout.pop()
        for a in layout:
            parts.append(self.name(a) if isinstance(a, SSAValue) else format_scalar(a))
        props = op.properties
        for a in op.SPEC.attrs:
            attr = props.get(a.name)
            if attr is None:
                continue
            v = gs.from_attr(attr)
            if a.kind in ("dim", "dims"):
                v = gs.dim_value(v)
            parts.append(f"{a.name}={format_attr(a.kind, v)}")
        return ", ".join(parts)


def _operands_deep(op: Operation) -> Iterable[SSAValue]:
    yield from op.operands
    for region in op.regions:
        for inner in region.walk():
            yield from inner.operands
