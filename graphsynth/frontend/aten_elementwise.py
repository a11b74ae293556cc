"""ATen handlers: values passed through or dropped (aliases, assertions, dropout in eval), and
the elementwise ops (unary, binary, clamp, where, masked_fill, casts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.traits import RightUnit
from graphsynth.frontend.aten_dynamic import nonzero_columns
from graphsynth.frontend.handlers import Fail, Unusable, dtype_name, handles, register

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter



def _identity(c: Converter, n: Any, a: dict[str, Any]) -> None:
    first = next(iter(a.values()))
    c.set(n, c.value(first))


def _drop(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, Unusable("an assertion that graphsynth drops"))


for _n in ("alias", "contiguous", "clone", "lift_fresh_copy", "lift_fresh", "alias_copy", "view_of"):
    register(_n, _identity)


@handles("detach", emits=(gs.Detach,))
def _detach(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """``x.detach()`` (and ``detach_``, its in-place form): the same values with the gradient
    stopped; dropping it would let gradients flow where the model stops them."""
    x = c.t(a["self"])
    c.set(n, c.e1(gs.Detach, [x], out=n))
for _n in ("_assert_tensor_metadata", "_assert_async", "sym_constrain_range", "sym_constrain_range_for_size",
           "_assert_size_stride", "_check", "_check_is_size", "_print", "record_stream"):
    register(_n, _drop)


_ASSERT_SAMPLES = 48


def _bounds(vr: Any) -> tuple[int, int]:
    """A symbol's value range as ints (an open end becomes a span of 4096 values)."""
    try:
        lo = max(int(vr.lower), 0)
    except (TypeError, ValueError, AttributeError):
        lo = 2
    try:
        hi = int(vr.upper)
    except (TypeError, ValueError, AttributeError):
        hi = lo + 4096
    return lo, min(hi, lo + 2**40)


@handles("_assert_scalar", emits=())
def _assert_scalar(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """A run-time assertion on sizes that export kept instead of a guard (it could not prove it
    over the dims' ranges).  The IR states no such condition, so it is checked here over a
    spread of values of each symbol's range: where it can fail, the dims are not really dynamic
    in that range and the import stops (GS620) rather than dropping it silently."""
    cond = a.get("self")
    val = cond.meta.get("val") if isinstance(cond, torch.fx.Node) else cond
    expr = getattr(getattr(val, "node", None), "expr", None)
    if expr is None:
        c.set(n, Unusable("an assertion that graphsynth drops"))
        return
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    if any(s.name not in c.symbols for s in syms):  # data-dependent sizes: their own handler checks them
        c.set(n, Unusable("an assertion that graphsynth drops"))
        return
    ranges = c.ep.range_constraints
    spans = []
    for s in syms:
        vr = ranges.get(s)
        lo, hi = _bounds(vr)
        spans.append((lo, hi))
    for k in range(_ASSERT_SAMPLES):
        point = {}
        for j, (s, (lo, hi)) in enumerate(zip(syms, spans)):
            width = hi - lo + 1
            point[s] = lo + (k if k < 16 else (k * 7919 + j * 104729) % width) % width
        try:
            ok = bool(expr.xreplace(point))
        except TypeError:
            ok = False
        if not ok:
            from graphsynth.frontend.symbols import format_relation

            where = ", ".join(f"{c.symbols[s.name]}={v}" for s, v in point.items())
            raise Fail(
                f"torch.export keeps the dims dynamic only where {format_relation(expr, c.symbols)} holds, "
                f"which fails at {where}",
                fix="give the dims a range or divisibility in which it holds (torch.export.Dim(min=..., max=...) or k*Dim(...)), "
                "or leave them out of dynamic_dims",
                code="GS620",
            )
    c.set(n, Unusable("an assertion that holds over the dims' ranges"))


@handles("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "native_dropout", emits=(gs.Dropout,))
def _dropout(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["input"])
    train = a.get("train")
    p = float(a.get("p") or 0.0)
    name = c.op_name
    if not train or p == 0.0:
        c.set(n, (x, Unusable("dropout's mask")) if name == "native_dropout" else x)
        return
    if name != "dropout" and name != "native_dropout":
        raise Fail(f"{name} in training mode has no gs op", fix="import the model in eval mode")
    out = c.e1(gs.Dropout, [x], {"p": p, "train": True}, out=[c.meta_sigs(n)[0]])
    c.set(n, (out, Unusable("dropout's mask")) if name == "native_dropout" else out)


# -- elementwise ------------------------------------------------------------------------------

_UNARY: dict[str, type[gs.GsOp]] = {
    "relu": gs.Relu, "silu": gs.Silu, "tanh": gs.Tanh, "sigmoid": gs.Sigmoid, "exp": gs.Exp, "log": gs.Log, "sqrt": gs.Sqrt,
    "rsqrt": gs.Rsqrt, "neg": gs.Neg, "negative": gs.Neg, "abs": gs.Abs, "sin": gs.Sin, "cos": gs.Cos, "erf": gs.Erf,
    "reciprocal": gs.Reciprocal, "logical_not": gs.LogicalNot, "sign": gs.Sign, "floor": gs.Floor, "ceil": gs.Ceil,
    "round": gs.Round, "trunc": gs.Trunc, "fix": gs.Trunc,
}


def _unary(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(_UNARY[c.op_name], [c.t(a["self"])], out=n))


for _n, _cls in _UNARY.items():
    register(_n, _unary, emits=(_cls,))


@handles("bitwise_not", emits=(gs.LogicalNot, gs.Neg, gs.Sub))
def _bitwise_not(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    if c.sig(x).dtype != "bool":  # two's complement: ~x == -x - 1, exactly, for every integer dtype
        c.set(n, c.e1(gs.Sub, [c.e1(gs.Neg, [x]), 1], out=n))
        return
    c.set(n, c.e1(gs.LogicalNot, [x], out=n))


@handles("gelu", emits=(gs.Gelu,))
def _gelu(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Gelu, [c.t(a["self"])], {"approximate": a.get("approximate") or "none"}, out=n))


@handles("leaky_relu", emits=(gs.LeakyRelu,))
def _leaky_relu(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.LeakyRelu, [c.t(a["self"])], {"negative_slope": float(a["negative_slope"])}, out=n))


@handles("softplus", emits=(gs.Softplus,))
def _softplus(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Softplus, [c.t(a["self"])], {"beta": float(a["beta"]), "threshold": float(a["threshold"])}, out=n))


@handles("hardtanh", "relu6", emits=(gs.Hardtanh,))
def _hardtanh(c: Converter, n: Any, a: dict[str, Any]) -> None:
    lo, hi = (0.0, 6.0) if c.op_name == "relu6" else (float(a["min_val"]), float(a["max_val"]))
    c.set(n, c.e1(gs.Hardtanh, [c.t(a["self"])], {"min_val": lo, "max_val": hi}, out=n))


@handles("hardsigmoid", "hardswish", emits=(gs.Add, gs.Div, gs.Hardtanh, gs.Mul))
def _hard(c: Converter, n: Any, a: dict[str, Any]) -> None:
    # hardsigmoid(x) = clamp(x / 6 + 1/2, 0, 1); hardswish(x) = x * hardsigmoid(x)
    x = c.t(a["self"])
    last = c.op_name == "hardsigmoid"
    y = c.e1(gs.Div, [x, 6.0])
    y = c.e1(gs.Add, [y, 0.5])
    y = c.e1(gs.Hardtanh, [y], {"min_val": 0.0, "max_val": 1.0}, out=n if last else None)
    c.set(n, y if last else c.e1(gs.Mul, [x, y], out=n))


@handles("clamp", "clip", "clamp_min", "clamp_max", emits=(gs.Clamp, gs.Maximum, gs.Minimum))
def _clamp(c: Converter, n: Any, a: dict[str, Any]) -> None:
    name = c.op_name
    x = c.t(a["self"])
    lo = a.get("min") if name != "clamp_max" else None
    hi = a.get("max") if name != "clamp_min" else None
    if name == "clamp_max":
        hi = a.get("max")
    if isinstance(lo, torch.fx.Node) or isinstance(hi, torch.fx.Node):
        out = x
        if lo is not None:
            out = c.e1(gs.Maximum, [out, c.num(lo)])
        if hi is not None:
            out = c.e1(gs.Minimum, [out, c.num(hi)])
        c.set(n, c.cast(out, c.out_sig(n).dtype))
        return
    c.set(n, c.e1(gs.Clamp, [x], {"min": lo, "max": hi}, out=n))


_BINARY: dict[str, type[gs.GsOp]] = {
    "add": gs.Add, "sub": gs.Sub, "mul": gs.Mul, "div": gs.Div, "true_divide": gs.Div, "pow": gs.Pow, "maximum": gs.Maximum,
    "minimum": gs.Minimum, "max": gs.Maximum, "min": gs.Minimum, "remainder": gs.Remainder, "eq": gs.Eq, "ne": gs.Ne, "lt": gs.Lt,
    "le": gs.Le, "gt": gs.Gt, "ge": gs.Ge, "logical_and": gs.LogicalAnd, "logical_or": gs.LogicalOr,
    "bitwise_and": gs.BitwiseAnd, "bitwise_or": gs.BitwiseOr, "__and__": gs.BitwiseAnd, "__or__": gs.BitwiseOr,
    "floor_divide": gs.Div, "rsub": gs.Sub, "greater": gs.Gt, "less": gs.Lt, "greater_equal": gs.Ge, "less_equal": gs.Le,
    "not_equal": gs.Ne, "multiply": gs.Mul, "subtract": gs.Sub, "divide": gs.Div,
}


class _Attrs:
    """The attributes an op would get, for the traits that ask an op (``RightUnit.when``)."""

    def __init__(self, attrs: dict[str, Any]):
        self.attrs = attrs

    def attr_values(self) -> dict[str, Any]:
        return self.attrs


def _binary(c: Converter, n: Any, a: dict[str, Any]) -> None:
    pname = c.op_name
    if pname in ("max", "min") and n.target._overloadname != "other":
        return _max_min(c, n, a)
    cls = _BINARY[pname]
    keys = list(a)
    like = _tensor_dtype(c, n, a[keys[0]], a[keys[1]])
    lhs, rhs = c.num(a[keys[0]], like), c.num(a[keys[1]], like)
    if pname == "rsub":
        lhs, rhs = rhs, lhs
    attrs: dict[str, Any] = {}
    if pname == "floor_divide":
        attrs["rounding_mode"] = "floor"
    elif cls is gs.Div and a.get("rounding_mode") is not None:
        attrs["rounding_mode"] = a["rounding_mode"]
    alpha = a.get("alpha")
    if alpha is not None and alpha != 1:
        if pname == "rsub":
            lhs = c.e1(gs.Mul, [lhs, alpha]) if isinstance(lhs, SSAValue) else lhs * alpha
        else:
            rhs = c.e1(gs.Mul, [rhs, alpha]) if isinstance(rhs, SSAValue) else rhs * alpha
    if cls in (gs.BitwiseAnd, gs.BitwiseOr):
        sigs = [c.sig(v) for v in (lhs, rhs) if isinstance(v, SSAValue)]
        if all(s.dtype == "bool" for s in sigs):
            cls = gs.LogicalAnd if cls is gs.BitwiseAnd else gs.LogicalOr
    unit = cls.get_trait(RightUnit)
    if (unit is not None and unit.when(_Attrs(attrs)) and not isinstance(rhs, SSAValue) and not isinstance(rhs, bool)
            and rhs == unit.value and c.same_as(lhs, n)):
        c.set(n, lhs)
        return
    if not isinstance(lhs, SSAValue) and not isinstance(rhs, SSAValue):
        raise Fail("elementwise op on two numbers (no tensor operand)")
    c.set(n, c.e1(cls, [lhs, rhs], attrs, out=n))


def _tensor_dtype(c: Converter, n: Any, *args: Any) -> str:
    """The dtype a symbolic size takes in elementwise arithmetic: that of the tensor operand
    (torch treats a size like a Python int scalar), else that of the result."""
    for x in args:
        if isinstance(x, torch.fx.Node):
            v = c.value(x)
            if isinstance(v, SSAValue):
                return c.sig(v).dtype
    return c.out_sig(n).dtype


for _n, _cls in _BINARY.items():
    register(_n, _binary, emits=(_cls, gs.Mul, gs.LogicalAnd, gs.LogicalOr, gs.Amax, gs.Amin, gs.Argmax, gs.Neg, gs.Arange, gs.Reshape))


@handles("where", emits=(gs.Where, gs.Arange, gs.Reshape, gs.Nonzero, gs.Select))
def _where(c: Converter, n: Any, a: dict[str, Any]) -> None:
    if "self" not in a:  # torch.where(cond): nonzero's columns, of a data-dependent length
        c.set(n, nonzero_columns(c, n, c.t(a["condition"])))
        return
    cond = c.t(a["condition"])
    like = _tensor_dtype(c, n, a["self"], a["other"])
    x, y = c.num(a["self"], like), c.num(a["other"], like)
    c.set(n, c.e1(gs.Where, [cond, x, y], out=n))


@handles("masked_fill", emits=(gs.MaskedFill,))
def _masked_fill(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x, mask = c.t(a["self"]), c.t(a["mask"])
    v = c.num(a["value"])
    if isinstance(v, SSAValue):
        v = c.cast(v, c.sig(x).dtype)
    c.set(n, c.e1(gs.MaskedFill, [x, mask, v], out=n))


def _cast_to(c: Converter, n: Any, x: SSAValue, dtype: Any) -> None:
    if dtype is None:
        c.set(n, x)
        return
    want = dtype_name(dtype)
    c.set(n, x if c.sig(x).dtype == want else c.e1(gs.Cast, [x], {"dtype": want}, out=n))


@handles("to", "_to_copy", "type_as", emits=(gs.Cast,))
def _to(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    overload = getattr(n.target, "_overloadname", "")
    if c.op_name == "type_as" or overload == "other":
        other = c.t(a["other"])
        c.set(n, c.cast(x, c.sig(other).dtype) if c.sig(other).dtype != c.sig(x).dtype else x)
        return
    dtype = a.get("dtype")
    if dtype is None:
        # .to(device) / .to(dtype=None): the same tensor on CPU
        c.set(n, x)
        return
    _cast_to(c, n, x, dtype)


@handles("log1p", emits=(gs.Log1p,))
def _log1p(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Log1p, [c.t(a["self"])], out=n))


def _max_min(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """max(x) / max(x, dim, keepdim) -> (values, indices)."""
    name = c.op_name
    x = c.t(a["self"])
    red = gs.Amax if name == "max" else gs.Amin
    if "dim" not in a or a.get("dim") is None:
        c.set(n, c.e1(red, [x], out=n))
        return
    dim, keep = int(a["dim"]), bool(a.get("keepdim", False))
    outs = c.meta_sigs(n)
    values = c.e1(red, [x], {"dims": (dim,), "keepdim": keep}, out=[outs[0]])
    src = x if name == "max" else c.e1(gs.Neg, [x])
    indices = c.e1(gs.Argmax, [src], {"dim": dim, "keepdim": keep}, out=[outs[1]])
    c.set(n, (values, indices))
