"""Symbol ranges and steps: the proofs that use them are sound (checked against evaluation at
allowed bindings), their text and MLIR forms are checked like the rest, and a lowered module
refuses sizes outside them."""

from __future__ import annotations

import random

import pytest
import torch

import graphsynth as gs
from graphsynth.cli import parse_mlir
from graphsynth.dialects.ranges import SymbolRange, assuming, bounds, refine_compare
from graphsynth.dialects.shapes import compare, evaluate, is_positive_known, parse_dim
from graphsynth.grammar import parser


def _expr(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(["S", "T", "B", str(rng.randint(0, 9)), str(rng.randint(-400, 400))])
    a, b = _expr(rng, depth + 1), _expr(rng, depth + 1)
    op = rng.choice(["+", "-", "*", "//"])
    if op == "//":
        return f"({a})//{rng.choice(['2', '3', '8', '320', 'B'])}"
    return f"({a}){op}({b})"


RANGES = {"S": SymbolRange(400, 4000), "T": SymbolRange(8, 64, 8)}


def _sample(rng: random.Random) -> dict[str, int]:
    return {"S": rng.randint(400, 4000), "T": 8 * rng.randint(1, 8), "B": rng.randint(1, 50)}


def test_bounds_and_verdicts_hold_at_every_sampled_allowed_binding() -> None:
    rng = random.Random(0)
    checked = 0
    for _ in range(400):
        a, b = parse_dim(_expr(rng)), parse_dim(_expr(rng))
        with assuming(RANGES):
            lo, hi = bounds(a)
            verdict = compare(a, b)
            positive = is_positive_known(a)
        for _ in range(20):
            env = _sample(rng)
            va, vb = evaluate(a, env), evaluate(b, env)
            assert lo <= va <= hi, (a, env, lo, hi)
            if verdict is True:
                assert va == vb, (a, b, env)
            elif verdict is False:
                assert va != vb, (a, b, env)
            if positive:
                assert va >= 0, (a, env)
            checked += 1
    assert checked == 8000


def test_ranges_prove_what_positivity_alone_cannot() -> None:
    length = parse_dim("(S-400)//320+1")
    assert not is_positive_known(parse_dim("S-1"))
    assert compare(parse_dim("S//8*8"), parse_dim("S")) is None
    with assuming({"S": SymbolRange(400, 4000, 8)}):
        assert is_positive_known(length) and is_positive_known(parse_dim("S-1"))
        assert bounds(length) == (1, 12)
        assert compare(parse_dim("S//8*8"), parse_dim("S")) is True
        assert compare(parse_dim("S"), 300) is False
        assert refine_compare(parse_dim("S-400"), 0) is None  # S may be 400


def test_symbol_statements_read_the_same_on_the_fast_path_and_with_lark() -> None:
    text = (
        "graph G(x: f32[B, S], y: f32[T]) -> f32[B, S] {\n  symbol S: [400, 4000]\n  symbol T: [8, inf] step 8\n"
        "  param a: f32[4]\n  param b: f32[4] = a\n  return x\n}\n"
    )
    fast = parser._FAST.read(text)
    assert fast is not None and fast == parser._LARK.parse(text)


@pytest.mark.parametrize(
    ("decl", "code"),
    [("[4, 4.5]", "GS106"), ("[1, 99999999999999999999]", "GS108"), ("[5, 2]", "GS313"), ("[1, 8] step 0", "GS313")],
)
def test_malformed_declarations_are_located_parse_errors(decl: str, code: str) -> None:
    with pytest.raises(gs.ParseError) as e:
        gs.parse_ir(f"graph G(x: f32[S]) -> f32[S] {{\n  symbol S: {decl}\n  return x\n}}\n", "d.gs")
    d = e.value.diagnostics[0]
    assert d.code == code and d.loc.line == 2


_MLIR = """"builtin.module"() ({
  "gs.graph"() <{sym_name = "G", arg_names = ["x"], output_types = [!gs.tensor<f32, ["S"]>], modules = [], symbols = SYMBOLS}> ({
  ^bb0(%0: !gs.tensor<f32, ["S"]>):
    %1 = "gs.param"() <{name = "a", kind = "param"}> : () -> !gs.tensor<f32, [4]>
    %2 = "gs.param"() <{name = "b", kind = "param", alias = ALIAS}> : () -> !gs.tensor<f32, [4]>
    "gs.return"(%0) : (!gs.tensor<f32, ["S"]>) -> ()
  }) : () -> ()
}) : () -> ()
"""


@pytest.mark.parametrize(
    ("symbols", "alias", "code"),
    [
        ('[["S", #builtin.int<2>]]', '"a"', "GS313"),
        ('[["S", #builtin.int<2>, "huge", #builtin.int<1>]]', '"a"', "GS313"),
        ('[["1S", #builtin.int<2>, "inf", #builtin.int<1>]]', '"a"', "GS313"),
        ('[["S", #builtin.int<9>, #builtin.int<2>, #builtin.int<1>]]', '"a"', "GS313"),
        ('[["S", #builtin.int<2>, "inf", #builtin.int<1>]]', '"not a name"', "GS211"),
        ('[["S", #builtin.int<2>, "inf", #builtin.int<1>]]', '"b"', "GS312"),
        ('[["S", #builtin.int<2>, "inf", #builtin.int<1>]]', '"c"', "GS310"),
    ],
)
def test_hostile_mlir_declarations_are_diagnostics(symbols: str, alias: str, code: str) -> None:
    module = parse_mlir(_MLIR.replace("SYMBOLS", symbols).replace("ALIAS", alias), "h.mlir")
    assert code in {d.code for d in gs.verify(module)}


def test_a_non_string_alias_is_refused_when_mlir_is_read() -> None:
    with pytest.raises(gs.ParseError) as e:
        parse_mlir(_MLIR.replace("SYMBOLS", "[]").replace("ALIAS", "#builtin.int<3>"), "h.mlir")
    assert "gs.param" in e.value.diagnostics[0].message


def test_well_formed_mlir_declarations_verify_and_print() -> None:
    module = parse_mlir(_MLIR.replace("SYMBOLS", '[["S", #builtin.int<2>, "inf", #builtin.int<4>]]').replace("ALIAS", '"a"'), "ok.mlir")
    assert gs.verify(module) == []
    text = gs.print_ir(module)
    assert "  symbol S: [2, inf] step 4\n" in text and "  param b: f32[4] = a\n" in text


def test_lowered_module_checks_declared_ranges_and_exact_divisions_at_entry() -> None:
    text = (
        "graph G(x: f32[B, 8*k], y: f32[S]) -> f32[B, 8*k] {\n  symbol S: [4, 12] step 4\n"
        "  %0: f32[B, 8*k] = mul(x, 2.0)\n  return %0\n}\n"
    )
    net = gs.lower(gs.parse_ir(text))
    torch.testing.assert_close(net(torch.ones(2, 16), torch.ones(8)), torch.full((2, 16), 2.0))
    for x, y, words in [
        (torch.ones(2, 12), torch.ones(8), ["dim 1 of input 'x' is 12", "8*k"]),
        (torch.ones(2, 16), torch.ones(6), ["S = 6", "not a multiple of 4"]),
        (torch.ones(2, 16), torch.ones(16), ["S = 16", "outside", "[4, 12] step 4"]),
    ]:
        with pytest.raises(gs.GraphsynthError) as e:
            net(x, y)
        d = e.value.diagnostics[0]
        assert d.code == "GS610" and all(w in d.message for w in words), d.message
