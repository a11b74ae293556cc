"""The incremental re-parse used by the rewrite loop builds exactly what parse_ir builds: same
ops, same locations, same diagnostics, on random edits of the example graphs and of a
GPT-2-sized graph."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from graphsynth.diagnostics import GraphsynthError
from graphsynth.grammar.parser import parse_ir
from graphsynth.llm.incremental import IncrementalParser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "llm").glob("*.gs"))


def gpt2(layers: int = 2) -> str:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from llm_loop import gpt2_text
    finally:
        sys.path.pop(0)
    return gpt2_text(layers, d=64, heads=4, vocab=100, ctx=32)


def outcome(fn):
    try:
        m = fn()
    except GraphsynthError as e:
        return ("error", [d.render() for d in e.diagnostics])
    ops = [(op.name, str(op.location)) for op in m.walk()]
    return ("ok", str(m), ops)


def random_edit(rng: random.Random, lines: list[str]) -> tuple[list[str], int, int, int]:
    """Replace a random run of lines by a random mix of: the same lines, lines from elsewhere,
    lines with a type changed, nothing, or a new op."""
    n = len(lines)
    a = rng.randrange(1, n - 1)
    b = min(n - 1, a + rng.randrange(0, 4))
    old = lines[a:b]
    choice = rng.randrange(5)
    if choice == 0:
        new = [ln.replace("f32[", "f16[", 1) for ln in old]
    elif choice == 1:
        new = [lines[rng.randrange(n)] for _ in range(rng.randrange(0, 4))]
    elif choice == 2:
        new = []
    elif choice == 3:
        new = old + ["  %extra_new: f32[3] = relu(%0)"]
    else:
        new = [ln.replace("%", "%z", 1) for ln in old] + old
    out = lines[:a] + new + lines[b:]
    first = a + 1
    last_old = max(b, a + 1)
    if b == a:  # a pure insertion still "removes" the line it is anchored on
        new = new + [lines[a]]
        out = lines[:a] + new + lines[a + 1 :]
        last_old = a + 1
    last_new = last_old + (len(out) - len(lines))
    return out, first, last_old, last_new


@pytest.mark.parametrize("source", [*EXAMPLES, "gpt2"], ids=lambda p: getattr(p, "stem", p))
def test_incremental_parse_equals_full_parse(source):
    text = gpt2() if source == "gpt2" else Path(source).read_text()
    lines = text.rstrip("\n").split("\n")
    inc = IncrementalParser("\n".join(lines))
    rng = random.Random(1234)
    for k in range(60):
        new_lines, first, last_old, last_new = random_edit(rng, lines)
        new_text = "\n".join(new_lines)
        name = f"edit-{k}.gs"
        full = outcome(lambda t=new_text, n=name: parse_ir(t, filename=n))
        fast = outcome(lambda t=new_text, n=name, a=first, b=last_old, c=last_new: inc.parse(t, a, b, c, filename=n))
        assert fast == full, f"edit {k}: lines {first}-{last_old} -> {first}-{last_new}"
    assert inc.stats["incremental"] >= 10  # the fast road was taken (edits that break the syntax fall back)


def test_unchanged_base_is_not_mutated():
    text = gpt2(1)
    inc = IncrementalParser(text)
    before = inc.base_tree().pretty()
    lines = text.split("\n")
    i = next(k for k, ln in enumerate(lines) if "gelu(" in ln)
    lines[i : i + 1] = [lines[i], lines[i].replace("%b0_act", "%b0_act2")]
    inc.parse("\n".join(lines), i + 1, i + 1, i + 2, "x.gs")
    assert inc.base_tree().pretty() == before
