"""Symbolic dims as the verifier uses them: exact division by a symbolic divisor (a reshape's -1
next to symbolic dims), memoised arithmetic, and reshape/-1 through the verifier."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_budget import examples

from graphsynth.dialects import shapes, symdim
from graphsynth.dialects.shapes import SymDim, compare, evaluate, floordiv, mul, parse_dim
from graphsynth.grammar.parser import parse_ir
from graphsynth.verifier import verify

SYMS = ("B", "S", "H")
BINDINGS = [dict(zip(SYMS, v)) for v in itertools.product((1, 2, 3, 7), (1, 4, 5), (2, 9))]


@st.composite
def polys(draw: st.DrawFn, max_terms: int = 3) -> object:
    """Small integer polynomials over B, S, H (an int when constant)."""
    total: object = 0
    for _ in range(draw(st.integers(1, max_terms))):
        term: object = draw(st.integers(-4, 6))
        for s in SYMS:
            for _ in range(draw(st.integers(0, 2))):
                term = mul(term, SymDim.symbol(s))
        total = shapes.add(total, term)
    return total


@settings(max_examples=examples(300), deadline=None)
@given(polys(), polys(max_terms=2))
def test_exact_division_recovers_the_quotient(q: object, b: object) -> None:
    if isinstance(b, int) or any(evaluate(b, env) == 0 for env in BINDINGS):
        return
    a = mul(q, b)
    assert compare(floordiv(a, b), q) is True, (a, b, floordiv(a, b), q)


@settings(max_examples=examples(300), deadline=None)
@given(polys(), polys(max_terms=2))
def test_floordiv_is_floor_division_at_every_binding(a: object, b: object) -> None:
    if any(evaluate(b, env) <= 0 for env in BINDINGS):
        return
    d = floordiv(a, b)
    for env in BINDINGS:
        assert evaluate(d, env) == evaluate(a, env) // evaluate(b, env), (a, b, d, env)


def test_division_examples() -> None:
    p = parse_dim
    assert floordiv(p("2*B*S+2*B"), p("B")) == p("2*S+2")
    assert floordiv(p("4*S+4"), p("S+1")) == 4
    assert floordiv(p("S*S+2*S+1"), p("S+1")) == p("S+1")
    assert not isinstance(floordiv(p("B*S+1"), p("B")), int) and str(floordiv(p("B*S+1"), p("B"))) == "(B*S+1)//B"
    assert str(floordiv(p("3*S+3"), p("2*S+2"))) == "(3*S+3)//(2*S+2)"  # 1.5: not exact, stays a floor


def test_memoised_results_are_stable() -> None:
    p = parse_dim
    first = [shapes.add(p("S"), 1), mul(p("B"), p("S")), floordiv(p("2*S"), 2), compare(p("S"), p("T")), compare(p("S+1"), p("1+S"))]
    symdim._MEMO.clear()
    again = [shapes.add(p("S"), 1), mul(p("B"), p("S")), floordiv(p("2*S"), 2), compare(p("S"), p("T")), compare(p("S+1"), p("1+S"))]
    assert first == again == [p("S+1"), p("B*S"), p("S"), None, True]


def test_reshape_minus_one_next_to_symbolic_dims_verifies() -> None:
    text = """graph R(x: f32[B, S+1, 2], y: f32[B, S, H]) -> f32[B, 2*S+2] {
  %0: f32[B, 2*S+2] = reshape(x, shape=[B, -1])
  %1: f32[S+1, 2*B] = reshape(x, shape=[S+1, -1])
  %2: f32[B*S, H] = reshape(y, shape=[-1, H])
  %3: f32[B, S*H] = reshape(y, shape=[B, -1])
  return %0
}
"""
    assert verify(parse_ir(text)) == []


def test_reshape_minus_one_that_does_not_divide_is_reported() -> None:
    text = """graph R(x: f32[B, S+1]) -> f32[B, S+1] {
  %0: f32[B, S] = reshape(x, shape=[S, -1])
  return x
}
"""
    (d,) = verify(parse_ir(text))
    assert d.code == "GS304" and d.op == "reshape", d.render()
