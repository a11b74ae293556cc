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

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.attrs import KINDS, format_scalar

__all__ = ["FoldMarker", "GraphPrinter", "TextMap", "find_fold_marker", "format_attr", "format_scalar", "print_ir",
           "print_ir_mapped"]


def print_ir(module: ModuleOp | gs.GraphOp, depth: int | None = None) -> str:
    """The text form of every graph in ``module``; ``depth`` folds modules below that level."""
    graphs = [module] if isinstance(module, gs.GraphOp) else gs.graph_ops(module)
    return "\n".join(GraphPrinter(g, depth).print() for g in graphs)


@dataclass
class TextMap:
    """Where things are in a printed text (0-based line numbers): so tools that show or cut the
    text (the LLM context) ask the printer instead of re-reading its output with patterns.

    ``modules``: module path -> (line of ``module PATH : Class {``, line of its ``}``, class)
    (a module printed in several blocks: its last block); ``params``: line -> state_dict key of
    a ``param``/``buffer`` line; ``defs``: line -> the (name, type) of the values it defines;
    ``uses``: line -> the names of the values it reads."""

    modules: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    params: dict[int, str] = field(default_factory=dict)
    defs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    uses: dict[int, list[str]] = field(default_factory=dict)


def print_ir_mapped(module: ModuleOp | gs.GraphOp, depth: int | None = None) -> tuple[str, TextMap]:
    """:func:`print_ir`'s text and the :class:`TextMap` of it."""
    graphs = [module] if isinstance(module, gs.GraphOp) else gs.graph_ops(module)
    texts: list[str] = []
    whole = TextMap()
    offset = 0
    for g in graphs:
        printer = GraphPrinter(g, depth, mapped=True)
        text = printer.print()
        m = printer.map
        whole.modules.update({p: (a + offset, b + offset, c) for p, (a, b, c) in m.modules.items()})
        whole.params.update({k + offset: v for k, v in m.params.items()})
        whole.defs.update({k + offset: v for k, v in m.defs.items()})
        whole.uses.update({k + offset: v for k, v in m.uses.items()})
        texts.append(text)
        offset += text.count("\n") + 1  # graphs are joined by one more newline
    return "\n".join(texts), whole


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


def format_attr(kind: str, v: Any) -> str:
    """An attribute value of kind ``kind`` as the text form writes it."""
    return KINDS[kind].format(v)


class GraphPrinter:
    """Prints one graph; assigns fresh names only to values that have none (or a taken one)."""

    def __init__(self, graph: gs.GraphOp, depth: int | None = None, *, mapped: bool = False):
        self.graph = graph
        self.depth = depth
        self.names: dict[SSAValue, str] = {}
        self.taken: set[str] = set()
        self.counter = 0
        self.table = graph.module_table()
        self.mapped = mapped  # record where things are (print_ir_mapped); plain printing does not pay for it
        self.map = TextMap()  # filled by print() when mapped

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
        for entry in g.symbols.data if g.symbols is not None else ():
            decl = gs.symbol_entry(entry)
            if decl is not None:
                lines.append(f"  symbol {decl[0]}: {decl[1].text()}")
        ops = list(block.ops)
        for op in ops:
            if isinstance(op, gs.ParamOp):
                init = op.attributes.get("init")
                suffix = f' init="{init.data}"' if isinstance(init, StringAttr) else ""
                self.map.params[len(lines)] = op.param_name.data
                if op.alias_of is not None:
                    suffix = f" = {op.alias_of}"
                lines.append(f"  {op.kind.data} {op.param_name.data}: {op.results[0].type}{suffix}")
        body = [op for op in ops if not isinstance(op, gs.ParamOp)]
        self._print_ops(body, lines, indent=1)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _print_ops(self, ops: list[Operation], lines: list[str], indent: int) -> None:
        open_modules: list[str] = []
        opened: dict[str, int] = {}
        i = 0
        while i < len(ops):
            op = ops[i]
            scope = op.properties.get("scope")
            chain = self.chain(scope.data) if scope is not None else []
            common = 0
            while common < min(len(open_modules), len(chain)) and open_modules[common] == chain[common]:
                common += 1
            while len(open_modules) > common:
                self._close(open_modules.pop(), opened, lines)
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
                opened[path] = len(lines)
                lines.append("  " * (indent + len(open_modules)) + f"module {path} : {cls} {{")
                open_modules.append(path)
            else:
                self._print_op(op, lines, indent + len(open_modules))
                i += 1
        while open_modules:
            self._close(open_modules.pop(), opened, lines)
            lines.append("  " * (indent + len(open_modules)) + "}")

    def _close(self, path: str, opened: dict[str, int], lines: list[str]) -> None:
        """Record the span of module ``path``, whose ``}`` is the next line."""
        self.map.modules[path] = (opened[path], len(lines), self.table.get(path, ("?", ""))[0])

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
            if self.mapped:
                self.map.uses[len(lines)] = [self.name(v) for v in op.operands]
            lines.append(f"{pad}{kw} {vals}".rstrip())
            return
        defs = ", ".join(f"{self.name(r)}: {r.type}" for r in op.results)
        if self.mapped:
            here = len(lines)
            self.map.defs[here] = [(self.name(r), str(r.type)) for r in op.results]
            self.map.uses[here] = [self.name(v) for v in op.operands]
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
            parts.append(f"{a.name}={a.codec.format(a.codec.from_attr(attr))}")
        return ", ".join(parts)


def _operands_deep(op: Operation) -> Iterable[SSAValue]:
    yield from op.operands
    for region in op.regions:
        for inner in region.walk():
            yield from inner.operands
