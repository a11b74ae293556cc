"""Real models of transformers (small configs, random weights) through the importer: they
import with symbolic batch/sequence dims, verify, round-trip through text, keep the module
hierarchy and state_dict names, and lower to modules that match the originals."""

from __future__ import annotations

import pytest
import torch
from frontend_util import compare_lowered, graph_of, load_models, op_names, primitive_ops, text_round_trip, verify_clean

from graphsynth.dialects import gs
from graphsynth.frontend.importer import import_torch

models = load_models()
BINDINGS = {
    "gpt2": ({"B": 2, "S": 8}, {"B": 3, "S": 5}, {"B": 1, "S": 13}),
    "bert": ({"B": 2, "S": 8}, {"B": 3, "S": 11}),
    "vit": ({"B": 2}, {"B": 3}),
    "resnet": ({"B": 2}, {"B": 1}),
    "llama": ({"B": 2, "S": 8}, {"B": 1, "S": 5}, {"B": 3, "S": 12}),
}
# (module path, class, parent) entries each model's hierarchy must contain.
HIERARCHY = {
    "gpt2": [("transformer", "GPT2Model", ""), ("transformer.h.1", "GPT2Block", "transformer"), ("transformer.h.1.attn", "GPT2Attention", "transformer.h.1"),
             ("transformer.h.1.attn.c_attn", "Conv1D", "transformer.h.1.attn"), ("lm_head", "Linear", "")],
    "bert": [("embeddings", "BertEmbeddings", ""), ("encoder.layer.0", "BertLayer", "encoder"), ("encoder.layer.0.attention.self", "BertSelfAttention", "encoder.layer.0.attention"),
             ("pooler.dense", "Linear", "pooler")],
    "vit": [("embeddings.patch_embeddings.projection", "Conv2d", "embeddings.patch_embeddings"), ("layers.1.attention", "ViTAttention", "layers.1"), ("layers.1.attention.q_proj", "Linear", "layers.1.attention")],
    "resnet": [("embedder.embedder.convolution", "Conv2d", "embedder.embedder"), ("encoder.stages.1.layers.0.shortcut", "ResNetShortCut", "encoder.stages.1.layers.0"), ("pooler", "AdaptiveAvgPool2d", "")],
    "llama": [("model.rotary_emb", "LlamaRotaryEmbedding", "model"), ("model.layers.0.self_attn", "LlamaAttention", "model.layers.0"), ("model.layers.1.mlp.act_fn", "SiLUActivation", "model.layers.1.mlp")],
}
INPUT_TYPES = {
    "gpt2": ["i64[B, S]"],
    "bert": ["i64[B, S]", "i64[B, S]"],
    "vit": ["f32[B, 3, 32, 32]"],
    "resnet": ["f32[B, 3, 32, 32]"],
    "llama": ["i64[B, S]"],
}


@pytest.fixture(scope="module", params=sorted(BINDINGS))
def imported(request: pytest.FixtureRequest) -> tuple:
    name = request.param
    model, inputs, dyn = getattr(models, name)()
    return name, model, inputs, dyn, import_torch(model, inputs, dyn)


def test_verifies_and_round_trips(imported: tuple) -> None:
    _, _, _, _, module = imported
    verify_clean(module)
    text = text_round_trip(module)
    assert "module " in text


def test_inputs_are_named_and_symbolic(imported: tuple) -> None:
    name, model, inputs, _, module = imported
    g = graph_of(module)
    assert [a.data for a in g.arg_names.data] == [k for k, v in inputs.items() if isinstance(v, torch.Tensor)]
    assert [str(a.type) for a in g.body.block.args] == INPUT_TYPES[name]
    assert g.graph_name == type(model).__name__


def test_parameters_are_named_by_state_dict_keys(imported: tuple) -> None:
    _, model, _, _, module = imported
    params = [op for op in graph_of(module).body.block.ops if isinstance(op, gs.ParamOp)]
    names = [p.param_name.data for p in params]
    assert names == list(model.state_dict())
    sd = model.state_dict()
    for p in params:
        assert list(p.results[0].type.shape) == list(sd[p.param_name.data].shape)
        assert p.kind.data == ("param" if p.param_name.data in dict(model.named_parameters(remove_duplicate=False)) else "buffer")


def test_hierarchy_is_kept(imported: tuple) -> None:
    name, model, _, _, module = imported
    g = graph_of(module)
    table = {e.data[0].data: (e.data[1].data, e.data[2].data) for e in g.modules.data}
    for path, cls, parent in HIERARCHY[name]:
        assert table.get(path) == (cls, parent), f"{path}: {table.get(path)}"
    real = dict(model.named_modules())
    for path, (cls, parent) in table.items():
        assert path in real and type(real[path]).__name__ == cls
        assert parent == "" or parent in table
    for op in primitive_ops(module):
        assert op.scope == "" or op.scope in table


def test_no_clutter(imported: tuple) -> None:
    """No-ops export leaves (dropout in eval, casts to the same dtype, identities) are gone,
    and nothing in the IR is dead."""
    _, _, _, _, module = imported
    names = op_names(module)
    assert "dropout" not in names and "identity" not in names
    for op in primitive_ops(module):
        if op.name == "gs.cast":
            assert op.operands[0].type.dtype != op.results[0].type.dtype
        assert any(r.uses for r in op.results), f"dead op {op.name}"


def test_lowered_matches_source(imported: tuple) -> None:
    name, model, inputs, dyn, module = imported
    compare_lowered(model, module, lambda b: models.fresh_inputs(inputs, b, dyn, seed=sum(b.values())), BINDINGS[name], grads=True)


def test_gpt2_is_compact_and_uses_addmm() -> None:
    """GPT-2's Conv1D layers are addmm on [B*S, 64]; the causal mask is built from symbolic
    arange/index ops, not from example sizes."""
    model, inputs, dyn = models.gpt2()
    module = import_torch(model, inputs, dyn)
    ops = primitive_ops(module)
    addmm = [op for op in ops if op.name == "gs.addmm"]
    assert len(addmm) == 8
    assert str(addmm[0].operands[1].type) == "f32[B*S, 64]"
    attn = [op for op in ops if op.name == "gs.attention"]
    assert [str(op.operands[3].type) for op in attn] == ["bool[B, 1, S, S]"] * 2
    for op in ops:  # the example's sequence length (8) appears in no type
        for r in op.results:
            assert 8 not in r.type.shape, f"example size leaked: {op.name} {r.type}"


def test_llama_rotary_subgraph_is_inlined() -> None:
    """The rotary embedding runs inside wrap_with_set_grad_enabled: its ops are imported (in
    model.rotary_emb), its inv_freq buffer is a constant, and GQA's repeat is expand+reshape."""
    model, inputs, dyn = models.llama()
    module = import_torch(model, inputs, dyn)
    rotary = [op.name[3:] for op in primitive_ops(module) if op.scope == "model.rotary_emb"]
    for expected in ("cos", "sin", "concat", "constant"):
        assert expected in rotary, rotary
    const = next(op for op in primitive_ops(module) if op.name == "gs.constant")
    assert list(const.attr_values()["value"]) == pytest.approx(model.model.rotary_emb.inv_freq.tolist())


def test_resnet_spatial_dims_as_floor_expressions() -> None:
    """H and W dynamic (with a range export needs): strided convs and pools give floor dims."""
    from torch.export import Dim

    model, inputs, _ = models.resnet()
    dyn = {"pixel_values": {0: "B", 2: Dim("H", min=16, max=512), 3: Dim("W", min=16, max=512)}}
    module = import_torch(model, inputs, dyn)
    verify_clean(module)
    types = [str(op.results[0].type) for op in primitive_ops(module) if op.name in ("gs.conv2d", "gs.max_pool2d")]
    assert types[0] == "f32[B, 16, (H+1)//2, (W+1)//2]"
    assert "f32[B, 16, (H+3)//4, (W+3)//4]" in types
    assert types[-1] == "f32[B, 32, (H+7)//8, (W+7)//8]"
    compare_lowered(model, module, lambda b: {"pixel_values": torch.randn(b["B"], 3, b["H"], b["W"]), "return_dict": False},
                    [{"B": 2, "H": 32, "W": 40}, {"B": 1, "H": 17, "W": 23}])


def test_train_mode_keeps_dropout_and_batch_statistics() -> None:
    model, inputs, dyn = models.gpt2()
    model.train()
    assert "dropout" in op_names(import_torch(model, inputs, dyn))
    model, inputs, dyn = models.resnet()
    model.train()
    module = import_torch(model, inputs, dyn)
    assert all(op.attr_values()["training"] for op in primitive_ops(module) if op.name == "gs.batch_norm")
