"""ATen handlers: shape manipulation (views, permutes, concatenation, slicing, splitting),
indexing and padding, and the ops written with them (einsum, outer, diff)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.symdim import Dim, add, mul
from graphsynth.frontend.aten_args import dims_arg, ints
from graphsynth.frontend.aten_dynamic import boolean_index
from graphsynth.frontend.handlers import BIG, Fail, handles

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter

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
    src = ints(a["source"], 1)
    dst = ints(a["destination"], 1)
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
    dims = None if dims is None else ints(dims, 1)
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


@handles("index", emits=(gs.GatherRows, gs.Index, gs.BooleanIndex))
def _index(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    idx = list(a["indices"])
    dims = [k for k, i in enumerate(idx) if i is not None]
    tensors = [c.t(idx[k]) for k in dims]
    if any(c.sig(t).dtype == "bool" for t in tensors):  # x[mask]: a data-dependent length
        c.set(n, boolean_index(c, n, x, idx))
        return
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
    dims = ints(a["dims"], 1) if a.get("dims") else None
    c.set(n, c.e1(gs.Roll, [c.t(a["self"])], {"shifts": ints(a["shifts"], 1), "dims": dims}, out=n))


@handles("flip", emits=(gs.Flip,))
def _flip(c: Converter, n: Any, a: dict[str, Any]) -> None:
    c.set(n, c.e1(gs.Flip, [c.t(a["self"])], {"dims": ints(a["dims"], 1)}, out=n))


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
    count = c.e1(gs.Sum, [test], {"dims": dims_arg(a.get("dim")), "keepdim": bool(a.get("keepdim", False)), "dtype": "i64"})
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
