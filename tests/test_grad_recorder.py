"""graphsynth.grad.instrument: per-value, per-edge and per-module gradient norms against a hand
computation with torch autograd; parameter health queries; errors."""

from __future__ import annotations

import math

import pytest
import torch

import graphsynth as gs
from graphsynth.grad import GradError, Recorder, instrument

# x -> fc -> (weak: *1e-3) + (strong: tanh -> identity) -> add -> layer_norm; y feeds a side branch.
GRAPH = """
graph Branches(x: f64[B, 4], y: f64[B, 4]) -> f64[B, 4] {
  param fc.weight: f64[4, 4]
  param fc.bias: f64[4]
  param norm.weight: f64[4]
  module fc : Linear {
    %0: f64[B, 4] = linear(x, fc.weight, fc.bias)
  }
  module weak : Scale {
    %1: f64[B, 4] = mul(%0, 0.001)
  }
  module strong : Act {
    %2: f64[B, 4] = tanh(%0)
    %3: f64[B, 4] = identity(%2)
  }
  %4: f64[B, 4] = add(%1, %3)
  %5: f64[B, 4] = mul(%2, y)
  %6: f64[B, 4] = add(%4, %5)
  module norm : LayerNorm {
    %7: f64[B, 4] = layer_norm(%6, norm.weight, normalized_shape=[4])
  }
  return %7
}
"""


def _setup(seed: int = 0) -> tuple:
    module = gs.parse_ir(GRAPH)
    net = gs.lower(module)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    return module, net, x, y


def _reference(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same computation written out in eager torch, every intermediate retaining its grad."""
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    w, b, g = (net.get_parameter(k).detach().clone().requires_grad_(True)
               for k in ("fc.weight", "fc.bias", "norm.weight"))
    v: dict[str, torch.Tensor] = {"x": x, "y": y, "fc.weight": w, "fc.bias": b, "norm.weight": g}
    v["%0"] = torch.nn.functional.linear(x, w, b)
    v["%1"] = v["%0"] * 0.001
    v["%2"] = torch.tanh(v["%0"])
    v["%3"] = v["%2"].view_as(v["%2"])  # identity: its own tensor in the IR's eyes
    v["%4"] = v["%1"] + v["%3"]
    v["%5"] = v["%2"] * y
    v["%6"] = v["%4"] + v["%5"]
    v["%7"] = torch.nn.functional.layer_norm(v["%6"], [4], g)
    for t in v.values():
        if not t.is_leaf:
            t.retain_grad()
    v["%7"].pow(3).sum().backward()
    return v


def test_grad_norms_match_a_hand_computation_with_autograd() -> None:
    module, net, x, y = _setup()
    rec = instrument(net, module)
    net(x, y).pow(3).sum().backward()
    ref = _reference(net, x, y)
    norms = rec.grad_norms()
    for name, t in ref.items():
        assert norms[name] == pytest.approx(t.grad.norm().item(), rel=1e-10, abs=1e-14), name
        torch.testing.assert_close(rec.grad(name), t.grad)
    # Modules: L2 over the gradients of the op results computed inside them.
    assert norms["fc"] == pytest.approx(ref["%0"].grad.norm().item(), rel=1e-12)
    strong = math.sqrt(ref["%2"].grad.norm().item() ** 2 + ref["%3"].grad.norm().item() ** 2)
    assert norms["strong"] == pytest.approx(strong, rel=1e-12)
    # The graph input's gradient is recorded although x did not require grad, and x is untouched.
    assert norms["x"] > 0 and x.grad is None
    # Every module path and every value name is a key.
    assert set(norms) == set(rec.graph.values) | {"fc", "weak", "strong", "norm"}


def test_edge_gradients_split_a_value_gradient_by_use() -> None:
    module, net, x, y = _setup(1)
    rec = instrument(net, module)
    net(x, y).pow(3).sum().backward()
    ref = _reference(net, x, y)
    edges = rec.edge_grad_norms()
    # %2 is read by the identity (%3) and by the side product (%5): two edges, summing to its gradient.
    to_3 = ref["%3"].grad  # the identity passes its gradient through unchanged
    to_5 = ref["%5"].grad * ref["y"].detach()
    assert edges[("%2", "%3")] == pytest.approx(to_3.norm().item(), rel=1e-10)
    assert edges[("%2", "%5")] == pytest.approx(to_5.norm().item(), rel=1e-10)
    torch.testing.assert_close(to_3 + to_5, ref["%2"].grad)
    # The scaled branch: the gradient reaching %0 through the weak op is 1e-3 of %1's.
    assert edges[("%0", "%1")] == pytest.approx(1e-3 * ref["%1"].grad.norm().item(), rel=1e-10)
    assert edges[("%7", "loss")] == pytest.approx(ref["%7"].grad.norm().item(), rel=1e-10)


def test_recording_leaves_outputs_and_parameter_grads_unchanged() -> None:
    module, net, x, y = _setup(2)
    plain = net(x, y)
    plain.pow(3).sum().backward()
    want = {k: p.grad.clone() for k, p in net.named_parameters()}
    net.zero_grad()
    rec = instrument(net, module)
    out = net(x, y)
    torch.testing.assert_close(out, plain, rtol=0, atol=0)
    out.pow(3).sum().backward()
    for k, p in net.named_parameters():
        torch.testing.assert_close(p.grad, want[k])
        assert rec.param_grad_norms()[k] == pytest.approx(want[k].norm().item(), rel=1e-12)
    rec.remove()
    assert "forward" not in net.__dict__
    rec_before = rec.run
    net(x, y)
    assert rec.run is rec_before  # no longer recording


def test_value_norms_and_output_aggregate() -> None:
    module, net, x, y = _setup(3)
    rec = instrument(net, module)
    with torch.no_grad():
        net(x, y)
    ref = _reference(net, x, y)
    vn = rec.value_norms()
    for name in ("%0", "%3", "%7"):
        assert vn[name] == pytest.approx(ref[name].norm().item(), rel=1e-12)
    with pytest.raises(GradError) as e:
        rec.grad_norms()
    assert e.value.diagnostics[0].code == "GS802"
    net(x, y).pow(3).sum().backward()
    outs = rec.grad_norms(aggregate="outputs")
    assert rec.graph.module_outputs("strong") == ["%2", "%3"]  # %2 is also read by %5, outside
    assert outs["weak"] == pytest.approx(ref["%1"].grad.norm().item(), rel=1e-10)


VANISH = """
graph Health(x: f32[B, 4]) -> f32[B, 4] {
  param small.weight: f32[4, 4]
  param big.weight: f32[4, 4]
  param unused.weight: f32[4, 4]
  module small : Linear {
    %0: f32[B, 4] = linear(x, small.weight)
  }
  %1: f32[B, 4] = mul(%0, 1e-12)
  module big : Linear {
    %2: f32[B, 4] = linear(x, big.weight)
  }
  %3: f32[B, 4] = mul(%2, 1000000.0)
  %4: f32[B, 4] = add(%1, %3)
  return %4
}
"""


def test_vanishing_and_exploding_parameter_gradients() -> None:
    module = gs.parse_ir(VANISH)
    net = gs.lower(module)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape) * 1e-3)
    rec = instrument(net, module)
    net(torch.randn(5, 4)).pow(2).mean().backward()
    vanishing = dict(rec.vanishing_params(1e-6))
    exploding = dict(rec.exploding_params(1e3))
    assert set(vanishing) == {"small.weight", "unused.weight"}
    assert vanishing["unused.weight"] == 0.0  # the loss never reaches it
    assert set(exploding) == {"big.weight"}
    assert exploding["big.weight"] == pytest.approx(net.big.weight.grad.norm().item(), rel=1e-5)
    # Ordering: smallest first / largest first.
    assert [k for k, _ in rec.vanishing_params(1e-6)] == ["unused.weight", "small.weight"]
    assert "big" in rec.summary()


def test_tied_parameters_report_the_summed_gradient() -> None:
    text = """
graph Tied(x: f32[B, 4]) -> f32[B, 4] {
  param a.weight: f32[4, 4]
  param b.weight: f32[4, 4]
  module a : Linear {
    %0: f32[B, 4] = linear(x, a.weight)
  }
  module b : Linear {
    %1: f32[B, 4] = linear(%0, b.weight)
  }
  return %1
}
"""
    module = gs.parse_ir(text)
    net = gs.lower(module)
    torch.manual_seed(1)
    with torch.no_grad():
        net.a.weight.normal_()
    net.b.weight = net.a.weight  # tie, as tie_shared_parameters does
    rec = instrument(net, module)
    net(torch.randn(3, 4)).pow(2).sum().backward()
    total = net.a.weight.grad.norm().item()
    pg = rec.param_grad_norms()
    assert pg["a.weight"] == pg["b.weight"] == pytest.approx(total, rel=1e-5)
    # Per IR value, each use keeps its own gradient.
    assert rec.grad_norms()["a.weight"] != pytest.approx(total, rel=1e-3)


FUSED = """
graph F(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = mul(x, 2.0)
  %1: f32[B, 4], %2: f32[B, 4] = fused(x, %0) {
    ^(%a: f32[B, 4], %b: f32[B, 4])
    %t: f32[B, 4] = add(%a, %b)
    %s: f32[B, 4] = tanh(%t)
    yield %t, %s
  }
  %3: f32[B, 4] = mul(%1, %2)
  return %3
}
"""


def test_fused_region_results_are_values_of_their_own() -> None:
    module = gs.parse_ir(FUSED)
    net = gs.lower(module)
    rec = instrument(net, module)
    x = torch.randn(2, 4)
    net(x).pow(2).sum().backward()
    x2 = x.clone().requires_grad_(True)
    t = x2 + 2 * x2
    s = torch.tanh(t)
    t_out, s_out = t.view_as(t), s.view_as(s)  # the fused op's two results, as the IR sees them
    t_out.retain_grad()
    s_out.retain_grad()
    (t_out * s_out).pow(2).sum().backward()
    norms = rec.grad_norms()
    assert norms["%1"] == pytest.approx(t_out.grad.norm().item(), rel=1e-5)
    assert norms["%2"] == pytest.approx(s_out.grad.norm().item(), rel=1e-5)
    assert norms["x"] == pytest.approx(x2.grad.norm().item(), rel=1e-5)


def test_errors_are_diagnostics() -> None:
    module, net, x, y = _setup()
    with pytest.raises(GradError) as e:
        instrument(torch.nn.Linear(2, 2), module)
    assert e.value.diagnostics[0].code == "GS804"
    other = gs.parse_ir(VANISH)
    with pytest.raises(GradError) as e:
        instrument(net, other)
    assert e.value.diagnostics[0].code == "GS804"
    rec = instrument(net, module)
    with pytest.raises(GradError) as e:
        rec.grad_norms()
    assert e.value.diagnostics[0].code == "GS802" and "net(" in e.value.diagnostics[0].message
    net(x, y).sum().backward()
    with pytest.raises(GradError) as e:
        rec.grad("%99")
    assert e.value.diagnostics[0].code == "GS801"
    with pytest.raises(GradError) as e:
        rec.weakest_path("stong", "loss")
    d = e.value.diagnostics[0]
    assert d.code == "GS801" and any("strong" in n for n in d.notes)
    with pytest.raises(GradError) as e:
        rec.grad_norms(aggregate="mean")
    assert e.value.diagnostics[0].code == "GS805"
    with pytest.raises(GradError) as e:
        net(x)  # missing input
    assert e.value.diagnostics[0].code == "GS805"


def test_a_second_recorder_replaces_the_first() -> None:
    module, net, x, y = _setup()
    first = instrument(net, module)
    second = Recorder(net, module)
    net(x, y).sum().backward()
    assert first.run is None and second.run is not None
    assert "forward+backward" in repr(second)


def test_an_outlined_module_is_one_op_of_the_entry_graph() -> None:
    """After `outline`, the module holds the entry graph and the callee; the recorder picks the
    entry and the call is one op whose gradients match those of the flat graph."""
    module, net, x, y = _setup(4)
    rec_flat = instrument(net, module)
    net(x, y).pow(3).sum().backward()
    outlined = gs.run_pipeline(module, "outline{module=strong}")
    net2 = gs.lower(outlined)
    net2.load_state_dict(net.state_dict())
    rec = instrument(net2, outlined)
    assert rec.graph.graph_op.graph_name == "Branches"
    net2(x, y).pow(3).sum().backward()
    flat, out = rec_flat.grad_norms(), rec.grad_norms()
    call = rec.graph.ops[rec.graph.values["%3"].op]
    assert call.name == "call" and call.results == ["%2", "%3"]  # both are read outside `strong`
    assert set(out) == set(flat)
    for name in set(out) - {"%2", "strong"}:
        assert out[name] == pytest.approx(flat[name], rel=1e-10), name
    # %2 and %3 are now sibling results of the call: %2's gradient is that of its use by %5 only.
    assert out["%2"] == pytest.approx(rec_flat.edge_grad_norms()[("%2", "%5")], rel=1e-10)
    assert out["strong"] == pytest.approx(math.hypot(out["%2"], out["%3"]), rel=1e-12)
    assert [s.value for s in rec.strongest_path("%0", "%4")] == ["%0", "%3", "%4"]
