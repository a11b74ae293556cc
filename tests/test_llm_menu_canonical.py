"""The ops' canonicalization patterns reach the model as menu entries, and a choice applies one
(through the Messages API of the scripted local server)."""

from __future__ import annotations

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import AnthropicProposer, rewrite
from graphsynth.llm.fakeserver import FakeServer, reply
from graphsynth.llm.menu import canonicalization_menu, menu_source

TEXT = """graph G(x: f32[B, 8]) -> f32[B, 8] {
  %0: f32[B, 8] = identity(x)
  %1: f32[B, 8] = reshape(%0, shape=[B, 8])
  %2: f32[B, 8] = relu(%1)
  return %2
}
"""


def test_the_menu_lists_the_canonicalization_rewrites():
    items = canonicalization_menu(parse_ir(TEXT))
    text = "\n".join(it.description for it in items)
    assert "identity" in text and "reshape" in text, text
    # Each entry applies: the result verifies and has one op less.
    for it in items:
        out = it.apply(parse_ir(TEXT).clone())
        assert len(list(out.walk())) < len(list(parse_ir(TEXT).walk()))


def test_choosing_a_canonicalization_applies_it_through_the_server(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    module = parse_ir(TEXT)
    before = print_ir(module)
    menu = menu_source("canonicalize")
    items = menu(module)
    n = next(i for i, it in enumerate(items, 1) if "reshape" in it.description)
    with FakeServer([reply(f"The reshape keeps the type.\nCHOICE: {n}")]) as srv:
        r = rewrite(module, "simplify the graph", AnthropicProposer(base_url=srv.url, max_retries=0, timeout=20),
                    menu=menu, attempts=1)
        asked = srv.request_texts()
    assert f"{n}. {items[n - 1].description}" in asked[0]
    assert r.accepted and r.accepted_mode == "choice"
    out = print_ir(r.module)
    assert "reshape(" not in out and "identity(x)" in out
    assert print_ir(module) == before
