"""graphsynth.query.paths: all paths and parallel branches, on graphs whose answers are known."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_util import RES

from graphsynth.grammar.parser import parse_ir
from graphsynth.query import QueryError, index, paths

THREE = """
graph T(x: f32[4]) -> f32[4] {
  %a: f32[4] = relu(x)
  %b: f32[4] = neg(x)
  %c: f32[4] = tanh(x)
  %s: f32[4] = add(%a, %b)
  %t: f32[4] = add(%s, %c)
  return %t
}
"""


def diamonds(k: int) -> str:
    """k diamonds in series: 2**k paths from x to the result."""
    lines = ["graph D(x: f32[B, 4]) -> f32[B, 4] {"]
    prev = "x"
    for i in range(k):
        lines += [
            f"  %a{i}: f32[B, 4] = relu({prev})",
            f"  %b{i}: f32[B, 4] = neg({prev})",
            f"  %h{i}: f32[B, 4] = add(%a{i}, %b{i})",
        ]
        prev = f"%h{i}"
    lines += [f"  return {prev}", "}"]
    return "\n".join(lines) + "\n"


def test_all_paths_of_a_residual_block_and_their_steps():
    m = parse_ir(RES)
    r = paths(m, "x", "%2")
    assert sorted(p.names for p in r) == [["x", "%0", "%1", "%2"], ["x", "%2"]]
    assert r.total == 2 and r.total_exact and not r.truncated
    long = next(p for p in r if len(p) == 4)
    # str() of a step names the value and its module path.
    assert [str(s) for s in long] == ["x @ <input>", "%0 @ blk.fc", "%1 @ blk", "%2 @ blk"]
    assert str(long) == "x @ <input> -> %0 @ blk.fc -> %1 @ blk -> %2 @ blk"
    assert long[1].type == "f32[B, 8]" and long[1].kind == "op"


def test_module_targets_mean_outputs_as_source_and_inputs_as_destination():
    m = parse_ir(RES)
    # blk's only output is %2, blk.fc's only input is x: from blk to blk.fc there is no path.
    with pytest.raises(QueryError) as e:
        paths(m, "blk", "blk.fc")
    assert e.value.diagnostics[0].code == "GS702"
    assert [p.names for p in paths(m, "blk", "return")] == [["%2", "%3"]]
    assert [p.names for p in paths(m, "x", "blk.fc")] == [["x"]]  # the source is the destination
    # The same module on both sides (or PATH:in / PATH:out) means across it.
    across = sorted(p.names for p in paths(m, "blk", "blk"))
    assert across == sorted(p.names for p in paths(m, "blk:in", "blk:out")) == [["x", "%0", "%1", "%2"], ["x", "%2"]]


def test_limit_stops_the_listing_of_exponentially_many_paths():
    m = parse_ir(diamonds(40))
    t = time.perf_counter()
    r = paths(m, "x", "return", limit=7)
    assert time.perf_counter() - t < 1.0
    assert len(r) == 7 and r.truncated
    assert r.total == 2**40 and r.total_exact
    assert len({tuple(p.names) for p in r}) == 7
    assert all(p.names[0] == "x" and p.names[-1] == "%h39" and len(p) == 81 for p in r)
    small = paths(parse_ir(diamonds(3)), "x", "return", limit=100)
    assert len(small) == small.total == 8 and not small.truncated


def test_parallel_branches_of_a_residual_block():
    m = parse_ir(RES)
    r = paths(m, "blk", "blk", parallel=True)
    assert [p.names for p in r] == [["x", "%2"], ["x", "%0", "%1", "%2"]]  # residual first (shorter)
    assert len(r.groups) == 1 and r.groups[0].fork == "x" and r.groups[0].join == "%2"
    assert all(p.group == 0 for p in r)


def test_parallel_branches_share_no_value_and_stop_at_bottlenecks():
    m = parse_ir(diamonds(3))
    r = paths(m, "x", "return", parallel=True)
    # Each diamond is a group of two branches; %h0 and %h1 are bottlenecks.
    assert [(g.fork, g.join, len(g.paths)) for g in r.groups] == [("x", "%h0", 2), ("%h0", "%h1", 2), ("%h1", "%h2", 2)]
    assert sorted(p.names for p in r.groups[1].paths) == [["%h0", "%a1", "%h1"], ["%h0", "%b1", "%h1"]]
    t = paths(parse_ir(THREE), "x", "%t", parallel=True)
    # %a and %b both go through %s: only two of the three paths are disjoint.
    assert len(t) == 2 and t[0].names == ["x", "%c", "%t"] and t[1].names[2] == "%s"


def test_edge_filter_removes_edges():
    m = parse_ir(RES)
    r = paths(m, "x", "%2", edge_filter=lambda u, v: not (u == "x" and v == "%2"))
    assert [p.names for p in r] == [["x", "%0", "%1", "%2"]]
    with pytest.raises(QueryError):
        paths(m, "x", "%2", edge_filter=lambda u, v: False)


def test_errors_are_diagnostics():
    m = parse_ir(RES)
    with pytest.raises(QueryError) as e:
        paths(m, "%9", "%2")
    d = e.value.diagnostics[0]
    assert d.code == "GS701" and "'%9'" in d.message and d.value == "%9"
    with pytest.raises(QueryError) as e:
        paths(m, "blk.fcc", "%2")
    assert e.value.diagnostics[0].fix and "blk.fc" in e.value.diagnostics[0].fix
    with pytest.raises(QueryError) as e:
        paths(m, "%3", "%0")
    assert e.value.diagnostics[0].code == "GS702" and "other way" in e.value.diagnostics[0].fix
    for bad in (0, -1, 1.5, True):
        with pytest.raises(QueryError) as e:
            paths(m, "x", "%2", limit=bad)
        assert e.value.diagnostics[0].code == "GS705"
    # A missing % is forgiven when it names a value.
    assert [p.names for p in paths(m, "1", "2")] == [["%1", "%2"]]


def test_index_is_cached_and_rebuilt_when_the_graph_changes():
    m = parse_ir(RES)
    ix = index(m)
    assert index(m) is ix
    from graphsynth.dialects import gs

    g = gs.graph_ops(m)[0]
    ret = g.body.block.last_op
    new = gs.make_op("neg", [ret.operands[0]], {}, [ret.operands[0].type], names=["n"])
    g.body.block.insert_op_before(new, ret)
    ret.operands = [new.results[0]]
    assert index(m) is not ix
    assert [p.names for p in paths(m, "%2", "return")] == [["%2", "%3", "%n"]]


# -- against brute force on random DAGs ---------------------------------------------------


@st.composite
def dags(draw):
    n = draw(st.integers(2, 9))
    lines = ["graph G(x: f32[4]) -> f32[4] {"]
    names = ["x"]
    edges: dict[str, list[str]] = {"x": []}
    for i in range(n):
        if len(names) >= 2 and draw(st.booleans()):
            a, b = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
            lines.append(f"  %v{i}: f32[4] = add({a}, {b})")
            ins = [a, b]
        else:
            a = draw(st.sampled_from(names))
            lines.append(f"  %v{i}: f32[4] = relu({a})")
            ins = [a]
        v = f"%v{i}"
        edges[v] = []
        for u in ins:
            edges[u].append(v)
        names.append(v)
    lines += [f"  return {names[-1]}", "}"]
    return "\n".join(lines) + "\n", edges, names[-1]


def all_paths(edges: dict[str, list[str]], a: str, b: str) -> list[tuple[str, ...]]:
    if a == b:
        return [(a,)]
    return [(a, *rest) for w in edges[a] for rest in all_paths(edges, w, b)]


def max_disjoint(ps: list[tuple[str, ...]]) -> int:
    best = 1 if ps else 0
    for k in range(2, len(ps) + 1):
        for combo in itertools.combinations(ps, k):
            inner = [set(p[1:-1]) for p in combo]
            if all(not (inner[i] & inner[j]) for i in range(k) for j in range(i + 1, k)):
                best = k
                break
        else:
            break
    return best


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_paths_and_parallel_branches_match_brute_force(case):
    text, edges, last = case
    m = parse_ir(text)
    expected = all_paths(edges, "x", last)
    if not expected:
        with pytest.raises(QueryError):
            paths(m, "x", last)
        return
    r = paths(m, "x", last, limit=10_000)
    assert sorted(tuple(p.names) for p in r) == sorted(expected)
    assert r.total == len(expected)
    par = paths(m, "x", last, parallel=True)
    on_all = set.intersection(*(set(p) for p in expected))
    ends = set()
    for g in par.groups:
        fork = g.paths[0].names[0]
        join = g.paths[0].names[-1]
        ends |= {fork, join}
        assert all(p.names[0] == fork and p.names[-1] == join for p in g.paths)
        for p in g.paths:  # each branch is a real path
            assert all(b in edges[a] for a, b in zip(p.names, p.names[1:]))
        inner = [set(p.names[1:-1]) for p in g.paths]
        assert all(not (inner[i] & inner[j]) for i in range(len(inner)) for j in range(i + 1, len(inner)))
        if len(g.paths) > 1:  # a group of branches is a largest disjoint set between its ends
            assert fork in on_all and join in on_all
            assert len(g.paths) == max_disjoint(all_paths(edges, fork, join))
    # The groups chain from x to the result.
    chain = [v for g in par.groups for v in (g.paths[0].names[0], g.paths[0].names[-1])]
    assert chain[0] == "x" and chain[-1] == last and chain[1:-1:2] == chain[2:-1:2]
