"""The rewrite loop end to end: the real anthropic SDK against a scripted Messages API server
on 127.0.0.1, transcripts and their replay, invariants, the menu, the pass."""

from __future__ import annotations

import json

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import (
    AnthropicProposer,
    Proposal,
    ReplayProposer,
    Usage,
    activation_swaps,
    replay_transcript,
    rewrite,
)
from graphsynth.llm.fakeserver import FakeServer, Step, rate_limited, reply

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
BAD = "%1: f32[B, 128] = relu(%0)"


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


class Scripted:
    """An in-process proposer answering from a list (for tests that need no HTTP)."""

    name = "scripted"
    model = "scripted"

    def __init__(self, replies: list[str]):
        self.replies = list(replies)
        self.requests: list = []

    def propose(self, request):
        self.requests.append(request)
        return Proposal(self.replies.pop(0), Usage(10, 5, calls=1), 0.001, "scripted")


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("GRAPHSYNTH_MODEL", raising=False)
    monkeypatch.setattr(AnthropicProposer, "retry_base_s", 0.01)


@pytest.fixture
def module():
    return parse_ir(TEXT, filename="mlp.gs")


def snapshot(m) -> tuple[str, str]:
    """The module as text and in generic form, so a change the printer would hide still shows."""
    return print_ir(m), str(m)


def proposer(srv: FakeServer, **kw) -> AnthropicProposer:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("max_retries", 2)
    return AnthropicProposer(base_url=srv.url, model="claude-sonnet-4-6", **kw)


def test_valid_edit_is_accepted(module):
    before = snapshot(module)
    with FakeServer([reply("Here you go:\n" + block(RELU, GELU))]) as srv:
        result = rewrite(module, "replace the relu with gelu", proposer(srv))
    assert result.accepted
    assert len(result.attempts) == 1 and result.attempts[0].verdict == "accepted"
    out = print_ir(result.module)
    assert "gelu(%0)" in out and "relu" not in out
    assert snapshot(module) == before and result.module is not module
    assert result.usage.calls == 1 and result.usage.cost_usd is not None and result.usage.cost_usd > 0
    # The request carried the goal, the graph and the op reference.
    body = srv.requests[0]
    assert "replace the relu with gelu" in body["messages"][0]["content"][0]["text"]
    assert RELU in body["messages"][0]["content"][0]["text"]
    assert "linear(input, weight, bias?)" in body["system"][0]["text"]


def test_shape_error_then_fix_sends_the_diagnostics_back(module):
    before = snapshot(module)
    with FakeServer([reply(block(RELU, BAD)), reply(block(RELU, GELU))]) as srv:
        result = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=3)
    assert result.accepted and len(result.attempts) == 2
    first = result.attempts[0]
    assert first.verdict == "rejected" and first.codes and all(c.startswith("GS3") for c in first.codes)
    # The second request holds the first reply and its rendered diagnostics with the offending line.
    second = srv.requests[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    feedback = second[2]["content"][0]["text"]
    assert "Attempt 1 was rejected" in feedback
    assert any(f"[{c}]" in feedback for c in first.codes)
    assert BAD in feedback
    # The unchanging prefix was cached by the first call and read by the second.
    assert result.attempts[0].usage.cache_creation_input_tokens > 0
    assert result.attempts[1].usage.cache_read_input_tokens > 0
    assert snapshot(module) == before


def test_garbage_uses_every_attempt_and_leaves_the_module_alone(module):
    before = snapshot(module)
    replies = [reply("I would rather not."), reply("```\nrelu -> gelu\n```"), reply("<<<<<<< SEARCH\nnothing")]
    with FakeServer(replies) as srv:
        result = rewrite(module, "replace the relu with gelu", proposer(srv), attempts=3)
    assert not result.accepted
    assert [a.codes for a in result.attempts] == [["GS501"], ["GS501"], ["GS501"]]
    assert result.module is module and snapshot(module) == before
    assert result.diagnostics[0].code == "GS501"


def test_rate_limit_then_success(module):
    with FakeServer([rate_limited(), reply(block(RELU, GELU))]) as srv:
        result = rewrite(module, "replace the relu with gelu", proposer(srv))
    assert result.accepted
    assert len(srv.requests) == 2
    assert srv.headers[1]["x-stainless-retry-count"] == "1"


def test_timeout_is_a_failed_rewrite_with_the_graph_unchanged(module):
    before = snapshot(module)
    late = [Step(text=block(RELU, GELU), delay=1.0)] * 2
    with FakeServer(late) as srv:
        result = rewrite(module, "replace the relu with gelu", proposer(srv, timeout=0.2, max_retries=1), attempts=4)
    assert not result.accepted
    # timeout= is the total for one proposal: the first try uses it all, no retry fits after it.
    assert result.error is not None and result.error.code == "GS509"
    assert "0.2 s timeout" in result.error.message and "elapsed" in result.error.message
    assert [a.verdict for a in result.attempts] == ["error"]  # no further attempts after a proposer failure
    assert len(srv.requests) == 1
    assert result.module is module and snapshot(module) == before


def test_truncated_json_body_is_retried_then_reported(module):
    before = snapshot(module)
    truncated = [Step(raw=b'{"id": "msg_1", "content": [{"type": "te')] * 3
    with FakeServer(truncated) as srv:
        result = rewrite(module, "replace the relu with gelu", proposer(srv, max_retries=2))
    assert not result.accepted and result.error.code == "GS507"
    assert "malformed reply" in result.error.message
    assert len(srv.requests) == 3
    assert snapshot(module) == before


def test_transcript_records_every_exchange_and_replays(module, tmp_path):
    path = tmp_path / "session.jsonl"
    with FakeServer([reply(block(RELU, BAD)), reply(block(RELU, GELU))]) as srv:
        live = rewrite(module, "replace the relu with gelu", proposer(srv), transcript=str(path))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["header", "attempt", "attempt", "result"]
    head, a1, a2, res = lines
    assert head["goal"] == "replace the relu with gelu" and head["input_ir"] == print_ir(module)
    assert head["base_url"].startswith("http://127.0.0.1:")
    assert a1["verdict"] == "rejected" and a1["diagnostics"] and a1["reply"] == block(RELU, BAD)
    assert a1["feedback"] and "Attempt 1 was rejected" in a1["feedback"]
    assert a2["verdict"] == "accepted" and "+  " + GELU in a2["edit"]["diff"]
    for a in (a1, a2):
        assert {"prompt_hash", "messages_hash", "system_hash", "usage", "latency_s", "check_s"} <= set(a)
    assert a1["messages_hash"] != a2["messages_hash"]
    assert res["accepted"] is True

    again = rewrite(module, "replace the relu with gelu", ReplayProposer(path))
    assert [a.verdict for a in again.attempts] == ["rejected", "accepted"]
    assert print_ir(again.module) == print_ir(live.module)
    assert again.usage.input_tokens == live.usage.input_tokens

    rr = replay_transcript(path)
    assert rr.replay_ok and rr.output_text == live.output_text

    # Another goal asks a different question: the replay refuses instead of answering wrongly.
    diverged = rewrite(module, "replace the relu with tanh", ReplayProposer(path))
    assert not diverged.accepted and diverged.error.code == "GS507"
    assert "different question" in diverged.error.message


def test_interface_is_kept_unless_the_goal_says_otherwise(module):
    header = "graph MLP(x: f32[B, 784]) -> f32[B, 10] {"
    changed = "graph MLP(x: f32[B, 784], y: f32[B, 784]) -> f32[B, 10] {"
    r = rewrite(module, "add an input", Scripted([block(header, changed)]), attempts=1)
    assert not r.accepted and r.attempts[0].codes == ["GS505"]
    assert "inputs must stay" in r.attempts[0].diagnostics[0].message
    r = rewrite(module, "[change-interface] add an input", Scripted([block(header, changed)]), attempts=1)
    assert r.accepted and "y: f32[B, 784]" in print_ir(r.module)


def test_menu_choice(module):
    items = activation_swaps(module)
    descriptions = [it.description for it in items]
    assert "replace all 1 relu ops with gelu" in descriptions
    n = descriptions.index("replace all 1 relu ops with gelu") + 1
    p = Scripted([f"CHOICE: {n}"])
    before = snapshot(module)
    r = rewrite(module, "replace the relu with gelu", p, menu=activation_swaps)
    assert r.accepted and r.accepted_mode == "choice"
    assert "gelu(%0)" in print_ir(r.module)
    assert snapshot(module) == before
    assert f"{n}. replace all 1 relu ops with gelu" in p.requests[0].messages[0]["content"]


def test_rejected_huge_reply_is_cut_in_the_history(module):
    p = Scripted(["x" * 50_000, block(RELU, GELU)])
    r = rewrite(module, "replace the relu with gelu", p, attempts=2)
    assert r.accepted
    assert len(p.requests[1].messages[1]["content"]) < 21_000


def test_summary_table_reports_attempts_codes_tokens_cost(module):
    with FakeServer([reply(block(RELU, BAD)), reply(block(RELU, GELU))]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv))
    table = r.summary()
    assert "rejected" in table and "accepted" in table
    for code in r.attempts[0].codes:
        assert code in table
    assert "rewrites: 1/1 accepted in 2 attempts" in table
    assert "cost $" in table and "compiler" in table


def test_ten_megabyte_reply_over_http(module):
    before = snapshot(module)
    huge = block(RELU, GELU) + "\n" + "A" * 10_000_000
    with FakeServer([reply(huge)]) as srv:
        r = rewrite(module, "replace the relu with gelu", proposer(srv, timeout=20.0), attempts=1)
    assert not r.accepted and r.attempts[0].codes == ["GS501"]
    assert snapshot(module) == before


def test_unwritable_transcript_is_a_clear_error_before_any_request(module, tmp_path):
    from graphsynth.llm import ProposerConfigError

    p = Scripted([block(RELU, GELU)])
    with pytest.raises(ProposerConfigError, match="cannot write transcript"):
        rewrite(module, "g", p, transcript=str(tmp_path / "missing" / "t.jsonl"))
    assert p.requests == []
