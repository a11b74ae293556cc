"""Generated Triton kernels at run time: importing triton on first use, the cache directory of
kernel sources, the kernel cache keyed by a region's structure, launch plans (layouts: coalesced
dims, contiguous, broadcast or strided operands, int32 or int64 offsets) and the launch itself.

:mod:`graphsynth.backend.triton` builds the modules fused regions lower to on top of this; the
kernel text comes from :mod:`graphsynth.backend.triton_codegen`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import linecache
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from graphsynth.backend import triton_codegen as cg
from graphsynth.backend.base import TORCH_DTYPES
from graphsynth.dialects.dtypes import DTYPES
from graphsynth.fileio import write_atomic

__all__ = ["STATS", "Plan", "TritonKernel", "cache_dir", "cache_info", "cached_kernel", "clear_cache", "coalesce", "interpreting",
           "kernel_for", "triton_available"]

_INT32_MAX = 2**31 - 1

# -- triton, imported on first use --------------------------------------------------------------

_TRITON: Any = None
_TRITON_ERROR: str | None = None


def _triton() -> Any:
    """The triton module, or None (the reason is in :func:`triton_available`)."""
    global _TRITON, _TRITON_ERROR
    if _TRITON is None and _TRITON_ERROR is None:
        try:
            import triton
            import triton.language  # noqa: F401

            _TRITON = triton
        except Exception as e:  # noqa: BLE001 - a broken install raises anything
            _TRITON_ERROR = f"triton cannot be imported: {type(e).__name__}: {e}"
    return _TRITON


def triton_available() -> tuple[bool, str | None]:
    """(whether triton imports, why not)."""
    return _triton() is not None, _TRITON_ERROR


def interpreting() -> bool:
    """Whether Triton runs kernels in its interpreter (``TRITON_INTERPRET=1``).

    Triton reads the variable when a kernel is decorated, so it must be set before the kernel
    module is loaded; we load one module per mode, so setting it any time before the first call
    works.  (Triton's own ``@jit`` helpers are decorated when triton is imported; the generated
    kernels use none of them, so setting the variable after ``import triton`` is fine too.)"""
    if not os.environ.get("TRITON_INTERPRET"):
        return False
    tr = _triton()
    return tr is not None and bool(tr.knobs.runtime.interpret)


# -- the cache directory -------------------------------------------------------------------------

_CACHE_DIR: Path | None = None


def cache_dir() -> Path:
    """Where kernel sources are written: ``$GRAPHSYNTH_CACHE_DIR/triton``, else
    ``$XDG_CACHE_HOME/graphsynth/triton`` (``~/.cache/...``), else a private temp directory."""
    global _CACHE_DIR
    env = os.environ.get("GRAPHSYNTH_CACHE_DIR")
    if _CACHE_DIR is not None and env is None:
        return _CACHE_DIR
    if env:
        base = Path(env)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphsynth"
    path = base / "triton"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"graphsynth-triton-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if env is None:
        _CACHE_DIR = path
    return path


@contextlib.contextmanager
def _interpret_env(interpret: bool) -> Iterator[None]:
    """``TRITON_INTERPRET`` as ``interpret`` while a kernel module is decorated (``@triton.jit``
    picks the interpreter or the compiler at decoration time), restored afterwards."""
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = old


def _load_kernel(source: str, name: str, module_name: str, interpret: bool) -> Any:
    """Write ``source`` to the cache directory (when the file differs) and load the kernel
    ``name`` from it, decorated for the interpreter or the compiler.  We execute our own string,
    not the file's bytes: a file edited or replaced behind our back cannot change what runs."""
    path = cache_dir() / f"{module_name}.py"
    try:
        current = path.read_text() if path.exists() else None
    except OSError:
        current = None
    if current != source:
        write_atomic(path, source)  # a concurrent reader sees the old kernel file or the new one
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # @triton.jit reads the function's source through inspect/linecache: give it ours.
    linecache.cache[str(path)] = (len(source), None, source.splitlines(True), str(path))
    sys.modules[module_name] = module
    with _interpret_env(interpret):
        exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - our generated text
    return getattr(module, name)


# -- kernels and launch plans ----------------------------------------------------------------------

_LOCK = threading.RLock()
_KERNELS: dict[str, TritonKernel] = {}
STATS = {"hits": 0, "misses": 0, "sources": 0, "launches": 0, "interpreted_launches": 0, "fallbacks": 0}


def cache_info() -> dict[str, int]:
    """Counters: ``kernels`` (distinct region keys), ``hits``/``misses`` (region lookups),
    ``sources`` (kernel modules generated and loaded: one per key, layout and mode),
    ``launches``, ``interpreted_launches``, ``fallbacks`` (calls that ran through torch)."""
    with _LOCK:
        return {"kernels": len(_KERNELS), **STATS}


def clear_cache() -> None:
    """Forget every loaded kernel and reset the counters (files on disk stay)."""
    with _LOCK:
        _KERNELS.clear()
        for k in STATS:
            STATS[k] = 0


def cached_kernel(key: Any) -> TritonKernel | None:
    """The kernel of a region key, if one was made (no hit or miss is counted)."""
    return _KERNELS.get(key)


def kernel_for(spec: cg.RegionSpec) -> TritonKernel:
    """The shared kernel of a region spec (one per structural key)."""
    with _LOCK:
        kernel = _KERNELS.get(spec.key)
        if kernel is None:
            STATS["misses"] += 1
            kernel = _KERNELS[spec.key] = TritonKernel(spec)
        else:
            STATS["hits"] += 1
        return kernel


@dataclass(frozen=True)
class Plan:
    """Everything a launch needs that depends only on the inputs' shapes, strides and dtypes."""

    fn: Any
    layout: cg.Layout
    out_shapes: tuple[tuple[int, ...], ...]
    out_dtypes: tuple[torch.dtype, ...]
    numel: int
    scalar_args: tuple[int, ...]  # numel, sizes, strides, in kernel-argument order
    block: int
    num_warps: int
    grid: tuple[int]


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _expand_strides(shape: tuple[int, ...], strides: tuple[int, ...], full: tuple[int, ...]) -> list[int]:
    """Strides of a tensor broadcast to ``full`` (0 on broadcast and size-1 dims)."""
    pad = len(full) - len(shape)
    out = [0] * pad
    for d in range(len(shape)):
        out.append(0 if shape[d] == 1 else strides[d])
    return out


def coalesce(full: tuple[int, ...], strides: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Drop size-1 dims and merge adjacent dims that every operand walks as one (outer stride =
    inner stride * inner size), as TensorIterator does: fewer dims, fewer divisions per element."""
    sizes: list[int] = []
    merged: list[list[int]] = [[] for _ in strides]
    for d, n in enumerate(full):
        if n == 1:
            continue
        if sizes and all(m[-1] == s[d] * n for m, s in zip(merged, strides)):
            sizes[-1] *= n
            for m, s in zip(merged, strides):
                m[-1] = s[d]
            continue
        sizes.append(n)
        for m, s in zip(merged, strides):
            m.append(s[d])
    return sizes, merged


def _contiguous(sizes: list[int]) -> list[int]:
    out = [1] * len(sizes)
    for d in range(len(sizes) - 2, -1, -1):
        out[d] = out[d + 1] * sizes[d + 1]
    return out


class TritonKernel:
    """The kernels of one region key: generated, written and loaded per layout and mode."""

    def __init__(self, spec: cg.RegionSpec):
        self.spec = spec
        self.name = cg.kernel_name(spec)
        self.functions: dict[tuple[cg.Layout, bool], Any] = {}
        self.sources: dict[tuple[cg.Layout, bool], str] = {}
        self.plans: dict[tuple, Plan | str] = {}
        self.used = spec.used_inputs()
        self.out_dtypes = tuple(TORCH_DTYPES[d] for _, d, _ in spec.outputs)
        self.in_dtypes = tuple(TORCH_DTYPES[d] for d, _, _ in spec.inputs)

    def function(self, layout: cg.Layout, interpret: bool) -> Any:
        key = (layout, interpret)
        fn = self.functions.get(key)
        if fn is None:
            with _LOCK:
                fn = self.functions.get(key)
                if fn is None:
                    source = cg.generate(self.spec, layout)
                    module = f"gs_fused_{self.spec.key}_{layout.key}_{'interp' if interpret else 'jit'}"
                    fn = _load_kernel(source, self.name, module, interpret)
                    self.sources[key] = source
                    self.functions[key] = fn
                    STATS["sources"] += 1
        return fn

    def source(self, layout: cg.Layout) -> str:
        return cg.generate(self.spec, layout)

    # -- planning ------------------------------------------------------------------------------
    @staticmethod
    def _plan_key(inputs: tuple[torch.Tensor, ...], interpret: bool) -> tuple:
        return (interpret, *((t.shape, t.stride(), t.dtype) for t in inputs))

    def reject(self, inputs: tuple[torch.Tensor, ...], interpret: bool, reason: str) -> None:
        """Remember that these inputs cannot use the kernel (they run the fallback from now on)."""
        self.plans[self._plan_key(inputs, interpret)] = reason

    def plan(self, inputs: tuple[torch.Tensor, ...], interpret: bool) -> Plan | str:
        """The launch plan for these inputs, or a string saying why they need the fallback."""
        key = self._plan_key(inputs, interpret)
        plan = self.plans.get(key)
        if plan is None:
            plan = self._make_plan(inputs, interpret)
            if len(self.plans) > 512:  # shapes keep changing: do not grow without bound
                self.plans.clear()
            self.plans[key] = plan
        return plan

    def _make_plan(self, inputs: tuple[torch.Tensor, ...], interpret: bool) -> Plan | str:
        spec = self.spec
        if len(inputs) != len(spec.inputs):
            return f"the region takes {len(spec.inputs)} operands, got {len(inputs)}"
        for k, (t, (dtype, rank, _)) in enumerate(zip(inputs, spec.inputs)):
            if t.dtype != TORCH_DTYPES[dtype] or t.dim() != rank:
                return f"operand #{k} is {t.dtype}{list(t.shape)}, the region expects {dtype} of rank {rank}"
        shapes_in = [tuple(t.shape) for t in inputs]
        values: list[tuple[int, ...]] = []

        def shape(ref: cg.Ref) -> tuple[int, ...]:
            return shapes_in[ref[1]] if ref[0] == "in" else values[ref[1]]

        try:
            for step in spec.steps:
                values.append(tuple(torch.broadcast_shapes(*[shape(r) for r in step.args if r is not None
                                                             and r[0] != "lit"])))
            out_shapes = tuple(shape(r) for r, _, _ in spec.outputs)
            full = tuple(torch.broadcast_shapes(*out_shapes))
        except RuntimeError as e:
            return f"operand shapes do not broadcast: {e}"
        numel = 1
        for n in full:
            numel *= n
        in_strides = [_expand_strides(shapes_in[k], tuple(inputs[k].stride()), full) if k in self.used
                      else [0] * len(full) for k in range(len(inputs))]
        out_strides = []
        for s in out_shapes:
            cont = _contiguous(list(s))
            out_strides.append(_expand_strides(s, tuple(cont), full))
        sizes, merged = coalesce(full, in_strides + out_strides)
        if not sizes:
            sizes, merged = [1], [[0] for _ in merged]
        contiguous = _contiguous(sizes)
        modes: list[Any] = []
        for i, st in enumerate(merged):
            is_input = i < len(inputs)
            if is_input and i not in self.used:
                modes.append("-")
            elif is_input and all(s == 0 for s in st):
                modes.append("scalar")
            elif numel == 1 or st == contiguous:
                modes.append("flat")
            else:
                modes.append(tuple(s != 0 for s in st))
        extent = max([0] + [sum((n - 1) * abs(s) for n, s in zip(sizes, st)) for st in merged])
        if interpret:
            block = min(max(_next_pow2(numel), 16), 1 << 14)
            num_warps = 4
        else:
            block = 1024 if numel >= 1024 else max(_next_pow2(numel), 32)
            num_warps = 4 if block >= 512 else max(1, block // 128)
        index64 = numel + block > _INT32_MAX or extent > _INT32_MAX
        layout = cg.Layout(len(sizes), index64, tuple(modes[: len(inputs)]), tuple(modes[len(inputs):]))
        args = [numel, *sizes[1:]]
        for mode, st in zip(modes, merged):
            if isinstance(mode, tuple):
                args += [s for s in st if s != 0]
        fn = self.function(layout, interpret)
        grid = ((numel + block - 1) // block,)
        return Plan(fn, layout, out_shapes, self.out_dtypes, numel, tuple(args), block, num_warps, grid)

    # -- launching -----------------------------------------------------------------------------
    def launch(self, plan: Plan, inputs: tuple[torch.Tensor, ...], interpret: bool) -> tuple[torch.Tensor, ...]:
        device = inputs[0].device
        outs = tuple(torch.empty(s, dtype=d, device=device) for s, d in zip(plan.out_shapes, plan.out_dtypes))
        if plan.numel == 0:
            return outs
        args = (*inputs, *outs, *plan.scalar_args)
        if interpret:
            STATS["interpreted_launches"] += 1
            plan.fn[plan.grid](*args, BLOCK=plan.block)
        else:
            STATS["launches"] += 1
            if device.index is not None and device.index != torch.cuda.current_device():
                with torch.cuda.device(device.index):
                    plan.fn[plan.grid](*args, BLOCK=plan.block, num_warps=plan.num_warps, enable_fp_fusion=False)
            else:
                plan.fn[plan.grid](*args, BLOCK=plan.block, num_warps=plan.num_warps, enable_fp_fusion=False)
        return outs

    def compile_ahead(self, plan: Plan, inputs: tuple[torch.Tensor, ...], arch: int = 90) -> Any:
        """Compile the kernel of ``plan`` for an NVIDIA GPU of compute capability ``arch`` (90:
        H100) without a GPU, as a launch would (same arguments, options and specialisations of
        16-byte alignment and 16-divisible sizes).  Returns Triton's compiled kernel (``.asm``
        holds the TTIR, PTX and cubin).  For tests and for warming Triton's cache."""
        tr = _triton()
        if tr is None:
            raise RuntimeError(_TRITON_ERROR)
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource

        fn = self.function(plan.layout, False)
        names = list(fn.arg_names)
        types = [_POINTER[t.dtype] for t in inputs] + [_POINTER[d] for d in plan.out_dtypes]
        types += ["i64" if abs(v) > _INT32_MAX else "i32" for v in plan.scalar_args]
        assert len(types) == len(names) - 1, (names, types)
        attrs = {}
        for i, (ty, value) in enumerate(zip(types, [None] * (len(inputs) + len(plan.out_dtypes)) + list(plan.scalar_args))):
            if ty.startswith("*") or (value is not None and value % 16 == 0):
                attrs[(i,)] = [["tt.divisibility", 16]]
        signature = dict(zip(names[:-1], types))
        signature[names[-1]] = "constexpr"
        source = ASTSource(fn, signature, constexprs={names[-1]: plan.block}, attrs=attrs)
        return tr.compile(source, target=GPUTarget("cuda", arch, 32),
                          options={"num_warps": plan.num_warps, "enable_fp_fusion": False})


_POINTER = {TORCH_DTYPES[name]: d.triton_pointer for name, d in DTYPES.items() if d.triton_pointer}
