"""Complex dtypes and the spectral ops: the dtype table's rows and promotion (against torch's own),
the kinds each op declares (GS335 for the others), the transforms' rules and costs, fusion
leaving complex values to torch, and every torch.fft call the importer meets (export's composite
ops and, after ``run_decompositions``, ATen's ``_fft_*`` primitives) imported and matched with
outputs and gradients at two bindings of the symbols."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import torch
from frontend_util import compare_lowered, op_names, text_round_trip, verify_clean

import graphsynth
from graphsynth import query
from graphsynth.backend.base import TORCH_DTYPES
from graphsynth.cli import parse_mlir
from graphsynth.diagnostics import FrontendError
from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import COMPLEX_DTYPES, DTYPES, complex_of, promote, real_of
from graphsynth.dialects.rules import Sig
from graphsynth.dialects.spectral import SYMBOLIC_LOG2
from graphsynth.dialects.traits import DataMovement
from graphsynth.frontend import importer
from graphsynth.frontend.handlers import Fail, dtype_name
from graphsynth.frontend.importer import import_torch
from graphsynth.passes.fusion import fusible

# -- the dtype table ----------------------------------------------------------------------------


def test_complex_rows_map_to_torch_both_ways() -> None:
    assert COMPLEX_DTYPES == ("c64", "c128")
    assert TORCH_DTYPES["c64"] is torch.complex64 and TORCH_DTYPES["c128"] is torch.complex128
    assert dtype_name(torch.complex64) == "c64" and dtype_name(torch.complex128) == "c128"
    assert DTYPES["c64"].itemsize == 8 and DTYPES["c128"].itemsize == 16
    with pytest.raises(Fail, match="complex32"):  # torch's half-precision complex is not a gs dtype
        dtype_name(torch.complex32)


@pytest.mark.parametrize("a", sorted(DTYPES))
@pytest.mark.parametrize("b", COMPLEX_DTYPES)
def test_promotion_with_a_complex_operand_is_torchs(a: str, b: str) -> None:
    want = torch.promote_types(TORCH_DTYPES[a], TORCH_DTYPES[b])
    assert TORCH_DTYPES[promote(a, b)] == want and TORCH_DTYPES[promote(b, a)] == want


def test_complex_and_real_counterparts() -> None:
    assert [complex_of(d) for d in ("f32", "f64", "f16", "bf16", "i64", "bool", "c128")] == ["c64", "c128", "c64", "c64", "c64", "c64", "c128"]
    assert [real_of(d) for d in ("c64", "c128", "f64", "i32")] == ["f32", "f64", "f64", "f32"]


def test_complex_types_round_trip_through_text_and_mlir() -> None:
    text = ("graph G(x: c64[B, 4], y: c128[S]) -> (f32[B, 4], f64[S]) {\n"
            "  %0: f32[B, 4] = abs(x)\n  %1: f64[S] = imag(y)\n  return %0, %1\n}\n")
    module = graphsynth.parse_ir(text)
    assert graphsynth.verify(module) == []
    assert graphsynth.print_ir(module) == text
    mlir = str(module)
    assert '!gs.tensor<c64, ["B", 4]>' in mlir and '!gs.tensor<c128, ["S"]>' in mlir
    assert graphsynth.print_ir(parse_mlir(mlir, "g.mlir")) == text


# -- what each op takes -------------------------------------------------------------------------


def _verify(body: str, head: str = "graph G(x: f32[B, 8], z: c64[B, 8]) -> f32[B, 8] {\n") -> list:
    return graphsynth.verify(graphsynth.parse_ir(head + body + "  return x\n}\n", filename="t.gs"))


@pytest.mark.parametrize("line", [
    "%0: f32[B, 8] = relu(z)",
    "%0: f32[B, 8] = exp(z)",
    "%0: bool[B, 8] = gt(z, 0.0)",
    "%0: f32[B, 8] = softmax(z, dim=1)",
    "%0: f32[B, 8] = sum(z, dims=[1])",
])
def test_real_only_ops_refuse_a_complex_operand_at_the_operand(line: str) -> None:
    (d,) = _verify(f"  {line}\n")
    assert d.code == "GS335" and d.loc.line == 2 and d.got == "c64" and "(z)" in d.message
    assert "does not take complex values" in d.message and "real" in d.fix


def test_every_op_declares_kinds_and_data_movement_takes_them_all() -> None:
    for cls in gs.OP_CLASSES:
        kinds = cls.SPEC.dtypes
        assert kinds and kinds <= {"float", "int", "bool", "complex"}, cls
        if cls.get_trait(DataMovement) is not None and cls not in (gs.Real, gs.Imag, gs.ViewAsReal, gs.ViewAsComplex, gs.Complex):
            assert "complex" in kinds, cls
    takes_complex = {cls.SPEC.name for cls in gs.OP_CLASSES if "complex" in cls.SPEC.dtypes}
    assert {"add", "sub", "mul", "div", "neg", "abs", "fft", "irfft", "real", "imag", "reshape", "permute"} <= takes_complex
    assert not {"relu", "linear", "matmul", "softmax", "rfft", "view_as_complex", "complex"} & takes_complex


def test_complex_only_ops_refuse_a_real_operand() -> None:
    for line in ("%0: f32[B, 8] = real(x)", "%0: f32[B, 14] = irfft(x, dims=[1])", "%0: f32[B, 8, 2] = view_as_real(x)"):
        (d,) = _verify(f"  {line}\n")
        assert d.code == "GS335" and "complex dtype" in d.message and d.got == "f32", d.render()
    (d,) = _verify("  %0: c64[B, 8] = div(z, 2.0, rounding_mode=\"floor\")\n")
    assert d.code == "GS335"


def test_transform_rules() -> None:
    x = Sig(("B", 9), "f64")
    assert gs.infer(gs.Rfft, [x], {"dims": [1]}) == [Sig(("B", 5), "c128")]
    assert gs.infer(gs.Irfft, [Sig((4, 5), "c64")], {"dims": [-1]}) == [Sig((4, 8), "f32")]
    assert gs.infer(gs.Irfft, [Sig((4, 5), "c64")], {"dims": [-1], "n": 9}) == [Sig((4, 9), "f32")]
    assert gs.infer(gs.Fft, [Sig((2, 3), "i64")], {"dims": [0, 1]}) == [Sig((2, 3), "c64")]
    assert gs.infer(gs.ViewAsComplex, [Sig((3, 2), "f64")], {}) == [Sig((3,), "c128")]
    assert gs.infer(gs.Complex, [Sig((3, 1), "f32"), Sig((4,), "f32")], {}) == [Sig((3, 4), "c64")]
    for bad, code in (({"dims": []}, "GS336"), ({"dims": [0, -2]}, "GS336"), ({"dims": [2]}, "GS306")):
        (d,) = _verify(f"  %0: c64[B, 8] = fft(x, {_attrs(bad)})\n")
        assert d.code == code, d.render()
    (d,) = _verify("  %0: c64[B] = view_as_complex(x)\n", "graph G(x: f16[B, 2]) -> f16[B, 2] {\n")
    assert d.code == "GS303" and d.got == "f16"


def _attrs(a: dict[str, Any]) -> str:
    return ", ".join(f"{k}=[{', '.join(map(str, v))}]" for k, v in a.items())


def test_fft_cost_is_n_log_n_per_transformed_dim() -> None:
    text = ("graph G(x: f32[B, S, 8]) -> f32[B, S, 5] {\n  %0: c64[B, S, 8] = fft(x, dims=[-2, -1])\n"
            "  %1: c64[B, S, 5] = rfft(x, dims=[2])\n  %2: f32[B, S, 5] = real(%1)\n  return %2\n}\n")
    report = query.cost(graphsynth.parse_ir(text), {"B": 2, "S": 3})
    fft, rfft, real = report.ops
    # log2 of the symbolic length S counts as SYMBOLIC_LOG2, of 8 as 3
    assert [tuple(str(f) for f in t) for t in fft.terms] == [("5", "B", "S", "8", str(SYMBOLIC_LOG2)), ("5", "B", "S", "8", "3")]
    assert [tuple(str(f) for f in t) for t in rfft.terms] == [("5", "B", "S", "5", "3")]
    assert real.flops == 0 and real.known
    assert report.total.flops_value == 5 * 2 * 3 * 8 * (SYMBOLIC_LOG2 + 3) + 5 * 2 * 3 * 5 * 3


# -- fusion ----------------------------------------------------------------------------------------


def test_ops_on_complex_values_are_never_fused_and_the_rest_still_is() -> None:
    text = ("graph G(x: f32[B, 8]) -> f32[B, 8] {\n  %0: c64[B, 8] = fft(x, dims=[1])\n  %1: c64[B, 8] = mul(%0, %0)\n"
            "  %2: c64[B, 8] = add(%1, x)\n  %3: f32[B, 8] = abs(%2)\n  %4: f32[B, 8] = relu(%3)\n"
            "  %5: f32[B, 8] = mul(%4, 2.0)\n  return %5\n}\n")
    module = graphsynth.parse_ir(text)
    ops = {gs.result_names(op)[0]: op for op in gs.graph_ops(module)[0].body.block.ops if isinstance(op, gs.GsOp)}
    assert [fusible(ops[k]) for k in ("1", "2", "3", "4", "5")] == [False, False, False, True, True]
    fused = graphsynth.run_pipeline(module, "fuse-elementwise")
    assert graphsynth.verify(fused) == []
    inner = [op.SPEC.name for f in fused.walk() if isinstance(f, gs.FusedOp) for op in f.body.block.ops if isinstance(op, gs.GsOp)]
    assert inner == ["relu", "mul"]
    x = torch.randn(3, 8)
    want = graphsynth.lower(module)(x)
    for fusion in ("inline", "triton"):
        assert torch.allclose(graphsynth.lower(fused, fusion=fusion)(x), want, atol=1e-6)


def test_a_written_fused_region_over_complex_values_runs_through_torch() -> None:
    """A region no pass would make (complex values inside) still verifies and lowers: the Triton
    backend finds no kernel dtype and runs it with torch."""
    text = ("graph G(x: f32[B, 8]) -> f32[B, 8] {\n  %0: c64[B, 8] = fft(x, dims=[1])\n"
            "  %2: c64[B, 8] = fused(%0) {\n    ^(%a: c64[B, 8])\n    %b: c64[B, 8] = mul(%a, %a)\n"
            "    %c: c64[B, 8] = neg(%b)\n    yield %c\n  }\n  %3: f32[B, 8] = real(%2)\n  return %3\n}\n")
    module = graphsynth.parse_ir(text)
    assert graphsynth.verify(module) == []
    x = torch.randn(2, 8)
    want = (-(torch.fft.fft(x) ** 2)).real
    assert torch.allclose(graphsynth.lower(module, fusion="triton")(x), want, atol=1e-5)


# -- the importer --------------------------------------------------------------------------------


class Call(torch.nn.Module):
    """A linear layer, then ``fn`` (so parameters get gradients through the transform)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.lin(x))


CALLS = {
    "fftn_real": lambda x: torch.fft.fftn(x, dim=(-2, -1)).real,
    "fft_imag": lambda x: torch.fft.fft(x).imag,
    "fft2_abs": lambda x: torch.fft.fft2(x, norm="ortho").abs(),
    "ifft_fft": lambda x: torch.fft.ifft(torch.fft.fft(x, dim=1), dim=1).real,
    "ifftn": lambda x: torch.fft.ifftn(x, norm="forward").imag,
    "rfft_view_as_real": lambda x: torch.view_as_real(torch.fft.rfft(x)),
    "rfft2": lambda x: torch.fft.rfft2(x).abs(),
    "rfftn_irfftn": lambda x: torch.fft.irfftn(torch.fft.rfftn(x, dim=(1, 2)), s=(x.shape[1], 8), dim=(1, 2)),
    "irfft_symbolic_length": lambda x: torch.fft.irfft(torch.fft.rfft(x, dim=1), n=x.shape[1], dim=1),
    "irfft2": lambda x: torch.fft.irfft2(torch.fft.rfft2(x)),
    "fft_padded": lambda x: torch.fft.fft(x, n=12).real[..., :8],
    "rfft_truncated": lambda x: torch.fft.rfft(x, n=6).abs().sum(-1, keepdim=True) + x,
    "complex_arithmetic": lambda x: ((torch.fft.fft(x) * torch.fft.fft(x) - x) / (torch.fft.fft(x) + 2.0)).real,
    "view_as_complex": lambda x: torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2)).abs(),
    "complex": lambda x: torch.complex(x, -x).abs() + torch.complex(x, x).real,
}


def _inputs(b: dict[str, int]) -> dict[str, torch.Tensor]:
    return {"x": torch.randn(b["B"], b["S"], 8, generator=torch.Generator().manual_seed(sum(b.values())))}


@pytest.mark.parametrize("name", CALLS)
def test_torch_fft_call_imports_and_matches(name: str) -> None:
    torch.manual_seed(0)
    model = Call(CALLS[name]).eval()
    module = import_torch(model, {"x": torch.randn(2, 6, 8)}, {"x": {0: "B", 1: "S"}})
    verify_clean(module)
    text = text_round_trip(module)
    assert graphsynth.print_ir(parse_mlir(str(module), f"{name}.mlir")) == text
    compare_lowered(model, module, _inputs, ({"B": 2, "S": 6}, {"B": 3, "S": 5}), grads=True)


class Mixed(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lin(x)
        a = torch.fft.fftn(y, dim=(-2, -1), norm="ortho").real
        b = torch.fft.irfft(torch.fft.rfft(y, norm="forward"), n=8, norm="forward")
        c = torch.fft.ifft(torch.fft.fft(y)).imag
        return a + b + c


def test_decomposed_fft_primitives_import_and_match() -> None:
    """After ``run_decompositions`` the transforms are ``_fft_c2c``, ``_fft_r2c`` and
    ``_fft_c2r`` with ATen's normalisation enum; they import to the same ops."""
    seen: set[str] = set()
    export = importer.export_with_diagnostics

    def decomposed(*args: Any, **kwargs: Any) -> Any:
        ep = export(*args, **kwargs).run_decompositions()
        seen.update(str(n.target) for n in ep.graph.nodes if n.op == "call_function")
        return ep

    torch.manual_seed(0)
    model = Mixed().eval()
    with mock.patch.object(importer, "export_with_diagnostics", decomposed):
        module = import_torch(model, {"x": torch.randn(2, 6, 8)}, {"x": {0: "B", 1: "S"}})
    assert {"aten._fft_c2c.default", "aten._fft_r2c.default", "aten._fft_c2r.default"} <= seen
    verify_clean(module)
    assert {"fft", "rfft", "irfft"} <= set(op_names(module))
    compare_lowered(model, module, _inputs, ({"B": 2, "S": 6}, {"B": 3, "S": 5}), grads=True)


class Sized(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fft(x, n=x.shape[1]).real[..., :1] + x


@pytest.mark.parametrize("dim, size", [(torch.export.Dim("S", max=7), 6), (torch.export.Dim("S", min=9, max=20), 10)])
def test_symbolic_signal_size_pads_or_truncates_by_the_symbol_range(dim: Any, size: int) -> None:
    model = Sized()
    module = import_torch(model, {"x": torch.randn(2, size, 8)}, {"x": {0: "B", 1: dim}})
    assert ("slice" if size < 8 else "pad") in op_names(module)
    compare_lowered(model, module, _inputs, ({"B": 2, "S": size}, {"B": 3, "S": size + 1}))


def test_undecidable_signal_size_is_gs614() -> None:
    from graphsynth.dialects.symdim import SymDim
    from graphsynth.frontend.spectral import _resize

    class Stub:
        def sig(self, v: Any) -> Sig:
            return Sig(("B", 8), "f32")

    with pytest.raises(Fail) as info:
        _resize(Stub(), object(), [1], [SymDim.symbol("S")])  # S may be below or above 8
    assert info.value.code == "GS614" and "pad or slice" in info.value.fix


def test_unsupported_complex_op_still_names_op_and_line() -> None:
    class Hermitian(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.fft.ihfft(x).abs()

    with pytest.raises(FrontendError) as info:
        import_torch(Hermitian(), {"x": torch.randn(2, 8)})
    (d,) = info.value.diagnostics
    assert d.code == "GS602" and "aten.fft_ihfft" in d.message and "torch.fft.ihfft" in (d.source_line or "")
