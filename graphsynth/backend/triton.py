"""``gs.fused`` regions as generated Triton kernels, with an autograd backward.

Use::

    net = graphsynth.lower(module, fusion="triton")          # or lower(module, fused=fused_hook)
    fusion_report(net)                                        # which regions run as kernels, and why not

In a process where no kernel can ever run (no CUDA device, no interpreter) the regions are
inlined at lowering, so the fused module costs exactly what the plain lowering does.  Otherwise
each ``gs.fused`` region becomes a :class:`FusedRegion` module (under ``net._gs_fused``) that

- on CUDA tensors launches one Triton kernel generated from the region's IR
  (:mod:`graphsynth.backend.triton_codegen`), one launch for all the region's outputs;
- on CPU tensors (a CUDA process, or a module lowered with :func:`region_hook`) runs the region
  through torch ops (the *fallback*: the region lowered by the torch
  backend exactly as an inlined region would be), or, when ``TRITON_INTERPRET=1`` is set, runs the
  same generated kernel in Triton's interpreter so that CPU-only CI exercises the kernels;
- differentiates by recomputation: the backward of the kernel is the vjp of the fallback
  (``torch.func.vjp``) at the saved inputs, so gradients are torch's own.

Kernels are cached by the structural key of the region (ops, attributes, dtypes, ranks, dims that
are statically 1; not names nor sizes): structurally equal regions share one :class:`TritonKernel`.
Each kernel is specialised at run time on a *layout* (which operands are contiguous, broadcast or
strided after coalescing dims, and whether offsets need int64); the source of each (region,
layout) pair is written to the cache directory (:func:`cache_dir`) and loaded from there, so
tracebacks and ``inspect`` show real code.  The text executed is always the text we just generated
(we compile our own string and seed ``linecache`` with it), never whatever is in the file.

Loading, caching and launching the kernels is :mod:`graphsynth.backend.triton_runtime`'s job;
this module makes the modules, the autograd function and the hooks.

A region that cannot be compiled (an op without a Triton form, training-mode dropout, a symbolic
literal...) still gets a :class:`FusedRegion`, which always runs the fallback and says why in
``reason``.  ``last_path`` tells how the last call ran.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import fx, nn
from xdsl.dialects.builtin import ArrayAttr, StringAttr
from xdsl.ir import Region

from graphsynth.backend import triton_codegen as cg
from graphsynth.backend.base import LoweringError
from graphsynth.backend.fx import lower_graph
from graphsynth.backend.triton_runtime import (
    STATS,
    Plan,
    TritonKernel,
    cache_dir,
    cache_info,
    cached_kernel,
    clear_cache,
    interpreting,
    kernel_for,
    triton_available,
)
from graphsynth.dialects import gs

__all__ = [
    "FusedRegion",
    "Plan",
    "TritonKernel",
    "cache_dir",
    "cache_info",
    "clear_cache",
    "explain",
    "fused_hook",
    "fusion_report",
    "interpreting",
    "triton_available",
]


# -- autograd --------------------------------------------------------------------------------------


class _FusedFunction(torch.autograd.Function):
    """Forward: the kernel.  Backward: the vjp of the torch fallback at the saved inputs."""

    @staticmethod
    def forward(region: FusedRegion, plan: Plan, interpret: bool, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        kernel = region.kernel
        assert kernel is not None
        return kernel.launch(plan, inputs, interpret)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[torch.Tensor, ...]) -> None:
        region, _, _, *tensors = inputs
        ctx.region = region
        ctx.save_for_backward(*tensors)
        non_diff = [o for o in output if not o.is_floating_point()]
        if non_diff:
            ctx.mark_non_differentiable(*non_diff)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[Any, ...]:
        tensors = ctx.saved_tensors
        return (None, None, None, *ctx.region.vjp(tensors, grads, ctx.needs_input_grad[3:]))


# -- the module a fused region lowers to -------------------------------------------------------------


def _error(message: str) -> Any:
    from graphsynth.diagnostics import error

    return error("GS604", f"fused: {message}", op="fused")


def _fallback_graph(op: gs.FusedOp) -> fx.GraphModule:
    """The region's body lowered by the torch backend (as inlining would), as its own module."""
    region: Region = op.body.clone()
    block = region.block
    last = block.last_op
    if not isinstance(last, gs.YieldOp):
        raise LoweringError([_error("the region does not end with 'yield'")])
    ret = gs.ReturnOp.create(operands=list(last.operands))
    block.insert_op_before(ret, last)
    block.erase_op(last)
    graph = gs.GraphOp.create(
        properties={
            "sym_name": StringAttr("fused"),
            "arg_names": ArrayAttr([StringAttr(f"a{k}") for k in range(len(block.args))]),
            "output_types": ArrayAttr([r.type for r in op.results]),
            "modules": ArrayAttr([]),
        },
        regions=[region],
    )
    return lower_graph(graph)


class FusedRegion(nn.Module):
    """A ``gs.fused`` region as a module: kernel when it can, torch ops otherwise.

    Attributes: ``key`` (structural hash, None when not compiled), ``reason`` (why the region
    never runs as a kernel, None when it can), ``last_path`` (``"triton"``, ``"interpreter"``
    or ``"torch: <why>"`` for the last call), ``ops`` (the op names of the region).
    The module holds no state of the model (``state_dict`` is empty); its ``fallback`` submodule
    carries the region's literal tensors as non-persistent buffers, so ``.to(device)`` moves them.
    """

    def __init__(self, op: gs.FusedOp):
        super().__init__()
        self.fallback = _fallback_graph(op)
        self.ops = [inner.name.removeprefix("gs.") for inner in op.body.block.ops if not isinstance(inner, gs.YieldOp)]
        self.n_outputs = len(op.results)
        self.out_float = [gs_t.dtype.data in cg.FLOATS for gs_t in (r.type for r in op.results)]
        self.last_path: str | None = None
        try:
            self.spec: cg.RegionSpec | None = cg.analyze(op)
            self.reason: str | None = None
        except cg.Unsupported as e:
            self.spec, self.reason = None, e.reason
        self.key = self.spec.key if self.spec is not None else None
        if self.spec is not None:
            kernel_for(self.spec)  # counts the hit/miss now; the kernel compiles on first launch

    @property
    def kernel(self) -> TritonKernel | None:
        if self.spec is None:
            return None
        kernel = cached_kernel(self.spec.key)
        return kernel if kernel is not None else kernel_for(self.spec)

    def extra_repr(self) -> str:
        what = f"kernel {self.key}" if self.key else f"torch ({self.reason})"
        return f"ops=[{', '.join(self.ops)}], {what}"

    def _fallback(self, inputs: tuple[Any, ...], why: str) -> Any:
        self.last_path = f"torch: {why}"
        STATS["fallbacks"] += 1
        return self.fallback(*inputs)

    def run_fallback(self, inputs: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
        out = self.fallback(*inputs)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    def forward(self, *inputs: Any) -> Any:
        if self.spec is None:
            return self._fallback(inputs, self.reason or "not compiled")
        if not all(isinstance(t, torch.Tensor) for t in inputs) or not inputs:
            return self._fallback(inputs, "an operand is not a tensor")
        device = inputs[0].device
        if any(t.device != device for t in inputs):
            return self._fallback(inputs, "operands on several devices")
        interpret = interpreting()
        if not interpret and device.type != "cuda":
            return self._fallback(inputs, f"{device.type} tensors (set TRITON_INTERPRET=1 to run the kernel)")
        if torch._C._are_functorch_transforms_active():
            return self._fallback(inputs, "inside a torch.func transform")
        available, why = triton_available()
        if not available:
            return self._fallback(inputs, why or "triton unavailable")
        kernel = self.kernel
        assert kernel is not None
        plan = kernel.plan(inputs, interpret)
        if isinstance(plan, str):
            return self._fallback(inputs, plan)
        self.last_path = "interpreter" if interpret else "triton"
        try:
            if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
                outs = _FusedFunction.apply(self, plan, interpret, *inputs)
            else:
                outs = kernel.launch(plan, inputs, interpret)
        except Exception as e:
            if not type(e).__module__.startswith("triton.compiler"):
                raise
            # Triton refused the generated code (a bug of the generator, or of triton): say so
            # once, remember it for these shapes, and compute the region with torch ops.
            reason = f"the Triton compiler rejected the kernel: {type(e).__name__}: {str(e).strip()[:300]}"
            warnings.warn(f"graphsynth: fused region [{', '.join(self.ops)}] runs through torch: {reason}",
                          RuntimeWarning, stacklevel=2)
            kernel.reject(inputs, interpret, reason)
            return self._fallback(inputs, reason)
        return outs[0] if self.n_outputs == 1 else tuple(outs)

    def vjp(self, tensors: tuple[torch.Tensor, ...], grads: tuple[torch.Tensor | None, ...],
            needs: tuple[bool, ...]) -> list[torch.Tensor | None]:
        """Input gradients by recomputing the region with torch ops (``torch.func.vjp``)."""
        wrt = [i for i, t in enumerate(tensors) if needs[i] and t.is_floating_point()]
        outs = [j for j in range(self.n_outputs) if self.out_float[j]]
        result: list[torch.Tensor | None] = [None] * len(tensors)
        if not wrt or not outs:
            return result

        def f(*diff: torch.Tensor) -> tuple[torch.Tensor, ...]:
            args = list(tensors)
            for i, d in zip(wrt, diff):
                args[i] = d
            values = self.run_fallback(tuple(args))
            return tuple(values[j] for j in outs)

        primals, pullback = torch.func.vjp(f, *[tensors[i] for i in wrt])
        cotangents = tuple(grads[j] if grads[j] is not None else torch.zeros_like(p) for j, p in zip(outs, primals))
        for i, g in zip(wrt, pullback(cotangents)):
            result[i] = g
        return result


# -- the hook and queries ------------------------------------------------------------------------------


def kernels_unavailable() -> str | None:
    """Why no generated kernel can run in this process (None: they can, on CUDA or the interpreter).

    Asked when lowering: a process without a CUDA device and without the interpreter will never
    launch a kernel, so a region kept as a :class:`FusedRegion` would only add a call and its checks
    to every forward.  (A CUDA process keeps its regions even for CPU tensors: the module may move.)"""
    available, why = triton_available()
    if not available:
        return why or "triton unavailable"
    if interpreting() or torch.cuda.is_available():
        return None
    return "no CUDA device and TRITON_INTERPRET unset"


def region_hook(op: gs.FusedOp) -> FusedRegion | None:
    """A :class:`FusedRegion` for every region, whether or not a kernel can run here (for tests
    and for modules lowered on a CPU-only machine and moved to a GPU later).

    Returns None (the region is inlined, and the inline lowering reports the problem) only when
    the torch backend cannot lower the region at all."""
    try:
        return FusedRegion(op)
    except LoweringError:
        return None


def fused_hook(op: gs.FusedOp) -> FusedRegion | None:
    """For ``graphsynth.lower(module, fused=fused_hook)`` (what ``fusion="triton"`` picks): a
    :class:`FusedRegion` per region when kernels can run in this process, else None, so the
    region's ops are inlined and the fused lowering costs exactly what the plain one does;
    :func:`fusion_report` still lists those regions, with :func:`kernels_unavailable`'s reason."""
    if kernels_unavailable() is not None:
        return None
    return region_hook(op)


def explain(op: gs.FusedOp) -> str | None:
    """Why ``op`` would not run as a Triton kernel (None: it would, on CUDA or the interpreter)."""
    try:
        cg.analyze(op)
    except cg.Unsupported as e:
        return e.reason
    return None


def fusion_report(net: nn.Module) -> list[dict[str, Any]]:
    """One entry per fused region of a lowered module: its submodule name (None for a region
    inlined at lowering), ops, structural key, whether it compiles, why not, and how its last call
    ran (``"inlined"`` for inlined regions)."""
    out = []
    for name, m in net.named_modules():
        if isinstance(m, FusedRegion):
            out.append({"name": name, "ops": list(m.ops), "key": m.key, "compiled": m.spec is not None,
                        "reason": m.reason, "last_path": m.last_path})
        meta = getattr(m, "meta", None)
        inlined = meta.get("gs_inlined_fused", []) if isinstance(meta, dict) else []
        if inlined:
            reason = kernels_unavailable() or "the fused hook declined the region"
            out.extend({"name": None, "ops": list(ops), "key": None, "compiled": False, "reason": reason,
                        "last_path": "inlined"} for ops in inlined)
    return out
