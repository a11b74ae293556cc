"""gs IR -> ``torch.fx``: the lowerer that walks one verified graph and emits an fx GraphModule.

Why fx: its code generator turns a graph into straight-line Python (one line per op, no
interpreter, no table lookups per op at run time), so the lowered forward costs what the torch
calls cost plus one attribute fetch per parameter, as eager code does; eager models also pay for
module calls and hooks on top of that (see bench/import_lower.py for the ratios).
The graph is built with the fx API (``graph.call_function`` ...), never by formatting source
text, so no attribute string or value name of the IR can reach the generated code unescaped:
fx writes literals with ``repr`` and sanitises node names, and the few names that fx would copy
verbatim (placeholder targets, ``get_attr`` paths) are checked first (graphsynth.backend.state).

What the lowered module looks like:

- ``forward`` takes the graph inputs, named and ordered as the GraphOp's ``arg_names`` (a name
  that is not a safe Python identifier is renamed, see :func:`~graphsynth.backend.state.placeholder_names`),
  and returns the single output or a tuple of outputs.
- Every ``gs.param`` becomes an ``nn.Parameter`` (kind ``param``) or a registered buffer (kind
  ``buffer``) at its ``state_dict`` key, inside nested plain ``nn.Module``s (a shared one,
  ``= KEY``, is the tensor object of the parameter it names, registered under both keys and
  counted once against the budget), so that ``net.state_dict()`` has exactly the keys (and shapes) of the ParamOps and
  ``net.load_state_dict(model.state_dict())`` works.  A buffer whose op carries the discardable
  attribute ``persistent = false`` is registered non-persistent (kept out of ``state_dict``).
  Values that are part of the program rather than of the model's state (``constant`` ops, and
  literal scalars of ops that only take tensors) become non-persistent buffers under
  ``_gs_constants`` so that ``.to(device)`` moves them and ``state_dict`` never sees them.
- Symbolic dims in attributes (reshape/expand shapes, slice bounds, arange ends, full shapes ...)
  are computed at run time: each symbol is bound once to a dim of a graph input
  (``x.size(k)``), and each dim expression becomes fx integer arithmetic, shared between ops.
  ``forward`` first checks each binding against the symbol's declared range and step (GS610,
  :mod:`graphsynth.backend.guards`).
  Types drive the lowering everywhere a runtime value could disagree with them (squeeze removes
  exactly the dims the type says are 1; reshape uses reshape semantics, never ``view``).
- ``gs.fused`` regions are inlined by default; the ``fused`` hook may turn a region into a call of
  a callable (a generated kernel), see :meth:`FxLowerer.lower_fused_call`.  Which hook is used
  (generated kernels, say) is decided above this module, by :func:`graphsynth.backend.lower.lower`.

Each op lowers through the function registered for its class (:mod:`graphsynth.backend.registry`,
:mod:`graphsynth.backend.lowerings`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import fx, nn
from xdsl.ir import Block, SSAValue

from graphsynth.backend.base import CONSTANTS, FUSED, TORCH_DTYPES, Arg, FusedHook, fail, sig_of
from graphsynth.backend.budget import Budget, planned_allocations
from graphsynth.backend.lowerings import LOWERINGS
from graphsynth.backend.state import (
    SAFE_STATE_PART,
    initial_value,
    is_persistent,
    load_ir_keys,
    loaded_ir_keys,
    node_name,
    placeholder_names,
    save_ir_keys,
    state_layout,
)
from graphsynth.dialects import gs
from graphsynth.dialects.dimtext import format_shape
from graphsynth.dialects.dtypes import FLOAT_DTYPES
from graphsynth.dialects.rules import Sig
from graphsynth.dialects.symdim import Dim, FloorDiv, SymDim

__all__ = ["FxLowerer", "lower_graph"]


def lower_graph(graph_op: gs.GraphOp, *, fused: FusedHook | None = None,
                max_param_bytes: int | None = None) -> fx.GraphModule:
    """Lower one GraphOp without running the verifier (callers that just verified use this).
    ``fused`` and ``max_param_bytes`` as for :func:`graphsynth.backend.lower.lower`."""
    return FxLowerer(graph_op, fused, budget=Budget.of(max_param_bytes)).build()


class FxLowerer:
    """Walks one GraphOp and emits the fx graph; holds the symbol bindings, the dim cache and the
    module tree under construction."""

    def __init__(self, graph_op: gs.GraphOp, fused: FusedHook | None, *, budget: Budget | None = None,
                 device: str | None = None):
        self.graph_op = graph_op
        self.fused_hook = fused
        self.budget = budget  # None: a called graph, whose allocations the caller's lowerer counted
        self.device_kind = device  # "meta" builds the module without allocating its state
        self.g = fx.Graph()
        self.root = nn.Module()
        self.env: dict[SSAValue, fx.Node] = {}
        self.dims: dict[Dim, Any] = {}
        self.symbols: dict[str, Any] = {}  # symbol -> (fx placeholder, dim index, coeff, const) or node
        self.placeholders: list[fx.Node] = []
        self.consts: dict[tuple, fx.Node] = {}
        self.const_module: nn.Module | None = None
        self.const_count = 0
        self.fused_count = 0
        self.inlined_fused: list[list[str]] = []  # op names of each region the hook declined
        self.device_node: Any = None
        self.op: Any = None  # the op being lowered, for diagnostics
        self.named: set[fx.Node] = set()
        self.scope = ""  # module path of the op being lowered (node.meta["gs_scope"])
        self.in_fused = False
        self.call_stack: tuple[str, ...] = (graph_op.graph_name,)  # graphs being lowered (call recursion)
        self.callees: dict[str, str] = {}  # callee graph -> its submodule under _gs_calls
        # IR value name -> fx node, for the grad tools (gm.meta["gs_values"]); see build().
        self.value_nodes: dict[str, fx.Node] = {}
        self.state_attrs: dict[str, str] = {}  # state_dict key -> mangled attribute path

    # -- building -----------------------------------------------------------------------
    def build(self) -> fx.GraphModule:
        block = self.graph_op.body.block
        arg_names = [a.data for a in self.graph_op.arg_names.data]
        if len(arg_names) != len(block.args):
            raise fail(None, f"graph '{self.graph_op.graph_name}' names {len(arg_names)} inputs but has {len(block.args)}")
        for name, ir_name, value in zip(placeholder_names(arg_names), arg_names, block.args):
            node = self.g.placeholder(name)
            self.placeholders.append(node)
            self.env[value] = node
            self.value_nodes[ir_name] = node
        if self.budget is not None:  # before the first tensor is made
            self.budget.check(planned_allocations(self.graph_op))
        self._collect_symbols(block)
        self._guard_symbols()
        self._declare_state(block)
        outputs = self.lower_block(block)
        # A returned constant would alias a buffer of the module; eager code returns a fresh tensor.
        outputs = [self.g.call_method("clone", (o,)) if isinstance(o, fx.Node) and o.op == "get_attr"
                   and o.target.startswith(CONSTANTS + ".") else o for o in outputs]
        self.g.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
        for node in list(self.g.nodes):
            if node.op == "get_attr" and not node.users:  # state the forward never reads
                self.g.erase_node(node)
        self.g.lint()
        cls_name = re.sub(r"\W", "_", self.graph_op.graph_name) or "Graph"
        gm = fx.GraphModule(self.root, self.g, class_name=cls_name if cls_name.isidentifier() else "Graph")
        self._adopt_tree(gm)
        if self.state_attrs:
            # Keys held under mangled attribute names: state_dict()/load_state_dict() speak IR keys.
            gm.meta["gs_state_attrs"] = dict(self.state_attrs)
            gm.meta["gs_state_keys"] = {a: k for k, a in self.state_attrs.items()}
            gm.register_state_dict_post_hook(save_ir_keys)
            gm.register_load_state_dict_pre_hook(load_ir_keys)
            gm.register_load_state_dict_post_hook(loaded_ir_keys)
        # Where each IR value lives in the fx graph, keyed as the text form spells it ("%3", an
        # input name, a state_dict key), by node name (which survives deepcopy); several values
        # share a node when an op lowers to no computation (identity, full slice).
        if self.inlined_fused:
            gm.meta["gs_inlined_fused"] = self.inlined_fused
        live = set(self.g.nodes)
        gm.meta["gs_values"] = {k: n.name for k, n in self.value_nodes.items() if n in live}
        return gm

    def _adopt_tree(self, gm: fx.GraphModule) -> None:
        """fx copies only the attributes the graph reads, through fresh intermediate modules and as
        persistent buffers; put the whole tree back, in declaration order, so that unused
        parameters keep their keys, non-persistent buffers stay out of ``state_dict`` and the keys
        come in the order of the ParamOps (the order of the source model's state_dict)."""
        for name in list(gm._modules) + list(gm._parameters) + list(gm._buffers):
            delattr(gm, name)
        for name, p in self.root.named_parameters(recurse=False):
            gm.register_parameter(name, p)
        for name, b in self.root.named_buffers(recurse=False):
            gm.register_buffer(name, b, persistent=name not in self.root._non_persistent_buffers_set)
        for name, child in self.root.named_children():
            gm.add_module(name, child)

    def _declare_state(self, block: Block) -> None:
        """One nn.Parameter or buffer per ParamOp, at its state_dict key (at a mangled attribute
        path when a part of the key is a name torch uses, see :func:`_state_layout`)."""
        params = [op for op in block.ops if isinstance(op, gs.ParamOp)]
        layout = state_layout([op.param_name.data for op in params])
        # Only the keys that differ from their attribute path (none, for most models).
        self.state_attrs = {k: a for k, a in layout.items() if k != a}
        # The tensors first, then their places in block order (the order of the source model's
        # state_dict): a shared parameter (``= KEY``, verified to name an unshared one of its
        # type) is the tensor of the one it names, so there is one nn.Parameter under both keys:
        # one gradient, one update, and the forward reads it through one node.
        made: dict[str, tuple[Any, fx.Node]] = {}
        for op in params:
            self.op = op
            key = op.param_name.data
            if not all(SAFE_STATE_PART.match(p) for p in key.split(".")):
                raise fail(op, f"state_dict key {key!r} has a part that is not [A-Za-z0-9_]+", value=key)
            sig = sig_of(op.results[0])
            shape = []
            for d in sig.shape:
                if not isinstance(d, int):
                    raise fail(op, f"'{key}' has symbolic shape {format_shape(sig.shape)}; state must be static",
                               value=key)
                shape.append(d)
            if op.alias_of is None:
                tensor = initial_value(op, shape, TORCH_DTYPES[sig.dtype], self.device_kind)
                if op.kind.data == "param":
                    tensor = nn.Parameter(tensor, requires_grad=sig.dtype in FLOAT_DTYPES)
                made[key] = (tensor, self.g.get_attr(layout[key]))
        for op in params:
            self.op = op
            key = op.param_name.data
            tensor, node = made[key if op.alias_of is None else op.alias_of]
            parts = layout[key].split(".")
            owner = self.root
            try:
                for p in parts[:-1]:
                    child = owner._modules.get(p)
                    if child is None:
                        child = nn.Module()
                        owner.add_module(p, child)
                    owner = child
                kind = op.kind.data
                if kind == "param":
                    owner.register_parameter(parts[-1], tensor)
                elif kind == "buffer":
                    owner.register_buffer(parts[-1], tensor, persistent=is_persistent(op))
                else:
                    raise fail(op, f"'{key}' has kind '{kind}', expected param or buffer", value=key)
            except (KeyError, AttributeError, TypeError) as e:
                raise fail(op, f"cannot place '{key}' in the module tree: {e}", value=key) from None
            self.env[op.results[0]] = self.value_nodes[key] = node

    # -- symbols and dims ------------------------------------------------------------------
    def _collect_symbols(self, block: Block) -> None:
        """Bind each symbol to a dim of a graph input: a dim that is the bare symbol first, then a
        linear one (``c*S + k``, solved as ``(size - k) // c``)."""
        linear: dict[str, tuple[int, int, int, int]] = {}
        for i, value in enumerate(block.args):
            for k, d in enumerate(sig_of(value).shape):
                if not isinstance(d, SymDim):
                    continue
                if len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1:
                    atom, e = d.terms[0][0][0]
                    if isinstance(atom, str) and e == 1:
                        self.symbols.setdefault(atom, (i, k, 1, 0))
                        continue
                solved = solve_linear(d)
                if solved is not None:
                    sym, c, const = solved
                    linear.setdefault(sym, (i, k, c, const))
        for sym, how in linear.items():
            self.symbols.setdefault(sym, how)

    def _guard_symbols(self) -> None:
        """Checks at the entry of ``forward`` (see backend/guards.py): each declared symbol lies
        in its range and step, and each symbol solved from ``c*S + k`` divides exactly."""
        from graphsynth.backend.guards import check_multiple, check_symbol
        from graphsynth.verifier.graph import valid_symbol_ranges

        arg_names = [a.data for a in self.graph_op.arg_names.data]
        for name, how in list(self.symbols.items()):
            if isinstance(how, tuple) and how[2] != 1:
                i, k, c, const = how
                size = self.g.call_method("size", (self.placeholders[i], k))
                self.g.call_function(check_multiple, (size, name, f"dim {k} of input '{arg_names[i]}'", c, const))
        for name, r in valid_symbol_ranges(self.graph_op).items():
            how = self.symbols.get(name)
            if not isinstance(how, tuple):
                continue  # not bound by an input: the verifier reports the declaration (GS314)
            where = f"dim {how[1]} of input '{arg_names[how[0]]}'"
            self.g.call_function(check_symbol, (self.symbol(name), name, where, r.low, r.high, r.step))

    def symbol(self, name: str) -> Any:
        how = self.symbols.get(name)
        if how is None:
            raise fail(self.op, f"symbol '{name}' is not bound by any graph input dim; cannot compute it at run time",
                        fix="give the graph an input whose type mentions the symbol")
        if isinstance(how, tuple):
            i, k, c, const = how
            node = self.g.call_method("size", (self.placeholders[i], k))
            if const:
                node = self.g.call_function(operator.sub, (node, const))
            if c != 1:
                node = self.g.call_function(operator.floordiv, (node, c))
            self.symbols[name] = node
            return node
        return how

    def dim(self, d: Any) -> Any:
        """An int, or the fx node computing a symbolic dim (memoised: expressions repeat)."""
        if isinstance(d, str):  # a symbolic scalar stored as text
            d = gs.dim_value(d)
        if not isinstance(d, SymDim):
            return d
        node = self.dims.get(d)
        if node is None:
            node = self._poly(d)
            self.dims[d] = node
        return node

    def dim_list(self, ds: Sequence[Any]) -> list[Any]:
        return [self.dim(d) for d in ds]

    def _poly(self, d: SymDim) -> Any:
        total: Any = None
        const = 0
        for mono, c in d.terms:
            if mono == ():
                const += c
                continue
            prod: Any = None
            for atom, e in mono:
                base = self.symbol(atom) if isinstance(atom, str) else self._floor(atom)
                for _ in range(e):
                    prod = base if prod is None else self.g.call_function(operator.mul, (prod, base))
            term = prod if abs(c) == 1 else self.g.call_function(operator.mul, (abs(c), prod))
            if total is None:
                total = term if c > 0 else self.g.call_function(operator.neg, (term,))
            else:
                total = self.g.call_function(operator.add if c > 0 else operator.sub, (total, term))
        if total is None:
            return const
        if const:
            total = self.g.call_function(operator.add if const > 0 else operator.sub, (total, abs(const)))
        return total

    def _floor(self, atom: FloorDiv) -> Any:
        key = SymDim(((((atom, 1),), 1),))  # the dim that is this one atom
        node = self.dims.get(key)
        if node is None:
            node = self.g.call_function(operator.floordiv, (self.dim(atom.num), self.dim(atom.den)))
            self.dims[key] = node
        return node

    # -- values ------------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> fx.Node:
        return self.g.call_function(fn, args, kwargs)

    def method(self, name: str, *args: Any, **kwargs: Any) -> fx.Node:
        return self.g.call_method(name, args, kwargs)

    def cast(self, x: Arg, sig: Sig | None, dtype: str) -> Arg:
        """``x.to(dtype)`` when the tensor's type says it has another dtype."""
        if sig is None or sig.dtype == dtype:
            return x
        return self.method("to", x, TORCH_DTYPES[dtype])

    def device(self) -> Any:
        """The device for creation ops: that of the first graph input (or of the state)."""
        if self.device_node is None:
            for ph in self.placeholders:
                self.device_node = self.call(getattr, ph, "device")
                break
            else:
                for name, _ in list(self.root.named_parameters()) + list(self.root.named_buffers()):
                    self.device_node = self.call(getattr, self.g.get_attr(name), "device")
                    break
        return self.device_node

    def constant(self, value: torch.Tensor, key: tuple) -> fx.Node:
        """A tensor that is part of the program: a non-persistent buffer, read with get_attr."""
        node = self.consts.get(key)
        if node is not None:
            return node
        if self.const_module is None:
            if CONSTANTS in self.root._modules or hasattr(self.root, CONSTANTS):
                raise fail(self.op, f"the name '{CONSTANTS}' is taken by the model's state")
            self.const_module = nn.Module()
            self.root.add_module(CONSTANTS, self.const_module)
        name = f"c{self.const_count}"
        self.const_count += 1
        if self.device_kind is not None:
            value = value.to(self.device_kind)
        self.const_module.register_buffer(name, value, persistent=False)
        node = self.g.get_attr(f"{CONSTANTS}.{name}")
        self.consts[key] = node
        return node

    def scalar_tensor(self, v: Any, dtype: str) -> fx.Node:
        """A literal scalar as a 0-dim tensor of ``dtype``, for torch functions that take tensors."""
        return self.constant(torch.tensor(v, dtype=TORCH_DTYPES[dtype]), ("scalar", type(v).__name__, v, dtype))

    # -- ops -------------------------------------------------------------------------------
    def lower_block(self, block: Block) -> list[Arg]:
        """Lower every op of a block; returns the operands of its terminator."""
        for op in block.ops:
            self.op = op
            if isinstance(op, gs.ParamOp):
                continue
            if isinstance(op, (gs.ReturnOp, gs.YieldOp)):
                return [self.env[v] for v in op.operands]
            if not self.in_fused:
                self.scope = getattr(op, "scope", "")
            before = len(self.g.nodes)
            if isinstance(op, gs.FusedOp):
                results = self.lower_fused(op)
            elif isinstance(op, gs.GsOp):
                results = self.lower_op(op)
            else:
                raise fail(op, "is not a gs op this backend knows")
            self.bind(op, results)
            if not self.in_fused:
                # Tag the nodes this op created (node.meta["gs_op"] = its result names), so the
                # grad tools can re-run one op's computation in isolation.
                tag = tuple(n or "" for n in gs.result_names(op))
                for node, _ in zip(reversed(self.g.nodes), range(len(self.g.nodes) - before)):
                    node.meta.setdefault("gs_op", tag)
        raise fail(None, "block has no terminator")

    def bind(self, op: Any, results: Any) -> None:
        """Map the op's results to fx values; a node made for this op takes the IR value's name,
        so the generated code reads like the IR."""
        if not isinstance(results, (list, tuple)):
            results = [results]
        if len(results) != len(op.results):
            raise fail(op, f"lowering produced {len(results)} values for {len(op.results)} results")
        for value, node, name in zip(op.results, results, gs.result_names(op)):
            wanted = node_name(name)
            if wanted and isinstance(node, fx.Node) and node not in self.named \
                    and node.op in ("call_function", "call_method", "call_module"):
                node._rename(wanted)
            if isinstance(node, fx.Node):
                self.named.add(node)
                # For checkers, debuggers and the grad tools; never read at run time.
                node.meta.setdefault("gs_type", sig_of(value))
                if name:
                    node.meta.setdefault("gs_value", name)
                node.meta.setdefault("gs_scope", self.scope)
                if name and not self.in_fused:
                    self.value_nodes["%" + name] = node
            self.env[value] = node

    def lower_op(self, op: gs.GsOp) -> Any:
        fn = LOWERINGS.get(type(op))
        if fn is None:
            raise fail(op, "has no torch lowering")
        args: list[Arg] = []
        sigs: list[Sig | None] = []
        for a in op.arg_layout():
            if isinstance(a, SSAValue):
                args.append(self.env[a])
                sigs.append(sig_of(a))
            else:
                args.append(a)
                sigs.append(None)
        out = [sig_of(r) for r in op.results]
        return fn(self, args, sigs, op.attr_values(), out)

    def lower_fused(self, op: gs.FusedOp) -> list[Arg]:
        """A fused region: the hook's callable when it gives one, else the body inlined."""
        if self.fused_hook is not None:
            kernel = self.fused_hook(op)
            if kernel is not None:
                return self.lower_fused_call(op, kernel)
            # Declined: inlined, and remembered so a fusion report can still list the region.
            self.inlined_fused.append([i.name.removeprefix("gs.") for i in op.body.block.ops
                                       if not isinstance(i, gs.YieldOp)])
        inner = op.body.block
        if len(inner.args) != len(op.operands):
            raise fail(op, f"region has {len(inner.args)} arguments for {len(op.operands)} operands")
        for barg, operand in zip(inner.args, op.operands):
            self.env[barg] = self.env[operand]
        saved = self.op, self.in_fused
        self.in_fused = True  # the region's ops belong to the fused op's module
        results = self.lower_block(inner)
        self.op, self.in_fused = saved
        return results

    def lower_fused_call(self, op: gs.FusedOp, kernel: Callable[..., Any]) -> list[Arg]:
        """Lower a fused region to one call of ``kernel(*operands)``, which returns one tensor or
        a tuple of them (one per result).  An ``nn.Module`` kernel becomes a submodule under
        ``_gs_fused`` (it must hold no state, so ``state_dict`` keeps its keys); any other callable
        is called directly from the generated code."""
        operands = [self.env[v] for v in op.operands]
        if isinstance(kernel, nn.Module):
            if next(iter(kernel.state_dict()), None) is not None:
                raise fail(op, "a fused kernel module must not hold parameters or buffers")
            holder = self.root._modules.get(FUSED)
            if holder is None:
                if hasattr(self.root, FUSED):
                    raise fail(op, f"the name '{FUSED}' is taken by the model's state")
                holder = nn.Module()
                self.root.add_module(FUSED, holder)
            name = f"k{self.fused_count}"
            self.fused_count += 1
            holder.add_module(name, kernel)
            node = self.g.call_module(f"{FUSED}.{name}", tuple(operands))
        else:
            node = self.g.call_function(kernel, tuple(operands))
        if len(op.results) == 1:
            return [node]
        return [self.call(operator.getitem, node, i) for i in range(len(op.results))]


def solve_linear(d: SymDim) -> tuple[str, int, int] | None:
    """``c*S + k`` -> (S, c, k) for a positive c; None for anything else."""
    sym = None
    c = 0
    const = 0
    for mono, coeff in d.terms:
        if mono == ():
            const = coeff
        elif len(mono) == 1 and isinstance(mono[0][0], str) and mono[0][1] == 1 and sym is None:
            sym, c = mono[0][0], coeff
        else:
            return None
    if sym is None or c <= 0:
        return None
    return sym, c, const
