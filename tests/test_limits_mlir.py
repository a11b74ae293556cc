"""MLIR input is refused before it materialises more than the budget (graphsynth/grammar/mlir.py):
dense attributes (through any syntax that reaches one, type aliases included), integer types too
wide, literals too long, brackets nested too deep; each with its code at its position, in bounded
time and memory.  And both input forms accept exactly the same dims: the text form's reading and
range check are the MLIR reader's."""

from __future__ import annotations

import resource
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_budget import examples

from graphsynth.cli import emit, parse_mlir
from graphsynth.diagnostics import ParseError
from graphsynth.dialects.limits import MAX_ATTR_ELEMENTS, MAX_INT, MAX_MLIR_NESTING
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.testing.hostile import dim_texts, huge_ints
from graphsynth.verifier import verify


def module(dim: str = '"B"', props: str = "", prelude: str = "") -> str:
    t = f"!gs.tensor<f32, [{dim}, 4]>"
    return (
        prelude + '"builtin.module"() ({\n'
        f'  "gs.graph"() <{{sym_name = "G", arg_names = ["x"], output_types = [{t}], modules = []}}> ({{\n'
        f"  ^bb0(%0: {t}):\n"
        f'    %1 = "gs.relu"(%0) <{{names = ["0"]{props}}}> : ({t}) -> {t}\n'
        f'    "gs.return"(%1) : ({t}) -> ()\n'
        "  }) : () -> ()\n"
        "}) : () -> ()\n"
    )


def refused(text: str) -> list:
    with pytest.raises(ParseError) as e:
        parse_mlir(text, "in.mlir")
    diags = e.value.diagnostics
    assert diags and all(d.loc is not None and d.loc.file == "in.mlir" for d in diags), [d.render() for d in diags]
    return diags


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    "props, prelude",
    [
        (", w = dense<1.0> : tensor<300000000xf32>", ""),
        (", w = dense<1> : tensor<100000x100000xi8>", ""),
        (", w = dense<2.5> : vector<65536x65536xf64>", ""),
        (", w = dense<\"0x0000803F\"> : tensor<300000000xf32>", ""),  # a hex splat
        (", w = dense<(1.0, 2.0)> : tensor<50000000xcomplex<f32>>", ""),
        (", w = dense<1.0> : !big", "!big = tensor<300000000xf32>\n"),  # through a type alias
        (", w = dense<1.0> : tensor<4611686018427387904x4xf32>", ""),
    ],
)
def test_large_dense_attributes_are_refused_before_they_exist(props: str, prelude: str) -> None:
    before = peak_mb()
    t0 = time.perf_counter()
    (d,) = refused(module(props=props, prelude=prelude))
    assert time.perf_counter() - t0 < 2.0
    assert peak_mb() - before < 200
    assert d.code == "GS308", d.render()
    assert f"over the limit of {MAX_ATTR_ELEMENTS}" in d.message
    assert d.loc.line == 4 + prelude.count("\n")


def test_dense_attributes_within_the_budget_are_read() -> None:
    # Not a property of gs.relu, so the op is malformed (GS211) -- but only after being read.
    (d,) = refused(module(props=", w = dense<1.0> : tensor<4x4xf32>"))
    assert d.code == "GS211" and "w" in d.message


@pytest.mark.parametrize("width", ["i16777216", "i99999999999", "si" + "9" * 30, "ui" + "1" * 20])
def test_integer_types_too_wide_are_refused(width: str) -> None:
    t0 = time.perf_counter()
    (d,) = refused(module(props=f", w = 5 : {width}"))
    assert time.perf_counter() - t0 < 2.0
    assert d.code == "GS308" and d.loc.line == 4, d.render()


@given(huge_ints(41, 6000))
@settings(max_examples=30, deadline=None, database=None)
def test_long_literals_are_refused_at_their_position(digits: str) -> None:
    text = module(props=f", w = {digits} : i64")
    (d,) = refused(text)
    assert d.code == "GS108", d.render()
    assert (d.loc.line, d.loc.column) == (4, text.splitlines()[3].index(digits) + 1)


@pytest.mark.parametrize("depth", [MAX_MLIR_NESTING + 1, 200, 5000])
def test_deep_nesting_is_refused_at_the_first_bracket_too_deep(depth: int) -> None:
    text = module(props=", w = " + "[" * depth + "]" * depth)
    (d,) = refused(text)
    assert d.code == "GS109" and d.loc.line == 4, d.render()


def test_brackets_inside_strings_and_comments_do_not_count() -> None:
    deep = "[" * 500
    text = f"// {deep}\n" + module(props=f', note = "{deep}"')
    (d,) = refused(text)
    assert d.code == "GS211", d.render()  # read (then refused as an unknown property)


# -- one range for both forms ------------------------------------------------------------------


def text_form(dim: str) -> tuple[str, str | None]:
    try:
        m = parse_ir(f"graph G(x: f32[{dim}, 4]) -> f32[{dim}, 4] {{\n  return x\n}}\n")
    except ParseError as e:
        return "refused", e.diagnostics[0].code
    return "accepted", print_ir(m)


def mlir_form(dim_attr: str) -> tuple[str, str | None]:
    t = f"!gs.tensor<f32, [{dim_attr}, 4]>"
    text = (
        '"builtin.module"() ({\n'
        f'  "gs.graph"() <{{sym_name = "G", arg_names = ["x"], output_types = [{t}], modules = []}}> ({{\n'
        f"  ^bb0(%0: {t}):\n"
        f'    "gs.return"(%0) : ({t}) -> ()\n'
        "  }) : () -> ()\n"
        "}) : () -> ()\n"
    )
    try:
        m = parse_mlir(text, "t.mlir")
    except ParseError as e:
        return "refused", e.diagnostics[0].code
    assert verify(m) == []
    return "accepted", print_ir(m)


@pytest.mark.parametrize(
    "dim",
    [str(MAX_INT), str(MAX_INT + 1), str(2**64), "0", "1", "99999999999999999999", "0000000000000000000000042"],
)
def test_integer_dims_have_one_range(dim: str) -> None:
    text = text_form(dim)
    assert mlir_form(dim) == text  # an integer attribute
    assert mlir_form(f'"{dim}"') == text  # a dim expression that is an integer
    if text[0] == "refused":
        assert text[1] == "GS108"


@given(dim_texts())
@settings(max_examples=examples(250), deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_both_forms_accept_the_same_dims(dim: str) -> None:
    """Whatever dim the text form accepts, MLIR input accepts as the same type, and what one
    refuses the other refuses with the same code."""
    if '"' in dim or "\\" in dim or "\n" in dim or "\u2028" in dim:
        return
    a, b = text_form(dim), mlir_form(f'"{dim}"')
    assert a == b, (dim, a, b)


@given(st.integers(-(2**70), 2**70))
@settings(max_examples=100, deadline=None, database=None)
def test_integer_attribute_dims_match_the_text_range(value: int) -> None:
    text_verdict = text_form(str(value))
    mlir_verdict = mlir_form(str(value))
    assert text_verdict[0] == mlir_verdict[0], (value, text_verdict, mlir_verdict)


def test_accepted_mlir_round_trips_through_both_forms() -> None:
    m = parse_ir("graph G(x: f32[B, 2*S+1, 9223372036854775807]) -> f32[B, 2*S+1, 9223372036854775807] {\n  return x\n}\n")
    again = parse_mlir(emit(m, "mlir"), "rt.mlir")
    assert verify(again) == [] and print_ir(again) == print_ir(m)


@pytest.mark.parametrize(
    "old, new",
    [
        ("#builtin.int<4>]", "#builtin.int<18446744073709551616>]"),  # a dims attribute
        ("dim = #builtin.int<1>", "dim = #builtin.int<-9223372036854775809>"),  # an int attribute
        ("rhs = #builtin.int<2>", "rhs = #builtin.int<9223372036854775808>"),  # a literal operand
    ],
)
def test_integer_attributes_beyond_int64_are_gs108(old: str, new: str) -> None:
    """The text form could not write them back: the verifier refuses them as the parser would."""
    m = parse_ir(
        "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = softmax(x, dim=1)\n"
        "  %1: f32[B, 4] = reshape(%0, shape=[B, 4])\n  %2: f32[B, 4] = mul(%1, 2)\n  return %2\n}\n"
    )
    text = emit(m, "mlir")
    assert old in text
    diags = verify(parse_mlir(text.replace(old, new), "ints.mlir"))
    assert [d.code for d in diags] == ["GS108"], [d.render() for d in diags]
    assert diags[0].loc is not None and diags[0].loc.file == "ints.mlir"


@pytest.mark.parametrize("name", ["None", "inf", "nan"])
@pytest.mark.parametrize("where", ["param", "input"])
def test_names_the_text_form_reads_as_literals_are_refused(name: str, where: str) -> None:
    """A parameter or input named like a literal (None, inf, nan) would print as that literal: a
    bias named None reads back as a bias left out.  MLIR input can carry any name, so the
    verifier refuses these, located, instead of letting the round trip change the graph."""
    text = emit(parse_ir("graph G(x: f32[B, 4]) -> f32[B, 4] {\n  param w: f32[4]\n  %0: f32[B, 4] = add(x, w)\n  return %0\n}\n"),
                "mlir")
    old = '"w"' if where == "param" else '"x"'
    assert old in text
    diags = verify(parse_mlir(text.replace(old, f'"{name}"'), "in.mlir"))
    assert [d.code for d in diags] == ["GS211"], [d.render() for d in diags]
    assert repr(name) in diags[0].message and diags[0].loc is not None and diags[0].loc.file == "in.mlir"
    # A longer name that merely starts so is a name.
    assert verify(parse_mlir(text.replace(old, f'"{name}.weight"' if where == "param" else f'"{name}_x"'), "in.mlir")) == []


def test_a_type_text_is_read_by_xdsl_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph repeats a few types: the lexer reads each distinct type text once (the reads do
    not grow with the number of ops), later copies come from what it read, and a type the text
    form refuses is refused at every copy, at its own position."""
    from graphsynth.dialects import types

    calls: list[int] = []
    real = types.TensorType._parse_parameters.__func__

    def spy(cls, parser):
        calls.append(parser.pos)
        return real(cls, parser)

    monkeypatch.setattr(types.TensorType, "_parse_parameters", classmethod(spy))
    reads = []
    for n in (20, 200):
        types._PARAMS_CACHE.clear()
        calls.clear()
        text = emit(parse_ir("graph G(x: f32[B, 7]) -> f32[B, 7] {\n" + "".join(
            f"  %{k}: f32[B, 7] = relu({'x' if k == 0 else f'%{k - 1}'})\n" for k in range(n)) + f"  return %{n - 1}\n}}\n"), "mlir")
        m = parse_mlir(text, "t.mlir")
        assert verify(m) == [] and print_ir(m) == print_ir(parse_ir(print_ir(m)))
        reads.append(len(calls))
    assert reads[0] == reads[1] <= 2, reads
    bad = module('"B+"')
    for _ in range(2):
        (d,) = refused(bad)
        assert d.code == "GS105"
