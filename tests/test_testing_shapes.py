"""Symbolic dims (graphsynth/dialects/shapes.py) against sympy as the reference, on random
polynomial dims: arithmetic, floor division, comparison, evaluation, and print/parse."""

from __future__ import annotations

import sympy
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graphsynth.dialects.shapes import (
    SymDim,
    add,
    compare,
    evaluate,
    floordiv,
    free_symbols,
    mod,
    mul,
    parse_dim,
    sub,
    to_sympy,
)

SYMBOLS = ("B", "S", "H")
PROPS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def polys(max_leaves: int = 6, floors: bool = True, symbolic_floors: bool = False) -> st.SearchStrategy:
    """Random dims: ints and symbols combined by +, -, * and (optionally) // by a positive int
    or, with ``symbolic_floors``, by another random dim."""
    leaves = st.one_of(st.integers(-4, 6), st.sampled_from(SYMBOLS).map(SymDim.symbol))

    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        binary = st.tuples(st.sampled_from(("add", "sub", "mul")), children, children).map(
            lambda t: {"add": add, "sub": sub, "mul": mul}[t[0]](t[1], t[2])
        )
        if not floors:
            return binary
        div = st.tuples(children, st.integers(1, 5)).map(lambda t: floordiv(t[0], t[1]))
        if not symbolic_floors:
            return st.one_of(binary, div)
        sym_div = st.tuples(children, children).filter(lambda t: t[1] != 0).map(lambda t: floordiv(t[0], t[1]))
        return st.one_of(binary, div, sym_div)

    return st.recursive(leaves, extend, max_leaves=max_leaves)


bindings = st.fixed_dictionaries({s: st.integers(1, 40) for s in SYMBOLS})


def ref(d) -> sympy.Expr:
    return to_sympy(d)


def at(expr: sympy.Expr, b: dict[str, int]) -> int:
    return int(expr.subs({sympy.Symbol(k, positive=True, integer=True): v for k, v in b.items()}))


@PROPS
@given(polys(floors=False), polys(floors=False))
def test_ring_operations_match_sympy(a, b):
    for ours, theirs in ((add(a, b), ref(a) + ref(b)), (sub(a, b), ref(a) - ref(b)), (mul(a, b), ref(a) * ref(b))):
        assert sympy.expand(ref(ours) - theirs) == 0, (a, b, ours)


@PROPS
@given(polys(floors=False), polys(floors=False))
def test_compare_is_exact_on_polynomials(a, b):
    """Without floor atoms the canonical form decides equality: True exactly when sympy's
    expansion of the difference is 0; False only when the difference has one sign."""
    verdict = compare(a, b)
    zero = sympy.expand(ref(a) - ref(b)) == 0
    assert (verdict is True) == zero, (a, b, verdict)
    if verdict is False:
        diff = sympy.expand(ref(a) - ref(b))
        for v in (1, 2, 7, 30):
            assert at(diff, dict.fromkeys(SYMBOLS, v)) != 0


@PROPS
@given(polys(symbolic_floors=True), polys(symbolic_floors=True), bindings)
def test_compare_agrees_with_evaluation(a, b, bind):
    """A proved verdict holds at every binding of positive integers, floor atoms of any sign
    included (found by this test: ``(S-5)//B+1`` was claimed never to equal 0, but it is 0 at
    S=1, B=4)."""
    verdict = compare(a, b)
    try:
        va, vb = evaluate(a, bind), evaluate(b, bind)
    except ZeroDivisionError:
        assume(False)
    if verdict is True:
        assert va == vb, (a, b, bind)
    elif verdict is False:
        assert va != vb, (a, b, bind)


def test_compare_does_not_refute_with_floors_of_unknown_sign():
    S, B = SymDim.symbol("S"), SymDim.symbol("B")
    d = add(floordiv(sub(S, 5), B), 1)
    assert evaluate(d, {"S": 1, "B": 4}) == 0
    assert compare(d, 0) is None
    assert compare(add(floordiv(S, B), 1), 0) is False  # S//B >= 0: provably nonzero


@PROPS
@given(polys(), st.integers(1, 6), bindings)
def test_floordiv_matches_floor_of_the_quotient(a, k, bind):
    """Floor identities are not provable in sympy: compare at sample points, with Python's
    floor division and with sympy's floor on the reference expression."""
    q = floordiv(a, k)
    assert evaluate(q, bind) == evaluate(a, bind) // k, (a, k, q, bind)
    assert at(ref(q), bind) == at(sympy.floor(ref(a) / k), bind)
    r = mod(a, k)
    assert evaluate(r, bind) == evaluate(a, bind) % k, (a, k, r, bind)


@PROPS
@given(polys(), polys(max_leaves=3, floors=False), bindings)
def test_floordiv_by_a_symbolic_dim(a, b, bind):
    assume(evaluate(b, bind) != 0)
    q = floordiv(a, b)
    assert evaluate(q, bind) == evaluate(a, bind) // evaluate(b, bind), (a, b, q, bind)


@PROPS
@given(polys(), bindings)
def test_evaluate_matches_sympy(d, bind):
    assert evaluate(d, bind) == at(ref(d), bind), (d, bind)


@PROPS
@given(polys())
def test_print_parse_round_trip(d):
    """The text of a dim parses back to the same canonical dim (dims live in types and
    attributes of the text form)."""
    again = parse_dim(str(d))
    assert again == d, (str(d), again)
    assert free_symbols(again) == free_symbols(d)


@PROPS
@given(polys(), polys())
def test_canonical_form_is_order_independent(a, b):
    assert add(a, b) == add(b, a)
    assert mul(a, b) == mul(b, a)
    assert sub(add(a, b), b) == a


def test_negated_floor_prints_unambiguously():
    """Found by test_print_parse_round_trip: -(B//2) printed as "-B//2", which reads back as
    (-B)//2."""
    B, S = SymDim.symbol("B"), SymDim.symbol("S")
    for d in (mul(floordiv(B, 2), -1), sub(1, floordiv(B, 2)), mul(floordiv(mul(B, S), 2), -1)):
        assert parse_dim(str(d)) == d, str(d)
    assert str(mul(floordiv(B, 2), -1)) == "-(B//2)"
