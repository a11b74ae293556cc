"""The driver repairs before it asks: an attempt rejected only for machine-applicable findings
(and what follows from them) is repaired without a model call, recorded, and replayed.  Against
the scripted Messages API server, through the real SDK."""

from __future__ import annotations

import json

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import AnthropicProposer, replay_transcript, rewrite
from graphsynth.llm.fakeserver import FakeServer, reply

TEXT = """\
graph MLP(x: f32[B, 784]) -> f32[B, 10] {
  param fc1.weight: f32[256, 784]
  param fc1.bias: f32[256]
  param fc2.weight: f32[10, 256]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  }
  %1: f32[B, 256] = relu(%0)
  module fc2 : Linear {
    %2: f32[B, 10] = linear(%1, fc2.weight)
  }
  return %2
}
"""

RELU = "%1: f32[B, 256] = relu(%0)"
GELU = "%1: f32[B, 256] = gelu(%0)"
GELU_MISTYPED = "%1: f32[B, 128] = gelu(%0)"  # the goal reached, one type wrong
RELU_MISTYPED = "%1: f32[B, 128] = relu(%0)"  # nothing reached: the repair would only undo it


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("GRAPHSYNTH_MODEL", raising=False)
    monkeypatch.setattr(AnthropicProposer, "retry_base_s", 0.01)


@pytest.fixture
def module():
    return parse_ir(TEXT, filename="mlp.gs")


def proposer(srv: FakeServer) -> AnthropicProposer:
    return AnthropicProposer(base_url=srv.url, model="claude-sonnet-4-6", timeout=2.0, max_retries=1)


def test_a_mechanical_error_is_repaired_without_a_model_call(module, tmp_path):
    before = print_ir(module)
    path = tmp_path / "t.jsonl"
    with FakeServer([reply(block(RELU, GELU_MISTYPED)), reply("never asked")]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=3, transcript=str(path))
    assert len(srv.requests) == 1  # the second scripted reply was never requested
    assert r.accepted and [a.verdict for a in r.attempts] == ["rejected", "accepted"]
    first, fixed = r.attempts
    assert "GS305" in first.codes and any(d.machine_applicable for d in first.diagnostics)
    assert fixed.edit["mode"] == "repair" and fixed.edit["of_attempt"] == 1 and fixed.usage.calls == 0
    assert fixed.latency_s == 0.0 and fixed.reply == ""
    assert GELU in r.output_text and print_ir(module) == before
    assert r.usage.calls == 1
    # Recorded: the repair is an attempt without a reply, the header says the driver repairs.
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["repair"] is True
    rec = [x for x in lines if x["kind"] == "attempt"]
    assert [x.get("repair", False) for x in rec] == [False, True] and "reply" not in rec[1]
    assert rec[1]["edit"]["fixes"][0]["code"] == "GS305"
    # And replayed: the same verdicts and output from the one recorded exchange.
    again = replay_transcript(path)
    assert again.replay_ok, again.notes
    assert [a.edit.get("mode") for a in again.attempts] == ["blocks", "repair"]


def test_without_repair_the_model_is_asked_again(module):
    with FakeServer([reply(block(RELU, GELU_MISTYPED)), reply(block(RELU, GELU))]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=3, repair=False)
    assert len(srv.requests) == 2 and r.accepted and r.attempts[1].edit["mode"] == "blocks"


def test_a_repair_that_only_undoes_the_edit_goes_back_to_the_model(module):
    """The fix-its of RELU_MISTYPED give back the input text: accepting that would accept no
    rewrite at all, so the model hears of the error."""
    with FakeServer([reply(block(RELU, RELU_MISTYPED)), reply(block(RELU, GELU))]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=3)
    assert len(srv.requests) == 2 and r.accepted
    assert [a.edit["mode"] for a in r.attempts] == ["blocks", "blocks"]


def test_errors_without_a_machine_applicable_repair_go_to_the_model(module):
    wrong = "%1: f32[B, 256] = gelu(%0, %0)"  # arity: no fix-it
    with FakeServer([reply(block(RELU, wrong)), reply(block(RELU, GELU))]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=3)
    assert len(srv.requests) == 2 and r.accepted and r.attempts[0].codes == ["GS208"]


def test_a_repair_counts_as_an_attempt(module):
    with FakeServer([reply(block(RELU, GELU_MISTYPED))]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=1)
    assert not r.accepted and len(r.attempts) == 1  # no attempt left to repair in


def test_a_misspelt_parameter_is_repaired(module):
    edit = block("%2: f32[B, 10] = linear(%1, fc2.weight)", "%2: f32[B, 10] = linear(%1, fc2.wieght)")
    edit += "\n" + block(RELU, GELU)
    with FakeServer([reply(edit)]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=2)
    assert r.accepted and r.attempts[0].codes == ["GS201"] and r.attempts[1].edit["mode"] == "repair"
    assert "fc2.weight)" in r.output_text
