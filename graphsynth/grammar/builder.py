"""Lark tree -> gs IR.

Walks the tree the reader produced and builds xDSL ops, reporting what cannot be built (unknown
ops, undefined names, malformed attributes) as located Diagnostics with fix-its.  What *can* be
built but is wrong (shapes, ordering, cycles) is left to the verifier, so that the two never
report the same problem twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lark import Token, Tree
from xdsl.dialects.builtin import ArrayAttr, FileLineColLoc, IntAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region, SSAValue

from graphsynth.diagnostics import (
    MACHINE_APPLICABLE,
    MAYBE_INCORRECT,
    Diagnostic,
    Location,
    ParseError,
    TextEdit,
    error,
    remember_source,
)
from graphsynth.dialects import gs
from graphsynth.dialects.limits import MAX_NESTING_DEPTH, LimitError, read_int
from graphsynth.dialects.ranges import SymbolRange
from graphsynth.grammar.attrtext import _BAD, _I64_MAX, _I64_MIN, _AttrLiterals, _short, _unquote
from graphsynth.grammar.syntaxerrors import _with_line
from graphsynth.grammar.typetext import parse_type
from graphsynth.spelling import SpellingBudget, matches

if TYPE_CHECKING:
    from xdsl.parser.core import ForwardDeclaredValue


def build_module(tree: Tree, text: str, filename: str) -> ModuleOp:
    """The module of a parse tree of ``text`` (from :func:`fragment_parser`, or spliced from
    trees of it): the builder :func:`parse_ir` uses.  Raises ``ParseError`` as it does."""
    remember_source(filename, text)
    builder = _Builder(filename)
    module = builder.build(tree)
    if builder.diagnostics:
        raise ParseError(builder.diagnostics)
    return module


def _file_line_col(filename: StringAttr, line: IntAttr, column: IntAttr) -> FileLineColLoc:
    """``FileLineColLoc(filename, line, column)`` without xDSL's parameter verification, which
    checks what the types here already guarantee: 3 of the ~40 us of building an op (one
    location per line).  The same object: equal and hashed alike."""
    loc = object.__new__(FileLineColLoc)
    object.__setattr__(loc, "filename", filename)
    object.__setattr__(loc, "line", line)
    object.__setattr__(loc, "column", column)
    return loc


class _Builder(_AttrLiterals):
    """Walks the Lark tree and builds xDSL ops, collecting diagnostics on the way."""

    def __init__(self, filename: str):
        self.filename = filename
        self.file_attr = StringAttr(filename)
        self._numbers: dict[int, IntAttr] = {}  # line and column attributes, one per number (immutable)
        self.spelling = SpellingBudget()  # "did you mean" and rename fix-its of this read
        self.diagnostics: list[Diagnostic] = []
        # The statement being read, so that diagnostics of names start with it (DESIGN.md §3:
        # "op: message"), and the statement that first used each undefined name.
        self.current_op = "graph"
        self.use_op: dict[str, str] = {}
        self.depth = 0  # module blocks and fused regions around the statement being read

    # -- helpers ----------------------------------------------------------
    def loc(self, node: Tree | Token) -> Location:
        if isinstance(node, Token):
            return Location(self.filename, node.line or 1, node.column or 1)
        meta = node.meta
        return Location(self.filename, getattr(meta, "line", 1), getattr(meta, "column", 1))

    def report(self, code: str, message: str, node: Tree | Token, **kw: Any) -> None:
        self.diagnostics.append(_with_line(error(code, message, loc=self.loc(node), **kw)))

    def xloc(self, node: Tree | Token) -> FileLineColLoc:
        loc = self.loc(node)
        return _file_line_col(self.file_attr, self._number(loc.line), self._number(loc.column))

    def _number(self, n: int) -> IntAttr:
        attr = self._numbers.get(n)
        if attr is None:
            attr = self._numbers[n] = IntAttr(n)
        return attr

    def type_of(self, tok: Token) -> gs.TensorType | None:
        try:
            return parse_type(str(tok))
        except LimitError as e:
            col = (tok.column or 1) + e.column
            what = "malformed type" if e.code == "GS105" else "type"
            self.diagnostics.append(
                _with_line(error(e.code, f"{what} '{_short(str(tok), 60)}': {e.message}", loc=Location(self.filename, tok.line or 1, col)))
            )
            return None

    # -- fix-its: names --------------------------------------------------------
    def token_edit(self, tok: Token, new: str) -> TextEdit:
        line, col = tok.line or 1, tok.column or 1
        return TextEdit(self.filename, line, col, line, col + len(str(tok)), str(tok), new)

    def token_fixit(self, d: Diagnostic, tok: Token, choices: list[str]) -> None:
        """An unknown op or attribute name with one close match is a typo of it."""
        found = self.spelling.close_matches(str(tok), choices, n=2, cutoff=0.75)
        if found:
            d.edits = [self.token_edit(tok, found[0])]
            d.applicability = MACHINE_APPLICABLE if len(found) == 1 else MAYBE_INCORRECT

    def rename_fixit(self, d: Diagnostic, name: str) -> None:
        """An undefined name close to a defined one.  When exactly one close name is defined and
        used nowhere, the use is a typo of it (machine-applicable); a close name that is used
        elsewhere may be what was meant, or a declaration may be missing (maybe-incorrect)."""
        if not self.spelling.spend(2 * len(self.env)):  # the two searches below, before gathering
            return
        sigil = name.startswith("%")
        defined = [n for n, v in self.env.items() if v is not None and n.startswith("%") == sigil]
        # A definition nothing reads is rare in a graph that verified before the edit, so one
        # that looks like the name (a letter dropped, doubled or swapped) is the one meant.
        unused = matches(name, [n for n in defined if not self.env[n].uses], n=2, cutoff=0.5)
        found = matches(name, defined, n=3, cutoff=0.5 if len(unused) == 1 else 0.75)
        if not found:
            return
        pick = unused[0] if len(unused) == 1 else found[0]
        d.edits = [self.token_edit(t, pick) for t in self.use_sites.get(name, [])]
        d.applicability = MACHINE_APPLICABLE if len(unused) == 1 else MAYBE_INCORRECT

    # -- structure ----------------------------------------------------------
    def build(self, tree: Tree) -> ModuleOp:
        graphs = []
        seen: dict[str, Tree] = {}
        for g in tree.children:
            name = str(g.children[0])
            if name in seen:
                self.report("GS202", f"graph '{name}' is defined twice (first at line {seen[name].meta.line})", g, value=name)
                continue
            seen[name] = g
            graph = self.build_graph(g)
            if graph is not None:
                graphs.append(graph)
        # ModuleOp(graphs) is the same op; its generic constructor costs 8 us more (of the
        # ~130 us of reading a --split-input-file chunk).
        return ModuleOp.create(regions=[Region(Block(graphs))])

    def build_graph(self, g: Tree) -> gs.GraphOp | None:
        name_tok = g.children[0]
        args = [c for c in g.children[1:] if isinstance(c, Tree) and c.data == "arg"]
        results = next(c for c in g.children if isinstance(c, Tree) and c.data == "result_types")
        body = next(c for c in g.children if isinstance(c, Tree) and c.data == "body")
        arg_names = [str(a.children[0]) for a in args]
        arg_types = [self.type_of(a.children[1]) for a in args]
        out_types = [self.type_of(t) for t in results.children]
        if any(t is None for t in arg_types + out_types):
            return None
        block = Block(arg_types=arg_types)
        first = len(self.diagnostics)  # this graph's diagnostics are the ones from here on
        self.env: dict[str, SSAValue | None] = {}
        self.def_site: dict[str, Tree | Token] = {}
        self.forward: dict[str, ForwardDeclaredValue] = {}
        self.forward_site: dict[str, Tree | Token] = {}
        self.use_sites: dict[str, list[Token]] = {}
        for a, v, tree in zip(arg_names, block.args, args):
            if a in self.env:
                self.report("GS202", f"graph input '{a}' is declared twice", tree, value=a)
            self.env[a] = v
            self.def_site[a] = tree
        self.modules: dict[str, list[str]] = {}
        self.params: dict[str, gs.TensorType] = {}
        self.symbol_decls: dict[str, tuple[SymbolRange, Tree]] = {}
        self.build_body(body, block, scope="", parent_tree=g)
        for name, fwd in self.forward.items():
            if fwd.uses:
                op = self.use_op.get(name, "graph")
                self.report("GS201", f"{op}: use of undefined value '{name}'", self.forward_site[name], value=name, op=op)
                self.rename_fixit(self.diagnostics[-1], name)
        mine = self.diagnostics[first:]
        if len(mine) > 1:
            # Ops that failed to build read nothing, so "unused" proves nothing: renames wait
            # until the rest is repaired.
            for d in mine:
                if d.code == "GS201" and d.applicability == MACHINE_APPLICABLE:
                    d.applicability = MAYBE_INCORRECT
        if not mine:
            last = block.last_op
            if not isinstance(last, gs.ReturnOp):
                self.report("GS211", f"graph '{name_tok}' has no 'return'", g, fix="end the graph body with 'return %value'")
        if len(self.diagnostics) > first:
            return None  # a read with diagnostics builds no module: the graph op would be thrown away
        props = {
            "sym_name": StringAttr(str(name_tok)),
            "arg_names": ArrayAttr([StringAttr(a) for a in arg_names]),
            "output_types": ArrayAttr(out_types),
            "modules": ArrayAttr(
                [ArrayAttr([StringAttr(p), StringAttr(c), StringAttr(par)]) for p, (c, par) in self.modules.items()]
            ),
        }
        # Every declaration is kept as written (a default range too), so the verifier sees it.
        if self.symbol_decls:
            props["symbols"] = ArrayAttr([gs.symbol_row(n, r) for n, (r, _) in self.symbol_decls.items()])
        graph = gs.GraphOp.create(properties=props, regions=[Region(block)])
        graph.location = self.xloc(g)
        return graph

    def build_body(self, body: Tree, block: Block, scope: str, parent_tree: Tree, in_region: bool = False) -> None:
        for stmt in body.children:
            kind = stmt.data
            if kind == "op":
                self.build_op(stmt, block, scope)
            elif kind == "param":
                self.build_param(stmt, block, scope)
            elif kind == "symbol":
                self.build_symbol(stmt, scope, in_region)
            elif kind == "module":
                path, cls = str(stmt.children[0]), str(stmt.children[1])
                known = self.modules.get(path)
                if known is not None and (known[0] != cls or known[1] != scope):
                    self.report(
                        "GS202",
                        f"module '{path}' is declared as {known[0]} (in '{known[1] or '<top>'}') and again as {cls} (in '{scope or '<top>'}')",
                        stmt,
                        value=path,
                    )
                self.modules.setdefault(path, [cls, scope])
                if self.depth >= MAX_NESTING_DEPTH:
                    self.too_deep(stmt, f"module: module '{_short(path, 40)}' nests blocks more than {MAX_NESTING_DEPTH} deep", "module")
                    continue
                self.depth += 1
                try:
                    self.build_body(stmt.children[2], block, path, stmt, in_region)
                finally:
                    self.depth -= 1
            elif kind == "ret":
                self.build_return(stmt, block, in_region)

    def too_deep(self, stmt: Tree, message: str, opname: str) -> None:
        """GS109 for a block nested too deeply; what it defines is defined as failed, so that
        its uses further down stay quiet (the block is not read)."""
        self.report("GS109", message, stmt, op=opname)
        for node in stmt.iter_subtrees():
            if node.data == "def":
                self.env.setdefault("%" + str(node.children[0])[1:], None)
            elif node.data == "param":
                self.env.setdefault(str(node.children[1]), None)

    def build_symbol(self, stmt: Tree, scope: str, in_region: bool) -> None:
        """``symbol S: [min, max] step k`` (``unbacked`` after it: defined by an op's result)
        at the top of a graph body."""
        name_tok, lo_tok, hi_tok, *step_tok = stmt.children
        unbacked = bool(step_tok) and step_tok[-1].type == "UNBACKED"
        if unbacked:
            step_tok = step_tok[:-1]
        self.current_op = "symbol"
        name = str(name_tok)
        if scope or in_region:
            where = "a fused region" if in_region else f"module block '{scope}'"
            self.report("GS211", f"symbol: '{name}' is declared inside {where}; declare symbols in the graph body", stmt, value=name, op="symbol")
            return
        if name in self.symbol_decls:
            first = self.loc(self.symbol_decls[name][1]).line
            self.report("GS202", f"symbol: '{name}' is declared twice (first at line {first})", stmt, value=name, op="symbol")
            return
        if hi_tok.type == "FLOAT" and str(hi_tok) != "inf":
            self.report("GS106", f"symbol: the upper bound of '{name}' must be an integer or inf, got {hi_tok}", hi_tok, value=name, op="symbol", got=str(hi_tok), expected="an integer or inf")
            return
        values = []
        for tok in [lo_tok, *([] if hi_tok.type == "FLOAT" else [hi_tok]), *step_tok]:
            v = self.int_literal(tok)
            if v is _BAD:
                return
            values.append(v)
        lo = values[0]
        hi = None if hi_tok.type == "FLOAT" else values[1]
        step = values[-1] if step_tok else 1
        r = SymbolRange(lo, hi, step, unbacked)
        problem = r.problem()
        if problem is not None:
            # The verifier says the same of MLIR input; here the declaration's line is known.
            self.report("GS313", f"symbol: '{name}': {r.text()} allows no value: {problem}", stmt, value=name, op="symbol",
                        got=r.text(), fix=f"declare [min, max] with {r.floor} <= min <= max and step >= 1")
            return
        self.symbol_decls[name] = (r, stmt)

    def build_param(self, stmt: Tree, block: Block, scope: str) -> None:
        kind_tok, name_tok, type_tok, *init_tok = stmt.children
        self.current_op = "param"
        name = str(name_tok)
        t = self.type_of(type_tok)
        if t is None:
            return
        if name in self.params:
            prev = self.params[name]
            detail = "" if prev == t else f" with another type ({prev} vs {t})"
            self.report("GS206", f"param: parameter '{name}' is declared twice{detail}", stmt, value=name, expected=str(prev), got=str(t), op="param")
            return
        if name in self.env:
            self.report("GS202", f"param: '{name}' is already defined (line {self.loc(self.def_site[name]).line})", stmt, value=name, op="param")
            return
        op = gs.ParamOp.create(properties={"name": StringAttr(name), "kind": StringAttr(str(kind_tok))}, result_types=[t])
        if init_tok and init_tok[0] is not None and init_tok[0].type == "NAME":
            op.properties["alias"] = StringAttr(str(init_tok[0]))  # the verifier checks the target
        elif init_tok and init_tok[0] is not None:
            init = _unquote(init_tok[0])
            if not gs.INIT_RE.fullmatch(init):
                self.report("GS209", f"param: init={init_tok[0]} is not one of \"zeros\", \"ones\", \"normal:<std>\"", init_tok[0], value=name, op="param")
            else:
                op.attributes["init"] = StringAttr(init)
        op.location = self.xloc(stmt)
        block.add_op(op)
        self.params[name] = t
        self.define(name, op.results[0], stmt)

    def define(self, name: str, value: SSAValue | None, site: Tree | Token) -> None:
        if name in self.env:
            self.report(
                "GS202",
                f"{self.current_op}: '{name}' is defined twice (first at line {self.loc(self.def_site[name]).line})",
                site,
                value=name,
                op=self.current_op,
                fix=f"rename one of the two definitions of '{name}'",
            )
            return
        self.env[name] = value
        self.def_site[name] = site
        fwd = self.forward.pop(name, None)
        if fwd is not None and value is not None:
            if fwd.type != value.type:
                # The later definition decides; the verifier reports the operand mismatch.
                pass
            fwd.replace_all_uses_with(value)

    def lookup(self, tok: Token, expected_type: gs.TensorType | None = None) -> SSAValue | None:
        name = str(tok)
        if name in self.env:
            return self.env[name]
        fwd = self.forward.get(name)
        if fwd is None:
            from xdsl.parser.core import ForwardDeclaredValue  # rare: a use before its definition

            fwd = ForwardDeclaredValue(expected_type or gs.tensor_type((), "f32"))
            self.forward[name] = fwd
            self.forward_site[name] = tok
            self.use_op[name] = self.current_op
            self.use_sites[name] = []
        self.use_sites[name].append(tok)
        return fwd

    def build_op(self, stmt: Tree, block: Block, scope: str) -> None:
        defs, name_tok = stmt.children[0], stmt.children[1]
        self.current_op = str(name_tok)
        items = region = None  # the first of each (a plain loop: this runs for every line)
        for c in stmt.children[2:]:
            if isinstance(c, Tree):
                if c.data == "items" and items is None:
                    items = c
                elif c.data == "region" and region is None:
                    region = c
        names = [str(d.children[0])[1:] for d in defs.children]
        types = [self.type_of(d.children[1]) for d in defs.children]
        opname = str(name_tok)
        positional: list[Any] = []
        kwargs: list[tuple[Token, Any]] = []
        bad_value = False
        for item in items.children if items is not None else []:
            if item.data == "kwarg":
                try:
                    kwargs.append((item.children[0], self.literal(item.children[1])))
                except LimitError as e:
                    self.report(e.code, f"{opname}: attribute '{item.children[0]}': {e.message}", item.children[0], op=opname)
                    bad_value = True
            else:
                positional.append(item.children[0])
        if bad_value:
            op = None
        elif opname == "fused":
            op = self.build_fused(stmt, positional, kwargs, region, types, names, scope)
        else:
            op = self.build_primitive(stmt, name_tok, positional, kwargs, region, types, names, scope)
        self.current_op = opname  # a fused region read its inner ops in between
        if op is None or any(t is None for t in types):
            for n, d in zip(names, defs.children):
                self.define("%" + n, None, d)
            return
        if opname == "fused":  # a primitive got its location when it was made
            op.location = self.xloc(stmt)
        block.add_op(op)
        for n, r, d in zip(names, op.results, defs.children):
            self.define("%" + n, r, d)

    def operand(self, tok: Token) -> Any:
        """A value, a literal (int, float, bool, None), or _BAD for a name whose definition
        failed (already reported, so its uses stay quiet) or an integer out of range."""
        if tok.type == "INT":
            return self.int_literal(tok)
        if tok.type == "FLOAT":
            return float(tok)
        if tok.type == "NONE":
            return None
        if tok.type == "NAME" and str(tok) in ("true", "false") and str(tok) not in self.env:
            return str(tok) == "true"  # a bool scalar, unless a graph input is named so
        v = self.lookup(tok)
        return _BAD if v is None else v

    def _is_value(self, tok: Token) -> bool:
        """``tok`` names a value (not a number, None or a bool literal)."""
        if tok.type in ("INT", "FLOAT", "NONE"):
            return False
        return not (tok.type == "NAME" and str(tok) in ("true", "false") and str(tok) not in self.env)

    def int_literal(self, tok: Token) -> Any:
        """An integer operand; scalars are int64 in every backend, so a larger one is an error
        (refused before converting: a long digit string costs quadratic time)."""
        try:
            return read_int(str(tok))
        except LimitError as e:
            self.report(
                e.code,
                f"{self.current_op}: {e.message}",
                tok,
                op=self.current_op,
                got=_short(str(tok)),
                expected=f"an integer in [{_I64_MIN}, {_I64_MAX}]",
            )
            return _BAD

    def build_primitive(self, stmt, name_tok, positional, kwargs, region, types, names, scope):
        opname = str(name_tok)
        cls = gs.op_class(opname)
        if cls is None:
            close = self.spelling.did_you_mean(opname, list(gs.OPS))
            self.report(
                "GS207",
                f"{opname}: unknown op",
                name_tok,
                op=opname,
                fix=f"did you mean {close}?" if close else "see `graphsynth-opt --list-ops` for the op set",
            )
            self.token_fixit(self.diagnostics[-1], name_tok, list(gs.OPS))
            return None
        if region is not None:
            self.report("GS211", f"{opname}: op takes no region", region, op=opname)
            return None
        spec = cls.SPEC
        args = []
        ok = True
        for i, tok in enumerate(positional):
            if i >= len(spec.args) and not (spec.args and spec.args[-1].variadic) and not self._is_value(tok):
                # One argument more than the op declares: a literal there has no slot to go to
                # (a value does: the operand count is the verifier's GS208).
                self.report("GS208", f"{opname}: expects {spec.signature()} but got {len(positional)} arguments",
                            tok, op=opname, got=str(tok), expected=f"{len(spec.args)} argument(s)")
                ok = False
                continue
            value = self.operand(tok)
            if value is _BAD:
                ok = False
                args.append(None)
                continue
            arg_spec = spec.args[min(i, len(spec.args) - 1)] if spec.args else None
            if not isinstance(value, SSAValue) and (arg_spec is None or not (arg_spec.scalar or (arg_spec.optional and value is None))):
                what = "None" if value is None else f"literal {tok}" if isinstance(value, bool) else f"number {tok}"
                where = f"argument #{i} ({arg_spec.name})" if arg_spec and i < len(spec.args) else f"argument #{i}"
                self.report("GS209", f"{opname}: {where} must be a value, got {what}", tok, op=opname, got=str(tok), expected="a %value or a name")
                ok = False
            args.append(value)
        attrs: dict[str, Any] = {}
        for key_tok, value in kwargs:
            key = str(key_tok)
            a = spec.attr_index.get(key)
            if a is None:
                valid = ", ".join(x.name for x in spec.attrs) or "none"
                self.report("GS209", f"{opname}: unknown attribute '{key}' (valid: {valid})", key_tok, op=opname, got=key)
                given = {str(k) for k, _ in kwargs}
                self.token_fixit(self.diagnostics[-1], key_tok, [x.name for x in spec.attrs if x.name not in given])
                ok = False
                continue
            if key in attrs:
                self.report("GS209", f"{opname}: attribute '{key}' given twice", key_tok, op=opname)
                ok = False
                continue
            converted = self.convert(a, value, key_tok, opname)
            if converted is _BAD:
                ok = False
                continue
            attrs[key] = converted
        if not ok or any(t is None for t in types):
            return None
        try:
            return gs.make_op(opname, args, attrs, types, names=names, scope=scope, location=self.xloc(stmt))
        except (ValueError, TypeError, OverflowError) as e:
            self.report("GS106", f"{opname}: {e}", stmt, op=opname)
            return None

    def build_fused(self, stmt, positional, kwargs, region, types, names, scope):
        if region is None:
            self.report("GS211", "fused: expected a region '{ ^(...) ... yield ... }'", stmt, op="fused")
            return None
        if kwargs:
            self.report("GS209", "fused: takes no attributes", kwargs[0][0], op="fused")
            return None
        operands = []
        for tok in positional:
            v = self.operand(tok)
            if v is _BAD:
                return None
            if not isinstance(v, SSAValue):
                self.report("GS209", f"fused: operands must be values, got {tok}", tok, op="fused")
                return None
            operands.append(v)
        if self.depth >= MAX_NESTING_DEPTH:
            self.report("GS109", f"fused: regions and module blocks nest more than {MAX_NESTING_DEPTH} deep", stmt, op="fused")
            return None
        bargs = [c for c in region.children if isinstance(c, Tree) and c.data == "barg"]
        body = next(c for c in region.children if isinstance(c, Tree) and c.data == "body")
        btypes = [self.type_of(b.children[1]) for b in bargs]
        if any(t is None for t in btypes) or any(t is None for t in types):
            return None
        inner = Block(arg_types=btypes)
        saved = (self.env, self.def_site)
        # Region bodies see their block arguments and nothing else (isolated from above).
        self.env, self.def_site = {}, {}
        saved_fwd = (self.forward, self.forward_site, self.use_sites)
        self.forward, self.forward_site, self.use_sites = {}, {}, {}
        for b, v in zip(bargs, inner.args):
            self.define(str(b.children[0]), v, b)
        self.depth += 1
        try:
            self.build_body(body, inner, scope="", parent_tree=stmt, in_region=True)
        finally:
            self.depth -= 1
        for name, fwd in self.forward.items():
            if fwd.uses:
                op = self.use_op.get(name, "fused")
                self.report("GS201", f"{op}: use of undefined value '{name}' (a fused region sees only its block arguments)", self.forward_site[name], value=name, op=op)
        self.env, self.def_site = saved
        self.forward, self.forward_site, self.use_sites = saved_fwd
        # The inner ops carry no scope: the fused op's scope covers them.
        for inner_op in inner.ops:
            gs.set_scope(inner_op, "")
        props = {"names": ArrayAttr([StringAttr(n) for n in names]), "arg_names": ArrayAttr([StringAttr(str(b.children[0])[1:]) for b in bargs])}
        if scope:
            props["scope"] = StringAttr(scope)
        return gs.FusedOp.create(operands=operands, result_types=types, properties=props, regions=[Region(inner)])

    def build_return(self, stmt: Tree, block: Block, in_region: bool) -> None:
        kind_tok = stmt.children[0]
        kind = str(kind_tok)
        self.current_op = kind
        if (kind == "yield") != in_region:
            where = "a fused region" if in_region else "a graph"
            want = "yield" if in_region else "return"
            self.report("GS211", f"'{kind}' cannot end {where}; use '{want}'", kind_tok)
            return
        values = []
        for op_tree in stmt.children[1:]:
            v = self.operand(op_tree.children[0])
            if v is _BAD:
                return
            if not isinstance(v, SSAValue):
                self.report("GS209", f"{kind}: operands must be values, got {op_tree.children[0]}", op_tree.children[0])
                return
            values.append(v)
        op = (gs.YieldOp if in_region else gs.ReturnOp).create(operands=values)
        op.location = self.xloc(stmt)
        block.add_op(op)


