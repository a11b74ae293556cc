"""Real models end to end on the backend side: import (the frontend), lower, load the source
model's state_dict, and compare outputs and parameter gradients at two bindings of the symbols."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from backend_util import assert_outputs_and_grads_match

from graphsynth.backend.lower import lower

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
    net.load_state_dict(model.state_dict(), strict=True)  # tied weights are shared in the IR
    assert_outputs_and_grads_match(name, net, model, inputs, dyn, BINDINGS[name], models.fresh_inputs)
