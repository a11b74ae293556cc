"""graphsynth.dspy: the verify-feedback loop as a DSPy module, and a metric GEPA can learn from.

Every test runs offline with DSPy's own DummyLM: the model is scripted, everything else (DSPy's
adapters and optimizer, the edit applier, the parser, the verifier) is real.
"""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

dspy = pytest.importorskip("dspy")

from dspy.utils.dummies import DummyLM  # noqa: E402

from graphsynth.dspy import NO_DIAGNOSTICS, GraphRewrite, RewriteIR, verifier_metric  # noqa: E402
from graphsynth.llm.fakeserver import FakeServer, Step, reply  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MLP = (ROOT / "examples" / "mlp.gs").read_text()
GOAL = "replace the ReLU with GELU"


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


GOOD = block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = gelu(%0)")
# The new activation declared with the wrong width: GS305 at %1 (and at the dropout after it).
WRONG_WIDTH = block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 128] = gelu(%0)")


def last_user_message(lm: DummyLM, call: int) -> str:
    return lm.history[call]["messages"][-1]["content"]


def test_accepted_edit():
    lm = DummyLM([{"edit": GOOD}])
    with dspy.context(lm=lm):
        pred = GraphRewrite(attempts=4)(ir=MLP, goal=GOAL)
    assert isinstance(pred, dspy.Prediction)
    assert pred.accepted is True
    assert "gelu(%0)" in pred.ir and "relu(" not in pred.ir
    assert [d for d in pred.diagnostics if d.severity == "error"] == []
    assert [a.verdict for a in pred.attempts] == ["accepted"]
    assert len(lm.history) == 1
    prompt = last_user_message(lm, 0)
    # The model saw the canonical text it must copy SEARCH lines from, the goal with its
    # constraints, and no diagnostics yet.
    assert "%1: f32[B, 256] = relu(%0)" in prompt and GOAL in prompt and "keep the graph interface" in prompt
    assert NO_DIAGNOSTICS in prompt


def test_rejected_then_fixed_feeds_the_diagnostics_back():
    lm = DummyLM([{"edit": WRONG_WIDTH}, {"edit": GOOD}])
    with dspy.context(lm=lm):
        pred = GraphRewrite(attempts=4)(ir=MLP, goal=GOAL)
    assert pred.accepted and [a.verdict for a in pred.attempts] == ["rejected", "accepted"]
    assert pred.attempts[0].codes and set(pred.attempts[0].codes) == {"GS305"}
    assert len(lm.history) == 2
    first, second = last_user_message(lm, 0), last_user_message(lm, 1)
    assert "GS305" not in first
    # The rendered diagnostics of attempt 1 (message, source line, caret, relation, fix) and the
    # rejected edit itself reached the second LM call.
    rendered = pred.attempts[0].diagnostics[0]
    assert "error[GS305]: gelu: result %1 must be f32[B, 256]" in second
    assert "  %1: f32[B, 128] = gelu(%0)\n  ^" in second
    assert "note: violated: 256 == 128" in second and "help: declare it as f32[B, 256]" in second
    assert rendered.message in second
    assert WRONG_WIDTH in second
    assert NO_DIAGNOSTICS not in second


def test_garbage_is_rejected_and_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    replies = [
        {"edit": "I would simply replace the activation."},  # no block: GS501
        {"answer": "__import__('os').system('touch pwned')"},  # not the field format: the raw text is judged
        {"edit": block("%9: f32[B, 1] = relu(%8)", "$(touch pwned)")},  # an anchor that is not there: GS502
    ]
    lm = DummyLM(replies)
    with dspy.context(lm=lm):
        pred = GraphRewrite(attempts=3)(ir=MLP, goal=GOAL)
    assert pred.accepted is False
    assert pred.ir == MLP  # what the caller had, unchanged
    assert [a.verdict for a in pred.attempts] == ["rejected"] * 3
    assert pred.attempts[0].codes == ["GS501"] and pred.attempts[1].codes == ["GS501"]
    assert pred.attempts[2].codes == ["GS502"]
    assert [d.code for d in pred.diagnostics] == ["GS502"] and "GS502" in pred.feedback
    assert len(lm.history) == 3  # one call per attempt: no JSON-adapter retry of a malformed reply
    assert not (tmp_path / "pwned").exists()


def test_a_huge_rejected_reply_is_cut_before_it_goes_back():
    lm = DummyLM([{"edit": "x" * 200_000}, {"edit": GOOD}])
    with dspy.context(lm=lm):
        pred = GraphRewrite()(ir=MLP, goal=GOAL)
    assert pred.accepted and pred.attempts[0].codes == ["GS501"]
    second = last_user_message(lm, 1)
    assert "[... reply cut: 200000 characters in all]" in second and len(second) < 60_000


def test_input_that_does_not_parse_asks_no_model():
    lm = DummyLM([{"edit": GOOD}])
    with dspy.context(lm=lm):
        pred = GraphRewrite()(ir="graph G(x: f32[B]) -> f32[B] {\n  %0: f32[B] = relu(\n}\n", goal=GOAL)
    assert pred.accepted is False and pred.attempts == []
    assert pred.diagnostics and pred.diagnostics[0].code.startswith("GS1") and pred.diagnostics[0].loc is not None
    assert lm.history == []


def test_lm_failure_is_a_diagnostic():
    def unreachable():
        raise ConnectionError("no route to host")
        yield  # a generator: DummyLM draws its answers from it

    lm = DummyLM([])
    lm.answers = unreachable()
    with dspy.context(lm=lm):
        pred = GraphRewrite()(ir=MLP, goal=GOAL)
    assert pred.accepted is False and pred.ir == MLP
    assert [d.code for d in pred.diagnostics] == ["GS507"] and "no route to host" in pred.diagnostics[0].message


def test_bad_arguments():
    for attempts in (0, -1, True, 2.0, "4"):
        with pytest.raises(ValueError):
            GraphRewrite(attempts=attempts)
    with pytest.raises(ValueError):
        GraphRewrite(feedback="stderr")
    for deadline in (0, -1.0, math.nan, math.inf, 1e12, True, "5"):
        with pytest.raises(ValueError):
            GraphRewrite(deadline=deadline)


def test_non_text_arguments_are_diagnostics():
    lm = DummyLM([{"edit": GOOD}])
    with dspy.context(lm=lm):
        pred = GraphRewrite()(ir=None, goal=GOAL)
    assert pred.accepted is False and [d.code for d in pred.diagnostics] == ["GS104"] and lm.history == []


# -- deadlines ------------------------------------------------------------------------------


def test_the_deadline_cuts_an_lm_call_that_hangs():
    release = threading.Event()

    def hanging():
        release.wait(30)  # an LM that does not answer for 30 s
        yield {"edit": GOOD}

    lm = DummyLM([])
    lm.answers = hanging()
    t0 = time.monotonic()
    try:
        with dspy.context(lm=lm):
            pred = GraphRewrite(attempts=4, deadline=0.5)(ir=MLP, goal=GOAL)
        elapsed = time.monotonic() - t0
    finally:
        release.set()  # let the abandoned call finish
    assert elapsed < 5
    assert pred.accepted is False and pred.ir == MLP
    assert [d.code for d in pred.diagnostics] == ["GS509"]
    d = pred.diagnostics[0]
    assert "deadline of 0.5 s" in d.message and "abandoned" in d.message and d.expected == "<= 0.5 s"
    assert [a.verdict for a in pred.attempts] == ["error"]


def test_no_attempt_starts_after_the_deadline():
    def slow_and_wrong():
        while True:
            time.sleep(0.3)
            yield {"edit": WRONG_WIDTH}

    lm = DummyLM([])
    lm.answers = slow_and_wrong()
    with dspy.context(lm=lm):
        pred = GraphRewrite(attempts=50, deadline=1.0)(ir=MLP, goal=GOAL)
    assert pred.accepted is False and pred.ir == MLP
    assert pred.diagnostics[-1].code == "GS509"
    rejected = [a for a in pred.attempts if a.verdict == "rejected"]
    assert 1 <= len(rejected) <= 4 and all(set(a.codes) == {"GS305"} for a in rejected)


def test_with_a_deadline_the_call_keeps_the_dspy_context_and_trace():
    lm = DummyLM([{"edit": WRONG_WIDTH}, {"edit": GOOD}])
    with dspy.context(lm=lm, trace=[]):
        pred = GraphRewrite(deadline=30)(ir=MLP, goal=GOAL)
        trace = list(dspy.settings.trace)
    assert pred.accepted and [a.verdict for a in pred.attempts] == ["rejected", "accepted"]
    # Both predictor calls were traced, as optimizers (GEPA, bootstrapping) read them.
    assert [t[2].edit for t in trace] == [WRONG_WIDTH, GOOD]


# -- a real DSPy LM, against the local stand-in of the Messages API ----------------------------


def fields(edit: str) -> str:
    """A reply in the chat adapter's field format, as a model following the prompt writes it."""
    return f"[[ ## edit ## ]]\n{edit}\n\n[[ ## completed ## ]]"


@pytest.mark.parametrize("engine", ["auto", "litellm"])
def test_claude_through_a_dspy_lm(engine):
    """`dspy.LM("anthropic/<model>")` over HTTP (DSPy's native engine and LiteLLM), offline: the
    server is graphsynth's local stand-in of the Messages API."""
    with FakeServer([reply(fields(WRONG_WIDTH)), reply(fields(GOOD))]) as srv:
        lm = dspy.LM("anthropic/claude-sonnet-4-6", api_base=srv.url + "/v1", api_key="test-key", cache=False,
                     num_retries=0, timeout=20, engine=engine)
        with dspy.context(lm=lm):
            pred = GraphRewrite(attempts=4, deadline=120)(ir=MLP, goal=GOAL)
        sent = srv.request_texts()
    assert pred.accepted and [a.verdict for a in pred.attempts] == ["rejected", "accepted"]
    assert "gelu(%0)" in pred.ir
    assert [r["model"] for r in srv.requests] == ["claude-sonnet-4-6"] * 2
    assert "error[GS305]" not in sent[0]
    assert "error[GS305]: gelu: result %1 must be f32[B, 256]" in sent[1] and "help: declare it as f32[B, 256]" in sent[1]


def test_the_deadline_cuts_a_dripping_server():
    """A server that answers one byte at a time keeps every read timeout happy; the rewrite's
    deadline still ends it."""
    with FakeServer([Step(text=fields(GOOD), drip=0.2, drip_body_only=True)]) as srv:
        lm = dspy.LM("anthropic/claude-sonnet-4-6", api_base=srv.url + "/v1", api_key="test-key", cache=False,
                     num_retries=0, timeout=5)
        t0 = time.monotonic()
        with dspy.context(lm=lm):
            pred = GraphRewrite(deadline=1.5)(ir=MLP, goal=GOAL)
        elapsed = time.monotonic() - t0
    assert elapsed < 6
    assert pred.accepted is False and pred.ir == MLP and [d.code for d in pred.diagnostics] == ["GS509"]


def test_signature_fields():
    assert list(RewriteIR.input_fields) == ["reference", "goal", "ir", "diagnostics", "previous_edit"]
    assert list(RewriteIR.output_fields) == ["edit"]
    assert [name for name, _ in GraphRewrite().named_predictors()] == ["propose"]


# -- the metric -----------------------------------------------------------------------------


def test_metric_has_the_signature_gepa_checks():
    # GEPA binds five positional arguments (gold, pred, trace, pred_name, pred_trace).
    inspect.signature(verifier_metric).bind(None, None, None, None, None)
    dspy.GEPA(metric=verifier_metric, max_metric_calls=4, reflection_lm=DummyLM([]))


def test_metric_scores_and_explains():
    lm = DummyLM([{"edit": WRONG_WIDTH}, {"edit": GOOD}])
    with dspy.context(lm=lm):
        pred = GraphRewrite(attempts=4)(ir=MLP, goal=GOAL)
    ex = dspy.Example(ir=MLP, goal=GOAL).with_inputs("ir", "goal")
    out = verifier_metric(ex, pred)
    assert isinstance(out, dspy.Prediction) and out.score == 0.5 and float(out) == 0.5
    # The feedback is the rendered diagnostics of the rejected attempt.
    assert pred.attempts[0].diagnostics[0].message in out.feedback
    assert "help: declare it as f32[B, 256]" in out.feedback and "attempt 2" in out.feedback

    # Asked about one predictor call (as GEPA's reflection does), the feedback is that call's own.
    predictor = GraphRewrite().propose
    first = [(predictor, {"ir": MLP, "goal": GOAL}, dspy.Prediction(edit=WRONG_WIDTH))]
    second = [(predictor, {"ir": MLP, "goal": GOAL}, dspy.Prediction(edit=GOOD))]
    a = verifier_metric(ex, pred, None, "propose", first)
    b = verifier_metric(ex, pred, None, "propose", second)
    assert a.score == b.score == 0.5  # the module's score, whichever call is asked about
    assert "rejected" in a.feedback and "error[GS305]" in a.feedback
    assert "accepted" in b.feedback and "GS305" not in b.feedback


def test_metric_in_dspy_evaluate():
    devset = [dspy.Example(ir=MLP, goal=GOAL, must_contain=["gelu("]).with_inputs("ir", "goal")] * 2
    lm = DummyLM([{"edit": GOOD}, {"edit": WRONG_WIDTH}, {"edit": GOOD}])
    with dspy.context(lm=lm):
        result = dspy.Evaluate(devset=devset, metric=verifier_metric, num_threads=1)(GraphRewrite(attempts=4))
    # First example on attempt 1 (1.0), the second on attempt 2 (0.5): 75%.
    assert result.score == 75.0
    assert sorted(float(score) for *_, score in result.results) == [0.5, 1.0]


def test_metric_on_failure_and_on_unmet_goal():
    lm = DummyLM([{"edit": "no idea"}, {"edit": "still no idea"}])
    with dspy.context(lm=lm):
        failed = GraphRewrite(attempts=2)(ir=MLP, goal=GOAL)
    out = verifier_metric(None, failed)
    assert out.score == 0.0 and out.feedback.count("GS501") == 2

    # Accepted by the verifier, but the example's text checks say the goal was not reached.
    silu = block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = silu(%0)")
    with dspy.context(lm=DummyLM([{"edit": silu}])):
        wrong = GraphRewrite()(ir=MLP, goal=GOAL)
    assert wrong.accepted
    ex = dspy.Example(ir=MLP, goal=GOAL, must_contain=["gelu("], must_not_contain=["relu("]).with_inputs("ir", "goal")
    out = verifier_metric(ex, wrong)
    assert out.score == 0.0 and "lacks 'gelu('" in out.feedback
    assert verifier_metric(None, None).score == 0.0


def test_gepa_compiles_with_the_verifier_feedback():
    """A tiny GEPA run, offline: the student is scripted (wrong width first, the fix once the
    diagnostics say GS305), and the reflection LM's prompt must carry the verifier's feedback."""
    wrong_first = {"GS305": {"edit": GOOD}, "gelu please": {"edit": WRONG_WIDTH}}
    student = DummyLM(wrong_first)
    reflection = DummyLM([{"new_instruction": "Declare every value you touch with its new type."}] * 20,
                         adapter=dspy.JSONAdapter())
    train = [dspy.Example(ir=MLP, goal="gelu please").with_inputs("ir", "goal")]
    with dspy.context(lm=student):
        gepa = dspy.GEPA(metric=verifier_metric, max_metric_calls=6, reflection_lm=reflection, num_threads=1,
                         reflection_minibatch_size=1)
        program = gepa.compile(GraphRewrite(attempts=2), trainset=train, valset=train)
    assert isinstance(program, GraphRewrite)
    assert reflection.history, "GEPA never reflected"
    shown = json.dumps(reflection.history[0]["messages"])
    assert "error[GS305]" in shown and "help: declare it as f32[B, 256]" in shown


def test_import_graphsynth_does_not_import_dspy():
    code = "import sys, graphsynth, graphsynth.llm; assert 'dspy' not in sys.modules and 'litellm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_the_guide_examples_run(tmp_path, monkeypatch, capsys):
    """Each python block of the DSPy section of docs/llm.md runs as written, on its own, offline,
    from any directory."""
    doc = (ROOT / "docs" / "llm.md").read_text(encoding="utf-8")
    section = doc.split("\n## DSPy\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    for b in blocks:
        exec(compile(b, "docs/llm.md", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "True ['rejected', 'accepted']" in out and "\n0.5\n" in out and "error[GS305]" in out
    assert out.rstrip().endswith("50.0")
