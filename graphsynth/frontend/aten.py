"""The ATen handlers of the importer: one function per ATen op family.

Each handler reads the node's arguments by schema name (``a``), emits gs ops through the
:class:`~graphsynth.frontend.convert.Converter` and binds the node's value with ``c.set``.
``out=n`` on the last emit checks the gs shape rule against torch.export's metadata.  Ops with
no gs op of their own are written with the ops that exist, exactly (``einsum`` as
permute/reshape/matmul, ``hardswish`` as its formula, ``diff`` as
slice/sub...), so the op set stays small and every backend sees only gs ops.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.dtypes import FLOAT_DTYPES
from graphsynth.dialects.symdim import Dim, add, floordiv, mul, sub
from graphsynth.dialects.traits import RightUnit
from graphsynth.frontend.handlers import BIG, Fail, Unusable, dtype_name, handles, register

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter

FLOATS = FLOAT_DTYPES


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


@handles("where", emits=(gs.Where, gs.Arange, gs.Reshape))
def _where(c: Converter, n: Any, a: dict[str, Any]) -> None:
    if "self" not in a:
        raise Fail("torch.where(cond) with one argument (nonzero) has a data-dependent shape")
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


# -- linear algebra ---------------------------------------------------------------------------


@handles("linear", emits=(gs.Linear,))
def _linear(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Linear, [c.t(a["input"]), c.t(a["weight"]), c.opt_t(a.get("bias"))], out=n))


@handles("matmul", "mm", "bmm", emits=(gs.Matmul,))
def _matmul(c: Converter, n: Any, a: dict[str, Any]) -> None:
    keys = list(a)
    c.set(n, c.e1(gs.Matmul, [c.t(a[keys[0]]), c.t(a[keys[1]])], out=n))


@handles("addmm", "baddbmm", "addbmm", emits=(gs.Add, gs.Addmm, gs.Matmul, gs.Mul))
def _addmm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    bias = c.t(a["self"])
    keys = list(a)
    lhs, rhs = c.t(a[keys[1]]), c.t(a[keys[2]])
    beta, alpha = a.get("beta", 1), a.get("alpha", 1)
    if c.op_name == "addmm" and beta == 1 and alpha == 1:
        c.set(n, c.e1(gs.Addmm, [bias, lhs, rhs], out=n))
        return
    if c.op_name == "addbmm":
        raise Fail("addbmm has no gs op")
    prod = c.e1(gs.Matmul, [lhs, rhs])
    if alpha != 1:
        prod = c.e1(gs.Mul, [prod, alpha])
    if beta == 0:
        c.set(n, prod)
        return
    if beta != 1:
        bias = c.e1(gs.Mul, [bias, beta])
    c.set(n, c.e1(gs.Add, [bias, prod], out=n))


def _ints(v: Any, k: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * k
    v = tuple(int(x) for x in v)
    return v * k if len(v) == 1 else v


@handles("conv1d", "conv2d", "convolution", "_convolution", emits=(gs.Conv1d, gs.Conv2d))
def _conv(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x, w = c.t(a["input"]), c.t(a["weight"])
    b = c.opt_t(a.get("bias"))
    if a.get("transposed"):
        raise Fail("transposed convolution has no gs op yet")
    k = len(c.sig(w).shape) - 2
    if k not in (1, 2):
        raise Fail(f"{k}-d convolution has no gs op (conv1d and conv2d only)")
    stride, dilation = _ints(a["stride"], k), _ints(a["dilation"], k)
    padding = a["padding"]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * k
        else:
            ks = c.sig(w).shape[2:]
            pads = []
            for kk, d in zip(ks, dilation):
                total = d * (kk - 1)
                if total % 2:
                    raise Fail("padding='same' with an even kernel pads unevenly; gs conv pads symmetrically")
                pads.append(total // 2)
            padding = tuple(pads)
    padding = _ints(padding, k)
    if a.get("output_padding") and any(a["output_padding"]):
        raise Fail("output_padding is only meaningful for transposed convolution")
    attrs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": int(a["groups"])}
    c.set(n, c.e1(gs.Conv2d if k == 2 else gs.Conv1d, [x, w, b], attrs, out=n))


@handles("max_pool2d", "max_pool2d_with_indices", emits=(gs.MaxPool2d,))
def _max_pool(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    kernel = _ints(a["kernel_size"], 2)
    stride = _ints(a["stride"], 2) if a.get("stride") else kernel
    attrs = {"kernel_size": kernel, "stride": stride, "padding": _ints(a["padding"], 2), "dilation": _ints(a["dilation"], 2), "ceil_mode": bool(a["ceil_mode"])}
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    if c.op_name == "max_pool2d_with_indices":
        out = c.e1(gs.MaxPool2d, [x], attrs, out=[c.meta_sigs(n)[0]])
        c.set(n, (out, Unusable("max_pool2d's indices")))
        return
    c.set(n, c.e1(gs.MaxPool2d, [x], attrs, out=n))


@handles("avg_pool2d", emits=(gs.AvgPool2d,))
def _avg_pool(c: Converter, n: Any, a: dict[str, Any]) -> None:
    if a.get("divisor_override") is not None:
        raise Fail("avg_pool2d with divisor_override has no gs op")
    kernel = _ints(a["kernel_size"], 2)
    attrs = {
        "kernel_size": kernel,
        "stride": _ints(a["stride"], 2) if a.get("stride") else kernel,
        "padding": _ints(a["padding"], 2),
        "ceil_mode": bool(a["ceil_mode"]),
        "count_include_pad": bool(a["count_include_pad"]),
    }
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    c.set(n, c.e1(gs.AvgPool2d, [c.t(a["self"])], attrs, out=n))


@handles("adaptive_avg_pool2d", "_adaptive_avg_pool2d", emits=(gs.AdaptiveAvgPool2d,))
def _adaptive_pool(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.AdaptiveAvgPool2d, [c.t(a["self"])], {"output_size": _ints(a["output_size"], 2)}, out=n))


_UPSAMPLE = {
    "upsample_nearest1d": "nearest", "upsample_nearest2d": "nearest", "upsample_nearest3d": "nearest",
    "_upsample_nearest_exact1d": "nearest-exact", "_upsample_nearest_exact2d": "nearest-exact",
    "upsample_linear1d": "linear", "upsample_bilinear2d": "bilinear", "upsample_bicubic2d": "bicubic",
    "upsample_trilinear3d": "trilinear",
}


@handles(*_UPSAMPLE, emits=(gs.Interpolate,))
def _upsample(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["input"] if "input" in a else a["self"])
    if a.get("antialias"):
        raise Fail("antialiased interpolation has no gs op")
    mode = _UPSAMPLE[c.op_name]
    out = c.out_sig(n)
    scales = a.get("scale_factors")
    if scales is None:
        # The .default overloads pass one optional scale per spatial dim.
        per_dim = [a.get(k) for k in ("scales", "scales_d", "scales_h", "scales_w") if k in a]
        scales = per_dim if per_dim and all(v is not None for v in per_dim) else None
    attrs = {
        "size": out.shape[2:],
        "mode": mode,
        "align_corners": None if mode in ("nearest", "nearest-exact") else bool(a.get("align_corners")),
        "scales": None if scales is None else [float(v) for v in scales],
    }
    c.set(n, c.e1(gs.Interpolate, [x], attrs, out=n))


@handles("max_pool1d", "max_pool1d_with_indices", emits=(gs.MaxPool1d,))
def _max_pool1d(c: Converter, n: Any, a: dict[str, Any]) -> None:
    kernel = _ints(a["kernel_size"], 1)
    attrs = {"kernel_size": kernel, "stride": _ints(a["stride"], 1) if a.get("stride") else kernel,
             "padding": _ints(a["padding"], 1), "dilation": _ints(a["dilation"], 1), "ceil_mode": bool(a["ceil_mode"])}
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    x = c.t(a["self"])
    if c.op_name == "max_pool1d_with_indices":
        c.set(n, (c.e1(gs.MaxPool1d, [x], attrs, out=[c.meta_sigs(n)[0]]), Unusable("max_pool1d's indices")))
        return
    c.set(n, c.e1(gs.MaxPool1d, [x], attrs, out=n))


@handles("avg_pool1d", emits=(gs.AvgPool1d,))
def _avg_pool1d(c: Converter, n: Any, a: dict[str, Any]) -> None:
    kernel = _ints(a["kernel_size"], 1)
    attrs = {"kernel_size": kernel, "stride": _ints(a["stride"], 1) if a.get("stride") else kernel,
             "padding": _ints(a["padding"], 1), "ceil_mode": bool(a["ceil_mode"]),
             "count_include_pad": bool(a["count_include_pad"])}
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    c.set(n, c.e1(gs.AvgPool1d, [c.t(a["self"])], attrs, out=n))


@handles("adaptive_avg_pool1d", emits=(gs.AdaptiveAvgPool1d,))
def _adaptive_pool1d(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.AdaptiveAvgPool1d, [c.t(a["self"])], {"output_size": _ints(a["output_size"], 1)}, out=n))


# -- normalisation, attention, lookups ------------------------------------------------------------


@handles("layer_norm", "native_layer_norm", emits=(gs.LayerNorm,))
def _layer_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["input"])
    attrs = {"normalized_shape": tuple(c.dim(d) for d in a["normalized_shape"]), "eps": float(a["eps"])}
    args = [x, c.opt_t(a.get("weight")), c.opt_t(a.get("bias"))]
    if c.op_name == "native_layer_norm":
        out = c.e1(gs.LayerNorm, args, attrs, out=[c.meta_sigs(n)[0]])
        c.set(n, (out, Unusable("layer_norm's mean"), Unusable("layer_norm's rstd")))
        return
    c.set(n, c.e1(gs.LayerNorm, args, attrs, out=n))


@handles("rms_norm", emits=(gs.RmsNorm,))
def _rms_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    attrs = {"normalized_shape": tuple(c.dim(d) for d in a["normalized_shape"]), "eps": None if a.get("eps") is None else float(a["eps"])}
    c.set(n, c.e1(gs.RmsNorm, [c.t(a["input"]), c.opt_t(a.get("weight"))], attrs, out=n))


@handles("batch_norm", "_native_batch_norm_legit_no_training", "native_batch_norm", "_native_batch_norm_legit", emits=(gs.BatchNorm,))
def _batch_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    name = c.op_name
    x = c.t(a["input"])
    args = [x, c.opt_t(a.get("weight")), c.opt_t(a.get("bias")), c.opt_t(a.get("running_mean")), c.opt_t(a.get("running_var"))]
    training = bool(a.get("training", False))
    attrs = {"eps": float(a["eps"]), "momentum": float(a["momentum"] if a.get("momentum") is not None else 0.1), "training": training}
    if name == "batch_norm":
        c.set(n, c.e1(gs.BatchNorm, args, attrs, out=n))
        return
    out = c.e1(gs.BatchNorm, args, attrs, out=[c.meta_sigs(n)[0]])
    c.set(n, (out, Unusable("batch_norm's saved mean"), Unusable("batch_norm's saved rstd")))


@handles("group_norm", "native_group_norm", emits=(gs.GroupNorm,))
def _group_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["input"])
    groups = int(a.get("num_groups") or a.get("group"))
    args = [x, c.opt_t(a.get("weight")), c.opt_t(a.get("bias"))]
    attrs = {"num_groups": groups, "eps": float(a["eps"])}
    if c.op_name == "native_group_norm":
        out = c.e1(gs.GroupNorm, args, attrs, out=[c.meta_sigs(n)[0]])
        c.set(n, (out, Unusable("group_norm's mean"), Unusable("group_norm's rstd")))
        return
    c.set(n, c.e1(gs.GroupNorm, args, attrs, out=n))


@handles("softmax", "_softmax", "log_softmax", "_log_softmax", "special_softmax", emits=(gs.LogSoftmax, gs.Softmax))
def _softmax(c: Converter, n: Any, a: dict[str, Any]) -> None:
    cls = gs.LogSoftmax if "log" in c.op_name else gs.Softmax
    x = c.t(a["self"])
    out_dtype = c.out_sig(n).dtype
    attrs = {"dim": int(a["dim"]), "dtype": out_dtype if out_dtype != c.sig(x).dtype else None}
    c.set(n, c.e1(cls, [x], attrs, out=n))


@handles("embedding", emits=(gs.Embedding,))
def _embedding(c: Converter, n: Any, a: dict[str, Any]) -> None:
    pad = a.get("padding_idx", -1)
    attrs = {"padding_idx": int(pad) if pad is not None and pad >= 0 else None}
    c.set(n, c.e1(gs.Embedding, [c.t(a["weight"]), c.t(a["indices"])], attrs, out=n))


@handles("scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_attention_math", emits=(gs.Attention, gs.Expand, gs.Reshape, gs.Unsqueeze))
def _sdpa(c: Converter, n: Any, a: dict[str, Any]) -> None:
    q, k, v = c.t(a["query"]), c.t(a["key"]), c.t(a["value"])
    mask = c.opt_t(a.get("attn_mask"))
    if a.get("enable_gqa"):
        k, v = _repeat_heads(c, q, k), _repeat_heads(c, q, v)
    attrs = {"is_causal": bool(a.get("is_causal")), "scale": None if a.get("scale") is None else float(a["scale"]), "dropout_p": float(a.get("dropout_p") or 0.0)}
    if c.op_name == "scaled_dot_product_attention":
        c.set(n, c.e1(gs.Attention, [q, k, v, mask], attrs, out=n))
        return
    out = c.e1(gs.Attention, [q, k, v, mask], attrs, out=[c.meta_sigs(n)[0]])
    c.set(n, (out,) + tuple(Unusable("attention's auxiliary output") for _ in c.meta_sigs(n)[1:]))


def _repeat_heads(c: Converter, q: SSAValue, kv: SSAValue) -> SSAValue:
    """Grouped-query attention: repeat each key/value head to match the query heads."""
    qs, ks = c.sig(q).shape, c.sig(kv).shape
    hq, hk = qs[-3], ks[-3]
    if compare(hq, hk) is True:
        return kv
    if not isinstance(hq, int) or not isinstance(hk, int) or hq % hk:
        raise Fail(f"enable_gqa with {hq} query heads and {hk} key heads")
    rep = hq // hk
    x = c.e1(gs.Unsqueeze, [kv], {"dim": len(ks) - 2})
    shape = ks[:-2] + (rep,) + ks[-2:]
    x = c.e1(gs.Expand, [x], {"shape": shape})
    return c.e1(gs.Reshape, [x], {"shape": ks[:-3] + (hq,) + ks[-2:]})


# -- shape manipulation ---------------------------------------------------------------------------


@handles("view", "reshape", "_unsafe_view", "view_as", "reshape_as", "unflatten", "view_copy", emits=(gs.Reshape,))
def _reshape(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    if c.same_as(x, n):
        c.set(n, x)
        return
    c.set(n, c.e1(gs.Reshape, [x], {"shape": c.out_sig(n).shape}, out=n))


@handles("flatten", emits=(gs.Flatten, gs.Reshape))
def _flatten(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    if c.same_as(x, n):
        c.set(n, x)
        return
    if getattr(n.target, "_overloadname", "") != "using_ints":
        c.set(n, c.e1(gs.Reshape, [x], {"shape": c.out_sig(n).shape}, out=n))
        return
    c.set(n, c.e1(gs.Flatten, [x], {"start_dim": int(a["start_dim"]), "end_dim": int(a["end_dim"])}, out=n))


@handles("expand", "expand_as", "broadcast_to", "expand_copy", emits=(gs.Expand,))
def _expand(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    if c.same_as(x, n):
        c.set(n, x)
        return
    c.set(n, c.e1(gs.Expand, [x], {"shape": c.out_sig(n).shape}, out=n))


@handles("permute", "permute_copy", emits=(gs.Permute,))
def _permute(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    dims = [int(d) for d in a["dims"]]
    r = len(c.sig(x).shape)
    if [d % r for d in dims] == list(range(r)) if r else True:
        c.set(n, x)
        return
    c.set(n, c.e1(gs.Permute, [x], {"dims": dims}, out=n))


@handles("transpose", "swapaxes", "swapdims", "t", "numpy_T", emits=(gs.Permute, gs.Transpose))
def _transpose(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    r = len(c.sig(x).shape)
    if c.op_name in ("t", "numpy_T"):
        if r < 2:
            c.set(n, x)
            return
        d0, d1 = (0, 1) if r == 2 else (0, r - 1)
        if c.op_name == "numpy_T" and r > 2:
            c.set(n, c.e1(gs.Permute, [x], {"dims": list(range(r))[::-1]}, out=n))
            return
    else:
        keys = list(a)
        d0, d1 = int(a[keys[1]]), int(a[keys[2]])
    if r == 0 or d0 % r == d1 % r:
        c.set(n, x)
        return
    c.set(n, c.e1(gs.Transpose, [x], {"dim0": d0, "dim1": d1}, out=n))


@handles("mT", "mH", "adjoint", emits=(gs.Transpose,))
def _matrix_transpose(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    c.set(n, c.e1(gs.Transpose, [x], {"dim0": -2, "dim1": -1}, out=n))


@handles("movedim", emits=(gs.Permute,))
def _movedim(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    r = len(c.sig(x).shape)
    src = _ints(a["source"], 1)
    dst = _ints(a["destination"], 1)
    src = [s % r for s in src]
    dst = [d % r for d in dst]
    order = [None] * r
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(k for k in range(r) if k not in src)
    dims = [o if o is not None else next(rest) for o in order]
    c.set(n, c.e1(gs.Permute, [x], {"dims": dims}, out=n) if dims != list(range(r)) else x)


@handles("unsqueeze", "unsqueeze_copy", emits=(gs.Unsqueeze,))
def _unsqueeze(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Unsqueeze, [c.t(a["self"])], {"dim": int(a["dim"])}, out=n))


@handles("squeeze", "squeeze_copy", emits=(gs.Squeeze,))
def _squeeze(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    if c.same_as(x, n):
        c.set(n, x)
        return
    dims = a.get("dim")
    dims = None if dims is None else _ints(dims, 1)
    c.set(n, c.e1(gs.Squeeze, [x], {"dims": dims}, out=n))


@handles("cat", "concat", "concatenate", emits=(gs.Concat,))
def _cat(c: Converter, n: Any, a: dict[str, Any]) -> None:
    xs = [c.t(x) for x in a["tensors"]]
    want = c.out_sig(n).dtype
    xs = [c.cast(x, want) for x in xs]
    xs = [x for x in xs if not (len(c.sig(x).shape) == 1 and c.sig(x).shape[0] == 0)] or xs[:1]
    if len(xs) == 1:
        c.set(n, xs[0])
        return
    c.set(n, c.e1(gs.Concat, xs, {"dim": int(a["dim"])}, out=n))


@handles("stack", emits=(gs.Concat, gs.Unsqueeze))
def _stack(c: Converter, n: Any, a: dict[str, Any]) -> None:
    dim = int(a["dim"])
    xs = [c.e1(gs.Unsqueeze, [c.t(x)], {"dim": dim}) for x in a["tensors"]]
    c.set(n, xs[0] if len(xs) == 1 else c.e1(gs.Concat, xs, {"dim": dim}, out=n))


@handles("slice", "slice_copy", emits=(gs.Slice,))
def _slice(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    dim = int(a["dim"])
    start = 0 if a.get("start") is None else c.dim(a["start"])
    end = None if a.get("end") is None else c.dim(a["end"])
    if isinstance(end, int) and end >= BIG:
        end = None
    step = int(a.get("step") or 1)
    if c.same_as(x, n) and step == 1:
        c.set(n, x)
        return
    attrs = {"dim": dim, "start": start, "end": end, "step": step}
    c.set(n, c.e1(gs.Slice, [x], attrs, out=n))


@handles("narrow", emits=(gs.Slice,))
def _narrow(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    start = c.dim(a["start"])
    attrs = {"dim": int(a["dim"]), "start": start, "end": add(start, c.dim(a["length"]))}
    c.set(n, c.e1(gs.Slice, [x], attrs, out=n))


@handles("select", "select_copy", emits=(gs.Select,))
def _select(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Select, [c.t(a["self"])], {"dim": int(a["dim"]), "index": c.dim(a["index"])}, out=n))


@handles("split", "split_with_sizes", "chunk", "tensor_split", "unsafe_split", "split_copy", emits=(gs.Split,))
def _split(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    dim = int(a["dim"])
    outs = c.meta_sigs(n)
    r = len(c.sig(x).shape)
    sizes = tuple(s.shape[dim % r] for s in outs)
    if len(outs) == 1:
        c.set(n, (x,))
        return
    c.set(n, tuple(c.emit(gs.Split, [x], {"dim": dim, "sizes": sizes}, out=outs)))


@handles("unbind", emits=(gs.Split, gs.Squeeze))
def _unbind(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    dim = int(a["dim"])
    outs = c.meta_sigs(n)
    parts = c.emit(gs.Split, [x], {"dim": dim, "sizes": (1,) * len(outs)}) if len(outs) > 1 else [x]
    c.set(n, tuple(c.e1(gs.Squeeze, [p], {"dims": (dim,)}, out=[o]) for p, o in zip(parts, outs)))


@handles("index", emits=(gs.GatherRows, gs.Index))
def _index(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    idx = list(a["indices"])
    dims = [k for k, i in enumerate(idx) if i is not None]
    tensors = [c.t(idx[k]) for k in dims]
    for t in tensors:
        if c.sig(t).dtype == "bool":
            raise Fail("boolean mask indexing x[mask] has a data-dependent shape", fix="use torch.where or masked_fill instead")
    if dims == [0] and len(tensors) == 1:
        c.set(n, c.e1(gs.GatherRows, [x, tensors[0]], out=n))
        return
    c.set(n, c.e1(gs.Index, [x, *tensors], {"dims": dims if dims != list(range(len(dims))) else None}, out=n))


@handles("index_put", emits=(gs.Reshape, gs.Where))
def _index_put(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """x[mask] = v with a boolean mask of x's shape and one value: where(mask, v, x)."""
    x = c.t(a["self"])
    idx = list(a["indices"])
    if a.get("accumulate"):
        raise Fail("index_put with accumulate=True (x[i] += v) has no gs op")
    if len(idx) != 1 or idx[0] is None or c.sig(c.t(idx[0])).dtype != "bool":
        raise Fail("assigning through integer indices (x[i] = v) has no gs op", fix="use torch.where with a mask")
    mask = c.t(idx[0])
    if len(c.sig(mask).shape) != len(c.sig(x).shape):
        raise Fail("x[mask] = v with a mask of lower rank than x has no gs form", fix="expand the mask to x's shape")
    v = c.t(a["values"])
    if not all(d == 1 for d in c.sig(v).shape):
        raise Fail("x[mask] = values with one value per selected element has a data-dependent shape")
    v = c.cast(c.e1(gs.Reshape, [v], {"shape": ()}) if c.sig(v).shape else v, c.sig(x).dtype)
    c.set(n, c.e1(gs.Where, [mask, v, x], out=n))


@handles("index_select", emits=(gs.IndexSelect,))
def _index_select(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.IndexSelect, [c.t(a["self"]), c.t(a["index"])], {"dim": int(a["dim"])}, out=n))


@handles("gather", emits=(gs.Gather,))
def _gather(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Gather, [c.t(a["self"]), c.t(a["index"])], {"dim": int(a["dim"])}, out=n))


@handles("pad", "constant_pad_nd", emits=(gs.Pad,))
def _pad(c: Converter, n: Any, a: dict[str, Any]) -> None:
    mode = a.get("mode", "constant")
    if mode not in (None, "constant"):
        raise Fail(f"pad mode '{mode}' has no gs op (constant padding only)")
    pads = [c.dim(p) for p in a["pad"]]
    value = a.get("value")
    attrs = {"pad": pads, "value": 0.0 if value is None else float(value)}
    c.set(n, c.e1(gs.Pad, [c.t(a["self"])], attrs, out=n))


@handles("repeat", emits=(gs.Repeat,))
def _repeat(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    reps = tuple(c.dim(r) for r in a["repeats"])
    if all(r == 1 for r in reps) and len(reps) == len(c.sig(x).shape):
        c.set(n, x)
        return
    c.set(n, c.e1(gs.Repeat, [x], {"repeats": reps}, out=n))


@handles("repeat_interleave", emits=(gs.Expand, gs.Reshape, gs.Unsqueeze))
def _repeat_interleave(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """x.repeat_interleave(r, dim) = x.unsqueeze(dim+1).expand(..., r, ...).reshape(...)."""
    if getattr(n.target, "_overloadname", "") != "self_int":
        raise Fail("repeat_interleave with a tensor of repeats has a data-dependent shape", fix="repeat by an int")
    x = c.t(a["self"])
    reps = c.dim(a["repeats"])
    shape = c.sig(x).shape
    if a.get("dim") is None:
        x = c.e1(gs.Reshape, [x], {"shape": (_numel(shape),)})
        dim = 0
    else:
        dim = int(a["dim"]) % len(shape)
    shape = c.sig(x).shape
    y = c.e1(gs.Unsqueeze, [x], {"dim": dim + 1})
    y = c.e1(gs.Expand, [y], {"shape": shape[: dim + 1] + (reps,) + shape[dim + 1 :]})
    c.set(n, c.e1(gs.Reshape, [y], {"shape": c.out_sig(n).shape}, out=n))


def _numel(shape: tuple[Dim, ...]) -> Dim:
    total: Dim = 1
    for d in shape:
        total = mul(total, d)
    return total


@handles("roll", emits=(gs.Roll,))
def _roll(c: Converter, n: Any, a: dict[str, Any]) -> None:
    dims = _ints(a["dims"], 1) if a.get("dims") else None
    c.set(n, c.e1(gs.Roll, [c.t(a["self"])], {"shifts": _ints(a["shifts"], 1), "dims": dims}, out=n))


@handles("flip", emits=(gs.Flip,))
def _flip(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Flip, [c.t(a["self"])], {"dims": _ints(a["dims"], 1)}, out=n))


@handles("outer", "ger", emits=(gs.Mul, gs.Unsqueeze))
def _outer(c: Converter, n: Any, a: dict[str, Any]) -> None:
    keys = list(a)
    lhs = c.e1(gs.Unsqueeze, [c.t(a[keys[0]])], {"dim": 1})
    rhs = c.e1(gs.Unsqueeze, [c.t(a[keys[1]])], {"dim": 0})
    c.set(n, c.e1(gs.Mul, [lhs, rhs], out=n))


@handles("one_hot", emits=(gs.OneHot,))
def _one_hot(c: Converter, n: Any, a: dict[str, Any]) -> None:
    k = int(a["num_classes"])
    if k < 0:
        raise Fail("one_hot without num_classes has a data-dependent shape", fix="pass num_classes")
    c.set(n, c.e1(gs.OneHot, [c.t(a["self"])], {"num_classes": k}, out=n))


@handles("any", "all", emits=(gs.Eq, gs.Ne, gs.Sum))
def _any_all(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """any(x) = sum(x != 0) != 0; all(x) = sum(x == 0) == 0 (counted in i64)."""
    x = c.t(a["self"])
    test = c.e1(gs.Ne if c.op_name == "any" else gs.Eq, [x, False if c.sig(x).dtype == "bool" else 0])
    count = c.e1(gs.Sum, [test], {"dims": _dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False)), "dtype": "i64"})
    c.set(n, c.e1(gs.Ne if c.op_name == "any" else gs.Eq, [count, 0], out=n))


@handles("einsum", emits=(gs.Matmul, gs.Permute, gs.Reshape, gs.Sum))
def _einsum(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """einsum as permute/reshape/matmul (two operands at a time) and sums of lone indices."""
    eq = str(a["equation"]).replace(" ", "")
    xs = [c.t(x) for x in a["tensors"]]
    if "..." in eq:
        raise Fail("einsum with '...' has no gs form yet", fix="spell out the dims in the equation")
    lhs, _, out = eq.partition("->")
    terms = lhs.split(",")
    if not _ or len(terms) != len(xs):
        raise Fail("einsum needs an explicit '->' output and one term per operand")
    if any(len(set(t)) != len(t) for t in terms):
        raise Fail("einsum with a repeated index in one operand (a diagonal) has no gs form")
    v, t = _einsum_reduce(c, xs[0], terms[0], keep=set(out) | set("".join(terms[1:])))
    for k in range(1, len(xs)):
        rest = set(out) | set("".join(terms[k + 1 :]))
        x, term = _einsum_reduce(c, xs[k], terms[k], keep=rest | set(t))
        v, t = _einsum_pair(c, v, t, x, term, keep=rest)
    v, t = _einsum_reduce(c, v, t, keep=set(out))
    if t != out:
        v = c.e1(gs.Permute, [v], {"dims": [t.index(ch) for ch in out]})
    c.set(n, v if c.same_as(v, n) else c.e1(gs.Reshape, [v], {"shape": c.out_sig(n).shape}, out=n))


def _einsum_reduce(c: Converter, x: SSAValue, term: str, keep: set[str]) -> tuple[SSAValue, str]:
    drop = [k for k, ch in enumerate(term) if ch not in keep]
    if not drop:
        return x, term
    return c.e1(gs.Sum, [x], {"dims": tuple(drop)}), "".join(ch for ch in term if ch in keep)


def _einsum_pair(c: Converter, x: SSAValue, tx: str, y: SSAValue, ty: str, keep: set[str]) -> tuple[SSAValue, str]:
    """x[tx] * y[ty] summed over the shared indices not in ``keep``, as one batched matmul."""
    batch = [ch for ch in tx if ch in ty and ch in keep]
    contract = [ch for ch in tx if ch in ty and ch not in keep]
    left = [ch for ch in tx if ch not in ty]
    right = [ch for ch in ty if ch not in tx]
    sx, sy = dict(zip(tx, c.sig(x).shape)), dict(zip(ty, c.sig(y).shape))

    def arrange(v: SSAValue, t: str, order: list[str], sizes: dict[str, Dim], groups: list[list[str]]) -> SSAValue:
        if list(t) != order:
            v = c.e1(gs.Permute, [v], {"dims": [t.index(ch) for ch in order]})
        shape = tuple(sizes[ch] for ch in batch) + tuple(_numel(tuple(sizes[ch] for ch in g)) for g in groups)
        return c.e1(gs.Reshape, [v], {"shape": shape}) if shape != c.sig(v).shape else v

    xm = arrange(x, tx, batch + left + contract, sx, [left, contract])
    ym = arrange(y, ty, batch + contract + right, sy, [contract, right])
    prod = c.e1(gs.Matmul, [xm, ym])
    shape = tuple(sx[ch] for ch in batch + left) + tuple(sy[ch] for ch in right)
    if shape != c.sig(prod).shape:
        prod = c.e1(gs.Reshape, [prod], {"shape": shape})
    return prod, "".join(batch + left + right)


@handles("tril", "triu", emits=(gs.Tril, gs.Triu))
def _tril(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Tril if c.op_name == "tril" else gs.Triu, [c.t(a["self"])], {"diagonal": int(a["diagonal"])}, out=n))


@handles("diff", emits=(gs.Concat, gs.Ne, gs.Slice, gs.Sub))
def _diff(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """diff(x, n, dim, prepend, append) = y[1:] - y[:-1] along dim, with y = cat(prepend, x, append)."""
    x = c.t(a["self"])
    dim = int(a["dim"])
    parts = []
    if a.get("prepend") is not None:
        parts.append(c.t(a["prepend"]))
    parts.append(x)
    if a.get("append") is not None:
        parts.append(c.t(a["append"]))
    y = parts[0] if len(parts) == 1 else c.e1(gs.Concat, [c.cast(p, c.sig(x).dtype) for p in parts], {"dim": dim})
    for k in range(int(a["n"])):
        last = k == int(a["n"]) - 1
        hi = c.e1(gs.Slice, [y], {"dim": dim, "start": 1})
        lo = c.e1(gs.Slice, [y], {"dim": dim, "start": 0, "end": -1})
        y = c.e1(gs.Ne if c.sig(y).dtype == "bool" else gs.Sub, [hi, lo], out=n if last else None)
    c.set(n, y)


# -- reductions -------------------------------------------------------------------------------


def _dims_arg(v: Any) -> tuple[int, ...] | None:
    if v is None:
        return None
    if isinstance(v, int):
        return (v,)
    return tuple(int(d) for d in v) or None


_REDUCTIONS: dict[str, type[gs.GsOp]] = {"sum": gs.Sum, "mean": gs.Mean, "amax": gs.Amax, "amin": gs.Amin}


@handles("sum", "mean", "amax", "amin", "nansum", emits=tuple(_REDUCTIONS.values()))
def _reduce(c: Converter, n: Any, a: dict[str, Any]) -> None:
    name = c.op_name
    if name == "nansum":
        raise Fail("nansum has no gs op")
    x = c.t(a["self"])
    attrs: dict[str, Any] = {"dims": _dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False))}
    if name in ("sum", "mean"):
        dt = a.get("dtype")
        attrs["dtype"] = None if dt is None else dtype_name(dt)
        if name == "sum" and dt is None and c.out_sig(n).dtype != c.sig(x).dtype:
            attrs["dtype"] = c.out_sig(n).dtype  # sum of bool/int8 tensors is i64
    c.set(n, c.e1(_REDUCTIONS[name], [x], attrs, out=n))


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


@handles("linalg_vector_norm", "norm", emits=(gs.Abs, gs.Amax, gs.Mul, gs.Pow, gs.Sqrt, gs.Sum))
def _vector_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """||x||_p over dims as sum/amax of |x| (ord 1, 2, inf) or the p-th root of sum |x|^p."""
    x = c.t(a["self"] if "self" in a else a["input"])
    ord_ = a.get("ord", a.get("p", 2))
    ord_ = 2.0 if ord_ is None else float(ord_)
    if a.get("dtype") is not None:
        x = c.cast(x, dtype_name(a["dtype"]))
    red = {"dims": _dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False))}
    if ord_ == 2.0:
        y = c.e1(gs.Sum, [c.e1(gs.Mul, [x, x])], red)
        c.set(n, c.e1(gs.Sqrt, [y], out=n))
    elif ord_ == 1.0:
        c.set(n, c.e1(gs.Sum, [c.e1(gs.Abs, [x])], red, out=n))
    elif ord_ == float("inf"):
        c.set(n, c.e1(gs.Amax, [c.e1(gs.Abs, [x])], red, out=n))
    elif ord_ > 0 and math.isfinite(ord_):
        y = c.e1(gs.Sum, [c.e1(gs.Pow, [c.e1(gs.Abs, [x]), ord_])], red)
        c.set(n, c.e1(gs.Pow, [y, 1.0 / ord_], out=n))
    else:
        raise Fail(f"a vector norm of order {ord_} has no gs form")


@handles("_weight_norm", emits=(gs.Div, gs.Mul, gs.Sqrt, gs.Sum))
def _weight_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """torch.nn.utils.weight_norm: v * (g / ||v||), the norm over every dim but ``dim``."""
    v, g = c.t(a["v"]), c.t(a["g"])
    r = len(c.sig(v).shape)
    dim = int(a["dim"])
    others = tuple(k for k in range(r) if dim == -1 or k != dim % r)
    norm = c.e1(gs.Sqrt, [c.e1(gs.Sum, [c.e1(gs.Mul, [v, v])], {"dims": others, "keepdim": True})])
    c.set(n, c.e1(gs.Mul, [v, c.e1(gs.Div, [g, norm])], out=n))


@handles("var", "std", "var_mean", "std_mean", emits=(gs.Mean, gs.Sqrt, gs.Var))
def _var(c: Converter, n: Any, a: dict[str, Any]) -> None:
    name = c.op_name
    x = c.t(a["self"])
    corr = a.get("correction")
    if "unbiased" in a and a.get("unbiased") is not None:
        corr = 1 if a["unbiased"] else 0
    corr = 1 if corr is None else corr
    if float(corr) != int(corr):
        raise Fail("a fractional variance correction has no gs op")
    attrs = {"dims": _dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False)), "correction": int(corr)}
    outs = c.meta_sigs(n)
    last = name in ("var",)
    v = c.e1(gs.Var, [x], attrs, out=[outs[0]] if last else None)
    if name.startswith("std"):
        v = c.e1(gs.Sqrt, [v], out=[outs[0]])
    if name.endswith("_mean"):
        m = c.e1(gs.Mean, [x], {"dims": attrs["dims"], "keepdim": attrs["keepdim"]}, out=[outs[1]])
        c.set(n, (v, m))
        return
    c.set(n, v)


@handles("argmax", "argmin", emits=(gs.Argmax, gs.Neg))
def _argmax(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    if c.op_name == "argmin":
        x = c.e1(gs.Neg, [x])
    attrs = {"dim": None if a.get("dim") is None else int(a["dim"]), "keepdim": bool(a.get("keepdim", False))}
    c.set(n, c.e1(gs.Argmax, [x], attrs, out=n))


@handles("cumsum", emits=(gs.Cumsum,))
def _cumsum(c: Converter, n: Any, a: dict[str, Any]) -> None:
    dt = a.get("dtype")
    c.set(n, c.e1(gs.Cumsum, [c.t(a["self"])], {"dim": int(a["dim"]), "dtype": None if dt is None else dtype_name(dt)}, out=n))


@handles("cumprod", emits=(gs.Cumprod,))
def _cumprod(c: Converter, n: Any, a: dict[str, Any]) -> None:
    dt = a.get("dtype")
    c.set(n, c.e1(gs.Cumprod, [c.t(a["self"])], {"dim": int(a["dim"]), "dtype": None if dt is None else dtype_name(dt)}, out=n))


@handles("logsumexp", emits=(gs.Logsumexp,))
def _logsumexp(c: Converter, n: Any, a: dict[str, Any]) -> None:
    attrs = {"dims": _dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False))}
    c.set(n, c.e1(gs.Logsumexp, [c.t(a["self"])], attrs, out=n))


@handles("topk", emits=(gs.TopK,))
def _topk(c: Converter, n: Any, a: dict[str, Any]) -> None:
    attrs = {"k": c.dim(a["k"]), "dim": int(a.get("dim", -1)), "largest": bool(a.get("largest", True)),
             "sorted": bool(a.get("sorted", True))}
    c.set(n, tuple(c.emit(gs.TopK, [c.t(a["self"])], attrs, out=c.meta_sigs(n))))


@handles("sort", emits=(gs.Sort,))
def _sort(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """sort(x, dim, descending) and its stable overload (stable: bool | None)."""
    x = c.t(a["self"])
    attrs = {"dim": int(a.get("dim", -1)), "descending": bool(a.get("descending", False)), "stable": bool(a.get("stable") or False)}
    c.set(n, tuple(c.emit(gs.Sort, [x], attrs, out=c.meta_sigs(n))))


@handles("argsort", emits=(gs.Argsort,))
def _argsort(c: Converter, n: Any, a: dict[str, Any]) -> None:
    attrs = {"dim": int(a.get("dim", -1)), "descending": bool(a.get("descending", False)), "stable": bool(a.get("stable") or False)}
    c.set(n, c.e1(gs.Argsort, [c.t(a["self"])], attrs, out=n))


# -- creation ---------------------------------------------------------------------------------


def _fill(c: Converter, n: Any, value: Any) -> None:
    sig = c.out_sig(n)
    if isinstance(value, torch.fx.Node):
        v = c.value(value)
        if isinstance(v, SSAValue):
            v = c.cast(v, sig.dtype)
            c.set(n, v if c.same_as(v, n) else c.e1(gs.Expand, [v], {"shape": sig.shape}, out=n))
            return
        value = c.num(value, sig.dtype)
        if isinstance(value, SSAValue):  # a symbolic size as the fill value
            c.set(n, value if c.same_as(value, n) else c.e1(gs.Expand, [value], {"shape": sig.shape}, out=n))
            return
    if isinstance(value, float) and sig.dtype not in FLOATS:
        value = int(value) if sig.dtype != "bool" else bool(value)
    if sig.dtype == "bool":
        value = bool(value)
    elif sig.dtype in FLOATS and isinstance(value, bool):
        value = float(value)
    c.set(n, c.e1(gs.Full, [], {"shape": sig.shape, "value": value, "dtype": sig.dtype}, out=n))


@handles("full", "new_full", "full_like", emits=(gs.Expand, gs.Full, gs.Arange, gs.Reshape))
def _full(c: Converter, n: Any, a: dict[str, Any]) -> None:
    _fill(c, n, a["fill_value"])


@handles("zeros", "new_zeros", "zeros_like", "empty", "new_empty", "empty_like", "empty_strided", "new_empty_strided", emits=(gs.Expand, gs.Full))
def _zeros(c: Converter, n: Any, a: dict[str, Any]) -> None:
    _fill(c, n, 0)


@handles("ones", "new_ones", "ones_like", emits=(gs.Expand, gs.Full))
def _ones(c: Converter, n: Any, a: dict[str, Any]) -> None:
    _fill(c, n, 1)


@handles("scalar_tensor", emits=(gs.Expand, gs.Full, gs.Arange, gs.Reshape))
def _scalar_tensor(c: Converter, n: Any, a: dict[str, Any]) -> None:
    _fill(c, n, a["s"])


@handles("arange", emits=(gs.Arange,))
def _arange(c: Converter, n: Any, a: dict[str, Any]) -> None:
    overload = n.target._overloadname
    start: Any = 0
    step: Any = 1
    if overload == "default":
        end = a["end"]
    else:
        start, end = a["start"], a["end"]
        if overload == "start_step":
            step = a["step"]
    vals = []
    for v in (start, end, step):
        if isinstance(v, float):
            if not v.is_integer():
                raise Fail("arange with fractional bounds or step has no gs op (integer bounds only)")
            v = int(v)
        vals.append(c.dim(v) if isinstance(v, torch.fx.Node) else v)
    start, end, step = vals
    if not isinstance(step, int) or step <= 0:
        raise Fail(f"arange with step {step} has no gs op (positive integer steps only)")
    c.set(n, c.e1(gs.Arange, [], {"start": start, "end": end, "step": step, "dtype": c.out_sig(n).dtype}, out=n))


# -- in-place base forms -------------------------------------------------------------------------


def _copy(c: Converter, n: Any, a: dict[str, Any]) -> None:
    dst, src = c.t(a["self"]), c.t(a["src"])
    sig = c.sig(dst)
    v = c.cast(src, sig.dtype)
    if not c.same_as(v, n):
        v = c.e1(gs.Expand, [v], {"shape": sig.shape}, out=n)
    c.set(n, v)


def _fill_inplace(c: Converter, n: Any, a: dict[str, Any]) -> None:
    _fill(c, n, a["value"])


def _zero_inplace(c: Converter, n: Any, a: dict[str, Any]) -> None:
    _fill(c, n, 0)


register("_copy", _copy)
register("copy", _copy)
register("_fill", _fill_inplace)
register("fill", _fill_inplace)
register("_zero", _zero_inplace)


# -- higher-order ops -----------------------------------------------------------------------------


@handles("wrap_with_set_grad_enabled", "wrap_with_autocast", "wrap", "tag_activation_checkpoint")
def _wrap(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """Inline the subgraph: set_grad_enabled/autocast only change how it runs, and the meta of
    the nodes inside already carries the dtypes autocast produced."""
    k = next((i for i, x in enumerate(n.args) if isinstance(x, torch.fx.Node) and x.op == "get_attr"), None)
    if k is None:
        raise Fail(f"{c.op_name} without a subgraph")
    gm = c.env.get(n.args[k])
    if not isinstance(gm, torch.fx.GraphModule):
        raise Fail(f"{c.op_name}: its subgraph is not a GraphModule")
    inputs = [c.value(x) if isinstance(x, torch.fx.Node) else x for x in n.args[k + 1 :]]
    result = c.inline(gm, inputs)
    c.set(n, tuple(result))



# -- grids and patches ----------------------------------------------------------------------------


@handles("meshgrid", emits=(gs.Reshape, gs.Expand))
def _meshgrid(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """meshgrid(x0, x1, ...): each 1-d input reshaped to lie along its own dim and expanded to
    the grid (``indexing="xy"`` swaps the first two dims, as numpy does)."""
    xs = [c.t(x) for x in a["tensors"]]
    outs = c.meta_sigs(n)
    k = len(xs)
    order = list(range(k))
    if (a.get("indexing") or "ij") == "xy" and k >= 2:
        order[0], order[1] = 1, 0
    grid = []
    for i, (x, o) in enumerate(zip(xs, outs)):
        sig = c.sig(x)
        if len(sig.shape) > 1:
            raise Fail("meshgrid of a tensor of rank > 1")
        shape = [1] * k
        shape[order[i]] = sig.shape[0] if sig.shape else 1
        v = c.e1(gs.Reshape, [x], {"shape": tuple(shape)})
        grid.append(c.e1(gs.Expand, [v], {"shape": o.shape}, out=[o]))
    c.set(n, tuple(grid))


@handles("im2col", emits=(gs.Pad, gs.Slice, gs.Unsqueeze, gs.Concat, gs.Reshape))
def _im2col(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """F.unfold: [B, C, H, W] -> [B, C*kh*kw, L], written with the ops that exist: pad, one
    strided slice per kernel offset, stacked after the channel dim, and a reshape."""
    x = c.t(a["self"])
    shape = c.sig(x).shape
    if len(shape) != 4:
        raise Fail("im2col of a tensor that is not [B, C, H, W]")
    kh, kw = _ints(a["kernel_size"], 2)
    dh, dw = _ints(a["dilation"], 2)
    ph, pw = _ints(a["padding"], 2)
    sh, sw = _ints(a["stride"], 2)
    if ph or pw:
        x = c.e1(gs.Pad, [x], {"pad": (pw, pw, ph, ph)})
    b, ch, hp, wp = c.sig(x).shape
    ho = add(floordiv(sub(hp, dh * (kh - 1) + 1), sh), 1)
    wo = add(floordiv(sub(wp, dw * (kw - 1) + 1), sw), 1)
    pieces = []
    for i in range(kh):
        for j in range(kw):
            v = c.e1(gs.Slice, [x], {"dim": 2, "start": i * dh, "end": add(i * dh + 1, mul(sh, sub(ho, 1))), "step": sh})
            v = c.e1(gs.Slice, [v], {"dim": 3, "start": j * dw, "end": add(j * dw + 1, mul(sw, sub(wo, 1))), "step": sw})
            pieces.append(c.e1(gs.Unsqueeze, [v], {"dim": 2}))
    y = pieces[0] if len(pieces) == 1 else c.e1(gs.Concat, pieces, {"dim": 2})
    c.set(n, c.e1(gs.Reshape, [y], {"shape": c.out_sig(n).shape}, out=n))
