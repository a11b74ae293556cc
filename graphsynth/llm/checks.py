"""The goal's invariants, checked after a proposal parses and verifies.

- Interface (GS505): the same graphs, with the same input names and types and the same result
  types, unless the goal is flagged ``[change-interface]``.
- Semantics (GS506): for goals flagged ``[preserve-semantics]``, both graphs are lowered to torch
  (``graphsynth.backend.lower.lower``, imported lazily: torch costs seconds to import) and run on
  the same random inputs at two bindings of the size symbols, with parameters shared by
  ``state_dict`` key; outputs must agree within tolerance.  The reference side is computed once
  per rewrite and reused for every attempt.
- Allocation budget (GS508): before anything is lowered or run, what the check would allocate is
  summed from the types (:func:`footprint`: the state three times, for its zeros, its random values
  and the temporary that draws them;
  the random inputs; every op's results, at each binding of the symbols).  A proposal over
  :attr:`NumericChecker.max_bytes` is rejected with a GS508 diagnostic at its largest tensor, sent
  back to the model like any other, and the rewrite goes on with the next attempt; an input graph
  over it cannot be checked at all (the rewrite fails at once, before the model is asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error

RTOL = 1e-4
ATOL = 1e-5
CHECK_FLOOR_BYTES = 256 << 20
"""The check's budget is at least this, and at least :data:`CHECK_GROWTH` times what checking the
input graph takes (capped by what the machine has available, see
:func:`graphsynth.backend.lower.default_max_param_bytes`)."""
CHECK_GROWTH = 4
CHECK_FLOOR_FLOPS = 10**9
"""The check's compute budget is at least this many FLOPs (about a second on one core), and at
least :data:`CHECK_GROWTH` times what the input graph computes: allocation is not the only cost
a model's edit can blow up (a pooling window of 2048 x 2048 allocates little and runs for
minutes)."""


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
    """The semantics check cannot run (no backend, the input graph itself does not lower, or
    checking it would exceed the allocation budget: ``code`` GS508)."""

    def __init__(self, message: str, code: str = "GS506"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Footprint:
    """What running a graph for the check allocates, from its types: ``total`` bytes at
    ``binding`` and the largest contributions as (bytes, op or None, description)."""

    total: int
    binding: dict[str, int]
    largest: list[tuple[int, Any, str]]


def footprint(module: Any, binding: dict[str, int], keep: int = 3) -> Footprint:
    """Bytes the numerical check allocates for ``module`` at ``binding``, computed from the types
    before anything exists: every parameter and buffer three times (its zeros, the random values
    loaded into it, and the float32 temporary that draws them), every graph input, and every op
    result (views counted as copies, values never freed: an upper bound of the peak).  Dims that
    cannot be evaluated count as 0."""
    from graphsynth.backend.lower import tensor_bytes
    from graphsynth.dialects import gs

    memo: dict[Any, int] = {}

    def size(t: Any) -> int:
        n = memo.get(t)
        if n is None:
            n = (tensor_bytes(t, binding) or 0) if isinstance(t, gs.TensorType) else 0
            memo[t] = n
        return n

    total = 0
    top: list[tuple[int, Any, str]] = []

    def add(n: int, op: Any, what: Any) -> None:
        nonlocal total
        total += n
        if n and (len(top) < keep or n > top[-1][0]):
            top.append((n, op, what() if callable(what) else what))
            top.sort(key=lambda e: -e[0])
            del top[keep:]

    for g in gs.graph_ops(module):
        for name, arg in zip((a.data for a in g.arg_names.data), g.body.block.args):
            add(size(arg.type), None, lambda name=name, arg=arg: f"input '{name}': {_type_text(arg.type)}")
        for op in g.body.walk():
            if isinstance(op, gs.ParamOp):
                add(3 * size(op.results[0].type), op,
                    lambda op=op: f"{op.kind.data} '{op.param_name.data}': {_type_text(op.results[0].type)}")
            elif isinstance(op, gs.GsOp):
                for r, rname in zip(op.results, gs.result_names(op)):
                    add(size(r.type), op, lambda r=r, rname=rname, op=op: f"%{rname or '?'} = "
                        f"{op.name.removeprefix('gs.')}(...): {_type_text(r.type)}")
    return Footprint(total, dict(binding), top)


def _type_text(t: Any) -> str:
    try:
        return str(t)
    except ValueError:  # a dim with more digits than Python converts to text
        return "a tensor with a dim too long to print"


def _where(binding: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in binding.items()) or "static shapes"


def _flops(cost: Any, module: Any, binding: dict[str, int]) -> int | None:
    """The graph's FLOPs at ``binding`` from the ops' cost formulas (None when not countable)."""
    try:
        return cost(module, binding)[""].flops_value
    except Exception:  # noqa: BLE001 - a graph the cost model cannot count is left to the byte budget
        return None


def _costliest(report: Any, module: Any, binding: dict[str, int]) -> tuple[Any, str]:
    """The op of ``module`` with the most FLOPs in ``report`` and a phrase naming it."""
    from graphsynth.dialects import gs
    from graphsynth.dialects.cost import count_value

    best = max(report.ops, key=lambda o: count_value(o.flops, binding), default=None)
    if best is None:
        return None, "?"
    name = best.value.removeprefix("%")
    for op in module.walk():
        if isinstance(op, gs.GsOp) and name in (n.removeprefix("%") for n in gs.result_names(op) if n):
            return op, f"{best.op} {best.value} ({count_value(best.flops, binding):.3g} FLOPs)"
    return None, f"{best.op} {best.value}"


class NumericChecker:
    """Compares a candidate graph with the original on random inputs at two symbol bindings.

    ``max_bytes`` bounds what one check allocates (see :func:`footprint`); None takes
    ``max(CHECK_FLOOR_BYTES, CHECK_GROWTH * what the input graph takes)``, capped, at each check,
    by what the machine has available then (the reference values are held by that time)."""

    def __init__(self, original: Any, seed: int = 0, rtol: float = RTOL, atol: float = ATOL,
                 max_bytes: int | None = None):
        self.original = original
        self.seed = seed
        self.rtol = rtol
        self.atol = atol
        self.max_bytes = max_bytes
        self._ref: list[tuple[dict[str, int], list[Any], list[Any]]] | None = None
        self._state: dict[str, Any] | None = None
        self._bindings: list[dict[str, int]] | None = None
        self._base: Footprint | None = None
        self._base_flops: int | None = None

    def budget(self) -> int:
        """The check's budget in bytes now (see the class docstring); raises
        :class:`NumericsUnavailable` (GS508) while the input graph itself does not fit it."""
        from graphsynth.backend.lower import default_max_param_bytes, format_bytes

        if self._base is None:
            self._bindings = bindings_for(self.original)
            self._base = max((footprint(self.original, b) for b in self._bindings), key=lambda f: f.total)
        base = self._base
        limit = self.max_bytes
        if limit is None:
            limit = min(default_max_param_bytes(), max(CHECK_FLOOR_BYTES, CHECK_GROWTH * base.total))
        if self._ref is None and base.total > limit:
            biggest = f"; the largest: {base.largest[0][2]} ({format_bytes(base.largest[0][0])})" if base.largest else ""
            raise NumericsUnavailable(
                f"running the input graph at {_where(base.binding)} would allocate {format_bytes(base.total)}, over "
                f"the check's budget of {format_bytes(limit)}{biggest}", code="GS508")
        return limit

    def flops_over_budget(self, candidate: Any) -> list[Diagnostic]:
        """GS508 when running ``candidate`` at a check binding would take more FLOPs than the
        compute budget (from each op's declared cost), else []."""
        from graphsynth.query.costs import cost
        from graphsynth.verifier.locations import location

        assert self._bindings is not None
        if self._base_flops is None:
            self._base_flops = max(_flops(cost, self.original, b) or 0 for b in self._bindings)
        limit = max(CHECK_FLOOR_FLOPS, CHECK_GROWTH * self._base_flops)
        for b in self._bindings:
            total = _flops(cost, candidate, b)
            if total is None or total <= limit:
                continue
            op, what = _costliest(cost(candidate, b), candidate, b)
            return [error(
                "GS508",
                f"the numerical check of this graph would compute {total:.3g} FLOPs at {_where(b)}, over its budget "
                f"of {limit:.3g}; the costliest op is {what}",
                op=op.name.removeprefix("gs.") if op is not None else None,
                loc=location(op) if op is not None else None,
                expected=f"<= {limit} FLOPs", got=f"{total} FLOPs",
                fix="keep the work of the edited ops close to the original graph's (window sizes, shapes)",
            )]
        return []

    def over_budget(self, candidate: Any) -> list[Diagnostic]:
        """GS508 when checking ``candidate`` would allocate more than the budget, else []."""
        from graphsynth.backend.lower import format_bytes
        from graphsynth.verifier.locations import location

        limit = self.budget()
        assert self._bindings is not None
        for b in self._bindings:
            f = footprint(candidate, b)
            if f.total <= limit:
                continue
            n, op, what = f.largest[0] if f.largest else (0, None, "?")
            return [error(
                "GS508",
                f"the numerical check of this graph would allocate {format_bytes(f.total)} at {_where(b)}, over its "
                f"budget of {format_bytes(limit)}; the largest tensor is {what} ({format_bytes(n)})",
                op=op.name.removeprefix("gs.") if op is not None else None,
                loc=location(op) if op is not None else None,
                expected=f"<= {limit} bytes", got=f"{f.total} bytes",
                fix="keep parameters and intermediate tensors close to the sizes of the original graph",
                notes=[f"{w}: {format_bytes(k)}" for k, _, w in f.largest[1:]],
            )]
        return []

    def _lower(self, module: Any, verified: bool = False) -> Any:
        """The original is lowered with the verifier in front; a candidate was just verified by
        the driver, so it goes straight to code generation."""
        try:
            from graphsynth.backend.lower import lower, lower_graph
        except ImportError as e:
            raise NumericsUnavailable(f"the torch backend is not available ({e})") from None
        if verified:
            from graphsynth.dialects import gs

            graphs = gs.graph_ops(module)
            if len(graphs) == 1:
                return lower_graph(graphs[0], max_param_bytes=self.budget())
        return lower(module, max_param_bytes=self.budget())

    def prepare(self) -> None:
        if self._ref is not None:
            return
        try:
            import torch
        except ImportError as e:
            raise NumericsUnavailable(f"torch is not available ({e})") from None

        self.budget()  # before anything is allocated
        assert self._bindings is not None
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
                        v = torch.rand(v.shape, generator=gen, dtype=torch.float32).add_(0.5).to(v.dtype)
                    else:
                        v = torch.randn(v.shape, generator=gen, dtype=torch.float32).mul_(0.2).to(v.dtype)
                state[k] = v
            net.load_state_dict(state, strict=False)
        self._state = state
        self._ref = []
        for binding in self._bindings:
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
        too_big = self.over_budget(candidate) or self.flops_over_budget(candidate)
        if too_big:
            return too_big
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
                k: torch.randn(v.shape, generator=gen).mul_(0.2).to(v.dtype)
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
    from graphsynth.dialects.symdim import free_symbols

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
    from graphsynth.dialects.symdim import evaluate

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


def random_inputs(module: Any, binding: dict[str, int], gen: Any) -> list[Any]:
    """Random tensors for the graph inputs; integers are 0 or 1 (valid indices for any table)."""
    import torch

    from graphsynth.dialects import gs
    from graphsynth.dialects.dtypes import DTYPES
    from graphsynth.dialects.symdim import evaluate

    g = gs.graph_ops(module)[0]
    out = []
    for a in g.body.block.args:
        shape = [d if isinstance(d, int) else evaluate(d, binding) for d in a.type.shape]
        dt = getattr(torch, DTYPES[a.type.dtype.data].torch)
        if dt.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dt))
        elif dt == torch.bool:
            out.append(torch.rand(shape, generator=gen) > 0.5)
        else:
            out.append(torch.randint(0, 2, shape, generator=gen).to(dt))
    return out
