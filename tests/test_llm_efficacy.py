"""bench/llm_efficacy.py: the live-efficacy harness, its replay of the shipped (scripted)
transcripts, its live mode against a stand-in server, and the first-line feedback ablation."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import shutil
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

from graphsynth.diagnostics import Location, error
from graphsynth.llm import FEEDBACK_STYLES, Attempt, RewriteResult, Usage
from graphsynth.llm.fakeserver import FakeServer, Step, reply
from graphsynth.llm.prompt import Goal, feedback_message
from graphsynth.llm.proposer import cost_usd, prices

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
eff = importlib.import_module("llm_efficacy")

SHIPPED = ROOT / "examples" / "llm" / "efficacy" / "transcripts"


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def expected_row(path: Path) -> dict:
    """What the table must say about one transcript, read from the JSONL alone."""
    recs = records(path)
    header = recs[0]
    atts = [r for r in recs if r["kind"] == "attempt"]
    accepted = [r["attempt"] for r in atts if r["verdict"] == "accepted"]
    calls = [r for r in atts if "reply" in r]
    tok = {k: sum(r["usage"][k] for r in calls) for k in
           ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")}
    cost = cost_usd(prices(header["model"]), tok["input_tokens"], tok["output_tokens"],
                    tok["cache_creation_input_tokens"], tok["cache_read_input_tokens"])
    return {
        "accepted_at": accepted[0] if accepted else None,
        "attempts": len(atts),
        "model_calls": len(calls),
        "saved": sum(1 for r in atts if r.get("model_call", True) is False),
        "tokens": tok,
        "cost": f"${cost:.4f}",
        "header": header,
    }


def table_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """(arm, goal) -> the cells of its row in the printed per-goal tables."""
    rows: dict[tuple[str, str], list[str]] = {}
    arm = None
    for line in text.splitlines():
        m = re.match(r"feedback: (\S+) - ", line)
        if m:
            arm = m.group(1)
            continue
        if not line.strip() or line.startswith(("by feedback style", "  ")):
            if line.startswith("by feedback style"):
                arm = None
            continue
        if arm is not None:
            cells = re.split(r"\s{2,}", line.strip())
            if cells[0] != "goal" and not cells[0].startswith("---"):
                rows[(arm, cells[0])] = cells
    return rows


@pytest.fixture(scope="module")
def replayed() -> tuple[int, str]:
    """The harness run once in replay mode over the shipped transcripts: (exit code, stdout)."""
    buf = StringIO()
    with redirect_stdout(buf):
        code = eff.main(["--mode", "replay"])
    return code, buf.getvalue()


def test_replayed_table_matches_the_transcripts(replayed):
    code, text = replayed
    assert code == 0, text
    suite = eff.load_suite()
    ks = eff.within_columns(suite.attempts)
    assert ks == [1, 2, 4]
    rows = table_rows(text)
    assert len(rows) == len(suite.goals) * len(FEEDBACK_STYLES)
    for arm in FEEDBACK_STYLES:
        for g in suite.goals:
            want = expected_row(SHIPPED / arm / f"{g.name}.jsonl")
            assert want["header"]["feedback"] == arm and want["header"]["goal"] == Goal.parse(g.flagged).text
            cells = rows[(arm, g.name)]
            # goal, graph, invariants, <=1, <=2, <=4, attempts, goal met, calls, saved, in, out, cache r/w, cost
            assert cells[3:6] == ["yes" if want["accepted_at"] is not None and want["accepted_at"] <= k else "no"
                                  for k in ks], (arm, g.name)
            assert cells[6] == str(want["attempts"])
            assert cells[8] == str(want["model_calls"])
            assert cells[9] == str(want["saved"])
            t = want["tokens"]
            assert cells[10:13] == [str(t["input_tokens"]), str(t["output_tokens"]),
                                    f"{t['cache_read_input_tokens']}/{t['cache_creation_input_tokens']}"]
            assert cells[13] == want["cost"]
    # A mechanical error in a shipped session is repaired by the driver, not by another model call.
    assert any(expected_row(SHIPPED / arm / f"{g.name}.jsonl")["saved"] for g in suite.goals for arm in FEEDBACK_STYLES)
    # The shipped sessions cover every column: accepted at 1, 2 and 3, never, and accepted with
    # the goal not met.
    full = {g.name: rows[("full", g.name)] for g in suite.goals}
    assert {c[6] for c in full.values()} == {"1", "2", "3", "4"}
    assert full["reduce-params"][3:6] == ["no", "no", "no"]
    assert full["convnet-gelu"][5] == "yes" and full["convnet-gelu"][7] == "no"  # one ReLU left
    assert full["mlp-gelu"][7] == "yes"
    # The replies are the same in both arms, so the acceptance is; the ablation's prompts are
    # shorter, so its rejected sessions cost fewer input tokens.
    for g in suite.goals:
        f, a = rows[("full", g.name)], rows[("first-line", g.name)]
        assert f[3:10] == a[3:10]
        if f[6] != "1":
            assert int(a[10]) < int(f[10]), g.name
    assert "scripted stand-in" in text and "not model output" in text


def test_summary_rows_add_up(replayed):
    _, text = replayed
    lines = text.splitlines()
    i = lines.index("by feedback style")
    summary = {re.split(r"\s{2,}", x.strip())[0]: re.split(r"\s{2,}", x.strip()) for x in lines[i + 3:] if x.strip()}
    rows = table_rows(text)
    for arm in FEEDBACK_STYLES:
        mine = [c for (a, _), c in rows.items() if a == arm]
        n = len(mine)
        cells = summary[arm]
        assert cells[1:4] == [f"{sum(c[k] == 'yes' for c in mine)}/{n}" for k in (3, 4, 5)]
        assert cells[4] == f"{sum(c[7] == 'yes' for c in mine)}/{n}"
        assert cells[5] == str(sum(int(c[6]) for c in mine))
        assert cells[6] == str(sum(int(c[8]) for c in mine))
        assert cells[7] == str(sum(int(c[9]) for c in mine))
        assert cells[8] == str(sum(int(c[10]) for c in mine))
        assert cells[9] == str(sum(int(c[11]) for c in mine))
        # each row's cost is rounded to 4 decimals, the total is rounded once
        assert float(cells[10][1:]) == pytest.approx(sum(float(c[13][1:]) for c in mine), abs=1e-4 * (n + 1))


def test_replay_is_deterministic(replayed):
    buf = StringIO()
    with redirect_stdout(buf):
        assert eff.main(["--mode", "replay"]) == 0
    assert buf.getvalue() == replayed[1]


def test_goal_met_is_computed_from_the_accepted_text():
    suite = eff.load_suite()
    runs = {(r.arm, r.goal.name): r for r in eff.replay_suite(suite, SHIPPED, ["full"])}
    g = next(g for g in suite.goals if g.name == "convnet-gelu")
    assert runs[("full", "convnet-gelu")].accepted_at == 2 and not runs[("full", "convnet-gelu")].goal_met
    assert g.met("... gelu(%1) ...") and not g.met("gelu(%1) relu(%5)") and not g.met(None)


def test_the_ablation_sends_first_lines_only():
    diags = [
        error("GS305", "gelu: result %1 must be f32[B, 256], but is declared f32[B, 128]", loc=Location("a.gs", 9, 3),
              relation="256 == 128", fix="declare it as f32[B, 256]", notes=["a note"]),
        error("GS201", "undefined value %x", loc=Location("a.gs", 10, 7)),
    ]
    diags[0].source_line = "  %1: f32[B, 128] = gelu(%0)"
    text = "\n".join(f"line {i}" for i in range(1, 13))
    full = feedback_message(1, diags, text)
    raw = feedback_message(1, diags, text, style="first-line")
    for d in diags:
        first = dataclasses.replace(d, origin=None).render().split("\n")[0]
        assert first in full and first in raw
    assert "help: declare it as" in full and "violated: 256 == 128" in full and "^" in full and "Your edit produced" in full
    for gone in ("help:", "violated", "^", "a note", "Your edit produced", "gelu(%0)"):
        assert gone not in raw, gone
    with pytest.raises(ValueError):
        feedback_message(1, diags, text, style="stderr")


def test_shipped_ablation_transcripts_carry_first_lines_only():
    for path in sorted((SHIPPED / "first-line").glob("*.jsonl")):
        for r in records(path):
            if r["kind"] != "attempt" or r["verdict"] != "rejected":
                continue
            sent = r["feedback"]
            for d in r["diagnostics"]:
                loc = f"{d['loc']['file']}:{d['loc']['line']}:{d['loc']['column']}: " if d["loc"] else ""
                assert f"{loc}{d['severity']}[{d['code']}]: {d['message']}" in sent
            assert "\n  help:" not in sent and "\n  note:" not in sent and "Your edit produced" not in sent
    fulls = [r["feedback"] for p in (SHIPPED / "full").glob("*.jsonl") for r in records(p)
             if r["kind"] == "attempt" and r["verdict"] == "rejected"]
    assert any("help:" in f for f in fulls) and any("Your edit produced" in f for f in fulls)


def test_saved_model_calls_come_from_the_attempt_records():
    """Attempts the driver makes without a model call (auto-repair) are counted from the records,
    not assumed."""
    g = eff.load_suite().goals[0]
    d = error("GS305", "x")
    atts = [Attempt(1, "rejected", [d], reply="r1"), Attempt(2, "rejected", [d], model_call=False),
            Attempt(3, "accepted", [], reply="r2")]
    usage = Usage(100, 10, 0, 0, 2, 0.0)
    result = RewriteResult(None, True, atts, usage, Goal.parse(g.goal), output_text="gelu(")
    run = eff.run_of(g, "full", result, "claude-haiku-4-5", None)
    assert (run.accepted_at, run.attempts, run.model_calls, run.saved) == (3, 3, 2, 1)
    assert run.within(4) and not run.within(2)
    assert eff.priced(run) == pytest.approx((100 * 1.0 + 10 * 5.0) / 1e6)
    assert eff.priced(run, [("claude-haiku", 2.0, 10.0)]) == pytest.approx((100 * 2.0 + 10 * 10.0) / 1e6)
    assert eff.priced(dataclasses.replace(run, model="mystery-model")) is None


def _run(argv, capsys) -> tuple[int, str, str]:
    code = eff.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_live_mode_records_transcripts_that_replay(tmp_path, monkeypatch, capsys):
    good = "<<<<<<< SEARCH\n%1: f32[B, 256] = relu(%0)\n=======\n%1: f32[B, 256] = gelu(%0)\n>>>>>>> REPLACE"
    with FakeServer([reply(good), reply(good)]) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.url)
        code, out, _ = _run(["--goals", "mlp-gelu", "--out", str(tmp_path), "--model", "claude-haiku-4-5"], capsys)
    assert code == 0 and len(srv.requests) == 2
    assert "source: live model calls" in out and "claude-haiku-4-5" in out
    for arm in FEEDBACK_STYLES:
        t = records(tmp_path / arm / "mlp-gelu.jsonl")
        assert t[0]["feedback"] == arm and t[-1]["kind"] == "result" and t[-1]["accepted"]
    live_rows = table_rows(out)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, again, _ = _run(["--goals", "mlp-gelu", "--transcripts", str(tmp_path)], capsys)  # auto: replay
    assert code == 0 and "source: replay" in again
    assert table_rows(again) == live_rows


def test_live_mode_deadlines(tmp_path, monkeypatch, capsys):
    """Each rewrite has a total deadline; the suite has a budget, after which goals are not run."""
    with FakeServer([Step(text="too late", delay=5.0)]) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.url)
        code, out, _ = _run(["--mode", "live", "--goals", "mlp-gelu", "--out", str(tmp_path), "--deadline", "0.5",
                             "--budget", "1.2"], capsys)
    assert code == 0
    assert "mlp-gelu: GS509" in out and "not run: the suite's budget of 1.2 s is spent" in out


def test_live_mode_needs_a_key(monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, _, err = _run(["--mode", "live"], capsys)
    assert code == 2 and "ANTHROPIC_API_KEY" in err


def test_scripted_mode_reproduces_the_shipped_transcripts(tmp_path, capsys):
    code, out, _ = _run(["--mode", "scripted", "--goals", "make-residual", "--out", str(tmp_path)], capsys)
    assert code == 0 and "not model output" in out
    for arm in FEEDBACK_STYLES:
        for name in ("make-residual",):
            new, old = records(tmp_path / arm / f"{name}.jsonl"), records(SHIPPED / arm / f"{name}.jsonl")
            keys = ("kind", "attempt", "verdict", "messages_hash", "reply", "feedback", "usage")
            assert [{k: r.get(k) for k in keys} for r in new[1:-1]] == [{k: r.get(k) for k in keys} for r in old[1:-1]]


def test_stale_or_missing_transcripts_are_reported(tmp_path, capsys):
    shutil.copy(ROOT / "examples" / "convnet.gs", tmp_path / "g.gs")
    (tmp_path / "suite.toml").write_text(
        'attempts = 4\n[[goal]]\nname = "mlp-gelu"\ngraph = "g.gs"\ngoal = "replace the ReLU activation with GELU"\n'
        '[[goal]]\nname = "nothing-recorded"\ngraph = "g.gs"\ngoal = "x"\n'
    )
    suite = ["--mode", "replay", "--suite", str(tmp_path / "suite.toml"), "--arms", "full"]
    code, out, _ = _run([*suite, "--goals", "mlp-gelu"], capsys)
    assert code == 1 and "mlp-gelu: " in out and "not the recorded input" in out
    code, out, _ = _run([*suite, "--goals", "nothing-recorded"], capsys)
    assert code == 1 and "nothing-recorded: no transcript" in out
    assert eff.main(["--mode", "replay", "--goals", "mlp-gelu", "--arms", "full"]) == 0


@pytest.mark.parametrize("body, says", [
    ('attempts = 4\nwhat = 1\n[[goal]]\nname = "a"\ngraph = "g.gs"\ngoal = "x"\n', "unknown key"),
    ('[[goal]]\nname = "a"\ngraph = "missing.gs"\ngoal = "x"\n', "is not a file"),
    ('[[goal]]\nname = "a"\ngraph = "g.gs"\ngoal = "x"\ninvariants = ["speed"]\n', "unknown invariant"),
    ('[[goal]]\nname = "a"\ngraph = "g.gs"\ngoal = "x"\n[[goal]]\nname = "a"\ngraph = "g.gs"\ngoal = "y"\n', "twice"),
    ('[[goal]]\nname = "a b"\ngraph = "g.gs"\ngoal = "x"\n', "name must be"),
    ('[[goal]]\nname = "a"\ngraph = "g.gs"\ngoal = "[preserve-semantics] x"\n', "invariants"),
    ('attempts = 0\n[[goal]]\nname = "a"\ngraph = "g.gs"\ngoal = "x"\n', "attempts"),
    ("attempts = \n", "suite.toml"),
    ("", "no [[goal]]"),
])
def test_bad_suites_are_usage_errors(tmp_path, capsys, body, says):
    shutil.copy(ROOT / "examples" / "mlp.gs", tmp_path / "g.gs")
    (tmp_path / "suite.toml").write_text(body)
    code, _, err = _run(["--mode", "replay", "--suite", str(tmp_path / "suite.toml")], capsys)
    assert code == 2 and says in err, err


@pytest.mark.parametrize("argv", [["--price", "claude"], ["--price", "x=1"], ["--arms", "stderr"],
                                  ["--deadline", "0"], ["--mode", "guess"]])
def test_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        eff.main(argv)
    assert e.value.code == 2 and "usage:" in capsys.readouterr().err


def test_price_table_is_shown_and_overridable(capsys):
    code, out, _ = _run(["--show-prices", "--price", "my-model=2,8"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["my-model", "2.00", "8.00"] and any(x.startswith("claude-sonnet-4") for x in lines)


def test_the_feedback_style_is_checked_and_recorded(tmp_path):
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.llm import ProposerError, ReplayProposer, replay_transcript, rewrite

    module = parse_ir((ROOT / "examples" / "mlp.gs").read_text())
    with pytest.raises(ValueError):
        rewrite(module, "x", ReplayProposer(SHIPPED / "full" / "mlp-gelu.jsonl"), feedback="stderr")
    # A transcript whose header names an unknown style is refused before anything is replayed.
    lines = (SHIPPED / "first-line" / "make-residual.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["feedback"] == "first-line"
    header["feedback"] = "stderr"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(ProposerError, match="unknown feedback style"):
        replay_transcript(bad)
    # Replayed with the wrong style, the prompts differ from the recorded ones (by hash).
    header["feedback"] = "full"
    bad.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    r = replay_transcript(bad)
    assert r.replay_ok is False and r.error is not None and "different question" in r.error.message
