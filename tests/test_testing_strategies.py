"""The module strategy: every drawn module verifies, the options do what they say, and the
structures the brief asks for (symbolic and derived dims, branches, residual adds, nested
modules, parameters, several outputs) are all reachable."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from graphsynth.dialects import gs
from graphsynth.dialects.shapes import SymDim, free_symbols
from graphsynth.dialects.traits import is_elementwise
from graphsynth.grammar.printer import print_ir
from graphsynth.testing.builders import BUILDERS
from graphsynth.testing.strategies import DEFAULT_OPS, ELEMENTWISE_OPS, SUPPORTED_OPS, UNTAME, modules
from graphsynth.verifier import verify

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# Reachability: generation only (no shrinking), a generous budget; each find stops at the first hit.
FIND = settings(
    max_examples=400,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
SHRINK = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def graph(m) -> gs.GraphOp:
    (g,) = gs.graph_ops(m)
    return g


def prims(m) -> list[gs.GsOp]:
    return [op for op in graph(m).body.block.ops if isinstance(op, gs.GsOp)]


def op_names(m) -> set[str]:
    return {op.SPEC.name for op in prims(m)}


@FAST
@given(modules(max_ops=10, derived_inputs=True))
def test_every_drawn_module_verifies(m):
    # modules() checks this itself (check=True); here it is checked again without trusting that.
    assert verify(m) == [], print_ir(m)


@FAST
@given(modules(ops=("relu", "add", "linear"), max_ops=5, max_modules=0))
def test_op_set_is_respected(m):
    assert op_names(m) <= {"relu", "add", "linear"}
    assert not graph(m).modules.data
    assert all(not op.scope for op in prims(m))


@FAST
@given(modules(symbols=(), max_ops=4))
def test_static_shapes(m):
    for op in graph(m).body.block.walk():
        for r in op.results:
            assert all(isinstance(d, int) for d in r.type.shape)


@FAST
@given(modules(max_ops=4, names=False))
def test_unnamed_values_print_with_fresh_names(m):
    assert all(op.properties.get("names") is None for op in prims(m))
    assert "%t0" in print_ir(m)


@FAST
@given(modules(min_ops=3, max_ops=3, max_outputs=1, ops=("relu",)))
def test_op_count_and_single_output(m):
    assert len(prims(m)) == 3
    assert len(graph(m).output_types.data) == 1


@FAST
@given(modules(max_ops=6))
def test_symbols_come_from_inputs_and_dims_stay_positive(m):
    from graphsynth.dialects.shapes import evaluate

    g = graph(m)
    bound: set[str] = set()
    for a in g.body.block.args:
        for d in a.type.shape:
            bound |= free_symbols(d)
    for op in g.body.block.walk():
        for r in op.results:
            for d in r.type.shape:
                assert free_symbols(d) <= bound
                for v in (3, 4, 9):
                    assert evaluate(d, dict.fromkeys(bound, v)) >= 1, (d, print_ir(m))


def test_unknown_op_is_rejected_with_the_supported_list():
    with pytest.raises(ValueError, match="no generator for op"):
        modules(ops=("relu", "conv7d"))


def test_default_ops_are_supported_and_exist():
    assert set(DEFAULT_OPS) <= set(SUPPORTED_OPS)
    assert set(SUPPORTED_OPS) <= set(gs.OPS)


def test_op_sets_are_read_from_the_traits():
    """Every op the generator builds is in the default set or left out with a reason; the
    elementwise set is exactly the tame ops with the Elementwise trait, at the front."""
    by_name = {cls.SPEC.name: cls for cls in BUILDERS}
    untame = {cls.SPEC.name for cls in UNTAME}
    assert set(UNTAME) <= set(BUILDERS) and all(UNTAME.values())
    assert set(DEFAULT_OPS) | untame == set(SUPPORTED_OPS) and not set(DEFAULT_OPS) & untame
    assert set(ELEMENTWISE_OPS) == {n for n in DEFAULT_OPS if is_elementwise(by_name[n])}
    assert DEFAULT_OPS[: len(ELEMENTWISE_OPS)] == ELEMENTWISE_OPS and DEFAULT_OPS[0] == "relu"
    assert {"log", "sqrt", "reciprocal"} <= untame and {"relu", "add", "linear", "softmax"} <= set(DEFAULT_OPS)


# -- reachability: hypothesis finds each structure quickly ---------------------------------------


def _has_nested_module(m) -> bool:
    return any(parent for _, _, parent in (tuple(s.data for s in e.data) for e in graph(m).modules.data))


def _has_residual(m) -> bool:
    """An add whose two operands are different values, one of them an earlier value of the
    chain (a skip connection)."""
    for op in prims(m):
        if op.SPEC.name == "add" and len(op.operands) == 2 and op.operands[0] is not op.operands[1]:
            return True
    return False


def _has_branch(m) -> bool:
    """A value used by two different ops."""
    return any(len({u.operation for u in r.uses}) >= 2 for op in prims(m) for r in op.results)


def _has_derived_dim(m) -> bool:
    for op in prims(m):
        for r in op.results:
            for d in r.type.shape:
                if isinstance(d, SymDim) and str(d) not in ("B", "S"):
                    return True
    return False


_OPSET = {"ops": ("relu", "add", "linear", "matmul", "split", "concat", "slice", "reshape")}


@pytest.mark.parametrize(
    "name, kwargs, pred",
    [
        ("nested module", {}, _has_nested_module),
        ("residual add", {}, _has_residual),
        ("branch", {}, _has_branch),
        ("derived dim", {}, _has_derived_dim),
        ("parameter", {}, lambda m: any(isinstance(op, gs.ParamOp) for op in graph(m).body.block.ops)),
        ("two outputs", {}, lambda m: len(graph(m).output_types.data) >= 2),
        (
            "symbolic linear",
            _OPSET,
            lambda m: any(
                op.SPEC.name == "linear" and not isinstance(op.operands[0].type.shape[0], int) for op in prims(m)
            ),
        ),
        ("split (two results)", _OPSET, lambda m: "split" in op_names(m)),
        (
            "matmul of two values",
            _OPSET,
            lambda m: any(
                op.SPEC.name == "matmul" and not isinstance(op.operands[1].owner, gs.ParamOp) for op in prims(m)
            ),
        ),
    ],
)
def test_structure_is_reachable(name, kwargs, pred):
    m = find(modules(max_ops=8, **kwargs), pred, settings=FIND)
    assert pred(m)


def test_every_supported_op_is_generated():
    """Each op the strategy claims to support shows up when the op set is just that op."""
    for name in SUPPORTED_OPS:
        m = find(modules(ops=(name,), max_ops=3), lambda m, n=name: n in op_names(m), settings=FIND)
        assert name in op_names(m)


def test_shrinks_to_a_single_op():
    """The smallest module with a softmax is one softmax on one input."""
    m = find(modules(), lambda m: "softmax" in op_names(m), settings=SHRINK)
    assert len(prims(m)) == 1
    assert len(graph(m).body.block.args) == 1


@FAST
@given(st.data())
def test_draws_compose_with_other_strategies(data):
    m = data.draw(modules(max_ops=2))
    n = data.draw(st.integers(1, 3))
    assert len(prims(m)) >= 1 and n >= 1
