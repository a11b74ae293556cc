"""Helpers for the backend tests: random inputs for a graph at a binding of its symbols, a
checker that runs a lowered module node by node against the IR's declared types, and the
numerical comparison (outputs and gradients) against a reference written directly in torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx
from xdsl.ir import SSAValue

from graphsynth.backend.lower import TORCH_DTYPES, lower
from graphsynth.dialects import gs
from graphsynth.dialects.rules import RuleContext
from graphsynth.dialects.shapes import SymDim, compare, evaluate, free_symbols
from graphsynth.grammar.parser import parse_ir

Gen = Callable[[tuple[int, ...], torch.dtype, torch.Generator], torch.Tensor]
DEFAULT_BINDINGS = ({"B": 2, "S": 3}, {"B": 3, "S": 5})


def positive(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=g, dtype=torch.float64) + 0.5).to(dtype)


def ints(lo: int, hi: int) -> Gen:
    return lambda shape, dtype, g: torch.randint(lo, hi, shape, generator=g).to(dtype)


def default_gen(shape: tuple[int, ...], dtype: torch.dtype, g: torch.Generator) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    return torch.randint(-5, 6, shape, generator=g).to(dtype)


def concrete(shape: tuple, bindings: dict[str, int]) -> tuple[int, ...]:
    return tuple(evaluate(d, bindings) for d in shape)


def graph_of(module: Any) -> gs.GraphOp:
    """The graph a module lowers to: its only graph, or the entry graph that calls the others."""
    from graphsynth.backend.lower import pick_graph as _pick_graph

    return _pick_graph(module, None)


def make_inputs(graph: gs.GraphOp, bindings: dict[str, int], gens: dict[str, Gen], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, arg in zip((a.data for a in graph.arg_names.data), graph.body.block.args):
        sig = arg.type.sig()
        out[name] = gens.get(name, default_gen)(concrete(sig.shape, bindings), TORCH_DTYPES[sig.dtype], g)
    return out


def random_state(net: torch.nn.Module, gens: dict[str, Gen], seed: int) -> dict[str, torch.Tensor]:
    """Random values for every state_dict entry, loaded into ``net``; returns them."""
    g = torch.Generator().manual_seed(seed + 1000)
    state = {k: gens.get(k, default_gen)(tuple(v.shape), v.dtype, g) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    return state


class TypeChecker(fx.Interpreter):
    """Runs a lowered module node by node and checks each value against the gs type it was
    lowered from (shape evaluated at the binding, dtype exactly)."""

    def __init__(self, gm: fx.GraphModule, bindings: dict[str, int]):
        super().__init__(gm)
        self.bindings = bindings
        self.checked = 0

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        sig = n.meta.get("gs_type")
        if sig is not None:
            assert isinstance(out, torch.Tensor), f"{n.name}: expected a tensor, got {type(out)}"
            for k, d in enumerate(sig.shape):
                # An unbacked symbol (a data-dependent size) takes its value where it first
                # appears alone as a dim, the way the lowered module binds it; later uses check it.
                if isinstance(d, SymDim) and free_symbols(d) - set(self.bindings) and str(d) in free_symbols(d):
                    self.bindings = {**self.bindings, str(d): out.shape[k]}
            want = concrete(sig.shape, self.bindings)
            assert tuple(out.shape) == want, f"{n.name}: shape {tuple(out.shape)}, IR says {sig} = {want}"
            assert out.dtype == TORCH_DTYPES[sig.dtype], f"{n.name}: dtype {out.dtype}, IR says {sig.dtype}"
            self.checked += 1
        return out


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max abs difference relative to the reference's largest magnitude (0 for equal int/bool)."""
    assert a.shape == b.shape, f"shape {tuple(a.shape)} vs reference {tuple(b.shape)}"
    assert a.dtype == b.dtype, f"dtype {a.dtype} vs reference {b.dtype}"
    if not a.dtype.is_floating_point:
        return 0.0 if torch.equal(a, b) else float("inf")
    if a.numel() == 0:
        return 0.0
    if not torch.equal(torch.isnan(a), torch.isnan(b)):
        return float("inf")
    a, b = a.detach().nan_to_num().double(), b.detach().nan_to_num().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30)) if (a - b).abs().max() > 0 else 0.0


def as_tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


@dataclass
class Case:
    """One hand-written graph with its torch reference ``ref(values) -> output(s)``, where
    ``values`` maps graph input names and state_dict keys to tensors."""

    name: str
    ir: str
    ref: Callable[[dict[str, torch.Tensor]], Any]
    gens: dict[str, Gen] = field(default_factory=dict)
    bindings: tuple[dict[str, int], ...] = DEFAULT_BINDINGS
    grad: bool = True
    tol: float = 1e-5


def check_rules(graph: gs.GraphOp) -> None:
    """Each op's declared result types are what its shape rule infers (the verifier's check, done
    here too so that these cases pin the rules to torch's behaviour even without it)."""
    from graphsynth.dialects.call import CALLEES
    from graphsynth.verifier import callee_signatures

    token = CALLEES.set(callee_signatures(graph.parent_op()))  # what `call` checks against
    try:
        _check_rules(graph)
    finally:
        CALLEES.reset(token)


def _check_rules(graph: gs.GraphOp) -> None:
    for op in graph.walk():
        if not isinstance(op, gs.GsOp):
            continue
        args = [a.type.sig() if isinstance(a, SSAValue) else a for a in op.arg_layout()]
        inferred = op.SPEC.rule(RuleContext(op.name.removeprefix("gs."), args, op.attr_values()))
        declared = [r.type.sig() for r in op.results]
        assert len(inferred) == len(declared), f"{op.name}: rule gives {len(inferred)} results"
        for i, (a, b) in enumerate(zip(inferred, declared)):
            same = a.dtype == b.dtype and len(a.shape) == len(b.shape) and all(
                compare(x, y) for x, y in zip(a.shape, b.shape))
            assert same, f"{op.name}: result {i} declared {b}, the rule infers {a}"


def check_case(case: Case) -> None:
    module = parse_ir(case.ir, filename=case.name + ".gs")
    graph = graph_of(module)
    check_rules(graph)
    net = lower(module)
    for i, bindings in enumerate(case.bindings):
        state = random_state(net, case.gens, seed=i)
        inputs = make_inputs(graph, bindings, case.gens, seed=i)
        # 1. node by node against the IR's types
        checker = TypeChecker(net, bindings)
        checker.run(*inputs.values())
        assert checker.checked > 0 or not any(n.op == "call_function" for n in net.graph.nodes)
        # 2. outputs against the reference
        leaves = {k: v.clone().requires_grad_(case.grad and v.dtype.is_floating_point) for k, v in inputs.items()}
        ref_leaves = {k: v.clone().requires_grad_(case.grad and v.dtype.is_floating_point) for k, v in inputs.items()}
        ref_state = {k: v.clone().requires_grad_(case.grad and v.dtype.is_floating_point and k in dict(net.named_parameters()))
                     for k, v in state.items()}
        got = as_tuple(net(*leaves.values()))
        want = as_tuple(case.ref({**ref_leaves, **ref_state}))
        assert len(got) == len(want), f"{case.name}: {len(got)} outputs, reference has {len(want)}"
        for k, (a, b) in enumerate(zip(got, want)):
            err = rel_err(a, b)
            assert err <= case.tol, f"{case.name} at {bindings}: output {k} relative error {err:.3g}"
        # 3. gradients of every float input and parameter
        if not case.grad:
            continue
        floats = [(a, b) for a, b in zip(got, want) if a.dtype.is_floating_point and a.requires_grad]
        assert floats, f"{case.name}: grad=True but no differentiable output"
        # Random weights as well as squares: after a normalisation sum(y**2) is nearly constant,
        # so its gradient is all rounding noise.
        g = torch.Generator().manual_seed(7 + i)
        weights = [torch.randn(a.shape, generator=g, dtype=torch.float64) for a, _ in floats]
        sum(((a.double() * w).sum() + 0.5 * a.double().pow(2).sum()) for (a, _), w in zip(floats, weights)).backward()
        sum(((b.double() * w).sum() + 0.5 * b.double().pow(2).sum()) for (_, b), w in zip(floats, weights)).backward()
        pairs = [(leaves[k].grad, ref_leaves[k].grad, k) for k in leaves if leaves[k].requires_grad]
        params = dict(net.named_parameters())
        pairs += [(params[k].grad, ref_state[k].grad, k) for k in params if ref_state[k].requires_grad]
        for a, b, k in pairs:
            if b is None:
                assert a is None or not a.any(), f"{case.name}: grad of {k} is nonzero, reference has none"
                continue
            assert a is not None, f"{case.name}: no grad for {k}"
            err = rel_err(a, b)
            assert err <= case.tol, f"{case.name} at {bindings}: grad of {k} relative error {err:.3g}"
        net.zero_grad(set_to_none=True)


def assert_outputs_and_grads_match(name: str, net: Any, model: Any, inputs: dict[str, Any], dyn: dict[str, Any],
                                   bindings_list: Any, fresh_inputs: Any) -> None:
    """The lowered ``net`` and the source ``model`` give the same outputs and the same gradient
    of every parameter (to 1e-5 relative) at each binding of the symbols; a parameter the source
    leaves without a gradient gets none (or a zero one) when lowered."""
    for i, bindings in enumerate(bindings_list):
        fresh = fresh_inputs(inputs, bindings, dyn, seed=i + 1)
        tensors = {k: v for k, v in fresh.items() if isinstance(v, torch.Tensor)}
        got = net(**tensors)
        got = got if isinstance(got, tuple) else (got,)
        want = torch.utils._pytree.tree_leaves(model(**fresh))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert rel_err(a, b) <= 1e-5, f"{name} at {bindings}: outputs differ"
        g = torch.Generator().manual_seed(i)
        weights = [torch.randn(b.shape, generator=g) for b in want]
        sum((a * w).sum() for a, w in zip(got, weights)).backward()
        sum((b * w).sum() for b, w in zip(want, weights)).backward()
        ours = dict(net.named_parameters())
        for k, p in model.named_parameters():
            if p.grad is None:
                assert ours[k].grad is None or not ours[k].grad.any(), f"{name}: {k} has a gradient only when lowered"
                continue
            assert ours[k].grad is not None, f"{name}: no gradient for {k}"
            assert rel_err(ours[k].grad, p.grad) <= 1e-5, f"{name} at {bindings}: gradient of {k} differs"
        net.zero_grad(set_to_none=True)
        model.zero_grad(set_to_none=True)
