"""Deadlines are wall-clock totals: a server that answers one byte at a time (status line, headers
or body), a ``retry-after`` far in the future, a proposer that ignores the deadline, or many slow
attempts cannot hold a proposal past its ``timeout`` nor a rewrite past its ``deadline``.  Running
out is GS509 with the real elapsed time, and the graph is unchanged.  The real SDK talks to a
scripted server on 127.0.0.1 that drips its answers."""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest

from graphsynth.diagnostics import PassError
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import AnthropicProposer, Proposal, ProposalRequest, ProposerError, Usage, rewrite
from graphsynth.llm.fakeserver import FakeServer, Step, reply
from graphsynth.llm.replay import replay_transcript
from graphsynth.pipeline import all_passes, parse_pipeline, run_pipeline

TEXT = """\
graph Net(x: f32[B, 16]) -> f32[B, 16] {
  param fc.weight: f32[16, 16]
  %0: f32[B, 16] = linear(x, fc.weight)
  %1: f32[B, 16] = relu(%0)
  return %1
}
"""
LINE = "%1: f32[B, 16] = relu(%0)"
GOOD = f"<<<<<<< SEARCH\n{LINE}\n=======\n{LINE.replace('relu', 'silu')}\n>>>>>>> REPLACE"
SLACK = 0.75  # seconds past a deadline that the end of a call may take (thread wake-up, teardown)
LONG = "x" * 400  # dripped at 0.1 s a byte: 40 s and more, unless the deadline cuts it


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setattr(AnthropicProposer, "retry_base_s", 0.01)


def _request(deadline: float | None = None) -> ProposalRequest:
    return ProposalRequest("SYSTEM", [{"role": "user", "content": "Goal: x"}], deadline=deadline)


@pytest.mark.parametrize("body_only", [False, True], ids=["status-line-on", "body-only"])
def test_a_dripping_server_cannot_hold_a_proposal_past_its_timeout(body_only: bool) -> None:
    with FakeServer([Step(text=LONG, drip=0.1, drip_body_only=body_only), reply("never asked")]) as srv:
        p = AnthropicProposer(base_url=srv.url, timeout=1.5, max_retries=3)
        t = time.monotonic()
        with pytest.raises(ProposerError) as ei:
            p.propose(_request())
        elapsed = time.monotonic() - t
    assert 1.5 <= elapsed < 1.5 + SLACK
    d = ei.value.diagnostics[0]
    assert d.code == "GS509" and "1.5 s timeout" in d.message
    reported = float(re.search(r"\(([0-9.]+) s elapsed", d.message).group(1))  # the real elapsed time
    assert 1.5 <= reported <= elapsed + 0.01
    assert len(srv.requests) == 1  # no retry could fit
    assert 0 < srv.dripped[0] < len(LONG)  # the server was cut off mid-answer


def test_the_request_deadline_is_the_nearer_of_timeout_and_the_rewrites_deadline() -> None:
    with FakeServer([Step(text="late", delay=5.0)]) as srv:
        p = AnthropicProposer(base_url=srv.url, timeout=30.0)
        t = time.monotonic()
        with pytest.raises(ProposerError) as ei:
            p.propose(_request(deadline=time.monotonic() + 0.8))
        assert time.monotonic() - t < 0.8 + SLACK
    assert ei.value.diagnostics[0].code == "GS509" and "left of the rewrite's deadline" in ei.value.diagnostics[0].message


def test_retry_after_beyond_the_deadline_is_not_slept() -> None:
    wait = Step(status=429, body={"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                headers={"retry-after": "100"})
    with FakeServer([wait, reply("ok")]) as srv:
        t = time.monotonic()
        with pytest.raises(ProposerError) as ei:
            AnthropicProposer(base_url=srv.url, timeout=3.0, max_retries=3).propose(_request())
        assert time.monotonic() - t < 1.0
    d = ei.value.diagnostics[0]
    assert d.code == "GS509" and "HTTP 429" in d.message and "after 100 s" in d.message


def test_a_short_retry_after_is_honoured() -> None:
    wait = Step(status=529, body={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
                headers={"retry-after-ms": "300"})
    with FakeServer([wait, reply("ok")]) as srv:
        t = time.monotonic()
        out = AnthropicProposer(base_url=srv.url, timeout=5.0).propose(_request())
        assert time.monotonic() - t >= 0.3
    assert out.text == "ok" and len(srv.requests) == 2


def test_a_rewrite_ends_at_its_deadline_with_the_graph_unchanged(tmp_path) -> None:
    module = parse_ir(TEXT)
    before = print_ir(module), str(module)
    with FakeServer([Step(text=LONG, drip=0.1)]) as srv:
        t = time.monotonic()
        r = rewrite(module, "use silu", AnthropicProposer(base_url=srv.url, timeout=60.0), deadline=1.0,
                    transcript=str(tmp_path / "t.jsonl"))
        elapsed = time.monotonic() - t
    assert elapsed < 1.0 + SLACK
    assert not r.accepted and r.module is module and (print_ir(module), str(module)) == before
    d = r.error
    assert d.code == "GS509" and "deadline of 1 s" in d.message and "waited for the model" in d.message
    assert float(d.got.split()[0]) >= 1.0 and "elapsed" in d.message
    records = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert records[1]["verdict"] == "error" and records[1]["diagnostics"][0]["code"] == "GS509"


def test_slow_rejected_attempts_stop_at_the_deadline_and_replay_faithfully(tmp_path) -> None:
    path = tmp_path / "slow.jsonl"
    wrong = f"<<<<<<< SEARCH\n{LINE}\n=======\n%1: f32[B, 8] = relu(%0)\n>>>>>>> REPLACE"  # GS301-style rejection
    with FakeServer([Step(text=wrong, delay=0.4) for _ in range(10)]) as srv:
        t = time.monotonic()
        r = rewrite(parse_ir(TEXT), "use silu", AnthropicProposer(base_url=srv.url, timeout=30.0), attempts=10,
                    deadline=1.0, transcript=str(path))
        assert time.monotonic() - t < 1.0 + SLACK
    verdicts = [a.verdict for a in r.attempts]
    assert verdicts[-1] == "error" and set(verdicts[:-1]) == {"rejected"} and 2 <= len(verdicts) <= 4
    assert r.error.code == "GS509"
    again = replay_transcript(path)  # the replay ends the same way, with no deadline of its own
    assert again.replay_ok, again.notes


class Sleepy:
    """A proposer that ignores ProposalRequest.deadline."""

    name = "sleepy"
    model = "sleepy"

    def propose(self, request):
        time.sleep(0.6)
        return Proposal(GOOD, Usage(1, 1, calls=1), 0.6, "sleepy")


def test_a_reply_after_the_deadline_is_discarded() -> None:
    r = rewrite(parse_ir(TEXT), "use silu", Sleepy(), deadline=0.3)
    assert not r.accepted and r.error.code == "GS509" and "discarded" in r.error.message
    assert [a.verdict for a in r.attempts] == ["error"]
    assert r.usage.calls == 1  # discarded, but counted: it was paid for


def test_the_pass_takes_a_deadline_and_int_literals_for_seconds() -> None:
    m = parse_ir(TEXT)
    with FakeServer([Step(text=LONG, drip=0.1)]) as srv:
        t = time.monotonic()
        with pytest.raises(PassError) as ei:
            run_pipeline(m, f'llm-rewrite{{goal="use silu" base-url="{srv.url}" timeout=60 deadline=1}}')
        assert time.monotonic() - t < 1.0 + SLACK
    assert ei.value.diagnostics[0].code == "GS509"
    (p,) = parse_pipeline("llm-rewrite{timeout=5 deadline=2}")
    assert (p.timeout, p.deadline) == (5.0, 2.0) and isinstance(p.timeout, float)
    with pytest.raises(PassError) as ei:
        run_pipeline(m, 'llm-rewrite{goal="x" proposer=replay replay="none.jsonl" deadline=-1}')
    assert "deadline" in ei.value.diagnostics[0].message


def test_every_float_option_of_every_pass_takes_an_int_or_an_exponent() -> None:
    seen = 0
    for name, factory in all_passes().items():
        cls = factory()
        for f in dataclasses.fields(cls):
            if f.type not in ("float", float):
                continue
            opt = f.name.replace("_", "-")
            for text, value in (("3", 3.0), ("-2", -2.0), ("1e3", 1000.0), ("2.5", 2.5)):
                try:
                    (p,) = parse_pipeline(f"{name}{{{opt}={text}}}")
                except PassError as e:  # the pass wants other options too: the type check passed
                    assert "expects" not in e.diagnostics[0].message, e.diagnostics[0].message
                    continue
                got = getattr(p, f.name)
                assert got == value and type(got) is float, (name, opt, text, got)
            seen += 1
    assert seen >= 3  # llm-rewrite's timeout and deadline, insert-block's eps at least
    with pytest.raises(PassError) as ei:  # ints stay strict: 2.0 is not an attempt count
        parse_pipeline("llm-rewrite{attempts=2.0}")
    assert "expects int" in ei.value.diagnostics[0].message
