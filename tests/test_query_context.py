"""graphsynth.query.context: a parseable slice, the target in full, neighbours first, within budget."""

from __future__ import annotations

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm.context import context_source, focus_module
from graphsynth.query import QueryError, context, count_tokens
from graphsynth.verifier import verify


def tower(blocks: int = 6) -> str:
    lines = ["graph Tower(x: f32[B, S, 32]) -> f32[B, S, 32] {"]
    for i in range(blocks):
        lines += [f"  param blocks.{i}.norm.weight: f32[32]", f"  param blocks.{i}.fc.weight: f32[32, 32]"]
    lines += ["  %in: f32[B, S, 32] = mul(x, 2.0)"]
    prev = "%in"
    for i in range(blocks):
        lines += [
            f"  module blocks.{i} : Block {{",
            f"    module blocks.{i}.norm : LayerNorm {{",
            f"      %n{i}: f32[B, S, 32] = layer_norm({prev}, blocks.{i}.norm.weight, normalized_shape=[32])",
            "    }",
            f"    module blocks.{i}.fc : Linear {{",
            f"      %f{i}: f32[B, S, 32] = linear(%n{i}, blocks.{i}.fc.weight)",
            "    }",
            f"    %g{i}: f32[B, S, 32] = gelu(%f{i})",
            f"    %h{i}: f32[B, S, 32] = add({prev}, %g{i})",
            "  }",
        ]
        prev = f"%h{i}"
    lines += [f"  %out: f32[B, S, 32] = tanh({prev})", "  return %out", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def m():
    return parse_ir(tower())


def block_lines(m, path):
    """The printed lines of module ``path`` in the full graph, opener and closer included."""
    lines = print_ir(m).split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith(f"module {path} :"))
    depth = len(lines[start]) - len(lines[start].lstrip())
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == " " * depth + "}")
    return lines[start : end + 1]


def test_slice_holds_the_target_in_full_parses_and_verifies(m):
    s = context(m, "blocks.3", 2000)
    text_lines = s.text.split("\n")
    want = block_lines(m, "blocks.3")
    # Every line of the block, with its indentation, appears in order, exactly as printed in full.
    k = text_lines.index(want[0])
    assert text_lines[k : k + len(want)] == want
    sliced = parse_ir(s.text)
    assert verify(sliced) == []
    assert s.tokens == count_tokens(s.text) <= 2000
    assert s.inputs == ["%h2"] and s.outputs == ["%h3"]
    assert "%h2: f32[B, S, 32] = identity(in_h2)" in s.text
    assert "param blocks.3.fc.weight: f32[32, 32]" in s.text and "blocks.2.fc.weight" not in s.text.split("graph blocks.3")[1]
    # A roomy budget shows the whole outline: every other block folded to its interface.
    assert s.omitted == 0
    assert "//   module blocks.2 : Block(%h1) -> (%h2: f32[B, S, 32])  // 4 ops folded" in s.text
    assert "//   module blocks.3 : Block(%h2) -> (%h3: f32[B, S, 32])  <<< the target, in full below" in s.text
    assert "//   return %out" in s.text


def test_a_tight_budget_keeps_the_neighbours_first(m):
    full = context(m, "blocks.3", 2000)
    sizes = []
    for budget in range(full.tokens, 0, -20):
        try:
            s = context(m, "blocks.3", budget)
        except QueryError as e:
            assert e.diagnostics[0].code == "GS703"
            needed = int(e.diagnostics[0].got.split()[0])
            assert needed > budget
            assert context(m, "blocks.3", needed).tokens <= needed
            break
        assert s.tokens <= budget
        parse_ir(s.text)
        sizes.append(len(s.shown))
        if 0 < s.omitted and len(s.shown) > 2:
            # Whatever else is shown, the target's two neighbouring blocks come first.
            assert {"blocks.2", "blocks.4"} <= set(s.shown), (budget, s.shown)
            assert "more not shown" in s.text
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_op_targets_and_errors(m):
    s = context(m, "%g2", 600)
    assert "%g2: f32[B, S, 32] = gelu(%f2)" in s.text and verify(parse_ir(s.text)) == []
    assert s.region == "op %g2 = gelu"
    for target, code in (("x", "GS705"), ("blocks.9", "GS701"), ("blocks.3.fc.weight", "GS705")):
        with pytest.raises(QueryError) as e:
            context(m, target, 1000)
        assert e.value.diagnostics[0].code == code, target
    for bad in (0, -5, "100"):
        with pytest.raises(QueryError):
            context(m, "blocks.1", bad)
    with pytest.raises(QueryError) as e:
        context(m, "blocks.1", 50)
    d = e.value.diagnostics[0]
    assert d.code == "GS703" and "needs" in d.message and d.fix.startswith("raise the budget to at least")


def test_llm_focus_builds_on_the_slice(m):
    text = print_ir(m)
    offer = focus_module("blocks.3", budget_tokens=900)(m, text, "goal")
    assert offer.shown == context(m, "blocks.3", 900).text
    assert "-token slice" in offer.description
    # Only the block's own lines are editable in the full text.
    (a, b), = offer.editable
    assert offer.lines[a].strip().startswith("module blocks.3 :") and b - a == len(block_lines(m, "blocks.3"))
    fn = context_source("focus:blocks.3:900")
    assert fn(m, text, "goal").shown == offer.shown
    with pytest.raises(ValueError, match="needs"):
        focus_module("blocks.3", budget_tokens=40)(m, text, "goal")
    with pytest.raises(ValueError):
        context_source("focus:blocks.3:lots")
