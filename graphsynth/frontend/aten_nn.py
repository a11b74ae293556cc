"""ATen handlers: linear algebra, convolutions, pooling and interpolation, normalisations,
softmax, embedding and attention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.dimcompare import compare
from graphsynth.frontend.aten_args import ints
from graphsynth.frontend.handlers import Fail, Unusable, handles

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter

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



@handles("conv1d", "conv2d", "convolution", "_convolution", emits=(gs.Conv1d, gs.Conv2d))
def _conv(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x, w = c.t(a["input"]), c.t(a["weight"])
    b = c.opt_t(a.get("bias"))
    if a.get("transposed"):
        raise Fail("transposed convolution has no gs op yet")
    k = len(c.sig(w).shape) - 2
    if k not in (1, 2):
        raise Fail(f"{k}-d convolution has no gs op (conv1d and conv2d only)")
    stride, dilation = ints(a["stride"], k), ints(a["dilation"], k)
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
    padding = ints(padding, k)
    if a.get("output_padding") and any(a["output_padding"]):
        raise Fail("output_padding is only meaningful for transposed convolution")
    attrs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": int(a["groups"])}
    c.set(n, c.e1(gs.Conv2d if k == 2 else gs.Conv1d, [x, w, b], attrs, out=n))


@handles("max_pool2d", "max_pool2d_with_indices", emits=(gs.MaxPool2d,))
def _max_pool(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    kernel = ints(a["kernel_size"], 2)
    stride = ints(a["stride"], 2) if a.get("stride") else kernel
    attrs = {"kernel_size": kernel, "stride": stride, "padding": ints(a["padding"], 2), "dilation": ints(a["dilation"], 2), "ceil_mode": bool(a["ceil_mode"])}
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
    kernel = ints(a["kernel_size"], 2)
    attrs = {
        "kernel_size": kernel,
        "stride": ints(a["stride"], 2) if a.get("stride") else kernel,
        "padding": ints(a["padding"], 2),
        "ceil_mode": bool(a["ceil_mode"]),
        "count_include_pad": bool(a["count_include_pad"]),
    }
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    c.set(n, c.e1(gs.AvgPool2d, [c.t(a["self"])], attrs, out=n))


@handles("adaptive_avg_pool2d", "_adaptive_avg_pool2d", emits=(gs.AdaptiveAvgPool2d,))
def _adaptive_pool(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.AdaptiveAvgPool2d, [c.t(a["self"])], {"output_size": ints(a["output_size"], 2)}, out=n))


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
    kernel = ints(a["kernel_size"], 1)
    attrs = {"kernel_size": kernel, "stride": ints(a["stride"], 1) if a.get("stride") else kernel,
             "padding": ints(a["padding"], 1), "dilation": ints(a["dilation"], 1), "ceil_mode": bool(a["ceil_mode"])}
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    x = c.t(a["self"])
    if c.op_name == "max_pool1d_with_indices":
        c.set(n, (c.e1(gs.MaxPool1d, [x], attrs, out=[c.meta_sigs(n)[0]]), Unusable("max_pool1d's indices")))
        return
    c.set(n, c.e1(gs.MaxPool1d, [x], attrs, out=n))


@handles("avg_pool1d", emits=(gs.AvgPool1d,))
def _avg_pool1d(c: Converter, n: Any, a: dict[str, Any]) -> None:
    kernel = ints(a["kernel_size"], 1)
    attrs = {"kernel_size": kernel, "stride": ints(a["stride"], 1) if a.get("stride") else kernel,
             "padding": ints(a["padding"], 1), "ceil_mode": bool(a["ceil_mode"]),
             "count_include_pad": bool(a["count_include_pad"])}
    if attrs["stride"] == kernel:
        attrs.pop("stride")
    c.set(n, c.e1(gs.AvgPool1d, [c.t(a["self"])], attrs, out=n))


@handles("adaptive_avg_pool1d", emits=(gs.AdaptiveAvgPool1d,))
def _adaptive_pool1d(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.AdaptiveAvgPool1d, [c.t(a["self"])], {"output_size": ints(a["output_size"], 1)}, out=n))


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
