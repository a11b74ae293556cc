"""fold-constants: folds what does not depend on the inputs, and the lowered numerics agree."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from passes_util import MODEL_INT_HIGH, assert_same_numerics, count_ops, model

import graphsynth as gs
from graphsynth.backend.lower import lower

FOLDABLE = """\
graph Fold(x: f32[B, 4], n: i64[B]) -> (f32[B, 4], f32[B, 4], f32[2, 3], f32[], i64[3], i64[B], f32[B, 4], f32[B, 3]) {
  %0: f32[B, 4] = mul(x, 2.0)
  %1: f32[B, 4] = mul(3.0, %0)
  %f: f32[B, 4] = full_like(x, value=1.5)
  %g: f32[B, 4] = add(%f, 2.0)
  %h: f32[B, 4] = add(x, %g)
  %c: f32[2, 3] = constant(value=[1.0, -2.0, 3.0, 4.0, 5.0, 6.0], shape=[2, 3], dtype=f32)
  %2: f32[2, 3] = mul(%c, 0.1)
  %3: f32[2, 3] = exp(%2)
  %s: f32[] = sum(%c)
  %a: i64[3] = arange(end=3)
  %b: i64[3] = mul(%a, 4)
  %k: i64[B] = sub(n, 3)
  %m: i64[B] = add(%k, 5)
  %p: f32[B, 4] = div(x, 3.0)
  %q: f32[B, 4] = div(%p, 7.0)
  %t: f32[3, 2] = transpose(%c, dim0=0, dim1=1)
  %u: f32[3] = amax(%t, dims=[1])
  %v: f32[B, 3] = full(shape=[B, 3], value=0.5, dtype=f32)
  %w: f32[B, 3] = mul(%v, %u)
  return %1, %h, %3, %s, %b, %m, %q, %w
}
"""


def test_folds_and_numerics_agree():
    m = gs.parse_ir(FOLDABLE)
    out = gs.run_pipeline(m, "fold-constants")
    text = gs.print_ir(out)
    assert "mul(x, 6.0)" in text and "add(n, 2)" in text
    assert count_ops(out, "full_like") == 0 and count_ops(out, "exp") == 0 and count_ops(out, "sum") == 0
    assert count_ops(out, "arange") == 0 and count_ops(out, "transpose") == 0
    assert assert_same_numerics(m, out) == 16


def test_evaluation_is_exactly_the_runtime_value():
    """A folded constant holds what the lowered op computes (bit for bit on the CPU)."""
    m = gs.parse_ir(FOLDABLE)
    out = gs.run_pipeline(m, "fold-constants")
    x, n = torch.randn(2, 4), torch.arange(2)
    before, after = lower(m)(x, n), lower(out)(x, n)
    for i in (2, 3, 4):  # exp of a constant, a sum, arange * 4
        assert torch.equal(before[i], after[i])


def test_integer_chains_are_exact():
    m = gs.parse_ir("""\
graph I(n: i64[B]) -> i64[B] {
  %0: i64[B] = mul(n, 3)
  %1: i64[B] = mul(%0, 5)
  %2: i64[B] = add(%1, 7)
  %3: i64[B] = sub(%2, 10)
  return %3
}
""")
    out = gs.run_pipeline(m, "fold-constants")
    assert "mul(n, 15)" in gs.print_ir(out) and "add(%1, -3)" in gs.print_ir(out)
    n = torch.randint(-1000, 1000, (7,))
    assert torch.equal(lower(m)(n), lower(out)(n))


def test_splats_with_symbolic_shapes_stay_symbolic():
    m = gs.parse_ir("""\
graph S(x: f32[B, S]) -> f32[B, S] {
  %0: f32[B, S] = full_like(x, value=2.0)
  %1: f32[B, S] = sqrt(%0)
  %2: f32[B, S] = mul(%1, %1)
  %3: f32[B, S] = add(x, %2)
  return %3
}
""")
    out = gs.run_pipeline(m, "fold-constants")
    text = gs.print_ir(out)
    # sqrt(2)*sqrt(2) rounded in f32, exactly as the lowered graph computes it
    assert "%2: f32[B, S] = full(shape=[B, S], value=1.9999998807907104, dtype=f32)" in text
    assert count_ops(out, "sqrt") == 0 and count_ops(out, "mul") == 0
    assert_same_numerics(m, out)


def test_size_limit():
    m = gs.parse_ir(FOLDABLE)
    small = gs.run_pipeline(m, "fold-constants{max-elements=2}")
    assert count_ops(small, "exp") == 1  # a 6-element result is not written as a constant
    assert count_ops(small, "sum") == 0  # a 1-element one is
    assert_same_numerics(m, small)


def test_fixpoint_and_idempotent():
    m = gs.parse_ir(FOLDABLE)
    once = gs.run_pipeline(m, "fold-constants")
    assert gs.print_ir(gs.run_pipeline(once, "fold-constants")) == gs.print_ir(once)


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_models(name):
    m = model(name)
    out = gs.run_pipeline(m, "fold-constants")
    assert gs.verify(out) == []
    assert_same_numerics(m, out, int_high=MODEL_INT_HIGH[name], rtol=1e-4, atol=1e-4)


def test_import_graphsynth_does_not_import_torch():
    code = "import sys, graphsynth; graphsynth.run_pipeline; import graphsynth.passes.registry as r; r.load_shipped_passes(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_narrow_integer_literals_stay_in_range():
    """i8 * 100 * 100 would need the literal 10000, which torch refuses for an i8 tensor."""
    m = gs.parse_ir("""\
graph N(n: i8[B]) -> (i8[B], i8[B]) {
  %0: i8[B] = mul(n, 100)
  %1: i8[B] = mul(%0, 100)
  %2: i8[B] = add(n, 100)
  %3: i8[B] = add(%2, 20)
  return %1, %3
}
""")
    out = gs.run_pipeline(m, "fold-constants")
    text = gs.print_ir(out)
    assert "mul(%0, 100)" in text and "add(n, 120)" in text
    n = torch.randint(-128, 128, (9,), dtype=torch.int8)
    for a, b in zip(lower(m)(n), lower(out)(n)):
        assert torch.equal(a, b)


def test_complex_results_stay_computed():
    """A complex value has no literal in the text form: fold-constants leaves the ops that make
    one, folds the real values around them, and the numerics agree."""
    text = """\
graph G(x: f32[2]) -> (f32[2], f32[2]) {
  %0: f32[2] = arange(end=2, dtype=f32)
  %1: c64[2] = complex(%0, %0)
  %2: f32[2] = real(%1)
  %3: c64[2] = mul(%1, 2.0)
  %4: f32[2] = imag(%3)
  %5: f32[2] = add(%0, 1.0)
  %6: f32[2] = add(x, %5)
  return %2, %4
}
"""
    m = gs.parse_ir(text)
    out = gs.run_pipeline(m, "fold-constants")
    assert gs.verify(out) == []
    printed = gs.print_ir(out)
    assert "complex(" in printed and "c64" in printed
    x = torch.randn(2)
    for a, b in zip(lower(m)(x), lower(out)(x)):
        torch.testing.assert_close(a, b)
