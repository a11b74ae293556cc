"""The pieces a Triton kernel is generated from: the region as data (:class:`Step`,
:class:`RegionSpec`), typed literals (:func:`const`), the body generator (:class:`Gen`) and the
:class:`Emitter` of one op.  Plain data and text: neither torch nor triton is imported.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphsynth.dialects.dtypes import DTYPES, FLOAT_DTYPES, INT_DTYPES

GENERATOR_VERSION = 1

FLOATS = FLOAT_DTYPES
INTS = INT_DTYPES
#: dtype -> the triton dtype values of that dtype are computed in; a dtype without one (complex)
#: is missing, and a region holding a value of it is not compiled.
COMPUTE = {name: d.triton_compute for name, d in DTYPES.items() if d.triton_compute}
#: dtype -> the triton dtype of memory.
STORAGE = {name: d.triton for name, d in DTYPES.items() if d.triton}
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


# -- emitters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Emitter:
    """``check(step)`` returns why the step cannot be compiled (or None); ``emit(gen, step)``
    returns the expression of the result, in the compute dtype of ``step.out``."""

    emit: Callable[[Gen, Step], str]
    check: Callable[[Step], str | None] = lambda step: None
