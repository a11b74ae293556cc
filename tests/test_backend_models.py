"""Real models end to end on the backend side: import (the frontend), lower, load the source
model's state_dict, and compare outputs and parameter gradients at two bindings of the symbols."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from backend_util import rel_err

from graphsynth.backend.lower import lower, tie_shared_parameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
models = pytest.importorskip("models", reason="examples/models.py (the frontend room) is not there yet")

BINDINGS = {
    "gpt2": ({"B": 1, "S": 5}, {"B": 3, "S": 11}),
    "bert": ({"B": 2, "S": 3}, {"B": 3, "S": 9}),
    "vit": ({"B": 1}, {"B": 3}),
    "resnet": ({"B": 1}, {"B": 3}),
}


@pytest.fixture(scope="module", params=sorted(BINDINGS))
def imported(request: pytest.FixtureRequest):
    from graphsynth.frontend.importer import import_torch

    model, inputs, dyn = getattr(models, request.param)()
    return request.param, model, inputs, dyn, import_torch(model, inputs, dyn)


def test_lowered_model_matches_source(imported) -> None:
    name, model, inputs, dyn, module = imported
    net = lower(module)
    assert list(net.state_dict()) == list(model.state_dict())
    net.load_state_dict(model.state_dict())
    tie_shared_parameters(net, model)
    for i, bindings in enumerate(BINDINGS[name]):
        fresh = models.fresh_inputs(inputs, bindings, dyn, seed=i + 1)
        tensors = {k: v for k, v in fresh.items() if isinstance(v, torch.Tensor)}
        got = net(**tensors)
        got = got if isinstance(got, tuple) else (got,)
        want = torch.utils._pytree.tree_leaves(model(**fresh))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert rel_err(a, b) <= 1e-5, f"{name} at {bindings}: outputs differ"
        g = torch.Generator().manual_seed(i)
        weights = [torch.randn(b.shape, generator=g) for b in want]
        sum((a * w).sum() for a, w in zip(got, weights)).backward()
        sum((b * w).sum() for b, w in zip(want, weights)).backward()
        ours = dict(net.named_parameters())
        for k, p in model.named_parameters():
            if p.grad is None:
                assert ours[k].grad is None or not ours[k].grad.any(), f"{name}: {k} has a gradient only when lowered"
                continue
            assert ours[k].grad is not None, f"{name}: no gradient for {k}"
            assert rel_err(ours[k].grad, p.grad) <= 1e-5, f"{name} at {bindings}: gradient of {k} differs"
        net.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)
