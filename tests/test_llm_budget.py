"""The ``[preserve-semantics]`` check never allocates what a model's edit declares before checking
it against a budget: an attempt whose parameters, inputs or intermediate tensors would not fit is
rejected with GS508 (sent back to the model, located at the tensor's line) and the rewrite goes on;
an input graph that does not fit fails the rewrite before the model is asked."""

from __future__ import annotations

import resource
import time

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import AnthropicProposer, Proposal, Usage, rewrite
from graphsynth.llm.checks import CHECK_FLOOR_BYTES, NumericChecker, footprint
from graphsynth.llm.fakeserver import FakeServer, reply
from graphsynth.pipeline import run_pipeline

TEXT = """\
graph MLP(x: f32[B, 16]) -> f32[B, 4] {
  param fc1.weight: f32[8, 16]
  param fc1.bias: f32[8]
  param fc2.weight: f32[4, 8]
  %0: f32[B, 8] = linear(x, fc1.weight, fc1.bias)
  %1: f32[B, 8] = relu(%0)
  %2: f32[B, 4] = linear(%1, fc2.weight)
  return %2
}
"""
RELU = "  %1: f32[B, 8] = relu(%0)"
W2 = "  param fc2.weight: f32[4, 8]"
# Semantics-preserving edits that the check must accept once it gets to run them.
GOOD = f"<<<<<<< SEARCH\n{RELU}\n=======\n  %1: f32[B, 8] = clamp(%0, min=0.0)\n>>>>>>> REPLACE"
GOAL = "[preserve-semantics] rewrite the relu"


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


# What models wrote: each is harmless to the function and enormous to run.
HUGE_EDITS = {
    "param": (block(W2, W2 + "\n  param extra: f32[1500000000]"), "param 'extra': f32[1500000000]", 5),
    "buffer": (block(W2, W2 + "\n  buffer stats: f64[40000, 40000]"), "buffer 'stats'", 5),
    "intermediate": (block(RELU, RELU + "\n  %9: f32[B, 100000, 100000] = full(shape=[B, 100000, 100000], value=0.0, dtype=f32)"),
                     "%9 = full", 7),
    "symbolic": (block(RELU, RELU + "\n  %9: f32[B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B, 4] = "
                       "full(shape=[B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B*B, 4], value=0.0, dtype=f32)"), "%9 = full", 7),
    # Operands and result of 32 KiB a row; running it holds an 8192 x 8192 score matrix per row.
    "attention": (block(RELU, RELU + "\n  %7: f32[B, 8192, 1] = full(shape=[B, 8192, 1], value=0.5, dtype=f32)"
                                     "\n  %8: f32[B, 8192, 1] = attention(%7, %7, %7)"), "the temporaries of attention %8", 8),
}


class Scripted:
    name = "scripted"
    model = "scripted"

    def __init__(self, replies: list[str]):
        self.replies = list(replies)
        self.requests: list = []

    def propose(self, request):
        self.requests.append(request)
        return Proposal(self.replies.pop(0), Usage(10, 5, calls=1), 0.001, "scripted")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("kind", sorted(HUGE_EDITS))
def test_an_attempt_over_the_budget_is_sent_back_and_the_rewrite_goes_on(kind: str) -> None:
    edit, what, line = HUGE_EDITS[kind]
    module = parse_ir(TEXT, filename="mlp.gs")
    before = print_ir(module)
    proposer = Scripted([edit, GOOD])
    peak = _peak_mb()
    t = time.perf_counter()
    r = rewrite(module, GOAL, proposer, attempts=3)
    assert time.perf_counter() - t < 10
    assert _peak_mb() - peak < 500  # the gigabytes the edit declares were never allocated
    assert [a.verdict for a in r.attempts] == ["rejected", "accepted"], [a.diagnostics for a in r.attempts]
    (d,) = r.attempts[0].diagnostics
    assert d.code == "GS508" and what in d.message and "budget" in d.message
    assert d.loc is not None and d.loc.file == "attempt-1.gs" and d.loc.line == line and d.source_line
    assert d.origin == "llm proposal (attempt 1)"
    # The model was told, and the accepted rewrite is the second proposal.
    feedback = proposer.requests[1].messages[-1]["content"]
    assert "GS508" in feedback and what in feedback
    assert "clamp(%0" in print_ir(r.module) and print_ir(module) == before


def test_the_diagnostic_reaches_the_model_through_the_api(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    edit = HUGE_EDITS["param"][0]
    with FakeServer([reply(edit), reply(GOOD)]) as srv:
        r = rewrite(parse_ir(TEXT), GOAL, AnthropicProposer(base_url=srv.url, timeout=10.0))
        assert r.accepted and len(srv.requests) == 2
        assert "GS508" in srv.request_texts()[1]


def test_an_input_graph_over_the_budget_fails_before_the_model_is_asked() -> None:
    text = TEXT.replace(W2, W2 + "\n  param huge: f32[1000000000000]")
    proposer = Scripted([GOOD])
    peak = _peak_mb()
    r = rewrite(parse_ir(text), GOAL, proposer)
    assert _peak_mb() - peak < 500
    assert not r.accepted and r.error is not None and r.error.code == "GS508"
    assert "param 'huge': f32[1000000000000]" in r.error.message and proposer.requests == []


def test_the_budget_is_configurable_and_defaults_from_the_input_graph() -> None:
    m = parse_ir(TEXT)
    checker = NumericChecker(m)
    checker.prepare()
    assert checker.budget() == CHECK_FLOOR_BYTES  # a small input graph: the floor
    # A budget given explicitly is what the attempts are held to.
    small = NumericChecker(m, max_bytes=3000)
    edit = block(W2, W2 + "\n  param extra: f32[1000]")  # 12000 bytes checked (zeros, values, temporary)
    r = rewrite(m, GOAL, Scripted([edit, GOOD]), numerics=small)
    assert [a.codes for a in r.attempts] == [["GS508"], []]
    # The input graph itself must fit the budget given.
    r = rewrite(m, GOAL, Scripted([GOOD]), numerics=NumericChecker(m, max_bytes=100))
    assert r.error is not None and r.error.code == "GS508"


def test_footprint_counts_state_twice_inputs_and_results() -> None:
    m = parse_ir(TEXT)
    f = footprint(m, {"B": 3})
    state = (8 * 16 + 8 + 4 * 8) * 4
    values = (3 * 16 + 3 * 8 + 3 * 8 + 3 * 4) * 4  # x, %0, %1, %2
    assert f.total == 3 * state + values
    assert f.largest[0][0] == 3 * 8 * 16 * 4 and "fc1.weight" in f.largest[0][2]


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_footprint_counts_what_an_op_declares_it_holds_while_it_runs(dtype: str) -> None:
    """Attention's record declares its score matrix: the footprint grows with the square of the
    sequence while its operands and result grow linearly."""
    def extra(n: int) -> int:
        text = (f"graph A(x: {dtype}[B, {n}, 1]) -> {dtype}[B, {n}, 1] {{\n"
                f"  %0: {dtype}[B, {n}, 1] = attention(x, x, x)\n  return %0\n}}\n")
        f = footprint(parse_ir(text), {"B": 3})
        return f.total - 2 * 3 * n * (4 if dtype == "f32" else 2)  # less the input and the result
    size = 4 if dtype == "f32" else 2
    assert extra(100) == 2 * size * 3 * 100 * 100
    assert extra(400) == 16 * extra(100)


def test_the_pass_option_bounds_the_check(monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    edit = block(W2, W2 + "\n  param extra: f32[1000]")
    with FakeServer([reply(edit), reply(GOOD)]) as srv:
        out = run_pipeline(parse_ir(TEXT), f'llm-rewrite{{goal="rewrite the relu" base-url="{srv.url}" '
                                           f'preserve-semantics=true max-check-bytes=3000 timeout=10}}')
        assert "GS508" in srv.request_texts()[1]
    assert "clamp(%0" in print_ir(out)


POOL = """\
graph Pool(x: f32[B, 4, 2048, 2048]) -> f32[B, 4, 1024, 1024] {
  %0: f32[B, 4, 1024, 1024] = max_pool2d(x, kernel_size=[2, 2], stride=[2, 2])
  return %0
}
"""


@pytest.mark.parametrize("window", [256, 1024])
def test_an_edit_that_multiplies_the_work_is_refused_by_the_compute_budget(window: int) -> None:
    """Allocation is not the only cost an edit can blow up: a pooling window of 256 x 256 on the
    same tensors allocates no more and computes ~16,000 times as much.  The check refuses it
    from the ops' cost formulas (GS508 at the op) before running anything."""
    m = parse_ir(POOL)
    checker = NumericChecker(m)
    checker.prepare = lambda: None  # the budgets alone: no reference run of a 64 MB input here
    checker._bindings = [{"B": 1}]
    pad = window // 2 - 1
    edited = parse_ir(POOL.replace("kernel_size=[2, 2], stride=[2, 2]",
                                   f"kernel_size=[{window}, {window}], stride=[2, 2], padding=[{pad}, {pad}]")
                      .replace("1024, 1024", f"{(2048 + 2 * pad - window) // 2 + 1}, {(2048 + 2 * pad - window) // 2 + 1}"))
    t = time.perf_counter()
    (d,) = checker.flops_over_budget(edited)
    assert time.perf_counter() - t < 2.0
    assert d.code == "GS508" and "FLOPs" in d.message and d.op == "max_pool2d" and d.loc is not None
    assert checker.flops_over_budget(m) == []
