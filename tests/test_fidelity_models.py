"""Real architectures whose fidelity depends on graph-level facts: tied weights (GPT-2, T5,
ALBERT) and a range-constrained symbol (an audio encoder over raw samples).

Each model is imported, verified, round-tripped through the text form and MLIR, lowered, loads
the source state_dict with strict=True, and matches the source model's outputs and the gradients
of every parameter (the tied ones above all) at two bindings of every symbol."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from backend_util import assert_outputs_and_grads_match

import graphsynth as gs
from graphsynth import query
from graphsynth.dialects import gs as gs_dialect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import models  # noqa: E402

BINDINGS = {
    "gpt2": ({"B": 1, "S": 5}, {"B": 3, "S": 11}),
    "t5": ({"B": 1, "S": 5, "T": 3}, {"B": 3, "S": 9, "T": 7}),
    "albert": ({"B": 1, "S": 5}, {"B": 3, "S": 9}),
    "audio_encoder": ({"B": 1, "S": 800}, {"B": 2, "S": 2077}),
    "fnet": ({"B": 1, "S": 5}, {"B": 3, "S": 9}),
}
TIED = {
    "gpt2": [["transformer.wte.weight", "lm_head.weight"]],
    "t5": [["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"]],
    "albert": [["albert.embeddings.word_embeddings.weight", "predictions.decoder.weight"],
               ["predictions.bias", "predictions.decoder.bias"]],
    "audio_encoder": [],
    "fnet": [],
}


@pytest.fixture(scope="module", params=sorted(BINDINGS))
def imported(request: pytest.FixtureRequest):
    model, inputs, dyn = getattr(models, request.param)()
    return request.param, model, inputs, dyn, gs.import_torch(model, inputs, dyn)


def _groups(model: torch.nn.Module) -> list[list[str]]:
    by: dict[int, list[str]] = {}
    for k, v in model.state_dict(keep_vars=True).items():
        by.setdefault(id(v), []).append(k)
    return [g for g in by.values() if len(g) > 1]


def test_import_records_each_tied_group_as_shared_parameters(imported) -> None:
    name, model, _, _, module = imported
    assert _groups(model) == TIED[name]
    graph = gs_dialect.graph_ops(module)[0]
    params = {op.param_name.data: op for op in graph.body.block.ops if isinstance(op, gs_dialect.ParamOp)}
    for group in TIED[name]:
        assert params[group[0]].alias_of is None
        assert [params[k].alias_of for k in group[1:]] == [group[0]] * (len(group) - 1)
    text = gs.print_ir(module)
    for group in TIED[name]:
        for k in group[1:]:
            assert f"param {k}: {params[k].results[0].type} = {group[0]}\n" in text


def test_text_and_mlir_forms_round_trip_and_verify(imported) -> None:
    from graphsynth.cli import parse_mlir

    name, _, _, _, module = imported
    assert gs.verify(module) == []
    text = gs.print_ir(module)
    again = gs.parse_ir(text, filename=f"{name}.gs")
    assert gs.verify(again) == []
    assert gs.print_ir(again) == text
    mlir = str(again)
    assert gs.print_ir(parse_mlir(mlir, f"{name}.mlir")) == text


def test_lowered_model_matches_outputs_and_gradients_at_two_bindings(imported) -> None:
    name, model, inputs, dyn, module = imported
    net = gs.lower(module)
    assert list(net.state_dict()) == list(model.state_dict())
    net.load_state_dict(model.state_dict(), strict=True)
    # One nn.Parameter per tied group, as in the source model.
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in model.named_parameters()]
    for group in TIED[name]:
        assert len({id(net.get_parameter(k)) for k in group if k in dict(net.named_parameters(remove_duplicate=False))}) == 1
    assert_outputs_and_grads_match(name, net, model, inputs, dyn, BINDINGS[name], models.fresh_inputs)


def test_parameter_counts_count_tied_weights_once(imported) -> None:
    _, model, _, _, module = imported
    total = query.cost(module).total
    assert total.params == sum(p.numel() for p in model.parameters())
    assert total.buffers == sum(b.numel() for b in model.buffers() if b is not None) - _non_persistent(model)


def _non_persistent(model: torch.nn.Module) -> int:
    n = 0
    for mod in model.modules():
        for name in getattr(mod, "_non_persistent_buffers_set", ()):
            b = mod._buffers.get(name)
            n += b.numel() if b is not None else 0
    return n


def test_audio_encoder_range_is_declared_used_and_checked() -> None:
    model, inputs, dyn = models.audio_encoder()
    module = gs.import_torch(model, inputs, dyn)
    text = gs.print_ir(module)
    assert "  symbol S: [720, 4000]\n" in text
    assert "i64[S-1] = arange(end=S-1" in text or "f32[S-1] = arange(end=S-1" in text
    assert "(S+240)//320-1" in text  # (S-400)//320+1, the stack's output length
    info = {s.name: s for s in query.symbols(module)}
    assert info["S"].declared and (info["S"].range.min, info["S"].range.max) == (720, 4000)
    assert not info["B"].declared
    # Without the declaration, arange(S-1) has no proof of a non-negative length.
    bare = gs.parse_ir(text.replace("  symbol S: [720, 4000]\n", ""))
    assert any(d.code == "GS304" and "arange" in d.message for d in gs.verify(bare))
    net = gs.lower(module)
    net.load_state_dict(model.state_dict(), strict=True)
    for n in (719, 4001):
        with pytest.raises(gs.GraphsynthError) as e:
            net(torch.randn(1, n))
        d = e.value.diagnostics[0]
        assert d.code == "GS610" and d.value == "S" and f"S = {n}" in d.message and "[720, 4000]" in d.message
    with pytest.raises(query.QueryError):
        query.cost(module, {"B": 1, "S": 10})
