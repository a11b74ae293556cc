"""The op registry is the one list of ops: every other table is keyed by op class and checked
against it here, and the packages keep their layering."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from graphsynth.backend.lower import LOWERINGS
from graphsynth.backend.triton_emitters import EMITTERS
from graphsynth.dialects import gs
from graphsynth.dialects.traits import Elementwise
from graphsynth.frontend import convert  # noqa: F401 - loads the ATen handlers
from graphsynth.frontend.handlers import EMITTED_BY
from graphsynth.grammar.parser import parse_ir
from graphsynth.query import cost
from graphsynth.testing.builders import BUILDERS, EXEMPT

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "graphsynth"

# Ops no ATen handler emits, each with the reason; the converter itself writes `constant`.
NOT_FROM_ATEN = {
    gs.Identity: "ATen's aliases and copies import as the value itself; identity is written by passes (insert-block)",
    gs.LinearAct: "made by fuse-linear-activation",
    gs.FullLike: "the importer writes full with the shape the type states",
    gs.Constant: "written by the converter for lifted constants and non-persistent buffers, not by a handler",
    gs.Call: "made by outline",
}


@pytest.mark.parametrize("cls", gs.OP_CLASSES, ids=lambda c: c.SPEC.name)
def test_every_op_has_every_fact(cls):
    spec = cls.SPEC
    assert cls.__module__.startswith("graphsynth.dialects.") and getattr(gs, cls.__name__) is cls
    assert cls in LOWERINGS, f"{spec.name} has no torch lowering"
    assert callable(spec.flops) and callable(spec.bytes), f"{spec.name} has no cost formula"
    assert spec.rule_text and spec.rule_text.strip(), f"{spec.name} has no rule text for models"
    assert spec.doc and spec.doc.strip(), f"{spec.name} has no doc"
    assert (cls in BUILDERS) != (cls in EXEMPT), f"{spec.name}: a strategy builder or a listed exemption, not both"
    if cls in EXEMPT:
        assert len(EXEMPT[cls]) > 20, f"{spec.name}: the exemption needs a reason"
    assert (cls in EMITTED_BY) != (cls in NOT_FROM_ATEN), f"{spec.name}: an ATen mapping or a listed reason"
    if cls.get_trait(Elementwise) is not None:
        assert cls in EMITTERS, f"{spec.name} is elementwise but has no Triton emitter"


def _backend_cases():
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from test_backend_ops import CASES

    return CASES


def test_every_op_has_a_known_flop_count():
    """query.cost on a graph of each op (the backend's reference cases, which cover every op)
    counts its FLOPs: no op is 'unknown', linear_act and call included."""
    seen: set[type] = set()
    for case in _backend_cases():
        module = parse_ir(case.ir)
        seen |= {type(op) for op in module.walk() if isinstance(op, gs.GsOp)}
        # u0, u7: the unbacked symbols of the data-dependent ops' cases (an estimate of the count).
        report = cost(module, {"B": 2, "S": 3, "T": 4, "H": 5, "W": 6, "C": 7, "N": 8, "L": 9, "D": 10, "K": 11, "u0": 3, "u7": 3})
        assert not report.unknown, (case.name, report.unknown)
    missing = sorted(cls.SPEC.name for cls in gs.OP_CLASSES if cls not in seen)
    assert not missing, f"ops without a backend case: {missing}"


# -- layering ------------------------------------------------------------------------------------

# Bottom to top; a package may import its own layer and those below.  `testing` sits above the
# pipeline table: it checks pipelines users write (llm-rewrite included), and nothing below it
# imports it.
LAYERS = [
    {"diagnostics", "fileio", "timing", "expected", "gcpause", "spelling"},
    {"dialects"},
    {"grammar"},
    {"verifier", "fixits"},
    {"frontend", "backend", "fixes"},
    {"passes"},
    {"query", "grad"},
    {"llm"},
    {"pipeline"},
    {"testing"},
    {"train"},
    {"synth"},
    {"cli", "dspy", "plugins"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _imports() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the modules of the first that import it (lazy imports
    inside functions included)."""
    out: dict[str, dict[str, set[str]]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        src = rel.parts[0].removesuffix(".py")
        if src == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "graphsynth":
                    names = [a.name for a in node.names]
                elif node.module.startswith("graphsynth."):
                    names = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".")[1] for a in node.names if a.name.startswith("graphsynth.")]
            for n in names:
                if n != src and n in RANK:
                    out.setdefault(src, {}).setdefault(n, set()).add(str(rel))
    return out


def test_every_package_has_a_layer():
    packages = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert packages - {"__init__"} <= set(RANK), sorted(packages - {"__init__"} - set(RANK))


def test_no_package_imports_a_higher_layer():
    upward = [(src, dst, sorted(mods)) for src, deps in _imports().items() for dst, mods in deps.items()
              if RANK[dst] > RANK[src]]
    assert not upward, upward


def test_no_import_cycles_between_packages():
    graph = {src: set(deps) for src, deps in _imports().items()}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for n in graph.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    cycles = sorted(p for p in graph if p in reach(p))
    assert not cycles, cycles


def test_passes_never_import_the_llm_driver():
    assert "llm" not in _imports().get("passes", {})


def test_the_fx_lowerer_never_names_triton():
    """The fusion choice is resolved above the fx lowerer (backend/lower.py)."""
    parts = [PACKAGE / "backend" / f for f in ("fx.py", "registry.py", "base.py", "state.py", "budget.py")]
    parts += sorted((PACKAGE / "backend" / "lowerings").glob("*.py"))
    named = [str(p.relative_to(ROOT)) for p in parts if "triton" in p.read_text().lower()]
    assert not named, named


LIMIT = 600


def test_no_module_over_the_size_limit():
    """Every module of the package stays under LIMIT lines (small modules with one job)."""
    sizes = {str(p.relative_to(PACKAGE)): p.read_text().count("\n") for p in PACKAGE.rglob("*.py")}
    assert "grammar/parser.py" in sizes and len(sizes) > 50, sorted(sizes)  # the scan sees the package
    over = {name: n for name, n in sizes.items() if n > LIMIT}
    assert not over, over
