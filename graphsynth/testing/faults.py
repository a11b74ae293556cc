"""Single-fault mutations of gs text: the mistakes a model (or a person) makes in one edit.

Four kinds, each enumerated over the whole text so that a test or a benchmark can take all of
them or a seeded sample:

- ``dim``: one dim of one type written in the text (a graph input or result, a parameter, a
  declared result) changed: an integer ``n`` becomes ``n+1``, a symbolic dim ``E`` becomes
  ``E+1``;
- ``attr``: one integer of one attribute value changed (``normalized_shape=[64]`` ->
  ``[65]``, ``dim=1`` -> ``dim=2``), negative indices moving away from zero;
- ``drop``: one ``param``/``buffer`` declaration line removed;
- ``rename``: one use of a name (an operand) replaced by a typo of it that names nothing (a
  character dropped, doubled, or two swapped).

A mutation is text in, text out; whether it breaks the module is for the verifier to say (a
mutant that still verifies is no fault, and :func:`faults` can leave those out).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

KINDS = ("dim", "attr", "drop", "rename")

_TYPE = re.compile(r"(?:f64|f32|f16|bf16|i64|i32|i16|i8|u8|bool)\[([^\]\n]*)\]")
_ATTR = re.compile(r"([(,][ \t]*)([A-Za-z_][A-Za-z0-9_]*)([ \t]*=[ \t]*)(\[[^\]\n]*\]|-?[0-9]+(?![0-9.eE]))")
_INT = re.compile(r"-?\b[0-9]+\b")
_DECL = re.compile(r"^[ \t]*(param|buffer)[ \t]")
_CALL = re.compile(r"=[ \t]*[A-Za-z_][A-Za-z0-9_]*\((.*)\)[ \t]*(//.*)?$")


@dataclass(frozen=True)
class Fault:
    kind: str
    line: int  # 1-based line of the change
    description: str
    text: str  # the mutated text


def mutations(text: str) -> Iterator[Fault]:
    """Every single-fault mutation of ``text``, kind by kind, in text order."""
    lines = text.split("\n")
    defined = _defined_names(lines)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("//"):
            continue
        code = line.split("//", 1)[0]
        for m in _TYPE.finditer(code):
            inner_start = m.start(1)
            pos = inner_start
            for part in m.group(1).split(","):
                dim = part.strip()
                if dim:
                    col = pos + part.index(dim)
                    new = str(int(dim) + 1) if dim.isdigit() else (f"({dim})+1" if "//" in dim else f"{dim}+1")
                    yield _fault("dim", lines, i, col, col + len(dim), new, f"dim {dim} -> {new}")
                pos += len(part) + 1
    for i, line in enumerate(lines):
        code = line.split("//", 1)[0]
        for m in _ATTR.finditer(code):
            start = m.start(4)
            for n in _INT.finditer(m.group(4)):
                val = int(n.group())
                new = str(val - 1 if val < 0 else val + 1)
                a, b = start + n.start(), start + n.end()
                yield _fault("attr", lines, i, a, b, new, f"{m.group(2)}: {n.group()} -> {new}")
    for i, line in enumerate(lines):
        if _DECL.match(line):
            mutated = lines[:i] + lines[i + 1 :]
            yield Fault("drop", i + 1, f"drop '{line.strip()}'", "\n".join(mutated))
    for i, line in enumerate(lines):
        code = line.split("//", 1)[0]
        m = _CALL.search(code)
        if not m:
            continue
        args_at = m.start(1)
        for a, name in _positional(m.group(1)):
            if name not in defined:
                continue
            typo = _typo(name, defined)
            if typo is None:
                continue
            yield _fault("rename", lines, i, args_at + a, args_at + a + len(name), typo, f"use {name} -> {typo}")


def faults(text: str, *, kinds: tuple[str, ...] = KINDS, seed: int | None = None, per_kind: int | None = None,
           invalid_only: bool = True) -> list[Fault]:
    """The mutations of ``text`` (of ``kinds``), a seeded sample of ``per_kind`` each when
    given, and only those that break the module when ``invalid_only``."""
    from graphsynth.fixes import check_text

    by_kind: dict[str, list[Fault]] = {k: [] for k in kinds}
    for f in mutations(text):
        if f.kind in by_kind:
            by_kind[f.kind].append(f)
    out: list[Fault] = []
    rng = random.Random(seed)
    for k in kinds:
        group = by_kind[k]
        if invalid_only:
            group = [f for f in group if check_text(f.text, "mutant.gs").errors]
        if per_kind is not None and len(group) > per_kind:
            group = rng.sample(group, per_kind)
        out.extend(group)
    return out


def _fault(kind: str, lines: list[str], i: int, a: int, b: int, new: str, what: str) -> Fault:
    line = lines[i]
    mutated = lines[:i] + [line[:a] + new + line[b:]] + lines[i + 1 :]
    return Fault(kind, i + 1, what, "\n".join(mutated))


def _positional(args: str) -> list[tuple[int, str]]:
    """(offset, text) of each positional argument of an argument list (items without ``=``)."""
    out = []
    depth = 0
    start = 0
    for k, ch in enumerate(args + ","):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            item = args[start:k]
            stripped = item.strip()
            if stripped and "=" not in stripped:
                out.append((start + item.index(stripped), stripped))
            start = k + 1
    return out


def _defined_names(lines: list[str]) -> set[str]:
    names: set[str] = set()
    for line in lines:
        code = line.split("//", 1)[0]
        m = re.match(r"[ \t]*(?:param|buffer)[ \t]+([^:\s]+)", code)
        if m:
            names.add(m.group(1))
        for v in re.finditer(r"(%[A-Za-z0-9_.$\-]+)[ \t]*:", code):
            names.add(v.group(1))
        g = re.match(r"[ \t]*graph[ \t]+[^(]*\((.*)\)[ \t]*->", code)
        if g:
            for arg in g.group(1).split(","):
                if ":" in arg:
                    names.add(arg.split(":", 1)[0].strip())
    return names


def _typo(name: str, defined: set[str]) -> str | None:
    """A typo of ``name`` (drop, double or swap a letter after any ``%`` and before any dot
    suffix's end) that is not a defined name."""
    body_at = 1 if name.startswith("%") else 0
    cands = []
    for k in range(len(name) - 1, body_at - 1, -1):
        ch = name[k]
        if ch.isalpha():
            cands.append(name[:k] + name[k + 1 :])  # dropped
            cands.append(name[:k] + ch + name[k:])  # doubled
    for k in range(body_at, len(name) - 1):
        if name[k] != name[k + 1] and name[k].isalnum() and name[k + 1].isalnum():
            cands.append(name[:k] + name[k + 1] + name[k] + name[k + 2 :])  # swapped
    if body_at and len(name) > 1:
        cands.append(name + "x")
    for c in cands:
        if c not in defined and len(c) > body_at and re.fullmatch(r"%?[A-Za-z0-9_.$\-]+", c) and not c.endswith("."):
            if not body_at and not re.match(r"[A-Za-z_]", c):
                continue
            return c
    return None
