"""Dynamic dims: the user's names (or readable ones) for export's symbols, torch's size
expressions as gs dims, Dim objects and Dim expressions, and the graphsynth-import CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
import torch
from frontend_util import graph_of, primitive_ops
from torch import nn
from torch.export import Dim
from torch.utils._sympy.functions import CeilDiv, FloorDiv, Mod, ModularIndexing, PythonMod

from graphsynth.dialects.shapes import evaluate, parse_dim
from graphsynth.frontend.cli import main as import_main
from graphsynth.frontend.importer import import_torch
from graphsynth.frontend.symbols import SymbolError, format_relation, sympy_to_dim

s0, s1 = sympy.symbols("s0 s77", positive=True, integer=True)
NAMES = {"s0": "B", "s77": "S"}


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (s0, "B"),
        (s0 * s1, "B*S"),
        (2 * s1 + 1, "2*S+1"),
        (s1**2, "S*S"),
        (FloorDiv(s1 + 3, 4), "(S+3)//4"),
        (FloorDiv(2 * s1 + 2, 2), "S+1"),
        (Mod(s1, 4), "S-4*(S//4)"),
        (PythonMod(s1, 4), "S-4*(S//4)"),
        (ModularIndexing(s1, 2, 4), "S//2-4*(S//8)"),
        (CeilDiv(s1, 4), "(S+3)//4"),
    ],
)
def test_sympy_to_dim(expr: object, text: str) -> None:
    d = sympy_to_dim(expr, NAMES)
    assert d == parse_dim(text)
    for s in range(1, 40):  # the same value as torch's expression at every size
        want = int(expr.subs({s0: 3, s1: s}))  # type: ignore[union-attr]
        assert evaluate(d, {"B": 3, "S": s}) == want


def test_unknown_and_unbacked_symbols() -> None:
    with pytest.raises(SymbolError, match="depends on tensor data"):
        sympy_to_dim(sympy.Symbol("u0"), NAMES)
    with pytest.raises(SymbolError, match="not one of the dynamic dims"):
        sympy_to_dim(sympy.Symbol("s5"), NAMES)
    with pytest.raises(SymbolError, match="no graphsynth form"):
        sympy_to_dim(sympy.Max(s0, s1), NAMES)


def test_format_relation_uses_user_names() -> None:
    assert format_relation(sympy.Eq(Mod(s1, 4), 0), NAMES) == "S % 4 == 0"
    assert format_relation(sympy.Ne(s0, 1), NAMES) == "B != 1"


class Cat(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = torch.cat([x, y], dim=1)
        return z.reshape(z.shape[0], -1, 2).sum(-1)


def test_names_dim_objects_and_expressions() -> None:
    x, y = torch.randn(2, 6, 4), torch.randn(2, 10, 4)
    module = import_torch(Cat(), (x, y), {"x": {0: "B", 1: 2 * Dim("T")}, "y": {0: "B", 1: Dim("U", max=100)}})
    g = graph_of(module)
    assert [str(a.type) for a in g.body.block.args] == ["f32[B, 2*T, 4]", "f32[B, U, 4]"]
    assert str(g.output_types.data[0]) == "f32[B, 4*T+2*U]"


def test_unnamed_dims_get_readable_names() -> None:
    module = import_torch(Cat(), (torch.randn(2, 6, 4), torch.randn(2, 8, 4)), {"x": [0, 1], "y": {0: "x_0", 1: None}})
    g = graph_of(module)
    assert [str(a.type) for a in g.body.block.args] == ["f32[x_0, x_1, 4]", "f32[x_0, y_1, 4]"]


def test_static_import_has_no_symbols() -> None:
    module = import_torch(Cat(), (torch.randn(2, 6, 4), torch.randn(2, 8, 4)))
    assert str(graph_of(module).output_types.data[0]) == "f32[2, 28]"
    assert all("B" not in str(op.results[0].type) for op in primitive_ops(module))


# -- graphsynth-import --------------------------------------------------------------------------

FACTORY = '''
import torch
from torch import nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return torch.relu(self.fc(x))

def build():
    return Tiny(), (torch.randn(2, 4),), {"x": {0: "N"}}

def static():
    return Tiny(), (torch.randn(2, 4),)

def broken():
    return Tiny(), (torch.randn(2, 5),)

def wrong():
    return 42
'''


@pytest.fixture
def factory_file(tmp_path: Path) -> Path:
    p = tmp_path / "tinymodels.py"
    p.write_text(FACTORY)
    return p


def test_cli_writes_ir(factory_file: Path, tmp_path: Path) -> None:
    from graphsynth.grammar.parser import parse_ir

    out = tmp_path / "tiny.gs"
    assert import_main([f"{factory_file}:build", "-o", str(out)]) == 0
    text = out.read_text()
    assert "graph Tiny(x: f32[N, 4])" in text
    assert "fc.weight" in text and "relu(" in text
    parse_ir(text, filename=str(out))


def test_cli_stdout_and_mlir(factory_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert import_main([f"{factory_file}:static"]) == 0
    assert "f32[2, 3]" in capsys.readouterr().out
    assert import_main([f"{factory_file}:static", "--emit", "mlir"]) == 0
    assert '"gs.graph"' in capsys.readouterr().out


def test_cli_errors(factory_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert import_main([f"{factory_file}:broken", "--diagnostics", "json"]) == 1
    diags = json.loads(capsys.readouterr().err)
    assert diags[0]["code"] == "GS601"
    assert import_main([f"{factory_file}:wrong"]) == 2
    assert "must return (model, example_inputs" in capsys.readouterr().err
    assert import_main([f"{factory_file}:missing"]) == 2
    assert "has no function 'missing'" in capsys.readouterr().err
    assert import_main(["no_such_module_xyz:build"]) == 2
    assert import_main(["nocolon"]) == 2
