"""What the builders of :mod:`graphsynth.testing.builders` share: the module under construction
(:class:`State`, the pool of :class:`Value` s built so far) and the helpers that draw operands and
add an op when its shape rule accepts them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Block, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.rules import FLOAT_DTYPES, ShapeError, Sig
from graphsynth.dialects.symdim import Dim, SymDim, evaluate, free_symbols

Builder = Callable[[Callable, "State"], bool]

# Symbols are bound to integers >= this value by the soundness checks; every dim the strategy
# emits is positive there.
MIN_SYMBOL_VALUE = 3
CHECK_POINTS = (MIN_SYMBOL_VALUE, MIN_SYMBOL_VALUE + 1, 8)


# -- the module under construction -----------------------------------------------------------


@dataclass
class Value:
    value: SSAValue
    sig: Sig


@dataclass
class State:
    symbols: tuple[str, ...]
    dtype: str
    block: Block
    pool: list[Value] = field(default_factory=list)
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

    def param(self, shape: Sequence[int], dtype: str, stem: str) -> Value:
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
        return Value(op.results[0], t.sig())


def positive(d: Dim) -> bool:
    """``d`` is at least 1 wherever the symbols are >= MIN_SYMBOL_VALUE (checked at a few points
    and required to be non-decreasing in the symbols: plain polynomials with positive leading
    terms, the only derived dims the builders make)."""
    if isinstance(d, int):
        return d >= 1
    syms = free_symbols(d)
    try:
        return all(evaluate(d, dict.fromkeys(syms, v)) >= 1 for v in CHECK_POINTS) and all(
            evaluate(d, {s: (v if s == t else MIN_SYMBOL_VALUE) for s in syms}) >= 1
            for t in syms
            for v in CHECK_POINTS
        )
    except (KeyError, ZeroDivisionError):
        return False


def infer(cls: type[gs.GsOp], args: list[Any], attrs: dict[str, Any]) -> list[Sig] | None:
    """Result signatures by the op's rule (attributes with defaults filled in), or None when
    the rule rejects the operands."""
    try:
        out = gs.infer(cls, [a.sig if isinstance(a, Value) else a for a in args], attrs)
    except (ShapeError, KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    if not all(positive(d) for sig in out for d in sig.shape):
        return None
    return out


def emit(s: State, cls: type[gs.GsOp], args: list[Any], attrs: dict[str, Any]) -> list[Value] | None:
    """Build one op (if its rule accepts the operands) and add its results to the pool."""
    out = infer(cls, args, attrs)
    if out is None:
        return None
    names = [s.fresh_name() for _ in out] if s.named else None
    raw = [a.value if isinstance(a, Value) else a for a in args]
    op = gs.make_op(cls, raw, attrs, [gs.sig_type(o) for o in out], names=names, scope=s.scope)
    s.ops.append(op)
    values = [Value(r, sig) for r, sig in zip(op.results, out)]
    s.pool.extend(values)
    return values


# -- drawing helpers -------------------------------------------------------------------------------


def pick(draw: Callable, s: State, pred: Callable[[Value], bool] = lambda v: True) -> Value | None:
    """A value from the pool: the latest one (a chain; where shrinking goes), or one counted
    from the oldest (graph inputs first), for branches and residual connections.  Counting from
    the oldest keeps a pick stable when the shrinker deletes later steps."""
    cands = [v for v in s.pool if pred(v)]
    if not cands:
        return None
    if not draw(st.booleans()):
        return cands[-1]
    return cands[draw(st.integers(0, len(cands) - 1))]


def is_float(v: Value) -> bool:
    return v.sig.dtype in FLOAT_DTYPES


def scalar(draw: Callable, choices: Sequence[Any]) -> Any:
    return draw(st.sampled_from(tuple(choices)))


def dim_choice(draw: Callable, s: State, ints: Sequence[int] = (2, 3, 4)) -> Dim:
    options: list[Dim] = [SymDim.symbol(x) for x in s.symbols] + list(ints)
    return draw(st.sampled_from(options))


def hide(s: State, values: list[Value] | None) -> list[Value] | None:
    """Take ``values`` out of the pool (an index result no generated op reads as is)."""
    for v in values or ():
        s.pool.remove(v)
    return values


def pick_dim(draw: Callable, s: State, pred: Callable[[Value], bool] = lambda v: True) -> tuple[Value, int] | None:
    """A float value of rank >= 1 (and ``pred``) and one of its dims."""
    x = pick(draw, s, lambda v: is_float(v) and len(v.sig.shape) >= 1 and pred(v))
    if x is None:
        return None
    r = len(x.sig.shape)
    return x, draw(st.integers(-r, r - 1))
