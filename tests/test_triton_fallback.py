"""The Triton backend without a GPU or the interpreter: the torch fallback and its gradients, the
structural key, the generator's safety, the queries, and ``lower(fusion="triton")``."""

from __future__ import annotations

import pytest
import torch

import graphsynth as gs
from graphsynth.backend import triton as gt
from graphsynth.backend import triton_codegen as cg
from graphsynth.backend.lower import LoweringError
from graphsynth.backend.triton_runtime import coalesce
from graphsynth.dialects import gs as gsd


@pytest.fixture(autouse=True)
def no_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setenv("GRAPHSYNTH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gs-cache"))


def parse(text: str):
    m = gs.parse_ir(text)
    assert gs.verify(m) == []
    return m


def fused_op(module) -> gsd.FusedOp:
    return next(op for op in module.walk() if isinstance(op, gsd.FusedOp))


def regions(net: torch.nn.Module) -> list[gt.FusedRegion]:
    return [m for m in net.modules() if isinstance(m, gt.FusedRegion)]


REGION = """graph G(x: f64[B, 3], w: f64[3], m: bool[B, 3]) -> f64[B, 3], f64[3], bool[B, 3] {
  param scale: f64[3]
  %y: f64[B, 3], %e: f64[3], %k: bool[B, 3] = fused(x, w, m) {
    ^(%x: f64[B, 3], %w: f64[3], %m: bool[B, 3])
    %0: f64[B, 3] = mul(%x, %w)
    %1: f64[B, 3] = gelu(%0)
    %2: f64[B, 3] = where(%m, %1, %x)
    %3: f64[3] = tanh(%w)
    %4: f64[B, 3] = pow(%2, 2)
    %5: f64[B, 3] = maximum(%4, 0.1)
    %6: bool[B, 3] = gt(%5, %x)
    yield %5, %3, %6
  }
  %z: f64[B, 3] = mul(%y, scale)
  return %z, %e, %k
}
"""


def test_without_cuda_or_interpreter_regions_are_inlined_and_cost_nothing() -> None:
    """No kernel can run in this process: fusion="triton" lowers to exactly the plain fx code."""
    assert gt.kernels_unavailable() is not None
    m = parse(REGION)
    net, ref = gs.lower(m, fusion="triton"), gs.lower(m)
    assert not regions(net)
    assert net.code == ref.code and net.state_dict().keys() == ref.state_dict().keys()
    (entry,) = gt.fusion_report(net)
    assert entry["last_path"] == "inlined" and not entry["compiled"]
    assert "TRITON_INTERPRET" in entry["reason"] and entry["ops"][:2] == ["mul", "gelu"]


def test_cpu_tensors_run_the_torch_fallback_exactly() -> None:
    m = parse(REGION)
    net, ref = gs.lower(m, fused=gt.region_hook), gs.lower(m)
    assert net.state_dict().keys() == ref.state_dict().keys()  # the kernel module holds no state
    g = torch.Generator().manual_seed(0)
    args = (torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64),
            torch.rand(4, 3, generator=g) > 0.5)
    for a, b in zip(net(*args), ref(*args)):
        assert torch.equal(a, b)
    (region,) = regions(net)
    assert region.reason is None and region.last_path.startswith("torch: cpu tensors")


def test_gradcheck_of_the_fallback_in_float64() -> None:
    net = gs.lower(parse(REGION), fused=gt.region_hook)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    m = torch.tensor([[True, False, True], [False, True, True]])

    def f(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, e, _ = net(x, w, m)
        return z, e

    assert torch.autograd.gradcheck(f, (x, w))
    assert torch.autograd.gradgradcheck(f, (x, w))
    assert regions(net)[0].last_path.startswith("torch:")


def test_the_recomputed_vjp_matches_autograd() -> None:
    """The backward the kernel path uses (vjp of the fallback), called directly on CPU."""
    net = gs.lower(parse(REGION), fused=gt.region_hook)
    (region,) = regions(net)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    m = torch.rand(2, 3, generator=g) > 0.5
    gy, ge = torch.randn(2, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    y, e, k = region.run_fallback((x, w, m))
    expected = torch.autograd.grad((y, e), (x, w), (gy, ge))
    got = region.vjp((x.detach(), w.detach(), m), (gy, ge, None), (True, True, False))
    assert got[2] is None
    torch.testing.assert_close(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])


def test_functorch_transforms_use_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # would run the kernel, but not under torch.func
    m = parse(REGION)
    net, ref = gs.lower(m, fusion="triton"), gs.lower(m)
    x, w = torch.randn(2, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    mask = torch.ones(2, 3, dtype=torch.bool)
    grad = torch.func.grad(lambda x: net(x, w, mask)[0].sum())(x)
    assert regions(net)[0].last_path == "torch: inside a torch.func transform"
    torch.testing.assert_close(grad, torch.func.grad(lambda x: ref(x, w, mask)[0].sum())(x))


def test_operands_the_kernel_does_not_expect_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    net = gs.lower(parse(REGION), fusion="triton")
    (region,) = regions(net)
    out = net(torch.randn(2, 3), torch.randn(3), torch.ones(2, 3, dtype=torch.bool))  # f32 into an f64 region
    assert out[0].shape == (2, 3)
    assert region.last_path.startswith("torch: operand #0 is torch.float32")


# -- what cannot be compiled ------------------------------------------------------------------------


UNSUPPORTED = """graph G(x: f32[4], n: i32[4]) -> f32[4], i32[4] {
  %a: f32[4] = fused(x) {
    ^(%x: f32[4])
    %0: f32[4] = dropout(%x, p=0.5, train=true)
    %1: f32[4] = relu(%0)
    yield %1
  }
  %b: i32[4] = fused(n) {
    ^(%n: i32[4])
    %0: i32[4] = pow(%n, %n)
    %1: i32[4] = add(%0, 1)
    yield %1
  }
  return %a, %b
}
"""


def test_unsupported_regions_say_why_and_run_through_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    m = parse(UNSUPPORTED)
    reasons = [gt.explain(op) for op in m.walk() if isinstance(op, gsd.FusedOp)]
    assert "dropout" in reasons[0] and "training" in reasons[0]
    assert "integer pow with a tensor exponent" in reasons[1]
    net = gs.lower(m, fusion="triton")
    n = torch.tensor([1, 2, 3, 0], dtype=torch.int32)
    a, b = net(torch.randn(4), n)
    assert torch.equal(b, n**n + 1)
    report = gt.fusion_report(net)
    assert [r["compiled"] for r in report] == [False, False]
    assert [r["reason"] for r in report] == reasons
    assert all(r["last_path"] == f"torch: {r['reason']}" for r in report)


def test_every_elementwise_op_has_a_triton_form() -> None:
    """Ops marked elementwise may stand in a fused region; each needs an emitter (or it would
    always run through torch)."""
    missing = sorted(name for name, cls in gsd.OPS.items() if cls.SPEC.elementwise and cls not in cg.EMITTERS)
    assert missing == []
    assert all(cls.SPEC.elementwise for cls in cg.EMITTERS)


# -- the structural key and the generated text ---------------------------------------------------------


BASE = """graph G(x: f32[B, 4], y: f32[4]) -> f32[B, 4] {
  %r: f32[B, 4] = fused(x, y) {
    ^(%a: f32[B, 4], %b: f32[4])
    %0: f32[B, 4] = add(%a, %b)
    %1: f32[B, 4] = mul(%0, 0.5)
    yield %1
  }
  return %r
}
"""


def key(text: str) -> str:
    return cg.analyze(fused_op(parse(text))).key


def test_structural_key_ignores_names_and_sizes_only() -> None:
    k = key(BASE)
    renamed = (BASE.replace("%a", "%in_0").replace("%b", "%bias").replace("%0", "%t").replace("%1", "%u")
               .replace("B", "N").replace("x", "inp"))
    assert key(renamed) == k
    assert key(BASE.replace("B, 4", "7, 4")) == k  # a size that is not 1: same kernel
    assert key(BASE.replace("B, 4", "1, 4")) != k  # a dim that is statically 1 is part of the pattern
    assert key(BASE.replace("0.5", "0.25")) != k
    assert key(BASE.replace("f32", "f16")) != k
    assert key(BASE.replace("add(%a, %b)", "sub(%a, %b)")) != k
    assert key(BASE.replace("add(%a, %b)", "add(%b, %a)")) != k


def test_generated_source_holds_no_ir_text() -> None:
    """Value names, symbols and attribute strings never reach the kernel text; it is valid
    Python that defines exactly one jit function."""
    text = (BASE.replace("%a", "%weird.$name-1").replace("%b", "%other_name").replace("B", "BATCHSYM")
            .replace("mul(%0, 0.5)", 'gelu(%0, approximate="tanh")'))
    op = fused_op(parse(text))
    spec = cg.analyze(op)
    layout = cg.Layout(2, False, ("flat", (False, True)), ("flat",))
    source = cg.generate(spec, layout)
    for word in ("weird", "other_name", "BATCHSYM", '"tanh"', "approximate"):
        assert word not in source
    compile(source, "<kernel>", "exec")
    assert source.count("@triton.jit") == 1 and f"def {cg.kernel_name(spec)}(" in source


def test_unknown_attribute_strings_are_refused_not_printed() -> None:
    m = parse(BASE.replace("mul(%0, 0.5)", "gelu(%0)"))
    op = fused_op(m)
    gelu = next(o for o in op.body.block.ops if isinstance(o, gsd.GsOp) and o.SPEC.name == "gelu")
    gelu.properties["approximate"] = gsd.to_attr("str", '"); import os  #')
    with pytest.raises(cg.Unsupported, match="approximate must be 'none' or 'tanh'"):
        cg.analyze(op)
    reason = gt.explain(op)
    assert reason is not None and "import os" not in reason


def test_literals_are_typed_and_non_finite_values_are_bit_patterns() -> None:
    assert cg.const(0.1, "f64") == "tl.full([], 0.1, tl.float64)"
    assert cg.const(float("inf"), "f32") == "tl.full([], 2139095040, tl.int32).to(tl.float32, bitcast=True)"
    assert cg.const(1e300, "f32").endswith(".to(tl.float32, bitcast=True)")  # overflows f32: inf
    assert cg.const(float("-inf"), "f64") == "tl.full([], -4503599627370496, tl.int64).to(tl.float64, bitcast=True)"
    assert cg.const(-1, "u8") == "tl.full([], 255, tl.uint8)"
    assert cg.const(2**31, "i32") == "tl.full([], -2147483648, tl.int32)"
    assert cg.const(True, "bool") == "tl.full([], 1, tl.int1)"
    with pytest.raises(cg.Unsupported):
        cg.const(float("nan"), "i64")


def test_coalescing_merges_dims_walked_together() -> None:
    # x [2, 3, 4] contiguous, bias [4] broadcast: dims 0 and 1 merge for both, dim 2 stays.
    sizes, strides = coalesce((2, 3, 4), [[12, 4, 1], [0, 0, 1], [12, 4, 1]])
    assert sizes == [6, 4] and strides == [[4, 1], [0, 1], [4, 1]]
    sizes, strides = coalesce((2, 1, 3), [[3, 3, 1], [3, 3, 1]])
    assert sizes == [6] and strides == [[1], [1]]
    sizes, strides = coalesce((2, 3), [[1, 2]])  # transposed: cannot merge
    assert sizes == [2, 3] and strides == [[1, 2]]


# -- entry points ---------------------------------------------------------------------------------------


def test_lower_fusion_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    m = parse(BASE)
    net = gs.lower(m, fused=gt.region_hook)
    assert len(regions(net)) == 1
    assert not regions(gs.lower(m, fusion="inline"))
    with pytest.raises(LoweringError) as e:
        gs.lower(m, fusion="cuda-graphs")
    assert e.value.diagnostics[0].code == "GS604" and "triton" in e.value.diagnostics[0].message + str(
        e.value.diagnostics[0].expected)
    with pytest.raises(LoweringError):
        gs.lower(m, fusion="triton", fused=gt.fused_hook)
    assert not regions(gs.lower(m, fused=gt.fused_hook))  # no kernel can run here: inlined
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert len(regions(gs.lower(m, fusion="triton"))) == len(regions(gs.lower(m, fused=gt.fused_hook))) == 1


def test_cache_directory_from_the_environment(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHSYNTH_CACHE_DIR", str(tmp_path / "c"))
    assert gt.cache_dir() == tmp_path / "c" / "triton" and gt.cache_dir().is_dir()
