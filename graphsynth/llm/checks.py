"""The goal's invariants, checked after a proposal parses and verifies.

- Interface (GS505): the same graphs, with the same input names and types and the same result
  types, unless the goal is flagged ``[change-interface]``.
- Semantics (GS506): for goals flagged ``[preserve-semantics]``, both graphs are lowered to torch
  (``graphsynth.backend.torch.lower``, imported lazily: torch costs seconds to import) and run on
  the same random inputs at two bindings of the size symbols, with parameters shared by
  ``state_dict`` key; outputs must agree within tolerance.  The reference side is computed once
  per rewrite and reused for every attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error

RTOL = 1e-4
ATOL = 1e-5


def interface(module: Any) -> dict[str, tuple[list[tuple[str, str]], list[str]]]:
    """graph name -> ([(input name, type)], [result type]) as text."""
    from graphsynth.dialects import gs

    out = {}
    for g in gs.graph_ops(module):
        names = [n.data for n in g.arg_names.data]
        types = [str(a.type) for a in g.body.block.args]
        outs = [str(t) for t in g.output_types.data]
        out[g.graph_name] = (list(zip(names, types)), outs)
    return out


def check_interface(before: dict[str, Any], after_module: Any) -> list[Diagnostic]:
    after = interface(after_module)
    diags: list[Diagnostic] = []
    for name, (ins, outs) in before.items():
        if name not in after:
            diags.append(
                error(
                    "GS505",
                    f"graph {name}: it is gone (graphs now: {', '.join(after) or 'none'})",
                    expected=name,
                    got=", ".join(after),
                    fix="keep the graph and its name",
                )
            )
            continue
        ins2, outs2 = after[name]
        if ins2 != ins:
            diags.append(
                error(
                    "GS505",
                    f"graph {name}: inputs must stay ({_fmt_ins(ins)}), got ({_fmt_ins(ins2)})",
                    expected=_fmt_ins(ins),
                    got=_fmt_ins(ins2),
                    fix="keep the graph header's inputs exactly as they were",
                )
            )
        if outs2 != outs:
            diags.append(
                error(
                    "GS505",
                    f"graph {name}: result types must stay {', '.join(outs)}, got {', '.join(outs2) or 'none'}",
                    expected=", ".join(outs),
                    got=", ".join(outs2),
                    fix="the returned values must keep their types; adapt the ops before the return",
                )
            )
    for name in after:
        if name not in before:
            diags.append(
                error(
                    "GS505",
                    f"graph {name}: a new graph is not part of the interface",
                    got=name,
                    fix="edit the existing graph instead of adding one",
                )
            )
    return diags


def _fmt_ins(ins: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{n}: {t}" for n, t in ins)


class NumericsUnavailable(Exception):
    """The semantics check cannot run (no backend, or the input graph itself does not lower)."""


class NumericChecker:
    """Compares a candidate graph with the original on random inputs at two symbol bindings."""

    def __init__(self, original: Any, seed: int = 0, rtol: float = RTOL, atol: float = ATOL):
        self.original = original
        self.seed = seed
        self.rtol = rtol
        self.atol = atol
        self._ref: list[tuple[dict[str, int], list[Any], list[Any]]] | None = None
        self._state: dict[str, Any] | None = None

    def _lower(self, module: Any, verified: bool = False) -> Any:
        """The original is lowered with the verifier in front; a candidate was just verified by
        the driver, so it goes straight to code generation."""
        try:
            from graphsynth.backend.torch import lower, lower_graph
        except ImportError as e:
            raise NumericsUnavailable(f"the torch backend is not available ({e})") from None
        if verified:
            from graphsynth.dialects import gs

            graphs = gs.graph_ops(module)
            if len(graphs) == 1:
                return lower_graph(graphs[0])
        return lower(module)

    def prepare(self) -> None:
        if self._ref is not None:
            return
        import torch

        try:
            net = self._lower(self.original)
        except NumericsUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of the reference is a setup failure
            raise NumericsUnavailable(f"the input graph does not lower: {type(e).__name__}: {e}") from None
        gen = torch.Generator().manual_seed(self.seed)
        state = {}
        with torch.no_grad():
            for k, v in net.state_dict().items():
                if torch.is_floating_point(v):
                    if k.endswith("running_var"):
                        v = torch.rand(v.shape, generator=gen, dtype=torch.float32).to(v.dtype) + 0.5
                    else:
                        v = (torch.randn(v.shape, generator=gen, dtype=torch.float32) * 0.2).to(v.dtype)
                state[k] = v
            net.load_state_dict(state, strict=False)
        self._state = state
        self._ref = []
        for binding in bindings_for(self.original):
            inputs = random_inputs(self.original, binding, gen)
            try:
                with torch.no_grad():
                    outs = _as_list(net(*inputs))
            except Exception as e:  # noqa: BLE001
                raise NumericsUnavailable(
                    f"the input graph fails to run at {binding}: {type(e).__name__}: {e}"
                ) from None
            self._ref.append((binding, inputs, outs))

    def check(self, candidate: Any) -> list[Diagnostic]:
        import torch

        self.prepare()
        assert self._ref is not None and self._state is not None
        try:
            net = self._lower(candidate, verified=True)
        except NumericsUnavailable:
            raise
        except GraphsynthError as e:
            return list(e.diagnostics) or [error("GS604", f"the rewritten graph does not lower to torch: {e}")]
        except Exception as e:  # noqa: BLE001
            return [error("GS604", f"the rewritten graph does not lower to torch: {type(e).__name__}: {str(e)[:300]}")]
        gen = torch.Generator().manual_seed(self.seed + 1)
        own = net.state_dict()
        shared = {k: v for k, v in self._state.items() if k in own and own[k].shape == v.shape}
        with torch.no_grad():
            fresh = {
                k: (torch.randn(v.shape, generator=gen) * 0.2).to(v.dtype)
                for k, v in own.items()
                if k not in shared and torch.is_floating_point(v)
            }
            net.load_state_dict({**shared, **fresh}, strict=False)
        diags = []
        for binding, inputs, ref in self._ref:
            where = ", ".join(f"{k}={v}" for k, v in binding.items()) or "static shapes"
            try:
                with torch.no_grad():
                    outs = _as_list(net(*inputs))
            except Exception as e:  # noqa: BLE001
                diags.append(
                    error("GS506", f"the rewritten graph fails to run at {where}: {type(e).__name__}: {str(e)[:300]}")
                )
                break
            if len(outs) != len(ref):
                diags.append(
                    error(
                        "GS506", f"the rewritten graph returns {len(outs)} values at {where}, the original {len(ref)}"
                    )
                )
                break
            for i, (a, b) in enumerate(zip(ref, outs)):
                if tuple(a.shape) != tuple(b.shape):
                    diags.append(
                        error(
                            "GS506",
                            f"result #{i} at {where}: shape {list(b.shape)}, expected {list(a.shape)}",
                            expected=str(list(a.shape)),
                            got=str(list(b.shape)),
                        )
                    )
                    continue
                if torch.is_floating_point(a):
                    ok = torch.allclose(a.float(), b.float(), rtol=self.rtol, atol=self.atol, equal_nan=True)
                    worst = (a.float() - b.float()).abs().max().item() if a.numel() else 0.0
                else:
                    ok = bool(torch.equal(a, b))
                    worst = float((a != b).sum().item())
                if not ok:
                    diags.append(
                        error(
                            "GS506",
                            f"result #{i} differs from the original's at {where}: max |difference| = {worst:.3g}",
                            expected=f"|difference| <= {self.atol:g} + {self.rtol:g}*|expected|",
                            got=f"{worst:.3g}",
                            fix="the goal requires the same function; parameters keep their values by state_dict key",
                        )
                    )
            if diags:
                break
        return diags


def _as_list(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def symbols_of(module: Any) -> list[str]:
    from graphsynth.dialects import gs
    from graphsynth.dialects.shapes import free_symbols

    syms: set[str] = set()
    for g in gs.graph_ops(module):
        for a in g.body.block.args:
            for d in a.type.shape:
                if not isinstance(d, int):
                    syms |= free_symbols(d)
    return sorted(syms)


def bindings_for(module: Any) -> list[dict[str, int]]:
    """Two bindings of the input symbols under which every input dim is positive: small values
    (the check runs on CPU), different from each other, distinct per symbol so a transposed
    pair of dims shows."""
    from graphsynth.dialects import gs
    from graphsynth.dialects.shapes import evaluate

    syms = symbols_of(module)
    if not syms:
        return [{}]
    found: list[dict[str, int]] = []
    for base in (3, 5, 2, 4, 6, 7, 8, 9):
        b = {s: base + i for i, s in enumerate(syms)}
        ok = True
        for g in gs.graph_ops(module):
            for a in g.body.block.args:
                for d in a.type.shape:
                    if not isinstance(d, int):
                        try:
                            ok = ok and evaluate(d, b) > 0
                        except Exception:  # noqa: BLE001
                            ok = False
        if ok:
            found.append(b)
        if len(found) == 2:
            break
    return found or [{s: 4 for s in syms}]


_TORCH_DTYPES = {
    "f32": "float32",
    "f16": "float16",
    "bf16": "bfloat16",
    "f64": "float64",
    "i64": "int64",
    "i32": "int32",
    "i16": "int16",
    "i8": "int8",
    "u8": "uint8",
    "bool": "bool",
}


def random_inputs(module: Any, binding: dict[str, int], gen: Any) -> list[Any]:
    """Random tensors for the graph inputs; integers are 0 or 1 (valid indices for any table)."""
    import torch

    from graphsynth.dialects import gs
    from graphsynth.dialects.shapes import evaluate

    g = gs.graph_ops(module)[0]
    out = []
    for a in g.body.block.args:
        shape = [d if isinstance(d, int) else evaluate(d, binding) for d in a.type.shape]
        dt = getattr(torch, _TORCH_DTYPES[a.type.dtype.data])
        if dt.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dt))
        elif dt == torch.bool:
            out.append(torch.rand(shape, generator=gen) > 0.5)
        else:
            out.append(torch.randint(0, 2, shape, generator=gen).to(dt))
    return out
