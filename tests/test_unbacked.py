"""Data-dependent sizes: unbacked symbols in the IR (``symbol u0: [0, inf] unbacked``), the ops
that define them (nonzero, masked_select, boolean_index), the verifier's checks of their misuse
(GS331-GS334), the lowering's binding and range check (GS611), and a Mixtral sparse block with
per-expert ``torch.where`` dispatch through import, both text forms, lowering and gradients."""

from __future__ import annotations

import class_models
import pytest
import torch
from frontend_util import compare_lowered, text_round_trip, verify_clean
from test_verifier_text_fastpath import check as fast_path_agrees_with_lark

import graphsynth as g
from graphsynth.backend.guards import SymbolBindingError
from graphsynth.cli import parse_mlir
from graphsynth.diagnostics import GraphsynthError
from graphsynth.dialects import gs
from graphsynth.dialects.ranges import SymbolRange, assuming, bounds, is_nonnegative, is_positive
from graphsynth.dialects.shapes import SymDim, compare, mul

# -- the declaration: text form, MLIR form, facts ---------------------------------------------------

MASKED = """graph G(x: f32[B, 4], m: bool[B, 4]) -> f32[u0] {
  symbol B: [1, 64]
  symbol u0: [0, 256] unbacked
  %s: f32[u0] = masked_select(x, m, size=u0)
  %0: f32[u0] = mul(%s, %s)
  return %0
}
"""


def test_declaration_round_trips_through_text_and_mlir() -> None:
    m = g.parse_ir(MASKED, filename="masked.gs")
    assert g.verify(m) == []
    assert g.print_ir(m) == MASKED
    (graph,) = gs.graph_ops(m)
    assert graph.symbol_ranges()["u0"] == SymbolRange(0, 256, 1, unbacked=True)
    assert graph.unbacked_symbols() == {"u0"}
    again = parse_mlir(str(m), "masked.mlir")
    assert g.print_ir(again) == MASKED and g.verify(again) == []
    assert '"unbacked"' in str(m)
    # The fast reader and Lark read the declaration alike (with and without a step).
    assert fast_path_agrees_with_lark(MASKED)
    assert fast_path_agrees_with_lark(MASKED.replace("[0, 256] unbacked", "[0, 256] step 2 unbacked"))


def test_an_unbacked_symbol_may_be_zero_and_proofs_say_so() -> None:
    """Unbacked symbols start at 0: "2*u0 != u0" is no longer proved (it fails at 0), while a
    backed symbol keeps the proof; bounds and positivity use the declared range."""
    u0, s = SymDim.symbol("u0"), SymDim.symbol("S")
    assert compare(mul(u0, 2), u0) is False  # no facts: every symbol is >= 1
    with assuming({"u0": SymbolRange(0, None, unbacked=True)}):
        assert compare(mul(u0, 2), u0) is None
        assert compare(mul(s, 2), s) is False
        assert bounds(u0) == (0, float("inf"))
        assert is_nonnegative(u0) and not is_positive(u0)
    with assuming({"u0": SymbolRange(3, 9, unbacked=True)}):
        assert compare(mul(u0, 2), u0) is False and bounds(u0) == (3, 9)


# -- misuse: located diagnostics --------------------------------------------------------------------

def _diags(text: str) -> list:
    return g.verify(g.parse_ir(text, filename="bad.gs"))


def _one(text: str, code: str, line: int) -> str:
    diags = _diags(text)
    assert [d.code for d in diags] == [code], "\n".join(d.render() for d in diags)
    (d,) = diags
    assert d.loc is not None and d.loc.line == line and d.fix, d.render()
    return d.message


def _graph(body: str, inputs: str = "x: f32[B, 4], m: bool[B, 4]", out: str = "f32[u0]") -> str:
    lines = [ln.strip() for ln in body.strip().splitlines()]
    last = [ln for ln in lines if ln.startswith("%")][-1].split(":")[0]
    return f"graph G({inputs}) -> {out} {{\n" + "\n".join("  " + ln for ln in lines) + f"\n  return {last}\n}}\n"


def test_bound_by_an_input_is_gs331() -> None:
    text = _graph("""symbol u0: [0, inf] unbacked
        %s: f32[u0] = masked_select(x, m, size=u0)""", inputs="x: f32[u0, 4], m: bool[u0, 4]")
    msg = _one(text, "GS331", 1)
    assert "u0" in msg and "input" in msg


def test_used_before_its_defining_op_is_gs332() -> None:
    text = _graph("""symbol u0: [0, inf] unbacked
        %a: f32[u0] = full(shape=[u0], value=1.0, dtype=f32)
        %s: f32[u0] = masked_select(x, m, size=u0)
        %0: f32[u0] = add(%s, %a)""")
    msg = _one(text, "GS332", 3)
    assert "before the op that defines it" in msg and "masked_select" in msg and "line 4" in msg


def test_used_but_never_defined_is_gs332() -> None:
    text = _graph("""symbol u0: [0, inf] unbacked
        %a: f32[u0] = full(shape=[u0], value=1.0, dtype=f32)""")
    msg = _one(text, "GS332", 3)
    assert "no op defines it" in msg


def test_declared_unbacked_and_never_defined_is_gs332_at_the_graph() -> None:
    text = _graph("""symbol u0: [0, inf] unbacked
        %a: f32[B, 4] = relu(x)""", out="f32[B, 4]")
    msg = _one(text, "GS332", 1)
    assert "no op defines the unbacked symbol 'u0'" in msg


def test_defined_twice_is_gs333() -> None:
    text = _graph("""symbol u0: [0, inf] unbacked
        %s: f32[u0] = masked_select(x, m, size=u0)
        %t: f32[u0] = masked_select(x, m, size=u0)
        %0: f32[u0] = add(%s, %t)""")
    msg = _one(text, "GS333", 4)
    assert "already defines" in msg and "line 3" in msg


@pytest.mark.parametrize("size, why", [("B", "bound by a graph input"), ("u9", "not declared unbacked")])
def test_a_backed_symbol_where_an_unbacked_one_is_required_is_gs334(size: str, why: str) -> None:
    text = _graph(f"""%s: i64[{size}, 2] = nonzero(m, size={size})""", out=f"i64[{size}, 2]")
    diags = _diags(text)
    codes = [d.code for d in diags]
    assert "GS334" in codes, "\n".join(d.render() for d in diags)
    (d,) = [d for d in diags if d.code == "GS334"]
    assert why in d.message and d.loc.line == 2 and d.loc.column == 3 and "unbacked" in d.fix


@pytest.mark.parametrize("size", ["3", "u0+1", "2*u0"])
def test_a_number_or_expression_as_size_is_gs334(size: str) -> None:
    text = _graph(f"""symbol u0: [0, inf] unbacked
        %s: f32[3] = masked_select(x, m, size={size})""", out="f32[3]")
    diags = _diags(text)
    assert "GS334" in [d.code for d in diags], "\n".join(d.render() for d in diags)
    d = next(d for d in diags if d.code == "GS334")
    assert d.loc.line == 3 and "depends on the data" in d.message


def test_a_negative_minimum_is_gs313() -> None:
    text = _graph("""symbol u0: [-1, inf] unbacked
        %s: f32[u0] = masked_select(x, m, size=u0)""")
    with pytest.raises(g.ParseError) as info:
        g.parse_ir(text, filename="bad.gs")
    (d,) = info.value.diagnostics
    assert d.code == "GS313" and d.loc.line == 2 and "below 0" in d.message


def test_a_zero_minimum_needs_unbacked() -> None:
    text = MASKED.replace("symbol B: [1, 64]", "symbol B: [0, 64]")
    with pytest.raises(g.ParseError) as info:
        g.parse_ir(text, filename="bad.gs")
    assert info.value.diagnostics[0].code == "GS313" and "unbacked" in info.value.diagnostics[0].message


def test_mlir_with_a_malformed_fifth_entry_is_gs313() -> None:
    m = g.parse_ir(MASKED)
    bad = str(m).replace('"unbacked"', '"backed"')
    diags = g.verify(parse_mlir(bad, "bad.mlir"))
    assert "GS313" in [d.code for d in diags]


def test_a_symbol_that_is_unbacked_in_the_ir_is_never_bound_by_guesswork() -> None:
    """Passing a module whose data-dependent op names a backed symbol to lower() is refused
    before anything runs."""
    text = _graph("""%s: i64[B, 2] = nonzero(m, size=B)""", out="i64[B, 2]")
    with pytest.raises(GraphsynthError):
        g.lower(g.parse_ir(text))


# -- lowering: bound from the result, range checked ------------------------------------------------

def test_lowering_binds_the_symbol_and_checks_its_range() -> None:
    net = g.lower(g.parse_ir(MASKED))
    x = torch.randn(3, 4)
    m = x > 0
    assert torch.equal(net(x, m), torch.masked_select(x, m) ** 2)
    assert net(x, torch.zeros(3, 4, dtype=torch.bool)).shape == (0,)  # u0 = 0 is allowed
    narrow = g.lower(g.parse_ir(MASKED.replace("[0, 256] unbacked", "[0, 5] unbacked")))
    with pytest.raises(SymbolBindingError) as info:
        narrow(torch.randn(3, 4), torch.ones(3, 4, dtype=torch.bool))
    (d,) = info.value.diagnostics
    assert d.code == "GS611" and "u0 = 12" in d.message and "[0, 5]" in d.message and "masked_select" in d.message


def test_later_ops_use_the_bound_symbol() -> None:
    """A reshape and a full after the defining op compute their sizes from the bound symbol."""
    text = """graph G(x: f32[B, 4], m: bool[B]) -> f32[u0, 2, 2] {
  symbol u0: [0, inf] unbacked
  %r: f32[u0, 4] = boolean_index(x, m, size=u0)
  %o: f32[u0, 4] = full(shape=[u0, 4], value=2.0, dtype=f32)
  %p: f32[u0, 4] = mul(%r, %o)
  %0: f32[u0, 2, 2] = reshape(%p, shape=[u0, 2, 2])
  return %0
}
"""
    net = g.lower(g.parse_ir(text))
    x = torch.randn(5, 4)
    m = torch.tensor([True, False, True, True, False])
    assert torch.equal(net(x, m), (x[m] * 2).reshape(-1, 2, 2))


# -- import ------------------------------------------------------------------------------------------

class Selects(torch.nn.Module):
    def forward(self, x: torch.Tensor, m: torch.Tensor) -> tuple:
        rows, cols = torch.where(x > 0)
        return (torch.nonzero(x > 0.5), rows, cols, torch.argwhere(x < -0.5), torch.masked_select(x, x > 0) * 2,
                x[x < 0].exp(), x[m].sum(-1), x[:, m[:4]] + 1)


def test_data_dependent_ops_import_with_unbacked_symbols_and_match() -> None:
    torch.manual_seed(0)
    inputs = {"x": torch.randn(5, 4), "m": torch.tensor([True, False, True, True, False])}
    dyn = {"x": {0: "B"}, "m": {0: "B"}}
    module = g.import_torch(Selects(), inputs, dyn)
    verify_clean(module)
    text = text_round_trip(module)
    (graph,) = gs.graph_ops(module)
    unbacked = graph.unbacked_symbols()
    assert len(unbacked) == 7, text
    for name in unbacked - {"u6"}:
        assert f"symbol {name}: [0, inf] unbacked" in text
    assert "symbol u6: [0, 4] unbacked" in text  # export's range: a mask of 4 selects at most 4
    for op in ("nonzero(", "masked_select(", "boolean_index(", "dim=1, size="):
        assert op in text
    assert g.print_ir(parse_mlir(str(module), "sel.mlir")) == text

    def fresh(b: dict[str, int]) -> dict[str, torch.Tensor]:
        gen = torch.Generator().manual_seed(b["B"])
        return {"x": torch.randn(b["B"], 4, generator=gen), "m": torch.rand(b["B"], generator=gen) > 0.4}

    compare_lowered(Selects(), module, fresh, ({"B": 5}, {"B": 9}))


def test_sparse_moe_with_per_expert_where() -> None:
    """Mixtral's classic sparse block: one unbacked symbol per expert (its token count), defined
    by the nonzero that torch.where(expert_mask[e]) becomes; the lowered module loads the
    source state_dict strictly and matches outputs and every parameter's gradient."""
    model, inputs, dyn, bindings = class_models.sparse_moe()
    module = g.import_torch(model, inputs, dyn)
    verify_clean(module)
    text = text_round_trip(module)
    (graph,) = gs.graph_ops(module)
    assert graph.unbacked_symbols() == {"u0", "u1", "u2", "u3"}
    for e in range(4):
        assert f"symbol u{e}: [0, inf] unbacked" in text and f"i64[u{e}, 2] = nonzero(%" in text
        assert f"f32[u{e}, 12] = linear(%" in text
    assert text.count("index_add(") == 4
    again = parse_mlir(str(module), "moe.mlir")
    assert g.print_ir(again) == text and g.verify(again) == []
    fresh = lambda b: class_models.fresh(inputs, dyn, b, sum(b.values()))  # noqa: E731
    net = compare_lowered(model, module, fresh, bindings, grads=True)
    assert list(net.state_dict()) == list(model.state_dict())


def test_sparse_moe_with_idle_experts() -> None:
    """Experts that no token picks get zero rows (u = 0): the lowered module still matches."""
    model, inputs, dyn, bindings = class_models.sparse_moe()
    with torch.no_grad():
        model.gate.weight.zero_()
        model.gate.weight[0] += 5.0
        model.gate.weight[1] -= 5.0
    module = g.import_torch(model, inputs, dyn)
    fresh = lambda b: {"x": torch.rand(b["B"], b["S"], 8) + 0.1}  # noqa: E731  positive: experts 0 and 2 or 3 win
    for b in bindings:
        t = fresh(b)["x"].reshape(-1, 8)
        chosen = torch.topk(torch.softmax(model.gate(t), -1), 2, -1).indices
        assert len(set(chosen.flatten().tolist())) < 4  # some expert gets no token
    compare_lowered(model, module, fresh, bindings, grads=True)
