"""The graph the gradient tools work on, and an evaluator that runs it value by value.

The IR says what the values are (their names, types and module paths) and how they depend on
each other (use-def edges); the lowered ``torch.fx.GraphModule`` is what actually runs.  The
backend records where every IR value lives in the fx graph (``gm.meta["gs_values"]``, keyed as
the text form spells the value: ``%3``, an input name, a ``state_dict`` key) and which fx nodes
each IR op created (``node.meta["gs_op"]``, the op's result names).  With those two maps this
module can

- run the fx graph node by node while knowing, for every node argument, which IR *edge* it
  realises (operand ``u`` read by op ``T``), so that the recorder can put a hook on every edge
  (an ``edge`` callback) and the Jacobian/sensitivity tools can substitute one value
  (``override``) while holding everything else fixed (``frozen`` values from an earlier run);
- re-run a single IR op in isolation (:meth:`ValueGraph.op_function`), which is what the path
  gains are estimated on.

An op that lowers to no computation (``identity``, ``dropout`` in eval mode, a full ``slice``)
shares the fx node of its operand; its result is an *alias*, and the evaluator gives it its own
tensor (the operand's tensor seen through the edge) so that its gradient stays separate from that
of the operand's other uses.
"""

from __future__ import annotations

import contextlib
import difflib
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx
from torch.utils import _pytree as pytree
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from graphsynth.diagnostics import GraphsynthError, error
from graphsynth.dialects import gs
from graphsynth.dialects.rules import FLOAT_DTYPES

__all__ = ["GradError", "Op", "RETURN", "Value", "ValueGraph", "Run", "fail"]

RETURN = "<return>"  # the tag of the graph's return, treated as one more consumer op
LOSS = "loss"


class GradError(GraphsynthError):
    """A gradient-tool request that cannot be answered (GS8xx): unknown target, no recorded
    pass, a value that carries no gradient, a net that was not lowered from the module..."""


def fail(code: str, message: str, **kw: Any) -> GradError:
    return GradError([error(code, message, **kw)])


@dataclass
class Value:
    """One IR value: a graph input, a parameter/buffer or an op result."""

    name: str  # as the text form writes it: "%3", "x", "fc1.weight"
    index: int  # position in definition (topological) order
    kind: str  # "input" | "param" | "buffer" | "op"
    scope: str  # module path ("" at the top level)
    dtype: str
    shape: str  # the type's shape as text, "[B, 4]"
    op: int | None  # index of the producing Op (None for inputs and state)
    node: str | None  # fx node name; None when the lowered graph never computes it

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def type_text(self) -> str:
        return f"{self.dtype}{self.shape}"


@dataclass
class Op:
    """One IR op (a ``gs.fused`` region counts as one op), or the graph's return."""

    index: int
    name: str  # "linear", "fused", "return"
    scope: str
    operands: list[str]  # tensor operands, in order (repeats kept)
    results: list[str]
    tag: tuple[str, ...]  # node.meta["gs_op"] of the fx nodes it created
    nodes: list[fx.Node] = field(default_factory=list)
    operand_of_node: dict[str, str] = field(default_factory=dict)  # fx node name -> operand value
    inside: set[str] = field(default_factory=set)  # names of ``nodes``
    cls: type | None = None  # the IR op's class (its traits say what it is); None for the return


class ValueGraph:
    """IR values, ops and use-def edges of one graph, mapped onto a lowered fx GraphModule."""

    def __init__(self, net: Any, module: ModuleOp | gs.GraphOp, graph: str | None = None):
        if not isinstance(net, fx.GraphModule) or "gs_values" not in getattr(net, "meta", {}):
            raise fail("GS804", f"instrument: expected the torch.fx.GraphModule returned by graphsynth.lower(module), "
                                f"got {type(net).__name__}", fix="net = graphsynth.lower(module)")
        self.net = net
        self.graph_op = _pick_graph(module, graph, net)
        self.modules: dict[str, tuple[str, str]] = self.graph_op.module_table()
        self.values: dict[str, Value] = {}
        self.ops: list[Op] = []
        self.consumers: dict[str, list[int]] = {}
        self.outputs: list[str] = []
        self._build()
        self._map_fx()

    # -- construction ------------------------------------------------------------------
    def _build(self) -> None:
        block = self.graph_op.body.block
        names: dict[SSAValue, str] = {}
        for arg, n in zip(block.args, self.graph_op.arg_names.data):
            names[arg] = n.data
            self._add_value(n.data, "input", "", arg, None)
        unnamed = 0
        for op in block.ops:
            if isinstance(op, gs.ParamOp):
                key = op.param_name.data
                names[op.results[0]] = key
                self._add_value(key, op.kind.data, self._owner(key), op.results[0], None)
            elif isinstance(op, gs.ReturnOp):
                self.outputs = [names[v] for v in op.operands if v in names]
            else:
                results = []
                for r, n in zip(op.results, gs.result_names(op)):
                    if not n:
                        unnamed += 1
                        n = f"?{unnamed}"  # never mapped to fx: the backend keys values by name
                    name = "%" + n
                    names[r] = name
                    results.append(name)
                scope = getattr(op, "scope", "") or ""
                index = len(self.ops)
                operands = [names[v] for v in op.operands if v in names]
                kind = op.name.removeprefix("gs.")
                self.ops.append(Op(index, kind, scope, operands, results, tuple(r[1:] for r in results), cls=type(op)))
                for r, name in zip(op.results, results):
                    self._add_value(name, "op", scope, r, index)
        ret = Op(len(self.ops), "return", "", list(self.outputs), [], (RETURN,))
        self.ops.append(ret)
        for op in self.ops:
            for u in dict.fromkeys(op.operands):
                self.consumers.setdefault(u, []).append(op.index)

    def _add_value(self, name: str, kind: str, scope: str, v: SSAValue, op: int | None) -> None:
        t = v.type
        sig = t.sig() if isinstance(t, gs.TensorType) else None
        dtype = sig.dtype if sig else "?"
        shape = "[" + ", ".join(str(d) for d in sig.shape) + "]" if sig else "[]"
        self.values[name] = Value(name, len(self.values), kind, scope, dtype, shape, op, None)

    def _owner(self, key: str) -> str:
        """The module that owns a state_dict key: the longest module path prefixing it."""
        parts = key.split(".")[:-1]
        while parts:
            path = ".".join(parts)
            if path in self.modules:
                return path
            parts.pop()
        return ""

    def _map_fx(self) -> None:
        gm = self.net
        by_name = {n.name: n for n in gm.graph.nodes}
        mapping: dict[str, str] = gm.meta["gs_values"]
        unknown = [k for k in mapping if k not in self.values]
        if unknown:
            raise fail("GS804", f"instrument: the net was not lowered from this graph ('{self.graph_op.graph_name}'): "
                                f"it computes {len(unknown)} values the graph does not have (e.g. {unknown[0]})",
                       fix="pass the module that graphsynth.lower() was called on")
        for name, node_name in mapping.items():
            if node_name in by_name:
                self.values[name].node = node_name
        by_tag = {op.tag: op for op in self.ops}
        for node in gm.graph.nodes:
            tag = (RETURN,) if node.op == "output" else node.meta.get("gs_op")
            op = by_tag.get(tag) if tag is not None else None
            if op is not None:
                op.nodes.append(node)
                op.inside.add(node.name)
        # home[node] = values that node computes; alias[v] = (operand, op) for results that share
        # the node of an operand.
        self.home: dict[str, list[str]] = {}
        self.alias: dict[str, tuple[str, int]] = {}
        for v in self.values.values():
            if v.node is None:
                continue
            if v.op is not None:
                op = self.ops[v.op]
                if not any(n.name == v.node for n in op.nodes):
                    src = next((u for u in op.operands if self.values[u].node == v.node), None)
                    if src is not None:
                        self.alias[v.name] = (src, op.index)
                        continue
            self.home.setdefault(v.node, []).append(v.name)
        for op in self.ops:
            for u in op.operands:
                node = self.values[u].node
                if node is not None:
                    op.operand_of_node.setdefault(node, u)
        self.node_op: dict[str, Op] = {n.name: op for op in self.ops for n in op.nodes}
        self.nodes_by_name = by_name

    # -- lookups --------------------------------------------------------------------------
    def value(self, name: str) -> Value:
        """A value by its text-form name; ``3`` is accepted for ``%3``."""
        v = self.values.get(name)
        if v is None and not name.startswith("%"):
            v = self.values.get("%" + name)
        if v is None:
            raise self._unknown(name)
        return v

    def _unknown(self, name: str) -> GradError:
        close = difflib.get_close_matches(name, list(self.values) + list(self.modules), n=3)
        return fail("GS801", f"'{name}' is neither a value nor a module path of graph '{self.graph_op.graph_name}'",
                    value=name, notes=[f"did you mean: {', '.join(close)}"] if close else [])

    def is_module(self, name: str) -> bool:
        return name in self.modules and name not in self.values

    def chain(self, scope: str) -> list[str]:
        """Module paths from the outermost one down to ``scope``."""
        out: list[str] = []
        seen: set[str] = set()
        while scope and scope not in seen:
            seen.add(scope)
            out.append(scope)
            scope = self.modules.get(scope, ("?", ""))[1]
        return out[::-1]

    def level(self, path: str) -> int:
        """1 for a top-level module, 2 for its children..."""
        return len(self.chain(path))

    def inside(self, scope: str, path: str) -> bool:
        """Whether ``scope`` is ``path`` or nested in it (by the module table, not by dots)."""
        return path == "" or path in self.chain(scope)

    def module_values(self, path: str) -> list[str]:
        """Values computed inside module ``path`` (any depth below it), and its state."""
        return [v.name for v in self.values.values() if v.kind != "input" and self.inside(v.scope, path)]

    def module_outputs(self, path: str) -> list[str]:
        """Op results inside ``path`` that an op outside it reads, or that the graph returns."""
        out = []
        for v in self.values.values():
            if v.kind != "op" or not self.inside(v.scope, path):
                continue
            for i in self.consumers.get(v.name, []):
                op = self.ops[i]
                if op.name == "return" or not self.inside(op.scope, path):
                    out.append(v.name)
                    break
        return out

    def module_inputs(self, path: str) -> list[str]:
        """Values that ops inside ``path`` read and that are computed outside it (graph inputs
        included, parameters and buffers apart)."""
        inner = set(self.module_values(path))
        out: dict[str, None] = {}
        for op in self.ops:
            if op.name != "return" and self.inside(op.scope, path):
                for u in op.operands:
                    if u not in inner and self.values[u].kind in ("input", "op"):
                        out[u] = None
        return list(out)

    def resolve(self, target: str, role: str) -> list[str]:
        """The values a target stands for, as graphsynth.query reads targets: a value stands for
        itself; a module path for its outputs as a source (``role="src"``) and for its inputs as
        a destination (``role="dst"``); ``PATH:out``/``PATH:in`` pick the side; ``return`` is the
        graph's results."""
        if not isinstance(target, str) or not target.strip():
            raise fail("GS805", f"empty target {target!r}: give a value name (%3, x) or a module path")
        target = target.strip()
        if target in self.values:
            return [target]
        path, side = target, ("out" if role == "src" else "in")
        base, sep, suffix = target.rpartition(":")
        if target not in self.modules and sep and suffix in ("in", "out") and base in self.modules:
            path, side = base, suffix
        if path in self.modules:
            names = self.module_outputs(path) if side == "out" else self.module_inputs(path)
            if not names:
                raise fail("GS801", f"module '{path}' has no {'outputs' if side == 'out' else 'inputs'} "
                                    f"(values it {'hands to' if side == 'out' else 'reads from'} the rest of the graph)",
                           value=target)
            return names
        if target == "return":
            return list(dict.fromkeys(self.outputs))
        return [self.value(target).name]

    def edges(self) -> Iterable[tuple[str, str, int]]:
        """Use-def edges ``(operand, result, op index)``, each once per (operand, result)."""
        for op in self.ops:
            for u in dict.fromkeys(op.operands):
                for r in op.results:
                    yield u, r, op.index

    def step_scope(self, name: str) -> str:
        return self.values[name].scope

    # -- running -----------------------------------------------------------------------
    def bind_inputs(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        """Positional arguments of the lowered forward from ``net(*args, **kwargs)``-style input."""
        placeholders = [n for n in self.net.graph.nodes if n.op == "placeholder"]
        ir_names = [a.data for a in self.graph_op.arg_names.data]
        out: list[Any] = list(args)
        if len(out) > len(placeholders):
            raise fail("GS805", f"the graph takes {len(placeholders)} inputs, got {len(out)} positional arguments")
        for ph, ir in zip(placeholders[len(out):], ir_names[len(out):]):
            if ph.target in kwargs:
                out.append(kwargs[ph.target])
            elif ir in kwargs:
                out.append(kwargs[ir])
            else:
                raise fail("GS805", f"missing input '{ir}' (inputs: {', '.join(ir_names)})", value=ir)
        known = {ph.target for ph in placeholders} | set(ir_names)
        extra = [k for k in kwargs if k not in known]
        if extra:
            raise fail("GS805", f"unknown input '{extra[0]}' (inputs: {', '.join(ir_names)})", value=extra[0])
        return out

    def normalise_inputs(self, inputs: Any) -> list[Any]:
        """A tensor, a tuple/list of positional inputs, or a dict by input name."""
        if isinstance(inputs, dict):
            return self.bind_inputs((), inputs)
        if isinstance(inputs, (tuple, list)):
            return self.bind_inputs(tuple(inputs), {})
        return self.bind_inputs((inputs,), {})

    def op_function(self, op: Op, frozen: Run, wrt: str) -> Callable[[torch.Tensor], list[Any]]:
        """``x -> results of op`` with operand ``wrt`` replaced by ``x`` and every other operand
        (and any other node the op reads) taken from the run ``frozen``."""
        inside = op.inside

        def fn(x: torch.Tensor) -> list[Any]:
            local: dict[str, Any] = {}

            def lookup(a: fx.Node) -> Any:
                if a.name in inside:
                    return local[a.name]
                u = op.operand_of_node.get(a.name)
                if u == wrt:
                    return x
                if u is not None:
                    return frozen.tensor(u)
                return frozen.env[a.name]

            for node in op.nodes:
                local[node.name] = _exec(self.net, node, lookup)
            out = []
            for r in op.results:
                v = self.values[r]
                if r in self.alias:
                    src = self.alias[r][0]
                    out.append(x if src == wrt else frozen.tensor(src))
                elif v.node in inside:
                    out.append(local[v.node])
                else:
                    out.append(frozen.tensor(r))
            return out

        return fn

    def descendants(self, node_names: Iterable[str]) -> set[str]:
        """fx nodes downstream of the given ones (inclusive)."""
        return self._reach(node_names, lambda n: n.users)

    def ancestors(self, node_names: Iterable[str]) -> set[str]:
        """fx nodes upstream of the given ones (inclusive)."""
        return self._reach(node_names, lambda n: n.all_input_nodes)

    def _reach(self, node_names: Iterable[str], step: Callable[[Any], Iterable[Any]]) -> set[str]:
        seen: set[str] = set()
        stack = [self.nodes_by_name[n] for n in node_names]
        while stack:
            n = stack.pop()
            if n.name in seen:
                continue
            seen.add(n.name)
            stack.extend(step(n))
        return seen


EdgeFn = Callable[[str, int, Any], Any]


class Run:
    """One execution of the lowered graph: ``env`` (fx node name -> value) and the tensor of
    every IR value (:meth:`tensor`)."""

    def __init__(self, vg: ValueGraph):
        self.vg = vg
        self.env: dict[str, Any] = {}
        self.vt: dict[str, Any] = {}
        self.edge_cache: dict[tuple[str, int], Any] = {}
        self.override: dict[str, Any] = {}
        self.edge: EdgeFn | None = None
        self.output: Any = None

    def execute(self, args: Sequence[Any], *, override: dict[str, Any] | None = None, edge: EdgeFn | None = None,
                frozen: Run | None = None, active: set[str] | None = None) -> Any:
        """Run every fx node (those outside ``active`` are copied from ``frozen``); ``override``
        replaces IR values; ``edge(u, op_index, tensor)`` may wrap each edge's tensor."""
        vg = self.vg
        self.override = dict(override or {})
        self.edge = edge
        placeholders = iter(args)
        for node in vg.net.graph.nodes:
            if node.op == "placeholder":
                value = next(placeholders)
            elif active is not None and node.name not in active and node.op != "output":
                assert frozen is not None
                value = frozen.env[node.name]
            elif node.op == "output":
                ret = vg.ops[-1]
                self.output = fx.node.map_arg(node.args[0], lambda a, ret=ret: self._read(ret, a))
                break
            else:
                op = vg.node_op.get(node.name)
                value = _exec(vg.net, node, (lambda a, op=op: self._read(op, a)) if op is not None
                              else (lambda a: self.env[a.name]))
            homes = vg.home.get(node.name, ())
            for name in homes:
                if name in self.override:
                    value = self.override[name]
                self.vt[name] = value
            self.env[node.name] = value
        return self.output

    def _read(self, op: Op, a: fx.Node) -> Any:
        if a.name in op.inside:
            return self.env[a.name]
        u = op.operand_of_node.get(a.name)
        if u is None:
            return self.env[a.name]
        return self.edge_tensor(u, op.index)

    def edge_tensor(self, u: str, op_index: int) -> Any:
        """The tensor of value ``u`` as op ``op_index`` reads it (wrapped once by ``edge``)."""
        key = (u, op_index)
        if key not in self.edge_cache:
            t = self.tensor(u)
            self.edge_cache[key] = self.edge(u, op_index, t) if self.edge is not None else t
        return self.edge_cache[key]

    def tensor(self, name: str) -> Any:
        """The value's tensor in this run (None if the lowered graph never computes it)."""
        if name in self.vt:
            return self.vt[name]
        if name in self.override:
            self.vt[name] = self.override[name]
            return self.vt[name]
        src = self.vg.alias.get(name)
        if src is None:
            return None
        t = self.edge_tensor(*src)
        self.vt[name] = t
        return t

    def detached(self) -> Run:
        """A copy holding detached tensors (what later re-runs treat as fixed)."""
        out = Run(self.vg)
        det = _detach
        out.env = {k: pytree.tree_map(det, v) for k, v in self.env.items()}
        for name in self.vg.values:
            t = self.tensor(name)
            if t is not None:
                out.vt[name] = det(t)
        return out


def _detach(t: Any) -> Any:
    return t.detach() if isinstance(t, torch.Tensor) else t


def _exec(gm: fx.GraphModule, node: fx.Node, lookup: Callable[[fx.Node], Any]) -> Any:
    """Evaluate one fx node, reading its arguments through ``lookup`` (fx.Interpreter's logic
    for the node kinds the backend emits)."""
    if node.op == "get_attr":
        obj: Any = gm
        for part in str(node.target).split("."):
            obj = getattr(obj, part)
        return obj
    args = fx.node.map_arg(node.args, lookup)
    kwargs = fx.node.map_arg(node.kwargs, lookup)
    if node.op == "call_function":
        return node.target(*args, **kwargs)
    if node.op == "call_method":
        self_obj, *rest = args
        return getattr(self_obj, node.target)(*rest, **kwargs)
    if node.op == "call_module":
        return gm.get_submodule(str(node.target))(*args, **kwargs)
    raise fail("GS804", f"cannot evaluate fx node '{node.name}' of kind {node.op}")


def _pick_graph(module: ModuleOp | gs.GraphOp, name: str | None, net: fx.GraphModule) -> gs.GraphOp:
    if isinstance(module, gs.GraphOp):
        return module
    if not isinstance(module, ModuleOp):
        raise fail("GS804", f"instrument: expected the gs module (xDSL ModuleOp) that was lowered, got "
                            f"{type(module).__name__}")
    graphs = gs.graph_ops(module)
    if name is not None:
        for g in graphs:
            if g.graph_name == name:
                return g
        raise fail("GS801", f"no graph named '{name}' (graphs: {', '.join(g.graph_name for g in graphs) or 'none'})")
    if len(graphs) == 1:
        return graphs[0]
    if not graphs:
        raise fail("GS804", "the module holds no graph")
    # Several graphs (after `outline`, the entry graph and the graphs it calls): the one that has
    # every value the net computes, preferring a graph no other graph calls.
    keys = set(net.meta["gs_values"])
    fits = [g for g in graphs if keys <= _value_names(g)]
    if len(fits) > 1:
        called = {op.attr_values().get("callee") for g in graphs for op in g.body.walk()
                  if isinstance(op, gs.Call)}
        fits = [g for g in fits if g.graph_name not in called] or fits
    if len(fits) == 1:
        return fits[0]
    raise fail("GS804", f"the module holds {len(graphs)} graphs; pass graph=NAME",
               notes=["graphs: " + ", ".join(g.graph_name for g in graphs)])


def _value_names(g: gs.GraphOp) -> set[str]:
    """Every value name of a graph as the text form spells it."""
    names = {a.data for a in g.arg_names.data}
    for op in g.body.block.ops:
        if isinstance(op, gs.ParamOp):
            names.add(op.param_name.data)
        else:
            names.update("%" + n for n in gs.result_names(op) if n)
    return names


@contextlib.contextmanager
def math_attention() -> Iterator[None]:
    """Run attention with the math kernel inside torch.func transforms: the CPU flash kernel has
    no forward-mode derivative and no batching rule for its backward; the math one has both.
    Also silences the deprecation warning torch's own forward-AD set-up emits once (it scripts
    its decompositions with torch.jit)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with warnings.catch_warnings(), sdpa_kernel(SDPBackend.MATH):
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
        yield


def float_tensor(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.is_floating_point()


def norm(t: Any) -> float:
    """L2 norm as a Python float (0.0 for anything that is not a tensor)."""
    if not isinstance(t, torch.Tensor):
        return 0.0
    t = t.detach()
    if t.dtype in (torch.float32, torch.float64):
        return float(torch.linalg.vector_norm(t))  # accumulates pairwise: no upcast copy needed
    return float(torch.linalg.vector_norm(t, dtype=torch.float64))

