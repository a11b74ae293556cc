"""Generated Triton kernels for gs.fused regions, run in Triton's interpreter on CPU tensors.

Every test here sets ``TRITON_INTERPRET=1`` (a fixture, not a global: other test files keep their
environment).  Triton reads the variable when a kernel is decorated; the backend loads one kernel
module per mode at first launch, so setting it before the call is enough, and each test checks
that the kernel really ran in the interpreter (``last_path`` and the type of the launched
function) rather than through the torch fallback.  The reference is always the same region
lowered with fusion off (inlined torch ops), forward and backward.
"""

from __future__ import annotations

import re

import pytest
import torch

import graphsynth as gs
from graphsynth.backend import triton as gt
from graphsynth.backend import triton_codegen as cg

pytest.importorskip("triton", reason="the Triton backend tests need triton (pip install -e '.[dev]')")

# The interpreter computes masked-off lanes too, with numpy: log(0), 1/0... warn there.
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")


@pytest.fixture(autouse=True)
def interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv("GRAPHSYNTH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gs-cache"))


def lowered(text: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(fused with Triton, reference with the region inlined) for a module's text."""
    m = gs.parse_ir(text)
    assert gs.verify(m) == []
    return gs.lower(m, fusion="triton"), gs.lower(m)


def regions(net: torch.nn.Module) -> list[gt.FusedRegion]:
    return [m for m in net.modules() if isinstance(m, gt.FusedRegion)]


def assert_ran_in_interpreter(net: torch.nn.Module) -> None:
    from triton.runtime.interpreter import InterpretedFunction

    for r in regions(net):
        assert r.last_path == "interpreter", (r.ops, r.last_path, r.reason)
        kernel = r.kernel
        assert kernel is not None and kernel.functions
        assert all(isinstance(fn, InterpretedFunction) for (_, interp), fn in kernel.functions.items() if interp)


def as_tuple(x: object) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def tolerance(dtype: torch.dtype) -> dict[str, float]:
    # f16/bf16: a literal scalar stays in f32 inside the kernel (as in torch on CUDA) while torch
    # on the CPU rounds it to the tensor's dtype first, so results may differ by one ulp.
    if dtype in (torch.float16, torch.bfloat16):
        return {"rtol": 1e-2, "atol": 1e-2}
    if dtype == torch.float64:
        return {"rtol": 1e-12, "atol": 1e-12}
    return {"rtol": 2e-6, "atol": 2e-6}


# -- one op at a time --------------------------------------------------------------------------

SWEEP_ARGS = ("a: f32[B, 4], b: f32[4], i: i32[B, 4], j: i32[4], m: bool[B, 4], h: f16[B, 4], z: bf16[4], "
              "d: f64[B, 4]")

SWEEP = [
    ("relu(%a)", "f32[B, 4]"), ("silu(%a)", "f32[B, 4]"), ("tanh(%a)", "f32[B, 4]"), ("sigmoid(%a)", "f32[B, 4]"),
    ("exp(%a)", "f32[B, 4]"), ("log(%a)", "f32[B, 4]"), ("sqrt(%a)", "f32[B, 4]"), ("rsqrt(%a)", "f32[B, 4]"),
    ("neg(%a)", "f32[B, 4]"), ("abs(%i)", "i32[B, 4]"), ("sin(%a)", "f32[B, 4]"), ("cos(%a)", "f32[B, 4]"),
    ("erf(%a)", "f32[B, 4]"), ("reciprocal(%a)", "f32[B, 4]"), ("logical_not(%m)", "bool[B, 4]"),
    ("sign(%a)", "f32[B, 4]"), ("floor(%a)", "f32[B, 4]"), ("ceil(%a)", "f32[B, 4]"), ("round(%a)", "f32[B, 4]"),
    ("trunc(%a)", "f32[B, 4]"), ("identity(%a)", "f32[B, 4]"), ("gelu(%a)", "f32[B, 4]"),
    ('gelu(%a, approximate="tanh")', "f32[B, 4]"), ("leaky_relu(%a, negative_slope=0.2)", "f32[B, 4]"),
    ("softplus(%a, beta=2.0, threshold=3.0)", "f32[B, 4]"), ("hardtanh(%a, min_val=-0.5, max_val=0.7)", "f32[B, 4]"),
    ("clamp(%a, min=-0.3)", "f32[B, 4]"), ("clamp(%i, min=-1, max=2)", "i32[B, 4]"), ("dropout(%a, p=0.3)", "f32[B, 4]"),
    ("cast(%a, dtype=i32)", "i32[B, 4]"), ("cast(%a, dtype=bool)", "bool[B, 4]"), ("cast(%a, dtype=bf16)", "bf16[B, 4]"),
    ("cast(%m, dtype=f16)", "f16[B, 4]"), ("add(%a, %b)", "f32[B, 4]"), ("sub(%b, %a)", "f32[B, 4]"),
    ("mul(%a, 3)", "f32[B, 4]"), ("pow(%a, 2)", "f32[B, 4]"), ("pow(%a, %b)", "f32[B, 4]"), ("pow(%a, 2.5)", "f32[B, 4]"),
    ("pow(%a, -3)", "f32[B, 4]"), ("pow(2.0, %a)", "f32[B, 4]"), ("pow(3.0, %i)", "f32[B, 4]"),
    ("pow(%i, 3)", "i32[B, 4]"), ("maximum(%a, %b)", "f32[B, 4]"), ("minimum(%i, %j)", "i32[B, 4]"),
    ("remainder(%a, %b)", "f32[B, 4]"), ("remainder(%i, %j)", "i32[B, 4]"), ("eq(%i, %j)", "bool[B, 4]"),
    ("ne(%a, 0.5)", "bool[B, 4]"), ("lt(%a, %b)", "bool[B, 4]"), ("le(%i, 0.5)", "bool[B, 4]"),
    ("gt(%h, %z)", "bool[B, 4]"), ("ge(%a, %d)", "bool[B, 4]"), ("logical_and(%m, %a)", "bool[B, 4]"),
    ("logical_or(%m, %i)", "bool[B, 4]"), ("bitwise_and(%i, %j)", "i32[B, 4]"), ("bitwise_or(%m, %m)", "bool[B, 4]"),
    ("div(%a, %b)", "f32[B, 4]"), ("div(%i, %j)", "f32[B, 4]"), ('div(%a, %b, rounding_mode="floor")', "f32[B, 4]"),
    ('div(%a, %b, rounding_mode="trunc")', "f32[B, 4]"), ('div(%i, %j, rounding_mode="floor")', "i32[B, 4]"),
    ('div(%i, %j, rounding_mode="trunc")', "i32[B, 4]"), ("where(%m, %a, %b)", "f32[B, 4]"),
    ("where(%m, %i, 0.5)", "f32[B, 4]"), ("masked_fill(%a, %m, -1e9)", "f32[B, 4]"), ("masked_fill(%i, %m, 7)", "i32[B, 4]"),
    ("add(%h, %h)", "f16[B, 4]"), ("mul(%h, %z)", "f16[B, 4]"), ("add(%z, 0.1)", "bf16[4]"), ("exp(%h)", "f16[B, 4]"),
    ("tanh(%d)", "f64[B, 4]"), ("mul(%d, 0.1)", "f64[B, 4]"), ("exp(%i)", "f32[B, 4]"), ("add(%a, %i)", "f32[B, 4]"),
    ("mul(%i, 0.5)", "f32[B, 4]"), ("add(%m, 1)", "i64[B, 4]"), ("mul(%a, inf)", "f32[B, 4]"),
    ("log1p(%a)", "f32[B, 4]"), ("log1p(%d)", "f64[B, 4]"), ("log1p(%i)", "f32[B, 4]"),
]


def sweep_module(call: str, rtype: str) -> str:
    bargs = ", ".join("%" + a.strip() for a in re.split(r",\s*(?=[a-z]:)", SWEEP_ARGS))
    return f"""graph G({SWEEP_ARGS}) -> {rtype} {{
  %r: {rtype} = fused(a, b, i, j, m, h, z, d) {{
    ^({bargs})
    %o: {rtype} = {call}
    yield %o
  }}
  return %r
}}
"""


def sweep_inputs(batch: int = 3) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(batch, 4, generator=g) * 2
    a[0] = torch.tensor([0.5, 1.5, -2.5, 2.5])  # ties for round, exact halves for floor/trunc
    a[1, 0] = 0.0
    return (
        a,
        torch.randn(4, generator=g) * 2,
        torch.randint(-6, 7, (batch, 4), generator=g, dtype=torch.int32),
        torch.tensor([3, -2, 1, -5], dtype=torch.int32),
        torch.rand(batch, 4, generator=g) > 0.5,
        torch.randn(batch, 4, generator=g).half(),
        torch.randn(4, generator=g).bfloat16(),
        torch.randn(batch, 4, generator=g, dtype=torch.float64),
    )


@pytest.mark.parametrize(("call", "rtype"), SWEEP, ids=[c for c, _ in SWEEP])
def test_each_op_matches_torch(call: str, rtype: str) -> None:
    net, ref = lowered(sweep_module(call, rtype))
    (region,) = regions(net)
    assert region.reason is None
    inputs = sweep_inputs()
    out, expected = net(*inputs), ref(*inputs)
    assert_ran_in_interpreter(net)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    torch.testing.assert_close(out, expected, equal_nan=True, **tolerance(out.dtype))


def test_negative_literal_base() -> None:
    """pow(-2.0, i): the sign follows the parity of i, NaN for fractional exponents.  Compared
    with torch.pow itself: the torch lowering prints ``-2.0 ** x`` (fx's operator template), which
    Python reads as ``-(2.0 ** x)``."""
    text = sweep_module("pow(-2.0, %b)", "f32[4]")
    net, _ = lowered(text)
    inputs = list(sweep_inputs())
    inputs[1] = torch.tensor([3.0, -2.0, 0.5, 0.0])
    out = net(*inputs)
    assert_ran_in_interpreter(net)
    torch.testing.assert_close(out, torch.pow(-2.0, inputs[1]), equal_nan=True)


def test_every_elementwise_op_of_the_dialect_is_swept() -> None:
    """The sweep above covers each op that has a Triton form (a new emitter needs a case)."""
    swept = {c.split("(")[0] for c, _ in SWEEP}
    emitted = {cls.SPEC.name for cls in cg.EMITTERS}
    assert emitted <= swept, sorted(emitted - swept)


# -- regions with several ops, broadcasting, scalars, several outputs ------------------------------------

CHAIN = """graph G(x: f32[B, S, 4], w: f32[4], s: f32[]) -> f32[B, S, 4] {
  %y: f32[B, S, 4] = fused(x, w, s) {
    ^(%x: f32[B, S, 4], %w: f32[4], %s: f32[])
    %0: f32[B, S, 4] = mul(%x, %w)
    %1: f32[B, S, 4] = add(%0, %s)
    %2: f32[B, S, 4] = gelu(%1, approximate="tanh")
    %3: f32[B, S, 4] = sigmoid(%x)
    %4: f32[B, S, 4] = mul(%2, %3)
    %5: f32[B, S, 4] = add(%4, 1.0)
    yield %5
  }
  return %y
}
"""


def forward_backward(net: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[list, list]:
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
    outs = as_tuple(net(*leaves))
    loss = sum((o.float() * torch.linspace(-1, 1, o.numel(), device=o.device).reshape(o.shape)).pow(2).sum()
               for o in outs if o.is_floating_point())
    loss.backward()
    return [o.detach() for o in outs], [t.grad for t in leaves]


@pytest.mark.parametrize(("batch", "seq"), [(2, 3), (5, 1)])
def test_chain_with_broadcast_and_scalar_at_two_bindings(batch: int, seq: int) -> None:
    net, ref = lowered(CHAIN)
    g = torch.Generator().manual_seed(batch)
    inputs = (torch.randn(batch, seq, 4, generator=g), torch.randn(4, generator=g), torch.tensor(0.3))
    outs, grads = forward_backward(net, inputs)
    assert_ran_in_interpreter(net)
    ref_outs, ref_grads = forward_backward(ref, inputs)
    for a, b in zip(outs + grads, ref_outs + ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


MULTI = """graph G(x: f32[B, 4], v: f32[4], m: bool[B, 4], s: f32[]) -> f32[4], f32[B, 4], bool[B, 4], f32[], f32[4] {
  %p: f32[4], %q: f32[B, 4], %k: bool[B, 4], %t: f32[], %u: f32[4] = fused(x, v, m, s) {
    ^(%x: f32[B, 4], %v: f32[4], %m: bool[B, 4], %s: f32[])
    %0: f32[4] = exp(%v)
    %1: f32[B, 4] = mul(%x, %0)
    %2: f32[B, 4] = masked_fill(%1, %m, 0.0)
    %3: bool[B, 4] = gt(%2, %x)
    %4: f32[] = mul(%s, 2.0)
    %5: f32[B, 4] = mul(%2, %4)
    yield %0, %5, %3, %4, %v
  }
  return %p, %q, %k, %t, %u
}
"""


def test_multiple_outputs_of_different_shapes() -> None:
    """Outputs smaller than the iteration space are written once per element (broadcast dims at
    index 0 only, a 0-d output by one lane); a passthrough operand comes out as a copy."""
    net, ref = lowered(MULTI)
    g = torch.Generator().manual_seed(3)
    inputs = (torch.randn(6, 4, generator=g), torch.randn(4, generator=g), torch.rand(6, 4, generator=g) > 0.5,
              torch.tensor(0.7))
    outs, grads = forward_backward(net, inputs)
    assert_ran_in_interpreter(net)
    ref_outs, ref_grads = forward_backward(ref, inputs)
    assert [o.shape for o in outs] == [o.shape for o in ref_outs]
    assert [o.dtype for o in outs] == [o.dtype for o in ref_outs]
    for a, b in zip(outs, ref_outs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(grads, ref_grads):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


SCALARS = """graph G(s: f32[], t: f32[], x: f32[3]) -> bool[], f32[3], f32[] {
  %r: bool[], %q: f32[3], %u: f32[] = fused(s, t, x) {
    ^(%s: f32[], %t: f32[], %x: f32[3])
    %c: bool[] = gt(%s, 0.0)
    %d: bool[] = lt(%t, 0.0)
    %o: bool[] = logical_or(%c, %d)
    %p: f32[] = pow(%s, %t)
    %w: f32[3] = where(%o, %x, %p)
    yield %o, %w, %p
  }
  return %r, %q, %u
}
"""


@pytest.mark.parametrize(("s", "t"), [(-2.0, 3.0), (2.0, -3.0), (-2.0, 0.5)])
def test_zero_dim_operands_and_outputs(s: float, t: float) -> None:
    net, ref = lowered(SCALARS)
    inputs = (torch.tensor(s), torch.tensor(t), torch.tensor([0.5, -1.0, 2.0]))
    out, expected = net(*inputs), ref(*inputs)
    assert_ran_in_interpreter(net)
    for a, b in zip(out, expected):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, equal_nan=True)


STRIDED = """graph G(x: f32[B, 4], y: f32[B, 4], c: f32[B, 1]) -> f32[B, 4] {
  %r: f32[B, 4] = fused(x, y, c) {
    ^(%x: f32[B, 4], %y: f32[B, 4], %c: f32[B, 1])
    %0: f32[B, 4] = sub(%x, %y)
    %1: f32[B, 4] = mul(%0, %c)
    yield %1
  }
  return %r
}
"""


def test_non_contiguous_expanded_and_offset_operands() -> None:
    base = torch.randn(4, 10)
    x = base.t()[2:7]  # transposed view with a storage offset: strides (1, 10)
    y = torch.randn(1, 4).expand(5, 4)  # stride 0 on dim 0
    c = torch.randn(5, 3)[:, 1:2]  # [5, 1] slice of a wider tensor
    net, ref = lowered(STRIDED)
    out = net(x, y, c)
    assert_ran_in_interpreter(net)
    torch.testing.assert_close(out, ref(x, y, c))
    (region,) = regions(net)
    layouts = [layout for layout, _ in region.kernel.functions]
    assert any(isinstance(mode, tuple) for layout in layouts for mode in layout.inputs)  # the strided path ran


def test_int64_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The int64 indexing variant, forced on small tensors by lowering the int32 limit."""
    from graphsynth.backend import triton_runtime

    monkeypatch.setattr(triton_runtime, "_INT32_MAX", 16)
    net, ref = lowered(STRIDED)
    x, y, c = torch.randn(7, 4), torch.randn(7, 4).t().contiguous().t(), torch.randn(7, 1)
    out = net(x, y, c)
    assert_ran_in_interpreter(net)
    torch.testing.assert_close(out, ref(x, y, c))
    (region,) = regions(net)
    sources = [src for (layout, _), src in region.kernel.sources.items() if layout.index64]
    assert sources and "tl.program_id(0).to(tl.int64)" in sources[0]


def test_large_tensors_plan_int64_offsets() -> None:
    """Planning only (meta tensors hold no memory): more than 2**31 elements needs int64 offsets,
    and a large stride does too even when the element count is small."""
    net, _ = lowered(STRIDED)
    (region,) = regions(net)
    big = torch.empty(2**29, 4, device="meta")
    plan = region.kernel.plan((big, big, torch.empty(2**29, 1, device="meta")), True)
    assert not isinstance(plan, str) and plan.layout.index64 and plan.numel == 2**31
    small = torch.empty(4, device="meta").as_strided((2, 4), (2**31, 1))
    plan = region.kernel.plan((small, torch.empty(2, 4, device="meta"), torch.empty(2, 1, device="meta")), True)
    assert not isinstance(plan, str) and plan.layout.index64
    plan = region.kernel.plan((torch.empty(2, 4, device="meta"),) * 2 + (torch.empty(2, 1, device="meta"),), True)
    assert not isinstance(plan, str) and not plan.layout.index64


def test_gradcheck_through_the_interpreter_in_float64() -> None:
    """Finite differences of the kernel (forward) against the recomputed vjp (backward)."""
    text = CHAIN.replace("f32", "f64")
    net, _ = lowered(text)
    g = torch.Generator().manual_seed(0)
    inputs = (torch.randn(2, 2, 4, generator=g, dtype=torch.float64, requires_grad=True),
              torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True),
              torch.tensor(0.2, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(net, inputs, eps=1e-6, atol=1e-6)
    assert_ran_in_interpreter(net)


# -- the cache --------------------------------------------------------------------------------------


RENAMED = """graph H(inp: f32[N, T, 4], scale: f32[4], bias: f32[]) -> f32[N, T, 4] {
  %out: f32[N, T, 4] = fused(inp, scale, bias) {
    ^(%p: f32[N, T, 4], %q: f32[4], %r: f32[])
    %a: f32[N, T, 4] = mul(%p, %q)
    %b: f32[N, T, 4] = add(%a, %r)
    %c: f32[N, T, 4] = gelu(%b, approximate="tanh")
    %d: f32[N, T, 4] = sigmoid(%p)
    %e: f32[N, T, 4] = mul(%c, %d)
    %f: f32[N, T, 4] = add(%e, 1.0)
    yield %f
  }
  return %out
}
"""


def test_structurally_equal_regions_share_one_kernel() -> None:
    gt.clear_cache()
    first, _ = lowered(CHAIN)
    second, _ = lowered(RENAMED)  # other value names, other symbols
    (r1,), (r2,) = regions(first), regions(second)
    assert r1.key == r2.key and r1.kernel is r2.kernel
    assert gt.cache_info()["hits"] == 1 and gt.cache_info()["misses"] == 1
    x, w, s = torch.randn(2, 3, 4), torch.randn(4), torch.tensor(0.5)
    first(x, w, s)
    second(torch.randn(3, 5, 4), torch.randn(4), torch.tensor(0.1))  # same layout, other sizes
    assert gt.cache_info()["sources"] == 1 and gt.cache_info()["interpreted_launches"] == 2
    other, _ = lowered(CHAIN.replace("add(%4, 1.0)", "add(%4, 2.0)"))  # a literal is part of the kernel
    assert regions(other)[0].key != r1.key


def test_kernel_source_is_written_and_our_text_is_what_runs(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHSYNTH_CACHE_DIR", str(tmp_path))
    gt.clear_cache()
    net, ref = lowered(CHAIN)
    x, w, s = torch.randn(2, 3, 4), torch.randn(4), torch.tensor(0.5)
    net(x, w, s)
    files = sorted((tmp_path / "triton").glob("gs_fused_*.py"))
    assert len(files) == 1
    (region,) = regions(net)
    (source,) = region.kernel.sources.values()
    assert files[0].read_text() == source
    files[0].write_text(source.replace("tl.store(out0", "tl.store(out0 + 1"))  # tampered behind our back
    gt.clear_cache()
    torch.testing.assert_close(net(x, w, s), ref(x, w, s))
    assert files[0].read_text() == source  # rewritten from the generator, and that is what ran


# -- a real model -------------------------------------------------------------------------------------


def test_gpt2_block_with_fused_regions() -> None:
    from graphsynth.passes.registry import PASSES, load_shipped_passes

    load_shipped_passes()
    if "fuse-elementwise" not in PASSES:
        pytest.skip("the fuse-elementwise pass is not registered")
    from examples.models import gpt2

    model, _, _ = gpt2(layers=1, hidden=32, heads=2)
    block = model.transformer.h[0]
    x = torch.randn(2, 3, 32)
    m = gs.import_torch(block, (x,), {"hidden_states": {0: "B", 1: "S"}})
    fused = gs.run_pipeline(m, "fuse-elementwise")
    net = gs.lower(fused, fusion="triton")
    net.load_state_dict(block.state_dict(), strict=False)
    assert regions(net)
    for shape in [(2, 3, 32), (1, 5, 32)]:
        xi = torch.randn(*shape, requires_grad=True)
        out = as_tuple(net(xi))[0]
        assert_ran_in_interpreter(net)
        expected = as_tuple(block(xi))[0]
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
        (g,) = torch.autograd.grad(out.pow(2).sum(), xi)
        (ge,) = torch.autograd.grad(expected.pow(2).sum(), xi)
        torch.testing.assert_close(g, ge, rtol=1e-4, atol=1e-5)


def test_a_kernel_the_compiler_rejects_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """If Triton refuses generated code, the region computes through torch (and says so) instead
    of failing the model's forward; the same shapes then go straight to the fallback."""
    import ast

    from triton.compiler.errors import CompilationError

    net, ref = lowered(CHAIN)
    (region,) = regions(net)

    def refuse(*args: object, **kwargs: object) -> None:
        raise CompilationError("x = 1", ast.parse("x = 1").body[0], "unsupported construct")

    monkeypatch.setattr(gt.TritonKernel, "launch", refuse)
    inputs = (torch.randn(2, 3, 4), torch.randn(4), torch.tensor(0.5))
    with pytest.warns(RuntimeWarning, match="the Triton compiler rejected the kernel"):
        out = net(*inputs)
    torch.testing.assert_close(out, ref(*inputs))
    assert region.last_path.startswith("torch: the Triton compiler rejected the kernel")
    net(*inputs)  # remembered: no second warning, no second attempt
    assert region.last_path.startswith("torch: the Triton compiler rejected")
