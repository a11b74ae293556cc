"""The generated kernels compiled for an H100 (sm_90) without a GPU.

Triton's wheel ships ``ptxas``, so ``TritonKernel.compile_ahead`` runs the real compiler (TTIR,
TTGIR, LLVM, PTX, cubin) with the arguments, options and alignment specialisations a CUDA launch
would use.  This checks what the interpreter cannot: that every op's code, every layout variant
(flat, broadcast, strided, 0-d, int64 offsets, outputs smaller than the iteration space) and every
dtype are accepted by the GPU compiler, and that contiguous operands get 128-bit vector accesses
(what lets an elementwise kernel reach copy bandwidth).
"""

from __future__ import annotations

import re

import pytest
import torch
from test_triton_kernels import CHAIN, MULTI, SCALARS, STRIDED, SWEEP, SWEEP_ARGS, forward_backward, sweep_inputs

import graphsynth as gs
from graphsynth.backend import triton as gt

pytest.importorskip("triton", reason="the Triton backend tests need triton (pip install -e '.[dev]')")


@pytest.fixture(autouse=True)
def compiler(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setenv("GRAPHSYNTH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gs-cache"))
    try:
        from triton.backends.nvidia.compiler import get_ptxas

        get_ptxas(90)
    except Exception as e:  # noqa: BLE001 - no NVIDIA backend in this triton build
        pytest.skip(f"triton has no NVIDIA toolchain here: {e}")


def region_of(text: str) -> gt.FusedRegion:
    m = gs.parse_ir(text)
    assert gs.verify(m) == []
    (region,) = [r for r in gs.lower(m, fused=gt.region_hook).modules() if isinstance(r, gt.FusedRegion)]
    return region


def compile_for(region: gt.FusedRegion, inputs: tuple[torch.Tensor, ...]) -> tuple[gt.Plan, str]:
    plan = region.kernel.plan(inputs, False)
    assert not isinstance(plan, str), plan
    compiled = region.kernel.compile_ahead(plan, inputs, arch=90)
    assert compiled.asm["cubin"]
    return plan, compiled.asm["ptx"]


def test_every_op_and_dtype_compiles() -> None:
    """One region holding every case of the interpreter sweep (all ops, f16/bf16/f64/ints/bool)."""
    bargs = ", ".join("%" + a.strip() for a in re.split(r",\s*(?=[a-z]:)", SWEEP_ARGS))
    body = "\n".join(f"    %o{k}: {rt} = {call}" for k, (call, rt) in enumerate(SWEEP))
    results = ", ".join(f"%r{k}: {rt}" for k, (_, rt) in enumerate(SWEEP))
    text = f"""graph G({SWEEP_ARGS}) -> {", ".join(rt for _, rt in SWEEP)} {{
  {results} = fused(a, b, i, j, m, h, z, d) {{
    ^({bargs})
{body}
    yield {", ".join(f"%o{k}" for k in range(len(SWEEP)))}
  }}
  return {", ".join(f"%r{k}" for k in range(len(SWEEP)))}
}}
"""
    region = region_of(text)
    assert region.reason is None
    _, ptx = compile_for(region, sweep_inputs(64))
    assert ".target sm_90" in ptx


def test_layout_variants_compile() -> None:
    multi = region_of(MULTI)
    plan, _ = compile_for(multi, (torch.randn(6, 4), torch.randn(4), torch.rand(6, 4) > 0.5, torch.tensor(0.5)))
    assert any(isinstance(m, tuple) for m in plan.layout.outputs)  # outputs stored on index 0 of broadcast dims
    scalars = region_of(SCALARS)
    plan, _ = compile_for(scalars, (torch.tensor(1.0), torch.tensor(2.0), torch.randn(3)))
    assert plan.layout.inputs[:2] == ("scalar", "scalar")
    strided = region_of(STRIDED)
    plan, _ = compile_for(strided, (torch.randn(4, 5).t(), torch.randn(1, 4).expand(5, 4), torch.randn(5, 3)[:, 1:2]))
    assert isinstance(plan.layout.inputs[0], tuple)
    meta = torch.device("meta")
    big = (torch.empty(2**29, 4, device=meta), torch.empty(2**29, 4, device=meta), torch.empty(2**29, 1, device=meta))
    plan, ptx = compile_for(strided, big)
    assert plan.layout.index64 and plan.grid[0] == 2**31 // plan.block
    assert "div.s64" in ptx  # index math in int64
    plan, ptx = compile_for(strided, tuple(torch.empty(t.shape[0] // 2**23, t.shape[1], device=meta) for t in big))
    assert not plan.layout.index64 and "div.s64" not in ptx and "div.s32" in ptx


def test_contiguous_operands_are_vectorized() -> None:
    """f32 chain over [8192, 4096] (bias-like [4096] operands broadcast): the flat operands load
    and store 4 floats per instruction."""
    text = """graph G(x: f32[N, 4096], y: f32[N, 4096], w: f32[4096]) -> f32[N, 4096] {
  %r: f32[N, 4096] = fused(x, y, w) {
    ^(%x: f32[N, 4096], %y: f32[N, 4096], %w: f32[4096])
    %0: f32[N, 4096] = mul(%x, %w)
    %1: f32[N, 4096] = sigmoid(%y)
    %2: f32[N, 4096] = mul(%0, %1)
    %3: f32[N, 4096] = add(%2, %x)
    yield %3
  }
  return %r
}
"""
    region = region_of(text)
    meta = torch.device("meta")
    plan, ptx = compile_for(region, (torch.empty(8192, 4096, device=meta), torch.empty(8192, 4096, device=meta),
                                     torch.empty(4096, device=meta)))
    assert plan.layout.inputs == ("flat", "flat", (False, True)) and plan.layout.outputs == ("flat",)
    per_thread = plan.block // (32 * plan.num_warps)
    assert per_thread >= 4
    assert ptx.count("ld.global.v4") >= 2 * (per_thread // 4)  # x and y
    assert ptx.count("st.global.v4") >= per_thread // 4


def test_cuda_launch_passes_what_the_kernel_takes() -> None:
    """The launch branch for CUDA tensors, with the kernel replaced by a recorder: one positional
    argument per kernel parameter but BLOCK, and only options Triton's CUDA backend knows."""
    from dataclasses import fields, replace

    from triton.backends.nvidia.compiler import CUDAOptions

    region = region_of(MULTI)
    inputs = (torch.randn(6, 4), torch.randn(4), torch.rand(6, 4) > 0.5, torch.tensor(0.5))
    plan = region.kernel.plan(inputs, False)
    calls = []

    class Recorder:
        def __getitem__(self, grid: tuple[int]) -> object:
            return lambda *args, **kwargs: calls.append((grid, args, kwargs))

    outs = region.kernel.launch(replace(plan, fn=Recorder()), inputs, False)
    ((grid, args, kwargs),) = calls
    assert grid == plan.grid == ((6 * 4 + plan.block - 1) // plan.block,)
    assert len(args) == len(plan.fn.arg_names) - 1 and plan.fn.arg_names[-1] == "BLOCK"
    assert args[len(inputs):len(inputs) + len(outs)] == outs
    assert set(kwargs) - {"BLOCK"} <= {f.name for f in fields(CUDAOptions)}
    assert kwargs["BLOCK"] == plan.block and kwargs["enable_fp_fusion"] is False


# -- on a GPU (run when CUDA is there; the lead's device runs) ---------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize(("call", "rtype"), SWEEP, ids=[c for c, _ in SWEEP])
def test_cuda_kernel_matches_torch(call: str, rtype: str) -> None:
    from test_triton_kernels import sweep_module

    m = gs.parse_ir(sweep_module(call, rtype))
    net, ref = gs.lower(m, fusion="triton").cuda(), gs.lower(m).cuda()
    inputs = tuple(t.cuda() for t in sweep_inputs(37))
    out, expected = net(*inputs), ref(*inputs)
    (region,) = [r for r in net.modules() if isinstance(r, gt.FusedRegion)]
    assert region.last_path == "triton"
    assert out.dtype == expected.dtype and out.shape == expected.shape
    tol = {"rtol": 1e-2, "atol": 1e-2} if out.dtype in (torch.float16, torch.bfloat16) else {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(out, expected, equal_nan=True, **tol)


@cuda
@pytest.mark.parametrize("shape", [(4, 33, 4), (1, 1, 4), (64, 1000, 4)])
def test_cuda_forward_and_backward(shape: tuple[int, int, int]) -> None:
    m = gs.parse_ir(CHAIN)
    net, ref = gs.lower(m, fusion="triton").cuda(), gs.lower(m).cuda()
    inputs = (torch.randn(*shape, device="cuda"), torch.randn(4, device="cuda"), torch.tensor(0.3, device="cuda"))
    outs, grads = forward_backward(net, inputs)
    assert [r.last_path for r in net.modules() if isinstance(r, gt.FusedRegion)] == ["triton"]
    ref_outs, ref_grads = forward_backward(ref, inputs)
    for a, b in zip(outs + grads, ref_outs + ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
