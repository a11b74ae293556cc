"""Bad input to the importer: every failure is a FrontendError with a diagnostic that says what,
where (the model's source line) and what to do -- never a library traceback."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graphsynth.diagnostics import FrontendError
from graphsynth.frontend.importer import import_torch

HERE = __file__


def _diags(model: nn.Module, inputs: object, dyn: dict | None = None) -> list:
    with pytest.raises(FrontendError) as e:
        import_torch(model, inputs, dyn)
    assert e.value.diagnostics, "FrontendError without diagnostics"
    for d in e.value.diagnostics:
        assert d.render()  # renders without failing
        assert "Traceback" not in d.message
    return e.value.diagnostics


class Inner(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.hfft(x).abs()  # no gs op for a Hermitian FFT


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(8, 8), Inner())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def test_unknown_aten_op_names_op_module_and_line() -> None:
    (d,) = _diags(Outer(), (torch.randn(2, 8),), {"x": {0: "B"}})
    assert d.code == "GS602"
    assert "aten.fft_hfft" in d.message
    assert "block.1" in d.message and "Inner" in d.message
    assert d.loc is not None and d.loc.file == HERE
    assert d.source_line is not None and "torch.fft.hfft" in d.source_line
    assert d.fix


class TwoUnknown(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.hfft(x).abs() + torch.linalg.det(x[:, :2, :2])[:, None, None]


def test_all_unknown_ops_are_reported_at_once() -> None:
    diags = _diags(TwoUnknown(), (torch.randn(2, 8, 8),))
    assert len(diags) == 2
    assert all(d.code == "GS602" for d in diags)


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x


def test_untraceable_model_gives_reason_line_and_advice() -> None:
    (d,) = _diags(DataDependent(), (torch.randn(2, 8),))
    assert d.code == "GS601"
    assert "DataDependent.forward" in d.message
    assert "depends on the values in a tensor" in d.message
    assert d.loc is not None and d.loc.file == HERE
    assert "x.sum() > 0" in (d.source_line or "")
    assert "torch.where" in d.fix
    assert len(d.message.splitlines()) == 1


class Crashes(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ torch.ones(3, 3)


def test_model_that_fails_eagerly() -> None:
    (d,) = _diags(Crashes(), (torch.randn(2, 8),))
    assert d.code == "GS601"
    assert d.loc is not None and d.loc.file == HERE
    assert "runs eagerly" in d.fix


class Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 4:
            return self.lin(x) * 2
        return self.lin(x)


def test_specialised_dim_names_dim_guard_and_line() -> None:
    (d,) = _diags(Branches(), (torch.randn(4, 8),), {"x": {0: "B"}})
    assert d.code == "GS603"
    assert d.value == "B"
    assert "dim 0 of input 'x'" in d.message
    assert "specialised to the constant 4" in d.message
    assert "B == 4" in d.message
    assert d.loc is not None and d.loc.file == HERE and "x.shape[0] == 4" in d.source_line
    assert "static" in d.fix
    assert len(d.render().splitlines()) < 10  # not a 40-line constraint dump


class NeedsDivisible(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], 4, -1)


def test_divisibility_suggests_a_dim_expression() -> None:
    (d,) = _diags(NeedsDivisible(), (torch.randn(2, 8),), {"x": {1: "F"}})
    assert d.code == "GS603"
    assert "4*Dim(" in d.fix
    assert "x.view" in (d.source_line or "")


def test_unified_dims_must_share_a_name() -> None:
    class Add(nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return x + y

    (d,) = _diags(Add(), (torch.randn(2, 8), torch.randn(2, 8)), {"x": {0: "B"}, "y": {0: "C"}})
    assert d.code == "GS603"
    assert "must always equal" in d.message
    assert "same name" in d.fix


def test_range_narrowed_by_the_model_is_adopted() -> None:
    """A position table of 16 rows bounds the sequence length: a dim given by name takes the
    range export needs instead of failing."""

    class Pos(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos = nn.Embedding(16, 4)
            self.register_buffer("ids", torch.arange(16), persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.pos(self.ids[: x.shape[1]])

    module = import_torch(Pos(), (torch.randn(2, 5, 4),), {"x": {0: "B", 1: "S"}})
    (g,) = module.body.block.ops
    assert str(g.body.block.args[0].type) == "f32[B, S, 4]"


@pytest.mark.parametrize(
    ("inputs", "dyn", "needle"),
    [
        ((torch.randn(2, 8),), {"y": {0: "B"}}, "not a tensor input"),
        ((torch.randn(2, 8),), {"x": {3: "B"}}, "has rank 2"),
        ((torch.randn(2, 8),), {"x": {0: "2B"}}, "not an identifier"),
        ((torch.randn(2, 8),), {"x": 0}, "must be a dict"),
        ("not inputs", None, "must be a tuple"),
        ((torch.randn(2, 8), torch.randn(2, 8), torch.randn(1)), None, "do not match"),
        (([torch.randn(2, 8)],), None, "holding tensors"),
    ],
)
def test_bad_arguments(inputs: object, dyn: dict | None, needle: str) -> None:
    class Id(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    (d,) = _diags(Id(), inputs, dyn)
    assert d.code == "GS601"
    assert needle in d.message


def test_not_a_module() -> None:
    with pytest.raises(FrontendError, match="torch.nn.Module"):
        import_torch(lambda x: x, (torch.randn(2),))


def test_mutating_an_input_is_refused() -> None:
    class Mut(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x.add_(1)
            return x * 2

    (d,) = _diags(Mut(), (torch.randn(2, 8),))
    assert d.code in ("GS601", "GS602")
    assert "in place" in d.message or "mutat" in d.message


def test_boolean_mask_indexing_is_data_dependent_not_refused() -> None:
    """x[mask] has a size the data decides: it imports with an unbacked symbol (export's u0),
    neither refused nor specialised to the example's count (tests/test_unbacked.py)."""
    from graphsynth.frontend.importer import import_torch
    from graphsynth.grammar.printer import print_ir

    class Mask(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[x > 0].sum()

    text = print_ir(import_torch(Mask(), (torch.randn(2, 8),)))
    assert "symbol u0: [0, 16] unbacked" in text and "boolean_index(x, %0, size=u0)" in text
