"""The ATen graph of a torch.export ExportedProgram -> one gs GraphOp.

One handler per ATen op family (``add``, ``view``, ``scaled_dot_product_attention``...; they live
in :mod:`graphsynth.frontend.aten`) turns a node into gs ops with :meth:`Converter.emit`.  The type of every value the importer writes is
torch.export's own (``node.meta["val"]``), and the gs shape rule of the op is run on the same
operands and must agree with it: a disagreement is a bug in a rule or a handler and is reported
as one, never written into the IR.

What export hands over is not clean, and this module owns that:

- no-ops (``dropout`` in eval, ``_assert_tensor_metadata``, ``alias``, ``contiguous``, ``clone``,
  casts to the same dtype, full slices, ``x + 0``) map to their input and leave no op;
- in-place ops (``add_``, ``copy_``, ``fill_``, ``masked_fill_``, ``x[...] = v``) become
  functional ops whose result replaces the mutated tensor for every later use; an update of a
  view is written back into the tensor it views and the other views are recomputed (see
  :meth:`Converter.inplace`); what cannot be written back (a strided slice, an expand, an input
  of the graph) is refused with the source line rather than imported wrongly;
- symbolic sizes (``sym_size`` and the Python arithmetic on it) never become ops: they are
  folded into dim expressions in attributes;
- higher-order ops (``wrap_with_set_grad_enabled``, ``wrap_with_autocast``) are inlined
  recursively, keeping the module path of the nodes inside;
- ops nobody uses after this clean-up are dropped (export keeps dead mask-building nodes).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import torch
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block, Operation, SSAValue

from graphsynth.diagnostics import Diagnostic, FrontendError, error
from graphsynth.dialects import gs, rules
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dtypes import FLOAT_DTYPES
from graphsynth.dialects.ranges import assuming
from graphsynth.dialects.rules import Sig
from graphsynth.dialects.symdim import Dim, SymDim, add, evaluate, free_symbols
from graphsynth.frontend import (
    aten,  # noqa: F401 - the ATen handlers, registered in HANDLERS
    spectral,  # noqa: F401 - the handlers of Fourier transforms and complex values
)
from graphsynth.frontend.assemble import Assembly, tied_keys
from graphsynth.frontend.fxnodes import aten_name, bind, module_stack, packet_name, source_of
from graphsynth.frontend.handlers import (
    HANDLERS,
    Fail,
    Unusable,
    dtype_name,
    functional_name,
    has_handler,
)
from graphsynth.frontend.mutations import Mutations
from graphsynth.frontend.symbols import SymbolError, value_to_dim

FLOATS = FLOAT_DTYPES
_MAX_CONSTANT = 65536  # elements of a non-persistent buffer written inline as a constant


@dataclass
class _Lazy:
    """A non-persistent buffer or lifted constant: written as ops at its first use, in the
    module that uses it."""

    tensor: torch.Tensor
    name: str


# -- the converter --------------------------------------------------------------------------


VIEW_OPS = {
    "view", "reshape", "_unsafe_view", "expand", "expand_as", "slice", "select", "transpose", "permute",
    "unsqueeze", "squeeze", "t", "alias", "detach", "narrow", "unflatten", "flatten", "as_strided",
    "diagonal", "view_as", "movedim", "swapaxes", "split", "split_with_sizes", "chunk", "unbind",
    "getitem",
}


class Converter(Assembly, Mutations):
    """Walks the fx graph of an ExportedProgram and builds the gs GraphOp."""

    def __init__(self, ep: Any, model: torch.nn.Module, symbols: dict[str, str], input_names: list[str], graph_name: str):
        self.ep = ep
        self.model = model
        self.symbols = symbols
        self.input_names = input_names
        self.graph_name = graph_name
        self.ops: list[Operation] = []
        self.op_stack: dict[int, tuple[tuple[str, str], ...]] = {}
        self.params: list[gs.ParamOp] = []
        self.env: dict[Any, Any] = {}
        self.node: Any = None
        self.op_name = ""
        self.stack: tuple[tuple[str, str], ...] = ()
        self.view_base: dict[Any, Any] = {}
        self.view_parent: dict[Any, Any] = {}
        self.views_of: dict[Any, list[Any]] = {}
        self.placeholders: set[Any] = set()
        self.gm_stack: list[Any] = []
        self.tied = tied_keys(model)
        self.param_keys: dict[Any, str] = {}
        self.buffer_keys: dict[Any, str] = {}
        self.param_values: dict[str, SSAValue] = {}

    # -- errors ---------------------------------------------------------------------------
    def diag(self, code: str, message: str, node: Any = None, fix: str | None = None, op: str | None = None) -> Diagnostic:
        node = node if node is not None else self.node
        loc, line = source_of(node) if node is not None else (None, None)
        notes = []
        if node is not None:
            st = module_stack(node) or self.stack
            if st:
                notes.append(f"in module {st[-1][0]} ({st[-1][1]})")
            notes.append(f"fx node: {node.format_node()}"[:300])
        return error(code, message, op=op, loc=loc, fix=fix, notes=notes, source_line=line)

    def fail(self, message: str, fix: str | None = None, code: str = "GS602") -> FrontendError:
        d = self.diag(code, message, fix=fix, op=aten_name(self.node.target) if self.node is not None else None)
        return FrontendError([d])

    # -- values ---------------------------------------------------------------------------
    def value(self, a: Any) -> Any:
        """The converted value of an fx argument (Node, list, literal)."""
        if isinstance(a, torch.fx.Node):
            if a not in self.env:
                raise Fail(f"value {a.name} is used before it is defined")
            v = self.env[a]
            if isinstance(v, _Lazy):
                v = self.materialize(v)
                self.env[a] = v
            if isinstance(v, Unusable):
                raise Fail(f"uses {a.name}, which graphsynth cannot represent: {v.why}")
            if a in self.param_keys and self.stack:
                v = self.tied_param(self.param_keys[a], v)
            return v
        if isinstance(a, (list, tuple)):
            return type(a)(self.value(x) for x in a)
        return a

    def tied_param(self, key: str, v: SSAValue) -> SSAValue:
        """A tied weight has one placeholder per state_dict key and export may hand any of them
        to any use (GPT-2's token embedding reads ``lm_head.weight``); use the key that belongs
        to the module using it, so the IR reads the way the model is written."""
        group = self.tied.get(key)
        if not group:
            return v
        scope = self.stack[-1][0] + "."
        for k in group:
            if k.startswith(scope) and "." not in k[len(scope):] and k in self.param_values:
                return self.param_values[k]
        return v

    def t(self, a: Any) -> SSAValue:
        v = self.value(a)
        if not isinstance(v, SSAValue):
            raise Fail(f"expected a tensor, got {v!r}")
        return v

    def opt_t(self, a: Any) -> SSAValue | None:
        return None if a is None else self.t(a)

    def num(self, a: Any, dtype: str | None = None) -> Any:
        """A scalar-capable argument: a tensor, or a Python number.  A symbolic size used as a
        number (``x * x.shape[1]``, position ids divided by the length) becomes a 0-d tensor of
        ``dtype`` holding the size, so it stays symbolic (see :meth:`size_value`)."""
        v = self.value(a)
        if isinstance(v, SymDim):
            return self.size_value(v, dtype or "i64")
        if isinstance(v, (SSAValue, int, float, bool)):
            return v
        raise Fail(f"expected a tensor or a number, got {v!r}")

    def size_value(self, d: Dim, dtype: str) -> SSAValue:
        """A 0-d tensor of ``dtype`` holding the size ``d``: ``arange(d, d+1)`` reshaped to
        ``[]``, which keeps the size symbolic (its value follows the binding of the symbols)."""
        one = self.e1(gs.Arange, [], {"start": d, "end": add(d, 1), "dtype": dtype})
        return self.e1(gs.Reshape, [one], {"shape": ()})

    def dim(self, a: Any) -> Dim:
        v = self.value(a)
        if isinstance(v, (int, SymDim)) and not isinstance(v, bool):
            return v
        raise Fail(f"expected a size, got {v!r}")

    def sig(self, v: SSAValue) -> Sig:
        return v.type.sig()

    def val_sig(self, val: Any) -> Sig:
        try:
            shape = tuple(value_to_dim(s, self.symbols) for s in val.shape)
        except SymbolError as e:
            raise Fail(str(e), fix="mark the dim static, or make the size independent of tensor data") from None
        return Sig(shape, dtype_name(val.dtype))

    def meta_sigs(self, node: Any) -> list[Sig]:
        val = node.meta.get("val")
        if isinstance(val, torch.Tensor):
            return [self.val_sig(val)]
        if isinstance(val, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in val):
            return [self.val_sig(v) for v in val]
        raise Fail(f"node {node.name} has no tensor metadata")

    # -- emitting ops ---------------------------------------------------------------------
    def infer(self, cls: type[gs.GsOp], args: list[Any], attrs: dict[str, Any]) -> list[Sig]:
        spec = cls.SPEC
        name = spec.name
        full = {}
        for a in spec.attrs:
            full[a.name] = attrs.get(a.name, None if a.default is gs.REQUIRED else a.default)
        rargs: list[Any] = []
        arg_operand: list[int | None] = []
        k = 0
        for x in args:
            if isinstance(x, SSAValue):
                rargs.append(self.sig(x))
                arg_operand.append(k)
                k += 1
            else:
                rargs.append(x)
                arg_operand.append(None)
        ctx = rules.RuleContext(name, rargs, full, arg_operand)
        try:
            return spec.rule(ctx)
        except rules.ShapeError as e:
            raise Fail(
                f"gs op '{name}' rejects the operands the importer built for it: {e.message}",
                fix="where the message names a symbolic size, give that dim a range or divisibility under which the size is "
                "fixed (torch.export.Dim), or leave it out of dynamic_dims; otherwise this is a bug in the importer or "
                "the shape rule: report it with the model",
            ) from None

    def emit(self, cls: type[gs.GsOp], args: list[Any], attrs: dict[str, Any] | None = None,
             out: Any = None) -> list[SSAValue]:
        """Append an op of class ``cls``; ``out`` (an fx node or a list of Sigs) gives the result
        types that torch.export computed, which the gs rule must agree with."""
        spec = cls.SPEC
        name = spec.name
        attrs = {k: v for k, v in (attrs or {}).items() if not spec.attr_index[k].is_default(v)}
        while args and args[-1] is None and len(args) > 1:
            args = args[:-1]
        sigs = self.infer(cls, args, attrs)
        if out is not None:
            want = self.meta_sigs(out) if isinstance(out, torch.fx.Node) else list(out)
            if len(want) == len(sigs) and any(a.dtype != b.dtype for a, b in zip(sigs, want)) and len(want) == 1:
                # torch promotes 0-dim tensors like scalars and runs ops under autocast in
                # another dtype: cast the float operands to the dtype torch computed in.
                target = want[0].dtype
                if target in FLOATS and cls is not gs.Cast:
                    fixed = [
                        self.cast(a, target) if isinstance(a, SSAValue) and self.sig(a).dtype in FLOATS and self.sig(a).dtype != target else a
                        for a in args
                    ]
                    if fixed != args:
                        args = fixed
                        sigs = self.infer(cls, args, attrs)
            sigs = self.check(name, sigs, want)
        op = gs.make_op(cls, args, attrs, [gs.sig_type(s) for s in sigs], scope=self.stack[-1][0] if self.stack else "")
        self.ops.append(op)
        self.op_stack[id(op)] = self.stack
        return list(op.results)

    def e1(self, cls: type[gs.GsOp], args: list[Any], attrs: dict[str, Any] | None = None, out: Any = None) -> SSAValue:
        return self.emit(cls, args, attrs, out)[0]

    def check(self, name: str, ours: list[Sig], theirs: list[Sig]) -> list[Sig]:
        """The result types to write: torch's, which the gs rule must reproduce.  Where the
        two are equal but the canonical forms cannot prove it (floor identities), sampled
        values decide and our rule's form is written, so the verifier infers the same."""
        if len(ours) != len(theirs):
            raise Fail(f"gs op '{name}' gives {len(ours)} results, torch.export {len(theirs)}")
        out = []
        for a, b in zip(ours, theirs):
            same = a.dtype == b.dtype and len(a.shape) == len(b.shape)
            proved = same and all(compare(x, y) is True for x, y in zip(a.shape, b.shape))
            if proved:
                out.append(b)
                continue
            if same and all(_sample_equal(x, y) for x, y in zip(a.shape, b.shape)):
                out.append(a)
                continue
            raise Fail(
                f"the shape rule of gs op '{name}' gives {a}, but torch.export computed {b} "
                "(a bug in the importer or in the rule)"
            )
        return out

    def cast(self, v: SSAValue, dtype: str) -> SSAValue:
        if self.sig(v).dtype == dtype:
            return v
        return self.e1(gs.Cast, [v], {"dtype": dtype})

    def set(self, node: Any, value: Any) -> None:
        self.env[node] = value

    def out_sig(self, node: Any) -> Sig:
        return self.meta_sigs(node)[0]

    def same_as(self, v: Any, node: Any) -> bool:
        """Whether tensor ``v`` already has the node's type (the op would be a no-op)."""
        if not isinstance(v, SSAValue):
            return False
        a, b = self.sig(v), self.out_sig(node)
        return a.dtype == b.dtype and len(a.shape) == len(b.shape) and all(compare(x, y) is True for x, y in zip(a.shape, b.shape))

    # -- constants ------------------------------------------------------------------------
    def materialize(self, lazy: _Lazy) -> SSAValue:
        """A constant tensor as the smallest op that makes it: full, arange (+reshape), constant."""
        t = lazy.tensor.detach()
        dtype = dtype_name(t.dtype)
        shape = tuple(t.shape)
        flat = t.reshape(-1)
        n = flat.numel()
        if n == 0 or bool((flat == flat[0]).all()):
            value = _py(flat[0]) if n else 0
            return self.e1(gs.Full, [], {"shape": shape, "value": value, "dtype": dtype})
        if n > 1 and dtype != "bool":
            step = flat[1] - flat[0]
            start = _py(flat[0])
            stepv = _py(step)
            if (
                isinstance(start, (int, float)) and float(start).is_integer()
                and float(stepv).is_integer() and stepv > 0
                and bool((flat[1:] - flat[:-1] == step).all())
            ):
                start_i, step_i = int(start), int(stepv)
                v = self.e1(gs.Arange, [], {"start": start_i, "end": start_i + n * step_i, "step": step_i, "dtype": dtype})
                if len(shape) != 1:
                    v = self.e1(gs.Reshape, [v], {"shape": shape})
                return v
        if n > _MAX_CONSTANT:
            raise Fail(
                f"constant tensor {lazy.name} {list(shape)} has {n} elements; graphsynth writes constants inline "
                f"and takes at most {_MAX_CONSTANT}",
                fix="register it as a persistent buffer (register_buffer(..., persistent=True)) so it is a parameter of the graph",
            )
        values = [float(x) for x in flat.tolist()]
        return self.e1(gs.Constant, [], {"value": values, "shape": shape, "dtype": dtype})

    # -- the walk -------------------------------------------------------------------------
    def convert(self) -> ModuleOp:
        self.ranges = self.symbol_ranges()
        # The shape rules run by emit() prove what they need under the same facts the verifier
        # will use (an arange of length S-1 with S >= 400).
        with assuming(self.ranges):
            return self._convert()

    def _convert(self) -> ModuleOp:
        ep = self.ep
        gm = ep.graph_module
        self.gm_stack.append(gm)
        self.prescan(gm)
        specs = ep.graph_signature.input_specs
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(specs) != len(placeholders):
            raise FrontendError([error("GS601", "torch.export returned a graph whose inputs do not match its signature")])
        user_types: list[gs.TensorType] = []
        user_nodes: list[Any] = []
        from torch.export.graph_signature import InputKind

        for spec, ph in zip(specs, placeholders):
            self.node = ph
            self.placeholders.add(ph)
            val = ph.meta.get("val")
            try:
                if spec.kind == InputKind.USER_INPUT:
                    if not isinstance(val, torch.Tensor):
                        raise Fail(f"input {ph.name} is not a tensor ({type(val).__name__})")
                    user_nodes.append(ph)
                    user_types.append(gs.sig_type(self.val_sig(val)))
                elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER) and spec.persistent is not False:
                    kind = "param" if spec.kind == InputKind.PARAMETER else "buffer"
                    op = gs.ParamOp.create(
                        properties={"name": StringAttr(spec.target), "kind": StringAttr(kind)},
                        result_types=[gs.sig_type(self.val_sig(val))],
                    )
                    self.params.append(op)
                    self.env[ph] = op.results[0]
                    self.param_keys[ph] = spec.target
                    if kind == "buffer":
                        self.buffer_keys[ph] = spec.target
                    self.param_values[spec.target] = op.results[0]
                elif spec.kind in (InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                    tensor = ep.constants.get(spec.target)
                    if tensor is None:
                        raise Fail(f"constant {spec.target} has no value in the exported program")
                    self.env[ph] = _Lazy(tensor, spec.target)
                elif spec.kind == InputKind.TOKEN:
                    self.env[ph] = Unusable("an effect token")
                else:
                    raise Fail(f"input {ph.name} of kind {spec.kind.name} is not supported (script objects cannot be imported)")
            except Fail as e:
                raise self.fail(e.message, e.fix) from None
        if len(user_nodes) != len(self.input_names):
            names = [n.name for n in user_nodes]
            raise FrontendError([error("GS601", f"torch.export saw inputs {names}, expected {self.input_names}")])
        block = Block(arg_types=user_types)
        for ph, arg in zip(user_nodes, block.args):
            self.env[ph] = arg
        out_node = self.walk(gm.graph, top=True)
        returned = self.outputs(out_node)
        return self.finish(block, returned)

    def prescan(self, gm: Any) -> None:
        """Report every ATen op that has no handler at once (not one per run)."""
        seen: dict[str, list[Any]] = {}

        def scan(g: Any, owner: Any) -> None:
            for n in g.nodes:
                if n.op == "get_attr":
                    sub = getattr(owner, n.target, None)
                    if isinstance(sub, torch.fx.GraphModule):
                        scan(sub.graph, sub)
                if n.op != "call_function":
                    continue
                val = n.meta.get("val")
                if _is_sym(val) or has_handler(packet_name(n.target)) or n.target is operator.getitem:
                    continue
                seen.setdefault(aten_name(n.target), []).append(n)

        scan(gm.graph, gm)
        if not seen:
            return
        diags = []
        for name, nodes in seen.items():
            first = nodes[0]
            st = module_stack(first)
            where = f" in module {st[-1][0]} ({st[-1][1]})" if st else ""
            count = f" ({len(nodes)} uses)" if len(nodes) > 1 else ""
            loc, line = source_of(first)
            at = f" at {loc.file.rsplit('/', 1)[-1]}:{loc.line}" if loc else ""
            diags.append(
                error(
                    "GS602",
                    f"unsupported ATen op {name}{where}{at}{count}",
                    op=name,
                    loc=loc,
                    source_line=line,
                    fix="graphsynth has no gs form for it yet: rewrite that line of the model with supported ops, or add an "
                    "op class (graphsynth/dialects/<family>.py), its lowering (graphsynth/backend/lowerings/) and an ATen "
                    "handler (graphsynth/frontend/aten_<family>.py)",
                    notes=[f"fx node: {first.format_node()}"[:300]],
                )
            )
        raise FrontendError(diags)

    def walk(self, graph: Any, top: bool = False) -> Any:
        out = None
        outer_stack = self.stack
        for n in graph.nodes:
            if n.op == "placeholder":
                continue
            if n.op == "output":
                out = n
                continue
            if n.op == "get_attr":
                self.env[n] = getattr(self.gm_stack[-1], n.target)
                continue
            self.node = n
            st = module_stack(n)
            self.stack = st if st is not None else outer_stack
            try:
                self.convert_node(n)
            except Fail as e:
                raise self.fail(e.message, e.fix, e.code) from None
            except FrontendError:
                raise
            except Exception as e:  # an importer bug is still a diagnostic at the node
                raise self.fail(
                    f"the importer failed on {aten_name(n.target)}: {type(e).__name__}: {e}",
                    fix="this is a bug in graphsynth's importer; please report it with the model",
                ) from e
        self.stack = outer_stack
        return out

    def convert_node(self, n: Any) -> None:
        val = n.meta.get("val")
        if _is_sym(val):
            self.env[n] = self.sym_value(val)
            return
        if n.target is operator.getitem:
            src = self.env.get(n.args[0])
            if not isinstance(src, (tuple, list)):
                raise Fail(f"getitem on {n.args[0].name}, which is not a tuple")
            self.env[n] = src[n.args[1]]
            if n.args[0] in self.view_parent:  # a piece of split/chunk/unbind views the split tensor
                self.note_view(n, self.view_parent[n.args[0]])
            return
        name = packet_name(n.target)
        self.op_name = name
        args = bind(n)
        if name in VIEW_OPS and n.args and isinstance(n.args[0], torch.fx.Node):
            self.note_view(n, n.args[0])
        handler = HANDLERS.get(name)
        if handler is not None:
            handler(self, n, args)
            return
        base = functional_name(name)
        if base is not None and base in HANDLERS:
            self.inplace(n, name, base, args)
            return
        raise Fail(f"unsupported ATen op {aten_name(n.target)}")

    def sym_value(self, val: Any) -> Any:
        if isinstance(val, (torch.SymInt, int)) and not isinstance(val, bool):
            try:
                return value_to_dim(val, self.symbols)
            except SymbolError as e:
                return Unusable(str(e))
        if isinstance(val, (torch.SymBool, bool)):
            return Unusable("a symbolic condition (a runtime assertion)")
        return Unusable(f"a symbolic {type(val).__name__}")

    def batch_counter(self, node: Any) -> bool:
        """Whether ``node`` is the num_batches_tracked buffer of a BatchNorm with a momentum."""
        key = self.buffer_keys.get(node)
        if key is None or not key.endswith("num_batches_tracked"):
            return False
        owner = key.rsplit(".", 1)[0] if "." in key else ""
        try:
            mod = self.model.get_submodule(owner)
        except AttributeError:
            return False
        return isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and mod.momentum is not None

    def bn_state(self, key: str) -> bool:
        """Running statistics and batch counters of BatchNorm modules, which gs batch_norm
        (training=true) maintains itself."""
        owner, _, leaf = key.rpartition(".")
        try:
            mod = self.model.get_submodule(owner)
        except AttributeError:
            return False
        return isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and leaf in ("running_mean", "running_var", "num_batches_tracked")
    # -- higher-order ops ------------------------------------------------------------------
    def inline(self, gm: Any, inputs: list[Any]) -> list[Any]:
        phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(phs) != len(inputs):
            raise Fail(f"subgraph takes {len(phs)} inputs, got {len(inputs)}")
        for ph, v in zip(phs, inputs):
            self.env[ph] = v
        self.gm_stack.append(gm)
        saved = self.node
        try:
            out = self.walk(gm.graph)
        finally:
            self.gm_stack.pop()
            self.node = saved
        res = out.args[0]
        return [self.env_value(r) for r in (res if isinstance(res, (list, tuple)) else [res])]

    def env_value(self, a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            return self.env.get(a)
        return a


def _sample_equal(a: Dim, b: Dim) -> bool:
    """Whether two dims agree at a spread of values of their symbols (1..97)."""
    if compare(a, b) is True:
        return True
    syms = sorted(free_symbols(a) | free_symbols(b))
    if not syms:
        return a == b
    for k in range(24):
        bind = {s: 1 + (k * 7 + 13 * j * j + 3 * k * j) % 97 for j, s in enumerate(syms)}
        try:
            if evaluate(a, bind) != evaluate(b, bind):
                return False
        except ZeroDivisionError:
            return False
    return True

def _is_sym(val: Any) -> bool:
    return isinstance(val, (torch.SymInt, torch.SymBool, torch.SymFloat, int, float, bool)) and not isinstance(val, torch.Tensor)


def _py(x: torch.Tensor) -> Any:
    v = x.item()
    return v
