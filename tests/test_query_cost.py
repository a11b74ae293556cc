"""graphsynth.query.cost: parameter counts and symbolic FLOPs, against hand counts and torch."""

from __future__ import annotations

import pytest

from graphsynth.dialects.shapes import evaluate, parse_dim
from graphsynth.grammar.parser import parse_ir
from graphsynth.query import QueryError, cost

MLP = """
graph MLP(x: f32[B, 784]) -> f32[B, 10] {
  param fc1.weight: f32[256, 784]
  param fc1.bias: f32[256]
  param fc2.weight: f32[10, 256]
  buffer norm.running: f32[10]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  }
  %1: f32[B, 256] = relu(%0)
  module fc2 : Linear {
    %2: f32[B, 10] = linear(%1, fc2.weight)
  }
  %3: f32[B, 10] = softmax(%2, dim=-1)
  %4: f32[B, 5, 2] = reshape(%3, shape=[B, 5, 2])
  %5: f32[B, 10] = reshape(%4, shape=[B, 10])
  return %5
}
"""

MISC = """
graph Misc(x: f32[N, 3, 32, 32], q: f32[B, 4, S, 16], t: f32[B, S, 768]) -> (f32[N, 16, 32, 32], f32[B, 4, S, 16], f32[B, S, 3072], f32[N, 16, 64, 64], f32[B, S, 768]) {
  param conv.weight: f32[16, 3, 3, 3]
  param conv.bias: f32[16]
  param fc.weight: f32[3072, 768]
  param ln.weight: f32[768]
  param ln.bias: f32[768]
  module conv : Conv2d {
    %c: f32[N, 16, 32, 32] = conv2d(x, conv.weight, conv.bias, padding=[1, 1])
  }
  %a: f32[B, 4, S, 16] = attention(q, q, q, is_causal=true)
  module fc : Linear {
    %f: f32[B, S, 3072] = linear(t, fc.weight)
  }
  %u: f32[N, 16, 64, 64] = interpolate(%c, size=[64, 64])
  %v: f32[N, 16, 64, 64] = interpolate(%u, size=[64, 64])
  module ln : LayerNorm {
    %l: f32[B, S, 768] = layer_norm(t, ln.weight, ln.bias, normalized_shape=[768])
  }
  return %c, %a, %f, %v, %l
}
"""


def op(report, value):
    return next(o for o in report.ops if o.value == value)


def test_mlp_flops_and_params_by_hand():
    r = cost(parse_ir(MLP))
    B = parse_dim("B")
    assert op(r, "%0").formula == "2*B*784*256 + B*256"
    assert op(r, "%2").formula == "2*B*256*10"
    assert op(r, "%1").formula == "B*256" and op(r, "%3").formula == "5*B*10"
    assert op(r, "%4").flops == 0 and op(r, "%4").known  # data movement is free, not unknown
    expected = 2 * B * 784 * 256 + B * 256 + B * 256 + 2 * B * 256 * 10 + 5 * B * 10
    assert r.total.flops == expected
    assert r["fc1"].flops == 2 * B * 784 * 256 + B * 256
    assert r["fc1"].params == 784 * 256 + 256 and r["fc2"].params == 2560
    assert r.total.params == 784 * 256 + 256 + 2560 and r.total.buffers == 10
    assert r.total.ops == 6 and r["fc1"].ops == 1
    assert r.unknown == {}
    assert r.total.flops_value is None


def test_bindings_give_numbers():
    r = cost(parse_ir(MLP), {"B": 3})
    assert r.total.flops_value == 3 * (2 * 784 * 256 + 256 + 256 + 2 * 256 * 10 + 50)
    assert r["fc2"].flops_value == 3 * 2 * 256 * 10
    table = r.table()
    assert "fc1" in table and f"{r.total.flops_value:,}" in table and "FLOPs @ B=3" in table
    d = r.to_dict()
    assert d["bindings"] == {"B": 3} and d["ops"][0]["flops_value"] == 3 * (2 * 784 * 256 + 256)


def test_missing_or_bad_bindings_are_diagnostics():
    m = parse_ir(MISC)
    with pytest.raises(QueryError) as e:
        cost(m, {"B": 2})
    d = e.value.diagnostics[0]
    assert d.code == "GS704" and "N, S" in d.message and d.fix
    with pytest.raises(QueryError) as e:
        cost(m, {"B": 2, "S": 0, "N": 1})
    assert e.value.diagnostics[0].code == "GS704"


def test_formulas_of_conv_attention_linear_norm_and_interpolate():
    r = cost(parse_ir(MISC))
    # The brief's example: a linear layer from 768 to 3072 features.
    assert op(r, "%f").formula == "2*B*S*768*3072"
    assert op(r, "%c").formula == "2*N*16*32*32*3*3*3 + N*16*32*32"
    assert op(r, "%a").formula == "2*B*4*S*S*16 + 6*B*4*S*S + 2*B*4*S*S*16 + B*4*S*S"
    assert op(r, "%l").formula == "5*B*S*768 + B*S*768 + B*S*768"
    # Nearest-neighbour interpolation only picks source pixels: a known count of 0.
    assert r.unknown == {} and op(r, "%u").known and op(r, "%u").flops == 0
    b = {"B": 2, "S": 8, "N": 3}
    assert evaluate(r["conv"].flops, b) == 2 * 3 * 16 * 32 * 32 * 27 + 3 * 16 * 32 * 32
    assert r["conv"].params == 16 * 27 + 16 and r["ln"].params == 1536


def test_fused_regions_count_their_ops():
    text = """
graph F(x: f32[B, 4]) -> f32[B, 4] {
  %y: f32[B, 4] = fused(x) {
    ^(%a: f32[B, 4])
    %r: f32[B, 4] = relu(%a)
    %s: f32[B, 4] = mul(%r, 2.0)
    yield %s
  }
  return %y
}
"""
    r = cost(parse_ir(text))
    assert op(r, "%y").op == "fused" and op(r, "%y").formula == "B*4 + B*4"


def test_matrix_flops_agree_with_torch_flop_counter():
    """torch.utils.flop_counter counts 2*M*K*N per matrix product (not bias, not softmax): the
    matrix terms of our formulas must give the same numbers."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    r = cost(parse_ir(MISC))
    b = {"B": 2, "S": 8, "N": 3}
    x, q, t = torch.randn(3, 3, 32, 32), torch.randn(2, 4, 8, 16), torch.randn(2, 8, 768)
    w, cb, fw = torch.randn(16, 3, 3, 3), torch.randn(16), torch.randn(3072, 768)
    checks = [
        ("%c", [0], lambda: torch.nn.functional.conv2d(x, w, cb, padding=1)),
        ("%f", [0], lambda: torch.nn.functional.linear(t, fw)),
        # The CPU sdpa kernel is not in the flop counter's table; the math form of attention is.
        ("%a", [0, 2], lambda: torch.softmax(q @ q.transpose(-1, -2) * 0.25, dim=-1) @ q),
    ]
    for value, matrix_terms, fn in checks:
        with FlopCounterMode(display=False) as counter:
            fn()
        from graphsynth.query.costs import term_value

        ours = sum(evaluate(term_value(op(r, value).terms[i]), b) for i in matrix_terms)
        assert ours == counter.get_total_flops(), value
