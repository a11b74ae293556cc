"""ATen handlers: reductions, scans, sorting, creation ops, the in-place base forms, higher-order
wrappers, and grids and patches (meshgrid, im2col)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.symdim import add, floordiv, mul, sub
from graphsynth.frontend.aten_args import FLOATS, dims_arg, ints
from graphsynth.frontend.handlers import Fail, dtype_name, handles, register

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter

# -- reductions -------------------------------------------------------------------------------



_REDUCTIONS: dict[str, type[gs.GsOp]] = {"sum": gs.Sum, "mean": gs.Mean, "amax": gs.Amax, "amin": gs.Amin}


@handles("sum", "mean", "amax", "amin", "nansum", emits=tuple(_REDUCTIONS.values()))
def _reduce(c: Converter, n: Any, a: dict[str, Any]) -> None:
    name = c.op_name
    if name == "nansum":
        raise Fail("nansum has no gs op")
    x = c.t(a["self"])
    attrs: dict[str, Any] = {"dims": dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False))}
    if name in ("sum", "mean"):
        dt = a.get("dtype")
        attrs["dtype"] = None if dt is None else dtype_name(dt)
        if name == "sum" and dt is None and c.out_sig(n).dtype != c.sig(x).dtype:
            attrs["dtype"] = c.out_sig(n).dtype  # sum of bool/int8 tensors is i64
    c.set(n, c.e1(_REDUCTIONS[name], [x], attrs, out=n))



@handles("linalg_vector_norm", "norm", emits=(gs.Abs, gs.Amax, gs.Mul, gs.Pow, gs.Sqrt, gs.Sum))
def _vector_norm(c: Converter, n: Any, a: dict[str, Any]) -> None:
    """||x||_p over dims as sum/amax of |x| (ord 1, 2, inf) or the p-th root of sum |x|^p."""
    x = c.t(a["self"] if "self" in a else a["input"])
    ord_ = a.get("ord", a.get("p", 2))
    ord_ = 2.0 if ord_ is None else float(ord_)
    if a.get("dtype") is not None:
        x = c.cast(x, dtype_name(a["dtype"]))
    red = {"dims": dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False))}
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
    attrs = {"dims": dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False)), "correction": int(corr)}
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
    attrs = {"dims": dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False))}
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
    kh, kw = ints(a["kernel_size"], 2)
    dh, dw = ints(a["dilation"], 2)
    ph, pw = ints(a["padding"], 2)
    sh, sw = ints(a["stride"], 2)
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
