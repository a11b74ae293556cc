"""Incremental re-verification gives exactly the diagnostics of full parsing and verification,
on random edits of the shipped examples and of a GPT-2-shaped graph."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from graphsynth.diagnostics import GraphsynthError
from graphsynth.grammar.parser import parse_ir
from graphsynth.llm.incremental import IncrementalParser
from graphsynth.llm.judge import diff_span
from graphsynth.llm.reverify import IncrementalVerifier
from graphsynth.testing.faults import mutations
from graphsynth.verifier import verify

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

SWAPS = [("relu(", "gelu("), ("gelu(", "relu("), ("add(", "mul("), ("mul(", "add("), ("relu(", "tanh("),
         ("dim0=1", "dim0=2"), ("normalized_shape=[", "normalized_shape=[2, "), ("f32[", "f16[")]


def full(text: str, filename: str):
    try:
        module = parse_ir(text, filename=filename)
    except GraphsynthError as e:
        return None, e.diagnostics
    return module, verify(module)


def key(diags):
    return [
        (d.severity, d.code, d.message, d.loc, d.value, d.expected, d.got, d.relation, d.fix, tuple(d.notes),
         d.source_line, tuple(d.edits), d.applicability, d.derived)
        for d in diags
    ]


def edits_of(text: str, rng: random.Random, n: int) -> list[str]:
    """Single-fault mutations of one line (dims, attributes, renamed uses) and op swaps."""
    out = [f.text for f in mutations(text) if f.kind != "drop"]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        for a, b in SWAPS:
            if a in line:
                out.append("\n".join(lines[:i] + [line.replace(a, b, 1)] + lines[i + 1 :]))
    rng.shuffle(out)
    return out[:n]


def agree(base: str, edited: list[str]) -> tuple[int, int]:
    parser = IncrementalParser(base, background=False)
    checker = IncrementalVerifier(parser, background=False)
    fast = 0
    for k, text in enumerate(edited):
        span = diff_span(base, text)
        assert span is not None
        filename = f"attempt-{k}.gs"
        got = checker.check(text, *span, filename=filename)
        if got is None:
            continue
        fast += 1
        module, want = full(text, filename)
        assert module is not None, [d.render() for d in want]
        assert key(got) == key(want), (text.split("\n")[span[0] - 1], [d.render() for d in got], [d.render() for d in want])
    return fast, len(edited)


def test_incremental_equals_full_on_edits_of_the_examples() -> None:
    rng = random.Random(1)
    fast = total = 0
    for path in sorted([*ROOT.glob("examples/*.gs"), *ROOT.glob("examples/llm/*.gs")]):
        f, t = agree(path.read_text(), edits_of(path.read_text(), rng, 150))
        fast += f
        total += t
    assert total >= 500 and fast >= total // 2, (fast, total)


@pytest.mark.long
def test_incremental_equals_full_on_a_gpt2_shaped_graph() -> None:
    from llm_loop import gpt2_text

    text = gpt2_text(layers=2, d=64, heads=4, vocab=100, ctx=32)
    fast, total = agree(text, edits_of(text, random.Random(2), 600))
    assert fast >= total // 2, (fast, total)


@pytest.mark.slow
def test_incremental_equals_full_on_many_edits() -> None:
    from llm_loop import gpt2_text

    text = gpt2_text(layers=4, d=64, heads=4, vocab=100, ctx=32)
    fast, total = agree(text, edits_of(text, random.Random(3), 5000))
    assert fast >= total // 2, (fast, total)


def test_edits_that_change_definitions_take_the_full_path() -> None:
    base = (ROOT / "examples" / "mlp.gs").read_text()
    parser = IncrementalParser(base, background=False)
    checker = IncrementalVerifier(parser, background=False)
    for old, new in [("%1: f32[B, 256] = relu(%0)", "%9: f32[B, 256] = relu(%0)"),  # renamed definition
                     ("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = relu(%2)"),  # read before defined
                     ("  param fc1.bias: f32[256]\n", "")]:  # a definition dropped
        text = base.replace(old, new)
        span = diff_span(base, text)
        assert checker.check(text, *span, filename="a.gs") is None
