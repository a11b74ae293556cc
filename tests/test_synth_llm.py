"""The anthropic proposer in the loop: the real SDK against the scripted local Messages server,
then the same session replayed from its transcript."""

from __future__ import annotations

import pytest
from synth_util import tiny_task

import graphsynth as gs
from graphsynth.llm.fakeserver import FakeServer, reply
from graphsynth.llm.proposer import AnthropicProposer
from graphsynth.synth import search

BAD = """<<<<<<< SEARCH
%1: f32[B, 32] = relu(%0)
=======
%1: f32[B, 32] = relu(%7)
>>>>>>> REPLACE"""

GOOD = """<<<<<<< SEARCH
%1: f32[B, 32] = relu(%0)
=======
%1: f32[B, 32] = gelu(%0)
>>>>>>> REPLACE"""

# applies to either parent a tournament may pick (#0 or #1)
TANH = """<<<<<<< SEARCH
return %2
=======
%t: f32[B, 10] = tanh(%2)
return %t
>>>>>>> REPLACE"""


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setattr(AnthropicProposer, "retry_base_s", 0.01)


def _key_of(a):
    return [(c.id, c.hash, c.status, c.parents, c.metrics) for c in a.candidates()]


def test_anthropic_proposer_through_the_sdk_then_replay(tmp_path):
    path = tiny_task(tmp_path)
    transcript = tmp_path / "session.jsonl"
    with FakeServer([reply(BAD), reply(GOOD), reply(TANH)]) as srv:
        a = search(path, "anthropic", budget=3, seed=0, db=tmp_path / "llm.sqlite", executor="inline", batch=1,
                   proposer_options={"base_url": srv.url, "max_retries": 0, "timeout": 10, "transcript": str(transcript)})
        texts = srv.request_texts()
    rows = a.candidates()
    assert [c.status for c in rows] == ["trained", "trained", "trained"]
    assert "gelu(%0)" in rows[1].ir and "tanh(%2)" in rows[2].ir and rows[1].proposer == "anthropic"
    assert gs.verify(gs.parse_ir(rows[1].ir)) == []
    # the rejected first attempt is kept with its diagnostics, and went back to the model
    assert rows[1].diagnostics and rows[1].diagnostics[0]["code"] == "GS201"
    assert rows[1].tokens["attempts"] == 2 and rows[1].tokens["output_tokens"] > 0
    first, second, third = texts
    assert "tiny-digits" in first and "20,000 parameters" in first and "val_accuracy" in first
    assert "relu(%0)" in first and "#0 (" in first  # the best candidate as IR with its metrics
    assert "GS201" in second and "%7" in second
    assert "#1 (" in third  # the archive's best after the first edit
    # replayed from the transcript: the same questions, the same archive, no server
    b = search(path, "replay", budget=3, seed=0, db=tmp_path / "replay.sqlite", executor="inline", batch=1,
               proposer_options={"transcript": str(transcript)})
    assert _key_of(a) == _key_of(b)


def test_llm_failures_cost_a_proposal_not_the_run(tmp_path):
    with FakeServer([]) as srv:  # every request fails with a 500
        a = search(tiny_task(tmp_path), "anthropic", budget=2, db=tmp_path / "f.sqlite", executor="inline",
                   max_proposals=3, proposer_options={"base_url": srv.url, "max_retries": 0, "timeout": 5})
    rows = a.candidates()
    assert [c.status for c in rows] == ["trained", "rejected", "rejected", "rejected"]
    assert all(c.diagnostics[-1]["code"] == "GS507" for c in rows[1:])
