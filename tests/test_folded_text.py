"""Folded text is a read-only view: ``print_ir(m, depth=k)`` drops the ops inside modules below
depth k, so parsing it is GS110 (not a generic syntax error), located on the fold marker of the
first folded line and listing the others; text with nothing folded still round-trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsynth.diagnostics import ParseError
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import find_fold_marker, print_ir
from graphsynth.testing.strategies import modules

NESTED = """graph Stack(x: f32[B, 8]) -> f32[B, 8] {
  param a.fc.weight: f32[8, 8]
  module a : Block {
    module a.fc : Linear {
      %0: f32[B, 8] = linear(x, a.fc.weight)
    }
    %1: f32[B, 8] = relu(%0)
  }
  %2: f32[B, 8] = add(%1, x)
  return %2
}
"""


def _refusal(text: str) -> object:
    with pytest.raises(ParseError) as info:
        parse_ir(text, filename="view.gs")
    [d] = info.value.diagnostics
    return d


def _check_refusal(text: str) -> None:
    folded_lines = [i for i, line in enumerate(text.splitlines(), start=1) if find_fold_marker(line)]
    assert folded_lines, text
    d = _refusal(text)
    assert d.code == "GS110", d.render()
    line = text.splitlines()[d.loc.line - 1]
    assert d.loc.line == folded_lines[0] and d.source_line == line
    # The caret sits on the fold marker: the '(' that opens the folded module's interface.
    assert line[d.loc.column - 1] == "(", d.render()
    assert line.lstrip().startswith(f"module {d.value} : ")
    assert "read-only view" in d.message and d.fix and "depth" in d.fix
    others = folded_lines[1:]
    if others:
        assert any(str(others[0]) in n for n in d.notes), d.notes
    else:
        assert not d.notes


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules(max_ops=10, max_modules=3), st.integers(min_value=0, max_value=3))
def test_folded_text_of_generated_modules_is_refused_on_its_marker(m, depth):
    full = print_ir(m)
    view = print_ir(m, depth=depth)
    if view == full:
        # Nothing sits below this depth: the text is the module, and it reads back as such.
        assert print_ir(parse_ir(view)) == full
        return
    _check_refusal(view)


@pytest.mark.parametrize("depth", [0, 1])
def test_every_depth_of_a_nested_module(depth):
    view = print_ir(parse_ir(NESTED), depth=depth)
    _check_refusal(view)
    d = _refusal(view)
    assert d.value == ("a" if depth == 0 else "a.fc")
    hidden = 2 if depth == 0 else 1
    assert f"the {hidden} op{'s' if hidden > 1 else ''} inside it" in d.message


def test_no_depth_deep_enough_round_trips():
    assert print_ir(parse_ir(print_ir(parse_ir(NESTED), depth=2))) == NESTED


def test_prompt_outline_form_is_refused_too():
    """``module PATH : Class { ... }`` (how prompts elide a module) is the same kind of view."""
    text = NESTED.replace(
        "  module a : Block {\n    module a.fc : Linear {\n      %0: f32[B, 8] = linear(x, a.fc.weight)\n    }\n    %1: f32[B, 8] = relu(%0)\n  }\n",
        "  module a : Block { ... }  // 4 lines folded\n",
    )
    d = _refusal(text)
    assert d.code == "GS110" and d.loc.line == 3
    assert d.source_line[d.loc.column - 1] == "{"


@pytest.mark.parametrize(
    "line",
    [
        "  module a : Block [\n",  # not a fold marker: an ordinary syntax error
        "  module a : Block\n",
        "  %9: f32[B, 8] = relu(%1) (\n",
    ],
)
def test_other_errors_near_modules_stay_syntax_errors(line):
    text = NESTED.replace("  %2: f32[B, 8] = add(%1, x)\n", line + "  %2: f32[B, 8] = add(%1, x)\n")
    d = _refusal(text)
    assert d.code in ("GS101", "GS102", "GS103"), d.render()


def test_fold_marker_recogniser_matches_what_the_printer_writes():
    view = print_ir(parse_ir(NESTED), depth=0)
    marked = [find_fold_marker(line) for line in view.splitlines()]
    [mark] = [mk for mk in marked if mk is not None]
    assert (mark.path, mark.cls, mark.ops) == ("a", "Block", 2)
