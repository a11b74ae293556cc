"""Any legal IR name lowers: state_dict keys and graph names that collide with what nn.Module and
fx.GraphModule already use (``graph``, ``code``, ``meta``, ``training``, ``forward``,
``state_dict``, ``_modules``, ``__class__`` ...), Python keywords and the backend's own reserved
prefix.  The lowered module runs, and its ``state_dict`` keys are exactly the IR names, both ways
(``load_state_dict(strict=True)`` of a dict keyed by IR names), also inside a larger model."""

from __future__ import annotations

import copy
import keyword
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import fx, nn

import graphsynth as gs
from graphsynth.backend.lower import lower, state_attr, tie_shared_parameters, to_python

_gm = fx.GraphModule(nn.Module(), fx.Graph())
TORCH_NAMES = sorted(set(dir(nn.Module())) | set(dir(_gm)) | set(vars(_gm)) | set(keyword.kwlist))
PART = re.compile(r"[A-Za-z0-9_]+")
FIRST = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SPECIAL = ["graph", "_graph", "code", "_code", "meta", "training", "forward", "state_dict", "_modules",
           "__class__", "__dict__", "class", "def", "None", "self", "torch", "_gs_constants", "_gs_n_graph",
           "_gs_t_a", "_gs_u_x", "0", "1", "a", "b", "weight"]

part = st.one_of(st.sampled_from(TORCH_NAMES + SPECIAL), st.from_regex(PART, fullmatch=True).filter(lambda s: len(s) < 12))
first_part = part.filter(lambda s: FIRST.fullmatch(s) is not None and not s.startswith(("inf", "nan")))
key = st.builds(lambda head, rest: ".".join([head, *rest]), first_part, st.lists(part, max_size=3))
# ``None`` can be declared but not read: as an operand it is the literal.
keys = st.lists(key, min_size=1, max_size=8, unique=True).filter(lambda ks: "x" not in ks and "None" not in ks)


def module_with_state(names: list[str]) -> tuple[object, str]:
    lines = ["graph G(x: f32[2, 3]) -> f32[2, 3] {"]
    lines += [f"  param {k}: f32[3]" for k in names]
    prev = "x"
    for i, k in enumerate(names):
        lines.append(f"  %{i}: f32[2, 3] = add({prev}, {k})")
        prev = f"%{i}"
    lines += [f"  return {prev}", "}", ""]
    text = "\n".join(lines)
    return gs.parse_ir(text, filename="names.gs"), text


SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(keys)
def test_any_legal_state_name_lowers_runs_and_keeps_its_key(names: list[str]) -> None:
    m, text = module_with_state(names)
    assert gs.verify(m) == [], text
    net = lower(m)
    assert sorted(net.state_dict()) == sorted(names)
    values = {k: torch.randn(3) for k in names}
    result = net.load_state_dict(values, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for k in names:
        assert torch.equal(net.state_dict()[k], values[k]), k
        assert torch.equal(net.get_parameter(state_attr(net, k)), values[k]), k
    x = torch.randn(2, 3)
    torch.testing.assert_close(net(x), x + sum(values.values()))
    # A copy, and the same module inside a larger model, keep the keys (with the outer prefix).
    assert sorted(copy.deepcopy(net).state_dict()) == sorted(names)
    outer = nn.ModuleDict({"inner": net})
    assert sorted(outer.state_dict()) == sorted(f"inner.{k}" for k in names)
    outer.load_state_dict({f"inner.{k}": v * 2 for k, v in values.items()}, strict=True)
    torch.testing.assert_close(net(x), x + 2 * sum(values.values()))
    # Printing the code takes the same names.
    assert "def forward(self, x)" in to_python(m)


@SETTINGS
@given(st.sampled_from(TORCH_NAMES + SPECIAL).filter(lambda s: FIRST.fullmatch(s) is not None
                                                      and not s.startswith(("inf", "nan")) and s != "G"))
def test_a_called_graph_may_have_any_name(name: str) -> None:
    text = f"""graph G(x: f32[B, 4]) -> f32[B, 4] {{
  param w: f32[4, 4]
  %0: f32[B, 4] = call(x, w, callee="{name}")
  return %0
}}
graph {name}(h: f32[N, 4], v: f32[4, 4]) -> f32[N, 4] {{
  %1: f32[N, 4] = linear(h, v)
  return %1
}}
"""
    m = gs.parse_ir(text, filename="call.gs")
    assert gs.verify(m) == [], text
    net = lower(m, graph="G")
    w = torch.randn(4, 4)
    net.load_state_dict({"w": w})
    x = torch.randn(3, 4)
    torch.testing.assert_close(net(x), x @ w.T)


def test_the_names_of_the_report_lower() -> None:
    """The cases that crashed with TypeError/KeyError: a submodule called ``graph``, a parameter
    called ``meta``, ``code``, ``_graph``, and a key that is a module path of another key."""
    names = ["graph.weight", "graph.bias", "meta", "code", "_graph", "training", "forward.0.weight",
             "state_dict", "_modules.x", "__class__", "a", "a.b", "_gs_n_graph.weight", "self",
             "enc.self.query.weight", "h.graph.weight", "h.training.bias"]
    m, _ = module_with_state(names)
    net = lower(m)
    assert list(net.state_dict()) != [] and sorted(net.state_dict()) == sorted(names)
    # Only what must be is mangled: a real model's own paths (BERT's attention.self, a nested
    # module called graph) keep their attribute names, so named_parameters() matches the source.
    assert state_attr(net, "enc.self.query.weight") == "enc.self.query.weight"
    assert state_attr(net, "h.graph.weight") == "h.graph.weight" and state_attr(net, "a.b") == "a.b"
    assert state_attr(net, "graph.weight") == "_gs_n_graph.weight" and state_attr(net, "self") == "_gs_n_self"
    assert state_attr(net, "h.training.bias") == "h._gs_n_training.bias"
    # The fx internals are intact: the module still has its graph, code and meta.
    assert isinstance(net.graph, fx.Graph) and "def forward" in net.code and isinstance(net.meta, dict)
    assert net.training is True
    # A stray key equal to a mangled attribute path is reported, never loaded into that slot.
    stray = {k: torch.zeros(3) for k in names if k != "meta"}
    stray["_gs_n_meta"] = torch.ones(3)
    r = net.load_state_dict(stray, strict=False)
    assert r.missing_keys == ["meta"] and r.unexpected_keys == ["_gs_n_meta"]
    assert not torch.equal(net.state_dict()["meta"], torch.ones(3))
    with pytest.raises(RuntimeError, match=r"size mismatch for graph\.weight"):
        net.load_state_dict({**{k: torch.zeros(3) for k in names}, "graph.weight": torch.zeros(4)})


class WithGraphSubmodule(nn.Module):
    """A real model whose submodule is called ``graph`` (and one called ``meta``)."""

    def __init__(self) -> None:
        super().__init__()
        self.graph = nn.Linear(4, 4)
        self.meta = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.meta(torch.relu(self.graph(x)))


def test_a_model_with_a_submodule_called_graph_imports_lowers_and_loads_its_weights() -> None:
    torch.manual_seed(0)
    model = WithGraphSubmodule().eval()
    x = torch.randn(3, 4)
    m = gs.import_torch(model, (x,), dynamic_dims={"x": {0: "B"}})
    net = lower(m)
    assert list(net.state_dict()) == list(model.state_dict())
    net.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(net(x), model(x))
    assert tie_shared_parameters(net, model) == []


def test_an_llm_edit_that_adds_param_meta_is_judged_not_crashed() -> None:
    from graphsynth.llm import Proposal, Usage, rewrite

    text = """graph G(x: f32[B, 4]) -> f32[B, 4] {
  param fc.weight: f32[4, 4]
  %0: f32[B, 4] = linear(x, fc.weight)
  %1: f32[B, 4] = relu(%0)
  return %1
}
"""
    add_meta = ("<<<<<<< SEARCH\n  %1: f32[B, 4] = relu(%0)\n=======\n  param meta: f32[4]\n"
                "  param graph.weight: f32[4, 4]\n  %5: f32[B, 4] = linear(%0, graph.weight, meta)\n"
                "  %1: f32[B, 4] = relu(%5)\n>>>>>>> REPLACE")

    class Once:
        name = model = "scripted"

        def propose(self, request):
            return Proposal(add_meta, Usage(1, 1, calls=1), 0.0, "scripted")

    m = gs.parse_ir(text)
    # Semantics checked: the new parameters get random values, so the function differs (GS506).
    r = rewrite(m, "[preserve-semantics] add a layer", Once(), attempts=1)
    assert [a.codes for a in r.attempts] == [["GS506"]]
    # Without that check the edit is accepted, and what was accepted lowers and runs.
    r = rewrite(m, "add a layer", Once(), attempts=1)
    assert r.accepted
    net = lower(r.module)
    assert sorted(net.state_dict()) == ["fc.weight", "graph.weight", "meta"]
    net.load_state_dict({"fc.weight": torch.eye(4), "graph.weight": torch.eye(4), "meta": torch.ones(4)})
    x = torch.randn(2, 4)
    torch.testing.assert_close(net(x), torch.relu(x + 1))


def test_names_the_generated_code_uses_are_free_for_state() -> None:
    """``self``, the globals fx's code refers to (``torch``, ``operator``, ``getattr`` ...) and every
    builtin, as a top-level parameter read by several ops: fx names the reading node after the
    key, so none of them may shadow what the code needs."""
    import builtins

    from graphsynth.backend.state import RESERVED_ARG_NAMES as _RESERVED_ARG_NAMES

    names = sorted((set(_RESERVED_ARG_NAMES) | {"self", "operator", "math", "fx_pytree", "pytree", "device"}
                    | {n for n in dir(builtins) if n.isidentifier() and not n.startswith("__")})
                   - {"None"})
    names = [n for n in names if FIRST.fullmatch(n) and not n.startswith(("inf", "nan"))]
    assert "self" in names and "torch" in names and "getattr" in names
    for n in names:
        text = f"""graph G(x: f32[2, 3]) -> f32[2, 3] {{
  param {n}: f32[3]
  param w: f32[3, 3]
  %0: f32[2, 3] = add(x, {n})
  %1: f32[2, 3] = linear(%0, w, {n})
  %2: f32[6] = reshape(%1, shape=[6])
  %3: f32[2, 3] = reshape(%2, shape=[2, 3])
  %4: f32[2, 3] = mul(%3, 2)
  return %4
}}
"""
        net = lower(gs.parse_ir(text))
        net.load_state_dict({n: torch.ones(3), "w": torch.eye(3)})
        x = torch.randn(2, 3)
        torch.testing.assert_close(net(x), (x + 2) * 2, msg=n)
