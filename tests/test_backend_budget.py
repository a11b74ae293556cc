"""What lowering allocates is checked against a budget before the first tensor exists: the
parameters, buffers and constants a (possibly model-written) graph declares.  Printing the code
(``--emit=python``) allocates none of them."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

import graphsynth as gs
from graphsynth.backend import budget as backend
from graphsynth.backend.lower import LoweringError, default_max_param_bytes, lower, tensor_bytes, to_python
from graphsynth.dialects import gs as gsd


def graph(state: str, body: str = "%0: f32[B, 4] = relu(x)", out: str = "%0") -> str:
    return f"graph G(x: f32[B, 4]) -> f32[B, 4] {{\n{state}\n  {body}\n  return {out}\n}}\n"


def refusal(text: str, **kw) -> gs.Diagnostic:
    m = gs.parse_ir(text, filename="big.gs")
    t = time.perf_counter()
    with pytest.raises(LoweringError) as ei:
        lower(m, **kw)
    assert time.perf_counter() - t < 2.0  # refused from the types, nothing was built
    (d,) = ei.value.diagnostics
    assert d.code == "GS605"
    return d


@pytest.mark.parametrize(
    ("decl", "nbytes"),
    [("param w: f32[1000000000]", 4_000_000_000), ("buffer stats.mean: f64[100000, 100000]", 8 * 10**10),
     ("param emb.weight: bf16[50257, 1000000000000]", 2 * 50257 * 10**12), ("buffer mask: bool[3, 1000000000]", 3 * 10**9)],
)
def test_state_over_the_budget_is_a_located_diagnostic_before_allocation(decl: str, nbytes: int) -> None:
    d = refusal(graph(f"  {decl}"), max_param_bytes=10**6)
    name, type_text = decl.split(" ", 1)[1].split(": ")
    assert f"'{name}'" in d.message and type_text in d.message and str(nbytes) in d.message
    assert "1000000 bytes" in d.message  # the budget
    assert d.value == name and d.got == f"{nbytes} bytes" and d.expected.startswith("<= 1000000")
    assert (d.loc.file, d.loc.line, d.loc.column) == ("big.gs", 2, 3)
    assert d.source_line.strip() == decl and "max_param_bytes" in d.fix


def test_the_budget_bounds_the_total_not_only_each_tensor() -> None:
    state = "\n".join(f"  param p{i}: f32[100]" for i in range(5))  # 400 bytes each
    d = refusal(graph(state), max_param_bytes=1000)
    assert "'p2'" in d.message and "1200 bytes" in d.message and d.loc.line == 4
    lower(gs.parse_ir(graph(state)), max_param_bytes=2000)  # exactly enough: lowers


def test_constants_count_too() -> None:
    values = ", ".join(["1.0"] * 64)
    text = graph("", f"%0: f32[B, 4] = relu(x)\n  %1: f32[64] = constant(value=[{values}], shape=[64], dtype=f32)")
    d = refusal(text, max_param_bytes=100)
    assert "constant" in d.message and "256 bytes" in d.message and d.loc.line == 4
    lower(gs.parse_ir(text), max_param_bytes=256)


def test_the_default_budget_comes_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    with open("/proc/meminfo") as fh:
        avail = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    assert 0 < default_max_param_bytes() <= avail * backend.DEFAULT_MEMORY_FRACTION * 1.2
    text = graph("  param w: f32[1000000]")  # 4 MB: fits this machine
    assert lower(gs.parse_ir(text)).state_dict()["w"].shape == (1000000,)
    monkeypatch.setattr(backend, "_available_memory", lambda: 2_000_000)  # a machine with 2 MB to spare
    d = refusal(text)
    assert f"{int(2_000_000 * backend.DEFAULT_MEMORY_FRACTION)} bytes" in d.message


def test_a_bad_budget_is_refused() -> None:
    m = gs.parse_ir(graph("  param w: f32[4]"))
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(LoweringError) as ei:
            lower(m, max_param_bytes=bad)
        assert ei.value.diagnostics[0].code == "GS604" and "max_param_bytes" in ei.value.diagnostics[0].message
    assert list(lower(gs.parse_ir(graph("")), max_param_bytes=0).state_dict()) == []


def test_tensor_bytes_from_types_with_and_without_a_binding() -> None:
    m = gs.parse_ir(graph("  param w: f16[3, 5]", "%0: f32[B, 4] = relu(x)"))
    g = gsd.graph_ops(m)[0]
    arg = g.body.block.args[0].type
    assert tensor_bytes(arg) is None and tensor_bytes(arg, {"B": 7}) == 7 * 4 * 4
    w = next(op for op in g.body.block.ops if isinstance(op, gsd.ParamOp)).results[0].type
    assert tensor_bytes(w) == 30


def test_printing_the_code_allocates_no_parameter() -> None:
    text = graph("  param w: f32[1000000000]\n  param big.weight: f32[100000, 100000]")
    out = to_python(gs.parse_ir(text))
    assert "#   w: param f32[1000000000]" in out and "big.weight: param f32[100000, 100000]" in out
    assert "def forward(self, x)" in out
    # Beyond what torch can address even without storage: a diagnostic, not a RuntimeError.
    huge = graph("  param w: f32[4611686018427387904]")
    with pytest.raises(LoweringError) as ei:
        to_python(gs.parse_ir(huge, filename="huge.gs"))
    d = ei.value.diagnostics[0]
    assert d.code == "GS605" and "cannot address" in d.message and d.loc.line == 2


def test_emit_python_of_a_huge_parameter_is_quick_and_small(tmp_path) -> None:
    src = tmp_path / "big.gs"
    src.write_text(graph("  param w: f32[1000000000]\n  param v: f64[1000000000]"))
    # The child reports its own peak (RUSAGE_CHILDREN would include every earlier child).
    child = ("import resource, sys\nfrom graphsynth.cli import main\nrc = main(sys.argv[1:])\n"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)")
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", child, str(src), "--emit=python"], capture_output=True, text=True,
                       timeout=120)
    wall = time.perf_counter() - t
    peak_mb = int(p.stderr.strip().splitlines()[-1]) / 1024
    assert p.returncode == 0, p.stderr
    assert "w: param f32[1000000000]" in p.stdout and "Traceback" not in p.stderr
    assert peak_mb < 1500, peak_mb  # 12 GB of parameters were not built (torch itself is ~300 MB)
    assert wall < 60


def test_lowered_state_is_real_outside_printing() -> None:
    net = lower(gs.parse_ir(graph("  param w: f32[3]\n  buffer b: f32[2]")))
    assert all(t.device.type == "cpu" for t in net.state_dict().values())
    assert torch.equal(net.state_dict()["w"], torch.zeros(3))
