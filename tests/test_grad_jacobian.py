"""graphsynth.grad.jacobian: exact Jacobians against central finite differences (float64), the
probe estimate and its flag for large tensors, target resolution and errors."""

from __future__ import annotations

import pytest
import torch

import graphsynth as gs
from graphsynth.grad import GradError, instrument, jacobian

GRAPH = """
graph J(x: f64[B, 3], y: f64[B, 5]) -> f64[B, 5] {
  param fc.weight: f64[5, 3]
  param fc.bias: f64[5]
  module fc : Linear {
    %0: f64[B, 5] = linear(x, fc.weight, fc.bias)
  }
  %1: f64[B, 5] = tanh(%0)
  %2: f64[B, 5] = mul(%1, y)
  %3: f64[B, 5] = softmax(%2, dim=-1)
  %4: f64[B, 5] = add(%3, %0)
  module norm : LayerNorm {
    %5: f64[B, 5] = layer_norm(%4, normalized_shape=[5])
  }
  return %5
}
"""


def _setup():
    module = gs.parse_ir(GRAPH)
    net = gs.lower(module)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    return module, net, x, y


def _fc(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.linear(x, net.fc.weight, net.fc.bias).detach()


def _finite_difference(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central differences, one input element at a time: shape f(x).shape + x.shape."""
    y0 = f(x)
    cols = []
    flat = x.reshape(-1)
    for i in range(flat.numel()):
        d = torch.zeros_like(flat)
        d[i] = eps
        cols.append((f((flat + d).reshape(x.shape)) - f((flat - d).reshape(x.shape))) / (2 * eps))
    return torch.stack(cols, dim=-1).reshape(*y0.shape, *x.shape)


def test_exact_jacobian_of_the_whole_net_matches_finite_differences() -> None:
    module, net, x, y = _setup()
    res = jacobian(net, module, "x", "%5", (x, y))
    assert res.exact and res.method == "jacfwd"  # 10 outputs, 6 inputs: forward mode
    with torch.no_grad():
        fd = _finite_difference(lambda t: net(t, y), x)  # y held fixed
    torch.testing.assert_close(res.matrix, fd, rtol=1e-6, atol=1e-8)
    assert res.matrix.shape == (2, 5, 2, 3)
    assert res.frobenius == pytest.approx(fd.norm().item(), rel=1e-6)
    # The same through the keyword form of the inputs, and reverse mode when dst is smaller.
    res2 = jacobian(net, module, "y", "%2", {"x": x, "y": y})
    assert res2.method in ("jacrev", "jacfwd")
    with torch.no_grad():
        want = torch.diag_embed(torch.tanh(_fc(net, x)))  # ∂(tanh(fc(x)) * y)/∂y, row by row
    torch.testing.assert_close(torch.einsum("bibj->bij", res2.matrix), want)


def test_intermediate_values_hold_everything_else_fixed() -> None:
    module, net, x, y = _setup()
    res = jacobian(net, module, "%1", "%4", (x, y))
    with torch.no_grad():
        h0 = _fc(net, x)
        fd = _finite_difference(lambda t: torch.softmax(t * y, dim=-1) + h0, torch.tanh(h0))
    torch.testing.assert_close(res.matrix, fd, rtol=1e-6, atol=1e-8)
    assert res.method == "jacrev"  # same size: reverse mode
    # A module path stands for its single output; the chain rule ties the pieces together.
    a = jacobian(net, module, "fc", "%1", (x, y)).matrix  # ∂%1/∂%0 (only the tanh path)
    assert a.shape == (2, 5, 2, 5)
    torch.testing.assert_close(torch.einsum("bibi->bi", a), 1 - torch.tanh(_fc(net, x)) ** 2)


BIG = """
graph Big(x: f32[N, M]) -> f32[N, M] {
  %0: f32[N, M] = mul(x, 3.0)
  %1: f32[N, M] = tanh(%0)
  return %1
}
"""


def test_large_tensors_get_the_probe_estimate_with_its_flag() -> None:
    module = gs.parse_ir(BIG)
    net = gs.lower(module)
    x = torch.randn(64, 1024)
    res = jacobian(net, module, "x", "%0", x, probes=16)
    assert not res.exact and res.method == "probes" and res.matrix is None
    assert res.sketch is not None and res.sketch.shape == (16, 64, 1024)
    true = 3.0 * (64 * 1024) ** 0.5  # J = 3 I
    assert res.frobenius == pytest.approx(true, rel=0.02)
    assert res.sketch.double().norm().item() == pytest.approx(res.frobenius, rel=1e-4)
    assert "estimated" in str(res)
    # A non-trivial Jacobian: the estimate agrees with the exact value within its error bars.
    small = torch.randn(8, 16)
    exact = jacobian(net, module, "x", "%1", small, exact=True)
    est = jacobian(net, module, "x", "%1", small, exact=False, probes=64, seed=3)
    assert exact.exact and not est.exact
    assert abs(est.frobenius - exact.frobenius) < 5 * est.stderr + 0.05 * exact.frobenius
    # The threshold decides when exact is None.
    assert jacobian(net, module, "x", "%1", small, max_entries=10).exact is False


def test_recorder_jacobian_uses_the_recorded_inputs() -> None:
    module, net, x, y = _setup()
    rec = instrument(net, module)
    net(x, y).sum().backward()
    torch.testing.assert_close(rec.jacobian("x", "%5").matrix, jacobian(net, module, "x", "%5", (x, y)).matrix)


def test_jacobian_errors() -> None:
    module, net, x, y = _setup()
    text = """
graph G(x: f32[B, 4], i: i64[B]) -> f32[B, 4] {
  %0: f32[B, 4] = tanh(x)
  %1: f32[B, 4] = mul(%0, 2.0)
  %2: f32[B] = cast(i, dtype=f32)
  return %1
}
"""
    m2 = gs.parse_ir(text)
    n2 = gs.lower(m2)
    with pytest.raises(GradError) as e:
        jacobian(n2, m2, "i", "%1", (torch.randn(2, 4), torch.arange(2)))
    assert e.value.diagnostics[0].code == "GS803"
    with pytest.raises(GradError) as e:
        jacobian(net, module, "x", "%nope", (x, y))
    assert e.value.diagnostics[0].code == "GS801"
    with pytest.raises(GradError) as e:
        jacobian(net, module, "x", "%5", (x,))
    assert e.value.diagnostics[0].code == "GS805"
    with pytest.raises(GradError) as e:
        jacobian(net, module, "x", "%5", (x, y), exact=False, probes=0)
    assert e.value.diagnostics[0].code == "GS805"
