"""focus_module: only one module is offered for editing; the others are folded in the prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import Proposal, Usage, replay_transcript, rewrite
from graphsynth.llm.context import focus_module, module_spans

SRC = (Path(__file__).resolve().parents[1] / "examples" / "llm" / "make_residual.gs").read_text()
GELU = "%3: f32[B, S, 64] = gelu(%2)"
PROJ = "%0: f32[B, S, 64] = linear(x, proj.weight)"


class Scripted:
    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []

    def propose(self, request):
        self.requests.append(request)
        return Proposal(self.replies.pop(0), Usage(calls=1), 0.0, "scripted")


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


@pytest.fixture
def module():
    return parse_ir(SRC, filename="tower.gs")


def test_module_spans_follow_the_printed_nesting(module):
    text = print_ir(module)
    spans = module_spans(text)
    assert set(spans) == {"proj", "blocks.0", "blocks.0.norm", "blocks.0.fc", "out"}
    lines = text.split("\n")
    a, b, cls = spans["blocks.0"]
    assert cls == "Block" and lines[a].strip().startswith("module blocks.0 :") and lines[b].strip() == "}"
    assert spans["blocks.0.fc"][0] > a and spans["blocks.0.fc"][1] < b


def test_focus_offers_one_module_and_folds_the_rest(module):
    text = print_ir(module)
    offer = focus_module("blocks.0")(module, text, "goal")
    assert offer.description == "module blocks.0 only"
    assert GELU in offer.shown
    # Each other module has a single op line, so nothing is folded in this small graph ...
    assert "folded" not in offer.shown
    with pytest.raises(ValueError, match="no module 'blocks.7'"):
        focus_module("blocks.7")(module, text, "goal")


def test_edits_outside_the_focused_module_are_refused(module):
    before = (print_ir(module), str(module))
    p = Scripted(
        [
            block(PROJ, PROJ + "\n%p2: f32[B, S, 64] = relu(%0)"),
            block(GELU, GELU + "\n%r: f32[B, S, 64] = add(%0, %3)")
            + "\n"
            + block("%4: f32[B, S, 32] = linear(%3, out.weight)", "%4: f32[B, S, 32] = linear(%r, out.weight)"),
            block(GELU, "%3: f32[B, S, 64] = silu(%2)"),
        ]
    )
    r = rewrite(module, "use silu in the block", p, attempts=3, context=focus_module("blocks.0"))
    assert [a.codes for a in r.attempts] == [["GS504"], ["GS504"], []]
    assert r.accepted and "silu(%2)" in print_ir(r.module)
    assert "module blocks.0 only" in p.requests[0].messages[0]["content"]
    assert (print_ir(module), str(module)) == before


def test_folded_lines_are_not_anchors_and_focus_replays(module, tmp_path):
    big = parse_ir(
        SRC.replace(
            "  module out : Linear {\n    %4: f32[B, S, 32] = linear(%3, out.weight)\n  }",
            "  module out : Linear {\n    %4a: f32[B, S, 64] = relu(%3)\n"
            "    %4: f32[B, S, 32] = linear(%4a, out.weight)\n  }",
        )
    )
    offer = focus_module("blocks.0")(big, print_ir(big), "g")
    assert "module out : Linear { ... }  // 2 lines folded" in offer.shown
    assert "%4a" not in offer.shown
    path = tmp_path / "focus.jsonl"
    folded_anchor = block("module out : Linear { ... }  // 2 lines folded", "x")
    r = rewrite(
        big,
        "use silu in the block",
        Scripted([folded_anchor, block(GELU, "%3: f32[B, S, 64] = silu(%2)")]),
        context=focus_module("blocks.0"),
        context_source="focus:blocks.0",
        transcript=str(path),
    )
    assert [a.codes for a in r.attempts] == [["GS502"], []]
    again = replay_transcript(path)
    assert again.replay_ok and again.output_text == r.output_text


SEQUENTIAL = """graph Seq(x: f32[B, 4]) -> f32[B, 2] {
  param 0.weight: f32[8, 4]
  param 0.bias: f32[8]
  param 2.weight: f32[2, 8]
  param 2.bias: f32[2]
  module 0 : Linear {
    %0: f32[B, 8] = linear(x, 0.weight, 0.bias)
    %0a: f32[B, 8] = identity(%0)
  }
  module 1 : ReLU {
    %1: f32[B, 8] = relu(%0a)
  }
  module 2 : Linear {
    %2: f32[B, 2] = linear(%1, 2.weight, 2.bias)
    %2a: f32[B, 2] = identity(%2)
  }
  return %2a
}
"""


def test_numeric_module_paths_of_a_sequential_are_found():
    """nn.Sequential children print as ``module 0 : Linear``: the spans come from the printer,
    so focus and its folding see them."""
    m = parse_ir(SEQUENTIAL)
    spans = module_spans(SEQUENTIAL)
    assert spans["0"] == (5, 8, "Linear") and spans["1"][2] == "ReLU" and spans["2"] == (12, 15, "Linear")
    offer = focus_module("0")(m, SEQUENTIAL, "goal")
    assert offer.editable == [(5, 9)]
    assert "module 2 : Linear { ... }  // 2 lines folded; defines %2a: f32[B, 2]" in offer.shown
    assert "param 2.weight" not in offer.shown and "parameters of folded modules not shown" in offer.shown
    assert "%0: f32[B, 8] = linear(x, 0.weight, 0.bias)" in offer.shown
    sliced = focus_module("0", budget_tokens=400)(m, SEQUENTIAL, "goal")
    assert "linear(x, 0.weight, 0.bias)" in sliced.shown
    with pytest.raises(ValueError, match="no module '3'"):
        focus_module("3")(m, SEQUENTIAL, "goal")
