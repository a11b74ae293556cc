"""``fold-constants``: compute at compile time what does not depend on the graph's inputs.

Four patterns, each one kind of fold:

- :class:`FullLikeToFull`: ``full_like(x, v)`` depends on the shape of ``x`` only, which the type
  already states: it becomes ``full(shape, v)``, and whatever computed ``x`` may die.
- :class:`FoldSplatElementwise`: an elementwise op whose tensor operands are all ``full`` splats is
  a splat: evaluate it once on 0-d tensors and write ``full(shape, value)``.  Shapes may be
  symbolic and of any size: no element is materialised.
- :class:`FoldConstantOp`: any other op (reshape, sum, matmul, cast, ...) whose tensor operands all
  come from ``constant``, static ``full`` or static ``arange`` ops is evaluated and replaced by a
  ``constant`` (by a ``full`` when every element is equal).  ``max-elements`` bounds the size of a
  ``constant`` the pass writes (the text form spells out every element); operands or results
  larger than :data:`EVAL_LIMIT` elements are not evaluated.
- :class:`FoldScalarChain`: ``mul(mul(x, 2), 3)`` -> ``mul(x, 6)``, and the same for chains of
  add/sub and of true division, when every value in the chain has the same type.

Evaluation runs the op through the torch backend's own lowering on a one-op graph, so a folded
value is exactly what the lowered module would have computed on the CPU (the only numeric change
is :class:`FoldScalarChain`'s reassociation of float literals, a rounding difference of the order
of one ulp per folded step; integer chains are exact).  torch is imported on first use of the pass,
never by ``import graphsynth``.  Random ops (dropout in training, attention with dropout) are
never folded (the ``Random`` trait says when an op draws).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import is_complex
from graphsynth.dialects.rules import FLOAT_DTYPES
from graphsynth.dialects.symdim import numel
from graphsynth.dialects.traits import Commutative, Creation, Elementwise, is_random
from graphsynth.passes.builtin import apply_patterns
from graphsynth.passes.registry import register

EVAL_LIMIT = 1 << 16  # elements of an operand the pass is willing to materialise
EXACT_INT = 1 << 53  # constant values are stored as f64: integers beyond this are not exact


def _static(t: Any) -> bool:
    return isinstance(t, gs.TensorType) and all(isinstance(d, int) for d in t.shape)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _splat(v: SSAValue) -> Any:
    """The value of a ``full`` splat (a Python number or bool), or None."""
    owner = v.owner
    if isinstance(owner, gs.Full):
        value = owner.attr_values()["value"]
        if isinstance(value, (int, float, bool)):
            return value
    return None


def _constant_producer(v: SSAValue) -> gs.GsOp | None:
    """The creation op (constant, static full, static arange: a ``Creation`` op with a static
    type and plain values) that computes ``v``, if any."""
    owner = v.owner
    if isinstance(owner, gs.GsOp) and owner.has_trait(Creation) and _static(v.type):
        if isinstance(owner, gs.Full) and _splat(v) is None:
            return None
        if isinstance(owner, gs.Arange) and not all(isinstance(owner.attr_values()[k] or 0, int) for k in ("start", "end")):
            return None
        return owner
    return None


def _scalar_of(dtype: str, v: Any) -> Any:
    """A Python scalar of the kind ``full`` stores for ``dtype``."""
    if dtype == "bool":
        return bool(v)
    if dtype in FLOAT_DTYPES:
        return float(v)
    return int(v)


def _carry(op: Operation, new: gs.GsOp) -> gs.GsOp:
    """Give ``new`` the names and the scope of the op it replaces."""
    names = op.properties.get("names")
    if names is not None:
        new.properties["names"] = names
    scope = op.properties.get("scope")
    if scope is not None:
        new.properties["scope"] = scope
    return new


def evaluate(op: gs.GsOp, operands: list[SSAValue], producers: dict[SSAValue, Operation]) -> list[Any] | None:
    """Run ``op`` through the torch lowering on a one-op graph whose inputs are the creation ops
    in ``producers``; returns the result tensors, or None when the backend cannot compute it."""
    from graphsynth.backend.fx import lower_graph
    from graphsynth.diagnostics import GraphsynthError

    block = Block()
    mapping: dict[SSAValue, SSAValue] = {}
    for v in operands:
        if v in mapping:
            continue
        clone = producers[v].clone()
        block.add_op(clone)
        for old, new in zip(producers[v].results, clone.results):
            mapping[old] = new
    new_op = op.clone(value_mapper=mapping)
    block.add_op(new_op)
    block.add_op(gs.ReturnOp.create(operands=list(new_op.results)))
    graph = gs.GraphOp.create(
        properties={
            "sym_name": StringAttr("fold"),
            "arg_names": ArrayAttr([]),
            "output_types": ArrayAttr([r.type for r in new_op.results]),
            "modules": ArrayAttr([]),
        },
        regions=[Region(block)],
    )
    try:
        out = lower_graph(graph)()
    except (GraphsynthError, RuntimeError, ValueError, TypeError, OverflowError):
        return None  # not computable here (a symbol in an attribute, an op torch refuses...): leave it
    return list(out) if isinstance(out, tuple) else [out]


def _literal(t: Any) -> bool:
    """Whether the values of type ``t`` have a literal in the text form (complex values have none:
    a complex result stays computed)."""
    return not is_complex(t.sig().dtype)


def _creation_op(result: SSAValue, values: Any, max_elements: int) -> gs.GsOp | None:
    """``full`` when every element is equal, ``constant`` when small enough, else None."""
    t = result.type
    sig = t.sig()
    flat = values.detach().reshape(-1).cpu()
    if sig.dtype not in FLOAT_DTYPES and sig.dtype != "bool" and flat.numel() and int(flat.abs().max()) >= EXACT_INT:
        return None
    items = flat.tolist()
    if items and all(x == items[0] for x in items):
        return gs.make_op(gs.Full, [], {"shape": sig.shape, "value": _scalar_of(sig.dtype, items[0]), "dtype": sig.dtype}, [t])
    if len(items) > max_elements:
        return None
    return gs.make_op(gs.Constant, [], {"value": tuple(float(x) for x in items), "shape": sig.shape, "dtype": sig.dtype}, [t])


class FullLikeToFull(RewritePattern):
    """full_like(x, v) reads only the shape of x, which its type states: write full(shape, v)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, gs.FullLike):
            return
        value = op.attr_values()["value"]
        if not isinstance(value, (int, float, bool)):
            return
        sig = op.results[0].type.sig()
        new = gs.make_op(gs.Full, [], {"shape": sig.shape, "value": value, "dtype": sig.dtype}, [op.results[0].type])
        rewriter.replace(op, [_carry(op, new)])


class FoldSplatElementwise(RewritePattern):
    """An elementwise op of splats is a splat: compute its one value on 0-d tensors."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not (isinstance(op, gs.GsOp) and op.has_trait(Elementwise) and op.operands and len(op.results) == 1) or is_random(op):
            return
        if any(_splat(v) is None for v in op.operands) or not _literal(op.results[0].type):
            return
        # The same op on 0-d splats: elementwise ops commute with broadcasting.
        producers: dict[SSAValue, Operation] = {}
        for v in op.operands:
            sig = v.type.sig()
            producers[v] = gs.make_op(gs.Full, [], {"shape": (), "value": _splat(v), "dtype": sig.dtype}, [gs.tensor_type((), sig.dtype)])
        out_sig = op.results[0].type.sig()
        mapping = {v: producers[v].results[0] for v in op.operands}
        scalar_op = type(op).create(
            operands=[mapping[v] for v in op.operands],
            result_types=[gs.tensor_type((), out_sig.dtype)],
            properties=dict(op.properties),
        )
        results = evaluate(scalar_op, list(scalar_op.operands), {mapping[v]: producers[v] for v in op.operands})
        if results is None:
            return
        value = results[0].item()
        new = gs.make_op(gs.Full, [], {"shape": out_sig.shape, "value": _scalar_of(out_sig.dtype, value), "dtype": out_sig.dtype}, [op.results[0].type])
        rewriter.replace(op, [_carry(op, new)])


@dataclass
class FoldConstantOp(RewritePattern):
    """An op whose tensor operands are all constants is a constant: evaluate it."""

    max_elements: int = 16

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, gs.GsOp) or op.has_trait(Creation) or isinstance(op, gs.Call) or not op.operands or is_random(op):
            return
        producers: dict[SSAValue, Operation] = {}
        for v in op.operands:
            p = _constant_producer(v)
            n = numel(v.type.shape)
            if p is None or not isinstance(n, int) or n > EVAL_LIMIT:
                return
            producers[v] = p
        # Results are bounded like operands: repeat/expand/matmul of small constants can be huge.
        if not all(_static(r.type) and numel(r.type.shape) <= EVAL_LIMIT and _literal(r.type) for r in op.results):
            return
        results = evaluate(op, list(op.operands), producers)
        if results is None or len(results) != len(op.results):
            return
        new_ops = []
        for r, value in zip(op.results, results):
            new = _creation_op(r, value, self.max_elements)
            if new is None:
                return
            new_ops.append(new)
        names = gs.result_names(op)
        scope = op.properties.get("scope")
        for new, n in zip(new_ops, names):
            if n is not None:
                gs.set_result_names(new, [n])
            if scope is not None:
                new.properties["scope"] = scope
        rewriter.replace(op, new_ops, [n.results[0] for n in new_ops])


# (outer, inner) op classes -> how the literals combine; the inner literal is ``a``, the outer ``b``.
_CHAINS: dict[tuple[type, type], tuple[type, Any]] = {
    (gs.Mul, gs.Mul): (gs.Mul, lambda a, b: a * b),
    (gs.Add, gs.Add): (gs.Add, lambda a, b: a + b),
    (gs.Add, gs.Sub): (gs.Add, lambda a, b: b - a),
    (gs.Sub, gs.Add): (gs.Add, lambda a, b: a - b),
    (gs.Sub, gs.Sub): (gs.Sub, lambda a, b: a + b),
    (gs.Div, gs.Div): (gs.Div, lambda a, b: a * b),
}
_OUTER = frozenset(outer for outer, _ in _CHAINS)
_INT_RANGE = {"i64": (-(1 << 63), 1 << 63), "i32": (-(1 << 31), 1 << 31), "i16": (-(1 << 15), 1 << 15),
              "i8": (-128, 128), "u8": (0, 256)}


def _tensor_and_literal(op: gs.GsOp) -> tuple[SSAValue, Any] | None:
    """(x, c) for ``op(x, c)``, or ``op(c, x)`` when op commutes; None otherwise."""
    layout = op.arg_layout()
    if len(layout) != 2:
        return None
    a, b = layout
    if isinstance(a, SSAValue) and _is_number(b):
        return a, b
    if op.has_trait(Commutative) and isinstance(b, SSAValue) and _is_number(a):
        return b, a
    return None


class FoldScalarChain(RewritePattern):
    """op2(op1(x, a), b) with number literals a, b is one op of x: mul(mul(x, 2), 3) -> mul(x, 6).

    Only when x, the intermediate and the result have one type (no promotion or broadcasting
    happens on the way), integer chains use integer literals only, and division is true
    division of floats."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if type(op) not in _OUTER:
            return
        outer = _tensor_and_literal(op)
        if outer is None:
            return
        y, b = outer
        inner_op = y.owner
        if (type(op), type(inner_op)) not in _CHAINS:
            return
        inner = _tensor_and_literal(inner_op)
        if inner is None:
            return
        x, a = inner
        t = op.results[0].type
        if not (x.type == y.type == t):
            return
        dtype = t.sig().dtype
        if dtype == "bool":
            return
        if gs.Div in (type(op), type(inner_op)):
            if dtype not in FLOAT_DTYPES or any(o.attr_values().get("rounding_mode") is not None for o in (op, inner_op)):
                return
        if dtype not in FLOAT_DTYPES and not (isinstance(a, int) and isinstance(b, int)):
            return
        kind, combine = _CHAINS[(type(op), type(inner_op))]
        c = combine(a, b)
        if isinstance(c, float) and not math.isfinite(c):
            return
        if isinstance(c, int) and not _INT_RANGE.get(dtype, (-(1 << 63), 1 << 63))[0] <= c < _INT_RANGE.get(dtype, (0, 1 << 63))[1]:
            return  # torch refuses a scalar the tensor's dtype cannot hold
        new = gs.make_op(kind, [x, c], {}, [t])
        rewriter.replace(op, [_carry(op, new)])


@register
@dataclass(frozen=True)
class FoldConstantsPass(ModulePass):
    """Evaluate ops of constants into one constant (up to max-elements), fold scalar chains mul(mul(x, 2), 3) -> mul(x, 6)."""

    name = "fold-constants"

    max_elements: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.max_elements, int) or self.max_elements < 0:
            raise ValueError(f"fold-constants: max-elements must be a non-negative int, got {self.max_elements!r}")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = [FullLikeToFull(), FoldSplatElementwise(), FoldConstantOp(self.max_elements), FoldScalarChain()]
        apply_patterns(op, patterns, self.name)
