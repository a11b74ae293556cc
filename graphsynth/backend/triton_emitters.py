"""The Triton emitter of each elementwise op, keyed by op class: ``register(gs.Exp, Emitter(...))``.

An emitter turns one :class:`~graphsynth.backend.triton_gen.Step` into a ``triton.language``
expression (text); its ``check`` says why a step cannot be compiled (the region then runs through
torch).  A registration is checked when it is made: the key must be an op class of the dialect
with the ``Elementwise`` trait (only those stand in a fused region), registered once.  An op
without an emitter is not fused into a kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from graphsynth.backend.triton_gen import COMPUTE, FLOATS, Emitter, Gen, Step
from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import promote
from graphsynth.dialects.traits import Elementwise

EMITTERS: dict[type[gs.GsOp], Emitter] = {}
"""Op class -> its Triton emitter."""


def register(cls: type[gs.GsOp], emitter: Emitter) -> Emitter:
    """Make ``emitter`` the Triton emitter of ``cls``; refused for anything that is not an
    elementwise op class of the dialect, and for a class that already has one."""
    if not (isinstance(cls, type) and issubclass(cls, gs.GsOp) and gs.OPS.get(cls.SPEC.name) is cls):
        raise TypeError(f"an emitter is registered for an op class of the gs dialect, got {cls!r}")
    if cls.get_trait(Elementwise) is None:
        raise TypeError(f"{cls.__name__} is not elementwise; only elementwise ops stand in a fused region")
    if cls in EMITTERS:
        raise TypeError(f"{cls.__name__} already has a Triton emitter")
    if not isinstance(emitter, Emitter):
        raise TypeError(f"the emitter of {cls.__name__} must be an Emitter, got {emitter!r}")
    EMITTERS[cls] = emitter
    return emitter




def _floats_only(step: Step) -> str | None:
    if step.out not in FLOATS:
        return f"result dtype {step.out} is not a float dtype"
    return None


def _numbers_only(step: Step) -> str | None:
    if step.out == "bool":
        return "bool results are not supported for this op"
    return None


def _unary_float(fn: Callable[[Gen, str, str], str]) -> Emitter:
    """An op the rules compute in floating point (an integer input gives f32)."""
    return Emitter(lambda g, s: fn(g, g.arg(s, 0, s.out), s.out), _floats_only)


register(gs.Exp, _unary_float(lambda g, x, d: f"tl.exp({x})"))
register(gs.Log, _unary_float(lambda g, x, d: f"tl.log({x})"))
register(gs.Sqrt, _unary_float(lambda g, x, d: f"tl.sqrt_rn({x})" if d != "f64" else f"tl.sqrt({x})"))
register(gs.Rsqrt, _unary_float(lambda g, x, d: f"{g.const(1.0, d)} / tl.sqrt_rn({x})" if d != "f64" else f"{g.const(1.0, d)} / tl.sqrt({x})"))
register(gs.Sin, _unary_float(lambda g, x, d: f"tl.sin({x})"))
register(gs.Cos, _unary_float(lambda g, x, d: f"tl.cos({x})"))
register(gs.Erf, _unary_float(lambda g, x, d: f"tl.erf({x})"))
register(gs.Reciprocal, _unary_float(lambda g, x, d: f"{g.const(1.0, d)} / {x}"))
register(gs.Sigmoid, _unary_float(lambda g, x, d: f"{g.const(1.0, d)} / ({g.const(1.0, d)} + tl.exp(-{x}))"))
def _silu(g: Gen, x: str, d: str) -> str:
    x = g.tmp(x)
    return f"{x} / ({g.const(1.0, d)} + tl.exp(-{x}))"


register(gs.Silu, _unary_float(_silu))
register(gs.Tanh, _unary_float(lambda g, x, d: g.tanh(x, d)))


def _gelu(g: Gen, s: Step) -> str:
    d = s.out
    c = lambda v: g.const(v, d)  # noqa: E731
    x = g.tmp(g.arg(s, 0, d))
    if s.attr("approximate") == "tanh":
        inner = g.tanh(f"{c(0.7978845608028654)} * ({x} + {c(0.044715)} * {x} * {x} * {x})", d)
        return f"{c(0.5)} * {x} * ({c(1.0)} + {inner})"
    return f"{c(0.5)} * {x} * ({c(1.0)} + tl.erf({x} * {c(0.7071067811865476)}))"


def _gelu_check(s: Step) -> str | None:
    if s.attr("approximate") not in ("none", "tanh"):
        return "approximate must be 'none' or 'tanh'"
    return _floats_only(s)


register(gs.Gelu, Emitter(_gelu, _gelu_check))


def _relu(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    return f"tl.where({x} < {g.const(0, s.out)}, {g.const(0, s.out)}, {x})"


register(gs.Relu, Emitter(_relu, _numbers_only))
register(gs.Neg, Emitter(lambda g, s: f"-{g.arg(s, 0, s.out)}", _numbers_only))


def _abs(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    if s.out in FLOATS:
        return f"tl.abs({x})"
    return f"tl.where({x} < {g.const(0, s.out)}, -{x}, {x})"


register(gs.Abs, Emitter(_abs, _numbers_only))


def _sign(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    zero = g.const(0, s.out)
    ct = COMPUTE[s.out]
    return f"({x} > {zero}).to({ct}) - ({x} < {zero}).to({ct})"  # NaN -> 0, as torch on CPU


register(gs.Sign, Emitter(_sign, _numbers_only))


def _rounding(fn: Callable[[Gen, str, str], str]) -> Emitter:
    """floor/ceil/round/trunc: integers are already integral."""
    return Emitter(lambda g, s: fn(g, g.tmp(g.arg(s, 0, s.out)), s.out) if s.out in FLOATS else g.arg(s, 0, s.out),
                   _numbers_only)


def _round_half_even(g: Gen, x: str, d: str) -> str:
    c = lambda v: g.const(v, d)  # noqa: E731
    r = g.tmp(f"tl.floor({x})")
    diff = g.tmp(f"{x} - {r}")  # exact for |x| < 2**mantissa; 0 above, where x is integral
    even = g.tmp(f"({r} - {c(2.0)} * tl.floor({r} * {c(0.5)})) == {c(0.0)}")
    return (f"tl.where({diff} > {c(0.5)}, {r} + {c(1.0)}, tl.where({diff} < {c(0.5)}, {r}, "
            f"tl.where({even}, {r}, {r} + {c(1.0)})))")


register(gs.Floor, _rounding(lambda g, x, d: f"tl.floor({x})"))
register(gs.Ceil, _rounding(lambda g, x, d: f"tl.ceil({x})"))
register(gs.Trunc, _rounding(lambda g, x, d: f"tl.where({x} < {g.const(0.0, d)}, tl.ceil({x}), tl.floor({x}))"))
register(gs.Round, _rounding(_round_half_even))


def _truth(g: Gen, s: Step, i: int) -> str:
    """Argument ``i`` as a bool (nonzero)."""
    r = s.args[i]
    assert r is not None
    if r[0] == "lit":
        return g.const(bool(r[1]), "bool")
    expr, src = g.ref(r)
    return expr if src == "bool" else f"({expr} != 0)"


register(gs.LogicalNot, Emitter(lambda g, s: f"({_truth(g, s, 0)} == 0)"))
register(gs.Identity, Emitter(lambda g, s: g.arg(s, 0, s.out)))
register(gs.Dropout, Emitter(
    lambda g, s: g.arg(s, 0, s.out),
    lambda s: "dropout in training mode is random; it runs through torch" if s.attr("train") and s.attr("p") else None,
))
register(gs.Cast, Emitter(lambda g, s: g.arg(s, 0, s.out)))


def _leaky_relu(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    return f"tl.where({x} > {g.const(0.0, s.out)}, {x}, {x} * {g.const(s.attr('negative_slope'), s.out)})"


register(gs.LeakyRelu, Emitter(_leaky_relu, _floats_only))


def _softplus(g: Gen, s: Step) -> str:
    d = s.out
    x = g.tmp(g.arg(s, 0, d))
    bx = g.tmp(f"{x} * {g.const(s.attr('beta'), d)}")
    soft = g.log1p(f"tl.exp({bx})", d)
    return f"tl.where({bx} > {g.const(s.attr('threshold'), d)}, {x}, {soft} / {g.const(s.attr('beta'), d)})"


register(gs.Softplus, Emitter(_softplus, _floats_only))


def _clamp_expr(g: Gen, x: str, lo: Any, hi: Any, d: str) -> str:
    """torch.clamp: max(x, lo) then min(., hi) (hi wins when lo > hi); NaN stays NaN."""
    if lo is not None:
        c = g.const(lo, d)
        x = g.tmp(f"tl.where({x} < {c}, {c}, {x})")
    if hi is not None:
        c = g.const(hi, d)
        x = f"tl.where({x} > {c}, {c}, {x})"
    return x


register(gs.Hardtanh, Emitter(
    lambda g, s: _clamp_expr(g, g.tmp(g.arg(s, 0, s.out)), s.attr("min_val"), s.attr("max_val"), s.out), _floats_only
))


def _clamp_check(s: Step) -> str | None:
    if s.out == "bool":
        return "bool results are not supported for this op"
    for name in ("min", "max"):
        v = s.attr(name)
        if v is None:
            continue
        if isinstance(v, str):
            return f"{name}={v} is symbolic"
        if s.out not in FLOATS and isinstance(v, float):
            return f"a float bound {name}={v} on an integer tensor changes the dtype in torch"
    return None


register(gs.Clamp, Emitter(lambda g, s: _clamp_expr(g, g.tmp(g.arg(s, 0, s.out)), s.attr("min"), s.attr("max"), s.out),
                            _clamp_check))


def _binary(op: str, check: Callable[[Step], str | None] = _numbers_only) -> Emitter:
    return Emitter(lambda g, s: f"{g.arg(s, 0, s.out)} {op} {g.arg(s, 1, s.out)}", check)


register(gs.Add, _binary("+"))
register(gs.Sub, _binary("-"))
register(gs.Mul, _binary("*"))


def _bitwise_check(s: Step) -> str | None:
    if s.out in FLOATS:
        return "bitwise ops need integer or bool operands"
    return None


register(gs.BitwiseAnd, _binary("&", _bitwise_check))
register(gs.BitwiseOr, _binary("|", _bitwise_check))


def _extremum(greater: bool) -> Emitter:
    def emit(g: Gen, s: Step) -> str:
        a = g.tmp(g.arg(s, 0, s.out))
        b = g.tmp(g.arg(s, 1, s.out))
        pick = f"tl.where({a} {'>' if greater else '<'} {b}, {a}, {b})"
        if s.out in FLOATS:  # NaN propagates, as in torch.maximum/minimum
            return f"tl.where(({a} != {a}) | ({b} != {b}), {a} + {b}, {pick})"
        return pick

    return Emitter(emit, _numbers_only)


register(gs.Maximum, _extremum(True))
register(gs.Minimum, _extremum(False))


def _remainder(g: Gen, s: Step) -> str:
    """Python's modulus from C's (``%`` in Triton is fmod/srem), exactly as torch does."""
    a = g.arg(s, 0, s.out)
    b = g.tmp(g.arg(s, 1, s.out))
    zero = g.const(0, s.out)
    r = g.tmp(f"{a} % {b}")
    return f"tl.where(({r} != {zero}) & (({r} < {zero}) != ({b} < {zero})), {r} + {b}, {r})"


register(gs.Remainder, Emitter(_remainder, _numbers_only))


def _compare_dtype(s: Step) -> str:
    """The dtype both sides of a comparison are converted to (torch's promotion)."""
    tensors = [d for d in s.dtypes if d is not None]
    dtype = tensors[0]
    for d in tensors[1:]:
        dtype = promote(dtype, d)
    if dtype in ("f16", "bf16") and any(t in ("f16", "bf16") and t != dtype for t in tensors):
        dtype = "f32"
    for r in s.args:
        if r is not None and r[0] == "lit":
            v = r[1]
            if isinstance(v, float) and dtype not in FLOATS:
                dtype = "f32"
            elif isinstance(v, int) and not isinstance(v, bool) and dtype == "bool":
                dtype = "i64"
    return dtype


def _compare(op: str) -> Emitter:
    def emit(g: Gen, s: Step) -> str:
        d = _compare_dtype(s)
        if d == "bool" and op not in ("==", "!="):
            d = "u8"  # order False < True without relying on the signedness of i1
        return f"({g.arg(s, 0, d)} {op} {g.arg(s, 1, d)})"

    return Emitter(emit)


for _cls, _op in {gs.Eq: "==", gs.Ne: "!=", gs.Lt: "<", gs.Le: "<=", gs.Gt: ">", gs.Ge: ">="}.items():
    register(_cls, _compare(_op))
register(gs.LogicalAnd, Emitter(lambda g, s: f"({_truth(g, s, 0)} & {_truth(g, s, 1)})"))
register(gs.LogicalOr, Emitter(lambda g, s: f"({_truth(g, s, 0)} | {_truth(g, s, 1)})"))


def _div(g: Gen, s: Step) -> str:
    d = s.out
    mode = s.attr("rounding_mode")
    a = g.tmp(g.arg(s, 0, d))
    b = g.tmp(g.arg(s, 1, d))
    c = lambda v: g.const(v, d)  # noqa: E731
    if mode is None:
        return f"{a} / {b}"
    if d in FLOATS:
        if mode == "trunc":
            q = g.tmp(f"{a} / {b}")
            return f"tl.where({q} < {c(0.0)}, tl.ceil({q}), tl.floor({q}))"
        # torch's div_floor_floating: exact quotient from fmod, then corrected.
        mod = g.tmp(f"{a} % {b}")
        div = g.tmp(f"({a} - {mod}) / {b}")
        div = g.tmp(f"tl.where(({mod} != {c(0.0)}) & (({b} < {c(0.0)}) != ({mod} < {c(0.0)})), {div} - {c(1.0)}, {div})")
        fl = g.tmp(f"tl.floor({div})")
        fl = g.tmp(f"tl.where({div} - {fl} > {c(0.5)}, {fl} + {c(1.0)}, {fl})")
        q = g.tmp(f"{a} / {b}")
        fl = g.tmp(f"tl.where({div} == {c(0.0)}, {q} * {c(0.0)}, {fl})")
        return f"tl.where({b} == {c(0.0)}, {q}, {fl})"
    q = g.tmp(f"{a} // {b}")  # C division: truncates
    if mode == "trunc":
        return q
    return f"tl.where((({a} % {b}) != {c(0)}) & (({a} < {c(0)}) != ({b} < {c(0)})), {q} - {c(1)}, {q})"


def _div_check(s: Step) -> str | None:
    mode = s.attr("rounding_mode")
    if mode not in (None, "trunc", "floor"):
        return f"rounding_mode {mode!r} is not one of None, 'trunc', 'floor'"
    if mode is None and s.out not in FLOATS:
        return f"true division gives {s.out}"
    return _numbers_only(s)


register(gs.Div, Emitter(_div, _div_check))


def _pow(g: Gen, s: Step) -> str:
    d = s.out
    base, expo = s.args[0], s.args[1]
    assert base is not None and expo is not None
    if expo[0] == "lit":
        n = expo[1]
        a = g.tmp(g.arg(s, 0, d))
        if d in FLOATS:
            one = g.const(1.0, d)
            special = {0: one, 1: a, 2: f"{a} * {a}", 3: f"{a} * {a} * {a}", -1: f"{one} / {a}",
                       -2: f"{one} / ({a} * {a})", 0.5: f"tl.sqrt_rn({a})" if d != "f64" else f"tl.sqrt({a})",
                       -0.5: f"{one} / tl.sqrt_rn({a})" if d != "f64" else f"{one} / tl.sqrt({a})"}
            if n in special and not isinstance(n, bool):
                return special[n]
            return g.pow_general(a, g.const(n, d), d, float(n))
        return _int_power(g, a, int(n), d)
    if base[0] == "lit":
        return _pow_literal_base(g, float(base[1]), g.tmp(g.arg(s, 1, d)), d)
    a = g.arg(s, 0, d)
    return g.pow_general(a, g.arg(s, 1, d), d)


def _pow_literal_base(g: Gen, a: float, b: str, d: str) -> str:
    """a ** b for a number a and a tensor b (the case analysis of std::pow done in Python)."""
    c = lambda v: g.const(v, d)  # noqa: E731
    if a == 1.0:
        return c(1.0)
    if a == 0.0:
        return f"tl.where({b} > {c(0.0)}, {c(0.0)}, tl.where({b} < {c(0.0)}, {c(math.inf)}, {c(1.0)}))"
    if math.isnan(a):
        return f"tl.where({b} == {c(0.0)}, {c(1.0)}, {c(math.nan)})"
    r = g.tmp(f"tl.exp({b} * {c(math.log(abs(a)) if math.isfinite(a) else math.inf)})")
    if a > 0:
        return f"tl.where({b} == {c(0.0)}, {c(1.0)}, {r})"
    fb = g.tmp(f"tl.floor({b})")
    odd = g.tmp(f"tl.abs({b} - {c(2.0)} * tl.floor({b} * {c(0.5)})) == {c(1.0)}")
    return (f"tl.where({b} == {c(0.0)}, {c(1.0)}, tl.where({fb} == {b}, tl.where({odd}, -{r}, {r}), "
            f"{c(math.nan)}))")


def _int_power(g: Gen, a: str, n: int, d: str) -> str:
    """a ** n by repeated squaring (wraps like torch's integer pow)."""
    result = None
    sq = a
    while n:
        if n & 1:
            result = sq if result is None else g.tmp(f"{result} * {sq}")
        n >>= 1
        if n:
            sq = g.tmp(f"{sq} * {sq}")
    return result if result is not None else g.const(1, d)


def _pow_check(s: Step) -> str | None:
    if s.out == "bool":
        return "bool results are not supported for this op"
    if s.out in FLOATS:
        return None
    expo = s.args[1]
    if expo is None or expo[0] != "lit":
        return "integer pow with a tensor exponent is not compiled"
    n = expo[1]
    if isinstance(n, float) or n < 0 or n > 1 << 16:
        return f"integer pow with exponent {n} is not compiled"
    return None


register(gs.Pow, Emitter(_pow, _pow_check))


def _where(g: Gen, s: Step) -> str:
    return f"tl.where({_truth(g, s, 0)}, {g.arg(s, 1, s.out)}, {g.arg(s, 2, s.out)})"


register(gs.Where, Emitter(_where))


def _masked_fill(g: Gen, s: Step) -> str:
    return f"tl.where({_truth(g, s, 1)}, {g.arg(s, 2, s.out)}, {g.arg(s, 0, s.out)})"


def _masked_fill_check(s: Step) -> str | None:
    v = s.args[2]
    if v is not None and v[0] == "lit" and s.out not in FLOATS and isinstance(v[1], float) and not v[1].is_integer():
        return f"fill value {v[1]} does not fit {s.out}"
    return None


register(gs.MaskedFill, Emitter(_masked_fill, _masked_fill_check))



register(gs.Log1p, _unary_float(lambda g, x, d: g.log1p(x, d)))
