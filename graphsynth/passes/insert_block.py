"""``insert-block{after=A before=B block=KIND ...}``: put a new block on the edge from module A to B.

The edge is the value that an op of module ``A`` (or of one of its submodules) computes and an op
of module ``B`` reads.  The pass creates the block's parameters under a new module path (by
default ``<parent>.<a>_to_<b>_<kind>``, in the innermost module holding both ``A`` and ``B``; option
``path=`` sets it), adds the module (and its submodules) to the graph's module table, and makes
``B`` read the block's output; other readers of the value are untouched.

Block kinds (the library; ``hidden``, ``activation``, ``eps`` and ``window`` are options):

=========== =================================================== ======================
kind        computes                                            identity at insertion?
=========== =================================================== ======================
identity    ``identity(x)``                                     yes
layer_norm  ``layer_norm(x)`` over the last dim, weight 1, bias 0  no (it normalises)
mlp         ``fc2(act(fc1(x)))``, ``fc1: D -> hidden`` (4*D)       no
adapter     ``x + up(act(down(x)))``, ``down: D -> hidden`` (D//4) yes: ``up`` starts at 0
pool        ``avg_pool1d`` along the sequence axis of ``[B, S, D]``  no (it mixes tokens)
            (window 3, stride 1, same padding; no parameters)
=========== =================================================== ======================

The ``pool`` block is the token mixer of PoolFormer: each position becomes the mean of the
``window`` positions around it (padding not counted), the cheapest sequence-mixing layer an
architecture search on sequence tasks can try.  It transposes to ``[B, D, S]``, pools the last
dim and transposes back, so the edge keeps its type.

Initial values: each new parameter carries a discardable ``init`` attribute (``zeros``, ``ones``
or ``normal:<std>``) that the torch backend applies when it creates the parameter, so the lowered
module is ready to run.  The adapter's ``up`` projection starts at zero, which makes the inserted
block compute exactly ``x``: the network's outputs do not change until it is trained, while
``down`` starts random (std 0.02) so that the first gradient step reaches ``up`` (LoRA does the
same).  The text form keeps it (``param up.weight: f32[64, 16] init="zeros"``), so a module
printed and parsed again lowers to the same initial values.  Loading the
source model's ``state_dict`` into the lowered module needs ``strict=False`` (the new keys are
not in it); the new parameters then keep their initial values.

Everything the pass cannot do is a PassError naming the modules: GS405 when a module does not
exist (with the closest names) or the new path is taken, GS406 when there is no edge from A to B
(saying where A's values go and where B's come from), when several values cross it (listing
them; ``value=%name`` picks one) or when one module contains the other, GS407 when the block's
interface does not fit the edge's type (dtype, rank, a symbolic feature dim, ``features=``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from graphsynth.diagnostics import PassError, error
from graphsynth.dialects import gs
from graphsynth.dialects.rules import FLOAT_DTYPES
from graphsynth.passes.patterns import common_scope, fresh_name, in_subtree, op_scope, taken_names, value_name
from graphsynth.passes.registry import register

BLOCK_KINDS = {
    "identity": "identity(x); no parameters",
    "layer_norm": "LayerNorm over the last dim (weight 1, bias 0)",
    "mlp": "fc2(act(fc1(x))) with fc1: D -> hidden (default 4*D)",
    "adapter": "x + up(act(down(x))), down: D -> hidden (default D//4), up zero-initialised",
    "pool": "avg_pool1d along the sequence axis of [B, S, D] (odd window, default 3; stride 1, same padding)",
}
# The activations a block may use: the standard members of the activation family (a trait of the op).
ACTIVATIONS = tuple(cls.SPEC.name for cls in gs.activations(standard=True))
_CLASSES = {"identity": "Identity", "layer_norm": "LayerNorm", "mlp": "MLP", "adapter": "Adapter", "pool": "Pooling"}


def _fail(code: str, message: str, **kw: Any) -> PassError:
    return PassError("insert-block", [error(code, f"insert-block: {message}", origin="insert-block", **kw)])


def _top(op: Operation, block: Block) -> Operation | None:
    """The op of ``block`` that is ``op`` or holds it in a region."""
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


def _label(v: SSAValue) -> str:
    n = value_name(v)
    if n is None:
        return "<unnamed>"
    return n if not isinstance(v.owner, Operation) or isinstance(v.owner, gs.ParamOp) else "%" + n


def _where(table: dict[str, tuple[str, str]], scope: str) -> str:
    return f"module {scope}" if scope else "the top level"


@dataclass
class _Builder:
    """Creates the block's params and ops, named and scoped under ``path``."""

    graph: gs.GraphOp
    path: str
    dtype: str
    taken: set[str]
    local: str

    def __post_init__(self) -> None:
        self.params: list[gs.ParamOp] = []
        self.ops: list[Operation] = []
        self.modules: list[tuple[str, str, str]] = []
        self.count = 0

    def param(self, local: str, shape: tuple[int, ...], init: str) -> SSAValue:
        op = gs.ParamOp.create(
            properties={"name": StringAttr(f"{self.path}.{local}"), "kind": StringAttr("param")},
            result_types=[gs.tensor_type(shape, self.dtype)],
        )
        op.attributes["init"] = StringAttr(init)
        self.params.append(op)
        return op.results[0]

    def op(self, cls: type[gs.GsOp], args: list[Any], attrs: dict[str, Any], shape: tuple[Any, ...], sub: str = "") -> SSAValue:
        value = fresh_name(f"{self.local}.{self.count}", self.taken)
        self.count += 1
        scope = f"{self.path}.{sub}" if sub else self.path
        new = gs.make_op(cls, args, attrs, [gs.tensor_type(shape, self.dtype)], names=[value], scope=scope)
        self.ops.append(new)
        return new.results[0]

    def linear(self, sub: str, x: SSAValue, shape: tuple[Any, ...], n_in: int, n_out: int, init: str) -> SSAValue:
        self.modules.append((f"{self.path}.{sub}", "Linear", self.path))
        w = self.param(f"{sub}.weight", (n_out, n_in), init)
        b = self.param(f"{sub}.bias", (n_out,), "zeros")
        return self.op(gs.Linear, [x, w, b], {}, shape[:-1] + (n_out,), sub)


def build_block(b: _Builder, kind: str, x: SSAValue, opts: InsertBlockPass) -> SSAValue:
    """The ops of one block kind reading ``x``; returns its output (same type as ``x``)."""
    shape = x.type.shape
    if kind == "identity":
        return b.op(gs.Identity, [x], {}, shape)
    if kind == "pool":
        swapped = shape[:1] + (shape[2], shape[1])
        t = b.op(gs.Transpose, [x], {"dim0": 1, "dim1": 2}, swapped)
        w = opts.window
        t = b.op(gs.AvgPool1d, [t], {"kernel_size": (w,), "stride": (1,), "padding": (w // 2,),
                                     "count_include_pad": False}, swapped)
        return b.op(gs.Transpose, [t], {"dim0": 1, "dim1": 2}, shape)
    d = shape[-1]
    if kind == "layer_norm":
        w = b.param("weight", (d,), "ones")
        bias = b.param("bias", (d,), "zeros")
        return b.op(gs.LayerNorm, [x, w, bias], {"normalized_shape": (d,), "eps": opts.eps}, shape)
    hidden = opts.hidden or (4 * d if kind == "mlp" else max(1, d // 4))
    first, second = ("fc1", "fc2") if kind == "mlp" else ("down", "up")
    h = b.linear(first, x, shape, d, hidden, "normal:0.02")
    h = b.op(gs.OPS[opts.activation], [h], {}, shape[:-1] + (hidden,))
    y = b.linear(second, h, shape, hidden, d, "normal:0.02" if kind == "mlp" else "zeros")
    if kind == "adapter":
        y = b.op(gs.Add, [x, y], {}, shape)
    return y


@register
@dataclass(frozen=True)
class InsertBlockPass(ModulePass):
    """Insert a block (identity, layer_norm, mlp, adapter) on the edge from module `after` to module `before`."""

    name = "insert-block"

    after: str = ""
    before: str = ""
    block: str = "identity"
    hidden: int = 0
    activation: str = "gelu"
    eps: float = 1e-5
    window: int = 3
    features: int = 0
    value: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        if not self.after or not self.before:
            raise ValueError("insert-block: needs after=MODULE and before=MODULE (module paths of the graph)")
        if self.block not in BLOCK_KINDS:
            kinds = "; ".join(f"{k}: {v}" for k, v in BLOCK_KINDS.items())
            raise ValueError(f"insert-block: unknown block kind {self.block!r}; valid kinds: {kinds}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"insert-block: activation={self.activation!r}; valid: {', '.join(ACTIVATIONS)}")
        if not isinstance(self.hidden, int) or self.hidden < 0 or not isinstance(self.features, int) or self.features < 0:
            raise ValueError("insert-block: hidden and features must be ints >= 0 (0: derived from the edge)")
        if not isinstance(self.window, int) or self.window < 1 or self.window % 2 == 0:
            raise ValueError(f"insert-block: window={self.window!r} must be an odd int >= 1 (the pool keeps the length)")
        if self.path and not all(re.fullmatch(r"[A-Za-z0-9_]+", p) for p in self.path.split(".")):
            raise ValueError(f"insert-block: path={self.path!r} must be a module path of [A-Za-z0-9_]+ parts joined by dots")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        graphs = gs.graph_ops(op)
        hits = [g for g in graphs if self.after in g.module_table() or self.before in g.module_table()]
        graph = hits[0] if hits else (graphs[0] if graphs else None)
        if graph is None:
            raise _fail("GS405", "the module holds no graph")
        self.insert(graph)

    # -- the work ------------------------------------------------------------------------
    def insert(self, graph: gs.GraphOp) -> None:
        table = graph.module_table()
        block = graph.body.block
        for role, path in (("after", self.after), ("before", self.before)):
            if path not in table:
                close = difflib.get_close_matches(path, list(table), n=3)
                top = [p for p, (_, parent) in table.items() if not parent]
                raise _fail(
                    "GS405",
                    f"{role}={path}: graph '{graph.graph_name}' has no module '{path}'",
                    got=path,
                    expected="a module path of the graph",
                    fix=f"did you mean {', '.join(close)}?" if close else None,
                    notes=[f"top-level modules: {', '.join(top) if top else 'none'}"],
                )
        a, b = self.after, self.before
        if a == b or in_subtree(table, b, a) or in_subtree(table, a, b):
            raise _fail("GS406", f"module '{a}' and module '{b}' are the same or nested; the block goes on an edge between two disjoint modules")
        crossing: list[SSAValue] = []
        users: dict[SSAValue, list[Operation]] = {}
        for top in block.ops:
            if not in_subtree(table, op_scope(top), a):
                continue
            for r in top.results:
                readers = [t for u in r.uses if (t := _top(u.operation, block)) is not None and in_subtree(table, op_scope(t), b)]
                if readers:
                    crossing.append(r)
                    users[r] = readers
        if not crossing:
            raise self._no_edge(graph, table)
        if self.value:
            wanted = self.value.removeprefix("%")
            chosen = [v for v in crossing if value_name(v) == wanted]
            if not chosen:
                raise _fail("GS406", f"value={self.value} does not flow from module '{a}' to module '{b}'",
                            got=self.value, expected=" | ".join(_label(v) for v in crossing))
            x = chosen[0]
        elif len(crossing) > 1:
            listed = ", ".join(f"{_label(v)}: {v.type}" for v in crossing)
            raise _fail("GS406", f"{len(crossing)} values flow from module '{a}' to module '{b}' ({listed}); a block takes one",
                        got=listed, expected="exactly one value on the edge", fix=f"pick one with value={_label(crossing[0])}")
        else:
            x = crossing[0]
        self._check_interface(x, table)

        parent = common_scope(table, [a, b])
        parent = parent if parent not in (a, b) else table[parent][1]
        local = re.sub(r"\W", "_", f"{a.rsplit('.', 1)[-1]}_to_{b.rsplit('.', 1)[-1]}_{self.block}")
        if not parent and local[0].isdigit():
            local = "_" + local  # a top-level parameter key must read as a name ("0" of a Sequential)
        path = self.path or (f"{parent}.{local}" if parent else local)
        keys = {o.param_name.data for o in block.ops if isinstance(o, gs.ParamOp)}
        if path in table or any(k == path or k.startswith(path + ".") for k in keys):
            raise _fail("GS405", f"the new module path '{path}' is already taken in graph '{graph.graph_name}'",
                        got=path, fix="choose another path with path=...")
        new_parent = path.rsplit(".", 1)[0] if "." in path else ""
        if new_parent and new_parent not in table:
            new_parent = parent
        builder = _Builder(graph, path, x.type.sig().dtype, taken_names(graph), path.rsplit(".", 1)[-1])
        builder.modules.append((path, _CLASSES[self.block], new_parent))
        out = build_block(builder, self.block, x, self)

        # Placement: the new ops right before B's first reader, the params after the last param.
        first_reader = min(users[x], key=list(block.ops).index)
        params = [o for o in block.ops if isinstance(o, gs.ParamOp)]
        order = list(block.ops)
        if params and order.index(params[-1]) < order.index(first_reader):
            anchor: Operation = params[-1]
            for p in builder.params:
                block.insert_op_after(p, anchor)
                anchor = p
        else:
            block.insert_ops_before(builder.params, first_reader)
        block.insert_ops_before(builder.ops, first_reader)
        readers = set(users[x])
        x.replace_uses_with_if(out, lambda use: _top(use.operation, block) in readers)
        entries = list(graph.modules.data)
        entries.extend(ArrayAttr([StringAttr(p), StringAttr(c), StringAttr(par)]) for p, c, par in builder.modules)
        graph.properties["modules"] = ArrayAttr(entries)

    def _check_interface(self, x: SSAValue, table: dict[str, tuple[str, str]]) -> None:
        if self.block == "identity":
            return
        sig = x.type.sig()
        where = f"the edge {_label(x)} from module '{self.after}' to module '{self.before}' carries {x.type}"
        if sig.dtype not in FLOAT_DTYPES:
            raise _fail("GS407", f"block {self.block} needs a float tensor, but {where}", expected="a float dtype", got=sig.dtype)
        if not sig.shape:
            raise _fail("GS407", f"block {self.block} acts on the last dim, but {where} (a scalar)", expected="rank >= 1", got="rank 0")
        if self.block == "pool":
            if len(sig.shape) != 3:
                raise _fail("GS407", f"block pool mixes the sequence axis of [B, S, D], but {where} (rank {len(sig.shape)})",
                            expected="rank 3", got=f"rank {len(sig.shape)}")
            return
        d = sig.shape[-1]
        if not isinstance(d, int):
            raise _fail("GS407", f"block {self.block} needs a static feature dim for its parameters, but {where} (last dim {d})",
                        expected="an int last dim", got=str(d))
        if self.features and self.features != d:
            raise _fail("GS407", f"block {self.block} expects features={self.features}, but {where} (last dim {d})",
                        expected=str(self.features), got=str(d), relation=f"{d} == {self.features}")

    def _no_edge(self, graph: gs.GraphOp, table: dict[str, tuple[str, str]]) -> PassError:
        block = graph.body.block
        a, b = self.after, self.before
        outs: list[str] = []
        ins: list[str] = []
        for top in block.ops:  # in program order, so the notes read the same on every run
            scope = op_scope(top)
            for v in top.operands:
                owner = v.owner
                src = _top(owner, block) if isinstance(owner, Operation) else None
                from_a = src is not None and in_subtree(table, op_scope(src), a)
                if from_a and not in_subtree(table, scope, a):
                    where = "the graph output" if isinstance(top, gs.ReturnOp) else _where(table, scope)
                    outs.append(f"{_label(v)}: {v.type} -> {where}")
                if in_subtree(table, scope, b) and not isinstance(owner, gs.ParamOp) and (
                    src is None or not in_subtree(table, op_scope(src), b)
                ):
                    origin = "a graph input" if src is None else _where(table, op_scope(src))
                    ins.append(f"{_label(v)}: {v.type} <- {origin}")
        notes = [
            f"module '{a}' sends: " + ("; ".join(dict.fromkeys(outs)) if outs else "nothing outside itself"),
            f"module '{b}' reads: " + ("; ".join(dict.fromkeys(ins)) if ins else "nothing from outside"),
        ]
        return _fail("GS406", f"no value flows from module '{a}' to module '{b}' in graph '{graph.graph_name}'",
                     relation=f"{a} -> {b}", notes=notes,
                     fix="name two modules joined by an edge (a value computed in the first, read in the second)")
