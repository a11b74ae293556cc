"""llm-rewrite as a pass in a pipeline, and `graphsynth-opt --replay`."""

from __future__ import annotations

import io

import pytest
from xdsl.context import Context
from xdsl.passes import PassPipeline

from graphsynth.diagnostics import PassError
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import AnthropicProposer, rewrite
from graphsynth.llm.fakeserver import FakeServer, reply
from graphsynth.llm.replay import replay_main
from graphsynth.llm.rewrite_pass import LLMRewritePass

TEXT = """\
graph Net(x: f32[B, 16]) -> f32[B, 16] {
  param fc.weight: f32[16, 16]
  module fc : Linear {
    %0: f32[B, 16] = linear(x, fc.weight)
  }
  %1: f32[B, 16] = relu(%0)
  return %1
}
"""
LINE = "%1: f32[B, 16] = relu(%0)"
EDIT = f"<<<<<<< SEARCH\n{LINE}\n=======\n{LINE.replace('relu', 'silu')}\n>>>>>>> REPLACE"


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    path = tmp_path / "net.jsonl"
    with FakeServer([reply("no edit here"), reply(EDIT)]) as srv:
        r = rewrite(parse_ir(TEXT), "use silu", AnthropicProposer(base_url=srv.url, timeout=2.0), transcript=str(path))
    assert r.accepted
    return path


def run(spec: str, module) -> None:
    pipeline = PassPipeline.parse_spec({"llm-rewrite": lambda: LLMRewritePass}, spec)
    pipeline.apply(Context(), module)


def test_pass_replays_a_session_in_place(recorded):
    m = parse_ir(TEXT)
    run(f'llm-rewrite{{goal="use silu" proposer=replay replay="{recorded}"}}', m)
    assert "silu(%0)" in print_ir(m) and "relu" not in print_ir(m)


def test_pass_failure_raises_and_leaves_the_module(recorded):
    m = parse_ir(TEXT)
    before = str(m)
    with pytest.raises(PassError) as ei:
        run(f'llm-rewrite{{goal="use silu" attempts=1 proposer=replay replay="{recorded}"}}', m)
    assert ei.value.diagnostics[0].code == "GS501"
    assert str(m) == before


def test_pass_without_api_key_fails_before_work(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    m = parse_ir(TEXT)
    with pytest.raises(PassError) as ei:
        run('llm-rewrite{goal="use silu"}', m)
    assert "ANTHROPIC_API_KEY" in ei.value.diagnostics[0].message


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("llm-rewrite", "needs a goal"),
        ('llm-rewrite{goal="x" attempts=0}', "attempts must be"),
        ('llm-rewrite{goal="x" proposer=oracle}', "unknown proposer"),
        ('llm-rewrite{goal="x" proposer=replay}', "needs a recorded transcript"),
        ('llm-rewrite{goal="x" menu=everything}', "unknown menu source"),
    ],
)
def test_pass_option_errors(spec, fragment):
    with pytest.raises(PassError) as ei:
        run(spec, parse_ir(TEXT))
    assert fragment in ei.value.diagnostics[0].message


def test_replay_main(recorded, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert replay_main(str(recorded), out, err) == 0
    assert "silu(%0)" in out.getvalue()
    assert "rewrites: 1/1 accepted in 2 attempts" in err.getvalue()
    # A tampered recording does not replay.
    lines = recorded.read_text().splitlines()
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines).replace("no edit here", "a different reply") + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert replay_main(str(tampered), out, err) == 1
    assert "different question" in err.getvalue()
