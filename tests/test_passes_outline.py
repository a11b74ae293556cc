"""outline / inline and the ``call`` op: round trips print the same text, called graphs verify and
lower (the same numerics and state_dict as the flat graph), bad calls are diagnosed."""

from __future__ import annotations

import pytest
import torch
from passes_util import MODEL_INT_HIGH, assert_same_numerics, count_ops, inputs_for, load, model

import graphsynth as gs
from graphsynth.backend.lower import lower
from graphsynth.dialects import gs as gsd


def names(m) -> list[str]:
    return [g.graph_name for g in gsd.graph_ops(m)]


@pytest.mark.parametrize(
    ("name", "pipeline"),
    [
        ("gpt2", "outline"),
        ("gpt2", "outline{module=transformer.h.0.attn},outline{module=transformer.h.0}"),
        ("bert", "outline{module=encoder.layer.0},outline{module=pooler}"),
        ("llama", "outline{module=model.layers.1}"),
        ("vit", "outline"),
        ("resnet", "outline{module=encoder.stages.0.layers.0},outline"),
    ],
)
def test_models_round_trip_and_numerics(name, pipeline):
    m = model(name)
    outlined = gs.run_pipeline(m, pipeline)
    assert count_ops(outlined, "call") >= 1 and len(names(outlined)) >= 2
    # The called form lowers through the callees' own GraphModules, with the same state_dict keys.
    assert list(lower(outlined).state_dict()) == list(lower(m).state_dict())
    assert_same_numerics(m, outlined, int_high=MODEL_INT_HIGH[name], rtol=1e-4, atol=1e-4)
    back = gs.run_pipeline(outlined, "inline")
    assert names(back) == names(m)
    assert gs.print_ir(back) == gs.print_ir(m)


def test_text_round_trip_of_the_outlined_form():
    outlined = gs.run_pipeline(model("gpt2"), "outline{module=transformer.h.1}")
    text = gs.print_ir(outlined)
    assert gs.print_ir(gs.parse_ir(text)) == text
    assert 'callee="transformer.h.1"' in text and "graph transformer.h.1(" in text


def test_gradients_flow_through_calls():
    m = load("outline").body.block.first_op  # the first graph of tests/filecheck/passes/outline.gs
    module = gs.parse_ir(gs.print_ir(m))
    outlined = gs.run_pipeline(module, "outline{module=block}")
    grads = []
    for mod in (module, outlined):
        net = lower(mod)
        torch.manual_seed(0)
        for p in net.parameters():
            torch.nn.init.normal_(p)
        (x,) = inputs_for(mod, {"B": 3}, seed=0)
        x.requires_grad_(True)
        a, b = net(x)
        (a.pow(2).sum() + b.pow(2).sum()).backward()
        grads.append([x.grad, *[p.grad for p in net.parameters()]])
    for g0, g1 in zip(*grads):
        torch.testing.assert_close(g1, g0)


CALLS = """\
graph Main(x: f32[B, 8]) -> f32[B + 1, 4] {
  param w: f32[4, 8]
  %a: f32[B, 4] = call(x, w, callee="proj")
  %p: f32[B + 1, 4] = pad(%a, pad=[0, 0, 0, 1])
  %b: f32[B + 1, 4] = call(%p, callee="fold")
  return %b
}
graph proj(v: f32[N, 8], weight: f32[4, 8]) -> f32[N, 4] {
  %h: f32[N, 4] = linear(v, weight)
  return %h
}
graph fold(v: f32[M + 1, 4]) -> f32[M + 1, 4] {
  %r: f32[M + 1, 2, 2] = reshape(v, shape=[M + 1, 2, 2])
  %s: f32[M + 1, 2, 2] = mul(%r, 0.5)
  %t: f32[M + 1, 4] = reshape(%s, shape=[M + 1, 4])
  return %t
}
"""


def test_callee_symbols_bind_to_the_call_site():
    m = gs.parse_ir(CALLS)
    assert gs.verify(m) == []  # N := B, M := B (from M + 1 == B + 1)
    flat = gs.run_pipeline(m, "inline")
    text = gs.print_ir(flat)
    assert names(flat) == ["Main"]
    assert "reshape(%p, shape=[B+1, 2, 2])" in text  # attributes are rewritten too
    assert "%h: f32[B, 4] = linear(x, w)" in text
    net_called, net_flat = lower(m), lower(flat)
    net_flat.load_state_dict(net_called.state_dict())
    for b in (2, 5):
        x = torch.randn(b, 8)
        torch.testing.assert_close(net_flat(x), net_called(x))


@pytest.mark.parametrize(
    ("edit", "code", "text"),
    [
        (('callee="proj"', 'callee="nope"'), "GS207", "no graph named 'nope'"),
        (("call(x, w, callee", "call(x, callee"), "GS208", "takes 2 input(s), got 1"),
        (("param w: f32[4, 8]", "param w: f32[4, 6]"), "GS301", "dim 1 must equal dim 1 of input #1 of graph 'proj', f32[4, 8], (8)"),
        (("call(x, w, callee", "call(w, w, callee"), "GS304", "cannot prove 4 == B"),
        (("%h: f32[N, 4] = linear(v, weight)", '%h: f32[N, 4] = call(v, weight, callee="proj")'), "GS204", "calls itself"),
    ],
)
def test_bad_calls_are_diagnosed(edit, code, text):
    bad = CALLS.replace(*edit)
    diags = gs.verify(gs.parse_ir(bad))
    assert any(d.code == code and text in d.message for d in diags), [d.render() for d in diags]


def test_non_contiguous_module_outlines_to_an_equivalent_order():
    m = gs.parse_ir("""\
graph G(x: f32[4], y: f32[4]) -> (f32[4], f32[4]) {
  module m : M {
    %0: f32[4] = relu(x)
  }
  %1: f32[4] = exp(%0)
  %2: f32[4] = sin(y)
  module m : M {
    %3: f32[4] = add(%2, x)
  }
  return %1, %3
}
""")
    outlined = gs.run_pipeline(m, "outline{module=m}")
    text = gs.print_ir(outlined)
    # the call sits where the module's last op was; exp, which reads the module, moved below it
    assert text.index("call(x, %2") < text.index("exp(%0)")
    back = gs.run_pipeline(outlined, "inline")
    assert gs.verify(back) == []
    assert_same_numerics(m, back)
    assert_same_numerics(m, outlined)


def test_outline_errors_leave_the_input_alone():
    m = model("gpt2")
    before = gs.print_ir(m)
    with pytest.raises(gs.PassError) as info:
        gs.run_pipeline(m, "outline{module=transformer.h.7}")
    (d,) = info.value.diagnostics
    assert d.code == "GS405" and ("transformer.h.0" in d.fix or "transformer.h.1" in d.fix)
    assert gs.print_ir(m) == before


def test_lower_picks_the_entry_graph():
    outlined = gs.run_pipeline(model("vit"), "outline")
    assert len(names(outlined)) > 2
    assert lower(outlined).__class__.__name__ == names(outlined)[0]


def test_sequential_module_names():
    """nn.Sequential children are named 0, 1, ...: the callee graph gets a name the grammar reads,
    insert-block a parameter key that reads as a name, and `after=0` is a module path, not an int."""
    m = gs.parse_ir("""\
graph S(x: f32[B, 4]) -> f32[B, 4] {
  module 0 : ReLU {
    %0: f32[B, 4] = relu(x)
  }
  module 1 : Tanh {
    %1: f32[B, 4] = tanh(%0)
  }
  return %1
}
""")
    outlined = gs.run_pipeline(m, "outline")
    assert names(outlined) == ["S", "m_0", "m_1"]
    assert gs.print_ir(gs.parse_ir(gs.print_ir(outlined))) == gs.print_ir(outlined)
    assert gs.print_ir(gs.run_pipeline(outlined, "inline")) == gs.print_ir(m)
    adapted = gs.run_pipeline(m, "insert-block{after=0 before=1 block=adapter hidden=2}")
    assert "param _0_to_1_adapter.up.weight: f32[4, 2]" in gs.print_ir(gs.parse_ir(gs.print_ir(adapted)))
    assert_same_numerics(m, adapted)
