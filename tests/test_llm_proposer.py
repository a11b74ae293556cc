"""AnthropicProposer against a scripted Messages API server (the real SDK, real HTTP), and
ReplayProposer against recorded transcripts."""

from __future__ import annotations

import json

import pytest

from graphsynth.llm.fakeserver import FakeServer, Step, rate_limited, reply, server_error
from graphsynth.llm.proposer import (
    DEFAULT_MODEL,
    AnthropicProposer,
    ProposalRequest,
    ProposerConfigError,
    ProposerError,
    ReplayProposer,
    Usage,
    make_proposer,
)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("GRAPHSYNTH_MODEL", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setattr(AnthropicProposer, "retry_base_s", 0.01)


def _request(text: str = "Goal: x") -> ProposalRequest:
    return ProposalRequest("SYSTEM PART", [{"role": "user", "content": text}])


def _proposer(srv: FakeServer, **kw) -> AnthropicProposer:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("max_retries", 2)
    return AnthropicProposer(base_url=srv.url, **kw)


def test_missing_key_is_one_clear_error_before_any_request(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with FakeServer([reply("never")]) as srv:
        with pytest.raises(ProposerConfigError) as ei:
            AnthropicProposer(base_url=srv.url)
        assert srv.requests == []
    d = ei.value.diagnostics[0]
    assert d.code == "GS507"
    assert "ANTHROPIC_API_KEY" in d.message and "export ANTHROPIC_API_KEY" in (d.fix or "")
    with pytest.raises(ProposerConfigError):
        make_proposer("anthropic")


def test_model_from_option_env_or_default(monkeypatch):
    assert AnthropicProposer().model == DEFAULT_MODEL
    monkeypatch.setenv("GRAPHSYNTH_MODEL", "claude-haiku-4-5")
    assert AnthropicProposer().model == "claude-haiku-4-5"
    assert AnthropicProposer(model="claude-opus-4-6").model == "claude-opus-4-6"


def test_valid_reply_usage_caching_and_headers():
    usage = {
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 0,
    }
    with FakeServer([reply("the answer", usage=usage)]) as srv:
        p = _proposer(srv, model="claude-sonnet-4-6")
        out = p.propose(_request("Goal: make it faster"))
    assert out.text == "the answer"
    assert out.stop_reason == "end_turn"
    assert out.latency_s > 0
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.cache_creation_input_tokens) == (1000, 200, 3000)
    # Sonnet: $3 in, $15 out, cache write 1.25x input.
    assert out.usage.cost_usd == pytest.approx((1000 * 3 + 200 * 15 + 3000 * 3.75) / 1e6)
    body = srv.requests[0]
    assert body["model"] == "claude-sonnet-4-6"
    assert body["system"][0]["text"] == "SYSTEM PART"
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][0]["content"][0]["text"] == "Goal: make it faster"
    assert srv.headers[0]["authorization"] == "Bearer test-key"
    assert "anthropic-version" in srv.headers[0]


def test_429_then_success_is_retried_by_the_sdk():
    with FakeServer([rate_limited(), reply("ok")]) as srv:
        out = _proposer(srv).propose(_request())
    assert out.text == "ok"
    assert len(srv.requests) == 2
    assert [h.get("x-stainless-retry-count") for h in srv.headers] == ["0", "1"]


def test_persistent_5xx_gives_up_after_max_retries():
    with FakeServer([server_error(500)] * 5) as srv, pytest.raises(ProposerError) as ei:
        _proposer(srv, max_retries=2).propose(_request())
    assert len(srv.requests) == 3
    assert "HTTP 500" in ei.value.diagnostics[0].message


def test_400_is_not_retried():
    bad = Step(
        status=400, body={"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}}
    )
    with FakeServer([bad, reply("unused")]) as srv, pytest.raises(ProposerError) as ei:
        _proposer(srv).propose(_request())
    assert len(srv.requests) == 1
    assert "prompt is too long" in ei.value.diagnostics[0].message


def test_timeout_is_a_total_deadline_for_one_proposal():
    late = [Step(text="late", delay=1.0), Step(text="late", delay=1.0)]
    with FakeServer(late) as srv, pytest.raises(ProposerError) as ei:
        _proposer(srv, timeout=0.2, max_retries=1).propose(_request())
    assert len(srv.requests) == 1  # the first try used the whole deadline: no retry fits
    d = ei.value.diagnostics[0]
    assert d.code == "GS509" and "no complete reply within the 0.2 s timeout" in d.message


def test_a_failed_try_is_retried_within_the_deadline():
    with FakeServer([Step(close=True), reply("second")]) as srv:
        out = _proposer(srv, timeout=5.0, max_retries=2).propose(_request())
    assert out.text == "second" and len(srv.requests) == 2


def test_truncated_json_body_is_retried():
    with FakeServer([Step(raw=b'{"id": "msg_1", "type": "mess'), reply("recovered")]) as srv:
        out = _proposer(srv, max_retries=1).propose(_request())
    assert out.text == "recovered"
    assert len(srv.requests) == 2


def test_malformed_bodies_end_in_a_clear_error():
    steps = [Step(raw=b'{"id": "msg_1", "type": "mess'), Step(raw=b'{"foo": 1}'), Step(raw=b"[1, 2]")]
    with FakeServer(steps) as srv, pytest.raises(ProposerError) as ei:
        _proposer(srv, max_retries=2).propose(_request())
    assert len(srv.requests) == 3
    assert "malformed reply after 3 tries" in ei.value.diagnostics[0].message


def test_dropped_connection_is_a_proposer_error():
    with FakeServer([Step(close=True), Step(close=True)]) as srv, pytest.raises(ProposerError) as ei:
        _proposer(srv, max_retries=1).propose(_request())
    assert "cannot reach" in ei.value.diagnostics[0].message
    assert len(srv.requests) == 2


def test_usage_sums_and_unknown_models_have_no_cost():
    a = Usage.priced("claude-haiku-4-5", 1_000_000, 0)
    b = Usage.priced("claude-sonnet-4-6", 0, 1_000_000, cache_read=1_000_000)
    assert a.cost_usd == pytest.approx(1.0)
    assert b.cost_usd == pytest.approx(15.0 + 0.3)
    total = a + b
    assert total.calls == 2 and total.output_tokens == 1_000_000
    assert Usage.priced("some-other-model", 10, 10).cost_usd is None
    assert (a + Usage.priced("some-other-model", 1, 1)).cost_usd is None


# -- replay ----------------------------------------------------------------------------------


def _write_transcript(path, requests_and_replies):
    lines = [{"kind": "header", "version": 1, "goal": "g", "model": "claude-fake", "input_ir": "", "input_hash": ""}]
    for i, (req, text) in enumerate(requests_and_replies, 1):
        lines.append(
            {
                "kind": "attempt",
                "attempt": i,
                "verdict": "rejected",
                "reply": text,
                "messages_hash": req.messages_hash(),
                "system_hash": req.system_hash(),
                "usage": {"input_tokens": 7, "output_tokens": 3},
            }
        )
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def test_replay_answers_in_order_and_checks_the_question(tmp_path):
    r1, r2 = _request("first"), _request("second")
    path = tmp_path / "t.jsonl"
    _write_transcript(path, [(r1, "reply one"), (r2, "reply two")])
    p = ReplayProposer(path)
    a = p.propose(r1)
    assert a.text == "reply one" and a.usage.input_tokens == 7
    assert p.propose(r2).text == "reply two"
    with pytest.raises(ProposerError, match="attempt 3 was not recorded"):
        p.propose(r2)

    p = ReplayProposer(path)
    with pytest.raises(ProposerError) as ei:
        p.propose(_request("a different question"))
    msg = ei.value.diagnostics[0].message
    assert "attempt 1 asks a different question" in msg and r1.messages_hash() in msg


def test_replay_system_prompt_change_is_a_note_unless_strict(tmp_path):
    r1 = _request("first")
    path = tmp_path / "t.jsonl"
    _write_transcript(path, [(r1, "reply one")])
    changed = ProposalRequest("NEW SYSTEM PART", r1.messages)
    p = ReplayProposer(path)
    assert p.propose(changed).text == "reply one"
    assert p.notes and "system prompt differs" in p.notes[0]
    with pytest.raises(ProposerError, match="system prompt differs"):
        ReplayProposer(path, strict=True).propose(changed)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("", "no header line"),
        ("{not json\n", "not a JSON object"),
        ('{"kind": "header", "version": 99}\n', "format version 99"),
        ("[1, 2]\n", "'kind' field"),
    ],
)
def test_replay_rejects_corrupt_transcripts(tmp_path, content, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ProposerError, match=fragment):
        ReplayProposer(path)
    with pytest.raises(ProposerError, match="cannot read transcript"):
        ReplayProposer(tmp_path / "missing.jsonl")


def test_importing_the_driver_stays_light():
    """`import graphsynth.llm` must not pull in the SDK or torch (seconds of start-up)."""
    import subprocess
    import sys

    code = "import sys, graphsynth.llm; print(sorted(m for m in ('torch', 'anthropic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
