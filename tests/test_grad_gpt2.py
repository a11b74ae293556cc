"""The gradient tools on a real model (a tiny GPT-2), and the documented example end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import graphsynth as gs
from graphsynth import grad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

from models import gpt2  # noqa: E402


def _loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


@pytest.fixture(scope="module")
def gpt():
    model, inputs, dims = gpt2(layers=2, hidden=32, heads=2, vocab=64, positions=32, batch=2, seq=6)
    module = gs.import_torch(model, inputs, dims)
    net = gs.lower(module)
    net.load_state_dict(model.state_dict(), strict=True)
    rec = grad.instrument(net, module)
    ids = inputs["input_ids"]
    _loss(net(ids), ids).backward()
    (ref,) = model(**inputs)
    _loss(ref, ids).backward()
    return model, module, rec, ids


def test_parameter_gradients_match_the_source_model(gpt) -> None:
    model, module, rec, ids = gpt
    pg = rec.param_grad_norms()
    for name, p in model.named_parameters():
        assert pg[name] == pytest.approx(p.grad.norm().item(), rel=1e-4), name
    norms = rec.grad_norms()
    for i in range(2):
        block = f"transformer.h.{i}"
        inside = [n for n in rec.graph.module_values(block) if rec.graph.values[n].kind == "op"]
        assert norms[block] == pytest.approx(sum(norms[n] ** 2 for n in inside) ** 0.5)
        assert norms[block] > 0


def test_paths_and_sensitivity_through_attention(gpt) -> None:
    model, module, rec, ids = gpt
    weak = rec.weakest_path("transformer.h.0", "loss")
    strong = rec.strongest_path("transformer.h.0", "loss")
    assert weak.gain <= strong.gain
    assert str(weak[0]).endswith("@ transformer.h.0") and str(weak[-1]) == "loss"
    # The strongest route to the loss follows the residual stream: no step inside an attention.
    assert not any(".attn" in s.module for s in strong)
    # Forward mode through scaled_dot_product_attention (math kernel), perturbing the token embedding.
    s = rec.sensitivity(ids, ("%0", (0, 2, 5)))
    assert s.scores["%3"] == 0.0  # the position embedding does not depend on the token embedding
    logits = rec.graph.outputs[0]
    assert s.scores[logits] > 0
    # Causal attention: later positions of the same sequence respond, earlier ones do not.
    j = rec.jacobian("%0", logits)
    assert j.exact
    col = j.matrix[..., 0, 2, 5]  # d logits / d embedding[0, 2, 5]
    assert col[0, :2].abs().max() == 0 and col[0, 2:].abs().max() > 0 and col[1].abs().max() == 0


@pytest.mark.long
def test_the_gpt2_example_runs(tmp_path: Path, capsys) -> None:
    import gpt2_analysis

    assert gpt2_analysis.main(["--tiny", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for needle in ("parallel branches", "2 group(s)", "context for transformer.h.0 under a 2,000-token budget",
                   "gradient norm per block", "transformer.h.1", "weakest path", "strongest path", "pictures:"):
        assert needle in out, needle
    assert (tmp_path / "gpt2_gradients.svg").stat().st_size > 1000
    assert (tmp_path / "gpt2_grad_norms.png").read_bytes()[:4] == b"\x89PNG"
