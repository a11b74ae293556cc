"""Re-verify an edited graph in time proportional to the edit: only the statements it replaced
and the ops that read the values they define.

Each attempt of a rewrite is the base text with a few statements replaced.  The base text is
parsed and verified once (in the background, with :class:`IncrementalParser`); for an attempt,
the replaced statements are parsed (as the incremental parser does) and built into ops whose
operands are the base module's own values, and the verifier runs on exactly these:

- the new ops, in order;
- the base ops after the edit that read a value the edit redefined with another type (they see
  the new type through the verifier's overrides: the base module is never modified);
- ``return``, when it returns such a value.

Every other op reads what it read before and its rule gives what it gave before, and the base
verified clean, so their verdicts cannot change.  Diagnostics come out as full verification
gives them: in block order, located in the attempt's text (lines after the edit moved by its
line delta), with the same fix-its (the fix-it search sees the users across the edit).

When anything is out of the ordinary, :meth:`IncrementalVerifier.check` returns None and the
caller parses and verifies the whole text: the base did not verify, the edit adds, drops or
renames a definition, touches a module block, a fused region, a ``call``, the return or the
graph header, reads a value before its definition, or does not parse.  The fast path is checked
against full verification on random edits (``tests/test_llm_reverify.py``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from xdsl.ir import Block, Operation, SSAValue

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, remember_source
from graphsynth.llm.incremental import IncrementalParser, _Fallback, _fragment


class IncrementalVerifier:
    """Verifies edits of ``parser.base_text`` (see the module docstring)."""

    def __init__(self, parser: IncrementalParser, filename: str = "base.gs", background: bool = True):
        self.parser = parser
        self.filename = filename
        self.stats = {"incremental": 0, "fallback": 0}
        self._base: _Base | None = None
        self._ready = threading.Event()
        self.wait_s = 0.0
        if background:
            threading.Thread(target=self._prepare, daemon=True).start()
        else:
            self._prepare()

    def _prepare(self) -> None:
        try:
            self._base = _Base.build(self.parser, self.filename)
            if self._base is not None:
                self._base.names()  # value names for messages, ready before the first finding
        except Exception:  # noqa: BLE001 - no base: every attempt takes the full path
            self._base = None
        finally:
            self._ready.set()

    def base(self) -> _Base | None:
        if not self._ready.is_set():
            t = time.perf_counter()
            self._ready.wait()
            self.wait_s += time.perf_counter() - t
        return self._base

    def check(self, new_text: str, first: int, last_old: int, last_new: int, filename: str) -> list[Diagnostic] | None:
        """The diagnostics full parsing and verification of ``new_text`` would give, or None
        when the edit needs the full path."""
        base = self.base()
        if base is None:
            self.stats["fallback"] += 1
            return None
        try:
            diags = base.check(new_text, first, last_old, last_new, filename)
        except _Fallback:
            diags = None
        self.stats["incremental" if diags is not None else "fallback"] += 1
        return diags


class _Base:
    """The base module, verified clean, and the indexes an attempt needs."""

    def __init__(self, parser: IncrementalParser, module: Any, graph: Any):
        self.parser = parser
        self.module = module
        self.graph = graph
        self.block: Block = graph.body.block
        self.ops: list[Operation] = list(self.block.ops)
        self.position = {op: i for i, op in enumerate(self.ops)}
        self.by_line: dict[int, Operation] = {}
        from graphsynth.verifier.locations import location

        for op in self.ops:
            loc = location(op)
            if loc is not None:
                self.by_line.setdefault(loc.line, op)
        self.defs = [_defined(op) for op in self.ops]
        self.inputs = {a.data: v for a, v in zip(graph.arg_names.data, self.block.args)}
        self.printer: Any = None  # names of the base values, made on the first finding

    def names(self) -> Any:
        if self.printer is None:
            from graphsynth.grammar.printer import GraphPrinter

            p = GraphPrinter(self.graph)
            for a, n in zip(self.block.args, self.graph.arg_names.data):
                p._claim(a, n.data, prefix="")
            p._name_block(self.block.ops)
            self.printer = p
        return self.printer

    @staticmethod
    def build(parser: IncrementalParser, filename: str) -> _Base | None:
        from graphsynth.dialects import gs
        from graphsynth.llm.incremental import _build
        from graphsynth.verifier import verify

        # The incremental parser's own tree: the text is read once.  (Waited for here, in the
        # background, without counting it as the attempt's wait.)
        thread = parser._thread
        if thread is not None:
            thread.join()
        tree = parser._tree if thread is not None else parser.base_tree()
        if tree is None:
            return None
        try:
            module = _build(tree, parser.base_text, filename)
        except GraphsynthError:
            return None
        graphs = gs.graph_ops(module)
        if len(graphs) != 1 or verify(module):
            return None
        return _Base(parser, module, graphs[0])

    # -- one attempt ---------------------------------------------------------------------------
    def check(self, new_text: str, first: int, last_old: int, last_new: int, filename: str) -> list[Diagnostic]:
        from graphsynth.dialects import gs
        from graphsynth.grammar.builder import _Builder

        tree = self.parser.base_tree()
        if tree is None:
            raise _Fallback
        path, body, i, j, frag = _fragment(tree, new_text, first, last_old, last_new)
        old_stmts = body.children[i : j + 1]
        new_stmts = list(frag.children)
        for st in [*old_stmts, *new_stmts]:
            if st.data not in ("op", "param") or any(getattr(c, "data", None) == "region" for c in st.children):
                raise _Fallback
        if any(st.data == "param" for st in [*old_stmts, *new_stmts]) and self.shares_parameters():
            raise _Fallback  # which parameters share which is a fact of the whole graph
        removed = []
        for st in old_stmts:
            op = self.by_line.get(st.meta.line)
            if op is None:
                raise _Fallback
            removed.append(op)
        if any(isinstance(op, gs.GsOp) and op.SPEC.name == "call" for op in removed):
            raise _Fallback
        removed_set = set(removed)
        start = min(self.position[op] for op in removed)
        if any(self.position[op] - start >= len(removed) for op in removed):
            raise _Fallback  # not one run of consecutive statements
        scope = ""
        for node, _k in path:
            if getattr(node, "data", None) == "module":
                scope = str(node.children[0])
        # The names the edit may use: graph inputs and everything defined before it.
        b = _Builder(filename)
        b.env, b.def_site, b.forward, b.forward_site, b.use_sites = {}, {}, {}, {}, {}
        b.modules, b.params, b.use_op = {}, {}, {}
        b.env.update(self.inputs)
        old_names: dict[str, SSAValue] = {}
        for k in range(start):
            b.env.update(self.defs[k])
        for op in removed:
            old_names.update(self.defs[self.position[op]])
        # Parameters declared anywhere but in the edit (a duplicate is refused as in full parsing).
        for name, r in self.param_types():
            if name not in old_names:
                b.params[name] = r.type
        for name in b.env:
            b.def_site[name] = old_stmts[0]
        scratch = Block()
        try:
            for st in new_stmts:
                if st.data == "op":
                    if str(st.children[1]) in ("call", "fused"):
                        raise _Fallback
                    b.build_op(st, scratch, scope)
                else:
                    b.build_param(st, scratch, scope)
            new_ops = list(scratch.ops)
            if b.diagnostics or b.forward or len(new_ops) != len(new_stmts):
                raise _Fallback
            new_names: dict[str, SSAValue] = {}
            for op in new_ops:
                for name, r in _defined(op):
                    new_names[name] = r
            if set(new_names) != set(old_names):
                raise _Fallback
            return self._verify(new_ops, removed_set, old_names, new_names, new_text, filename, last_old, last_new - last_old)
        finally:
            for op in list(scratch.ops):
                scratch.detach_op(op)
                op.drop_all_references()

    def shares_parameters(self) -> bool:
        """Whether some parameter of the base graph is declared as sharing another."""
        from graphsynth.dialects import gs

        return any(isinstance(op, gs.ParamOp) and op.alias_of is not None for op in self.ops)

    def param_types(self) -> list[tuple[str, SSAValue]]:
        from graphsynth.dialects import gs

        if not hasattr(self, "_params"):
            self._params = [(op.param_name.data, op.results[0]) for op in self.ops if isinstance(op, gs.ParamOp)]
        return self._params

    def _verify(self, new_ops: list[Operation], removed: set[Operation], old_names: dict[str, SSAValue],
                new_names: dict[str, SSAValue], new_text: str, filename: str, last_old: int, delta: int) -> list[Diagnostic]:
        from graphsynth.dialects import gs
        from graphsynth.verifier.calls import callee_signatures

        if self.graph.unbacked_symbols():
            raise _Fallback  # where unbacked symbols are defined and used is a check of the whole graph
        remember_source(filename, new_text)
        old_of = {new_names[n]: old_names[n] for n in new_names}
        new_of = {old: new for new, old in old_of.items()}
        v = _EditVerifier(self.graph, callee_signatures(self.module), self, new_ops, removed, old_of, new_of,
                          filename, last_old, delta)
        changed = [old for new, old in old_of.items() if new.type != old.type]
        v.symbols = set()
        from graphsynth.dialects.symdim import free_symbols

        for a in self.block.args:
            for d in a.type.shape:
                if not isinstance(d, int):
                    v.symbols |= free_symbols(d)
        v.params = {name: r.owner for name, r in self.param_types() if r.owner not in removed}
        v._printer = self.names()
        if any(isinstance(op, gs.ParamOp) and op.alias_of is not None for op in new_ops):
            raise _Fallback  # the edit declares a shared parameter
        for op in new_ops:
            if isinstance(op, gs.ParamOp):
                v.verify_param(op)
            else:
                v.verify_primitive(op)
        readers: set[Operation] = set()
        for old in changed:
            readers.update(u for u in v.base_users(old) if u not in removed)
        for op in sorted(readers, key=self.position.__getitem__):
            if isinstance(op, gs.GsOp):
                v.verify_primitive(op)
            elif isinstance(op, gs.ReturnOp):
                v.verify_return(op)
            else:
                raise _Fallback
        if v.diags and v.fixits:
            from graphsynth.fixits import suggest_fixes

            suggest_fixes(v)
        return v.diags


def _defined(op: Operation) -> list[tuple[str, SSAValue]]:
    from graphsynth.dialects import gs

    if isinstance(op, gs.ParamOp):
        return [(op.param_name.data, op.results[0])]
    if not op.results:
        return []
    return [("%" + n, r) for n, r in zip(gs.result_names(op), op.results) if n is not None]


def _verifier_class() -> type:
    from graphsynth.verifier.graph import _GraphVerifier

    return _GraphVerifier


class _EditVerifier(_verifier_class()):  # type: ignore[misc]
    """The verifier seeing the base graph with the edit in place: new ops beside it, the old
    values they redefine read through overrides, locations in the attempt's text."""

    def __init__(self, graph: Any, callees: Any, base: _Base, new_ops: list[Operation], removed: set[Operation],
                 old_of: dict[SSAValue, SSAValue], new_of: dict[SSAValue, SSAValue], filename: str, last_old: int,
                 delta: int):
        super().__init__(graph, callees)
        self.base = base
        self.new_ops = new_ops
        self.new_set = set(new_ops)
        self.removed = removed
        self.old_of = old_of
        self.new_of = new_of
        self.filename = filename
        self.last_old = last_old
        self.delta = delta

    def locate(self, op: Operation) -> Location | None:
        from graphsynth.verifier.locations import location

        loc = location(op)
        if loc is None or op in self.new_set:
            return loc
        line = loc.line + self.delta if loc.line > self.last_old else loc.line
        return Location(self.filename, line, loc.column)

    def name(self, v: SSAValue) -> str:
        return super().name(self.old_of.get(v, v))

    def is_top(self, op: Operation) -> bool:
        return op in self.new_set or super().is_top(op)

    def base_users(self, v: SSAValue) -> list[Operation]:
        return super().users(v)

    def users(self, v: SSAValue) -> list[Operation]:
        base = super().users(self.old_of.get(v, v))
        out = [u for u in base if u not in self.removed] + [op for op in self.new_ops if v in op.operands]
        return list(dict.fromkeys(out))

    def vtype(self, v: SSAValue) -> Any:
        """An old value the edit redefined reads as its new definition (or what stands in for
        that)."""
        new = self.new_of.get(v)
        if new is not None:
            return self.overrides.get(new, new.type)
        return super().vtype(v)
