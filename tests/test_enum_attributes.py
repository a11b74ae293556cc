"""Enumerated attributes: the values a str attribute may take are declared with the attribute
(``AttrSpec.choices`` in graphsynth/dialects/gs.py) and nowhere else; the verifier refuses any
other value (GS209) whatever built the op (text, MLIR input, a pass), and the op list of
``--list-ops`` and of the model's prompt shows the values."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from graphsynth.cli import emit, parse_mlir
from graphsynth.cli import main as cli_main
from graphsynth.dialects import gs
from graphsynth.grammar.parser import parse_ir
from graphsynth.llm.prompt import op_reference
from graphsynth.verifier import verify

ENUMS = [(name, a) for name, cls in sorted(gs.OPS.items()) for a in cls.SPEC.attrs if a.choices is not None]

# An op line per op with an enumerated attribute: {value} is where the attribute's value goes.
LINES = {
    ("gelu", "approximate"): "%0: f32[B, 4, 4, 4] = gelu(x, approximate={value})",
    ("div", "rounding_mode"): "%0: f32[B, 4, 4, 4] = div(x, 2.0, rounding_mode={value})",
    ("linear_act", "activation"): '%0: f32[B, 4, 4, 4] = linear_act(x, w, activation={value}, approximate="none")',
    ("linear_act", "approximate"): '%0: f32[B, 4, 4, 4] = linear_act(x, w, activation="gelu", approximate={value})',
    ("interpolate", "mode"): "%0: f32[B, 4, 4, 4] = interpolate(x, size=[4, 4], mode={value})",
    ("fft", "norm"): "%1: c64[B, 4, 4, 4] = fft(x, dims=[-2, -1], norm={value})\n  %0: f32[B, 4, 4, 4] = real(%1)",
    ("rfft", "norm"): "%1: c64[B, 4, 4, 3] = rfft(x, dims=[-1], norm={value})\n  %0: f32[B, 4, 4, 4] = irfft(%1, dims=[-1], n=4)",
    ("irfft", "norm"): "%0: f32[B, 4, 4, 4] = irfft(z, dims=[-1], n=4, norm={value})",
}
HEAD = "graph G(x: f32[B, 4, 4, 4], z: c64[B, 4, 4, 3]) -> f32[B, 4, 4, 4] {\n  param w: f32[4, 4]\n"


def text_with(op: str, attr: str, value: str) -> str:
    return HEAD + "  " + LINES[(op, attr)].format(value=value) + "\n  return %0\n}\n"


def test_every_enumerated_attribute_is_covered() -> None:
    assert {(op, a.name) for op, a in ENUMS} == set(LINES)
    for _, a in ENUMS:
        assert a.kind == "str" and a.choices and all(isinstance(c, str) for c in a.choices)


@pytest.mark.parametrize("op, attr", sorted(LINES))
def test_each_declared_value_verifies(op: str, attr: str) -> None:
    spec = gs.OPS[op].SPEC.attr_index[attr]
    for value in spec.choices:
        assert verify(parse_ir(text_with(op, attr, f'"{value}"'))) == [], (op, attr, value)


@pytest.mark.parametrize("op, attr", sorted(LINES))
@pytest.mark.parametrize("bad", ["", "Tanh", "none ", "exact", "nearest\\nimport os", "\u0074anh\u200b", "x" * 500])
def test_other_values_are_refused_by_the_verifier(op: str, attr: str, bad: str) -> None:
    spec = gs.OPS[op].SPEC.attr_index[attr]
    if bad in spec.choices:
        return
    diags = verify(parse_ir(text_with(op, attr, '"' + bad + '"'), filename="e.gs"))
    assert [d.code for d in diags] == ["GS209"], [d.render() for d in diags]
    d = diags[0]
    assert d.message.startswith(f"{op}: attribute '{attr}' must be one of ")
    assert all(repr(c) in d.message for c in spec.choices)
    assert d.loc is not None and d.loc.line == 3 and d.op == op
    assert len(d.message) < 300


def test_none_is_allowed_only_where_it_is_the_default() -> None:
    assert verify(parse_ir(text_with("div", "rounding_mode", "None"))) == []
    with pytest.raises(Exception) as e:
        parse_ir(text_with("gelu", "approximate", "None"))
    assert "GS106" in str(e.value.diagnostics[0].code)


def test_values_from_mlir_input_are_checked_too() -> None:
    m = parse_ir(text_with("gelu", "approximate", '"tanh"'))
    text = emit(m, "mlir").replace('approximate = "tanh"', 'approximate = "sigmoid"')
    diags = verify(parse_mlir(text, "e.mlir"))
    assert [d.code for d in diags] == ["GS209"] and "'sigmoid'" in diags[0].message


def test_values_set_by_a_pass_are_checked_too() -> None:
    from xdsl.dialects.builtin import StringAttr

    m = parse_ir(text_with("interpolate", "mode", '"bilinear"'))
    op = next(o for o in m.walk() if isinstance(o, gs.GsOp) and o.SPEC.name == "interpolate")
    op.properties["mode"] = StringAttr("area")
    assert [d.code for d in verify(m)] == ["GS209"]


def test_the_values_are_shown_where_ops_are_listed() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(["--list-ops"]) == 0
    listing = out.getvalue()
    prompt = op_reference()
    for op, a in ENUMS:
        shown = gs.OPS[op].SPEC.signature()
        assert a.describe() in shown
        assert all(repr(c) in shown for c in a.choices)
        assert shown in listing and shown in prompt
    assert "approximate='none'|'tanh'" in gs.OPS["gelu"].SPEC.signature()
    assert "rounding_mode=None|'trunc'|'floor'" in gs.OPS["div"].SPEC.signature()
    assert "activation=str('relu'|'gelu'|'silu')" in gs.OPS["linear_act"].SPEC.signature()


def test_the_values_are_declared_in_one_place() -> None:
    """The shape rules and the verifier do not keep lists of their own."""
    root = Path(__file__).resolve().parents[1] / "graphsynth"
    for path in (root / "dialects" / "rules.py", *sorted((root / "verifier").glob("*.py"))):
        source = path.read_text()
        for _, a in ENUMS:
            listed = [c for c in a.choices if re.search(rf"[\"']{re.escape(c)}[\"']", source)]
            assert len(listed) < 2, f"{path.name} lists values of {a.name}: {listed}"
