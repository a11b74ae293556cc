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
from hypothesis_budget import examples
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
        slots = ("type", "value", "start_pos", "line", "column", "end_line", "end_column", "end_pos")
        assert str(a) == str(b) and [getattr(a, s) for s in slots] == [getattr(b, s) for s in slots], path
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
    assert check(path.read_text())


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
    "graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4], %1: f32[4] = fused(x, x, k=2) { // c\n\n  ^ ( %a: f32[4] , %b:f32[4] )\n"
    "  %2: f32[4] = fused(%a) {\n ^()\n  yield\n }\n yield %2, %b\n}\n  return %0\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  yield x\n}\n",
    "graph G(x: f32[4]) -> f32[4] {\n  %0: f32[4] = relu(x) {\n    ^(%a: f32[4])\n    return %a\n  }\n  return %0\n}\n",
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_tricky_text_agrees_with_lark(text: str) -> None:
    check(text)


def test_fast_path_answers_the_common_tricky_cases() -> None:
    answered = [check(t) for t in TRICKY]
    assert sum(answered) >= 9, answered


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_text_agrees_with_lark(text: str) -> None:
    check(text)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


def test_fused_regions_take_the_fast_path() -> None:
    """What fuse-elementwise prints reads back without Lark."""
    from graphsynth.passes.registry import run_pipeline

    body = "".join(f"  %{k}: f32[B, 4] = {('relu', 'tanh', 'sigmoid')[k % 3]}({f'%{k - 1}' if k else 'x'})\n"
                   + (f"  %m{k}: f32[B, 4] = matmul(%{k}, w)\n" if k % 4 == 3 else "") for k in range(40))
    text = f"graph G(x: f32[B, 4], w: f32[4, 4]) -> f32[B, 4] {{\n{body}  return %39\n}}\n"
    fused = print_ir(run_pipeline(parse_ir(text), "fuse-elementwise"))
    assert "fused(" in fused and check(fused)
    for t in TRICKY[-4:-1]:
        assert check(t), t


# -- graph by graph: the fast path reads what it can, Lark each graph it declines --------------------

def _read(text: str) -> Tree | list[tuple]:
    """The tree parse_ir builds on (graph by graph), or the syntax diagnostics it raises."""
    from graphsynth.diagnostics import ParseError
    from graphsynth.grammar.parser import _read_tree

    try:
        return _read_tree(text, "t.gs")
    except ParseError as e:
        return [(d.code, d.loc.line, d.loc.column, d.message) for d in e.diagnostics]


def _whole(text: str) -> Tree | list[tuple]:
    """Lark's answer for the whole text at once: the reference."""
    from graphsynth.grammar.parser import _syntax_diagnostic

    try:
        return _LARK.parse(text)
    except UnexpectedInput as e:
        d = _syntax_diagnostic(e, text, "t.gs")
        return [(d.code, d.loc.line, d.loc.column, d.message)]


def _agree(text: str) -> None:
    got, want = _read(text), _whole(text)
    if isinstance(want, Tree):
        assert isinstance(got, Tree), got
        same_tree(got, want)
    else:
        assert got == want


GRAPHS = [verify_scale.SHAPES[s](6).replace("graph ", f"graph {s.capitalize()}", 1) for s in sorted(verify_scale.SHAPES)]


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(GRAPHS + SEEDS), min_size=2, max_size=5), st.data())
def test_graph_by_graph_reading_agrees_with_lark(texts: list[str], data: st.DataObject) -> None:
    """One line of one graph among several edited (a syntax error, a form the fast path declines,
    a graph left open, a stray 'graph' line): the same tree as Lark's for the whole text, or the
    same diagnostic at the same place."""
    k = data.draw(st.integers(0, len(texts) - 1))
    lines = texts[k].rstrip("\n").split("\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    pos = data.draw(st.integers(0, len(lines[i])))
    ins = data.draw(st.sampled_from(["", " ", "//", "(", ")", ",", "=", "{", "}", "\n", "\ngraph ", "\ngraph G() -> () {\n", "}\n",
                                     " { \n ^()\n yield\n }", "\u00e9", "@"]))
    lines[i] = lines[i][:pos] + ins + lines[i][pos:]
    texts = [*texts[:k], "\n".join(lines) + "\n", *texts[k + 1 :]]
    _agree("\n".join(t if t.endswith("\n") else t + "\n" for t in texts))


def test_lark_reads_only_the_graph_the_fast_path_declines(monkeypatch) -> None:
    """A syntax error in the last of many graphs: Lark is given that graph alone (no line breaks
    standing in for the text before it), not the file, and the error has the file's line."""
    import graphsynth.grammar.parser as parser
    from graphsynth.diagnostics import ParseError

    seen: list[str] = []
    real = parser._LARK.parse

    def spy(text: str, *a, **k):
        seen.append(text)
        return real(text, *a, **k)

    monkeypatch.setattr(parser._LARK, "parse", spy)
    good = "".join(g for g in GRAPHS for _ in range(20))
    bad = good + "graph Last(x: f32[4]) -> f32[4] {\n  %0: f32[4] = relu(x,, )\n  return %0\n}\n" + GRAPHS[0]
    with pytest.raises(ParseError) as e:
        parse_ir(bad, filename="t.gs")
    [d] = e.value.diagnostics
    assert (d.code, d.loc.line) == ("GS101", good.count("\n") + 2), d.render()
    assert len(seen) == 1 and seen[0].count("\n") <= 5
    assert len(seen[0].strip()) < 120
    seen.clear()
    fused = good + "graph F(x: f32[4]) -> f32[4] {\n  %0: f32[4] = fused(x) {\n  ^(%a: f32[4])\n  yield %a\n  } junk\n  return %0\n}\n"
    with pytest.raises(ParseError):
        parse_ir(fused + good, filename="t.gs")
    assert len(seen) == 1 and len(seen[0].strip()) < 150


def test_lark_reads_only_the_statement_the_fast_path_declines(monkeypatch) -> None:
    """A syntax error on the last line of a graph of n ops: Lark is given the graph's header and
    the statements from the failing one on, so what it reads does not grow with n, and the
    diagnostic is the one Lark gives for the whole text."""
    import graphsynth.grammar.parser as parser
    from graphsynth.diagnostics import ParseError

    seen: list[int] = []
    real = parser._LARK.parse

    def spy(text: str, *a, **k):
        seen.append(len(text))
        return real(text, *a, **k)

    read: list[int] = []
    for n in (50, 2000):
        text = verify_scale.straight_line(n)
        cut = text.rstrip("\n").rfind("\n  return")
        bad = text[:cut] + "\n  %bad: f32[B, 4] = relu(x,, )" + text[cut:]
        want = _whole(bad)
        monkeypatch.setattr(parser._LARK, "parse", spy)
        seen.clear()
        with pytest.raises(ParseError) as e:
            parse_ir(bad, filename="t.gs")
        monkeypatch.undo()
        [d] = e.value.diagnostics
        assert [(d.code, d.loc.line, d.loc.column, d.message)] == want
        assert d.source_line == "  %bad: f32[B, 4] = relu(x,, )"
        read.append(sum(seen))
    assert max(read) < 300, read  # the header, the failing line and the return, at any n
