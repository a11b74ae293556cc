"""Verifying a module of many graphs is linear in the number of graphs (callee signatures are
computed once per module, the call-cycle check is one depth-first search), and the cycle check
still finds every cycle.  The timing test compares the time per graph at two sizes (a ratio,
best of several runs), which a quadratic verifier fails by a wide margin."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from graphsynth.diagnostics import ParseError
from graphsynth.grammar.parser import parse_ir
from graphsynth.verifier import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import verify_scale  # noqa: E402

SMALL, LARGE = 100, 800  # graphs


def per_graph(n_graphs: int, repeat: int = 3) -> float:
    module = parse_ir(verify_scale.many_graphs(n_graphs * verify_scale.OPS_PER_GRAPH))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        diags = verify(module)
        best = min(best, time.perf_counter() - t0)
    assert diags == []
    return best / n_graphs


def test_verify_time_per_graph_does_not_grow_with_the_module() -> None:
    # 8x the graphs: a linear verifier keeps the time per graph (ratio about 1), a quadratic one
    # multiplies it by 8.  Measured twice: a shared machine may stall once.
    ratios = []
    for _ in range(2):
        ratios.append(per_graph(LARGE) / per_graph(SMALL))
        if ratios[-1] < 3.0:
            break
    assert min(ratios) < 3.0, f"time per graph grew {min(ratios):.1f}x from {SMALL} to {LARGE} graphs"


def _chain(n: int, back_edges: dict[int, int]) -> str:
    """Graphs G0..G{n-1}; G{i} calls G{i-1}, and G{i} also calls G{j} for each i -> j given."""
    out = []
    for i in range(n):
        lines = [f"graph G{i}(x: f32[B, 8]) -> f32[B, 8] {{", "  %0: f32[B, 8] = relu(x)"]
        last = "%0"
        if i:
            lines.append(f'  %1: f32[B, 8] = call(%0, callee="G{i - 1}")')
            last = "%1"
        if i in back_edges:
            lines.append(f'  %2: f32[B, 8] = call({last}, callee="G{back_edges[i]}")')
            last = "%2"
        lines += [f"  return {last}", "}"]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def test_call_cycles_are_reported_once_each_with_their_chain() -> None:
    diags = verify(parse_ir(_chain(6, {2: 4}), filename="calls.gs"))
    assert [d.code for d in diags] == ["GS204"], [d.render() for d in diags]
    d = diags[0]
    assert d.relation == "G2 -> G4 -> G3 -> G2", d.relation
    assert d.message == "call: graph 'G2' calls itself (G2 -> G4 -> G3 -> G2)"
    assert d.loc is not None and d.loc.file == "calls.gs"


def test_self_call_and_separate_cycles() -> None:
    diags = verify(parse_ir(_chain(8, {0: 0, 5: 7})))
    chains = sorted(d.relation for d in diags)
    assert [d.code for d in diags] == ["GS204", "GS204"]
    assert chains == ["G0 -> G0", "G5 -> G7 -> G6 -> G5"], chains


def test_long_cycle_is_reported_in_linear_time_with_a_short_chain() -> None:
    n = 3000
    text = _chain(n, {0: n - 1})
    module = parse_ir(text)
    t0 = time.perf_counter()
    diags = verify(module)
    elapsed = time.perf_counter() - t0
    cycles = [d for d in diags if d.code == "GS204"]
    assert len(cycles) == 1 and "..." in cycles[0].relation and len(cycles[0].relation) < 200
    assert elapsed < 60  # a path copied per step would be n**2 = 9 million names


def test_types_found_good_are_not_hashed_again(monkeypatch) -> None:
    """Hashing an xDSL type hashes all its parameters: the verifier recognises a type it has
    already checked by identity, so the hashes of types grow at most with the number of graphs,
    not with the number of values."""
    from graphsynth.dialects.types import TensorType

    real = TensorType.__hash__
    count = [0]

    def counted(self: TensorType) -> int:
        count[0] += 1
        return real(self)

    seen = []
    for n in (200, 1600):
        module = parse_ir(verify_scale.many_graphs(n))
        values = sum(len(op.results) for op in module.walk())
        monkeypatch.setattr(TensorType, "__hash__", counted)
        count[0] = 0
        assert verify(module) == []
        monkeypatch.undo()
        graphs = len(list(module.body.block.ops))
        assert count[0] <= graphs + 10 < values, (count[0], graphs, values)
        seen.append(count[0])
    assert seen[1] <= 10 * seen[0]


def _reading_per_graph(n_graphs: int, repeat: int = 3) -> float:
    """Seconds per graph to read a file of graphs that each use an undefined name."""
    text = "".join(f"graph G{i}(x: f32[B]) -> f32[B] {{\n  %0: f32[B] = relu(x)\n  return y\n}}\n" for i in range(n_graphs))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            parse_ir(text)
        except ParseError as e:
            assert len(e.diagnostics) == n_graphs
        best = min(best, time.perf_counter() - t0)
    return best / n_graphs


def test_reading_graphs_with_an_error_each_is_linear() -> None:
    """Each graph looks at its own diagnostics, not at every one of the file so far (which made
    a file of n failing graphs quadratic)."""
    ratios = []
    for _ in range(2):
        ratios.append(_reading_per_graph(8 * LARGE) / _reading_per_graph(SMALL))
        if ratios[-1] < 3.0:
            break
    assert min(ratios) < 3.0, f"time per graph grew {min(ratios):.1f}x from {SMALL} to {8 * LARGE} graphs"


def test_a_missing_return_is_reported_after_another_graphs_error() -> None:
    text = "graph A(x: f32[B]) -> f32[B] {\n  return y\n}\ngraph C(x: f32[B]) -> f32[B] {\n  %0: f32[B] = relu(x)\n}\n"
    try:
        parse_ir(text)
    except ParseError as e:
        codes = [(d.code, d.loc.line) for d in e.diagnostics]
    assert codes == [("GS201", 2), ("GS211", 4)], codes


def _undefined_uses(n: int) -> str:
    """n definitions, then n ops each reading an undefined name (a typo search for each)."""
    lines = ["graph G(x: f32[B]) -> f32[B] {"]
    lines += [f"  %v{k}: f32[B] = relu(x)" for k in range(n)]
    lines += [f"  %w{k}: f32[B] = relu(%u{k})" for k in range(n)]
    return "\n".join(lines + ["  return x", "}", ""])


def _reading_time(text: str) -> float:
    t0 = time.perf_counter()
    try:
        parse_ir(text)
    except ParseError:
        pass
    return time.perf_counter() - t0


def test_typo_suggestions_are_bounded() -> None:
    """Each undefined name is compared with every defined one, so their suggestions share one
    budget: 8x the names costs about 8x the time, not 64x, and the first typos still get their
    rename (the budget is spent on the first ones, not spread thin)."""
    ratios = []
    for _ in range(2):
        small = min(_reading_time(_undefined_uses(500)) for _ in range(2))
        large = _reading_time(_undefined_uses(4000))
        ratios.append(large / small)
        if ratios[-1] < 16:
            break
    assert min(ratios) < 16, f"8x the undefined names took {min(ratios):.0f}x longer"
    try:
        parse_ir(_undefined_uses(2000))
    except ParseError as e:
        with_edits = [d.loc.line for d in e.diagnostics if d.edits]
    assert with_edits and with_edits[0] < 2002 + 50 and len(with_edits) < 2000  # the uses start at line 2002


def test_the_repair_search_of_a_graph_is_bounded() -> None:
    """Thousands of wrong ops whose repair is searched op by op: the first ones get the search,
    a note says where it stopped, and the time stays linear."""
    from graphsynth import fixits
    from graphsynth.verifier import verify

    line = "  %{k}: f32[B, 3, 3] = conv2d(x, x, stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1)"

    def text(n: int) -> str:
        return "\n".join(["graph G(x: f32[B, 4]) -> f32[B, 4] {", *(line.format(k=k) for k in range(n)), "  return x", "}", ""])

    def check(n: int) -> tuple[float, list]:
        module = parse_ir(text(n))
        t0 = time.perf_counter()
        diags = verify(module)
        return time.perf_counter() - t0, diags

    per_op = []
    for n in (500, 4000):
        seconds, diags = check(n)
        per_op.append(seconds / n)
    noted = [d for d in diags if any("search budget" in note for note in d.notes)]
    assert len(diags) == 4000 and len(noted) == 1 and str(fixits.MAX_GRAPH_TRIES // 1000) in noted[0].notes[-1]
    assert per_op[1] < 3 * per_op[0], f"time per wrong op grew {per_op[1] / per_op[0]:.1f}x from 500 to 4000 ops"
