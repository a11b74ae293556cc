"""The edit format: search/replace blocks on whole lines, menu choices, and every way a reply
can be wrong (each rejected with the GS50x code and a hint the model can act on)."""

from __future__ import annotations

import pytest

from graphsynth.llm.edits import MAX_REPLY_CHARS, EditError, Offer, apply_edit, parse_reply

TEXT = """\
graph MLP(x: f32[B, 784]) -> f32[B, 10] {
  param fc1.weight: f32[256, 784]
  param fc2.weight: f32[10, 256]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight)
  }
  %1: f32[B, 256] = relu(%0)
  %2: f32[B, 256] = relu(%1)
  module fc2 : Linear {
    %3: f32[B, 10] = linear(%2, fc2.weight)
  }
  return %3
}"""


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def apply(reply: str, offer: Offer | None = None) -> str:
    offer = offer or Offer(TEXT)
    return apply_edit(offer, parse_reply(reply))[0]


def codes(reply: str, offer: Offer | None = None, menu_size: int = 0) -> list[str]:
    with pytest.raises(EditError) as ei:
        edit = parse_reply(reply, menu_size=menu_size)
        apply_edit(offer or Offer(TEXT), edit)
    return [d.code for d in ei.value.diagnostics]


def test_single_block_replaces_whole_lines_with_prose_and_fences_around():
    reply = (
        "Sure, here is the edit:\n```\n"
        + block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = gelu(%0)")
        + "\n```\nDone."
    )
    out = apply(reply)
    assert "  %1: f32[B, 256] = gelu(%0)" in out.split("\n")  # re-indented like the line it replaced
    assert out.count("relu") == 1
    assert out.replace("gelu(%0)", "relu(%0)") == TEXT


def test_indentation_is_ignored_when_matching():
    out = apply(block("      %2: f32[B, 256] = relu(%1)", "      %2: f32[B, 256] = tanh(%1)"))
    assert "  %2: f32[B, 256] = tanh(%1)" in out.split("\n")


def test_several_blocks_are_located_in_the_original_text():
    reply = (
        block("%2: f32[B, 256] = relu(%1)", "%2: f32[B, 256] = silu(%1)")
        + "\ntext between\n"
        + block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = silu(%0)")
    )
    out = apply(reply)
    assert out.count("silu") == 2 and "relu" not in out


def test_insert_and_delete():
    ins = apply(block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = relu(%0)\n%1b: f32[B, 256] = mul(%1, 0.5)"))
    lines = ins.split("\n")
    assert lines[lines.index("  %1: f32[B, 256] = relu(%0)") + 1] == "  %1b: f32[B, 256] = mul(%1, 0.5)"
    dele = apply(block("%2: f32[B, 256] = relu(%1)", ""))
    assert "%2: f32[B, 256]" not in dele and len(dele.split("\n")) == len(TEXT.split("\n")) - 1


def test_menu_choice():
    e = parse_reply("I pick the second.\nCHOICE: 2\n", menu_size=3)
    assert e.mode == "choice" and e.choice == 2
    assert parse_reply("**CHOICE: 3**", menu_size=3).choice == 3


@pytest.mark.parametrize(
    "reply, menu_size, code, fragment",
    [
        ("I think you should use gelu.", 0, "GS501", "contains no edit"),
        ("<<<<<<< SEARCH\n%1: f32[B, 256] = relu(%0)\n>>>>>>> REPLACE", 0, "GS501", "no ======= line"),
        ("<<<<<<< SEARCH\n%1: f32[B, 256] = relu(%0)\n=======\nfoo", 0, "GS501", "not closed"),
        ("=======\n>>>>>>> REPLACE", 0, "GS501", "outside a search/replace block"),
        (block("", "%9: f32[B, 256] = relu(%0)"), 0, "GS501", "SEARCH part is empty"),
        ("CHOICE: 2", 0, "GS501", "no menu"),
        ("CHOICE: 7", 3, "GS501", "not a number on the menu (1-3)"),
        ("CHOICE: 1\nCHOICE: 2", 3, "GS501", "2 CHOICE lines"),
        ("CHOICE: __import__('os')", 3, "GS501", "not a number on the menu"),
        ("CHOICE: 1\n" + block("%1: f32[B, 256] = relu(%0)", "x"), 3, "GS501", "both"),
    ],
)
def test_malformed_replies(reply, menu_size, code, fragment):
    with pytest.raises(EditError) as ei:
        parse_reply(reply, menu_size=menu_size)
    d = ei.value.diagnostics[0]
    assert d.code == code
    assert fragment in d.message


def test_anchor_not_found_points_to_the_nearest_line():
    with pytest.raises(EditError) as ei:
        apply(block("%1: f32[B, 265] = relu(%0)", "%1: f32[B, 256] = gelu(%0)"))
    d = ei.value.diagnostics[0]
    assert d.code == "GS502"
    assert "did you mean line 7" in d.fix and "%1: f32[B, 256] = relu(%0)" in d.fix


def test_anchor_lines_present_but_not_consecutive():
    assert codes(block("%1: f32[B, 256] = relu(%0)\nreturn %3", "x")) == ["GS502"]


def test_ambiguous_anchor_lists_the_lines():
    with pytest.raises(EditError) as ei:
        apply(block("}", "}\n"))
    d = ei.value.diagnostics[0]
    assert d.code == "GS503" and "lines 6, 11" in d.message


def test_edit_outside_the_offered_region():
    # Only the fc2 module (lines 9-11, 0-based 8..11) is offered.
    offer = Offer(TEXT, editable=[(8, 11)], description="module fc2")
    assert codes(block("%1: f32[B, 256] = relu(%0)", "%1: f32[B, 256] = gelu(%0)"), offer) == ["GS504"]
    # '}' closes two modules and the graph, but only one of them is inside the region.
    out = apply(block("}", "}\n// after fc2"), offer).split("\n")
    assert out[11] == "  // after fc2" and out[10] == "  }"
    ok = apply_edit(
        offer, parse_reply(block("%3: f32[B, 10] = linear(%2, fc2.weight)", "%3: f32[B, 10] = linear(%1, fc2.weight)"))
    )
    assert "linear(%1, fc2.weight)" in ok[0]


def test_overlapping_blocks_and_no_op_edits():
    reply = (
        block("%1: f32[B, 256] = relu(%0)\n%2: f32[B, 256] = relu(%1)", "a")
        + "\n"
        + block("%2: f32[B, 256] = relu(%1)", "b")
    )
    assert codes(reply) == ["GS501"]
    assert codes(block("%1: f32[B, 256] = relu(%0)", "    %1: f32[B, 256] = relu(%0)")) == ["GS501"]


def test_every_problem_is_reported_at_once():
    reply = block("nope", "x") + "\n" + block("}", "y")
    assert sorted(codes(reply)) == ["GS502", "GS503"]


def test_huge_and_hostile_replies_are_refused_unread():
    with pytest.raises(EditError) as ei:
        parse_reply("x" * (MAX_REPLY_CHARS + 1))
    assert ei.value.diagnostics[0].code == "GS501" and "characters long" in ei.value.diagnostics[0].message
    with pytest.raises(EditError) as ei:
        parse_reply(b"<<<<<<< SEARCH")  # type: ignore[arg-type]
    assert ei.value.diagnostics[0].code == "GS501"
    many = "\n".join(block(f"%{i}", f"%{i}") for i in range(100))
    assert codes(many) == ["GS501"]
