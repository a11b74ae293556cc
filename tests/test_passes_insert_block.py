"""insert-block: the block lands on the edge, its parameters exist in the lowered module with their
initial values, identity-preserving kinds keep the numerics, and every misfit is a precise error."""

from __future__ import annotations

import pytest
import torch
from passes_util import MODEL_INT_HIGH, assert_same_numerics, inputs_for, model, random_state

import graphsynth as gs
from graphsynth.backend.lower import lower

NET = """\
graph Net(x: f32[B, 64], t: i64[B, 32]) -> (f32[B, 10], f32[B, 32], f32[B, 32]) {
  param fc1.weight: f32[32, 64]
  param fc1.bias: f32[32]
  param fc2.weight: f32[10, 32]
  param fc2.bias: f32[10]
  module embed : Embedding {
    %ids: i64[B, 32] = add(t, 1)
  }
  module fc1 : Linear {
    %0: f32[B, 32] = linear(x, fc1.weight, fc1.bias)
    %u: f32[B, 32] = cast(%ids, dtype=f32)
  }
  module act : ReLU {
    %1: f32[B, 32] = relu(%0)
  }
  module fc2 : Linear {
    %3: f32[B, 10] = linear(%1, fc2.weight, fc2.bias)
  }
  module split : Split {
    %lo: f32[B, 16], %hi: f32[B, 16] = split(%1, dim=1, sizes=[16, 16])
  }
  module join : Join {
    %j: f32[B, 32] = concat(%lo, %hi, dim=1)
  }
  return %3, %0, %j
}
"""


def net() -> object:
    return gs.parse_ir(NET, filename="net.gs")


def insert(m, **opts) -> object:
    spec = " ".join(f"{k}={v}" for k, v in opts.items())
    return gs.run_pipeline(m, f"insert-block{{{spec}}}")


@pytest.mark.parametrize("kind", ["adapter", "identity"])
def test_identity_preserving_kinds_keep_numerics(kind):
    m = net()
    out = insert(m, after="fc1", before="act", block=kind)
    assert_same_numerics(m, out)


def test_adapter_parameters_and_initial_values():
    out = insert(net(), after="act", before="fc2", block="adapter", hidden=8, activation="relu")
    state = lower(out).state_dict()
    p = "act_to_fc2_adapter"
    assert state[f"{p}.down.weight"].shape == (8, 32) and state[f"{p}.up.weight"].shape == (32, 8)
    assert torch.count_nonzero(state[f"{p}.up.weight"]) == 0 and torch.count_nonzero(state[f"{p}.up.bias"]) == 0
    assert state[f"{p}.down.weight"].std() > 0.005  # random, so that training reaches `up`
    table = gs.run_pipeline(out, "verify")
    g = table.body.block.first_op
    assert (p, "Adapter", "") in [tuple(a.data for a in e.data) for e in g.modules.data]
    assert (f"{p}.up", "Linear", p) in [tuple(a.data for a in e.data) for e in g.modules.data]


def test_adapter_trains():
    """Starting as the identity, the adapter's up projection still gets a gradient."""
    out = insert(net(), after="fc1", before="act", block="adapter")
    netw = lower(out)
    netw.load_state_dict(random_state(lower(net())), strict=False)
    x, t = inputs_for(out, {"B": 3}, seed=1)
    y, _, _ = netw(x, t)
    y.pow(2).sum().backward()
    assert netw.get_parameter("fc1_to_act_adapter.up.weight").grad.abs().sum() > 0


def test_only_the_second_module_reads_the_block():
    out = insert(net(), after="fc1", before="act", block="layer_norm")
    text = gs.print_ir(out)
    assert "%1: f32[B, 32] = relu(%fc1_to_act_layer_norm.0)" in text
    assert "return %3, %0, %j" in text  # the graph output still reads fc1's value itself


@pytest.mark.parametrize(("kind", "key", "fill"), [("layer_norm", "weight", 1.0), ("layer_norm", "bias", 0.0)])
def test_layer_norm_init(kind, key, fill):
    out = insert(net(), after="act", before="fc2", block=kind)
    value = lower(out).state_dict()[f"act_to_fc2_{kind}.{key}"]
    assert torch.equal(value, torch.full((32,), fill))


@pytest.mark.parametrize("kind", ["layer_norm", "mlp"])
def test_non_identity_kinds_change_only_the_downstream_outputs(kind):
    m = net()
    out = insert(m, after="act", before="fc2", block=kind, hidden=16)
    a, b = lower(m), lower(out)
    state = random_state(a)
    a.load_state_dict(state)
    b.load_state_dict(state, strict=False)
    xs = inputs_for(m, {"B": 3}, seed=2)
    ya, yb = a(*xs), b(*xs)
    assert not torch.allclose(ya[0], yb[0])  # fc2 reads the new block
    torch.testing.assert_close(yb[1], ya[1])  # fc1's output is untouched
    torch.testing.assert_close(yb[2], ya[2])  # so is the split/join path


def test_text_round_trip_keeps_the_adapter_an_identity():
    m = net()
    out = insert(m, after="fc1", before="act", block="adapter")
    reparsed = gs.parse_ir(gs.print_ir(out))
    assert_same_numerics(m, reparsed)


def test_text_round_trip_keeps_initial_values():
    """A LayerNorm inserted, printed and parsed again still starts with weight 1 and bias 0."""
    out = gs.parse_ir(gs.print_ir(insert(net(), after="fc1", before="act", block="layer_norm")))
    state = lower(out).state_dict()
    (weight,) = [v for k, v in state.items() if k.endswith("layer_norm.weight")]
    (bias,) = [v for k, v in state.items() if k.endswith("layer_norm.bias")]
    assert torch.equal(weight, torch.ones_like(weight)) and torch.equal(bias, torch.zeros_like(bias))


def errors(m, **opts):
    before = gs.print_ir(m)
    with pytest.raises(gs.PassError) as info:
        insert(m, **opts)
    assert gs.print_ir(m) == before
    return info.value.diagnostics


def test_unknown_module():
    (d,) = errors(net(), after="fc1", before="fc9", block="adapter")
    assert d.code == "GS405" and "no module 'fc9'" in d.message and d.got == "fc9"
    assert "fc2" in d.fix and "top-level modules: embed, fc1, act, fc2, split, join" in d.notes


def test_no_edge_says_where_values_go():
    (d,) = errors(net(), after="fc1", before="fc2", block="adapter")
    assert d.code == "GS406" and d.relation == "fc1 -> fc2"
    assert "module 'fc1' sends: %0: f32[B, 32] -> module act; %0: f32[B, 32] -> the graph output" in d.notes[0]
    assert d.notes[1] == "module 'fc2' reads: %1: f32[B, 32] <- module act"


def test_several_values_on_the_edge():
    (d,) = errors(net(), after="split", before="join", block="adapter")
    assert d.code == "GS406" and "%lo: f32[B, 16], %hi: f32[B, 16]" in d.message
    out = insert(net(), after="split", before="join", block="adapter", value="%hi", hidden=4)
    assert "concat(%lo, %split_to_join_adapter.3, dim=1)" in gs.print_ir(out)
    assert_same_numerics(net(), out)


@pytest.mark.parametrize(
    ("opts", "code", "text"),
    [
        ({"after": "embed", "before": "fc1", "block": "mlp"}, "GS407", "needs a float tensor, but the edge %ids from module 'embed' to module 'fc1' carries i64[B, 32]"),
        ({"after": "act", "before": "fc2", "block": "adapter", "features": 128}, "GS407", "expects features=128"),
        ({"after": "fc1", "before": "fc1", "block": "adapter"}, "GS406", "the same or nested"),
        ({"after": "act", "before": "fc2", "block": "adapter", "path": "fc1"}, "GS405", "already taken"),
        ({"after": "act", "before": "fc2", "block": "adapter", "value": "%0"}, "GS406", "value=%0 does not flow"),
    ],
)
def test_misfits(opts, code, text):
    (d,) = errors(net(), **opts)
    assert d.code == code and text in d.message, d.render()


def test_symbolic_feature_dim_does_not_fit():
    m = gs.parse_ir("""\
graph G(x: f32[B, S]) -> f32[B, S] {
  module a : A {
    %0: f32[B, S] = relu(x)
  }
  module b : B {
    %1: f32[B, S] = tanh(%0)
  }
  return %1
}
""")
    (d,) = errors(m, after="a", before="b", block="layer_norm")
    assert d.code == "GS407" and "static feature dim" in d.message and d.got == "S"
    assert_same_numerics(m, insert(m, after="a", before="b", block="identity"))


@pytest.mark.parametrize(
    ("name", "after", "before"),
    [("gpt2", "transformer.h.0.ln_2", "transformer.h.0.mlp"), ("bert", "encoder.layer.0.attention", "encoder.layer.0.intermediate")],
)
def test_models_adapter_is_identity(name, after, before):
    m = model(name)
    out = insert(m, after=after, before=before, block="adapter")
    assert_same_numerics(m, out, int_high=MODEL_INT_HIGH[name], rtol=1e-4, atol=1e-4)


SEQ = """\
graph Seq(x: f32[B, S, 6]) -> f32[B, S, 6] {
  module a : Identity {
    %0: f32[B, S, 6] = relu(x)
  }
  module b : Identity {
    %1: f32[B, S, 6] = tanh(%0)
  }
  return %1
}
"""


@pytest.mark.parametrize("window", [1, 3, 5])
def test_pool_block_averages_neighbouring_positions(window):
    m = gs.parse_ir(SEQ)
    out = insert(m, after="a", before="b", block="pool", window=window)
    assert gs.verify(out) == []
    text = gs.print_ir(out)
    assert "module a_to_b_pool : Pooling" in text and f"kernel_size=[{window}]" in text
    assert gs.print_ir(gs.parse_ir(text)) == text
    x = torch.randn(2, 7, 6)
    mixed = torch.nn.functional.avg_pool1d(x.relu().transpose(1, 2), window, 1, window // 2,
                                           count_include_pad=False).transpose(1, 2)
    torch.testing.assert_close(lower(out)(x), mixed.tanh())
    assert window == 1 or not torch.allclose(lower(out)(x), lower(m)(x))  # it mixes tokens


def test_pool_block_misfits_are_precise():
    with pytest.raises(gs.PassError) as e:
        insert(net(), after="fc1", before="act", block="pool")
    assert e.value.diagnostics[0].code == "GS407" and "rank 2" in str(e.value)
    with pytest.raises(gs.PassError, match="window=4 must be an odd int"):
        insert(gs.parse_ir(SEQ), after="a", before="b", block="pool", window=4)
