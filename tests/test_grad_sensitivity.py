"""Recorder.sensitivity: forward-mode responses of every value to one perturbed input feature."""

from __future__ import annotations

import pytest
import torch

import graphsynth as gs
from graphsynth.grad import GradError, Sensitivity, instrument

# Two branches: A reads columns 0:2 of x, B reads columns 2:4; a side branch reads y only.
GRAPH = """
graph Split(x: f64[B, 4], y: f64[B, 3]) -> (f64[B, 4], f64[B, 3]) {
  module a : BranchA {
    %0: f64[B, 2] = slice(x, dim=1, start=0, end=2)
    %1: f64[B, 2] = mul(%0, 3.0)
    %2: f64[B, 2] = tanh(%1)
  }
  module b : BranchB {
    %3: f64[B, 2] = slice(x, dim=1, start=2, end=4)
    %4: f64[B, 2] = exp(%3)
  }
  %5: f64[B, 4] = concat(%2, %4, dim=1)
  module side : Side {
    %6: f64[B, 3] = sin(y)
  }
  return %5, %6
}
"""


def _setup():
    module = gs.parse_ir(GRAPH)
    net = gs.lower(module)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    return module, net, instrument(net, module), x, y


def _reference_tangents(x: torch.Tensor, tangent: torch.Tensor) -> dict[str, torch.Tensor]:
    def f(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        v0 = x[:, 0:2]
        v1 = v0 * 3.0
        v2 = torch.tanh(v1)
        v3 = x[:, 2:4]
        v4 = torch.exp(v3)
        return x, v0, v1, v2, v3, v4, torch.cat([v2, v4], dim=1)

    _, tangents = torch.func.jvp(f, (x,), (tangent,))
    return dict(zip(["x", "%0", "%1", "%2", "%3", "%4", "%5"], tangents))


def test_a_feature_read_by_one_branch_leaves_the_other_at_zero() -> None:
    module, net, rec, x, y = _setup()
    s = rec.sensitivity((x, y), ("x", (..., 0)))  # feature 0 of every row: branch A only
    assert isinstance(s, Sensitivity)
    scores = s.scores
    for name in ("%3", "%4", "y", "%6"):
        assert scores[name] == 0.0, name
    for name in ("%0", "%1", "%2", "%5", "x"):
        assert scores[name] > 0, name
    tangent = torch.zeros_like(x)
    tangent[..., 0] = 1
    ref = _reference_tangents(x, tangent)
    for name, t in ref.items():
        assert scores[name] == pytest.approx(t.norm().item(), rel=1e-12), name
    # Ranked, largest first; modules aggregate the op results inside them.
    ordered = [e.score for e in s]
    assert ordered == sorted(ordered, reverse=True)
    assert s[0].value == "%1" and str(s[0]) == "%1 @ a"  # the x3 scaling responds most
    assert s.module_scores["b"] == 0.0 and s.module_scores["side"] == 0.0
    assert s.modules()[0][0] == "a"
    assert "x[..., 0]" in s.describe()
    # The other branch, by symmetry.
    s2 = rec.sensitivity({"x": x, "y": y}, ("x", (1, 3)))
    assert s2.scores["%2"] == 0.0 and s2.scores["%4"] == pytest.approx(torch.exp(x[1, 3]).item(), rel=1e-12)


def test_directions_and_internal_values() -> None:
    module, net, rec, x, y = _setup()
    direction = torch.randn(3, 4, dtype=torch.float64)
    s = rec.sensitivity((x, y), ("x", direction))
    ref = _reference_tangents(x, direction)
    assert s.scores["%5"] == pytest.approx(ref["%5"].norm().item(), rel=1e-12)
    # An internal value can be the perturbed one: everything upstream of it stays at zero.
    s = rec.sensitivity((x, y), ("%1", (0, 1)))
    assert s.scores["%0"] == 0.0 and s.scores["x"] == 0.0
    assert s.scores["%2"] == pytest.approx(1 - torch.tanh(3 * x[0, 1]).item() ** 2, rel=1e-12)


def test_a_bare_direction_needs_a_single_float_input() -> None:
    text = """
graph One(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = mul(x, 2.0)
  return %0
}
"""
    module = gs.parse_ir(text)
    net = gs.lower(module)
    rec = instrument(net, module)
    x = torch.randn(2, 4)
    s = rec.sensitivity(x, torch.ones(2, 4))
    assert s.scores["%0"] == pytest.approx(2 * 8**0.5, rel=1e-6)
    _, _, rec2, x2, y2 = _setup()
    with pytest.raises(GradError) as e:
        rec2.sensitivity((x2, y2), torch.ones(3, 4, dtype=torch.float64))
    assert e.value.diagnostics[0].code == "GS803"


def test_sensitivity_errors() -> None:
    module, net, rec, x, y = _setup()
    for feature in [("x", (0, 9)), ("x", torch.ones(2, 2)), ("nope", 0), "x", ("x", (slice(0, 0),))]:
        with pytest.raises(GradError) as e:
            rec.sensitivity((x, y), feature)
        assert e.value.diagnostics[0].code in ("GS801", "GS803"), feature
    text = """
graph Ids(i: i64[B], w: f32[10, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = embedding(w, i)
  return %0
}
"""
    m2 = gs.parse_ir(text)
    rec2 = instrument(gs.lower(m2), m2)
    with pytest.raises(GradError) as e:
        rec2.sensitivity((torch.arange(3), torch.randn(10, 4)), ("i", 0))
    d = e.value.diagnostics[0]
    assert d.code == "GS803" and "i64" in d.message
    # The embedding output is a float value and can be perturbed instead.
    s = rec2.sensitivity((torch.arange(3), torch.randn(10, 4)), ("%0", (..., 2)))
    assert s.scores["%0"] == pytest.approx(3**0.5)
