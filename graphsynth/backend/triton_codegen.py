"""``gs.fused`` region -> Triton kernel source: the analysis, the structural key and the generator.

This module imports neither torch nor triton: it turns verified IR into plain data
(:class:`RegionSpec`) and that data into Python source text.  ``graphsynth.backend.triton`` writes
the text to a file, loads it and launches it.

Why generate text at all: ``@triton.jit`` reads the source of the function it decorates, so a
kernel has to exist as real source.  The text is produced here only from a :class:`RegionSpec`,
and every token in it comes from our own tables: op names map through :data:`EMITTERS` (an op
missing there is not fused), dtypes through :data:`COMPUTE`/:data:`STORAGE`, identifiers are
generated (``v3``, ``in0``), and literals are Python numbers that we validated and print with
``repr`` (or as bit patterns when they are not finite).  No string from the IR (value names,
attribute strings, scopes) reaches the source; ``gelu``'s ``approximate`` string only selects one
of two formulas.

Numerics follow the torch lowering of the same region (``graphsynth.backend.lower``), which is
the fallback and the reference:

- each value lives in a *compute* dtype: f16/bf16 compute in f32 (like torch's opmath), the other
  dtypes in themselves; after every op whose declared result is f16/bf16 the value is rounded to
  that precision (round to nearest even, done by bit manipulation for bf16 so that the Triton
  interpreter, whose bf16 conversion truncates, gives the bits the GPU gives), so a fused chain
  rounds where the unfused chain rounds;
- tensor operands of arithmetic ops are converted to the result dtype first, as the lowering does;
  comparisons convert both sides to their promoted dtype;
- only builtins of ``triton.language`` are used, never ``libdevice`` (the interpreter cannot run
  extern calls) nor the ``@jit`` helpers of ``triton.language.standard`` (those are decorated when
  triton is imported and break the interpreter if ``TRITON_INTERPRET`` was set later): ``tanh``,
  ``pow``, ``round`` and friends are spelled out from ``exp``/``log``/``floor``.

The structural key hashes what the kernel text depends on (op kinds, attribute and literal values,
dtypes, ranks, which dims are statically 1) and nothing else: not value names, not sizes, not
symbol bindings.  Two regions with the same key share one kernel.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import DTYPES, FLOAT_DTYPES, INT_DTYPES, promote

GENERATOR_VERSION = 1

FLOATS = FLOAT_DTYPES
INTS = INT_DTYPES
#: dtype -> the triton dtype values of that dtype are computed in.
COMPUTE = {name: d.triton_compute for name, d in DTYPES.items()}
#: dtype -> the triton dtype of memory.
STORAGE = {name: d.triton for name, d in DTYPES.items()}
_INT_BITS = {name: DTYPES[name].bits for name in INT_DTYPES}


class Unsupported(Exception):
    """The region cannot become a Triton kernel; ``reason`` says why (it runs through torch)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# -- the region as data ------------------------------------------------------------------------

# An argument of a step: ("in", k) block argument k; ("v", j) result of step j; ("lit", value).
Ref = tuple[str, Any]


@dataclass(frozen=True)
class Step:
    """One elementwise op of the region."""

    op: str
    args: tuple[Ref | None, ...]
    dtypes: tuple[str | None, ...]  # dtype of each argument (None: literal or absent)
    attrs: tuple[tuple[str, Any], ...]
    out: str  # result dtype
    rank: int

    def attr(self, name: str) -> Any:
        return dict(self.attrs)[name]


@dataclass(frozen=True)
class RegionSpec:
    """What a kernel depends on.  ``inputs``: (dtype, rank, dims statically 1) per block
    argument; ``outputs``: (ref, dtype, rank) per yielded value."""

    inputs: tuple[tuple[str, int, tuple[bool, ...]], ...]
    steps: tuple[Step, ...]
    outputs: tuple[tuple[Ref, str, int], ...]
    _key: str = field(default="", compare=False, repr=False)

    @property
    def key(self) -> str:
        """Structural hash (hex), the cache key of the kernel."""
        if not self._key:
            text = repr(("gs.fused", GENERATOR_VERSION, self.inputs, self.steps, self.outputs))
            object.__setattr__(self, "_key", hashlib.sha256(text.encode()).hexdigest()[:24])
        return self._key

    def used_inputs(self) -> set[int]:
        used = {r[1] for s in self.steps for r in s.args if r is not None and r[0] == "in"}
        used.update(r[1] for r, _, _ in self.outputs if r[0] == "in")
        return used


def _literal(v: Any, where: str) -> Ref:
    if isinstance(v, bool) or isinstance(v, int) or isinstance(v, float):
        return ("lit", v)
    raise Unsupported(f"{where} is {v!r}; only numbers can be compiled into a kernel")


def analyze(op: gs.FusedOp) -> RegionSpec:
    """The :class:`RegionSpec` of a fused region, or :class:`Unsupported` with the reason."""
    block = op.body.block
    index: dict[SSAValue, Ref] = {}
    inputs = []
    for k, arg in enumerate(block.args):
        t = arg.type
        if not isinstance(t, gs.TensorType) or t.dtype.data not in COMPUTE:
            raise Unsupported(f"region argument #{k} has type {t}, which has no kernel dtype")
        shape = t.shape
        inputs.append((t.dtype.data, len(shape), tuple(d == 1 for d in shape)))
        index[arg] = ("in", k)
    steps: list[Step] = []
    outputs: list[tuple[Ref, str, int]] = []
    for inner in block.ops:
        if isinstance(inner, gs.YieldOp):
            for v in inner.operands:
                t = v.type
                assert isinstance(t, gs.TensorType)
                outputs.append((index[v], t.dtype.data, len(t.shape)))
            break
        if not isinstance(inner, gs.GsOp):
            raise Unsupported(f"'{inner.name}' cannot stand in a kernel")
        name = inner.SPEC.name
        emitter = EMITTERS.get(name)
        if emitter is None:
            raise Unsupported(f"'{name}' has no Triton lowering")
        if len(inner.results) != 1:
            raise Unsupported(f"'{name}' has {len(inner.results)} results")
        rt = inner.results[0].type
        assert isinstance(rt, gs.TensorType)
        args: list[Ref | None] = []
        dtypes: list[str | None] = []
        for i, a in enumerate(inner.arg_layout()):
            if isinstance(a, SSAValue):
                args.append(index[a])
                at = a.type
                assert isinstance(at, gs.TensorType)
                dtypes.append(at.dtype.data)
            elif a is None:
                args.append(None)
                dtypes.append(None)
            else:
                args.append(_literal(a, f"'{name}' argument #{i}"))
                dtypes.append(None)
        attrs = []
        for a in inner.SPEC.attrs:
            v = inner.attr_values()[a.name]
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise Unsupported(f"'{name}' attribute {a.name}={v} is not a plain value")
            attrs.append((a.name, v))
        step = Step(name, tuple(args), tuple(dtypes), tuple(attrs), rt.dtype.data, len(rt.shape))
        check = emitter.check(step)
        if check:
            raise Unsupported(f"'{name}': {check}")
        index[inner.results[0]] = ("v", len(steps))
        steps.append(step)
    if not outputs:
        raise Unsupported("the region yields nothing")
    return RegionSpec(tuple(inputs), tuple(steps), tuple(outputs))


# -- literals ------------------------------------------------------------------------------------


def _f32_bits(v: float) -> int | None:
    """The float32 bit pattern of ``v`` rounded to f32 (signed int32), or None if it is finite
    in f32 and can be written as a literal."""
    try:
        f = struct.unpack("<f", struct.pack("<f", v))[0]
    except OverflowError:
        f = math.copysign(math.inf, v)
    if math.isfinite(f):
        return None
    return struct.unpack("<i", struct.pack("<f", f))[0]


def const(v: Any, dtype: str) -> str:
    """A typed scalar constant of compute ``dtype`` (Python number -> source text)."""
    ct = COMPUTE[dtype]
    if dtype == "bool":
        return f"tl.full([], {1 if v else 0}, tl.int1)"
    if dtype in INTS:
        if isinstance(v, float):
            if not math.isfinite(v):
                raise Unsupported(f"the number {v} has no {dtype} value")
            v = int(v)
        bits = _INT_BITS[dtype]
        v = int(v) & ((1 << bits) - 1)  # wraps as torch's integer arithmetic does
        if dtype != "u8" and v >= 1 << (bits - 1):
            v -= 1 << bits
        return f"tl.full([], {v}, {ct})"
    f = float(v)
    if dtype == "f64":
        if math.isfinite(f):
            return f"tl.full([], {f!r}, tl.float64)"
        bits = struct.unpack("<q", struct.pack("<d", f))[0]
        return f"tl.full([], {bits}, tl.int64).to(tl.float64, bitcast=True)"
    bits32 = _f32_bits(f)
    if bits32 is None:
        return f"tl.full([], {f!r}, tl.float32)"
    return f"tl.full([], {bits32}, tl.int32).to(tl.float32, bitcast=True)"


# -- the generator ---------------------------------------------------------------------------------


class Gen:
    """Emits the body of a kernel: one assignment per line, names generated here."""

    def __init__(self, spec: RegionSpec, loads: dict[int, str]):
        self.spec = spec
        self.lines: list[str] = []
        self.n = 0
        self.loads = loads  # input index -> variable holding its value (compute dtype)
        self.values: list[str] = []
        self.consts: dict[tuple[str, str, str], str] = {}
        self.const_lines: list[str] = []

    def tmp(self, expr: str) -> str:
        name = f"t{self.n}"
        self.n += 1
        self.lines.append(f"{name} = {expr}")
        return name

    def const(self, v: Any, dtype: str) -> str:
        """A named scalar constant (hoisted to the top of the kernel, shared)."""
        key = (type(v).__name__, repr(v), dtype)
        name = self.consts.get(key)
        if name is None:
            name = self.consts[key] = f"c{len(self.consts)}"
            self.const_lines.append(f"{name} = {const(v, dtype)}")
        return name

    def ref(self, r: Ref) -> tuple[str, str | None]:
        """(expression, dtype) of a step argument; dtype None for literals."""
        kind, x = r
        if kind == "in":
            return self.loads[x], self.spec.inputs[x][0]
        if kind == "v":
            return self.values[x], self.spec.steps[x].out
        return repr(x), None

    def arg(self, step: Step, i: int, dtype: str) -> str:
        """Argument ``i`` of ``step`` in compute ``dtype`` (rounded to ``dtype``'s precision)."""
        r = step.args[i]
        assert r is not None
        if r[0] == "lit":
            return self.const(r[1], dtype)
        expr, src = self.ref(r)
        assert src is not None
        return self.convert(expr, src, dtype)

    def convert(self, expr: str, src: str, dst: str) -> str:
        """A value of dtype ``src`` (in its compute dtype) as a value of ``dst``."""
        if src == dst:
            return expr
        if dst == "bool":
            return f"({expr} != 0)"
        if COMPUTE[src] != COMPUTE[dst]:
            expr = f"{expr}.to({COMPUTE[dst]})"
        if dst in ("f16", "bf16"):
            expr = self.round_to(expr, dst)
        return expr

    def round_to(self, expr: str, dtype: str) -> str:
        """Round an f32 value to f16/bf16 precision (kept in f32), to nearest even."""
        if dtype == "f16":
            return f"{expr}.to(tl.float16).to(tl.float32)"
        if dtype != "bf16":
            return expr
        x = self.tmp(expr)
        b = self.tmp(f"{x}.to(tl.uint32, bitcast=True)")
        b = self.tmp(f"{b} + 0x7FFF + (({b} >> 16) & 1)")
        r = self.tmp(f"(({b} >> 16) << 16).to(tl.float32, bitcast=True)")
        return f"tl.where({x} != {x}, {x}, {r})"

    # Helpers used by several emitters (float compute only).
    def tanh(self, x: str, dtype: str) -> str:
        """tanh from exp: (1-e)/(1+e), e = exp(-2|x|), and an odd Taylor polynomial near 0 where
        that form cancels (the error of both is a few ulp of f32; about 1e-15 relative in f64)."""
        c = lambda v: self.const(v, dtype)  # noqa: E731
        x = self.tmp(x)
        ax = self.tmp(f"tl.abs({x})")
        e = self.tmp(f"tl.exp({c(-2.0)} * {ax})")
        big = self.tmp(f"({c(1.0)} - {e}) / ({c(1.0)} + {e})")
        x2 = self.tmp(f"{x} * {x}")
        coeffs = [1.0, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075, -929569 / 638512875]
        poly = c(coeffs[-1])
        for k in reversed(coeffs[:-1]):
            poly = f"({c(k)} + {x2} * {poly})"
        small = self.tmp(f"{x} * {poly}")
        limit = 0.4 if dtype != "f64" else 0.1
        return f"tl.where({ax} < {c(limit)}, {small}, tl.where({x} < {c(0.0)}, -{big}, {big}))"

    def log1p(self, x: str, dtype: str) -> str:
        """log(1 + x) without losing small x: log(u) * x / (u - 1) with u = 1 + x (Goldberg)."""
        one = self.const(1.0, dtype)
        x = self.tmp(x)
        u = self.tmp(f"{one} + {x}")
        return f"tl.where({u} == {one}, {x}, tl.log({u}) * {x} / ({u} - {one}))"

    def pow_general(self, a: str, b: str, dtype: str, b_literal: float | None = None) -> str:
        """a ** b for floats as std::pow: exp(b log|a|), the sign from b's parity for a < 0,
        NaN for a negative base and a fractional exponent, 1 for b == 0 or a == 1."""
        c = lambda v: self.const(v, dtype)  # noqa: E731
        if b_literal == 0:
            return c(1.0)
        a = self.tmp(a)
        r = self.tmp(f"tl.exp({b} * tl.log(tl.abs({a})))")
        nan = c(math.nan)
        if b_literal is not None:
            if float(b_literal).is_integer():
                neg = f"-{r}" if abs(b_literal) % 2 == 1 else r
            else:
                neg = nan
            r = self.tmp(f"tl.where({a} < {c(0.0)}, {neg}, {r})")
            return f"tl.where({a} == {c(1.0)}, {c(1.0)}, {r})"
        b = self.tmp(b)
        fb = self.tmp(f"tl.floor({b})")
        is_int = self.tmp(f"{fb} == {b}")
        odd = self.tmp(f"{is_int} & (tl.abs({b} - {c(2.0)} * tl.floor({b} * {c(0.5)})) == {c(1.0)})")
        r = self.tmp(f"tl.where({a} < {c(0.0)}, tl.where({is_int}, tl.where({odd}, -{r}, {r}), {nan}), {r})")
        return f"tl.where(({b} == {c(0.0)}) | ({a} == {c(1.0)}), {c(1.0)}, {r})"


# -- emitters: one per gs op name -------------------------------------------------------------------


@dataclass(frozen=True)
class Emitter:
    """``check(step)`` returns why the step cannot be compiled (or None); ``emit(gen, step)``
    returns the expression of the result, in the compute dtype of ``step.out``."""

    emit: Callable[[Gen, Step], str]
    check: Callable[[Step], str | None] = lambda step: None


EMITTERS: dict[str, Emitter] = {}


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


EMITTERS["exp"] = _unary_float(lambda g, x, d: f"tl.exp({x})")
EMITTERS["log"] = _unary_float(lambda g, x, d: f"tl.log({x})")
EMITTERS["sqrt"] = _unary_float(lambda g, x, d: f"tl.sqrt_rn({x})" if d != "f64" else f"tl.sqrt({x})")
EMITTERS["rsqrt"] = _unary_float(lambda g, x, d: f"{g.const(1.0, d)} / tl.sqrt_rn({x})" if d != "f64" else f"{g.const(1.0, d)} / tl.sqrt({x})")
EMITTERS["sin"] = _unary_float(lambda g, x, d: f"tl.sin({x})")
EMITTERS["cos"] = _unary_float(lambda g, x, d: f"tl.cos({x})")
EMITTERS["erf"] = _unary_float(lambda g, x, d: f"tl.erf({x})")
EMITTERS["reciprocal"] = _unary_float(lambda g, x, d: f"{g.const(1.0, d)} / {x}")
EMITTERS["sigmoid"] = _unary_float(lambda g, x, d: f"{g.const(1.0, d)} / ({g.const(1.0, d)} + tl.exp(-{x}))")
def _silu(g: Gen, x: str, d: str) -> str:
    x = g.tmp(x)
    return f"{x} / ({g.const(1.0, d)} + tl.exp(-{x}))"


EMITTERS["silu"] = _unary_float(_silu)
EMITTERS["tanh"] = _unary_float(lambda g, x, d: g.tanh(x, d))


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


EMITTERS["gelu"] = Emitter(_gelu, _gelu_check)


def _relu(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    return f"tl.where({x} < {g.const(0, s.out)}, {g.const(0, s.out)}, {x})"


EMITTERS["relu"] = Emitter(_relu, _numbers_only)
EMITTERS["neg"] = Emitter(lambda g, s: f"-{g.arg(s, 0, s.out)}", _numbers_only)


def _abs(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    if s.out in FLOATS:
        return f"tl.abs({x})"
    return f"tl.where({x} < {g.const(0, s.out)}, -{x}, {x})"


EMITTERS["abs"] = Emitter(_abs, _numbers_only)


def _sign(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    zero = g.const(0, s.out)
    ct = COMPUTE[s.out]
    return f"({x} > {zero}).to({ct}) - ({x} < {zero}).to({ct})"  # NaN -> 0, as torch on CPU


EMITTERS["sign"] = Emitter(_sign, _numbers_only)


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


EMITTERS["floor"] = _rounding(lambda g, x, d: f"tl.floor({x})")
EMITTERS["ceil"] = _rounding(lambda g, x, d: f"tl.ceil({x})")
EMITTERS["trunc"] = _rounding(lambda g, x, d: f"tl.where({x} < {g.const(0.0, d)}, tl.ceil({x}), tl.floor({x}))")
EMITTERS["round"] = _rounding(_round_half_even)


def _truth(g: Gen, s: Step, i: int) -> str:
    """Argument ``i`` as a bool (nonzero)."""
    r = s.args[i]
    assert r is not None
    if r[0] == "lit":
        return g.const(bool(r[1]), "bool")
    expr, src = g.ref(r)
    return expr if src == "bool" else f"({expr} != 0)"


EMITTERS["logical_not"] = Emitter(lambda g, s: f"({_truth(g, s, 0)} == 0)")
EMITTERS["identity"] = Emitter(lambda g, s: g.arg(s, 0, s.out))
EMITTERS["dropout"] = Emitter(
    lambda g, s: g.arg(s, 0, s.out),
    lambda s: "dropout in training mode is random; it runs through torch" if s.attr("train") and s.attr("p") else None,
)
EMITTERS["cast"] = Emitter(lambda g, s: g.arg(s, 0, s.out))


def _leaky_relu(g: Gen, s: Step) -> str:
    x = g.tmp(g.arg(s, 0, s.out))
    return f"tl.where({x} > {g.const(0.0, s.out)}, {x}, {x} * {g.const(s.attr('negative_slope'), s.out)})"


EMITTERS["leaky_relu"] = Emitter(_leaky_relu, _floats_only)


def _softplus(g: Gen, s: Step) -> str:
    d = s.out
    x = g.tmp(g.arg(s, 0, d))
    bx = g.tmp(f"{x} * {g.const(s.attr('beta'), d)}")
    soft = g.log1p(f"tl.exp({bx})", d)
    return f"tl.where({bx} > {g.const(s.attr('threshold'), d)}, {x}, {soft} / {g.const(s.attr('beta'), d)})"


EMITTERS["softplus"] = Emitter(_softplus, _floats_only)


def _clamp_expr(g: Gen, x: str, lo: Any, hi: Any, d: str) -> str:
    """torch.clamp: max(x, lo) then min(., hi) (hi wins when lo > hi); NaN stays NaN."""
    if lo is not None:
        c = g.const(lo, d)
        x = g.tmp(f"tl.where({x} < {c}, {c}, {x})")
    if hi is not None:
        c = g.const(hi, d)
        x = f"tl.where({x} > {c}, {c}, {x})"
    return x


EMITTERS["hardtanh"] = Emitter(
    lambda g, s: _clamp_expr(g, g.tmp(g.arg(s, 0, s.out)), s.attr("min_val"), s.attr("max_val"), s.out), _floats_only
)


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


EMITTERS["clamp"] = Emitter(lambda g, s: _clamp_expr(g, g.tmp(g.arg(s, 0, s.out)), s.attr("min"), s.attr("max"), s.out),
                            _clamp_check)


def _binary(op: str, check: Callable[[Step], str | None] = _numbers_only) -> Emitter:
    return Emitter(lambda g, s: f"{g.arg(s, 0, s.out)} {op} {g.arg(s, 1, s.out)}", check)


EMITTERS["add"] = _binary("+")
EMITTERS["sub"] = _binary("-")
EMITTERS["mul"] = _binary("*")


def _bitwise_check(s: Step) -> str | None:
    if s.out in FLOATS:
        return "bitwise ops need integer or bool operands"
    return None


EMITTERS["bitwise_and"] = _binary("&", _bitwise_check)
EMITTERS["bitwise_or"] = _binary("|", _bitwise_check)


def _extremum(greater: bool) -> Emitter:
    def emit(g: Gen, s: Step) -> str:
        a = g.tmp(g.arg(s, 0, s.out))
        b = g.tmp(g.arg(s, 1, s.out))
        pick = f"tl.where({a} {'>' if greater else '<'} {b}, {a}, {b})"
        if s.out in FLOATS:  # NaN propagates, as in torch.maximum/minimum
            return f"tl.where(({a} != {a}) | ({b} != {b}), {a} + {b}, {pick})"
        return pick

    return Emitter(emit, _numbers_only)


EMITTERS["maximum"] = _extremum(True)
EMITTERS["minimum"] = _extremum(False)


def _remainder(g: Gen, s: Step) -> str:
    """Python's modulus from C's (``%`` in Triton is fmod/srem), exactly as torch does."""
    a = g.arg(s, 0, s.out)
    b = g.tmp(g.arg(s, 1, s.out))
    zero = g.const(0, s.out)
    r = g.tmp(f"{a} % {b}")
    return f"tl.where(({r} != {zero}) & (({r} < {zero}) != ({b} < {zero})), {r} + {b}, {r})"


EMITTERS["remainder"] = Emitter(_remainder, _numbers_only)


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


for _name, _op in {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}.items():
    EMITTERS[_name] = _compare(_op)
EMITTERS["logical_and"] = Emitter(lambda g, s: f"({_truth(g, s, 0)} & {_truth(g, s, 1)})")
EMITTERS["logical_or"] = Emitter(lambda g, s: f"({_truth(g, s, 0)} | {_truth(g, s, 1)})")


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


EMITTERS["div"] = Emitter(_div, _div_check)


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


EMITTERS["pow"] = Emitter(_pow, _pow_check)


def _where(g: Gen, s: Step) -> str:
    return f"tl.where({_truth(g, s, 0)}, {g.arg(s, 1, s.out)}, {g.arg(s, 2, s.out)})"


EMITTERS["where"] = Emitter(_where)


def _masked_fill(g: Gen, s: Step) -> str:
    return f"tl.where({_truth(g, s, 1)}, {g.arg(s, 2, s.out)}, {g.arg(s, 0, s.out)})"


def _masked_fill_check(s: Step) -> str | None:
    v = s.args[2]
    if v is not None and v[0] == "lit" and s.out not in FLOATS and isinstance(v[1], float) and not v[1].is_integer():
        return f"fill value {v[1]} does not fit {s.out}"
    return None


EMITTERS["masked_fill"] = Emitter(_masked_fill, _masked_fill_check)


# -- kernel source ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How one launch indexes memory (decided per call from the runtime tensors).

    ``rank``: dims of the (coalesced) iteration space; ``index64``: int64 offsets; per input and
    per output a mode: ``"flat"`` (contiguous over the iteration space: offset = linear index),
    ``"scalar"`` (one element, loaded once) or a tuple of bools, one per dim, True where the
    stride is nonzero (strides are kernel arguments; an output's zero-stride dims are stored only
    at index 0 of that dim)."""

    rank: int
    index64: bool
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]

    @property
    def key(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]


def kernel_name(spec: RegionSpec) -> str:
    return f"gs_fused_{spec.key}"


def generate(spec: RegionSpec, layout: Layout) -> str:
    """The source of a module defining one ``@triton.jit`` kernel for ``spec`` under ``layout``.

    Kernel arguments, in order: input pointers, output pointers, ``numel``, the sizes of dims
    1..rank-1 (dim 0 is never a divisor), then for every strided input and output its nonzero
    strides, then ``BLOCK`` (constexpr).  See :func:`kernel_args` for the host side."""
    n_in, n_out = len(spec.inputs), len(spec.outputs)
    params = [f"in{k}" for k in range(n_in)] + [f"out{j}" for j in range(n_out)] + ["numel"]
    params += [f"size{d}" for d in range(1, layout.rank)]
    for prefix, modes in (("in", layout.inputs), ("out", layout.outputs)):
        for k, mode in enumerate(modes):
            if isinstance(mode, tuple):
                params += [f"{prefix}{k}_stride{d}" for d, nz in enumerate(mode) if nz]
    params.append("BLOCK: tl.constexpr")

    body: list[str] = []
    if layout.index64:
        body.append("offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)")
    else:
        body.append("offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)")
    body.append("mask = offs < numel")
    strided = [m for m in layout.inputs + layout.outputs if isinstance(m, tuple)]
    if strided:
        # Linear index -> one index per dim, innermost first; only the dims some operand needs.
        needed = {d for m in strided for d, nz in enumerate(m) if nz}
        needed |= {d for m in layout.outputs if isinstance(m, tuple) and any(m) for d, nz in enumerate(m) if not nz}
        body.append("rest = offs")
        for d in range(layout.rank - 1, 0, -1):
            if d in needed:
                body.append(f"i{d} = rest % size{d}")
            if any(x < d for x in needed):
                body.append(f"rest = rest // size{d}")
            else:
                break
        if 0 in needed:
            body.append("i0 = rest")

    def offset(prefix: str, k: int, mode: Any) -> str:
        if mode == "flat":
            return "offs"
        terms = [f"i{d} * {prefix}{k}_stride{d}" for d, nz in enumerate(mode) if nz]
        return " + ".join(terms) if terms else "0"

    used = spec.used_inputs()
    loads: dict[int, str] = {}
    for k, (dtype, _, _) in enumerate(spec.inputs):
        if k not in used:
            continue
        mode = layout.inputs[k]
        if mode == "scalar":
            load = f"tl.load(in{k})"
        else:
            load = f"tl.load(in{k} + {offset('in', k, mode)}, mask=mask)"
        if dtype == "bool":
            load = f"{load} != 0"
        elif STORAGE[dtype] != COMPUTE[dtype]:
            load = f"{load}.to({COMPUTE[dtype]})"
        body.append(f"x{k} = {load}")
        loads[k] = f"x{k}"

    gen = Gen(spec, loads)
    for j, step in enumerate(spec.steps):
        expr = EMITTERS[step.op].emit(gen, step)
        if step.out in ("f16", "bf16"):
            expr = gen.round_to(expr, step.out)
        elif COMPUTE[step.out] in ("tl.float32", "tl.float64") or step.out in INTS:
            expr = f"({expr}).to({COMPUTE[step.out]})"
        gen.lines.append(f"v{j} = {expr}")
        gen.values.append(f"v{j}")
    body += gen.const_lines + gen.lines

    for j, (ref, dtype, _) in enumerate(spec.outputs):
        value, _ = gen.ref(ref)
        if STORAGE[dtype] != COMPUTE[dtype]:
            value = f"{value}.to({STORAGE[dtype]})"
        mode = layout.outputs[j]
        where, store_mask = f"out{j} + {offset('out', j, mode)}", "mask"
        if isinstance(mode, tuple) and not any(mode):
            # One element (every dim broadcast): the first lane of the first program writes it.
            where, store_mask = f"out{j} + offs * 0", "offs == 0"
        elif isinstance(mode, tuple):
            # Broadcast dims of an output are written at index 0 only: each element once.
            zero_dims = [d for d, nz in enumerate(mode) if not nz]
            store_mask = " & ".join(["mask"] + [f"(i{d} == 0)" for d in zero_dims])
        body.append(f"tl.store({where}, {value}, mask={store_mask})")

    name = kernel_name(spec)
    head = [
        f"# Generated by graphsynth (generator v{GENERATOR_VERSION}) from a gs.fused region; do not edit.",
        f"# region key {spec.key}, layout {layout!r}",
        "import triton",
        "import triton.language as tl",
        "",
        "",
        "@triton.jit",
        f"def {name}({', '.join(params)}):",
    ]
    return "\n".join(head + ["    " + line for line in body]) + "\n"
