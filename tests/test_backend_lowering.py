"""The lowered module as a whole: state_dict parity, the forward's signature, escaping of names
and strings, runtime symbols, fused regions and the kernel hook, and the refusals."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch
from backend_util import Case, check_case
from torch import nn
from xdsl.dialects.builtin import IntegerAttr, ModuleOp

from graphsynth.backend.lower import LoweringError, lower, lower_graph, tie_shared_parameters, to_python
from graphsynth.diagnostics import VerificationError
from graphsynth.dialects import gs
from graphsynth.grammar.parser import parse_ir

MLP = """
graph MLP(x: f32[B, 8]) -> f32[B, 2, 2] {
  param fc1.weight: f32[6, 8]
  param fc1.bias: f32[6]
  param blocks.0.ln.weight: f32[6]
  param blocks.0.ln.bias: f32[6]
  buffer blocks.0.bn.running_mean: f32[6]
  param head.weight: f32[4, 6]
  param unused.weight: f32[3, 3]
  buffer steps: i64[]
  module fc1 : Linear {
    %0: f32[B, 6] = linear(x, fc1.weight, fc1.bias)
  }
  module blocks.0 : Block {
    module blocks.0.ln : LayerNorm {
      %1: f32[B, 6] = layer_norm(%0, blocks.0.ln.weight, blocks.0.ln.bias, normalized_shape=[6])
    }
    %2: f32[B, 6] = sub(%1, blocks.0.bn.running_mean)
  }
  %3: f32[B, 6] = gelu(%2)
  %4: f32[B, 4] = linear(%3, head.weight)
  %5: f32[B, 2, 2] = reshape(%4, shape=[B, 2, 2])
  return %5
}
"""


class TorchMLP(nn.Module):
    """The same network written in torch, to load weights from and compare with."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 6)
        self.blocks = nn.ModuleList([nn.Module()])
        self.blocks[0].ln = nn.LayerNorm(6)
        self.blocks[0].bn = nn.Module()
        self.blocks[0].bn.register_buffer("running_mean", torch.randn(6))
        self.head = nn.Linear(6, 4, bias=False)
        self.unused = nn.Linear(3, 3, bias=False)
        self.register_buffer("steps", torch.tensor(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks[0].ln(self.fc1(x)) - self.blocks[0].bn.running_mean
        return self.head(nn.functional.gelu(h)).reshape(-1, 2, 2)


def test_state_dict_keys_shapes_and_load() -> None:
    torch.manual_seed(0)
    net = lower(parse_ir(MLP))
    model = TorchMLP()
    assert list(net.state_dict()) == list(model.state_dict())
    for k, v in model.state_dict().items():
        assert net.state_dict()[k].shape == v.shape and net.state_dict()[k].dtype == v.dtype, k
    assert {k for k, _ in net.named_parameters()} == {k for k, _ in model.named_parameters()}
    assert {k for k, _ in net.named_buffers()} == {k for k, _ in model.named_buffers()}
    net.load_state_dict(model.state_dict())  # strict: same keys, same shapes
    for b in (2, 5):
        x = torch.randn(b, 8)
        torch.testing.assert_close(net(x), model(x), rtol=1e-5, atol=1e-6)
    # gradients flow to the same parameters
    x = torch.randn(3, 8)
    net(x).pow(2).sum().backward()
    model(x).pow(2).sum().backward()
    grads = dict(net.named_parameters())
    for k, p in model.named_parameters():
        if p.grad is None:
            assert grads[k].grad is None, k
        else:
            torch.testing.assert_close(grads[k].grad, p.grad, rtol=1e-5, atol=1e-6)


def test_unused_state_is_kept_and_not_read_by_forward() -> None:
    net = lower(parse_ir(MLP))
    assert "unused.weight" in net.state_dict()
    assert "unused" not in net.code and "steps" not in net.code


def test_non_persistent_buffer_stays_out_of_state_dict() -> None:
    module = parse_ir(MLP)
    for op in gs.graph_ops(module)[0].body.block.ops:
        if isinstance(op, gs.ParamOp) and op.param_name.data == "steps":
            op.attributes["persistent"] = IntegerAttr.from_bool(False)
    net = lower(module)
    assert "steps" not in net.state_dict()
    assert "steps" in dict(net.named_buffers())


def test_constants_are_program_not_state() -> None:
    text = """
graph G(x: f32[B, 3]) -> (f32[B, 3], f32[3]) {
  %0: f32[3] = constant(value=[1.0, 2.0, 3.0], shape=[3], dtype=f32)
  %1: f32[B, 3] = add(x, %0)
  return %1, %0
}
"""
    net = lower(parse_ir(text))
    assert list(net.state_dict()) == []
    out, const = net(torch.zeros(2, 3))
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.0, 3.0]] * 2))
    const.mul_(10)  # the returned constant is a copy: the module keeps its value
    torch.testing.assert_close(net(torch.zeros(1, 3))[1], torch.tensor([1.0, 2.0, 3.0]))


def test_outputs_single_tuple_and_passthrough() -> None:
    text = """
graph G(x: f32[B], y: f32[B]) -> (f32[B], f32[B], f32[B]) {
  %0: f32[B] = add(x, y)
  return %0, x, %0
}
"""
    net = lower(parse_ir(text))
    x, y = torch.randn(4), torch.randn(4)
    a, b, c = net(x, y)
    assert b is x and a is c
    single = lower(parse_ir(MLP))(torch.randn(2, 8))
    assert isinstance(single, torch.Tensor)


def test_forward_keeps_input_names_and_order() -> None:
    text = """
graph G(input_ids: i64[B, S], attention_mask: i64[B, S], input: f32[B]) -> f32[B, S] {
  %0: f32[B, S] = cast(input_ids, dtype=f32)
  %1: f32[B, S] = mul(%0, attention_mask)
  %2: f32[B, 1] = unsqueeze(input, dim=1)
  %3: f32[B, S] = add(%1, %2)
  return %3
}
"""
    net = lower(parse_ir(text))
    params = list(inspect.signature(net.forward).parameters)
    assert params == ["input_ids", "attention_mask", "input"]
    ids, mask, v = torch.randint(0, 9, (2, 3)), torch.randint(0, 2, (2, 3)), torch.randn(2)
    want = ids.float() * mask + v[:, None]
    torch.testing.assert_close(net(input=v, attention_mask=mask, input_ids=ids), want)
    torch.testing.assert_close(net(ids, mask, v), want)


def test_unsafe_input_names_are_renamed_not_pasted() -> None:
    text = """
graph G(self: f32[B], torch: f32[B], class: f32[B], a.b: f32[B], getattr: f32[B]) -> f32[B] {
  %0: f32[B] = add(self, torch)
  %1: f32[B] = add(%0, class)
  %2: f32[B] = add(%1, a.b)
  %3: f32[B] = mul(%2, getattr)
  %4: f32[B] = exp(%3)
  return %4
}
"""
    net = lower(parse_ir(text))
    params = list(inspect.signature(net.forward).parameters)
    assert len(params) == 5 and len(set(params)) == 5
    assert not {"self", "torch", "class", "a.b", "getattr"} & set(params)
    xs = [torch.randn(3) for _ in range(5)]
    torch.testing.assert_close(net(*xs), torch.exp((xs[0] + xs[1] + xs[2] + xs[3]) * xs[4]))


def test_value_names_and_strings_never_reach_the_code_raw() -> None:
    block_arg_type = gs.tensor_type((2,), "f32")
    from xdsl.dialects.builtin import ArrayAttr, StringAttr
    from xdsl.ir import Block, Region

    block = Block(arg_types=[block_arg_type])
    evil = "x'); import os; os.system('echo pwned') #\n"
    op = gs.make_op("relu", [block.args[0]], {}, [block_arg_type], names=[evil])
    ret = gs.ReturnOp.create(operands=[op.results[0]])
    block.add_ops([op, ret])
    graph = gs.GraphOp.create(
        properties={
            "sym_name": StringAttr("G'\nimport os"),
            "arg_names": ArrayAttr([StringAttr("x)\nimport os#")]),
            "output_types": ArrayAttr([block_arg_type]),
            "modules": ArrayAttr([]),
        },
        regions=[Region(block)],
    )
    ModuleOp([graph])
    net = lower_graph(graph)  # the escaping is the backend's job whatever the verifier thinks of such names
    tree = ast.parse(net.code)
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls == {"torch.relu"}, calls
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    torch.testing.assert_close(net(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))


@pytest.mark.parametrize(
    "line",
    [
        '%0: f32[B] = gelu(x, approximate="none\\")\\nimport os #")',
        '%0: f32[B] = div(x, 2.0, rounding_mode="floor\')); import os #")',
    ],
)
def test_bad_enum_strings_are_refused(line: str) -> None:
    """The verifier refuses a value outside the attribute's declared choices; the backend,
    lowering without the verifier, refuses it too (defence in depth)."""
    text = f"graph G(x: f32[B]) -> f32[B] {{\n  {line}\n  return %0\n}}\n"
    module = parse_ir(text)
    with pytest.raises(VerificationError) as v:
        lower(module)
    assert v.value.diagnostics[0].code == "GS209" and "must be one of" in v.value.diagnostics[0].message
    with pytest.raises(LoweringError) as e:
        lower_graph(gs.graph_ops(module)[0])
    assert e.value.diagnostics[0].code == "GS604"
    assert "is not one of" in e.value.diagnostics[0].message


def test_unverified_ir_is_refused_with_its_diagnostics() -> None:
    text = """
graph G(x: f32[B, 784]) -> f32[B, 256] {
  param fc1.weight: f32[256, 700]
  %0: f32[B, 256] = linear(x, fc1.weight)
  return %0
}
"""
    with pytest.raises(VerificationError) as e:
        lower(parse_ir(text, filename="bad.gs"))
    diags = e.value.diagnostics
    assert diags and diags[0].code == "GS301"
    assert "784" in diags[0].message and "700" in diags[0].message


def test_symbol_without_a_binding_is_a_lowering_error() -> None:
    text = """
graph G(x: f32[S*S]) -> i64[S] {
  %0: i64[S] = arange(end=S)
  return %0
}
"""
    with pytest.raises(LoweringError) as e:
        lower(parse_ir(text))
    assert e.value.diagnostics[0].code == "GS604" and "'S'" in e.value.diagnostics[0].message


def test_graph_choice() -> None:
    text = MLP + "\ngraph Other(y: f32[3]) -> f32[3] {\n  %0: f32[3] = neg(y)\n  return %0\n}\n"
    module = parse_ir(text)
    with pytest.raises(LoweringError) as e:
        lower(module)
    assert "graph=NAME" in e.value.diagnostics[0].message
    torch.testing.assert_close(lower(module, graph="Other")(torch.ones(3)), -torch.ones(3))
    with pytest.raises(LoweringError):
        lower(module, graph="Missing")


def test_symbols_are_read_once_and_dims_shared() -> None:
    text = """
graph G(x: f32[B, S, 4]) -> f32[B, S, 2, 2] {
  %0: f32[B*S, 4] = reshape(x, shape=[B*S, 4])
  %1: f32[B*S, 4] = relu(%0)
  %2: f32[B*S, 2, 2] = reshape(%1, shape=[B*S, 2, 2])
  %3: f32[B, S, 2, 2] = reshape(%2, shape=[B, S, 2, 2])
  return %3
}
"""
    net = lower(parse_ir(text))
    sizes = [n for n in net.graph.nodes if n.op == "call_method" and n.target == "size"]
    muls = [n for n in net.graph.nodes if n.op == "call_function" and "mul" in str(n.target)]
    assert len(sizes) == 2 and len(muls) == 1
    assert "view" not in net.code
    for b, s in ((1, 1), (2, 7)):
        x = torch.randn(b, s, 4)
        torch.testing.assert_close(net(x), x.relu().reshape(b, s, 2, 2))


def test_generated_forward_is_straight_line() -> None:
    net = lower(parse_ir(MLP))
    assert {n.op for n in net.graph.nodes} <= {"placeholder", "get_attr", "call_function", "call_method", "output"}
    body = net.code.split("def forward", 1)[1]
    for word in (" for ", "while ", "Interpreter", "[\""):
        assert word not in body


def test_creation_ops_follow_the_input_device() -> None:
    text = """
graph G(x: f32[B, S]) -> f32[B, S] {
  %0: i64[S] = arange(end=S)
  %1: f32[B, S] = full(shape=[B, S], value=1.5, dtype=f32)
  %2: f32[B, S] = add(x, %0)
  %3: f32[B, S] = mul(%2, %1)
  return %3
}
"""
    net = lower(parse_ir(text))
    out = net(torch.empty(2, 5, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 5)


def test_batch_norm_training_updates_running_stats_like_torch() -> None:
    text = """
graph G(x: f32[B, 3, S]) -> f32[B, 3, S] {
  param bn.weight: f32[3]
  param bn.bias: f32[3]
  buffer bn.running_mean: f32[3]
  buffer bn.running_var: f32[3]
  %0: f32[B, 3, S] = batch_norm(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, momentum=0.2, training=true)
  return %0
}
"""
    net = lower(parse_ir(text))
    bn = nn.BatchNorm1d(3, momentum=0.2)
    with torch.no_grad():
        bn.weight.normal_()
        bn.bias.normal_()
    net.load_state_dict({f"bn.{k}": v.clone() for k, v in bn.state_dict().items() if k != "num_batches_tracked"})
    x = torch.randn(4, 3, 5)
    torch.testing.assert_close(net(x), bn.train()(x))
    torch.testing.assert_close(net.bn.running_mean, bn.running_mean)
    torch.testing.assert_close(net.bn.running_var, bn.running_var)


FUSED = """
graph G(x: f32[B, S], y: f32[S]) -> (f32[B, S], f32[B, S]) {
  %0: f32[B, S], %1: f32[B, S] = fused(x, y) {
    ^(%a: f32[B, S], %b: f32[S])
    %t: f32[B, S] = add(%a, %b)
    %u: f32[B, S] = relu(%t)
    %v: f32[B, S] = mul(%u, %a)
    yield %u, %v
  }
  %2: f32[B, S] = sub(%1, 1.0)
  return %0, %2
}
"""


def _fused_ref(t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    u = torch.relu(t["x"] + t["y"])
    return u, u * t["x"] - 1.0


def test_fused_region_is_inlined() -> None:
    check_case(Case("fused_inline", FUSED, _fused_ref))
    net = lower(parse_ir(FUSED))
    assert not any(n.op == "call_module" for n in net.graph.nodes)


def test_fused_hook_with_a_function() -> None:
    calls = []

    def kernel(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        u = torch.relu(a + b)
        return u, u * a

    seen = []

    def hook(op: gs.FusedOp):
        seen.append(op)
        return kernel

    net = lower(parse_ir(FUSED), fused=hook)
    assert len(seen) == 1 and isinstance(seen[0], gs.FusedOp)
    x, y = torch.randn(2, 3), torch.randn(3)
    got = net(x, y)
    want = _fused_ref({"x": x, "y": y})
    assert calls == [1]
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
    assert "relu" not in net.code  # the region's body was not inlined


def test_fused_hook_with_a_module_and_declining_hook() -> None:
    class Kernel(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            u = torch.relu(a + b)
            return u, u * a

    net = lower(parse_ir(FUSED), fused=lambda op: Kernel())
    assert [n.target for n in net.graph.nodes if n.op == "call_module"] == ["_gs_fused.k0"]
    assert list(net.state_dict()) == []
    x, y = torch.randn(2, 3), torch.randn(3)
    for a, b in zip(net(x, y), _fused_ref({"x": x, "y": y})):
        torch.testing.assert_close(a, b)
    inlined = lower(parse_ir(FUSED), fused=lambda op: None)
    assert not any(n.op == "call_module" for n in inlined.graph.nodes)
    with pytest.raises(LoweringError):
        lower(parse_ir(FUSED), fused=lambda op: nn.Linear(2, 2))  # a kernel must not carry state


def test_to_python_lists_state_and_code() -> None:
    text = to_python(parse_ir(MLP))
    assert "#   fc1.weight: param f32[6, 8]" in text
    assert "#   blocks.0.bn.running_mean: buffer f32[6]" in text
    assert "def forward(self, x):" in text
    assert "torch.layer_norm(" in text and "torch.reshape(" in text
    compile(text, "<emit>", "exec")  # comments plus a function: valid Python to read


def test_tie_shared_parameters_restores_tied_gradients() -> None:
    text = """
graph Tied(ids: i64[B, S]) -> f32[B, S, 10] {
  param wte.weight: f32[10, 4]
  param lm_head.weight: f32[10, 4]
  %0: f32[B, S, 4] = embedding(wte.weight, ids)
  %1: f32[B, S, 10] = linear(%0, lm_head.weight)
  return %1
}
"""

    class TiedModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(10, 4)
            self.lm_head = nn.Linear(4, 10, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.lm_head(self.wte(ids))

    model = TiedModel()
    net = lower(parse_ir(text))
    net.load_state_dict(model.state_dict())
    assert tie_shared_parameters(net, model) == [["wte.weight", "lm_head.weight"]]
    assert net.lm_head.weight is net.wte.weight
    ids = torch.randint(0, 10, (2, 3))
    net(ids).pow(2).sum().backward()
    model(ids).pow(2).sum().backward()
    torch.testing.assert_close(net.wte.weight.grad, model.wte.weight.grad)


def test_pow_with_negative_literal_base_keeps_its_sign() -> None:
    """fx prints operator.pow(-2.0, x) as `-2.0 ** x`, i.e. -(2.0 ** x); the lowering must not."""
    m = parse_ir("graph P(x: f32[3]) -> f32[3] {\n  %0: f32[3] = pow(-2.0, x)\n  return %0\n}\n")
    x = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(lower(m)(x), torch.pow(-2.0, x))
