"""The recorded sessions shipped under examples/llm/ replay bit for bit: same prompts (checked by
hash), same verdicts, same output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import replay_transcript

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "llm"

# What the first, rejected attempt of each session ran into.
FIRST_REJECTION = {
    "insert_block": "GS201",  # the new module's parameters were not declared
    "replace_activation": "GS501",  # a CHOICE that is not a number
    "replace_activation_free": "GS502",  # a SEARCH line with a typo
    "reduce_params": "GS3",  # types left at the old width
    "make_residual": "GS3",  # adding tensors of different widths
    "fold_scales": "GS506",  # the folded constant is wrong: numerics differ
}


def test_every_goal_has_an_example():
    shipped = {p.stem for p in EXAMPLES.glob("*.jsonl")}
    assert shipped == set(FIRST_REJECTION)
    for name in shipped:
        assert (EXAMPLES / (name.removesuffix("_free") + ".gs")).exists()


@pytest.mark.parametrize("name", sorted(FIRST_REJECTION))
def test_shipped_transcript_replays(name):
    path = EXAMPLES / f"{name}.jsonl"
    header = json.loads(path.read_text().splitlines()[0])
    # The recorded input is the example file as the printer writes it.
    src = EXAMPLES / (name.removesuffix("_free") + ".gs")
    assert header["input_ir"] == print_ir(parse_ir(src.read_text(), filename=src.name))
    r = replay_transcript(path)
    assert r.replay_ok, r.notes
    assert r.accepted and len(r.attempts) == 2
    first = r.attempts[0]
    assert first.verdict == "rejected"
    assert first.codes and all(c.startswith(FIRST_REJECTION[name]) for c in first.codes), first.codes
    assert r.attempts[1].verdict == "accepted"
    assert r.output_text is not None and r.output_text != header["input_ir"]


def test_replayed_examples_achieve_their_goals():
    """Spot checks that the accepted graphs do what the goals say."""
    out = {name: replay_transcript(EXAMPLES / f"{name}.jsonl").output_text for name in FIRST_REJECTION}
    assert "module norm : LayerNorm" in out["insert_block"] and "linear(%n, head.weight" in out["insert_block"]
    for name in ("replace_activation", "replace_activation_free"):
        assert "relu" not in out[name] and out[name].count("gelu(") == 3
    assert "f32[192, 256]" in out["reduce_params"] and "-> f32[B, 16]" in out["reduce_params"]
    assert "add(%0, %3)" in out["make_residual"]
    assert "mul(x, 1.5)" in out["fold_scales"] and "mul(%0" not in out["fold_scales"]
