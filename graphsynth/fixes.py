"""Applying fix-its: text edits in, repaired text out, never a worse text.

:func:`check_text` parses and verifies a text and returns its diagnostics with their fix-its;
besides the parser's and the verifier's own it finds the one that needs both: a parameter used
but not declared, whose type is then implied by its uses (every type built from the dims those
ops mention is tried against their shape rules; exactly one that fits all uses is a
machine-applicable declaration).  :func:`apply_edits` applies a set of edits to a text (each
edit checks that the text it replaces is still there; overlapping edits are refused).
:func:`repair` is ``cargo fix`` for gs text: it applies the machine-applicable edits, checks
again, and repeats until none apply or ``max_rounds`` is reached, keeping a round only when it
leaves the text strictly better (it parses where it did not, or it has fewer errors).  So a
valid text comes back unchanged, and a repair never makes a text worse.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import (
    HAS_PLACEHOLDERS,
    MACHINE_APPLICABLE,
    Diagnostic,
    GraphsynthError,
    Location,
    TextEdit,
    error,
)

MAX_ROUNDS = 16
MAX_TYPE_TRIES = 20_000  # rule evaluations while inferring one parameter's type
MAX_RANK = 4


class EditConflict(ValueError):
    """Edits that overlap, or whose expected text is not at their range."""


@dataclass
class Checked:
    """A text's verdict: the module (None when it does not parse) and every diagnostic."""

    module: Any
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def score(self) -> tuple[int, int]:
        """Smaller is better: not parsing is worse than any number of verifier errors."""
        return (1 if self.module is None else 0, len(self.errors))


@dataclass
class RepairResult:
    text: str
    checked: Checked
    rounds: int = 0
    applied: list[Diagnostic] = field(default_factory=list)  # the findings whose edits were applied

    @property
    def changed(self) -> bool:
        return bool(self.applied)

    @property
    def ok(self) -> bool:
        return self.checked.module is not None and not self.checked.errors


def check_text(text: str, filename: str = "<text>") -> Checked:
    """Parse and verify ``text``; the diagnostics carry every fix-it found."""
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    try:
        module = parse_ir(text, filename=filename)
    except GraphsynthError as e:
        diags = list(e.diagnostics)
        declaration_fixits(text, filename, diags)
        checked_renames(text, filename, diags)
        return Checked(None, diags)
    except (RecursionError, MemoryError) as e:  # pragma: no cover - the parser's own limits come first
        return Checked(None, [error("GS101", f"the text could not be parsed ({type(e).__name__})")])
    return Checked(module, verify(module))


def fix_file(data: bytes | str, filename: str, then: Any = None) -> tuple[str | None, list[Diagnostic]]:
    """What ``graphsynth-opt --apply-fixes`` does with one input: (the text to write or None,
    the diagnostics to report).

    The output is the repaired text itself (comments and layout kept), or what ``then(module)``
    returns for the repaired module (a pipeline and a printer: an object with ``output`` and
    ``diagnostics``).  It is
    written when the input verifies or the fixes made it better; GS510 says how many errors remain
    after fixes.  A text the fixes cannot improve gives no output at all."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, check_text_plain(data.decode("utf-8", errors="replace"), filename).diagnostics
    fixed = repair(data, filename)
    diags = list(fixed.checked.diagnostics)
    if fixed.ok:
        if then is None:
            return fixed.text, diags
        done = then(fixed.checked.module)
        return done.output, list(done.diagnostics)
    if not fixed.changed:
        return None, diags
    diags.append(error(
        "GS510",
        f"applied {len(fixed.applied)} fix(es) in {fixed.rounds} round(s); {len(fixed.checked.errors)} error(s) remain",
        loc=Location(filename, 1, 1),
        fix="the remaining findings have no machine-applicable repair; see their help lines",
    ))
    return fixed.text, diags


# -- applying edits ------------------------------------------------------------------------------


def _offsets(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """``text`` with ``edits`` applied (positions refer to ``text``).  Raises
    :class:`EditConflict` when two edits overlap or an edit's expected text is not there."""
    starts = _offsets(text)
    spans = []
    for e in edits:
        a, b = _pos(starts, text, e.line, e.column), _pos(starts, text, e.end_line, e.end_column)
        if a is None or b is None or b < a or text[a:b] != e.old:
            raise EditConflict(f"edit at {e.line}:{e.column} does not match the text")
        spans.append((a, b, e.new))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (a1, b1, _), (a2, b2, _) in zip(spans, spans[1:]):
        if a2 < b1 or (a2 == a1 and b2 == b1 == a1):
            raise EditConflict(f"edits overlap at offset {a2}")
    out = []
    last = 0
    for a, b, new in spans:
        out.append(text[last:a])
        out.append(new)
        last = b
    out.append(text[last:])
    return "".join(out)


def _pos(starts: list[int], text: str, line: int, column: int) -> int | None:
    if not 1 <= line <= len(starts):
        return None
    base = starts[line - 1]
    end = starts[line] - 1 if line < len(starts) else len(text)
    off = base + column - 1
    return off if base <= off <= end + (1 if line < len(starts) else 0) else None


def machine_applicable(diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.machine_applicable]


def apply_diagnostics(text: str, diags: Sequence[Diagnostic], filename: str | None = None) -> tuple[str, list[Diagnostic]]:
    """Apply the machine-applicable edits of ``diags`` that fit together (in order; a finding
    whose edits conflict with those taken before it, or point into another file, is skipped).
    Returns the new text and the findings applied."""
    taken: list[Diagnostic] = []
    edits: list[TextEdit] = []
    for d in machine_applicable(diags):
        if filename is not None and any(e.file != filename for e in d.edits):
            continue
        try:
            apply_edits(text, edits + d.edits)
        except EditConflict:
            continue
        taken.append(d)
        edits.extend(d.edits)
    return (apply_edits(text, edits) if edits else text), taken


def repair(text: str, filename: str = "<text>", max_rounds: int = MAX_ROUNDS, checked: Checked | None = None) -> RepairResult:
    """Apply machine-applicable fix-its until none apply (at most ``max_rounds`` rounds), each
    round kept only when it makes the text strictly better (see the module docstring)."""
    cur = checked or check_text(text, filename)
    result = RepairResult(text, cur)
    for _ in range(max_rounds):
        ma = machine_applicable(cur.diagnostics)
        if not ma:
            break
        better = None
        new_text, taken = apply_diagnostics(text, ma, filename)
        if taken:
            cand = check_text(new_text, filename)
            if cand.score() < cur.score():
                better = (new_text, cand, taken)
        if better is None and len(taken) > 1:
            # Together they did not help: the first finding alone that does.
            for d in taken:
                one_text, one = apply_diagnostics(text, [d], filename)
                cand = check_text(one_text, filename)
                if cand.score() < cur.score():
                    better = (one_text, cand, one)
                    break
        if better is None:
            break
        text, cur, taken = better
        result.applied.extend(taken)
        result.rounds += 1
    result.text, result.checked = text, cur
    return result


# -- renames checked by verification -------------------------------------------------------------

_DEFS = re.compile(r"^[ \t]*(?:param|buffer)[ \t]+([^:\s]+)|(%[A-Za-z0-9_.$\-]+)[ \t]*:", re.M)
_INPUTS = re.compile(r"^[ \t]*graph[ \t]+[^(\n]*\(([^\n]*)\)[ \t]*->", re.M)


def checked_renames(text: str, filename: str, diags: list[Diagnostic]) -> None:
    """The one undefined name of a text without another repair: rename its uses to each
    defined name that looks like it, and keep the rename if exactly one of them gives a text
    that verifies (a value of the right type, defined before the use)."""
    if len(diags) != 1:
        return
    d = diags[0]
    if d.code != "GS201" or not d.value or d.machine_applicable or not d.edits:
        return
    sigil = d.value.startswith("%")
    names = set()
    for m in _DEFS.finditer(text):
        names.add(m.group(1) or m.group(2))
    for m in _INPUTS.finditer(text):
        names.update(a.split(":", 1)[0].strip() for a in m.group(1).split(",") if ":" in a)
    import difflib

    cands = difflib.get_close_matches(d.value, [n for n in names if n.startswith("%") == sigil], n=4, cutoff=0.5)
    good = []
    for c in cands:
        edits = [TextEdit(e.file, e.line, e.column, e.end_line, e.end_column, e.old, c) for e in d.edits]
        try:
            new_text = apply_edits(text, edits)
        except EditConflict:
            return
        probe = check_text_plain(new_text, filename + "#rename")
        if probe.module is not None and not probe.errors:
            good.append(edits)
    if len(good) == 1:
        d.edits = good[0]
        d.applicability = MACHINE_APPLICABLE


def check_text_plain(text: str, filename: str) -> Checked:
    """Parse and verify without looking for the repairs that need more checks."""
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    try:
        module = parse_ir(text, filename=filename)
    except GraphsynthError as e:
        return Checked(None, list(e.diagnostics))
    return Checked(module, verify(module))


# -- declarations implied by their uses ----------------------------------------------------------

_PARAM_LINE = re.compile(r"^([ \t]*)(param|buffer)[ \t]")
_GRAPH_LINE = re.compile(r"^([ \t]*)graph[ \t]")


def declaration_fixits(text: str, filename: str, diags: list[Diagnostic]) -> None:
    """GS201 for a parameter-like name (no ``%``) without a machine-applicable repair: declare it
    with the type its uses imply, when exactly one type fits them all."""
    wanted = [
        d for d in diags
        if d.code == "GS201" and d.value and not d.value.startswith("%") and not d.machine_applicable and d.loc is not None
    ]
    if not wanted or len(wanted) > 16:
        return
    lines = text.split("\n")
    inserts: dict[str, tuple[int, str]] = {}
    for d in wanted:
        at = _insertion_line(lines, d.loc.line)
        if at is None:
            return
        inserts[d.value] = at
    # The text with every missing name declared (a placeholder type): a module to try types on.
    probe_lines = list(lines)
    for name, (after, indent) in sorted(inserts.items(), key=lambda kv: -kv[1][0]):
        probe_lines.insert(after, f"{indent}param {name}: f32[]")
    from graphsynth.grammar.parser import parse_ir

    try:
        module = parse_ir("\n".join(probe_lines), filename=filename + "#declarations")
    except GraphsynthError:
        return
    for d in wanted:
        sig = _implied_type(module, d.value)
        if sig is None or (isinstance(sig, _Placeholders) and d.edits):
            continue  # a rename (maybe-incorrect) says more than a declaration with holes
        after, indent = inserts[d.value]
        line = after + 1  # the new line goes before this 1-based line
        typed = sig.text() if isinstance(sig, _Placeholders) else str(sig)
        d.edits = [TextEdit(filename, line, 1, line, 1, "", f"{indent}param {d.value}: {typed}\n")]
        d.applicability = HAS_PLACEHOLDERS if isinstance(sig, _Placeholders) else MACHINE_APPLICABLE


def _insertion_line(lines: list[str], use_line: int) -> tuple[int, str] | None:
    """(0-based index to insert before, indentation): after the last parameter declaration above
    the use, or right after the graph header."""
    last_param = None
    for i in range(min(use_line, len(lines)) - 1, -1, -1):
        m = _PARAM_LINE.match(lines[i])
        if m and last_param is None:
            last_param = (i + 1, m.group(1))
        g = _GRAPH_LINE.match(lines[i])
        if g:
            if last_param is not None:
                return last_param
            return i + 1, g.group(1) + "  "
    return None


def _implied_type(module: Any, name: str) -> Any:
    """The one type for parameter ``name`` that makes every op reading it verify, or None."""
    from graphsynth.dialects import gs
    from graphsynth.dialects.rules import RuleContext, Sig
    from graphsynth.verifier.calls import callee_signatures
    from graphsynth.verifier.graph import _GraphVerifier

    for g in gs.graph_ops(module):
        param = next((op for op in g.body.block.ops if isinstance(op, gs.ParamOp) and op.param_name.data == name), None)
        if param is None:
            continue
        v = _GraphVerifier(g, callee_signatures(module))
        v.fixits = False
        value = param.results[0]
        uses = []
        pool: list[Any] = []
        dtypes: list[str] = []
        for user in {u.operation for u in value.uses}:
            if not isinstance(user, gs.GsOp):
                return None
            ready = v.rule_inputs(user, report=False)
            if ready is None:
                return None
            sigs, attrs, arg_operand = ready
            slots = [p for p, k in enumerate(arg_operand) if k is not None and user.operands[k] is value]
            declared = [r.type.sig() for r in user.results]
            uses.append((user, sigs, attrs, arg_operand, slots, declared))
            for s in [*sigs, *declared]:
                if isinstance(s, Sig):
                    pool.extend(s.shape)
                    dtypes.append(s.dtype)
            for a in user.SPEC.attrs:
                val = attrs.get(a.name)
                if isinstance(val, (tuple, list)):
                    pool.extend(x for x in val if isinstance(x, int) and not isinstance(x, bool))
        if not uses:
            return None
        # The dims the uses mention, and the smallest integers (kernel sizes are often nowhere
        # else in the text).
        pool = list(dict.fromkeys([*pool, 1, 2, 3]))[:12]
        found: list[Any] = []
        tries = 0
        for dtype in dict.fromkeys(dtypes or ["f32"]):
            for rank in range(MAX_RANK + 1):
                for dims in itertools.product(pool, repeat=rank):
                    tries += 1
                    if tries > MAX_TYPE_TRIES:
                        return None
                    cand = Sig(tuple(dims), dtype)
                    if all(_fits(user, sigs, attrs, arg_operand, slots, declared, cand, v, RuleContext) for user, sigs, attrs, arg_operand, slots, declared in uses):
                        found.append(cand)
                        if len(found) > MAX_ALTERNATIVES:
                            return None
        if len(found) == 1:
            return found[0]
        if found and len({(f.dtype, len(f.shape)) for f in found}) == 1:
            # Several types fit and agree but on some dims: those are left for a person.
            return _Placeholders(found)
        return None
    return None


MAX_ALTERNATIVES = 64


class _Placeholders:
    """Types that fit a parameter's uses equally, shown with ``<dim k>`` where they differ."""

    def __init__(self, sigs: list[Any]):
        self.sigs = sigs

    def text(self) -> str:
        first = self.sigs[0]
        from graphsynth.dialects.dimtext import format_dim

        dims = [
            format_dim(d) if all(s.shape[k] == d for s in self.sigs) else f"<dim {k}>"
            for k, d in enumerate(first.shape)
        ]
        return f"{first.dtype}[{', '.join(dims)}]"


def _fits(user: Any, sigs: list[Any], attrs: dict[str, Any], arg_operand: list[int | None], slots: list[int],
          declared: list[Any], cand: Any, v: Any, ctx_cls: Any) -> bool:
    new = [cand if p in slots else s for p, s in enumerate(sigs)]
    try:
        out = user.SPEC.rule(ctx_cls(user.SPEC.name, new, attrs, arg_operand))
    except Exception:  # noqa: BLE001 - a rule that refuses the candidate
        return False
    return len(out) == len(declared) and all(v.same_type(a, b) for a, b in zip(out, declared))
