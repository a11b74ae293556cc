"""Every op of the gs dialect, lowered and compared with a reference written directly in torch:
outputs and gradients at two bindings of each symbol (float32, max relative error 1e-5), and every
intermediate value against the type the IR declares for it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from backend_util import Case, check_case, ints, positive

from graphsynth.backend.lower import LOWERINGS
from graphsynth.dialects import gs
from graphsynth.grammar.parser import parse_ir


def one(inputs: str, out: str, body: str) -> str:
    """A graph ``G(inputs) -> out`` whose body lines are given (the last value is returned)."""
    lines = [ln.strip() for ln in body.strip().splitlines()]
    last = lines[-1].split(":")[0].split(",")[0]
    return f"graph G({inputs}) -> {out} {{\n" + "\n".join("  " + ln for ln in lines) + f"\n  return {last}\n}}\n"


CASES: list[Case] = []


def case(name: str, ir: str, ref, **kw) -> None:
    CASES.append(Case(name, ir, ref, **kw))


# -- elementwise, one input ------------------------------------------------------------------
SQRT2 = math.sqrt(2.0)
UNARY = {
    "relu": lambda x: torch.where(x > 0, x, torch.zeros_like(x)),
    "silu": lambda x: x / (1 + torch.exp(-x)),
    "tanh": lambda x: 1 - 2 / (torch.exp(2 * x) + 1),
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": lambda x: x**0.5,
    "rsqrt": lambda x: 1 / x**0.5,
    "neg": lambda x: -x,
    "abs": lambda x: torch.where(x < 0, -x, x),
    "sin": torch.sin,
    "cos": torch.cos,
    "erf": torch.special.erf,
    "reciprocal": lambda x: 1 / x,
    "identity": lambda x: x,
}
for _op, _ref in UNARY.items():
    case(
        _op,
        one("x: f32[B, S]", "f32[B, S]", f"%0: f32[B, S] = {_op}(x)"),
        lambda t, f=_ref: f(t["x"]),
        gens={"x": positive} if _op in ("log", "sqrt", "rsqrt", "reciprocal") else {},
    )
ROUNDING = {
    "sign": lambda x: (x > 0).to(x.dtype) - (x < 0).to(x.dtype) + 0 * x,
    "floor": lambda x: x - torch.remainder(x, 1.0),
    "ceil": lambda x: -((-x) - torch.remainder(-x, 1.0)),
    "round": lambda x: torch.where((x - torch.floor(x)) == 0.5, 2 * torch.floor(torch.floor(x) / 2 + 0.5), torch.floor(x + 0.5)),
    "trunc": lambda x: torch.where(x < 0, torch.ceil(x), torch.floor(x)),
}
for _op, _ref in ROUNDING.items():
    # Scaled so that some values are exact halves (round: halves to even); no gradient to compare
    # (zero almost everywhere) beyond what the f32 case checks.
    case(_op, one("x: f32[B, S]", "f32[B, S]", f"%0: f32[B, S] = {_op}(x)"), lambda t, f=_ref: f(t["x"]),
         gens={"x": lambda shape, dtype, g: (torch.randint(-12, 13, shape, generator=g) / 2).to(dtype)})
    case(f"{_op}_int", one("x: i64[B, S]", "i64[B, S]", f"%0: i64[B, S] = {_op}(x)"),
         lambda t, f=_ref: f(t["x"].double()).long(), grad=False)
case("detach", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = detach(x)"), lambda t: t["x"].detach(), grad=False)
case("logical_not", one("x: bool[B, S]", "bool[B, S]", "%0: bool[B, S] = logical_not(x)"), lambda t: ~t["x"], grad=False)
case("exp_of_int", one("x: i64[B, S]", "f32[B, S]", "%0: f32[B, S] = exp(x)"), lambda t: torch.exp(t["x"].float()), grad=False)
case(
    "gelu",
    one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = gelu(x)"),
    lambda t: 0.5 * t["x"] * (1 + torch.special.erf(t["x"] / SQRT2)),
)
case(
    "gelu_tanh",
    one("x: f32[B, S]", "f32[B, S]", '%0: f32[B, S] = gelu(x, approximate="tanh")'),
    lambda t: 0.5 * t["x"] * (1 + torch.tanh(math.sqrt(2 / math.pi) * (t["x"] + 0.044715 * t["x"] ** 3))),
)
case(
    "leaky_relu",
    one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = leaky_relu(x, negative_slope=0.2)"),
    lambda t: torch.where(t["x"] > 0, t["x"], 0.2 * t["x"]),
)
case(
    "softplus",
    one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = softplus(x, beta=2.0, threshold=1.0)"),
    lambda t: torch.where(2 * t["x"] > 1.0, t["x"], torch.log1p(torch.exp(2 * t["x"])) / 2),
)
case(
    "hardtanh",
    one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = hardtanh(x, min_val=-0.5, max_val=0.5)"),
    lambda t: t["x"].clamp(-0.5, 0.5),
)
case(
    "clamp",
    one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = clamp(x, min=-0.5, max=1.0)"),
    lambda t: torch.minimum(torch.maximum(t["x"], torch.tensor(-0.5)), torch.tensor(1.0)),
)
case("clamp_min", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = clamp(x, min=0.1)"), lambda t: t["x"].clamp(min=0.1))
case("clamp_int", one("x: i64[B, S]", "i64[B, S]", "%0: i64[B, S] = clamp(x, min=-2, max=3)"), lambda t: t["x"].clamp(-2, 3), grad=False)
case("dropout_eval", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = dropout(x, p=0.5)"), lambda t: t["x"])
case("dropout_p0", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = dropout(x, p=0.0, train=true)"), lambda t: t["x"])
case("cast_f64", one("x: f32[B, S]", "f64[B, S]", "%0: f64[B, S] = cast(x, dtype=f64)"), lambda t: t["x"].double())
case("cast_i64", one("x: f32[B, S]", "i64[B, S]", "%0: i64[B, S] = cast(x, dtype=i64)"), lambda t: t["x"].long(), grad=False)
case("cast_bool_f32", one("x: bool[B, S]", "f32[B, S]", "%0: f32[B, S] = cast(x, dtype=f32)"), lambda t: t["x"].float(), grad=False)

case("log1p", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = log1p(x)"),
     lambda t: torch.log(1 + t["x"].double()).float(), gens={"x": positive})
case("log1p_tiny", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = log1p(x)"),
     lambda t: (t["x"].double() - t["x"].double() ** 2 / 2 + t["x"].double() ** 3 / 3).float(),
     gens={"x": lambda shape, dtype, g: (torch.randn(shape, generator=g, dtype=torch.float64) * 1e-6).to(dtype)}, tol=1e-6)

# -- elementwise, two inputs -----------------------------------------------------------------------
ARITH = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
for _op, _ref in ARITH.items():
    case(f"{_op}_tt", one("x: f32[B, S], y: f32[S]", "f32[B, S]", f"%0: f32[B, S] = {_op}(x, y)"),
         lambda t, f=_ref: f(t["x"], t["y"]))
    case(f"{_op}_tl", one("x: f32[B, S]", "f32[B, S]", f"%0: f32[B, S] = {_op}(x, 2.5)"), lambda t, f=_ref: f(t["x"], 2.5))
    case(f"{_op}_lt", one("x: f32[B, S]", "f32[B, S]", f"%0: f32[B, S] = {_op}(3, x)"), lambda t, f=_ref: f(3.0, t["x"]))
    case(f"{_op}_int", one("x: i64[B, S], y: i64[B, 1]", "i64[B, S]", f"%0: i64[B, S] = {_op}(x, y)"),
         lambda t, f=_ref: f(t["x"], t["y"]), grad=False)
case("add_int_float_literal", one("x: i64[B, S]", "f32[B, S]", "%0: f32[B, S] = add(x, 0.5)"), lambda t: t["x"].float() + 0.5, grad=False)
case("add_bool_int_literal", one("x: bool[B, S]", "i64[B, S]", "%0: i64[B, S] = add(x, 1)"), lambda t: t["x"].long() + 1, grad=False)
case("add_i32_i64_scalar", one("x: i32[B, S], y: i64[]", "i64[B, S]", "%0: i64[B, S] = add(x, y)"),
     lambda t: t["x"].long() + t["y"], grad=False)
case("add_f32_f64_scalar", one("x: f32[B, S], y: f64[]", "f64[B, S]", "%0: f64[B, S] = add(x, y)"), lambda t: t["x"].double() + t["y"])
case("pow_tl", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = pow(x, 2.0)"), lambda t: t["x"] * t["x"])
case("pow_lt", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = pow(2.0, x)"), lambda t: torch.exp(t["x"] * math.log(2.0)))
case("pow_tt", one("x: f32[B, S], y: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = pow(x, y)"),
     lambda t: torch.exp(t["y"] * torch.log(t["x"])), gens={"x": positive})
case("maximum", one("x: f32[B, S], y: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = maximum(x, y)"),
     lambda t: torch.where(t["x"] > t["y"], t["x"], t["y"]))
case("maximum_literal", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = maximum(x, 0.25)"), lambda t: t["x"].clamp(min=0.25))
case("maximum_int_float_literal", one("x: i64[B, S]", "f32[B, S]", "%0: f32[B, S] = maximum(x, 0.5)"),
     lambda t: t["x"].float().clamp(min=0.5), grad=False)
case("minimum", one("x: f32[B, S], y: f32[S]", "f32[B, S]", "%0: f32[B, S] = minimum(x, y)"),
     lambda t: torch.where(t["x"] < t["y"], t["x"], t["y"].expand_as(t["x"])))
case("minimum_literal_first", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = minimum(0.25, x)"), lambda t: t["x"].clamp(max=0.25))
case("remainder", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = remainder(x, 0.7)"),
     lambda t: t["x"] - 0.7 * torch.floor(t["x"] / 0.7), tol=1e-5)
case("remainder_int", one("x: i64[B, S], y: i64[B, S]", "i64[B, S]", "%0: i64[B, S] = remainder(x, y)"),
     lambda t: t["x"] - t["y"] * torch.floor(t["x"].double() / t["y"]).long(), gens={"y": ints(1, 5)}, grad=False)
for _op, _ref in {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}.items():
    case(f"{_op}_int", one("x: i64[B, S], y: i64[S]", "bool[B, S]", f"%0: bool[B, S] = {_op}(x, y)"),
         lambda t, f=_ref: f(t["x"], t["y"]), gens={"x": ints(0, 3), "y": ints(0, 3)}, grad=False)
    case(f"{_op}_literal", one("x: f32[B, S]", "bool[B, S]", f"%0: bool[B, S] = {_op}(x, 0.0)"),
         lambda t, f=_ref: f(t["x"], torch.tensor(0.0)), grad=False)
case("lt_literal_first", one("x: f32[B, S]", "bool[B, S]", "%0: bool[B, S] = lt(0.0, x)"), lambda t: t["x"] > 0, grad=False)
case("logical_and", one("x: bool[B, S], y: bool[S]", "bool[B, S]", "%0: bool[B, S] = logical_and(x, y)"),
     lambda t: t["x"] & t["y"], grad=False)
case("logical_or", one("x: bool[B, S], y: bool[B, S]", "bool[B, S]", "%0: bool[B, S] = logical_or(x, y)"),
     lambda t: t["x"] | t["y"], grad=False)
case("logical_or_int", one("x: i64[B, S], y: i64[B, S]", "bool[B, S]", "%0: bool[B, S] = logical_or(x, y)"),
     lambda t: (t["x"] != 0) | (t["y"] != 0), gens={"x": ints(0, 2), "y": ints(0, 2)}, grad=False)
case("bitwise_and", one("x: i64[B, S], y: i64[B, S]", "i64[B, S]", "%0: i64[B, S] = bitwise_and(x, y)"),
     lambda t: t["x"] & t["y"], grad=False)
case("bitwise_or_bool", one("x: bool[B, S], y: bool[B, S]", "bool[B, S]", "%0: bool[B, S] = bitwise_or(x, y)"),
     lambda t: t["x"] | t["y"], grad=False)
case("div", one("x: f32[B, S], y: f32[S]", "f32[B, S]", "%0: f32[B, S] = div(x, y)"), lambda t: t["x"] * (1 / t["y"]),
     gens={"y": positive})
case("div_literal_first", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = div(1.5, x)"), lambda t: 1.5 * t["x"].reciprocal(),
     gens={"x": positive})
case("div_int_true", one("x: i64[B, S], y: i64[B, S]", "f32[B, S]", "%0: f32[B, S] = div(x, y)"),
     lambda t: t["x"].float() / t["y"].float(), gens={"y": ints(1, 4)}, grad=False)
case("div_int_floor", one("x: i64[B, S], y: i64[B, S]", "i64[B, S]", '%0: i64[B, S] = div(x, y, rounding_mode="floor")'),
     lambda t: torch.floor(t["x"].double() / t["y"]).long(), gens={"y": ints(1, 4)}, grad=False)
case("div_int_trunc", one("x: i64[B, S]", "i64[B, S]", '%0: i64[B, S] = div(x, 2, rounding_mode="trunc")'),
     lambda t: torch.trunc(t["x"].double() / 2).long(), grad=False)
case("div_literal_first_floor", one("x: i64[B, S]", "i64[B, S]", '%0: i64[B, S] = div(7, x, rounding_mode="floor")'),
     lambda t: torch.floor(7 / t["x"].double()).long(), gens={"x": ints(1, 5)}, grad=False)
case("where", one("c: bool[B, S], x: f32[B, S], y: f32[S]", "f32[B, S]", "%0: f32[B, S] = where(c, x, y)"),
     lambda t: t["c"] * t["x"] + (~t["c"]) * t["y"])
case("where_literal", one("c: bool[B, S], x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = where(c, x, 0.0)"),
     lambda t: t["c"] * t["x"])
case("where_two_literals", one("c: bool[B, S]", "f32[B, S]", "%0: f32[B, S] = where(c, 1.0, -2.0)"),
     lambda t: t["c"].float() * 3.0 - 2.0, grad=False)
case("where_two_int_literals", one("c: bool[B, S]", "i64[B, S]", "%0: i64[B, S] = where(c, 1, 0)"),
     lambda t: t["c"].long(), grad=False)
case("masked_fill", one("x: f32[B, S], m: bool[S]", "f32[B, S]", "%0: f32[B, S] = masked_fill(x, m, -1000.0)"),
     lambda t: torch.where(t["m"], torch.tensor(-1000.0), t["x"]))
case("masked_fill_scalar_tensor", one("x: f32[B, S], m: bool[B, S], v: f32[]", "f32[B, S]",
                                      "%0: f32[B, S] = masked_fill(x, m, v)"),
     lambda t: t["x"] * (~t["m"]) + t["m"] * t["v"])
case("masked_fill_tensor", one("x: f32[B, S], m: bool[B, S], v: f32[S]", "f32[B, S]",
                               "%0: f32[B, S] = masked_fill(x, m, v)"),
     lambda t: t["x"] * (~t["m"]) + t["m"] * t["v"])

# -- linear algebra, convolution, pooling ----------------------------------------------------------
case("linear", one("x: f32[B, S, 4]", "f32[B, S, 3]", """
    param fc.weight: f32[3, 4]
    param fc.bias: f32[3]
    %0: f32[B, S, 3] = linear(x, fc.weight, fc.bias)"""),
     lambda t: torch.einsum("bsi,oi->bso", t["x"], t["fc.weight"]) + t["fc.bias"])
case("linear_no_bias", one("x: f32[B, 4]", "f32[B, 3]", """
    param w: f32[3, 4]
    %0: f32[B, 3] = linear(x, w)"""), lambda t: t["x"] @ t["w"].T)
case("linear_act_gelu_tanh", one("x: f32[B, S, 4]", "f32[B, S, 3]", """
    param fc.weight: f32[3, 4]
    param fc.bias: f32[3]
    %0: f32[B, S, 3] = linear_act(x, fc.weight, fc.bias, activation="gelu", approximate="tanh")"""),
     lambda t: F.gelu(t["x"] @ t["fc.weight"].T + t["fc.bias"], approximate="tanh"))
case("linear_act_relu_2d", one("x: f32[B, 4]", "f32[B, 3]", """
    param fc.weight: f32[3, 4]
    param fc.bias: f32[3]
    %0: f32[B, 3] = linear_act(x, fc.weight, fc.bias, activation="relu")"""),
     lambda t: torch.relu(t["x"] @ t["fc.weight"].T + t["fc.bias"]))
case("linear_act_silu_no_bias", one("x: f32[B, 4]", "f32[B, 3]", """
    param w: f32[3, 4]
    %0: f32[B, 3] = linear_act(x, w, activation="silu")"""), lambda t: F.silu(t["x"] @ t["w"].T))
# A call binds the callee's symbol N to the caller's B; the callee's parameters are arguments.
case("call", """graph G(x: f32[B, 4]) -> f32[B, 3] {
  param fc.weight: f32[3, 4]
  %0: f32[B, 3] = call(x, fc.weight, callee="body")
  return %0
}
graph body(h: f32[N, 4], w: f32[3, 4]) -> f32[N, 3] {
  %1: f32[N, 3] = linear(h, w)
  %2: f32[N, 3] = tanh(%1)
  return %2
}
""", lambda t: torch.tanh(t["x"] @ t["fc.weight"].T))
case("addmm", one("x: f32[B, 4]", "f32[B, 3]", """
    param c_attn.weight: f32[4, 3]
    param c_attn.bias: f32[3]
    %0: f32[B, 3] = addmm(c_attn.bias, x, c_attn.weight)"""),
     lambda t: t["x"] @ t["c_attn.weight"] + t["c_attn.bias"])
case("matmul", one("x: f32[B, S, 4], y: f32[4, 3]", "f32[B, S, 3]", "%0: f32[B, S, 3] = matmul(x, y)"),
     lambda t: torch.einsum("bsi,io->bso", t["x"], t["y"]))
case("matmul_batched", one("x: f32[B, 2, S, 4], y: f32[B, 2, 4, S]", "f32[B, 2, S, S]", "%0: f32[B, 2, S, S] = matmul(x, y)"),
     lambda t: torch.einsum("bhik,bhkj->bhij", t["x"], t["y"]))
case("matmul_vec", one("x: f32[4], y: f32[B, 4, S]", "f32[B, S]", "%0: f32[B, S] = matmul(x, y)"),
     lambda t: torch.einsum("k,bks->bs", t["x"], t["y"]))
CONV_B = ({"B": 2, "H": 5, "W": 6}, {"B": 1, "H": 8, "W": 7})
case("conv2d", one("x: f32[B, 4, H, W]", "f32[B, 6, (H+1)//2, W-2]", """
    param conv.weight: f32[6, 2, 3, 3]
    param conv.bias: f32[6]
    %0: f32[B, 6, (H+1)//2, W-2] = conv2d(x, conv.weight, conv.bias, stride=[2, 1], padding=[1, 0], dilation=[1, 1], groups=2)"""),
     lambda t: F.conv2d(t["x"], t["conv.weight"], t["conv.bias"], stride=(2, 1), padding=(1, 0), groups=2), bindings=CONV_B)
case("conv2d_dilated", one("x: f32[B, 3, H, W]", "f32[B, 2, H, W-2]", """
    param w: f32[2, 3, 3, 2]
    %0: f32[B, 2, H, W-2] = conv2d(x, w, None, padding=[2, 0], dilation=[2, 2])"""),
     lambda t: F.conv2d(t["x"], t["w"], padding=(2, 0), dilation=2), bindings=CONV_B)
case("conv1d", one("x: f32[B, 4, S]", "f32[B, 6, S]", """
    param conv.weight: f32[6, 4, 3]
    param conv.bias: f32[6]
    %0: f32[B, 6, S] = conv1d(x, conv.weight, conv.bias, padding=[1])"""),
     lambda t: F.conv1d(t["x"], t["conv.weight"], t["conv.bias"], padding=1))
case("max_pool2d", one("x: f32[B, 3, H, W]", "f32[B, 3, H//2, W//2]", "%0: f32[B, 3, H//2, W//2] = max_pool2d(x, kernel_size=[2, 2])"),
     lambda t: F.max_pool2d(t["x"], 2), bindings=CONV_B)
case("max_pool2d_padded", one("x: f32[B, 3, H, W]", "f32[B, 3, (H+1)//2, (W+1)//2]",
                              "%0: f32[B, 3, (H+1)//2, (W+1)//2] = max_pool2d(x, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1])"),
     lambda t: F.max_pool2d(t["x"], 3, 2, 1), bindings=CONV_B)
case("avg_pool2d", one("x: f32[B, 3, H, W]", "f32[B, 3, (H+1)//2, (W+1)//2]",
                       "%0: f32[B, 3, (H+1)//2, (W+1)//2] = avg_pool2d(x, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], count_include_pad=false)"),
     lambda t: F.avg_pool2d(t["x"], 3, 2, 1, count_include_pad=False), bindings=CONV_B)
case("avg_pool2d_default", one("x: f32[B, 3, H, W]", "f32[B, 3, H//2, W//2]", "%0: f32[B, 3, H//2, W//2] = avg_pool2d(x, kernel_size=[2, 2])"),
     lambda t: F.avg_pool2d(t["x"], 2), bindings=CONV_B)
case("adaptive_avg_pool2d", one("x: f32[B, 3, H, W]", "f32[B, 3, 2, 3]", "%0: f32[B, 3, 2, 3] = adaptive_avg_pool2d(x, output_size=[2, 3])"),
     lambda t: F.adaptive_avg_pool2d(t["x"], (2, 3)), bindings=CONV_B)
SEQ_B = ({"B": 2, "S": 7}, {"B": 3, "S": 10})
case("max_pool1d", one("x: f32[B, 3, S]", "f32[B, 3, (S+1)//2]",
                       "%0: f32[B, 3, (S+1)//2] = max_pool1d(x, kernel_size=[3], stride=[2], padding=[1])"),
     lambda t: F.max_pool2d(t["x"].unsqueeze(2), (1, 3), (1, 2), (0, 1)).squeeze(2), bindings=SEQ_B)
case("max_pool1d_dilated_2d_input", one("x: f32[3, S]", "f32[3, S-2]", "%0: f32[3, S-2] = max_pool1d(x, kernel_size=[2], stride=[1], dilation=[2])"),
     lambda t: torch.maximum(t["x"][:, :-2], t["x"][:, 2:]), bindings=SEQ_B)
case("avg_pool1d", one("x: f32[B, 3, S]", "f32[B, 3, S//2]", "%0: f32[B, 3, S//2] = avg_pool1d(x, kernel_size=[2])"),
     lambda t: (t["x"][..., 0:2 * (t["x"].shape[-1] // 2):2] + t["x"][..., 1:2 * (t["x"].shape[-1] // 2):2]) / 2, bindings=SEQ_B)
case("avg_pool1d_padded", one("x: f32[B, 3, S]", "f32[B, 3, (S+1)//2]",
                              "%0: f32[B, 3, (S+1)//2] = avg_pool1d(x, kernel_size=[3], stride=[2], padding=[1], count_include_pad=false)"),
     lambda t: F.avg_pool2d(t["x"].unsqueeze(2), (1, 3), (1, 2), (0, 1), count_include_pad=False).squeeze(2), bindings=SEQ_B)
case("adaptive_avg_pool1d", one("x: f32[B, 3, S]", "f32[B, 3, 4]", "%0: f32[B, 3, 4] = adaptive_avg_pool1d(x, output_size=[4])"),
     lambda t: F.adaptive_avg_pool2d(t["x"].unsqueeze(2), (1, 4)).squeeze(2), bindings=SEQ_B)
case("adaptive_avg_pool1d_to_one", one("x: f32[B, 3, S]", "f32[B, 3, 1]", "%0: f32[B, 3, 1] = adaptive_avg_pool1d(x, output_size=[1])"),
     lambda t: t["x"].double().mean(-1, keepdim=True).float(), bindings=SEQ_B)

case("interpolate_nearest_scale", one("x: f32[B, 3, H, W]", "f32[B, 3, 2*H, 2*W]",
                                      "%0: f32[B, 3, 2*H, 2*W] = interpolate(x, size=[2*H, 2*W], scales=[2.0, 2.0])"),
     lambda t: t["x"].repeat_interleave(2, 2).repeat_interleave(2, 3), bindings=CONV_B)
case("interpolate_nearest_fractional", one("x: f32[B, 3, H, 6]", "f32[B, 3, H, 9]",
                                           "%0: f32[B, 3, H, 9] = interpolate(x, size=[H, 9], scales=[1.0, 1.5])"),
     lambda t: F.interpolate(t["x"], scale_factor=(1.0, 1.5), mode="nearest"), bindings=CONV_B)
case("interpolate_bilinear", one("x: f32[B, 3, H, W]", "f32[B, 3, 5, 7]",
                                 '%0: f32[B, 3, 5, 7] = interpolate(x, size=[5, 7], mode="bilinear", align_corners=true)'),
     lambda t: F.interpolate(t["x"], size=(5, 7), mode="bilinear", align_corners=True), bindings=CONV_B)
case("interpolate_bicubic_scale", one("x: f32[B, 3, H, W]", "f32[B, 3, 3*H, 3*W]",
                                      '%0: f32[B, 3, 3*H, 3*W] = interpolate(x, size=[3*H, 3*W], mode="bicubic", align_corners=false, scales=[3.0, 3.0])'),
     lambda t: F.interpolate(t["x"], scale_factor=3, mode="bicubic"), bindings=CONV_B)
case("interpolate_linear_1d", one("x: f32[B, 2, S]", "f32[B, 2, 4]", '%0: f32[B, 2, 4] = interpolate(x, size=[4], mode="linear", align_corners=false)'),
     lambda t: F.interpolate(t["x"], size=4, mode="linear"))
case("interpolate_nearest_exact_3d", one("x: f32[B, 1, 2, S, 3]", "f32[B, 1, 3, 4, 5]",
                                         '%0: f32[B, 1, 3, 4, 5] = interpolate(x, size=[3, 4, 5], mode="nearest-exact")'),
     lambda t: F.interpolate(t["x"], size=(3, 4, 5), mode="nearest-exact"))
case("interpolate_trilinear", one("x: f32[B, 1, 2, S, 3]", "f32[B, 1, 3, 4, 5]",
                                  '%0: f32[B, 1, 3, 4, 5] = interpolate(x, size=[3, 4, 5], mode="trilinear", align_corners=true)'),
     lambda t: F.interpolate(t["x"], size=(3, 4, 5), mode="trilinear", align_corners=True))


# -- normalisation, attention, lookups -------------------------------------------------------------
def _ln(x: torch.Tensor, dims: tuple[int, ...], eps: float) -> torch.Tensor:
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


case("layer_norm", one("x: f32[B, S, 8]", "f32[B, S, 8]", """
    param ln.weight: f32[8]
    param ln.bias: f32[8]
    %0: f32[B, S, 8] = layer_norm(x, ln.weight, ln.bias, normalized_shape=[8], eps=0.00001)"""),
     lambda t: _ln(t["x"], (-1,), 1e-5) * t["ln.weight"] + t["ln.bias"])
case("layer_norm_symbolic_shape", one("x: f32[B, S, 4]", "f32[B, S, 4]",
                                      "%0: f32[B, S, 4] = layer_norm(x, None, None, normalized_shape=[S, 4])"),
     lambda t: _ln(t["x"], (-2, -1), 1e-5))
case("rms_norm", one("x: f32[B, S, 8]", "f32[B, S, 8]", """
    param norm.weight: f32[8]
    %0: f32[B, S, 8] = rms_norm(x, norm.weight, normalized_shape=[8], eps=0.000001)"""),
     lambda t: t["x"] / torch.sqrt((t["x"] ** 2).mean(-1, keepdim=True) + 1e-6) * t["norm.weight"])
case("rms_norm_default_eps", one("x: f32[B, S, 8]", "f32[B, S, 8]", "%0: f32[B, S, 8] = rms_norm(x, normalized_shape=[8])"),
     lambda t: t["x"] / torch.sqrt((t["x"] ** 2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps))
case("batch_norm", one("x: f32[B, 4, S]", "f32[B, 4, S]", """
    param bn.weight: f32[4]
    param bn.bias: f32[4]
    buffer bn.running_mean: f32[4]
    buffer bn.running_var: f32[4]
    %0: f32[B, 4, S] = batch_norm(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, eps=0.001)"""),
     lambda t: (t["x"] - t["bn.running_mean"][:, None]) / torch.sqrt(t["bn.running_var"][:, None] + 1e-3)
     * t["bn.weight"][:, None] + t["bn.bias"][:, None],
     gens={"bn.running_var": positive})
case("group_norm", one("x: f32[B, 6, S]", "f32[B, 6, S]", """
    param gn.weight: f32[6]
    param gn.bias: f32[6]
    %0: f32[B, 6, S] = group_norm(x, gn.weight, gn.bias, num_groups=3)"""),
     lambda t: _ln(t["x"].reshape(t["x"].shape[0], 3, -1), (-1,), 1e-5).reshape(t["x"].shape) * t["gn.weight"][:, None]
     + t["gn.bias"][:, None])


def _softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    e = torch.exp(x - x.amax(dim, keepdim=True))
    return e / e.sum(dim, keepdim=True)


case("softmax", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = softmax(x, dim=-1)"), lambda t: _softmax(t["x"], -1))
case("softmax_dtype", one("x: f32[B, S]", "f64[B, S]", "%0: f64[B, S] = softmax(x, dim=0, dtype=f64)"),
     lambda t: _softmax(t["x"].double(), 0))
case("log_softmax", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = log_softmax(x, dim=1)"),
     lambda t: t["x"] - torch.logsumexp(t["x"], 1, keepdim=True))
case("embedding", one("idx: i64[B, S]", "f32[B, S, 4]", """
    param wte.weight: f32[10, 4]
    %0: f32[B, S, 4] = embedding(wte.weight, idx)"""),
     lambda t: t["wte.weight"][t["idx"]], gens={"idx": ints(0, 10)})
case("embedding_padding_idx", one("idx: i64[B, S]", "f32[B, S, 4]", """
    param emb.weight: f32[10, 4]
    %0: f32[B, S, 4] = embedding(emb.weight, idx, padding_idx=-1)"""),
     lambda t: F.embedding(t["idx"], t["emb.weight"], padding_idx=9), gens={"idx": ints(7, 10)})
case("embedding_i32", one("idx: i32[B, S]", "f32[B, S, 4]", """
    param w: f32[10, 4]
    %0: f32[B, S, 4] = embedding(w, idx, padding_idx=2)"""),
     lambda t: F.embedding(t["idx"].long(), t["w"], padding_idx=2), gens={"idx": ints(0, 5)})


def _attn(q, k, v, mask=None, causal=False, scale=None):
    s = (q @ k.transpose(-1, -2)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if causal:
        s = s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    return _softmax(s, -1) @ v


QKV = "q: f32[B, 2, S, 4], k: f32[B, 2, S, 4], v: f32[B, 2, S, 4]"
case("attention", one(QKV, "f32[B, 2, S, 4]", "%0: f32[B, 2, S, 4] = attention(q, k, v)"), lambda t: _attn(t["q"], t["k"], t["v"]))
case("attention_causal_scale", one(QKV, "f32[B, 2, S, 4]", "%0: f32[B, 2, S, 4] = attention(q, k, v, is_causal=true, scale=0.3)"),
     lambda t: _attn(t["q"], t["k"], t["v"], causal=True, scale=0.3))
case("attention_float_mask", one(QKV + ", m: f32[B, 1, S, S]", "f32[B, 2, S, 4]", "%0: f32[B, 2, S, 4] = attention(q, k, v, m)"),
     lambda t: _attn(t["q"], t["k"], t["v"], mask=t["m"]))
case("attention_bool_mask", one("q: f32[B, 2, S, 4], k: f32[B, 2, 3, 4], v: f32[B, 2, 3, 4], m: bool[S, 3]", "f32[B, 2, S, 4]",
                                "%0: f32[B, 2, S, 4] = attention(q, k, v, m)"),
     lambda t: _attn(t["q"], t["k"], t["v"], mask=t["m"]),
     gens={"m": lambda shape, dtype, g: torch.ones(shape, dtype=torch.bool).tril()})

case("one_hot", one("i: i64[B, S]", "i64[B, S, 4]", "%0: i64[B, S, 4] = one_hot(i, num_classes=4)"),
     lambda t: (t["i"].unsqueeze(-1) == torch.arange(4)).long(), gens={"i": ints(0, 4)}, grad=False)

# -- shape manipulation -------------------------------------------------------------------------------
case("reshape", one("x: f32[B, S, 6]", "f32[B, S, 2, 3]", "%0: f32[B, S, 2, 3] = reshape(x, shape=[B, S, 2, 3])"),
     lambda t: t["x"].reshape(t["x"].shape[0], t["x"].shape[1], 2, 3))
case("reshape_after_permute", one("x: f32[B, S, 6]", "f32[B, 6*S]", """
    %0: f32[B, 6, S] = permute(x, dims=[0, 2, 1])
    %1: f32[B, 6*S] = reshape(%0, shape=[B, 6*S])"""),
     lambda t: t["x"].transpose(1, 2).contiguous().flatten(1))
case("reshape_hole", one("x: f32[B, S, 6]", "f32[3*B*S, 2]", "%0: f32[3*B*S, 2] = reshape(x, shape=[-1, 2])"),
     lambda t: t["x"].reshape(-1, 2))
case("expand", one("x: f32[B, 1, S]", "f32[B, 4, S]", "%0: f32[B, 4, S] = expand(x, shape=[B, 4, S])"),
     lambda t: t["x"].repeat(1, 4, 1))
case("expand_holes", one("x: f32[1, S], b: f32[B]", "f32[B, 3, S]", "%0: f32[B, 3, S] = expand(x, shape=[B, 3, -1])"),
     lambda t: t["x"].reshape(1, 1, -1).repeat(t["b"].shape[0], 3, 1))
case("permute", one("x: f32[B, S, 3]", "f32[3, B, S]", "%0: f32[3, B, S] = permute(x, dims=[2, 0, 1])"),
     lambda t: t["x"].movedim(2, 0))
case("transpose", one("x: f32[B, S, 3]", "f32[3, S, B]", "%0: f32[3, S, B] = transpose(x, dim0=-1, dim1=0)"),
     lambda t: t["x"].permute(2, 1, 0))
case("flatten", one("x: f32[B, S, 2, 3]", "f32[B, 6*S]", "%0: f32[B, 6*S] = flatten(x, start_dim=1)"),
     lambda t: t["x"].reshape(t["x"].shape[0], -1))
case("flatten_all", one("x: f32[B, S, 2]", "f32[2*B*S]", "%0: f32[2*B*S] = flatten(x)"), lambda t: t["x"].reshape(-1))
case("unsqueeze", one("x: f32[B, S]", "f32[B, S, 1]", "%0: f32[B, S, 1] = unsqueeze(x, dim=-1)"), lambda t: t["x"][..., None])
case("squeeze_all", one("x: f32[B, 1, S, 1]", "f32[B, S]", "%0: f32[B, S] = squeeze(x)"),
     lambda t: t["x"][:, 0, :, 0], bindings=({"B": 1, "S": 1}, {"B": 3, "S": 5}))
case("squeeze_dims", one("x: f32[B, 1, S, 1]", "f32[B, S, 1]", "%0: f32[B, S, 1] = squeeze(x, dims=[1, 2])"),
     lambda t: t["x"][:, 0], bindings=({"B": 2, "S": 1}, {"B": 3, "S": 5}))
case("concat", one("x: f32[B, S], y: f32[B, 2], z: f32[B, S]", "f32[B, 2*S+2]", "%0: f32[B, 2*S+2] = concat(x, y, z, dim=1)"),
     lambda t: torch.cat([t["x"], t["y"], t["z"]], -1))
case("slice", one("x: f32[B, S]", "f32[B, S//2]", "%0: f32[B, S//2] = slice(x, dim=1, start=1, end=S, step=2)"),
     lambda t: t["x"][:, 1::2])
case("slice_negative_start", one("x: f32[B, S]", "f32[B, 2]", "%0: f32[B, 2] = slice(x, dim=-1, start=-2)"),
     lambda t: t["x"][:, -2:])
case("slice_symbolic_end", one("x: f32[B, S, 4], y: f32[S]", "f32[B, S-1, 4]", "%0: f32[B, S-1, 4] = slice(x, dim=1, start=0, end=S-1)"),
     lambda t: t["x"][:, : t["x"].shape[1] - 1])
case("slice_clipped_end", one("x: f32[B, 6]", "f32[B, 4]", "%0: f32[B, 4] = slice(x, dim=1, start=2, end=100)"),
     lambda t: t["x"][:, 2:])
case("select", one("x: f32[B, S, 3]", "f32[B, 3]", "%0: f32[B, 3] = select(x, dim=1, index=-1)"), lambda t: t["x"][:, -1])
case("select_symbolic", one("x: f32[B, S, 3]", "f32[B, 3]", "%0: f32[B, 3] = select(x, dim=1, index=S-2)"), lambda t: t["x"][:, -2])
case("split", one("x: f32[B, S+2]", "f32[B, 2], f32[B, S]", "%a: f32[B, 2], %b: f32[B, S] = split(x, dim=1, sizes=[2, S])")
     .replace("return %a", "return %a, %b"),
     lambda t: (t["x"][:, :2], t["x"][:, 2:]))
case("index_select", one("x: f32[B, S], i: i64[4]", "f32[B, 4]", "%0: f32[B, 4] = index_select(x, i, dim=1)"),
     lambda t: t["x"][:, t["i"]], gens={"i": ints(0, 3)})
case("index_select_scalar_index", one("x: f32[B, S], i: i64[]", "f32[B, 1]", "%0: f32[B, 1] = index_select(x, i, dim=1)"),
     lambda t: t["x"][:, t["i"].reshape(1)], gens={"i": ints(0, 3)})
case("index_adjacent", one("x: f32[B, 5, 6], i: i64[S], j: i64[S]", "f32[B, S]", "%0: f32[B, S] = index(x, i, j, dims=[1, 2])"),
     lambda t: torch.stack([t["x"][:, int(a), int(b)] for a, b in zip(t["i"], t["j"])], 1), gens={"i": ints(0, 5), "j": ints(-6, 6)})
case("index_separated", one("x: f32[4, B, 5], i: i64[S, 1], j: i32[2]", "f32[S, 2, B]", "%0: f32[S, 2, B] = index(x, i, j, dims=[0, 2])"),
     lambda t: torch.stack([torch.stack([t["x"][int(a), :, int(b)] for b in t["j"]]) for a in t["i"][:, 0]]),
     gens={"i": ints(0, 4), "j": ints(0, 5)})
case("index_default_dims", one("x: f32[7, S], i: i64[B]", "f32[B, S]", "%0: f32[B, S] = index(x, i)"),
     lambda t: torch.stack([t["x"][int(a)] for a in t["i"]]), gens={"i": ints(0, 7)})
case("gather", one("x: f32[B, S], i: i64[B, 4]", "f32[B, 4]", "%0: f32[B, 4] = gather(x, i, dim=1)"),
     lambda t: torch.stack([t["x"][r][t["i"][r]] for r in range(t["x"].shape[0])]), gens={"i": ints(0, 3)})
case("gather_i32", one("x: f32[B, S], i: i32[2, S]", "f32[2, S]", "%0: f32[2, S] = gather(x, i, dim=0)"),
     lambda t: torch.stack([t["x"][t["i"][r].long(), torch.arange(t["x"].shape[1])] for r in range(2)]), gens={"i": ints(0, 2)})
case("gather_rows", one("x: f32[7, 4], i: i64[B, S]", "f32[B, S, 4]", "%0: f32[B, S, 4] = gather_rows(x, i)"),
     lambda t: torch.stack([t["x"][int(j)] for j in t["i"].flatten()]).reshape(*t["i"].shape, 4), gens={"i": ints(0, 7)})
# -- data-dependent sizes: an unbacked symbol the op defines, used by the ops after it -----------
case("nonzero", one("x: f32[B, S]", "i64[u0, 2]", """
    symbol u0: [0, inf] unbacked
    %m: bool[B, S] = gt(x, 0)
    %0: i64[u0, 2] = nonzero(%m, size=u0)"""), lambda t: torch.nonzero(t["x"] > 0), grad=False)
case("masked_select", one("x: f32[B, S], m: bool[S]", "f32[u0]", """
    symbol u0: [0, inf] unbacked
    %s: f32[u0] = masked_select(x, m, size=u0)
    %0: f32[u0] = mul(%s, %s)"""), lambda t: torch.masked_select(t["x"], t["m"]) ** 2)
case("boolean_index", one("x: f32[B, S, 4], m: bool[B, S]", "f32[u0]", """
    symbol u0: [0, inf] unbacked
    %r: f32[u0, 4] = boolean_index(x, m, size=u0)
    %0: f32[u0] = sum(%r, dims=[1])"""), lambda t: t["x"][t["m"]].sum(1))
case("boolean_index_dim1", one("x: f32[3, B, S], m: bool[B]", "f32[3, u7, S]", """
    symbol u7: [0, 64] unbacked
    %0: f32[3, u7, S] = boolean_index(x, m, dim=1, size=u7)"""), lambda t: t["x"][:, t["m"]])
case("index_add", one("x: f32[B, S], i: i64[4], v: f32[4, S]", "f32[B, S]", "%0: f32[B, S] = index_add(x, i, v, dim=0)"),
     lambda t: t["x"].index_add(0, t["i"], t["v"]), gens={"i": ints(0, 2)})
case("index_add_alpha", one("x: f32[B, S], i: i32[3], v: f32[B, 3]", "f32[B, S]", "%0: f32[B, S] = index_add(x, i, v, dim=1, alpha=0.5)"),
     lambda t: t["x"].index_add(1, t["i"].long(), t["v"], alpha=0.5), gens={"i": ints(0, 3)})
case("pad", one("x: f32[B, S]", "f32[B, S+3]", "%0: f32[B, S+3] = pad(x, pad=[1, 2], value=0.5)"),
     lambda t: torch.cat([torch.full((t["x"].shape[0], 1), 0.5), t["x"], torch.full((t["x"].shape[0], 2), 0.5)], 1))
case("pad_two_dims", one("x: f32[B, S, 4]", "f32[B, S+2, 6]", "%0: f32[B, S+2, 6] = pad(x, pad=[1, 1, 0, 2])"),
     lambda t: F.pad(t["x"], (1, 1, 0, 2)))
case("pad_negative", one("x: f32[B, S]", "f32[B, S-1]", "%0: f32[B, S-1] = pad(x, pad=[-1, 0])"), lambda t: t["x"][:, 1:])
case("repeat", one("x: f32[B, 1, 3], y: f32[S]", "f32[B, S, 6]", "%0: f32[B, S, 6] = repeat(x, repeats=[1, S, 2])"),
     lambda t: t["x"].expand(-1, t["y"].shape[0], -1).tile(1, 1, 2))
case("tril", one("x: f32[B, S, S]", "f32[B, S, S]", "%0: f32[B, S, S] = tril(x)"),
     lambda t: t["x"] * torch.ones(t["x"].shape[-2:]).tril())
case("triu", one("x: f32[B, S, S]", "f32[B, S, S]", "%0: f32[B, S, S] = triu(x, diagonal=1)"),
     lambda t: t["x"] * (1 - torch.ones(t["x"].shape[-2:]).tril()))

case("flip", one("x: f32[B, S, 3]", "f32[B, S, 3]", "%0: f32[B, S, 3] = flip(x, dims=[1, -1])"),
     lambda t: t["x"][:, torch.arange(t["x"].shape[1] - 1, -1, -1)][..., [2, 1, 0]])
case("roll", one("x: f32[B, S, 3]", "f32[B, S, 3]", "%0: f32[B, S, 3] = roll(x, shifts=[1, -1], dims=[1, 2])"),
     lambda t: torch.cat([t["x"][:, -1:], t["x"][:, :-1]], 1)[..., [1, 2, 0]])
case("roll_flat", one("x: f32[B, 3]", "f32[B, 3]", "%0: f32[B, 3] = roll(x, shifts=[2])"),
     lambda t: torch.cat([t["x"].flatten()[-2:], t["x"].flatten()[:-2]]).reshape(t["x"].shape))

# -- reductions and scans ---------------------------------------------------------------------------
case("sum", one("x: f32[B, S, 3]", "f32[B, 1, 3]", "%0: f32[B, 1, 3] = sum(x, dims=[1], keepdim=true)"),
     lambda t: t["x"].double().sum(1, keepdim=True).float())
case("sum_all", one("x: f32[B, S]", "f32[]", "%0: f32[] = sum(x)"), lambda t: t["x"].double().sum().float())
case("sum_bool", one("x: bool[B, S]", "i64[B]", "%0: i64[B] = sum(x, dims=[-1])"), lambda t: t["x"].long().sum(-1), grad=False)
case("sum_dtype", one("x: f32[B, S]", "f64[B]", "%0: f64[B] = sum(x, dims=[1], dtype=f64)"), lambda t: t["x"].double().sum(1))
case("mean", one("x: f32[B, S, 3]", "f32[B, S]", "%0: f32[B, S] = mean(x, dims=[-1])"), lambda t: t["x"].sum(-1) / 3)
case("mean_all_keepdim", one("x: f32[B, S]", "f32[1, 1]", "%0: f32[1, 1] = mean(x, keepdim=true)"),
     lambda t: t["x"].double().mean().float().reshape(1, 1))
case("amax", one("x: f32[B, S, 3]", "f32[S]", "%0: f32[S] = amax(x, dims=[0, 2])"),
     lambda t: t["x"].max(2).values.max(0).values)
case("amin", one("x: f32[B, S]", "f32[1, 1]", "%0: f32[1, 1] = amin(x, keepdim=true)"), lambda t: t["x"].min().reshape(1, 1))
case("var", one("x: f32[B, S]", "f32[B]", "%0: f32[B] = var(x, dims=[1], correction=0)"),
     lambda t: ((t["x"] - t["x"].mean(1, keepdim=True)) ** 2).mean(1))
case("var_all", one("x: f32[B, S]", "f32[]", "%0: f32[] = var(x)"),
     lambda t: ((t["x"] - t["x"].mean()) ** 2).sum() / (t["x"].numel() - 1))
case("argmax", one("x: f32[B, S]", "i64[B]", "%0: i64[B] = argmax(x, dim=1)"), lambda t: t["x"].max(1).indices, grad=False)
case("argmax_keepdim", one("x: f32[B, S]", "i64[1, S]", "%0: i64[1, S] = argmax(x, dim=0, keepdim=true)"),
     lambda t: t["x"].max(0, keepdim=True).indices, grad=False)
case("argmax_all", one("x: f32[B, S]", "i64[]", "%0: i64[] = argmax(x)"), lambda t: t["x"].flatten().max(0).indices, grad=False)
case("cumsum", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = cumsum(x, dim=1)"),
     lambda t: torch.stack([t["x"][:, : j + 1].sum(1) for j in range(t["x"].shape[1])], 1))
case("cumsum_bool", one("x: bool[B, S]", "i64[B, S]", "%0: i64[B, S] = cumsum(x, dim=-1)"),
     lambda t: torch.stack([t["x"][:, : j + 1].long().sum(1) for j in range(t["x"].shape[1])], 1), grad=False)

case("topk", one("x: f32[B, S]", "f32[B, 2], i64[B, 2]", "%v: f32[B, 2], %i: i64[B, 2] = topk(x, k=2)")
     .replace("return %v", "return %v, %i"),
     lambda t: tuple(r[:, :2] for r in torch.sort(t["x"], 1, descending=True)))
case("topk_smallest_dim0_symbolic_k", one("x: f32[B, S]", "f32[B, S]", "%v: f32[B, S], %i: i64[B, S] = topk(x, k=B, dim=0, largest=false)"),
     lambda t: torch.sort(t["x"], 0).values)
case("sort", one("x: f32[B, S]", "f32[B, S], i64[B, S]", "%v: f32[B, S], %i: i64[B, S] = sort(x, dim=0, descending=true)")
     .replace("return %v", "return %v, %i"),
     lambda t: tuple(torch.topk(t["x"], t["x"].shape[0], 0)))
case("argsort", one("x: f32[B, S]", "i64[B, S]", "%0: i64[B, S] = argsort(x, stable=true)"),
     lambda t: torch.topk(t["x"], t["x"].shape[1], 1, largest=False).indices, grad=False)
case("cumprod", one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = cumprod(x, dim=1)"),
     lambda t: torch.stack([t["x"][:, : j + 1].prod(1) for j in range(t["x"].shape[1])], 1))
case("cumprod_int", one("x: i32[B, S]", "i64[B, S]", "%0: i64[B, S] = cumprod(x, dim=0)"),
     lambda t: torch.stack([t["x"][: j + 1].long().prod(0) for j in range(t["x"].shape[0])], 0), grad=False)
case("logsumexp", one("x: f32[B, S, 3]", "f32[B, 1, 3]", "%0: f32[B, 1, 3] = logsumexp(x, dims=[1], keepdim=true)"),
     lambda t: t["x"].double().exp().sum(1, keepdim=True).log().float())
case("logsumexp_large", one("x: f32[B, S]", "f32[]", "%0: f32[] = logsumexp(x)"),
     lambda t: (t["x"].double().max() + (t["x"].double() - t["x"].double().max()).exp().sum().log()).float(),
     gens={"x": lambda shape, dtype, g: (torch.randn(shape, generator=g, dtype=torch.float64) * 50 + 200).to(dtype)})

# -- creation ------------------------------------------------------------------------------------------
case("arange", one("x: i64[S]", "i64[S]", """
    %0: i64[S] = arange(end=S)
    %1: i64[S] = add(x, %0)"""), lambda t: t["x"] + torch.tensor(list(range(t["x"].shape[0]))), grad=False)
case("arange_start_step_f32", one("x: f32[(S+3)//2], y: f32[S]", "f32[(S+3)//2]", """
    %0: f32[(S+3)//2] = arange(start=1, end=S+3, step=2, dtype=f32)
    %1: f32[(S+3)//2] = mul(x, %0)"""),
     lambda t: t["x"] * torch.tensor([float(v) for v in range(1, t["y"].shape[0] + 3, 2)]),
     bindings=({"S": 3}, {"S": 6}))
case("arange_linear_binding", one("x: f32[2*S+1]", "i64[S]", "%0: i64[S] = arange(end=S)"),
     lambda t: torch.tensor(list(range((t["x"].shape[0] - 1) // 2))), grad=False)
case("full", one("x: f32[B, S]", "f32[B, S]", """
    %0: f32[B, S] = full(shape=[B, S], value=2.5, dtype=f32)
    %1: f32[B, S] = mul(x, %0)"""), lambda t: t["x"] * 2.5)
case("full_bool", one("x: f32[B, S]", "bool[S, S]", "%0: bool[S, S] = full(shape=[S, S], value=true, dtype=bool)"),
     lambda t: torch.ones(t["x"].shape[1], t["x"].shape[1], dtype=torch.bool), grad=False)
case("full_like", one("x: f32[B, S]", "i64[B, S]", "%0: i64[B, S] = full_like(x, value=3, dtype=i64)"),
     lambda t: torch.ones(t["x"].shape, dtype=torch.long) * 3, grad=False)
case("full_like_same", one("x: f32[B, S]", "f32[B, S]", """
    %0: f32[B, S] = full_like(x, value=-1.5)
    %1: f32[B, S] = add(x, %0)"""), lambda t: t["x"] - 1.5)
case("constant", one("x: f32[B, 2, 2]", "f32[B, 2, 2]", """
    %0: f32[2, 2] = constant(value=[1.0, 2.0, 3.0, 4.0], shape=[2, 2], dtype=f32)
    %1: f32[B, 2, 2] = mul(x, %0)"""), lambda t: t["x"] * torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
case("constant_i64_returned", one("x: f32[B]", "i64[3]", "%0: i64[3] = constant(value=[7, -1, 2], shape=[3], dtype=i64)"),
     lambda t: torch.tensor([7, -1, 2]), grad=False)

# -- spectral ops and complex values ---------------------------------------------------------
case("fft", one("x: f32[B, S, 6]", "f32[B, S, 6]", """
    %0: c64[B, S, 6] = fft(x, dims=[-2, -1])
    %1: f32[B, S, 6] = real(%0)"""), lambda t: torch.fft.fftn(t["x"], dim=(-2, -1)).real)
case("fft_inverse", one("x: f32[B, S, 6]", "f32[B, S, 6]", """
    %0: c64[B, S, 6] = fft(x, dims=[1], norm="ortho", inverse=true)
    %1: f32[B, S, 6] = imag(%0)"""), lambda t: torch.fft.ifftn(t["x"], dim=[1], norm="ortho").imag)
case("rfft_irfft", one("x: f32[B, S]", "f32[B, S]", """
    %0: c64[B, S//2+1] = rfft(x, dims=[-1], norm="forward")
    %1: c64[B, S//2+1] = mul(%0, %0)
    %2: f32[B, S] = irfft(%1, dims=[-1], norm="forward", n=S)"""),
     lambda t: torch.fft.irfft(torch.fft.rfft(t["x"], norm="forward") ** 2, n=t["x"].shape[-1], norm="forward"))
case("irfft_default_length", one("x: f32[B, S, 4]", "f32[B, S, 6]", """
    %0: c64[B, S, 4] = fft(x, dims=[0, 2])
    %1: f32[B, S, 6] = irfft(%0, dims=[0, 2])"""), lambda t: torch.fft.irfftn(torch.fft.fftn(t["x"], dim=[0, 2]), dim=[0, 2]))
case("view_as_complex_real", one("x: f32[B, S, 2], y: f32[B, S, 2]", "f32[B, S, 2]", """
    %0: c64[B, S] = view_as_complex(x)
    %1: c64[B, S] = view_as_complex(y)
    %2: c64[B, S] = div(%0, %1)
    %3: c64[B, S] = sub(%2, %0)
    %4: c64[B, S] = neg(%3)
    %5: f32[B, S, 2] = view_as_real(%4)"""),
     lambda t: torch.view_as_real(-(torch.view_as_complex(t["x"]) / torch.view_as_complex(t["y"]) - torch.view_as_complex(t["x"]))))
case("complex_abs", one("x: f32[B, S], y: f32[S]", "f32[B, S]", """
    %0: c64[B, S] = complex(x, y)
    %1: c64[B, S] = add(%0, x)
    %2: c64[B, S] = mul(%1, 2.0)
    %3: f32[B, S] = abs(%2)"""), lambda t: ((torch.complex(t["x"], t["y"]) + t["x"]) * 2.0).abs())


CASE_IDS = [c.name for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "case names must be unique"


@pytest.mark.parametrize("c", CASES, ids=CASE_IDS)
def test_op_matches_torch_reference(c: Case) -> None:
    check_case(c)


def test_every_dialect_op_has_a_lowering() -> None:
    missing = sorted(name for name, cls in gs.OPS.items() if cls not in LOWERINGS)
    assert not missing, f"ops without a torch lowering: {missing}"
    assert set(LOWERINGS) <= set(gs.OPS.values()), "lowerings for ops the dialect does not have"


def test_every_dialect_op_is_exercised() -> None:
    used: set[str] = set()
    for c in CASES:
        for op in gs.graph_ops(parse_ir(c.ir))[0].body.block.ops:
            used.add(op.name.removeprefix("gs."))
    missing = sorted(set(gs.OPS) - used)
    assert not missing, f"ops no test case exercises: {missing}"


def test_dropout_in_training_drops_and_rescales() -> None:
    from graphsynth.backend.lower import lower

    net = lower(parse_ir(one("x: f32[B, S]", "f32[B, S]", "%0: f32[B, S] = dropout(x, p=0.5, train=true)")))
    x = torch.ones(64, 256, requires_grad=True)
    y = net(x)
    kept = y != 0
    assert 0.4 < kept.float().mean().item() < 0.6, "about half the elements should be dropped"
    assert torch.all(y[kept] == 2.0), "kept elements are scaled by 1/(1-p)"
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() * 2.0), "the gradient flows through the kept elements only"
