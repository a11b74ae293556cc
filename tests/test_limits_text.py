"""The text form on hostile input: the grammar is ASCII (GS107), integers are int64 and are
checked before they are converted (GS108), nesting has one limit (GS109); each is a located
diagnostic, the same from the fast reader and from Lark, never a traceback.  The structured
generators of graphsynth.testing.hostile feed the parser and the verifier: zero tracebacks, every
rejection located, every acceptance printing back to itself."""

from __future__ import annotations

import json
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_budget import examples

from graphsynth.cli import emit, parse_mlir
from graphsynth.diagnostics import Diagnostic, ParseError
from graphsynth.dialects.limits import MAX_INT, MAX_NESTING_DEPTH, MIN_INT
from graphsynth.grammar.parser import _FAST, parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.testing.hostile import (
    UNICODE_DIGITS,
    UNICODE_SPACES,
    graph_texts,
    huge_ints,
    names,
    nested_blocks,
    nested_values,
)
from graphsynth.verifier import verify

HOSTILE = settings(max_examples=examples(300), deadline=None, database=None, suppress_health_check=list(HealthCheck))


def diagnose(text: str, filename: str = "t.gs") -> list[Diagnostic]:
    try:
        m = parse_ir(text, filename=filename)
    except ParseError as e:
        return e.diagnostics
    return verify(m)


def located(diags: list[Diagnostic], text: str) -> None:
    assert diags
    n_lines = text.count("\n") + 1
    for d in diags:
        assert re.fullmatch(r"GS\d{3}", d.code), d
        assert d.loc is not None, d.render()
        assert 1 <= d.loc.line <= n_lines and d.loc.column >= 1, (d.render(), n_lines)
        json.loads(d.to_json())
        # Messages show types in expanded form: bounded by the size limit, not by the input.
        assert len(d.render()) < 20_000 + 4 * len(text)


# -- (12) ASCII only -------------------------------------------------------------------------------


def unicode_digits() -> list[str]:
    """Every character Python takes for a digit or a decimal in part of the BMP, and more."""
    chars = [c for c in map(chr, range(0x80, 0x3000)) if c.isdigit() or c.isdecimal() or c.isnumeric()]
    return sorted(set(chars[::7] + list(UNICODE_DIGITS)))


@pytest.mark.parametrize("ch", unicode_digits(), ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("where", ["type", "operand", "attribute", "name"])
def test_non_ascii_digits_are_gs107_at_their_column(ch: str, where: str) -> None:
    lines = {
        "type": f"  %0: f32[B, 4{ch}] = relu(x)",
        "operand": f"  %0: f32[B, 4] = mul(x, 2{ch})",
        "attribute": f"  %0: f32[B, 4] = reshape(x, shape=[B, {ch}])",
        "name": f"  %0: f32[B, 4] = relu(x{ch})",
    }
    text = "graph G(x: f32[B, 4]) -> f32[B, 4] {\n" + lines[where] + "\n  return %0\n}\n"
    diags = diagnose(text)
    assert [d.code for d in diags] == ["GS107"], [d.render() for d in diags]
    d = diags[0]
    assert (d.loc.line, d.loc.column) == (2, lines[where].index(ch) + 1), d.render()
    assert f"U+{ord(ch):04X}" in d.message, d.message


@pytest.mark.parametrize("space", UNICODE_SPACES, ids=lambda c: f"U+{ord(c):04X}")
def test_unicode_spaces_are_not_blanks(space: str) -> None:
    text = f"graph G(x: f32[B,{space}4]) -> f32[B, 4] {{\n  return x\n}}\n"
    (d,) = diagnose(text)
    assert d.code == "GS107" and d.loc.line == 1 and d.loc.column == text.index(space) + 1, d.render()


def test_non_ascii_in_strings_and_comments_is_text() -> None:
    text = 'graph G(x: f32[B, 4]) -> f32[B, 4] {\n  // caf\u00e9 \uff17\n  %0: f32[B, 4] = call(x, callee="\u00e9t\u00e9")\n  return %0\n}\n'
    (d,) = diagnose(text)
    assert d.code == "GS207" and "\u00e9t\u00e9" in d.message  # the string was read, as a string


def test_fast_path_and_lark_agree_on_non_ascii() -> None:
    """The fast reader declines what it does not know; Lark then reports it: the fast reader
    never accepts a non-ASCII character outside strings and comments."""
    for ch in UNICODE_DIGITS + UNICODE_SPACES:
        for text in (
            f"graph G(x: f32[B, 4]) -> f32[B, 4] {{\n  %0: f32[B, 4] = mul(x, 2{ch})\n  return %0\n}}\n",
            f"graph G(x: f32[B, 4]) -> f32[B, 4] {{\n  %0{ch}: f32[B, 4] = relu(x)\n  return %0\n}}\n",
            f"graph G{ch}(x: f32[B, 4]) -> f32[B, 4] {{\n  return x\n}}\n",
        ):
            assert _FAST.read(text) is None, repr(text)
            (d,) = diagnose(text)
            assert d.code == "GS107", d.render()


# -- (13) integers and nesting -------------------------------------------------------------------


@given(huge_ints(20, 9000), st.sampled_from(["operand", "attribute", "type", "float_attr", "dim_expr", "negative"]))
@HOSTILE
def test_integers_out_of_range_are_gs108(digits: str, where: str) -> None:
    if len(digits.lstrip("0")) <= 19 and int(digits) <= MAX_INT:
        return
    lines = {
        "operand": f"  %0: f32[B, 4] = mul(x, {digits})",
        "attribute": f"  %0: f32[B, 4] = reshape(x, shape=[B, {digits}])",
        "type": f"  %0: f32[B, {digits}] = relu(x)",
        "float_attr": f"  %0: f32[B, 4] = leaky_relu(x, negative_slope={digits})",
        "dim_expr": f"  %0: f32[B, 2*{digits}+S] = relu(x)",
        "negative": f"  %0: f32[B, 4] = add(x, -{digits})",
    }
    line = lines[where]
    text = "graph G(x: f32[B, 4]) -> f32[B, 4] {\n" + line + "\n  return %0\n}\n"
    diags = diagnose(text)
    assert [d.code for d in diags] == ["GS108"], [d.render() for d in diags]
    assert diags[0].loc.line == 2 and len(diags[0].message) < 300


def test_int64_edges() -> None:
    ok = diagnose(f"graph G(x: f32[B, 4]) -> f32[B, 4] {{\n  %0: f32[B, 4] = add(x, {MIN_INT})\n  %1: f32[B, 4] = add(%0, {MAX_INT})\n  return %1\n}}\n")
    assert ok == []
    (d,) = diagnose(f"graph G(x: f32[B, 4]) -> f32[B, 4] {{\n  %0: f32[B, 4] = add(x, {MIN_INT - 1})\n  return %0\n}}\n")
    assert d.code == "GS108"
    assert diagnose(f"graph G(x: f32[B, {MAX_INT}]) -> f32[B, {MAX_INT}] {{\n  return x\n}}\n") == []


def test_integer_conversion_is_not_quadratic() -> None:
    """A megabyte of digits is refused from its length, not converted."""
    import time

    text = "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = mul(x, " + "7" * 1_000_000 + ")\n  return %0\n}\n"
    t0 = time.perf_counter()
    (d,) = diagnose(text)
    assert d.code == "GS108" and time.perf_counter() - t0 < 5


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 100, 1000, 5000])
@pytest.mark.parametrize("kind", ["modules", "fused", "parens_type", "parens_attr", "lists"])
def test_nesting_beyond_the_limit_is_one_gs109(depth: int, kind: str) -> None:
    head = "graph G(x: f32[B, 4]) -> f32[B, 4] {\n"
    if kind == "modules":
        body = "".join(f"module m{i} : M {{\n" for i in range(depth)) + "%0: f32[B, 4] = relu(x)\n" + "}\n" * depth
        line = MAX_NESTING_DEPTH + 2
    elif kind == "fused":
        body = "".join(f"%{'0' if i == 0 else f'b{i}'}: f32[B, 4] = fused({'x' if i == 0 else f'%a{i}'}) {{\n^(%a{i + 1}: f32[B, 4])\n" for i in range(depth))
        body += f"%b{depth}: f32[B, 4] = relu(%a{depth})\n" + "".join(f"yield %b{i}\n}}\n" for i in range(depth, 0, -1))
        line = 2 + 2 * MAX_NESTING_DEPTH
    elif kind == "parens_type":
        body = "%0: f32[B, " + "(" * depth + "4" + ")" * depth + "] = relu(x)\n"
        line = 2
    elif kind == "parens_attr":
        body = "%0: f32[B, 4] = reshape(x, shape=[B, " + "(" * depth + "4" + ")" * depth + "])\n"
        line = 2
    else:
        body = "%0: f32[B, 4] = reshape(x, shape=" + "[" * depth + "]" * depth + ")\n"
        line = 2
    text = head + body + "return %0\n}\n"
    diags = diagnose(text)
    assert [d.code for d in diags] == ["GS109"], [d.render()[:300] for d in diags]
    assert diags[0].loc.line == line, diags[0].render()[:300]


def test_nesting_at_the_limit_is_accepted_and_prints_back() -> None:
    depth = MAX_NESTING_DEPTH
    text = (
        "graph G(x: f32[B, 4]) -> f32[B, 4] {\n"
        + "".join(f"module m{i} : M {{\n" for i in range(depth))
        + "%0: f32[B, 4] = reshape(x, shape=" + "[" * 0 + "[B, " + "(" * (depth - 1) + "4" + ")" * (depth - 1) + "])\n"
        + "}\n" * depth
        + "return %0\n}\n"
    )
    m = parse_ir(text)
    assert verify(m) == []
    again = parse_ir(print_ir(m))
    assert print_ir(again) == print_ir(m)
    assert print_ir(parse_mlir(emit(m, "mlir"), "m.mlir")) == print_ir(m)


def test_deep_nesting_from_mlir_input_is_refused_by_the_verifier() -> None:
    """A module table deeper than the text form can nest (MLIR input, a pass): printing it would
    give text the parser refuses, so the verifier refuses it first."""
    from xdsl.dialects.builtin import ArrayAttr, StringAttr

    from graphsynth.dialects import gs

    m = parse_ir("graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = relu(x)\n  return %0\n}\n")
    g = gs.graph_ops(m)[0]
    rows = [ArrayAttr([StringAttr(f"m{i}"), StringAttr("M"), StringAttr(f"m{i - 1}" if i else "")]) for i in range(200)]
    g.properties["modules"] = ArrayAttr(rows)
    gs.set_scope(g.body.block.first_op, "m199")
    diags = verify(m)
    assert [d.code for d in diags] == ["GS109"], [d.render() for d in diags]


def test_recursion_limit_is_never_reached() -> None:
    """The limits keep every recursion far from Python's stack limit: with a small stack left,
    the deepest accepted input still parses, verifies and prints."""
    depth = MAX_NESTING_DEPTH
    text = (
        "graph G(x: f32[B, " + "(" * (depth - 1) + "4" + ")" * (depth - 1) + "]) -> f32[B, 4] {\n"
        + "".join(f"module m{i} : M {{\n" for i in range(depth))
        + "%0: f32[B, 4] = relu(x)\n" + "}\n" * depth + "return %0\n}\n"
    )
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        m = parse_ir(text)
        verify(m)
        print_ir(m)
    finally:
        sys.setrecursionlimit(old)


# -- structured generators: no tracebacks, every rejection located -----------------------------


@given(graph_texts())
@HOSTILE
def test_hostile_graphs_are_accepted_or_diagnosed(text: str) -> None:
    diags = diagnose(text, filename="hostile.gs")
    if diags:
        located(diags, text)
        return
    m = parse_ir(text)
    out = print_ir(m)
    again = parse_ir(out)
    assert verify(again) == [] and print_ir(again) == out
    assert print_ir(parse_mlir(emit(m, "mlir"), "h.mlir")) == out


@given(names(), names())
@HOSTILE
def test_hostile_names_everywhere(param: str, module: str) -> None:
    text = (
        f"graph G(x: f32[B, 4]) -> f32[B, 4] {{\n  param {param}: f32[4, 4]\n"
        f"  module {module} : Linear {{\n    %0: f32[B, 4] = linear(x, {param})\n  }}\n  return %0\n}}\n"
    )
    diags = diagnose(text)
    if diags:
        located(diags, text)
    else:
        assert print_ir(parse_ir(print_ir(parse_ir(text)))) == print_ir(parse_ir(text))


@given(nested_blocks(), nested_values())
@HOSTILE
def test_hostile_nesting(blocks: tuple[str, str], value: str) -> None:
    opening, closing = blocks
    text = (
        "graph G(x: f32[B, 4]) -> f32[B, 4] {\n" + opening + closing
        + f"  %1: f32[B, 4] = reshape(%inner, shape={value})\n  return %1\n}}\n"
    )
    diags = diagnose(text)
    if diags:
        located(diags, text)
