"""What the text form can hold: names, property shapes, types and attribute values.

IR built by passes, LLM edits or read from MLIR generic syntax can carry names and attribute
values that the gs text form cannot write; these checks run before the rest of the verifier
(which assumes well-formed properties) and, when they fail, alone.
"""

from __future__ import annotations

import re
from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    NoneAttr,
    StringAttr,
    i1,
)
from xdsl.ir import Attribute, Operation

from graphsynth.diagnostics import Diagnostic, error, source_line
from graphsynth.dialects import gs
from graphsynth.dialects.dimtext import check_dim
from graphsynth.dialects.dtypes import DTYPES
from graphsynth.dialects.limits import MAX_INT, MAX_NESTING_DEPTH, MIN_INT, LimitError, shorten, show_int
from graphsynth.verifier.locations import location

# -- what the text form can hold ----------------------------------------------------------------
# IR built by passes, LLM edits or read from MLIR generic syntax can carry names and attribute
# values that the gs text form cannot write (a module path with a comma, a value name with a
# space, a string where a number belongs): printing such a module gives text that does not parse,
# or parses to something else.  These checks run first and, when they fail, alone: the rest of the
# verifier (and its value naming) assumes well-formed properties.

# NAME and MODPATH of grammar/gs.lark: names may start with digits when a dotted segment that
# starts with a letter follows (state_dict keys of nn.Sequential: 0.weight); inf and nan are numbers.
_GRAPH_NAME_RE = re.compile(
    r"(?!(inf|nan)(?![A-Za-z0-9_.]))[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*"
    r"|[0-9]+(\.[0-9]+)*\.(?![eE][-+]?[0-9]+(?![A-Za-z0-9_.]))[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*"
)
# Names that stand as operands (inputs, parameters) must not read as the None literal either: a
# parameter named None would print as an argument left out.  (A graph's name only follows
# ``graph`` and stands in callee strings, so it may be None.)
_NAME_RE = re.compile(r"(?!None(?![A-Za-z0-9_.]))(?:" + _GRAPH_NAME_RE.pattern + ")")
_MODPATH_RE = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_VALUE_RE = re.compile(r"[A-Za-z0-9_.$-]+")
_DTYPES = frozenset(DTYPES)


_SYMBOL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _strings(attr: Any) -> list[str] | None:
    """The strings of an ArrayAttr of StringAttr, or None when it is anything else."""
    if not isinstance(attr, ArrayAttr) or not all(isinstance(a, StringAttr) for a in attr.data):
        return None
    return [a.data for a in attr.data]


def _attr_ok(a: gs.AttrSpec, attr: Attribute) -> bool:
    """Whether an attribute value of ``a`` is one the text form writes and reads back
    (:meth:`AttrSpec.holds`; memoised: attributes are immutable and the same values recur on
    every line)."""
    # The plain cases first: hashing a list attribute for the memo costs more than checking it.
    t = type(attr)
    kind = a.kind
    if t is IntAttr:
        return kind in ("int", "dim", "float", "scalar") and MIN_INT <= attr.data <= MAX_INT
    if t is ArrayAttr and kind in ("ints", "dims") and all(type(x) is IntAttr and MIN_INT <= x.data <= MAX_INT for x in attr.data):
        return True
    key = (kind, attr, a.default is None)
    ok = _ATTR_OK.get(key)
    if ok is None:
        if len(_ATTR_OK) > 1 << 16:
            _ATTR_OK.clear()
        ok = _ATTR_OK[key] = a.holds(attr)
    return ok


_ATTR_OK: dict[tuple, bool] = {}


def _int_out_of_range(attr: Attribute) -> int | None:
    """An integer of ``attr`` (or of a list in it) beyond int64, if there is one."""
    if isinstance(attr, IntAttr):
        return None if MIN_INT <= attr.data <= MAX_INT else attr.data
    if isinstance(attr, ArrayAttr):
        return next((v for v in map(_int_out_of_range, attr.data) if v is not None), None)
    return None


def type_problem(t: Any) -> tuple[str, str] | None:
    """(code, message) when ``t`` is not a type the text form writes and reads back.

    Types are interned, so the types found good are looked up by identity first: hashing an
    xDSL attribute hashes all its parameters again, every time (thousands of graphs paid
    that for every value of every op)."""
    if _TYPES_OK_BY_ID.get(id(t)) is t or t in _TYPES_OK:
        return None
    problem = _type_problem_uncached(t)
    if problem is None and len(_TYPES_OK) < 1 << 16:
        _TYPES_OK.add(t)
        _TYPES_OK_BY_ID[id(t)] = t  # holding t keeps its id from being reused
    return problem


_TYPES_OK: set[Any] = set()
_TYPES_OK_BY_ID: dict[int, Any] = {}


def _type_problem_uncached(t: Any) -> tuple[str, str] | None:
    if not isinstance(t, gs.TensorType):
        return "GS211", f"{t} is not a gs tensor type"
    if t.dtype.data not in _DTYPES:
        return "GS211", f"{_type_text(t)} has the unknown dtype '{t.dtype.data}' (dtypes: {', '.join(sorted(_DTYPES))})"
    if not all(isinstance(d, (IntAttr, StringAttr)) for d in t.dims.data):
        return "GS211", f"{_type_text(t)} has a dim that is neither an integer nor a dim expression"
    # The checks of the text form's reading (parse_type): one range and size for every form.
    # sig() parses the dims once per type (types that parsing or a rule built carry it already).
    try:
        for d in t.sig().shape:
            check_dim(d)
    except LimitError as e:
        if e.code == "GS105" and e.message.startswith("negative dim"):
            return "GS211", f"{_type_text(t)} has a negative dim"
        return ("GS211" if e.code == "GS105" else e.code), f"{_type_text(t)} has an invalid dim: {e.message}"
    return None


def _type_text(t: gs.TensorType) -> str:
    """The type as the text form writes it, or its raw dims when they do not read back."""
    try:
        return str(t)
    except ValueError:
        return shorten(f"{t.dtype.data}[{', '.join(str(getattr(d, 'data', d)) for d in t.dims.data)}]", 80)


def _deepest_module(g: gs.GraphOp) -> str | None:
    """The first module of the table nested deeper than MAX_NESTING_DEPTH (a parent chain that
    long, or a cycle), which the printer would write as blocks the parser refuses; else None."""
    parents: dict[str, str] = {}
    for entry in g.modules.data:
        row = _strings(entry)
        if row is not None and len(row) == 3:
            parents.setdefault(row[0], row[2])
    depth: dict[str, int] = {}
    for path in parents:
        chain = []
        p = path
        while p and p in parents and p not in depth and len(chain) <= MAX_NESTING_DEPTH:
            chain.append(p)
            p = parents[p]
        d = depth.get(p, 0) if p in depth else (MAX_NESTING_DEPTH + 1 if len(chain) > MAX_NESTING_DEPTH else 0)
        for q in reversed(chain):
            d += 1
            depth[q] = d
        if depth[path] > MAX_NESTING_DEPTH:
            return path
    return None


_FAMILIES: dict[type, type | None] = {}


def _family(cls: type) -> type | None:
    """Which of ParamOp, FusedOp and GsOp ``cls`` is (or None), memoised by class: an
    isinstance check of an xDSL class goes through ABCMeta, several times the cost of a dict
    lookup, and this runs on every line of a graph."""
    found = _FAMILIES.get(cls, _FAMILIES)
    if found is _FAMILIES:
        found = _FAMILIES[cls] = next((f for f in (gs.ParamOp, gs.FusedOp, gs.GsOp) if issubclass(cls, f)), None)
    return found  # type: ignore[return-value]


def text_form_problems(g: gs.GraphOp) -> list[Diagnostic]:
    """Names, property shapes and attribute values of ``g`` that the text form cannot hold."""
    out: list[Diagnostic] = []

    def bad(op: Operation, code: str, message: str) -> None:
        opname = op.SPEC.name if isinstance(op, gs.GsOp) else op.name.removeprefix("gs.")
        d = error(code, f"{opname}: {message}", op=opname, loc=location(op))
        d.source_line = source_line(d.loc)
        out.append(d)

    if not _GRAPH_NAME_RE.fullmatch(g.sym_name.data):
        bad(g, "GS211", f"graph name {g.sym_name.data!r} is not a name (letters, digits, _ and dots: x, fc1.bias, 0.weight)")
    names = _strings(g.arg_names)
    if names is None:
        bad(g, "GS211", "arg_names must be a list of strings")
    else:
        seen: set[str] = set()
        for n in names:
            if not _NAME_RE.fullmatch(n):
                bad(g, "GS211", f"input name {n!r} is not a name (letters, digits, _ and dots: x, fc1.bias, 0.weight)")
            elif n in seen:
                bad(g, "GS202", f"graph input '{n}' is declared twice")
            seen.add(n)
    for i, t in enumerate(g.output_types.data):
        problem = type_problem(t)
        if problem:
            bad(g, problem[0], f"result type #{i}: {problem[1]}")
    table: set[str] = set()
    for entry in g.modules.data:
        row = _strings(entry)
        if row is None or len(row) != 3:
            bad(g, "GS211", f"module table entry {entry} must be [path, class, parent] strings")
            continue
        table.add(row[0])
    for entry in g.modules.data:
        row = _strings(entry)
        if row is None or len(row) != 3:
            continue
        path, cls, parent = row
        if not _MODPATH_RE.fullmatch(path) or not _NAME_RE.fullmatch(cls):
            bad(g, "GS211", f"module table entry [{path!r}, {cls!r}, {parent!r}]: path and class must be names")
        elif parent and parent not in table:
            bad(g, "GS211", f"module '{path}' has the parent '{parent}', which is not in the module table")
    for entry in g.symbols.data if g.symbols is not None else ():
        decl = gs.symbol_entry(entry)
        if decl is None:
            bad(g, "GS313", f"symbols entry {shorten(str(entry), 120)} must be [name, min, max or 'inf', step] (and 'unbacked' for a symbol an op defines)")
        elif not _SYMBOL_RE.fullmatch(decl[0]):
            bad(g, "GS313", f"symbol name {decl[0]!r} is not a symbol (letters, digits and _, not starting with a digit)")
        elif any(not MIN_INT <= v <= MAX_INT for v in (decl[1].min, decl[1].max or 0, decl[1].step)):
            bad(g, "GS108", f"symbol '{decl[0]}' has a bound out of range ({MIN_INT}..{MAX_INT})")
    too_deep = _deepest_module(g)
    if too_deep is not None:
        bad(g, "GS109", f"module '{too_deep}' nests more than {MAX_NESTING_DEPTH} modules deep (the text form's limit)")
    for a in g.body.block.args if len(g.body.blocks) == 1 else []:
        problem = type_problem(a.type)
        if problem:
            bad(g, problem[0], f"input #{a.index}: {problem[1]}")
    for op in g.walk():
        if op is g:
            continue
        for i, r in enumerate(op.results):
            problem = type_problem(r.type)
            if problem:
                bad(op, problem[0], f"result #{i}: {problem[1]}")
        family = _family(type(op))
        if family is gs.ParamOp:
            if not _NAME_RE.fullmatch(op.param_name.data):
                bad(op, "GS211", f"parameter name {op.param_name.data!r} is not a name (letters, digits, _ and dots: x, fc1.bias, 0.weight)")
            if names is not None and op.param_name.data in names:
                bad(op, "GS202", f"parameter '{op.param_name.data}' has the name of a graph input")
            if op.kind.data not in ("param", "buffer"):
                bad(op, "GS211", f"parameter '{op.param_name.data}' has kind {op.kind.data!r}, expected param or buffer")
            alias = op.properties.get("alias")
            if alias is not None and not (isinstance(alias, StringAttr) and _NAME_RE.fullmatch(alias.data)):
                bad(op, "GS211", f"parameter '{op.param_name.data}' shares {shorten(str(alias), 80)}, which is not a parameter name")
            init = op.attributes.get("init")
            if init is not None and not (isinstance(init, StringAttr) and gs.INIT_RE.fullmatch(init.data)):
                bad(op, "GS211", f"parameter '{op.param_name.data}' has init {init}, expected \"zeros\", \"ones\" or \"normal:<std>\"")
            continue
        props = op.properties
        if "names" in props:
            vnames = _strings(props["names"])
            if vnames is None or len(vnames) != len(op.results):
                bad(op, "GS211", f"names must be a list of {len(op.results)} string(s), one per result")
            elif any(not _VALUE_RE.fullmatch(n) for n in vnames):
                bad(op, "GS211", f"value names {vnames} must be made of [A-Za-z0-9_.$-]")
        scope = props.get("scope")
        if scope is not None and (not isinstance(scope, StringAttr) or scope.data and scope.data not in table):
            bad(op, "GS211", f"scope {scope} is not a module of the module table")
        if not op.results and (family is gs.FusedOp or isinstance(op, gs.Call)):
            # `%a, %b = fused(...)`: an op with no results has no line the text form can write.
            bad(op, "GS211", "an op with no results is dead code that the text form cannot hold (run dce)")
        if family is gs.FusedOp:
            if op.arg_names is not None:
                bnames = _strings(op.arg_names)
                nargs = len(op.body.block.args) if len(op.body.blocks) == 1 else -1
                if bnames is None or len(bnames) != nargs or any(not _VALUE_RE.fullmatch(n) for n in bnames):
                    bad(op, "GS211", "arg_names must name each region argument with [A-Za-z0-9_.$-]")
        if family is gs.GsOp:
            spec = op.SPEC
            for a in spec.args:
                lit = props.get(a.name)
                if lit is None or a.variadic:
                    continue
                number = isinstance(lit, (IntAttr, FloatAttr)) or isinstance(lit, IntegerAttr) and lit.type == i1
                if not (isinstance(lit, NoneAttr) or (a.scalar and number)):
                    bad(op, "GS209", f"argument '{a.name}' holds {lit}; a literal argument must be a number or None")
                elif isinstance(lit, IntAttr) and not MIN_INT <= lit.data <= MAX_INT:
                    bad(op, "GS108", f"argument '{a.name}' holds the integer {show_int(lit.data)}, out of range ({MIN_INT}..{MAX_INT})")
            for a in spec.attrs:
                attr = props.get(a.name)
                if attr is not None and not _attr_ok(a, attr):
                    big = _int_out_of_range(attr)
                    if big is not None:
                        bad(op, "GS108", f"attribute '{a.name}' holds the integer {show_int(big)}, out of range ({MIN_INT}..{MAX_INT})")
                    else:
                        bad(op, "GS209", f"attribute '{a.name}' holds {shorten(str(attr), 200)}, which is not a valid {a.kind}")
    return out
