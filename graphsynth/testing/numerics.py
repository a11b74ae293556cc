"""The numerical check of :func:`graphsynth.testing.assert_rewrite_sound`: lower a module and its
rewrite, load the same random parameters, run both on the same random inputs at several bindings
of the symbols and compare every output within a tolerance per dtype.

A module of its own because it is the one check that needs torch and the lowering (imported inside
the functions, so importing this module stays cheap); the checks that only read IR stay in
:mod:`graphsynth.testing.soundness`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from graphsynth.dialects import gs
from graphsynth.dialects.symdim import evaluate, free_symbols

__all__ = ["TOLERANCES", "Options", "check_numerics", "default_bindings"]

# Tolerances per dtype of the compared output: (rtol, atol).
TOLERANCES = {"f64": (1e-7, 1e-9), "f32": (1e-4, 1e-5), "f16": (1e-2, 1e-2), "bf16": (2e-2, 2e-2)}


@dataclass
class Options:
    """The options of every check (see :func:`graphsynth.testing.assert_rewrite_sound`)."""

    rtol: float | None = None
    atol: float | None = None
    bindings: Sequence[dict[str, int]] | None = None
    n_bindings: int = 2
    keep_params: bool = True
    keep_names: bool = True
    numeric: bool = True
    seed: int = 0
    inputs: Callable[..., Any] | None = None
    graphs: Sequence[str] | None = None
    round_trip: bool = True


def default_bindings(module: ModuleOp, n: int = 2) -> list[dict[str, int]]:
    """``n`` bindings of the input symbols, each symbol a different integer >= 3 (so a swapped
    pair of dims shows), the bindings different from each other, every input dim positive."""
    from graphsynth.testing.strategies import MIN_SYMBOL_VALUE

    syms: set[str] = set()
    dims = []
    for g in gs.graph_ops(module):
        for a in g.body.block.args:
            if isinstance(a.type, gs.TensorType):
                for d in a.type.shape:
                    if not isinstance(d, int):
                        syms |= free_symbols(d)
                        dims.append(d)
    if not syms:
        return [{}]
    order = sorted(syms)
    found: list[dict[str, int]] = []
    for k in range(4 * n + 8):
        base = MIN_SYMBOL_VALUE + k
        step = 1 + k % 3
        b = {s: base + step * i for i, s in enumerate(order)}
        try:
            ok = all(evaluate(d, b) > 0 for d in dims)
        except (KeyError, ZeroDivisionError):
            ok = False
        if ok and b not in found:
            found.append(b)
        if len(found) == n:
            break
    return found


def _tolerance(dtype: str, o: Options) -> tuple[float, float]:
    rtol, atol = TOLERANCES.get(dtype, (0.0, 0.0))
    return (o.rtol if o.rtol is not None else rtol, o.atol if o.atol is not None else atol)


def _random_tensor(shape: Sequence[int], dtype: str, gen: Any, key: str = "") -> Any:
    import torch

    from graphsynth.backend.base import TORCH_DTYPES

    dt = TORCH_DTYPES[dtype]
    if dt.is_floating_point:
        if key.endswith("running_var"):
            return (torch.rand(tuple(shape), generator=gen, dtype=torch.float64) + 0.5).to(dt)
        return torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(dt)
    if dt == torch.bool:
        return torch.rand(tuple(shape), generator=gen) > 0.5
    return torch.randint(0, 3, tuple(shape), generator=gen).to(dt)


def check_numerics(before: ModuleOp, after: ModuleOp, o: Options) -> str | None:
    """Lower both modules, load the same random state, run both on the same random inputs at
    each binding and compare every output; the first difference is the reason returned."""
    import torch

    from graphsynth.backend.lower import lower

    bindings = list(o.bindings) if o.bindings is not None else default_bindings(before, o.n_bindings)
    for g in gs.graph_ops(before):
        name = g.graph_name
        if o.graphs is not None and name not in o.graphs:
            continue
        try:
            ref_net = lower(before, graph=name)
        except Exception as e:  # noqa: BLE001
            return f"(setup) the input module does not lower: {type(e).__name__}: {e}"
        try:
            new_net = lower(after, graph=name)
        except Exception as e:  # noqa: BLE001
            return f"its result does not lower to torch: {type(e).__name__}: {e}"
        gen = torch.Generator().manual_seed(o.seed)
        state = {k: _random_tensor(v.shape, _dtype_name(v.dtype), gen, k) for k, v in ref_net.state_dict().items()}
        ref_net.load_state_dict(state)
        new_keys = new_net.state_dict()
        # Parameters the rewrite added (keep_params=False) keep the values the lowering gives them
        # (their declared init: an adapter's zero up-projection), so a block that computes the
        # identity at insertion is checked as one.
        shared = {k: v for k, v in state.items() if k in new_keys and new_keys[k].shape == v.shape}
        new_net.load_state_dict(shared, strict=False)
        for bi, binding in enumerate(bindings):
            where = ", ".join(f"{k}={v}" for k, v in binding.items()) or "static shapes"
            inputs = []
            for arg_name, a in zip((n.data for n in g.arg_names.data), g.body.block.args):
                shape = [evaluate(d, binding) for d in a.type.shape]
                maker = o.inputs or _default_input
                inputs.append(
                    maker(
                        arg_name,
                        shape,
                        a.type.dtype.data,
                        torch.Generator().manual_seed(o.seed * 7919 + 31 * bi + len(inputs)),
                    )
                )
            try:
                with torch.no_grad():
                    ref = _as_list(ref_net(*[t.clone() for t in inputs]))
            except Exception as e:  # noqa: BLE001
                return f"(setup) the input module fails to run at {where}: {type(e).__name__}: {e}"
            try:
                with torch.no_grad():
                    got = _as_list(new_net(*[t.clone() for t in inputs]))
            except Exception as e:  # noqa: BLE001
                return f"its result fails to run at {where}: {type(e).__name__}: {e}"
            if len(got) != len(ref):
                return f"graph {name} at {where}: it returns {len(got)} values, the original {len(ref)}"
            for i, (x, y) in enumerate(zip(ref, got)):
                problem = _compare(x, y, o)
                if problem:
                    return f"graph {name}, result #{i}, at {where}: {problem}"
    return None


def _default_input(name: str, shape: list[int], dtype: str, gen: Any) -> Any:
    return _random_tensor(shape, dtype, gen)


def _dtype_name(dt: Any) -> str:
    from graphsynth.backend.base import TORCH_DTYPES

    return next(k for k, v in TORCH_DTYPES.items() if v == dt)


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _compare(x: Any, y: Any, o: Options) -> str | None:
    import torch

    if not isinstance(y, torch.Tensor):
        return f"expected a tensor, got {type(y).__name__}"
    if x.dtype != y.dtype:
        return f"dtype {y.dtype} differs from the original's {x.dtype}"
    if tuple(x.shape) != tuple(y.shape):
        return f"shape {list(y.shape)} differs from the original's {list(x.shape)}"
    if x.numel() == 0:
        return None
    if x.dtype.is_floating_point:
        rtol, atol = _tolerance(_dtype_name(x.dtype), o)
        xd, yd = x.double(), y.double()
        close = torch.isclose(xd, yd, rtol=rtol, atol=atol, equal_nan=True)
        if bool(close.all()):
            return None
        bad = (~close).nonzero()[0].tolist()
        diff = (xd - yd).abs().nan_to_num(nan=float("inf"))
        return (
            f"values differ: at index {bad} the original gives {x[tuple(bad)].item():.6g}, the rewrite "
            f"{y[tuple(bad)].item():.6g}; max |difference| {diff.max().item():.3g} (rtol={rtol:g}, atol={atol:g})"
        )
    if not torch.equal(x, y):
        bad = (x != y).nonzero()[0].tolist()
        was, now = x[tuple(bad)].item(), y[tuple(bad)].item()
        return f"values differ: at index {bad} the original gives {was}, the rewrite {now}"
    return None
