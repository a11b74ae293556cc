"""Names the text form must carry: state_dict keys and module paths of nn.Sequential (0.weight,
2.0.bias, module 0), names that begin like numbers (info, nan.scale), bool literals.  The grammar,
the printer and the verifier's check of what the text form can hold must agree on them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_budget import examples

from graphsynth.diagnostics import ParseError
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.verifier import verify
from graphsynth.verifier.text_form import _MODPATH_RE, _NAME_RE


def param_parses(name: str) -> bool:
    text = f"graph G(X: f32[4]) -> f32[4] {{\n  param {name}: f32[4]\n  %0: f32[4] = add(X, {name})\n  return %0\n}}\n"
    try:
        m = parse_ir(text)
    except ParseError:
        return False
    (g,) = m.body.block.ops
    params = [op.param_name.data for op in g.body.block.ops if op.name == "gs.param"]
    return params == [name] and verify(m) == []


def module_parses(path: str) -> bool:
    text = f"graph G(x: f32[4]) -> f32[4] {{\n  module {path} : Block {{\n    %0: f32[4] = relu(x)\n  }}\n  return %0\n}}\n"
    try:
        m = parse_ir(text)
    except ParseError:
        return False
    return print_ir(m) == text and verify(m) == []


@pytest.mark.parametrize(
    "name, ok",
    [
        ("weight", True),
        ("fc1.weight", True),
        ("layers.0.weight", True),
        ("0.weight", True),
        ("2.0.bias", True),
        ("0.0.running_mean", True),
        ("info", True),
        ("nan.scale", True),
        ("inference.w", True),
        ("1.e5x", True),
        ("inf", False),
        ("nan", False),
        ("0", False),
        ("1.5", False),
        ("1.e5", False),
        ("0.", False),
        ("a..b", False),
        ("a-b", False),
    ],
)
def test_param_names(name: str, ok: bool) -> None:
    assert param_parses(name) is ok
    assert bool(_NAME_RE.fullmatch(name)) is ok


@pytest.mark.parametrize("path, ok", [("0", True), ("2.0", True), ("layers.0.attn", True), ("fc1", True), ("a-b", False), ("0.", False)])
def test_module_paths(path: str, ok: bool) -> None:
    assert module_parses(path) is ok
    assert bool(_MODPATH_RE.fullmatch(path)) is ok


@settings(max_examples=examples(300), deadline=None)
@given(st.from_regex(re.compile(r"[a-z0-9_.]{1,8}"), fullmatch=True))
def test_grammar_and_verifier_agree_on_names(name: str) -> None:
    """The verifier flags a name as unprintable exactly when the parser cannot read it back
    (true and false are names too, None is not: it is the None literal where a value may be)."""
    assert param_parses(name) == bool(_NAME_RE.fullmatch(name)), name


def test_bool_literals_round_trip() -> None:
    text = """graph G(m: bool[B, 4], x: f32[B, 4]) -> f32[B, 4] {
  %0: bool[B, 4] = logical_and(m, true)
  %1: bool[B, 4] = logical_or(%0, false)
  %2: f32[B, 4] = where(%1, x, 0.0)
  %3: f32[B, 4] = mul(%2, true)
  return %3
}
"""
    m = parse_ir(text)
    assert verify(m) == []
    assert print_ir(m) == text
    (g,) = m.body.block.ops
    and_op = next(op for op in g.body.block.ops if op.name == "gs.logical_and")
    assert and_op.arg_layout()[1] is True


def test_true_is_a_name_when_an_input_has_it() -> None:
    text = "graph G(true: f32[4]) -> f32[4] {\n  %0: f32[4] = add(true, true)\n  return %0\n}\n"
    m = parse_ir(text)
    (g,) = m.body.block.ops
    add = next(op for op in g.body.block.ops if op.name == "gs.add")
    assert len(add.operands) == 2  # both read the input, no literal
    assert print_ir(m) == text


def test_sequential_import_round_trips() -> None:
    """A model built from nn.Sequential has state_dict keys 0.weight ...: its import prints to
    text that parses back to the same text and verifies."""
    torch = pytest.importorskip("torch")
    import graphsynth as gs

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(8, 2), torch.nn.Tanh()))
    module = gs.import_torch(model, (torch.randn(3, 4),), dynamic_dims={"input": {0: "B"}})
    text = gs.print_ir(module)
    assert "param 0.weight: f32[8, 4]" in text and "module 2.0 : Linear {" in text
    again = gs.parse_ir(text)
    assert gs.verify(again) == []
    assert gs.print_ir(again) == text
    net = gs.lower(again)
    net.load_state_dict(model.state_dict())
    x = torch.randn(5, 4)
    torch.testing.assert_close(net(x), model(x))
