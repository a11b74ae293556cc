"""The verification of one graph: structure, declarations, arity, attributes and shape rules.

:class:`_GraphVerifier` walks a graph once, reporting located diagnostics (and the fix-its found
for them); the module-level checks (call cycles, what the text form can hold) live beside it in
the verifier package.
"""

from __future__ import annotations

from typing import Any

from xdsl.ir import Block, Operation, SSAValue

from graphsynth.diagnostics import Diagnostic, Location, error, source_line
from graphsynth.dialects import gs
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.limits import LimitError, shorten
from graphsynth.dialects.ranges import SymbolRange, assuming
from graphsynth.dialects.rules import RuleContext, ShapeError, Sig
from graphsynth.dialects.symdim import free_symbols
from graphsynth.dialects.traits import Elementwise
from graphsynth.dialects.unbacked import order_problems
from graphsynth.spelling import SpellingBudget
from graphsynth.verifier.dataflow import ancestor_in, find_cycle, operands_deep
from graphsynth.verifier.locations import location
from graphsynth.verifier.text_form import text_form_problems


class _GraphVerifier:
    def __init__(self, graph: gs.GraphOp, callees: dict[str, tuple[tuple[Sig, ...], tuple[Sig, ...]]]):
        self.graph = graph
        self.callees = callees
        self.diags: list[Diagnostic] = []
        self._printer = None
        # Types that stand in for the ones values carry (incremental re-verification, and the
        # fix-it search trying a repair without building it); empty on the plain path.
        self.overrides: dict[SSAValue, Any] = {}
        self.by_op: dict[Operation, list[Diagnostic]] = {}  # who reported what (for fix-its)
        self.inferred: dict[Operation, list[Sig]] = {}  # rule results that disagree with declarations
        # The rule's arguments of each op that was reported: the fix-it search starts from them.
        self.rule_args: dict[Operation, tuple[list[Any], dict[str, Any], list[int | None]]] = {}
        self.fixits = True
        self.spelling = SpellingBudget()  # "did you mean" of this check

    # -- reporting ----------------------------------------------------------------
    def name(self, v: SSAValue) -> str:
        if self._printer is None:
            from graphsynth.grammar.printer import GraphPrinter

            self._printer = GraphPrinter(self.graph)
            block = self.graph.body.block
            for a, n in zip(block.args, self.graph.arg_names.data):
                self._printer._claim(a, n.data, prefix="")
            self._printer._name_block(block.ops)
        return self._printer.name(v)

    def report(self, op: Operation, code: str, message: str, **kw: Any) -> None:
        opname = op.SPEC.name if _is_primitive(type(op)) else op.name.removeprefix("gs.")
        loc = self.locate(op)
        value = kw.pop("value", None) or (self.name(op.results[0]) if op.results else None)
        d = error(code, f"{opname}: {message}", op=opname, value=value, loc=loc, **kw)
        d.source_line = source_line(loc)
        self.diags.append(d)
        self.by_op.setdefault(op, []).append(d)

    def locate(self, op: Operation) -> Location | None:
        """Where ``op`` is in the text the diagnostics refer to."""
        return location(op)

    def users(self, v: SSAValue) -> list[Operation]:
        """The ops of the graph's block that read ``v`` (an op of a region counts as its
        region's op)."""
        block = self.top_block()
        out = []
        for use in v.uses:
            top = ancestor_in(use.operation, block)
            if top is not None:
                out.append(top)
        return out

    def is_top(self, op: Operation) -> bool:
        """Whether ``op`` is a statement of the graph's own block (not of a fused region)."""
        return op.parent_block() is self.top_block()

    def top_block(self) -> Block:
        """The graph's block, looked up once (an xDSL region accessor costs a few microseconds,
        and the fix-it search asks for it for every reported op)."""
        block = self.__dict__.get("_top_block")
        if block is None:
            block = self._top_block = self.graph.body.block
        return block

    def vtype(self, v: SSAValue) -> Any:
        """The type of ``v`` as this run sees it (an override, or its own)."""
        return self.overrides.get(v, v.type) if self.overrides else v.type

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> list[Diagnostic]:
        from graphsynth.dialects.call import CALLEES

        token = CALLEES.set(self.callees)
        try:
            # Shape proofs use what the graph declares about its symbols (ranges, steps).
            with assuming(valid_symbol_ranges(self.graph)):
                return self._run()
        finally:
            CALLEES.reset(token)

    def _run(self) -> list[Diagnostic]:
        g = self.graph
        if len(g.body.blocks) != 1:
            self.report(g, "GS211", f"the body must be one block, got {len(g.body.blocks)}")
            return self.diags
        form = text_form_problems(g)
        if form:
            self.diags.extend(form)
            return self.diags
        block = g.body.block
        self.symbols: set[str] = set()
        for a in block.args:
            if isinstance(a.type, gs.TensorType):
                for d in a.type.shape:
                    if not isinstance(d, int):
                        self.symbols |= free_symbols(d)
            else:
                self.report(g, "GS211", f"graph input #{a.index} has type {a.type}, expected a gs tensor type")
        if len(g.arg_names.data) != len(block.args):
            self.report(g, "GS211", f"graph declares {len(g.arg_names.data)} input names for {len(block.args)} inputs")
        # Unbacked symbols are defined by ops, not inputs (graphsynth.dialects.unbacked).
        self.input_symbols = set(self.symbols)
        self.unbacked = {n for n, r in valid_symbol_ranges(g).items() if r.unbacked}
        self.symbols |= self.unbacked
        self.check_symbol_declarations(g)
        self.params: dict[str, gs.ParamOp] = {}
        self.verify_block(block, top=True)
        self.check_aliases()
        self.check_order(block)
        for p in order_problems(g, self.unbacked, self.input_symbols, lambda op: f" (line {_line(op)})"):
            self.report(p.op, p.code, p.message, **p.extra)
        if self.diags and self.fixits:
            from graphsynth.fixits import suggest_fixes

            suggest_fixes(self)
        return self.diags

    def check_symbol_declarations(self, g: gs.GraphOp) -> None:
        """GS313 for a declaration that is no set of positive integers (or names a symbol
        twice), GS314 for one of a symbol no graph input has (nothing could bind it)."""
        seen: set[str] = set()
        for entry in g.symbols.data if g.symbols is not None else ():
            decl = gs.symbol_entry(entry)
            if decl is None:
                continue  # malformed: text_form_problems reported it
            name, r = decl
            if name in seen:
                self.report(g, "GS313", f"symbol '{name}' is declared twice", value=name)
                continue
            seen.add(name)
            problem = r.problem()
            if problem is not None:
                self.report(g, "GS313", f"symbol '{name}': {r.text()} allows no value: {problem}", value=name,
                            got=r.text(), fix="declare [min, max] with 1 <= min <= max and step >= 1")
            elif name not in self.symbols and not r.unbacked:
                known = ", ".join(sorted(self.symbols)) or "none"
                self.report(g, "GS314", f"symbol '{name}' is declared, but no graph input has it in its type (symbols: {known})",
                            value=name, fix=f"remove the declaration of '{name}', or use it in an input's type")

    def check_aliases(self) -> None:
        """A shared parameter names another parameter of the graph (GS310), one that is not
        itself shared (GS312: no chains, no cycles), of the same type and kind (GS311)."""
        for name, op in self.params.items():
            target = op.alias_of
            if target is None:
                continue
            other = self.params.get(target)
            if other is None:
                close = self.spelling.did_you_mean(target, list(self.params))
                self.report(op, "GS310", f"parameter '{name}' shares '{target}', which is not a parameter of this graph",
                            value=name, got=target, fix=f"did you mean {close}?" if close else "declare the shared parameter first")
                continue
            if other.alias_of is not None or target == name:
                chain = [name]
                while len(chain) <= len(self.params):
                    nxt = self.params[chain[-1]].alias_of if chain[-1] in self.params else None
                    if nxt is None:
                        break
                    chain.append(nxt)
                    if nxt in chain[:-1]:
                        break
                shown = " -> ".join(chain if len(chain) <= 8 else [*chain[:4], "...", *chain[-3:]])
                root = chain[-1]
                cyclic = root in chain[:-1]
                what = "parameters that share each other in a cycle" if cyclic else "a parameter that is itself shared"
                self.report(op, "GS312", f"parameter '{name}' shares {what} ({shown})", value=name, relation=shown,
                            fix=None if cyclic or root not in self.params else f"write '= {root}': shared parameters name one that is not shared")
                continue
            mine, theirs = op.results[0].type, other.results[0].type
            if mine != theirs:
                self.report(op, "GS311", f"parameter '{name}' shares '{target}', so it must have its type {theirs}, got {mine}",
                            value=name, expected=str(theirs), got=str(mine), fix=f"declare it as {theirs}")
            elif op.kind.data != other.kind.data:
                self.report(op, "GS311", f"'{name}' is a {op.kind.data} and shares '{target}', which is a {other.kind.data}",
                            value=name, expected=other.kind.data, got=op.kind.data)
            elif op.attributes.get("init") is not None:
                self.report(op, "GS311", f"parameter '{name}' shares '{target}' and takes its value from it; it cannot have an init",
                            value=name, fix="remove init=...")

    def verify_block(self, block: Block, top: bool) -> None:
        last = block.last_op
        want_term = gs.ReturnOp if top else gs.YieldOp
        if not isinstance(last, want_term):
            where = self.graph if top else block.parent_op()
            self.report(where, "GS211", f"block does not end with '{'return' if top else 'yield'}'")
        for op in block.ops:
            if _is_primitive(type(op)):
                self.verify_primitive(op)
            elif isinstance(op, gs.ParamOp):
                self.verify_param(op)
            elif isinstance(op, gs.ReturnOp):
                if not top or op is not last:
                    self.report(op, "GS211", "'return' must be the last op of the graph")
                else:
                    self.verify_return(op)
            elif isinstance(op, gs.YieldOp):
                if top or op is not last:
                    self.report(op, "GS211", "'yield' must be the last op of a fused region")
            elif isinstance(op, gs.FusedOp):
                self.verify_fused(op)
            else:
                self.report(op, "GS207", f"unknown op '{op.name}' inside a gs graph")

    def check_types_bound(self, op: Operation, types: Any, what: str) -> bool:
        # Types repeat on most lines: each distinct one is checked once, recognised by identity
        # (types are interned; hashing one hashes all its parameters again).
        bound: dict[int, Any] | None = self.__dict__.get("_bound_types")
        if bound is None:
            bound = self.__dict__["_bound_types"] = {}
        for t in types:
            if bound.get(id(t)) is t:
                continue
            if not isinstance(t, gs.TensorType):
                self.report(op, "GS211", f"{what} has type {t}, expected a gs tensor type")
                return False
            for d in t.shape:
                if not isinstance(d, int):
                    unknown = free_symbols(d) - self.symbols
                    if unknown:
                        sym = sorted(unknown)[0]
                        self.report(
                            op,
                            "GS210",
                            f"{what} has type {t}, which uses the unknown symbol '{sym}'",
                            got=sym,
                            expected="a symbol bound by a graph input (" + (", ".join(sorted(self.symbols)) or "none") + ")",
                            fix="symbols are introduced by the types of the graph inputs",
                        )
                        return False
            bound[id(t)] = t
        return True

    def verify_param(self, op: gs.ParamOp) -> None:
        name = op.param_name.data
        t = op.results[0].type if op.results else None
        prev = self.params.get(name)
        if prev is not None:
            pt = prev.results[0].type
            detail = "" if pt == t else f" with another type (first {pt}, now {t})"
            self.report(op, "GS206", f"parameter '{name}' is declared twice{detail}", expected=str(pt), got=str(t))
            return
        self.params[name] = op
        if len(op.results) != 1:
            self.report(op, "GS208", f"parameter '{name}' must have exactly one result")
            return
        self.check_types_bound(op, [t], f"parameter '{name}'")

    def verify_return(self, op: gs.ReturnOp) -> None:
        want = list(self.graph.output_types.data)
        got = [self.vtype(v) for v in op.operands]
        if len(want) != len(got):
            self.report(op, "GS205", f"must return {len(want)} value(s) as the graph signature declares, got {len(got)}", expected=str(len(want)), got=str(len(got)))
            return
        for i, (w, v, vt) in enumerate(zip(want, op.operands, got)):
            if not isinstance(w, gs.TensorType) or not isinstance(vt, gs.TensorType):
                continue
            ws, vs = w.sig(), vt.sig()
            if not self.same_type(ws, vs):
                unproved = ws.dtype == vs.dtype and len(ws.shape) == len(vs.shape) and all(compare(x, y) is not False for x, y in zip(ws.shape, vs.shape))
                if unproved:
                    x, y = next((x, y) for x, y in zip(ws.shape, vs.shape) if not compare(x, y))
                    self.report(
                        op,
                        "GS304",
                        f"operand #{i} ({self.name(v)}) must have type {w} as the graph signature declares, but cannot prove {x} == {y} (it is {vt})",
                        expected=str(w),
                        got=str(vt),
                        relation=f"{x} == {y}",
                    )
                    continue
                self.report(
                    op,
                    "GS205",
                    f"operand #{i} ({self.name(v)}) must have type {w} as the graph signature declares, got {vt}",
                    expected=str(w),
                    got=str(vt),
                )

    def same_type(self, a: Sig, b: Sig) -> bool:
        return a.dtype == b.dtype and len(a.shape) == len(b.shape) and all(x == y or compare(x, y) for x, y in zip(a.shape, b.shape))

    def verify_fused(self, op: gs.FusedOp) -> None:
        block = op.body.block
        if len(block.args) != len(op.operands):
            self.report(op, "GS208", f"region has {len(block.args)} arguments for {len(op.operands)} operands")
        for i, (a, v) in enumerate(zip(block.args, op.operands)):
            if a.type != v.type:
                self.report(op, "GS301", f"region argument #{i} must have the type of operand #{i} ({self.name(v)}), {v.type}, got {a.type}", expected=str(v.type), got=str(a.type))
        self.verify_block(block, top=False)
        last = block.last_op
        if isinstance(last, gs.YieldOp):
            if len(last.operands) != len(op.results):
                self.report(op, "GS208", f"region yields {len(last.operands)} values for {len(op.results)} results")
            for i, (v, r) in enumerate(zip(last.operands, op.results)):
                if v.type != r.type:
                    self.report(op, "GS305", f"result #{i} must have the type the region yields, {v.type}, but is declared {r.type}", expected=str(v.type), got=str(r.type))
        for inner in block.ops:
            if isinstance(inner, gs.GsOp) and not inner.has_trait(Elementwise):
                self.report(inner, "GS211", "only elementwise ops may stand in a fused region")

    def verify_primitive(self, op: gs.GsOp) -> None:
        if not self.check_types_bound(op, [r.type for r in op.results], "result"):
            return
        ready = self.rule_inputs(op)
        if ready is None:
            return
        try:
            self.check_rule(op, ready)
        finally:
            if op in self.by_op:
                self.rule_args[op] = ready

    def check_rule(self, op: gs.GsOp, ready: tuple[list[Any], dict[str, Any], list[int | None]]) -> None:
        """Run ``op``'s shape rule on its arguments and compare what it gives with what the op
        declares."""
        spec = op.SPEC
        sigs, attrs, arg_operand = ready
        ctx = RuleContext(spec.name, sigs, attrs, arg_operand)
        try:
            inferred = spec.rule(ctx)
        except ShapeError as e:
            self.report_shape(op, e)
            return
        except LimitError as e:  # a dim the rule computes (a product, a sum) is too large
            self.report(op, e.code, f"the result type cannot be computed: {e.message}")
            return
        except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError) as e:
            self.report(op, "GS306", f"invalid attributes for this op: {e}")
            return
        if spec.results != -1 and len(inferred) != spec.results or len(inferred) != len(op.results):
            self.report(op, "GS208", f"declares {len(op.results)} result(s) but produces {len(inferred)}", expected=str(len(inferred)), got=str(len(op.results)))
            return
        differs = False
        for i, (want, r) in enumerate(zip(inferred, op.results)):
            differs = self.compare_result(op, i, want, r) or differs
        if differs:
            self.inferred[op] = list(inferred)

    def rule_inputs(self, op: gs.GsOp, report: bool = True) -> tuple[list[Any], dict[str, Any], list[int | None]] | None:
        """The rule's arguments (operand signatures and literals by argument position), the
        attribute values and the operand index of each argument; None after reporting (when
        ``report``) an arity, literal or attribute problem."""
        spec = op.SPEC
        say = self.report if report else _quiet
        props = op.properties
        layout: list[Any] = []
        arg_operand: list[int | None] = []
        operands = op.operands
        n_operands = len(operands)
        k = 0
        for a in spec.args:
            if a.variadic:
                while k < n_operands:
                    layout.append(operands[k])
                    arg_operand.append(k)
                    k += 1
                continue
            lit = props.get(a.name)
            if lit is not None:
                value = gs.from_attr(lit)
                if value is None and not a.optional:
                    say(op, "GS208", f"argument '{a.name}' is required")
                    return None
                if value is not None and not a.scalar:
                    say(op, "GS209", f"argument '{a.name}' must be a tensor, got the number {value}")
                    return None
                layout.append(value)
                arg_operand.append(None)
            elif k < n_operands:
                layout.append(operands[k])
                arg_operand.append(k)
                k += 1
            elif a.optional:
                layout.append(None)
                arg_operand.append(None)
            else:
                say(
                    op,
                    "GS208",
                    f"expects {_arity(spec)} but got {len(operands)} operand(s); '{a.name}' is missing",
                    expected=spec.signature(),
                    got=f"{len(operands)} operands",
                )
                return None
        if k < len(operands):
            say(op, "GS208", f"expects {_arity(spec)} but got {len(operands)} operands", expected=spec.signature(), got=f"{len(operands)} operands")
            return None
        try:
            attrs = op.attr_values()
        except (TypeError, ValueError) as e:
            say(op, "GS209", f"malformed attribute: {e}")
            return None
        for a in spec.checked_attrs:
            value = attrs.get(a.name)
            if a.default is gs.REQUIRED and value is None:
                say(op, "GS209", f"attribute '{a.name}' ({a.kind}) is required", fix=f"add {a.name}=... to the op")
                return None
            if a.choices is not None and not a.allows(value):
                allowed = ", ".join(map(repr, a.choices)) + (" or None" if a.default is None else "")
                say(
                    op,
                    "GS209",
                    f"attribute '{a.name}' must be one of {allowed}, got {_show_value(value)}",
                    expected=" | ".join(map(repr, a.choices)),
                    got=_show_value(value),
                    fix=f"write {a.name}={a.choices[0]!r}" if a.default is gs.REQUIRED else f"write {a.name}={a.default!r} or leave it out",
                )
                return None
        sigs: list[Any] = []
        vtype = self.vtype
        for v, j in zip(layout, arg_operand):
            if j is None:  # a literal or an absent argument
                sigs.append(v)
                continue
            t = vtype(v)
            if not isinstance(t, gs.TensorType):
                say(op, "GS211", f"operand has type {t}, expected a gs tensor type")
                return None
            sigs.append(t.sig())
        return sigs, attrs, arg_operand

    def compare_result(self, op: gs.GsOp, i: int, want: Sig, r: SSAValue) -> bool:
        """Report a declared result type that differs from the inferred one; True if it did."""
        got = r.type.sig()
        if got == want:
            return False  # the common case: no symbolic comparison, no value naming
        label = f"result #{i} ({self.name(r)})" if len(op.results) > 1 else f"result {self.name(r)}"
        want_text, got_text = str(want), str(got)  # each used several times below
        if got.dtype != want.dtype:
            self.report(op, "GS303", f"{label} must have dtype {want.dtype}, which the op produces, but is declared {got_text}", expected=want_text, got=got_text, fix=f"declare it as {want_text}")
            return True
        if len(got.shape) != len(want.shape):
            self.report(op, "GS302", f"{label} must have rank {len(want.shape)} ({want_text}, which the op produces), but is declared {got_text} (rank {len(got.shape)})", expected=want_text, got=got_text, fix=f"declare it as {want_text}")
            return True
        for k, (g, w) in enumerate(zip(got.shape, want.shape)):
            if g == w:
                continue
            verdict = compare(g, w)
            if verdict:
                continue
            unprovable = verdict is None  # GS304: neither proved nor refuted; GS305: refuted
            self.report(
                op,
                "GS304" if unprovable else "GS305",
                f"{label} must be {want_text}, which the op produces, but is declared {got_text}"
                + (f"; cannot prove {w} == {g} (dim {k})" if unprovable else f" (dim {k})"),
                expected=want_text,
                got=got_text,
                relation=f"{w} == {g}",
                fix=None if unprovable else f"declare it as {want_text}",
            )
            return True
        return False

    def report_shape(self, op: gs.GsOp, e: ShapeError) -> None:
        message = e.message
        if e.operand is not None and e.operand < len(op.operands):
            message = f"operand #{e.operand} ({self.name(op.operands[e.operand])}) {message}"
        self.report(op, e.code, message, expected=e.expected, got=e.got, relation=e.relation, fix=e.fix)

    # -- ordering: use before definition, cycles ------------------------------------------------
    def check_order(self, block: Block) -> None:
        position = {op: i for i, op in enumerate(block.ops)}
        late: list[tuple[Operation, SSAValue]] = []
        for op, i in position.items():
            for v in operands_deep(op) if op.regions else op.operands:
                owner = v.owner
                if owner.parent is block and owner is not op:
                    # The common case: a result of another op of this block (a block's parent
                    # is a region, never this block).
                    if position[owner] > i:
                        late.append((op, v))
                    continue
                if owner is op:
                    # An op that reads its own result (``%0 = add(x, %0)``): the shortest cycle.
                    me = self.name(v)
                    self.report(op, "GS204", f"values depend on themselves: {me} -> {me}", relation=f"{me} -> {me}")
                    break
                if isinstance(owner, Operation):
                    top = ancestor_in(owner, block)
                    if top is not None and top is not op and position[top] > i:
                        late.append((op, v))
                elif isinstance(owner, Block) and owner is not block and ancestor_in(owner.parent_op(), block) is None:
                    self.report(op, "GS201", f"uses {self.name(v)}, an argument of another region")
        if not late:
            return
        cycle = find_cycle(block, position)
        in_cycle = set(cycle or [])
        for op, v in late:
            if op in in_cycle:
                continue
            self.report(op, "GS203", f"uses {self.name(v)} before its definition (line {_line(v.owner)})", fix="move the definition above its first use")
        if cycle:
            names = " -> ".join(self.name(o.results[0]) if o.results else o.name for o in cycle + [cycle[0]])
            self.report(cycle[0], "GS204", f"values depend on themselves: {names}", relation=names)


def _quiet(*args: Any, **kw: Any) -> None:
    """A report that reports nothing (rule_inputs for a fix-it trial)."""


_PRIMITIVE: dict[type, bool] = {}


def _is_primitive(cls: type) -> bool:
    """``issubclass(cls, gs.GsOp)``, memoised: an isinstance check of an xDSL class goes
    through ABCMeta, several times the cost of a dict lookup, on every line of a graph."""
    found = _PRIMITIVE.get(cls)
    if found is None:
        found = _PRIMITIVE[cls] = issubclass(cls, gs.GsOp)
    return found


def _show_value(v: Any) -> str:
    return shorten(repr(v), 60)


def _arity(spec: gs.OpSpec) -> str:
    return spec.signature()


def _line(op: Any) -> str:
    loc = location(op) if isinstance(op, Operation) else None
    return str(loc.line) if loc else "?"



def format_sig(sig: Sig) -> str:
    return f"{sig.dtype}{format_shape(sig.shape)}"


def valid_symbol_ranges(g: gs.GraphOp) -> dict[str, SymbolRange]:
    """The declared ranges of ``g`` that are sets of positive integers (the others are
    reported and assumed nothing of)."""
    return {n: r for n, r in g.symbol_ranges().items() if r.problem() is None}
