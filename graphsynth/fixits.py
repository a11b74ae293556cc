"""Fix-its for the verifier's findings: the text edit that repairs an op, when one is determined.

A wrong op is repaired at one of three places: its declared result type (when the rule's type is
right and the declaration is not), one of its attributes (``normalized_shape``, ``padding``, a
reshape's ``shape``...), or the declaration of a parameter it reads (a weight whose dim must
equal another operand's).  Which one is decided from the graph, not from the op kind, so no op's
rule needs to know about repairs:

- Only **root** findings get an edit: an op whose operands come from ops without errors.  An op
  downstream of a wrong one is wrong because of it; repairing it there would bake the first
  error in (and fight the real repair).
- A declared type is **corroborated** when every user of the value verified against it and
  at least one would refuse the type the rule infers (a pooling that reduces ``H`` away speaks
  for no ``H``).  Then the op (an attribute, or a parameter nothing else corroborates) is
  what changed: every single change of one attribute entry or one parameter dim, drawn from the
  dims and integers the op already mentions, is tried against the op's own rule, and the repair
  is the change that makes the rule produce the declared types.  One such change is
  ``machine-applicable``; several are ``maybe-incorrect``.
- A declared type nobody corroborates (its users fail too, or it is unused) is replaced by the
  inferred one, ``machine-applicable``.

Changing the graph's signature (a result type at ``return``) is ``maybe-incorrect``: the
interface is what the caller asked for.  Everything here runs only when a graph has errors.
"""

from __future__ import annotations

from typing import Any

from xdsl.ir import Operation, SSAValue

from graphsynth.diagnostics import MACHINE_APPLICABLE, MAYBE_INCORRECT, Diagnostic, Location, TextEdit, source_line
from graphsynth.dialects import gs
from graphsynth.dialects.rules import RuleContext, Sig
from graphsynth.dialects.symdim import SymDim

# ``v`` below is the verifier's graph walker (graphsynth.verifier), passed in by the verifier;
# not imported here, so that the verifier may import this module.
_GraphVerifier = Any

# Findings of an op's shape rule or result declaration that a single change can repair.
_REPAIRABLE = frozenset(("GS301", "GS302", "GS303", "GS304", "GS305", "GS306"))
MAX_POOL = 24
MAX_TRIES = 4000  # rule evaluations per op (about 10 us each)
# ... and per graph: a graph of thousands of wrong ops (a model's reply gone astray) gets repairs
# searched for its first findings, about half a second's worth, not for every one (each of
# 11,000 wrong conv2d lines in a 1 MB graph cost 0.7 ms).
MAX_GRAPH_TRIES = 50_000


class _Tries:
    """Rule evaluations left to the repair search of one graph."""

    def __init__(self) -> None:
        self.left = MAX_GRAPH_TRIES
        self.noted = False


def suggest_fixes(v: _GraphVerifier) -> None:
    """Attach edits to the root findings of ``v``'s run (see the module docstring)."""
    bad = {op for op, ds in v.by_op.items() if any(d.severity == "error" for d in ds)}
    if not bad:
        return
    tries = _Tries()
    tainted = _downstream(v, bad)  # findings that may follow from another one
    for op in tainted:
        for d in v.by_op.get(op, ()):
            d.derived = True
    for op in list(v.by_op):
        if op in tainted or op not in bad or not v.is_top(op):
            continue
        first = v.by_op[op][0]
        if first.edits:
            continue
        try:
            if isinstance(op, gs.GsOp):
                _fix_primitive(v, op, first, bad, tries)
            elif isinstance(op, gs.ReturnOp):
                _fix_return(v, op, bad)
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError):
            continue  # a repair that cannot be computed is no repair; the finding stands


def _downstream(v: _GraphVerifier, bad: set[Operation]) -> set[Operation]:
    """The ops of ``bad`` that read, directly or not, a result of another op in ``bad`` (one
    search forward from all of them, stopped once every one is found)."""
    if len(bad) < 2:
        return set()
    seen: set[Operation] = set()
    found: set[Operation] = set()
    work = [r for op in bad for r in op.results]
    while work and len(found) < len(bad):
        val = work.pop()
        for user in v.users(val):
            if user not in seen:
                seen.add(user)
                if user in bad:
                    found.add(user)
                work.extend(user.results)
    return found


def _corroborated(v: _GraphVerifier, value: SSAValue, bad: set[Operation], besides: Operation | None = None) -> bool:
    users = [u for u in v.users(value) if u is not besides]
    return bool(users) and not any(u in bad for u in users)


def _rejected_by_a_user(v: _GraphVerifier, value: SSAValue, sig: Sig) -> bool:
    """Whether some user of ``value`` verifies with its declared type but not with ``sig``: only
    then do the users speak for the declaration (a pooling that reduces H away accepts any H)."""
    t = gs.tensor_type(list(sig.shape), sig.dtype)
    saved = v.overrides.get(value)
    v.overrides[value] = t
    try:
        for user in v.users(value):
            if isinstance(user, gs.ReturnOp):
                want = list(v.graph.output_types.data)
                for w, operand in zip(want, user.operands):
                    if operand is value and isinstance(w, gs.TensorType) and not v.same_type(w.sig(), sig):
                        return True
                continue
            if not isinstance(user, gs.GsOp):
                return True
            ready = v.rule_inputs(user, report=False)
            if ready is None:
                return True
            sigs, attrs, arg_operand = ready
            try:
                out = user.SPEC.rule(RuleContext(user.SPEC.name, sigs, attrs, arg_operand))
            except Exception:  # noqa: BLE001 - the user's rule refuses the inferred type
                return True
            declared = [r.type.sig() for r in user.results]
            if len(out) != len(declared) or not all(v.same_type(a, b) for a, b in zip(out, declared)):
                return True
        return False
    finally:
        if saved is None:
            v.overrides.pop(value, None)
        else:
            v.overrides[value] = saved


def _fix_primitive(v: _GraphVerifier, op: gs.GsOp, d: Diagnostic, bad: set[Operation], tries: _Tries) -> None:
    if d.code not in _REPAIRABLE:
        return
    ready = v.rule_args.get(op) or v.rule_inputs(op, report=False)
    if ready is None:
        return
    sigs, attrs, arg_operand = ready
    declared = [r.type.sig() for r in op.results]
    # An unprovable equality is no evidence that the declaration is wrong: only a change that
    # makes the rule's type provably the declared one repairs it.
    inferred = v.inferred.get(op) if d.code != "GS304" else None
    loc = v.locate(op)
    line = source_line(loc)
    if loc is None or line is None:
        return
    if inferred is not None and not all(
        _corroborated(v, r, bad) and (v.same_type(want, got) or _rejected_by_a_user(v, r, want))
        for r, want, got in zip(op.results, inferred, declared)
    ):
        edits = _declaration_edits(v, op, loc, line, inferred, declared)
        if edits is not None:
            _attach(d, edits, MACHINE_APPLICABLE)
        return
    # Integers keep the writer's convention: a negative index is replaced by a negative one, a
    # count or a positive index by a non-negative one (``start_dim=1`` rather than ``-3``,
    # ``shape=[B, 4]`` rather than ``[B, -1]``); other signs only when that finds nothing.
    if tries.left <= 0:
        if not tries.noted:
            tries.noted = True
            d.notes.append(f"no repair was searched for this finding or the ones after it: the graph's search budget "
                           f"({MAX_GRAPH_TRIES:,} rule evaluations) is spent")
        found = []
    else:
        found = _search(v, op, sigs, attrs, arg_operand, declared, bad, loc, line, tries, same_sign=True)
        if not found:
            found = _search(v, op, sigs, attrs, arg_operand, declared, bad, loc, line, tries, same_sign=False)
    if len(found) == 1:
        _attach(d, found[0], MACHINE_APPLICABLE)
    elif found:
        _attach(d, found[0], MAYBE_INCORRECT)
        d.notes.append(f"{len(found)} single changes make the op verify; the first is shown")
    elif inferred is not None:
        edits = _declaration_edits(v, op, loc, line, inferred, declared)
        if edits is not None:
            _attach(d, edits, MAYBE_INCORRECT)


def _declaration_edits(v: _GraphVerifier, op: gs.GsOp, loc: Location, line: str, inferred: list[Sig],
                       declared: list[Sig]) -> list[TextEdit] | None:
    """The edits that declare each result of ``op`` with the type its rule gives (None when one
    declaration cannot be found on the line)."""
    span_of = _locate().result_type_span
    edits = []
    for r, want, got in zip(op.results, inferred, declared):
        if v.same_type(want, got):
            continue
        edit = _span_edit(loc, line, span_of(line, v.name(r)), str(want))
        if edit is None:
            return None
        edits.append(edit)
    return edits


def _search(
    v: _GraphVerifier,
    op: gs.GsOp,
    sigs: list[Any],
    attrs: dict[str, Any],
    arg_operand: list[int | None],
    declared: list[Sig],
    bad: set[Operation],
    loc: Location,
    line: str,
    graph_tries: _Tries,
    same_sign: bool = False,
) -> list[list[TextEdit]]:
    """Every single change (one attribute entry, one parameter dim) that makes the op's rule
    produce the declared types, as edits."""
    spec = op.SPEC
    loc_ = _locate()
    pool: list[Any] = []
    for s in [*sigs, *declared]:
        if isinstance(s, Sig):
            pool.extend(s.shape)
    for a in spec.attrs:
        val = attrs.get(a.name)
        if isinstance(val, (tuple, list)):
            pool.extend(x for x in val if isinstance(x, (int, SymDim)) and not isinstance(x, bool))
    pool = list(dict.fromkeys(x for x in pool if not isinstance(x, bool)))[:MAX_POOL]
    small = [x for x in range(-4, 9)]
    tries = [0]
    found: list[list[TextEdit]] = []
    seen: set[tuple] = set()

    def works(new_sigs: list[Any], new_attrs: dict[str, Any]) -> bool:
        tries[0] += 1
        graph_tries.left -= 1
        if tries[0] > MAX_TRIES or graph_tries.left < 0:
            return False
        try:
            out = spec.rule(RuleContext(spec.name, new_sigs, new_attrs, arg_operand))
        except Exception:  # noqa: BLE001 - any failure of the rule means "not this candidate"
            return False
        return len(out) == len(declared) and all(v.same_type(a, b) for a, b in zip(out, declared))

    def keeps_sign(old: Any, new: Any) -> bool:
        if not same_sign or not isinstance(old, int) or not isinstance(new, int):
            return True
        return (old < 0) == (new < 0)

    def add(edit: TextEdit | None) -> None:
        if edit is None:
            return
        key = (edit.line, edit.column, edit.new)
        if key not in seen:
            seen.add(key)
            found.append([edit])

    props = op.properties
    for a in spec.attrs:
        if props.get(a.name) is None or a.kind not in ("int", "dim", "ints", "dims"):
            continue
        cur = attrs.get(a.name)
        values: list[Any] = []
        if a.kind in ("int", "dim"):
            cands = pool + small if a.kind == "dim" else [x for x in pool if isinstance(x, int)] + small
            values = [x for x in dict.fromkeys(cands) if x != cur and keeps_sign(cur, x)]
        elif isinstance(cur, (tuple, list)):
            cur = tuple(cur)
            ints_only = a.kind == "ints"
            cands = [x for x in dict.fromkeys(pool + small) if not ints_only or isinstance(x, int)]
            for k in range(len(cur)):
                for x in cands:
                    if x != cur[k] and keeps_sign(cur[k], x):
                        values.append(cur[:k] + (x,) + cur[k + 1 :])
            for dsig in declared:
                whole = tuple(dsig.shape)
                if whole != cur and (not ints_only or all(isinstance(x, int) for x in whole)):
                    values.append(whole)
        for val in values:
            if a.choices is not None and not a.allows(val):
                continue
            if works(sigs, {**attrs, a.name: val}):
                add(_span_edit(loc, line, loc_.attr_value_span(line, a.name), _attr_text(a.kind, val)))
    for p, k in enumerate(arg_operand):
        if k is None or not isinstance(sigs[p], Sig):
            continue
        value = op.operands[k]
        owner = value.owner
        if not isinstance(owner, gs.ParamOp) or _corroborated(v, value, bad, besides=op):
            continue
        if any(u is not op for u in v.users(value)):
            continue  # a shared parameter: its other uses decide its type
        cur = sigs[p]
        ploc = v.locate(owner)
        pline = source_line(ploc)
        if ploc is None or pline is None:
            continue
        for dim in range(len(cur.shape)):
            for x in pool:
                if x == cur.shape[dim]:
                    continue
                new = Sig(cur.shape[:dim] + (x,) + cur.shape[dim + 1 :], cur.dtype)
                if works([new if q == p else s for q, s in enumerate(sigs)], attrs):
                    add(_span_edit(ploc, pline, loc_.param_type_span(pline, owner.param_name.data), str(new)))
    return found


def _fix_return(v: _GraphVerifier, op: gs.ReturnOp, bad: set[Operation]) -> None:
    """A returned value whose type is not the signature's: offer to change the signature."""
    g = v.graph
    gloc = v.locate(g)
    gline = source_line(gloc)
    if gloc is None or gline is None:
        return
    want = list(g.output_types.data)
    for d in v.by_op[op]:
        if d.code != "GS205" or d.edits:
            continue
        edits = []
        for i, (w, val) in enumerate(zip(want, op.operands)):
            t = v.vtype(val)
            if not isinstance(w, gs.TensorType) or not isinstance(t, gs.TensorType) or v.same_type(w.sig(), t.sig()):
                continue
            if isinstance(val.owner, Operation) and val.owner in bad:
                return
            edit = _span_edit(gloc, gline, _locate().graph_output_type_span(gline, i), str(t.sig()))
            if edit is None:
                return
            edits.append(edit)
        _attach(d, edits, MAYBE_INCORRECT)
        return


# -- helpers ---------------------------------------------------------------------------------


def _locate() -> Any:
    from graphsynth.grammar import locate

    return locate


def _span_edit(loc: Location, line: str, span: tuple[int, int] | None, new: str) -> TextEdit | None:
    if span is None:
        return None
    s, e = span
    return TextEdit(loc.file, loc.line, s + 1, loc.line, e + 1, line[s:e], new)


def _attach(d: Diagnostic, edits: list[TextEdit], applicability: str) -> None:
    if edits and all(e.old != e.new for e in edits):
        d.edits = list(edits)
        d.applicability = applicability


def _attr_text(kind: str, value: Any) -> str:
    from graphsynth.grammar.printer import format_attr

    return format_attr(kind, tuple(value) if isinstance(value, list) else value)
