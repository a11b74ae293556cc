"""The Jacobian between two IR values of a lowered graph, exact or estimated.

``J = ∂dst/∂src`` of the sub-computation from ``src`` to ``dst``: the graph is run once at
``inputs``; then ``src`` is replaced by a variable ``x`` and only the fx nodes that lie
downstream of ``src`` and upstream of ``dst`` are recomputed, every other value (other graph
inputs, parameters, other branches) held at its value from that run.

- **exact** (small tensors, ``numel(src) * numel(dst) <= max_entries``): ``torch.func.jacrev``
  when ``dst`` has fewer elements than ``src``, else ``torch.func.jacfwd``; ``matrix`` has shape
  ``dst.shape + src.shape`` (torch's convention) and ``frobenius = ‖J‖_F``.
- **estimate** (large tensors): ``k`` reverse-mode products ``Jᵀ w_i`` with Gaussian probes
  ``w_i ~ N(0, I)`` shaped like ``dst``; ``E‖Jᵀ w‖² = ‖J‖_F²`` (Hutchinson's estimator of
  ``tr(J Jᵀ)``), so ``frobenius = sqrt(mean_i ‖Jᵀ w_i‖²)`` with a standard error from the spread
  of the probes, and ``sketch`` holds the rows ``w_iᵀ J / sqrt(k)`` (``‖sketch‖_F ≈ ‖J‖_F``; a
  random projection of J that keeps its row space for low-rank use).

``exact`` on the result says which one you got.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from graphsynth.grad.graph import Run, ValueGraph, fail, math_attention, norm

__all__ = ["JacobianResult", "jacobian", "jacobian_on"]

DEFAULT_MAX_ENTRIES = 1 << 20


@dataclass
class JacobianResult:
    src: str
    dst: str
    exact: bool
    method: str  # "jacrev" | "jacfwd" | "probes"
    frobenius: float
    src_shape: tuple[int, ...]
    dst_shape: tuple[int, ...]
    matrix: torch.Tensor | None = None  # exact: dst.shape + src.shape
    sketch: torch.Tensor | None = None  # estimate: (probes, *src.shape)
    probes: int = 0
    stderr: float = 0.0  # standard error of `frobenius` (0 when exact)

    def __str__(self) -> str:
        how = "exact" if self.exact else f"estimated from {self.probes} probes (± {self.stderr:.2e})"
        return (f"d{self.dst}/d{self.src}: {list(self.dst_shape)} x {list(self.src_shape)}, "
                f"‖J‖_F = {self.frobenius:.4e} ({how}, {self.method})")


def jacobian(net: Any, module: Any, src: str, dst: str, inputs: Any, *, exact: bool | None = None,
             max_entries: int = DEFAULT_MAX_ENTRIES, probes: int = 16, seed: int = 0,
             graph: str | None = None) -> JacobianResult:
    """``∂dst/∂src`` at ``inputs`` (a tensor, a tuple of positional inputs or a dict by input
    name) for ``net = graphsynth.lower(module)``.  ``exact=None`` picks exact for Jacobians of
    at most ``max_entries`` entries and the probe estimate above that; True/False force it."""
    return jacobian_on(ValueGraph(net, module, graph), src, dst, inputs, exact=exact, max_entries=max_entries,
                       probes=probes, seed=seed)


def _single(vg: ValueGraph, target: str, role: str) -> str:
    names = vg.resolve(target, "src" if role == "source" else "dst")
    if len(names) != 1:
        raise fail("GS801", f"{role} '{target}' stands for {len(names)} values ({', '.join(names)}); name one of them",
                   value=target)
    v = vg.values[names[0]]
    if not v.is_float:
        raise fail("GS803", f"{role} {v.name} has dtype {v.dtype}; a Jacobian needs floating-point values",
                   value=v.name)
    if v.node is None:
        raise fail("GS803", f"{role} {v.name} is never computed by the lowered graph", value=v.name)
    return v.name


def prepared_run(vg: ValueGraph, args: list[Any]) -> Run:
    """One run of the graph at positional ``args`` without gradients, detached."""
    base = Run(vg)
    with torch.no_grad():
        base.execute(args)
    return base.detached()


def substituted(vg: ValueGraph, frozen: Run, args: list[Any], name: str, active: set[str], want: list[str]) -> Any:
    """``x -> [values in want]`` with value ``name`` replaced by ``x`` and only ``active`` fx
    nodes recomputed."""

    def fn(x: torch.Tensor) -> tuple[Any, ...]:
        run = Run(vg)
        run.execute(args, override={name: x}, frozen=frozen, active=active)
        return tuple(run.tensor(w) for w in want)

    return fn


def jacobian_on(vg: ValueGraph, src: str, dst: str, inputs: Any, *, exact: bool | None = None,
                max_entries: int = DEFAULT_MAX_ENTRIES, probes: int = 16, seed: int = 0) -> JacobianResult:
    s = _single(vg, src, "source")
    d = _single(vg, dst, "destination")
    args = vg.normalise_inputs(inputs)
    frozen = prepared_run(vg, args)
    x0 = frozen.tensor(s)
    y0 = frozen.tensor(d)
    active = vg.descendants([vg.values[s].node]) & vg.ancestors([vg.values[d].node])
    inner = substituted(vg, frozen, args, s, active, [d])

    def f(x: torch.Tensor) -> torch.Tensor:
        return inner(x)[0]

    n_src, n_dst = x0.numel(), y0.numel()
    use_exact = exact if exact is not None else n_src * n_dst <= max_entries
    base = dict(src=s, dst=d, src_shape=tuple(x0.shape), dst_shape=tuple(y0.shape))
    if use_exact:
        method = "jacrev" if n_dst <= n_src else "jacfwd"
        matrix = None
        if method == "jacfwd":
            try:
                with math_attention():
                    matrix = torch.func.jacfwd(f)(x0)
            except (NotImplementedError, RuntimeError):
                method = "jacrev"  # an op without forward-mode AD: reverse mode works for all
        if matrix is None:
            with math_attention():
                matrix = torch.func.jacrev(f)(x0)
        return JacobianResult(exact=True, method=method, frobenius=norm(matrix), matrix=matrix.detach(), **base)
    if probes < 1:
        raise fail("GS805", f"probes must be at least 1, got {probes}")
    with math_attention():
        _, vjp_fn = torch.func.vjp(f, x0)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    rows, sq = [], []
    for _ in range(probes):
        w = torch.randn(y0.shape, generator=gen, dtype=torch.float64).to(y0.dtype).to(y0.device)
        with math_attention():
            (row,) = vjp_fn(w)
        rows.append(row.detach())
        sq.append(norm(row) ** 2)
    mean = sum(sq) / probes
    frob = math.sqrt(mean)
    var = sum((q - mean) ** 2 for q in sq) / max(probes - 1, 1)
    stderr = math.sqrt(var / probes) / (2 * frob) if frob > 0 and probes > 1 else 0.0
    sketch = torch.stack(rows) / math.sqrt(probes)
    return JacobianResult(exact=False, method="probes", frobenius=frob, sketch=sketch, probes=probes, stderr=stderr,
                          **base)

