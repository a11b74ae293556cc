"""mlir-opt's ``--verify-diagnostics`` for gs IR: the ``// expected-error {{...}}`` comments of a
file against the diagnostics a run produced.  FileCheck tests of error paths state what they
expect beside the line that causes it, so a test says where a diagnostic lands, not only that
one was printed."""

from __future__ import annotations

import re

from graphsynth.diagnostics import Diagnostic, Location, error

EXPECTED = re.compile(r"//\s*expected-(error|warning|note|remark)(@([+-]\d+|above|below|unknown))?\s*\{\{(.*?)\}\}")


def check_expected(data: str | bytes, filename: str, diags: list[Diagnostic], first_line: int = 1) -> list[Diagnostic]:
    """mlir-opt's --verify-diagnostics: every ``// expected-<severity>[@where] {{text}}`` comment
    must be matched by a diagnostic of that severity on the target line whose ``CODE: message``
    contains ``text``, and every error or warning must be expected.

    ``where`` is ``+N``/``-N`` (lines below/above the comment), ``above``, ``below`` or
    ``unknown`` (a diagnostic without a location); without it, the comment's own line.
    ``expected-note`` matches a note of a diagnostic on the target line (its notes, the violated
    relation, its origin or its suggested fix) and does not consume the diagnostic.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    expected: list[tuple[str, int | None, str, int]] = []  # (severity, target line, substring, comment line)
    for i, line in enumerate(text.splitlines(), start=first_line):
        for m in EXPECTED.finditer(line):
            offset = m.group(3)
            target: int | None = i
            if offset == "above":
                target = i - 1
            elif offset == "below":
                target = i + 1
            elif offset == "unknown":
                target = None
            elif offset:
                target = i + int(offset)
            expected.append((m.group(1), target, m.group(4), i))

    def on_line(d: Diagnostic, line: int | None) -> bool:
        return d.loc is None if line is None else d.loc is not None and d.loc.line == line

    def notes_of(d: Diagnostic) -> list[str]:
        extra = [f"violated: {d.relation}"] if d.relation else []
        extra += [f"introduced by {d.origin}"] if d.origin else []
        extra += [d.fix] if d.fix else []
        return list(d.notes) + extra

    problems: list[Diagnostic] = []
    unmatched = list(diags)
    where = {None: "without a location"}
    for severity, line, sub, at in expected:
        place = where.get(line, f"on line {line}")
        if severity == "note":
            if not any(on_line(d, line) and any(sub in n for n in notes_of(d)) for d in diags):
                got = [f"got note: {n}" for d in diags if on_line(d, line) for n in notes_of(d)] or ["no note was produced there"]
                problems.append(error("GS000", f'expected note "{sub}" {place} was not produced', loc=Location(filename, at, 1), notes=got))
            continue
        hit = next((d for d in unmatched if d.severity == severity and on_line(d, line) and sub in f"{d.code}: {d.message}"), None)
        if hit is None:
            near = [d for d in unmatched if on_line(d, line)]
            note = [f"got {d.severity} there: [{d.code}] {d.message}" for d in near] or [f"no {severity} was produced there"]
            problems.append(error("GS000", f'expected {severity} "{sub}" {place} was not produced', loc=Location(filename, at, 1), notes=note))
        else:
            unmatched.remove(hit)
    for d in unmatched:
        if d.severity in ("error", "warning"):
            problems.append(error("GS000", f"unexpected {d.severity}: [{d.code}] {d.message}", loc=d.loc, notes=[d.code]))
    return problems
