"""Helpers for the frontend tests: import a module, verify it, round-trip it through text,
lower it and compare it with the source model on fresh inputs at several symbol bindings."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from graphsynth.dialects import gs

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "examples") not in sys.path:
    sys.path.insert(0, str(ROOT / "examples"))


def load_models() -> Any:
    """examples/models.py, the small-config factories shared with the examples and benches."""
    import models

    return models


def graph_of(module: Any) -> gs.GraphOp:
    (g,) = gs.graph_ops(module)
    return g


def primitive_ops(module: Any) -> list[gs.GsOp]:
    return [op for op in graph_of(module).body.block.ops if isinstance(op, gs.GsOp)]


def op_names(module: Any) -> list[str]:
    return [op.name[3:] for op in primitive_ops(module)]


def verify_clean(module: Any) -> None:
    """The module verifies with no diagnostics (rendered in the assertion message if not)."""
    from graphsynth.verifier import verify

    diags = verify(module)
    assert diags == [], "\n".join(d.render() for d in diags)


def text_round_trip(module: Any) -> str:
    """print -> parse -> print gives the same text; returns it."""
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.grammar.printer import print_ir

    text = print_ir(module)
    again = print_ir(parse_ir(text, filename="roundtrip.gs"))
    assert again == text
    return text


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.dtype == torch.bool or not a.dtype.is_floating_point:
        return 0.0 if torch.equal(a, b) else float("inf")
    a, b = a.double(), b.double()
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / (scale if scale > 0 else 1.0)


def flat_outputs(out: Any) -> list[torch.Tensor]:
    return [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]


def compare_lowered(
    model: torch.nn.Module,
    module: Any,
    make_inputs: Callable[[dict[str, int]], dict[str, Any]],
    bindings: Sequence[dict[str, int]],
    tol: float = 1e-5,
    grads: bool = False,
) -> torch.nn.Module:
    """Lower ``module``, load the model's weights, compare outputs at each binding (and, with
    ``grads``, the parameter gradients of a random weighted sum of the outputs)."""
    from graphsynth.backend.lower import lower, tie_shared_parameters

    net = lower(module)
    net.load_state_dict(model.state_dict())
    tie_shared_parameters(net, model)
    net.train(model.training)
    for b in bindings:
        inputs = make_inputs(b)
        tensors = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        with torch.no_grad():
            want = flat_outputs(model(**inputs))
            got = flat_outputs(net(**tensors))
        assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
        for i, (a, w) in enumerate(zip(got, want)):
            assert a.shape == w.shape, f"output {i} at {b}: shape {tuple(a.shape)} != {tuple(w.shape)}"
            assert a.dtype == w.dtype, f"output {i} at {b}: dtype {a.dtype} != {w.dtype}"
            err = rel_err(a, w)
            assert err <= tol, f"output {i} at {b}: relative error {err:.3g} > {tol}"
        if grads:
            compare_grads(model, net, inputs, tensors, tol)
    return net


def compare_grads(model: torch.nn.Module, net: torch.nn.Module, inputs: dict[str, Any], tensors: dict[str, Any], tol: float) -> None:
    g = torch.Generator().manual_seed(0)
    want = [t for t in flat_outputs(model(**inputs)) if t.dtype.is_floating_point]
    got = [t for t in flat_outputs(net(**tensors)) if t.dtype.is_floating_point]
    weights = [torch.randn(t.shape, generator=g) for t in want]
    sum((t * w).sum() for t, w in zip(want, weights)).backward()
    sum((t * w).sum() for t, w in zip(got, weights)).backward()
    ours = dict(net.named_parameters())
    try:
        for k, p in model.named_parameters():
            mine = ours[k].grad
            if p.grad is None:
                assert mine is None or not mine.any(), f"{k}: a gradient only when lowered"
                continue
            assert mine is not None, f"no gradient for {k} in the lowered module"
            err = rel_err(mine, p.grad)
            assert err <= tol, f"gradient of {k}: relative error {err:.3g} > {tol}"
    finally:
        model.zero_grad(set_to_none=True)
        net.zero_grad(set_to_none=True)
