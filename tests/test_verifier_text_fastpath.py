"""The fast reader of the text form (graphsynth/grammar/fastpath.py) is checked against Lark, the
reference: whenever it answers, its tree is Lark's tree -- same rules, tokens, token types and
positions.  It must answer for the shipped examples and the benchmark graphs (otherwise it is not
the fast path), and it may decline anything else."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from graphsynth.grammar.parser import _FAST, _LARK, parse_ir
from graphsynth.grammar.printer import print_ir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import verify_scale  # noqa: E402
from test_fuzz_mutations import TEXTS as SEEDS  # noqa: E402
from test_fuzz_mutations import mutants as mutated  # noqa: E402


def lark_tree(text: str) -> Tree | None:
    try:
        return _LARK.parse(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput:
        return None


def same_tree(a: Tree | Token, b: Tree | Token, path: str = "") -> None:
    """Fail with the path of the first difference."""
    if isinstance(a, Token) or isinstance(b, Token):
        assert isinstance(a, Token) and isinstance(b, Token), (path, a, b)
        assert (a.type, str(a), a.line, a.column) == (b.type, str(b), b.line, b.column), path
        return
    assert a.data == b.data, (path, a.data, b.data)
    assert len(a.children) == len(b.children), (path, a.data, a.children, b.children)
    if a.data not in ("start", "body"):
        assert (a.meta.line, a.meta.column) == (b.meta.line, b.meta.column), (path, a.data)
    for i, (x, y) in enumerate(zip(a.children, b.children)):
        same_tree(x, y, f"{path}/{a.data}[{i}]")


def check(text: str) -> bool:
    """True when the fast path answered (and agreed with Lark)."""
    source = text if text.endswith("\n") else text + "\n"
    fast = _FAST.read(source)
    if fast is None:
        return False
    reference = lark_tree(source)
    assert reference is not None, "the fast path accepted text that Lark rejects"
    same_tree(fast, reference)
    return True


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.gs")), ids=lambda p: p.name)
def test_examples_take_the_fast_path(path: Path) -> None:
    text = path.read_text()
    if "fused(" in text:
        pytest.skip("fused regions are read by Lark")
    assert check(text)


@pytest.mark.parametrize("shape", sorted(verify_scale.SHAPES))
def test_benchmark_graphs_take_the_fast_path(shape: str) -> None:
    text = verify_scale.SHAPES[shape](200)
    assert check(text)
    assert print_ir(parse_ir(text)) == text


TRICKY = [
    "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = reshape(x, shape=[B, S//2, -1, 2*S+1, (S-1)//2, -S, - 1, --1, S -1, S-1])\n  return %0\n}\n",
    "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = reshape(x, shape=[B, S //2])  // a comment\n  return %0\n}\n",
    "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = gelu(x, approximate=\"tanh\") // \"quoted\" // comment\n  return %0 // end\n}\n",
    "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = clamp(x, min=-inf, max=1e5)\n  %1: f32[B, 4] = mul(%0, -2.5e-3)\n  %2: f32[B, 4] = where(%1, None, nan)\n  return %2\n}\n",
    "graph G(x: f32[B, 4], None: f32[4], graph: f32[4], return: f32[4]) -> (f32[B, 4], f32[4]) {\n  param module: f32[4]\n  param 0.weight: f32[4]\n  buffer 2.0.running_mean: f32[4]\n  %0: f32[B, 4] = add(x, module)\n  return %0, graph\n}\n",
    "graph G() -> () {\n  return\n}\n",
    "\n// leading comment\n\n  graph G(x: f32[4]) -> f32[4] {\n\n  // inside\n\n  module 0 : Seq {\n    module 0.1 : Lin {\n      %a.b: f32[4] = relu(x)\n    }\n  }\n  return %a.b\n}\n// between\ngraph H(x: f32[4]) -> f32[4] {\n  return x\n}",
    "graph G(x: f32[4]) -> f32[4] {\r\n  %0: f32[4] = relu(x)\r\n  return %0\r\n}\r\n",
    "graph G(x: f32[4]) -> f32[4] {\n\t%0:f32[4]=add(x,1,alpha=2)\n\treturn\t%0\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  %0, %1: f32[4] = relu(x)\n  return x\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4] = relu(x) // ok\n  %1: f32[4] = relu(x)//not a comment\n  return x\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4] = foo(x, k=[[1, 2], [], [S]], s=\"a\\\"b\", n=None, t=true)\n  return x\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4] = foo(x, k=S // 2)\n  return x\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  return x\n} graph H() -> () {\n  return\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4] = fused(x) {\n    ^(%a: f32[4])\n    yield %a\n  }\n  return %0\n}\n",
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_tricky_text_agrees_with_lark(text: str) -> None:
    check(text)


def test_fast_path_answers_the_common_tricky_cases() -> None:
    answered = [check(t) for t in TRICKY]
    assert sum(answered) >= 9, answered


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_text_agrees_with_lark(text: str) -> None:
    check(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_line_edits_agree_with_lark(seed: str, data: st.DataObject) -> None:
    """Small character-level edits in one line: spacing, operators, brackets, comment markers."""
    lines = seed.split("\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    pos = data.draw(st.integers(0, len(line)))
    ins = data.draw(st.sampled_from([" ", "\t", "//", " //", "-", "--", "(", ")", "[", "]", ",", "=", "*", "%", "+", "1", "S", "None", "inf", "e5", ".", "\"", "\\"]))
    lines[i] = line[:pos] + ins + line[pos:]
    check("\n".join(lines))
