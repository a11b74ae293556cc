"""Helpers for the pass tests: numerical comparison of a module before and after a rewrite.

``assert_same_numerics(before, after)`` lowers both modules, loads one random state into both
(the rewritten module may have extra parameters, e.g. from insert-block: those keep the values
the backend initialised them with), feeds both the same random inputs at two bindings of each
symbol and compares the outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from graphsynth.backend.lower import TORCH_DTYPES, lower
from graphsynth.dialects import gs
from graphsynth.dialects.shapes import evaluate, free_symbols
from graphsynth.grammar.parser import parse_ir
from graphsynth.passes.outline import entry_graph

HERE = Path(__file__).parent
PASSES_DIR = HERE / "filecheck" / "passes"
BINDINGS = ({"B": 2, "S": 3, "H": 8, "W": 8}, {"B": 3, "S": 5, "H": 16, "W": 12})


MODEL_INT_HIGH: dict[str, dict[str, int]] = {
    "gpt2": {"input_ids": 128},
    "bert": {"input_ids": 128, "attention_mask": 2},
    "llama": {"input_ids": 128},
    "vit": {},
    "resnet": {},
}


def load(name: str) -> Any:
    """A module from tests/filecheck/passes/<name>.gs (``Inputs/gpt2`` for a model snapshot)."""
    path = PASSES_DIR / f"{name}.gs"
    return parse_ir(path.read_text(), filename=str(path))


def model(name: str) -> Any:
    """The snapshot of an imported model (examples/models.py) in tests/filecheck/passes/Inputs."""
    return load(f"Inputs/{name}")


def symbols(module: Any) -> set[str]:
    g = entry_graph(module)
    out: set[str] = set()
    for a in g.body.block.args:
        for d in a.type.shape:
            if not isinstance(d, int):
                out |= free_symbols(d)
    return out


def inputs_for(module: Any, bindings: dict[str, int], seed: int, int_high: int | dict[str, int] = 16) -> list[torch.Tensor]:
    """Random inputs of the entry graph; integer inputs in [0, int_high) (a dict gives it per input
    name, default 16)."""
    g = entry_graph(module)
    names = [a.data for a in g.arg_names.data]
    gen = torch.Generator().manual_seed(seed)
    out = []
    for name, a in zip(names, g.body.block.args):
        sig = a.type.sig()
        shape = tuple(evaluate(d, bindings) for d in sig.shape)
        high = int_high.get(name, 16) if isinstance(int_high, dict) else int_high
        dtype = TORCH_DTYPES[sig.dtype]
        if dtype == torch.bool:
            out.append(torch.randint(0, 2, shape, generator=gen).bool())
        elif dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype))
        else:
            out.append(torch.randint(0, high, shape, generator=gen).to(dtype))
    return out


def random_state(net: torch.nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in net.state_dict().items():
        if v.is_floating_point():
            state[k] = (torch.randn(v.shape, generator=gen, dtype=torch.float64) * 0.3).to(v.dtype)
        elif v.dtype == torch.bool:
            state[k] = torch.ones(v.shape, dtype=torch.bool)
        else:
            state[k] = torch.randint(0, 4, v.shape, generator=gen).to(v.dtype)
    return state


def _flat(out: Any) -> list[torch.Tensor]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_same_numerics(before: Any, after: Any, *, bindings: tuple[dict[str, int], ...] = BINDINGS,
                         rtol: float = 1e-5, atol: float = 1e-5, int_high: int | dict[str, int] = 16, seed: int = 0) -> int:
    """Outputs of the lowered ``before`` and ``after`` agree; returns how many outputs compared."""
    net_a, net_b = lower(before), lower(after)
    state = random_state(net_a, seed)
    net_a.load_state_dict(state)
    missing, unexpected = net_b.load_state_dict(state, strict=False)
    assert not unexpected, f"the rewrite lost parameters: {unexpected}"
    assert set(missing) <= set(net_b.state_dict()) - set(state)
    compared = 0
    syms = symbols(before)
    seen: set[tuple] = set()
    for i, b in enumerate(bindings):
        key = tuple(sorted((s, b[s]) for s in syms))
        if key in seen:
            continue
        seen.add(key)
        xs = inputs_for(before, b, seed + i, int_high)
        with torch.no_grad():
            ya, yb = _flat(net_a(*xs)), _flat(net_b(*xs))
        assert len(ya) == len(yb)
        for p, q in zip(ya, yb):
            assert p.shape == q.shape and p.dtype == q.dtype, (p.shape, q.shape, p.dtype, q.dtype)
            torch.testing.assert_close(q, p, rtol=rtol, atol=atol, equal_nan=True)
            compared += 1
    return compared


def count_ops(module: Any, name: str) -> int:
    return sum(1 for g in gs.graph_ops(module) for op in g.body.walk() if op.name == f"gs.{name}")
