"""Hypothesis strategies that generate random, well-typed gs modules.

    from hypothesis import given
    from graphsynth.testing.strategies import modules

    @given(modules(ops=("relu", "add", "linear"), max_ops=6))
    def test_my_pass(m): ...

Every module is built op by op: an op kind is drawn from the chosen op set, its operands from
the values built so far (the latest one by default, so a shrunk example is a chain; an earlier
one for branches and residual connections), its attributes from small choices, and its result
type from the op's own shape rule (``graphsynth.dialects.rules``), the one the verifier uses.
So a drawn module verifies by construction; :func:`modules` checks it anyway (``check=True``)
and fails loudly when it does not, because a generator that emits invalid IR would make every
pass look broken.

Why build ops rather than text: the rule decides each result type, so the generator cannot drift
from the verifier; and hypothesis shrinks the draws (fewer ops, earlier choices, the latest
operand), which gives small counter-examples: a failing pass is usually shown on a module of one
or two ops.

Dims are plain ints and symbols (``B``, ``S`` by default) carried by the graph inputs; derived
dims (``2*S``, ``S-1``, ``B*S``, ``S//2``) come from concat, slice and reshape.  Every dim a
module uses stays positive at every binding of the symbols to integers >= 3
(:data:`MIN_SYMBOL_VALUE`), the bindings :func:`graphsynth.testing.assert_rewrite_sound` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.vendor import pretty as _pretty
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.rules import FLOAT_DTYPES, RuleContext, ShapeError, Sig
from graphsynth.dialects.shapes import Dim, SymDim, evaluate, free_symbols, mul, numel

__all__ = [
    "DEFAULT_OPS",
    "ELEMENTWISE_OPS",
    "MIN_SYMBOL_VALUE",
    "SUPPORTED_OPS",
    "dims",
    "modules",
    "tensor_types",
]

# Symbols are bound to integers >= this value by the soundness checks; every dim the strategy
# emits is positive there.
MIN_SYMBOL_VALUE = 3
_CHECK_POINTS = (MIN_SYMBOL_VALUE, MIN_SYMBOL_VALUE + 1, 8)

_UNARY = (
    "relu",
    "gelu",
    "silu",
    "tanh",
    "sigmoid",
    "neg",
    "abs",
    "identity",
    "dropout",
    "clamp",
    "leaky_relu",
    "hardtanh",
    "exp",
    "sin",
    "cos",
    "erf",
    "softplus",
)
_BINARY = ("add", "sub", "mul", "maximum", "minimum")

ELEMENTWISE_OPS: tuple[str, ...] = (
    "relu",
    "add",
    "mul",
    "sub",
    "gelu",
    "tanh",
    "sigmoid",
    "silu",
    "neg",
    "abs",
    "maximum",
    "minimum",
    "div",
    "pow",
    "clamp",
    "leaky_relu",
    "hardtanh",
    "identity",
    "dropout",
    "where",
    "cast",
)
"""Elementwise ops, numerically safe on random normal inputs."""

DEFAULT_OPS: tuple[str, ...] = (
    # Order matters for shrinking: hypothesis moves draws toward the first entry.
    *(op for op in ELEMENTWISE_OPS if op != "hardtanh"),
    "linear",
    "matmul",
    "reshape",
    "transpose",
    "permute",
    "flatten",
    "unsqueeze",
    "squeeze",
    "expand",
    "softmax",
    "log_softmax",
    "layer_norm",
    "sum",
    "mean",
    "amax",
    "concat",
    "slice",
    "split",
    "full",
    "full_like",
    "constant",
    "arange",
)
"""A broad op set whose random instances are numerically tame on normal inputs (no log/sqrt of
negatives, no division by values near zero)."""


# -- the module under construction -----------------------------------------------------------


@dataclass
class _Value:
    value: SSAValue
    sig: Sig


@dataclass
class _State:
    symbols: tuple[str, ...]
    dtype: str
    block: Block
    pool: list[_Value] = field(default_factory=list)
    params: list[gs.ParamOp] = field(default_factory=list)
    param_names: set[str] = field(default_factory=set)
    ops: list[Any] = field(default_factory=list)
    counter: int = 0
    scope: str = ""
    named: bool = True

    def fresh_name(self) -> str:
        n = str(self.counter)
        self.counter += 1
        return n

    def param(self, shape: Sequence[int], dtype: str, stem: str) -> _Value:
        """A new parameter named under the current module path (a state_dict key)."""
        base = f"{self.scope}.{stem}" if self.scope else stem
        k = 0
        name = f"{base}{k}"
        while any(n == name or n.startswith(name + ".") for n in self.param_names):
            k += 1
            name = f"{base}{k}"
        key = f"{name}.weight"
        self.param_names.add(key)
        t = gs.tensor_type(tuple(shape), dtype)
        op = gs.ParamOp.create(properties={"name": StringAttr(key), "kind": StringAttr("param")}, result_types=[t])
        self.params.append(op)
        return _Value(op.results[0], t.sig())


def _positive(d: Dim) -> bool:
    """``d`` is at least 1 wherever the symbols are >= MIN_SYMBOL_VALUE (checked at a few points
    and required to be non-decreasing in the symbols: plain polynomials with positive leading
    terms, the only derived dims the builders make)."""
    if isinstance(d, int):
        return d >= 1
    syms = free_symbols(d)
    try:
        return all(evaluate(d, dict.fromkeys(syms, v)) >= 1 for v in _CHECK_POINTS) and all(
            evaluate(d, {s: (v if s == t else MIN_SYMBOL_VALUE) for s in syms}) >= 1
            for t in syms
            for v in _CHECK_POINTS
        )
    except (KeyError, ZeroDivisionError):
        return False


def _infer(name: str, args: list[Any], attrs: dict[str, Any]) -> list[Sig] | None:
    """Result signatures by the op's rule (attributes with defaults filled in), or None when
    the rule rejects the operands."""
    spec = gs.OPS[name].SPEC
    full = {a.name: (None if a.default is gs.REQUIRED else a.default) for a in spec.attrs}
    full.update(attrs)
    sigs = [a.sig if isinstance(a, _Value) else a for a in args]
    operand_index: list[int | None] = []
    k = 0
    for a in args:
        operand_index.append(k if isinstance(a, _Value) else None)
        k += isinstance(a, _Value)
    try:
        out = spec.rule(RuleContext(name, sigs, full, operand_index))
    except (ShapeError, KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    if not all(_positive(d) for sig in out for d in sig.shape):
        return None
    return out


def _emit(s: _State, name: str, args: list[Any], attrs: dict[str, Any]) -> list[_Value] | None:
    """Build one op (if its rule accepts the operands) and add its results to the pool."""
    out = _infer(name, args, attrs)
    if out is None:
        return None
    names = [s.fresh_name() for _ in out] if s.named else None
    raw = [a.value if isinstance(a, _Value) else a for a in args]
    op = gs.make_op(name, raw, attrs, [gs.sig_type(o) for o in out], names=names, scope=s.scope)
    s.ops.append(op)
    values = [_Value(r, sig) for r, sig in zip(op.results, out)]
    s.pool.extend(values)
    return values


# -- drawing helpers -------------------------------------------------------------------------------


def _pick(draw: Callable, s: _State, pred: Callable[[_Value], bool] = lambda v: True) -> _Value | None:
    """A value from the pool: the latest one (a chain; where shrinking goes), or one counted
    from the oldest (graph inputs first), for branches and residual connections.  Counting from
    the oldest keeps a pick stable when the shrinker deletes later steps."""
    cands = [v for v in s.pool if pred(v)]
    if not cands:
        return None
    if not draw(st.booleans()):
        return cands[-1]
    return cands[draw(st.integers(0, len(cands) - 1))]


def _is_float(v: _Value) -> bool:
    return v.sig.dtype in FLOAT_DTYPES


def _scalar(draw: Callable, choices: Sequence[Any]) -> Any:
    return draw(st.sampled_from(tuple(choices)))


def _dim_choice(draw: Callable, s: _State, ints: Sequence[int] = (2, 3, 4)) -> Dim:
    options: list[Dim] = [SymDim.symbol(x) for x in s.symbols] + list(ints)
    return draw(st.sampled_from(options))


# -- one builder per op kind ----------------------------------------------------------------------
# A builder draws what it needs and returns True when it added an op; False when the op does
# not apply to the values at hand (the generator then falls back to a unary op).


def _b_unary(name: str) -> Callable[[Callable, _State], bool]:
    def build(draw: Callable, s: _State) -> bool:
        x = _pick(draw, s, _is_float)
        if x is None:
            return False
        attrs: dict[str, Any] = {}
        if name == "gelu" and draw(st.booleans()):
            attrs["approximate"] = "tanh"
        elif name == "clamp":
            lo = _scalar(draw, (None, -1.0, 0.0, -0.5))
            hi = _scalar(draw, (1.0, None, 0.5, 2.0))
            if lo is not None:
                attrs["min"] = lo
            if hi is not None:
                attrs["max"] = hi
        elif name == "dropout":
            attrs["p"] = _scalar(draw, (0.1, 0.5, 0.0))
        elif name == "leaky_relu":
            attrs["negative_slope"] = _scalar(draw, (0.01, 0.2))
        elif name == "hardtanh":
            attrs["min_val"], attrs["max_val"] = _scalar(draw, ((-1.0, 1.0), (-0.5, 2.0)))
        return _emit(s, name, [x], attrs) is not None

    return build


def _broadcast_partner(draw: Callable, s: _State, x: _Value) -> _Value | None:
    """A second tensor operand that broadcasts with ``x``: an earlier value (residual), ``x``
    itself, or a new parameter shaped like a trailing part of ``x`` (a bias)."""
    how = draw(st.integers(0, 2))
    if how == 0:
        return _pick(draw, s, lambda v: v.sig.dtype == x.sig.dtype and _infer("add", [x, v], {}) is not None)
    if how == 1:
        return x
    if not x.sig.shape:
        return None
    k = draw(st.integers(1, len(x.sig.shape)))
    tail = [d if isinstance(d, int) else 1 for d in x.sig.shape[-k:]]
    if draw(st.booleans()) and tail:
        tail[0] = 1
    return s.param(tail, x.sig.dtype, "bias")


def _b_binary(name: str) -> Callable[[Callable, _State], bool]:
    scalars: dict[str, tuple[Any, ...]] = {
        "add": (1.0, 0, 0.0, -2.0, 3),
        "sub": (1.0, 0, 0.5, -2.0),
        "mul": (2.0, 1, 1.0, 0.5, -1.0, 0),
        "maximum": (0.0, -0.5),
        "minimum": (0.0, 0.5),
        "div": (2.0, 1, 4.0, 0.5, -3.0),
        "pow": (2, 1, 3, 2.0),
    }

    def build(draw: Callable, s: _State) -> bool:
        x = _pick(draw, s, _is_float)
        if x is None:
            return False
        tensor_rhs = (
            name not in ("div", "pow", "maximum", "minimum") or name in ("maximum", "minimum") and draw(st.booleans())
        )
        if tensor_rhs and draw(st.integers(0, 2)) > 0:
            y = _broadcast_partner(draw, s, x)
            if y is None:
                return False
            args: list[Any] = [x, y]
            if name in ("sub",) and draw(st.booleans()):
                args = [y, x]
        else:
            c = _scalar(draw, scalars.get(name, (1.0,)))
            args = [x, c]
            if name in ("add", "mul", "sub") and draw(st.integers(0, 3)) == 3:
                args = [c, x]  # a number on the left
        return _emit(s, name, args, {}) is not None

    return build


def _b_where(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, _is_float)
    if x is None:
        return False
    cond = _emit(s, draw(st.sampled_from(("gt", "lt", "ge"))), [x, _scalar(draw, (0.0, 0.5))], {})
    if cond is None:
        return False
    other = _scalar(draw, (0.0, 1.0)) if draw(st.booleans()) else x
    args = [cond[0], x, other] if draw(st.booleans()) else [cond[0], other, x]
    return _emit(s, "where", args, {}) is not None


def _b_cast(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, _is_float)
    if x is None:
        return False
    target = draw(st.sampled_from((x.sig.dtype, "f64", "f32")))
    return _emit(s, "cast", [x], {"dtype": target}) is not None


def _b_linear(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: _is_float(v) and bool(v.sig.shape) and isinstance(v.sig.shape[-1], int))
    if x is None:
        return False
    k = x.sig.shape[-1]
    n = draw(st.sampled_from((3, 2, 4, 6)))
    w = s.param((n, k), x.sig.dtype, "linear")
    args: list[Any] = [x, w]
    if draw(st.booleans()):
        b = s.param((n,), x.sig.dtype, "linear_bias")
        args.append(b)
    return _emit(s, "linear", args, {}) is not None


def _b_matmul(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: _is_float(v) and len(v.sig.shape) >= 1)
    if x is None:
        return False
    if draw(st.booleans()) and isinstance(x.sig.shape[-1], int):
        n = draw(st.sampled_from((3, 2, 4)))
        w = s.param((x.sig.shape[-1], n), x.sig.dtype, "matmul")
        return _emit(s, "matmul", [x, w], {}) is not None
    # A product of two values, as attention scores are: x @ y where the contraction dims agree.
    y = _pick(draw, s, lambda v: v.sig.dtype == x.sig.dtype and _infer("matmul", [x, v], {}) is not None)
    if y is None:
        if len(x.sig.shape) < 2:
            return False
        # x @ x^T: always well typed for rank >= 2.
        t = _emit(s, "transpose", [x], {"dim0": -1, "dim1": -2})
        if t is None:
            return False
        y = t[0]
    return _emit(s, "matmul", [x, y], {}) is not None


def _reshape_targets(shape: tuple[Dim, ...]) -> list[tuple[Dim, ...]]:
    out: list[tuple[Dim, ...]] = [shape]  # the no-op reshape canonicalize removes
    r = len(shape)
    for i in range(r - 1):
        out.append(shape[:i] + (mul(shape[i], shape[i + 1]),) + shape[i + 2 :])
    for i, d in enumerate(shape):
        if isinstance(d, int):
            for f in (2, 3):
                if d % f == 0 and d > f:
                    out.append(shape[:i] + (f, d // f) + shape[i + 1 :])
        out.append(shape[:i] + (1, d) + shape[i + 1 :])
    if r >= 1:
        n = numel(shape)
        out.append((n,))
    ints = [i for i, d in enumerate(shape) if isinstance(d, int)]
    if ints and len(ints) < r:
        # -1 where only plain ints are known around it: [B, S, 4] -> [-1, 4]
        out.append((-1,) + tuple(shape[i] for i in ints))
    if r == 0:
        out.append((1,))
    return out


def _b_reshape(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s)
    if x is None:
        return False
    target = draw(st.sampled_from(_reshape_targets(x.sig.shape)))
    return _emit(s, "reshape", [x], {"shape": target}) is not None


def _b_transpose(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 2)
    if x is None:
        return False
    r = len(x.sig.shape)
    a = draw(st.integers(-r, r - 1))
    b = draw(st.integers(-r, r - 1))
    return _emit(s, "transpose", [x], {"dim0": a, "dim1": b}) is not None


def _b_permute(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 2)
    if x is None:
        return False
    perm = draw(st.permutations(range(len(x.sig.shape))))
    return _emit(s, "permute", [x], {"dims": tuple(perm)}) is not None


def _b_flatten(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    a = draw(st.integers(0, r - 1))
    b = draw(st.integers(a, r - 1))
    attrs: dict[str, Any] = {"start_dim": a}
    if b != r - 1 or draw(st.booleans()):
        attrs["end_dim"] = b
    return _emit(s, "flatten", [x], attrs) is not None


def _b_unsqueeze(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) < 4)
    if x is None:
        return False
    r = len(x.sig.shape)
    return _emit(s, "unsqueeze", [x], {"dim": draw(st.integers(-r - 1, r))}) is not None


def _with_unit_dim(draw: Callable, s: _State) -> _Value | None:
    """A value with a size-1 dim: one from the pool, or a new unsqueeze of one."""
    x = _pick(draw, s, lambda v: 1 in v.sig.shape) if draw(st.booleans()) else None
    if x is not None:
        return x
    y = _pick(draw, s, lambda v: len(v.sig.shape) < 4)
    if y is None:
        return None
    r = len(y.sig.shape)
    out = _emit(s, "unsqueeze", [y], {"dim": draw(st.integers(0, r))})
    return out[0] if out else None


def _b_squeeze(draw: Callable, s: _State) -> bool:
    x = _with_unit_dim(draw, s)
    if x is None:
        return False
    ones = [i for i, d in enumerate(x.sig.shape) if d == 1]
    attrs = {} if draw(st.booleans()) else {"dims": (draw(st.sampled_from(ones)),)}
    return _emit(s, "squeeze", [x], attrs) is not None


def _b_expand(draw: Callable, s: _State) -> bool:
    x = _with_unit_dim(draw, s)
    if x is None:
        return False
    target = list(x.sig.shape)
    for i, d in enumerate(target):
        if d == 1 and draw(st.booleans()):
            target[i] = _dim_choice(draw, s)
    if draw(st.booleans()):
        target = [-1 if d == x.sig.shape[i] and d != 1 else d for i, d in enumerate(target)]
    return _emit(s, "expand", [x], {"shape": tuple(target)}) is not None


def _b_softmax(name: str) -> Callable[[Callable, _State], bool]:
    def build(draw: Callable, s: _State) -> bool:
        x = _pick(draw, s, lambda v: _is_float(v) and len(v.sig.shape) >= 1)
        if x is None:
            return False
        r = len(x.sig.shape)
        return _emit(s, name, [x], {"dim": draw(st.integers(-r, r - 1))}) is not None

    return build


def _b_layer_norm(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: _is_float(v) and len(v.sig.shape) >= 1)
    if x is None:
        return False
    k = draw(st.integers(1, min(2, len(x.sig.shape))))
    normalized = tuple(x.sig.shape[-k:])
    args: list[Any] = [x]
    if all(isinstance(d, int) for d in normalized) and draw(st.booleans()):
        args.append(s.param(normalized, x.sig.dtype, "norm"))
        if draw(st.booleans()):
            args.append(s.param(normalized, x.sig.dtype, "norm_bias"))
    attrs: dict[str, Any] = {"normalized_shape": normalized}
    if draw(st.booleans()):
        attrs["eps"] = 1e-3
    return _emit(s, "layer_norm", args, attrs) is not None


def _b_reduce(name: str) -> Callable[[Callable, _State], bool]:
    def build(draw: Callable, s: _State) -> bool:
        x = _pick(draw, s, _is_float)
        if x is None:
            return False
        r = len(x.sig.shape)
        attrs: dict[str, Any] = {}
        if r and draw(st.integers(0, 3)):
            picked = draw(st.lists(st.integers(-r, r - 1), min_size=1, max_size=r, unique_by=lambda d: d % r))
            attrs["dims"] = tuple(picked)
        if draw(st.booleans()):
            attrs["keepdim"] = True
        return _emit(s, name, [x], attrs) is not None

    return build


def _b_concat(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    d = draw(st.integers(-r, r - 1))
    n = draw(st.integers(1, 2))
    parts = [x]
    for _ in range(n):
        y = _pick(draw, s, lambda v: _infer("concat", [x, v], {"dim": d}) is not None)
        parts.append(y if y is not None else x)
    return _emit(s, "concat", parts, {"dim": d}) is not None


def _b_slice(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: len(v.sig.shape) >= 1)
    if x is None:
        return False
    r = len(x.sig.shape)
    d = draw(st.integers(-r, r - 1))
    attrs: dict[str, Any] = {"dim": d}
    start = draw(st.sampled_from((0, 1, -2)))
    if start:
        attrs["start"] = start
    end = draw(st.sampled_from((None, -1, 2)))
    if end is not None:
        attrs["end"] = end
    step = draw(st.sampled_from((1, 2)))
    if step != 1:
        attrs["step"] = step
    return _emit(s, "slice", [x], attrs) is not None


def _b_split(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s, lambda v: any(isinstance(d, int) and d >= 2 for d in v.sig.shape))
    if x is None:
        return False
    dims_ok = [i for i, d in enumerate(x.sig.shape) if isinstance(d, int) and d >= 2]
    d = draw(st.sampled_from(dims_ok))
    size = x.sig.shape[d]
    first = draw(st.integers(1, size - 1))
    return _emit(s, "split", [x], {"dim": d, "sizes": (first, size - first)}) is not None


_FILL_VALUES = (1.0, 0.0, 2.5, -1.0, 2)


def _b_full(draw: Callable, s: _State) -> bool:
    """A splat shaped like a value of the pool (so it combines with it), or like its trailing dims."""
    x = _pick(draw, s)
    if x is None:
        return False
    shape = x.sig.shape[-draw(st.integers(0, len(x.sig.shape))) :] if x.sig.shape else ()
    value = _scalar(draw, _FILL_VALUES)
    dtype = draw(st.sampled_from((s.dtype, x.sig.dtype)))
    return _emit(s, "full", [], {"shape": tuple(shape), "value": value, "dtype": dtype}) is not None


def _b_full_like(draw: Callable, s: _State) -> bool:
    x = _pick(draw, s)
    if x is None:
        return False
    attrs: dict[str, Any] = {"value": _scalar(draw, _FILL_VALUES)}
    if draw(st.booleans()):
        attrs["dtype"] = s.dtype
    return _emit(s, "full_like", [x], attrs) is not None


def _b_constant(draw: Callable, s: _State) -> bool:
    """A small literal tensor shaped like the trailing static dim of a value ([k] or [1, k])."""
    x = _pick(draw, s, lambda v: bool(v.sig.shape) and isinstance(v.sig.shape[-1], int) and v.sig.shape[-1] <= 8)
    k = x.sig.shape[-1] if x is not None else draw(st.integers(1, 3))
    shape = (k,) if draw(st.booleans()) else (1, k)
    values = draw(st.lists(st.sampled_from((0.5, -1.0, 2.0, 0.0, 1.5)), min_size=k, max_size=k))
    return _emit(s, "constant", [], {"value": tuple(values), "shape": shape, "dtype": s.dtype}) is not None


def _b_arange(draw: Callable, s: _State) -> bool:
    """0, 1, ... up to a symbol or a small int, as floats (so it broadcasts against a last dim)."""
    x = _pick(draw, s, lambda v: bool(v.sig.shape))
    end = x.sig.shape[-1] if x is not None and draw(st.booleans()) else _dim_choice(draw, s)
    return _emit(s, "arange", [], {"end": end, "dtype": s.dtype}) is not None


_BUILDERS: dict[str, Callable[[Callable, _State], bool]] = {}
for _n in _UNARY:
    _BUILDERS[_n] = _b_unary(_n)
for _n in (*_BINARY, "div", "pow"):
    _BUILDERS[_n] = _b_binary(_n)
_BUILDERS.update(
    {
        "where": _b_where,
        "cast": _b_cast,
        "linear": _b_linear,
        "matmul": _b_matmul,
        "reshape": _b_reshape,
        "transpose": _b_transpose,
        "permute": _b_permute,
        "flatten": _b_flatten,
        "unsqueeze": _b_unsqueeze,
        "squeeze": _b_squeeze,
        "expand": _b_expand,
        "softmax": _b_softmax("softmax"),
        "log_softmax": _b_softmax("log_softmax"),
        "layer_norm": _b_layer_norm,
        "sum": _b_reduce("sum"),
        "mean": _b_reduce("mean"),
        "amax": _b_reduce("amax"),
        "amin": _b_reduce("amin"),
        "concat": _b_concat,
        "slice": _b_slice,
        "split": _b_split,
        "full": _b_full,
        "full_like": _b_full_like,
        "constant": _b_constant,
        "arange": _b_arange,
    }
)

SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(_BUILDERS))
"""Every op name :func:`modules` can generate."""


# -- public strategies -------------------------------------------------------------------------------


def dims(
    symbols: Sequence[str] = ("B", "S"), ints: Sequence[int] = (2, 3, 4), derived: bool = False
) -> st.SearchStrategy[Dim]:
    """A dim: a symbol or a small int; with ``derived``, also ``2*S`` or ``S+1``."""
    base: list[Dim] = [SymDim.symbol(x) for x in symbols] + list(ints)
    if derived:
        for x in symbols:
            base += [mul(SymDim.symbol(x), 2), SymDim.symbol(x) + 1]
    return st.sampled_from(base)


def tensor_types(
    symbols: Sequence[str] = ("B", "S"), dtype: str = "f32", min_rank: int = 1, max_rank: int = 3, derived: bool = False
) -> st.SearchStrategy[gs.TensorType]:
    """A TensorType over ``symbols`` and small ints."""
    return st.lists(dims(symbols, derived=derived), min_size=min_rank, max_size=max_rank).map(
        lambda ds: gs.tensor_type(tuple(ds), dtype)
    )


def modules(ops: Sequence[str] | None = None, **options: Any) -> st.SearchStrategy[ModuleOp]:
    """A random well-typed module holding one ``gs.graph`` (options: see :func:`_modules`).

    A bad op set is reported here, when the strategy is made, not at the first draw.
    """
    chosen = tuple(DEFAULT_OPS if ops is None else ops)
    unknown = [o for o in chosen if o not in _BUILDERS]
    if unknown:
        raise ValueError(f"modules(): no generator for op(s) {unknown}; supported: {', '.join(SUPPORTED_OPS)}")
    if not chosen:
        raise ValueError("modules(): the op set is empty")
    return _modules(chosen, **options)


@st.composite
def _modules(
    draw: Callable,
    chosen: tuple[str, ...],
    *,
    min_ops: int = 1,
    max_ops: int = 8,
    symbols: Sequence[str] = ("B", "S"),
    min_inputs: int = 1,
    max_inputs: int = 2,
    max_rank: int = 3,
    dtype: str = "f32",
    derived_inputs: bool = False,
    max_outputs: int = 2,
    max_modules: int = 3,
    names: bool = True,
    graph_name: str = "G",
    check: bool = True,
) -> ModuleOp:
    """The strategy behind :func:`modules`.

    ``ops``: op names to draw from (default :data:`DEFAULT_OPS`; see :data:`SUPPORTED_OPS`).
    ``min_ops``/``max_ops``: how many ops to draw, about five on average (helper ops such as the ``gt`` feeding a
    ``where`` or a ``transpose`` feeding a ``matmul`` come on top).  ``symbols``: the symbols the
    graph inputs may use (``()`` for static shapes).  ``min_inputs``/``max_inputs``/``max_rank``:
    graph inputs.  ``derived_inputs``: let input dims be ``2*S`` or ``S+1``.  ``max_outputs``:
    the graph returns the last value and up to ``max_outputs - 1`` earlier ones.
    ``max_modules``: nested ``module`` scopes (each op is drawn into one of them or the top
    level; ``0`` for a flat graph).  ``names``: give values names (``%0``...); without, the
    printer numbers them.  ``check``: verify the module and fail with the diagnostics when it
    does not (it always should).
    """
    # Graph inputs.
    n_inputs = draw(st.integers(min_inputs, max(min_inputs, max_inputs)))
    in_types = [
        draw(tensor_types(symbols, dtype, min_rank=1, max_rank=max_rank, derived=derived_inputs))
        for _ in range(n_inputs)
    ]
    block = Block(arg_types=in_types)
    # Only symbols that some input carries are bound; the others must not appear anywhere.
    bound = sorted(set().union(*(free_symbols(d) for t in in_types for d in t.shape)))
    s = _State(tuple(bound), dtype, block, named=names)
    arg_names = [f"x{i}" for i in range(n_inputs)]
    for v, t in zip(block.args, in_types):
        s.pool.append(_Value(v, t.sig()))

    # The module tree: paths with their class and parent, drawn up front.
    n_modules = draw(st.integers(0, max_modules))
    paths: list[tuple[str, str, str]] = []
    for i in range(n_modules):
        parent = draw(st.sampled_from(["", *(p for p, _, _ in paths)])) if paths else ""
        # Paths like torch's: named children (b0) and nn.Sequential indices (layers.0, or 0).
        leaf = draw(st.sampled_from((f"b{i}", str(i))))
        path = f"{parent}.{leaf}" if parent else leaf
        cls = draw(st.sampled_from(("Block", "MLP", "Linear", "Attention")))
        paths.append((path, cls, parent))

    # Ops: one step per op, each step a single draw (a "keep going" choice and the op's own
    # draws), so that hypothesis shrinks by deleting whole steps.
    scopes = ["", *(p for p, _, _ in paths)]
    max_ops = max(min_ops, max_ops)
    built = 0
    attempts = 0
    while built < max_ops and attempts < 4 * max_ops + 4:
        attempts += 1
        outcome = draw(_step(s, chosen, scopes, may_stop=built >= min_ops))
        if outcome is None:
            break
        built += outcome
    if built == 0:
        # Nothing in the op set applies to these inputs (e.g. only linear, and every input
        # has a symbolic last dim): hypothesis draws another example.
        raise _reject()

    # Outputs: the last value plus a few earlier ones.
    produced = [v for v in s.pool if not isinstance(v.value.owner, (Block, gs.ParamOp))]
    outputs = [produced[-1]]
    for _ in range(draw(st.integers(0, max(0, max_outputs - 1)))):
        extra = produced[draw(st.integers(0, len(produced) - 1))]
        outputs.append(extra)

    # Modules used by some op, in first-use order with parents first (as the parser records them).
    table: dict[str, tuple[str, str]] = {}
    info = {p: (c, par) for p, c, par in paths}

    def note(path: str) -> None:
        if not path or path in table:
            return
        note(info[path][1])
        table[path] = info[path]

    for op in s.ops:
        note(op.scope)

    for op in [*s.params, *s.ops]:
        block.add_op(op)
    block.add_op(gs.ReturnOp.create(operands=[o.value for o in outputs]))
    graph = gs.GraphOp.create(
        properties={
            "sym_name": StringAttr(graph_name),
            "arg_names": ArrayAttr([StringAttr(a) for a in arg_names]),
            "output_types": ArrayAttr([o.value.type for o in outputs]),
            "modules": ArrayAttr(
                [ArrayAttr([StringAttr(p), StringAttr(c), StringAttr(par)]) for p, (c, par) in table.items()]
            ),
        },
        regions=[Region(block)],
    )
    module = ModuleOp([graph])
    if check:
        from graphsynth.verifier import verify

        diags = verify(module)
        if diags:
            from graphsynth.grammar.printer import print_ir

            raise AssertionError(
                "graphsynth.testing.strategies.modules drew a module that does not verify (a generator bug):\n"
                + print_ir(module)
                + "\n".join(d.render() for d in diags)
            )
    return module


@st.composite
def _step(draw: Callable, s: _State, chosen: Sequence[str], scopes: Sequence[str], may_stop: bool) -> bool | None:
    """Add one op to ``s`` (True), fail to (False: the drawn op does not apply), or stop (None;
    only when ``may_stop``; about one step in six stops, and shrinking goes there)."""
    # The choice is drawn even when it cannot stop, so every step has the same shape and
    # deleting any one of them leaves the others aligned.
    if draw(st.integers(0, 5)) == 0 and may_stop:
        return None
    s.scope = draw(st.sampled_from(tuple(scopes))) if len(scopes) > 1 else ""
    kind = draw(st.sampled_from(tuple(chosen)))
    return _BUILDERS[kind](draw, s)


def _pretty_module(obj: Any, printer: Any, cycle: bool) -> None:
    """Hypothesis shows a drawn module (in 'Falsifying example' reports) as its gs text rather
    than xDSL's repr, which runs to tens of kilobytes."""
    from graphsynth.grammar.printer import print_ir

    try:
        text = print_ir(obj)
    except Exception:  # noqa: BLE001 - a module too broken to print still needs a repr
        printer.text(f"<ModuleOp at {id(obj):#x}>")
        return
    printer.text("parse_ir('''\n" + text + "''')")


_pretty.for_type_by_name("xdsl.dialects.builtin", "ModuleOp", _pretty_module)


def _reject() -> Exception:
    from hypothesis.errors import UnsatisfiedAssumption

    return UnsatisfiedAssumption()
