"""The ``gs`` dialect: a tensor type with symbolic dims, graph structure ops, and primitive ops.

Every primitive op is declared once below with :func:`defop`: its arguments, its attributes
(with their kinds and defaults), its shape rule (``graphsynth.dialects.rules``) and a line of
documentation.  From that declaration we build an ordinary xDSL ``IRDLOperation`` class, so the
op prints and parses in MLIR generic syntax, works with xDSL's pattern rewriter, ``cse`` and
``dce``, and the same table drives the text form, the verifier, the lowering and the prompts.

The module hierarchy of the source model is recorded flat, the way torch.fx records
``nn_module_stack``: each op carries its module path in the ``scope`` property and the graph
holds the table of modules (path, class, parent).  The printer nests ``module`` blocks from it.
Keeping one SSA block per graph means every pattern, fusion and query works across module
boundaries without yield plumbing, and the generic form stays valid MLIR (no value escapes a
region).  Value names are a property (``names``) so that they survive cloning and the MLIR round
trip exactly; xDSL's name hints cannot hold names such as ``%0`` or ``%x_1``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    NoneAttr,
    StringAttr,
    f64,
    i1,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, Region, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import IsTerminator, Pure
from xdsl.utils.exceptions import ParseError as XParseError
from xdsl.utils.lexer import Span

from graphsynth.dialects import rules
from graphsynth.dialects.limits import LimitError
from graphsynth.dialects.shapes import BoundedMemo, Dim, Shape, SymDim, check_dim, format_shape, parse_dim

# -- the tensor type -------------------------------------------------------------------


@irdl_attr_definition
class TensorType(ParametrizedAttribute, TypeAttribute):
    """``!gs.tensor<f32, ["B", 784]>``; text form ``f32[B, 784]``.

    Symbolic dims are stored as their canonical text so that two equal shapes are equal
    attributes; :meth:`sig` gives the parsed shape (memoised on the instance).
    """

    name = "gs.tensor"
    dtype: StringAttr
    dims: ArrayAttr[IntAttr | StringAttr]

    def sig(self) -> rules.Sig:
        cached = self.__dict__.get("_sig")
        if cached is None:
            shape = tuple(d.data if isinstance(d, IntAttr) else parse_dim(d.data) for d in self.dims.data)
            cached = rules.Sig(shape, self.dtype.data)
            object.__setattr__(self, "_sig", cached)
        return cached

    @property
    def shape(self) -> Shape:
        return self.sig().shape

    def __str__(self) -> str:
        return f"{self.dtype.data}{format_shape(self.shape)}"

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<" + self.dtype.data + ", [")
        printer.print_string(
            ", ".join(str(d.data) if isinstance(d, IntAttr) else f'"{d.data}"' for d in self.dims.data)
        )
        printer.print_string("]>")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        """MLIR syntax: every dim goes through the text form's own reading and range check
        (``parse_dim``, ``check_dim``), so both forms accept exactly the same types; a plain
        int dim written as a string is stored as an int, as the text form stores it."""
        parser.parse_punctuation("<")
        dtype = parser.parse_identifier()
        parser.parse_punctuation(",")

        def parse_one() -> Attribute:
            start = parser.pos
            value = parser.parse_optional_integer(allow_boolean=False)
            try:
                if value is None:
                    text = parser.parse_str_literal()
                    value = parse_dim(text)
                d = check_dim(value)
            except LimitError as e:
                raise DimError(Span(start, parser.pos, parser.lexer.input), e.message, e.code) from None
            return _dim_attr(d)

        dims = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parse_one)
        parser.parse_punctuation(">")
        return (StringAttr(dtype), ArrayAttr(dims))


@dataclass
class DimError(XParseError):
    """A dim of an MLIR-syntax type that the text form would refuse, with its diagnostic code."""

    code: str = "GS105"


# Interned types, bounded by the number of dims they hold (hostile input brings new ones).
_TYPE_CACHE = BoundedMemo(1 << 21)


def tensor_type(shape: Sequence[Dim], dtype: str) -> TensorType:
    """The (interned) TensorType of a shape and dtype."""
    key = (tuple(shape), dtype)
    t = _TYPE_CACHE.get(key)
    if t is None:
        dims = [IntAttr(d) if isinstance(d, int) else StringAttr(str(d)) for d in key[0]]
        t = TensorType(StringAttr(dtype), ArrayAttr(dims))
        object.__setattr__(t, "_sig", rules.Sig(key[0], dtype))
        _TYPE_CACHE.put(key, t, 1 + sum(1 if isinstance(d, int) else d.size for d in key[0]))
    return t


def sig_type(sig: rules.Sig) -> TensorType:
    return tensor_type(sig.shape, sig.dtype)


# -- attribute kinds: Python values <-> xDSL attributes -----------------------------------

REQUIRED = object()


@dataclass(frozen=True)
class AttrSpec:
    """An op attribute: ``kind`` is one of int, ints, float, bool, str, dtype, dim, dims,
    scalar (int/float/bool), floats.

    ``choices``, for a str attribute with a fixed set of values (``gelu``'s ``approximate``):
    the values it may take.  Declared here, with the attribute, and nowhere else: the verifier
    refuses any other value (GS209), and :meth:`OpSpec.signature` shows them to ``--list-ops``,
    the docs and the model's prompt.  A default of None is allowed besides the choices."""

    name: str
    kind: str
    default: Any = REQUIRED
    choices: tuple[str, ...] | None = None

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices (always, for an attribute without any)."""
        return self.choices is None or value in self.choices or (value is None and self.default is None)

    def describe(self) -> str:
        """``name=kind`` (required), ``name=default``, or with choices ``name='a'|'b'`` (the
        default first) and ``name=str('a'|'b')`` when required."""
        if self.choices is None:
            return f"{self.name}={self.kind}" if self.default is REQUIRED else f"{self.name}={_fmt_default(self.default)}"
        options = list(self.choices)
        if self.default is REQUIRED:
            return f"{self.name}={self.kind}(" + "|".join(map(repr, options)) + ")"
        rest = [o for o in options if o != self.default]
        return f"{self.name}=" + "|".join([_fmt_default(self.default), *map(repr, rest)])


def _dim_attr(d: Dim) -> Attribute:
    return IntAttr(d) if isinstance(d, int) else StringAttr(str(d))


def to_attr(kind: str, value: Any) -> Attribute:
    if value is None:
        return NoneAttr()
    if kind in ("int", "float", "bool", "scalar"):
        return scalar_attr(value)
    if kind in ("str", "dtype"):
        return StringAttr(value)
    if kind == "dim":
        return _dim_attr(value)
    if kind in ("ints", "dims"):
        return ArrayAttr([_dim_attr(d) for d in value])
    if kind == "floats":
        return ArrayAttr([scalar_attr(v) for v in value])
    raise ValueError(f"unknown attribute kind {kind}")


def scalar_attr(value: Any) -> Attribute:
    if isinstance(value, bool):
        return IntegerAttr.from_bool(value)
    if isinstance(value, int):
        return IntAttr(value)
    if isinstance(value, SymDim):
        return StringAttr(str(value))
    return FloatAttr(float(value), f64)


def from_attr(attr: Attribute) -> Any:
    """The Python value of an attribute (dims come back parsed)."""
    if isinstance(attr, IntAttr):
        return attr.data
    if isinstance(attr, NoneAttr):
        return None
    if isinstance(attr, IntegerAttr):
        v = attr.value.data
        return bool(v) if attr.type == i1 else v
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, ArrayAttr):
        return tuple(from_attr(a) for a in attr.data)
    raise TypeError(f"unsupported attribute {attr}")


def dim_value(value: Any) -> Any:
    """Attribute values of kind dim/dims keep symbolic entries as text; parse them."""
    if isinstance(value, str):
        return parse_dim(value)
    if isinstance(value, tuple):
        return tuple(parse_dim(v) if isinstance(v, str) else v for v in value)
    return value


# -- op specs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ArgSpec:
    """A positional argument: ``optional`` may be absent (or None), ``scalar`` may be a
    literal number instead of a tensor, ``variadic`` takes every remaining operand."""

    name: str
    optional: bool = False
    scalar: bool = False
    variadic: bool = False


@dataclass(frozen=True)
class OpSpec:
    name: str
    args: tuple[ArgSpec, ...]
    attrs: tuple[AttrSpec, ...]
    rule: Callable[[rules.RuleContext], list[rules.Sig]]
    doc: str
    elementwise: bool = False
    results: int = 1  # -1: as many as the rule returns
    attr_index: dict[str, AttrSpec] = field(default_factory=dict, compare=False, hash=False)

    def signature(self) -> str:
        """One line for --help, docs and prompts: ``linear(input, weight, bias?)``."""
        parts = []
        for a in self.args:
            parts.append(a.name + ("..." if a.variadic else "") + ("?" if a.optional else "") + ("|num" if a.scalar else ""))
        for a in self.attrs:
            parts.append(a.describe())
        return f"{self.name}({', '.join(parts)})"


def _fmt_default(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "[" + ", ".join(map(str, v)) + "]"
    return repr(v) if isinstance(v, str) else str(v)


class GsOp(IRDLOperation):
    """Base of the primitive ops: operands and results are TensorTypes."""

    SPEC: ClassVar[OpSpec]

    @property
    def scope(self) -> str:
        s = self.properties.get("scope")
        return s.data if isinstance(s, StringAttr) else ""

    def attr_values(self) -> dict[str, Any]:
        """Attribute values with defaults filled in (dims parsed)."""
        out: dict[str, Any] = {}
        props = self.properties
        for a in self.SPEC.attrs:
            attr = props.get(a.name)
            if attr is None:
                out[a.name] = None if a.default is REQUIRED else a.default
            else:
                v = from_attr(attr)
                out[a.name] = dim_value(v) if a.kind in ("dim", "dims") else v
        return out

    def arg_layout(self) -> list[Any]:
        """Each positional argument: an operand (SSAValue), a literal, or None if absent."""
        out: list[Any] = []
        operands = list(self.operands)
        k = 0
        props = self.properties
        for a in self.SPEC.args:
            if a.variadic:
                out.extend(operands[k:])
                k = len(operands)
                continue
            lit = props.get(a.name)
            if lit is not None:
                out.append(from_attr(lit))
            elif k < len(operands):
                out.append(operands[k])
                k += 1
            elif a.optional:
                out.append(None)
        return out


OPS: dict[str, type[GsOp]] = {}


def _args(text: str) -> tuple[ArgSpec, ...]:
    out = []
    for word in text.split():
        out.append(
            ArgSpec(
                word.strip("?#*"),
                optional="?" in word,
                scalar="#" in word,
                variadic="*" in word,
            )
        )
    return tuple(out)


def defop(
    name: str,
    args: str,
    rule: Callable[[rules.RuleContext], list[rules.Sig]],
    doc: str,
    *,
    attrs: Sequence[AttrSpec] = (),
    elementwise: bool = False,
    results: int = 1,
) -> type[GsOp]:
    """Declare a primitive op; ``args`` is e.g. ``"input weight bias?"`` (``#``: may be a
    number, ``*``: variadic)."""
    spec = OpSpec(name, _args(args), tuple(attrs), rule, doc, elementwise, results)
    spec.attr_index.update({a.name: a for a in spec.attrs})
    fields: dict[str, Any] = {
        "name": f"gs.{name}",
        "SPEC": spec,
        "__annotations__": {"SPEC": ClassVar[OpSpec]},
        "__doc__": doc,
        "ins": var_operand_def(TensorType),
        "outs": var_result_def(TensorType),
        "p_names": opt_prop_def(ArrayAttr, prop_name="names"),
        "p_scope": opt_prop_def(StringAttr, prop_name="scope"),
        "traits": traits_def(Pure()),
    }
    for a in spec.args:
        if a.scalar or a.optional:
            fields[f"p_{a.name}"] = opt_prop_def(Attribute, prop_name=a.name)
    for a in spec.attrs:
        fields[f"p_{a.name}"] = opt_prop_def(Attribute, prop_name=a.name)
    cls_name = "".join(p.capitalize() for p in name.split("_")) + "Op"
    cls = irdl_op_definition(type(cls_name, (GsOp,), fields))
    OPS[name] = cls
    return cls


A = AttrSpec

# -- structure ops ------------------------------------------------------------------------


@irdl_op_definition
class GraphOp(IRDLOperation):
    """A whole network: inputs are block arguments, outputs are ``gs.return`` operands.

    ``modules`` is the module table ``[[path, class, parent], ...]`` in first-use order.
    """

    name = "gs.graph"
    sym_name = prop_def(StringAttr)
    arg_names = prop_def(ArrayAttr)
    output_types = prop_def(ArrayAttr)
    modules = prop_def(ArrayAttr)
    body = region_def("single_block")

    @property
    def graph_name(self) -> str:
        return self.sym_name.data

    def module_table(self) -> dict[str, tuple[str, str]]:
        """path -> (class name, parent path)."""
        return {e.data[0].data: (e.data[1].data, e.data[2].data) for e in self.modules.data}


INIT_RE = re.compile(r"zeros|ones|normal:[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?")


@irdl_op_definition
class ParamOp(IRDLOperation):
    """A parameter or buffer, named by its ``state_dict`` key.

    A parameter that a pass creates (``insert-block``) has no value in the source model's
    state_dict, so it may carry an ``init`` attribute (``INIT_RE``) that the lowering uses as its
    initial value; it is printed as ``param norm.weight: f32[128] init="ones"``.
    """

    name = "gs.param"
    param_name = prop_def(StringAttr, prop_name="name")
    kind = prop_def(StringAttr)
    out = var_result_def(TensorType)
    # Not Pure: dce must keep unused parameters, they are part of the state_dict contract.


@irdl_op_definition
class ReturnOp(IRDLOperation):
    name = "gs.return"
    ins = var_operand_def(TensorType)
    traits = traits_def(IsTerminator())


@irdl_op_definition
class FusedOp(IRDLOperation):
    """A fused elementwise region: block arguments are the operands, ``gs.yield`` the results."""

    name = "gs.fused"
    ins = var_operand_def(TensorType)
    outs = var_result_def(TensorType)
    p_names = opt_prop_def(ArrayAttr, prop_name="names")
    p_scope = opt_prop_def(StringAttr, prop_name="scope")
    arg_names = opt_prop_def(ArrayAttr)
    body = region_def("single_block")
    traits = traits_def(Pure())

    @property
    def scope(self) -> str:
        s = self.properties.get("scope")
        return s.data if isinstance(s, StringAttr) else ""


@irdl_op_definition
class YieldOp(IRDLOperation):
    name = "gs.yield"
    ins = var_operand_def(TensorType)
    traits = traits_def(IsTerminator())


STRUCTURE_OPS = (GraphOp, ParamOp, ReturnOp, FusedOp, YieldOp)

# -- primitive ops ---------------------------------------------------------------------
# Elementwise, one input.
_UNARY = {
    "relu": "max(x, 0)",
    "silu": "x * sigmoid(x)",
    "tanh": "hyperbolic tangent",
    "sigmoid": "1 / (1 + exp(-x))",
    "exp": "e^x",
    "log": "natural logarithm",
    "sqrt": "square root",
    "rsqrt": "1 / sqrt(x)",
    "neg": "-x",
    "abs": "|x|",
    "sin": "sine",
    "cos": "cosine",
    "erf": "the error function",
    "reciprocal": "1 / x",
    "logical_not": "boolean not",
    "sign": "-1, 0 or 1 by the sign of x",
    "floor": "round down to an integer value",
    "ceil": "round up to an integer value",
    "round": "round to the nearest integer value, halves to even",
    "trunc": "round toward zero to an integer value",
    "identity": "x itself (a placeholder that canonicalize removes)",
}
# torch computes these in floating point: an integer input gives f32; logical_not gives bool.
_UNARY_RULES = {"relu": rules.unary, "neg": rules.unary, "abs": rules.unary, "identity": rules.unary, "logical_not": rules.logical}
_UNARY_RULES.update(dict.fromkeys(("sign", "floor", "ceil", "round", "trunc"), rules.unary))  # integers stay integers
for _name, _doc in _UNARY.items():
    defop(_name, "input", _UNARY_RULES.get(_name, rules.float_unary), _doc, elementwise=True)

GELU_APPROXIMATIONS = ("none", "tanh")
defop("gelu", "input", rules.unary, "Gaussian error linear unit", attrs=[A("approximate", "str", "none", GELU_APPROXIMATIONS)], elementwise=True)
defop("leaky_relu", "input", rules.unary, "x if x > 0 else slope * x", attrs=[A("negative_slope", "float", 0.01)], elementwise=True)
defop("softplus", "input", rules.unary, "log(1 + exp(beta * x)) / beta", attrs=[A("beta", "float", 1.0), A("threshold", "float", 20.0)], elementwise=True)
defop("hardtanh", "input", rules.unary, "clamp to [min_val, max_val]", attrs=[A("min_val", "float", -1.0), A("max_val", "float", 1.0)], elementwise=True)
defop("clamp", "input", rules.clamp, "clamp to [min, max]; either bound may be None", attrs=[A("min", "scalar", None), A("max", "scalar", None)], elementwise=True)
defop("dropout", "input", rules.unary, "dropout; the identity at inference", attrs=[A("p", "float", 0.5), A("train", "bool", False)], elementwise=True)
defop("cast", "input", rules.cast, "convert to another dtype", attrs=[A("dtype", "dtype")], elementwise=True)

# Elementwise, two inputs with broadcasting; either side may be a number.
_BINARY = {
    "add": (rules.binary, "lhs + rhs"),
    "sub": (rules.binary, "lhs - rhs"),
    "mul": (rules.binary, "lhs * rhs"),
    "pow": (rules.binary, "lhs ** rhs"),
    "maximum": (rules.binary, "elementwise max"),
    "minimum": (rules.binary, "elementwise min"),
    "remainder": (rules.binary, "Python-style modulus"),
    "eq": (rules.compare_op, "lhs == rhs (bool)"),
    "ne": (rules.compare_op, "lhs != rhs (bool)"),
    "lt": (rules.compare_op, "lhs < rhs (bool)"),
    "le": (rules.compare_op, "lhs <= rhs (bool)"),
    "gt": (rules.compare_op, "lhs > rhs (bool)"),
    "ge": (rules.compare_op, "lhs >= rhs (bool)"),
    "logical_and": (rules.logical, "boolean and"),
    "logical_or": (rules.logical, "boolean or"),
    "bitwise_and": (rules.binary, "bitwise and (ints, bools)"),
    "bitwise_or": (rules.binary, "bitwise or (ints, bools)"),
}
for _name, (_rule, _doc) in _BINARY.items():
    defop(_name, "lhs# rhs#", _rule, _doc, elementwise=True)
defop("div", "lhs# rhs#", rules.true_div, "lhs / rhs; rounding_mode trunc|floor for integer division", attrs=[A("rounding_mode", "str", None, ("trunc", "floor"))], elementwise=True)
defop("where", "cond lhs# rhs#", rules.where, "cond ? lhs : rhs", elementwise=True)
defop("masked_fill", "input mask value#", rules.masked_fill, "input with value where mask is true", elementwise=True)

# Linear algebra and convolution.
defop("linear", "input weight bias?", rules.linear, "input @ weight^T + bias (weight: [out, in])")
LINEAR_ACTIVATIONS = ("relu", "gelu", "silu")
defop(
    "linear_act",
    "input weight bias?",
    rules.linear_act,
    "activation(input @ weight^T + bias): linear fused with relu, gelu or silu (made by fuse-linear-activation); approximate=tanh only with gelu",
    attrs=[A("activation", "str", REQUIRED, LINEAR_ACTIVATIONS), A("approximate", "str", "none", GELU_APPROXIMATIONS)],
)
defop("matmul", "lhs rhs", rules.matmul, "batched matrix product with broadcasting batch dims")
defop("addmm", "bias lhs rhs", rules.addmm, "bias + lhs @ rhs for 2-d lhs, rhs (GPT-2's Conv1D; weight [in, out])")
_CONV = [A("stride", "ints", (1, 1)), A("padding", "ints", (0, 0)), A("dilation", "ints", (1, 1)), A("groups", "int", 1)]
defop("conv2d", "input weight bias?", rules.conv2d, "2-d convolution, NCHW, weight [out, in/groups, kh, kw]", attrs=_CONV)
defop("conv1d", "input weight bias?", rules.conv1d, "1-d convolution, NCL, weight [out, in/groups, k]", attrs=[A("stride", "ints", (1,)), A("padding", "ints", (0,)), A("dilation", "ints", (1,)), A("groups", "int", 1)])
_POOL = [A("kernel_size", "ints"), A("stride", "ints", None), A("padding", "ints", (0, 0))]
defop("max_pool2d", "input", rules.pool2d, "2-d max pooling", attrs=[*_POOL, A("dilation", "ints", (1, 1)), A("ceil_mode", "bool", False)])
defop("avg_pool2d", "input", rules.pool2d, "2-d average pooling", attrs=[*_POOL, A("ceil_mode", "bool", False), A("count_include_pad", "bool", True)])
defop("adaptive_avg_pool2d", "input", rules.adaptive_avg_pool2d, "average pooling to a fixed output size", attrs=[A("output_size", "ints")])
defop(
    "interpolate",
    "input",
    rules.interpolate,
    "resize the trailing spatial dims to size (nearest, bilinear, bicubic); scales, when given, are the factors torch uses to pick source pixels",
    attrs=[
        A("size", "dims"),
        A("mode", "str", "nearest", ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear")),
        A("align_corners", "bool", None),
        A("scales", "floats", None),
    ],
)

# Normalisation, attention, lookups.
defop("layer_norm", "input weight? bias?", rules.layer_norm, "normalise over the trailing normalized_shape dims", attrs=[A("normalized_shape", "dims"), A("eps", "float", 1e-5)])
defop("rms_norm", "input weight?", rules.rms_norm, "x / sqrt(mean(x^2) + eps) * weight", attrs=[A("normalized_shape", "dims"), A("eps", "float", None)])
defop("batch_norm", "input weight? bias? running_mean? running_var?", rules.batch_norm, "batch norm with running statistics (inference form)", attrs=[A("eps", "float", 1e-5), A("momentum", "float", 0.1), A("training", "bool", False)])
defop("group_norm", "input weight? bias?", rules.group_norm, "group norm over channel groups", attrs=[A("num_groups", "int"), A("eps", "float", 1e-5)])
defop("softmax", "input", rules.softmax, "softmax along dim", attrs=[A("dim", "int"), A("dtype", "dtype", None)])
defop("log_softmax", "input", rules.softmax, "log-softmax along dim", attrs=[A("dim", "int"), A("dtype", "dtype", None)])
defop("embedding", "weight indices", rules.embedding, "rows of weight [V, D] picked by integer indices", attrs=[A("padding_idx", "int", None)])
defop("attention", "query key value mask?", rules.attention, "scaled dot-product attention softmax(q k^T * scale + mask) v", attrs=[A("is_causal", "bool", False), A("scale", "float", None), A("dropout_p", "float", 0.0)])

# Shape manipulation.
defop("reshape", "input", rules.reshape, "same elements, new shape (one dim may be -1)", attrs=[A("shape", "dims")])
defop("expand", "input", rules.expand, "broadcast size-1 dims to shape (-1 keeps a dim)", attrs=[A("shape", "dims")])
defop("permute", "input", rules.permute, "reorder dims", attrs=[A("dims", "ints")])
defop("transpose", "input", rules.transpose, "swap two dims", attrs=[A("dim0", "int"), A("dim1", "int")])
defop("flatten", "input", rules.flatten, "merge dims start_dim..end_dim", attrs=[A("start_dim", "int", 0), A("end_dim", "int", -1)])
defop("unsqueeze", "input", rules.unsqueeze, "insert a size-1 dim", attrs=[A("dim", "int")])
defop("squeeze", "input", rules.squeeze, "drop size-1 dims (all, or those listed)", attrs=[A("dims", "ints", None)])
defop("concat", "inputs*", rules.concat, "join along dim", attrs=[A("dim", "int")])
defop("slice", "input", rules.slice_, "elements start:end:step along dim", attrs=[A("dim", "int"), A("start", "dim", 0), A("end", "dim", None), A("step", "int", 1)])
defop("select", "input", rules.select, "one index along dim, which disappears", attrs=[A("dim", "int"), A("index", "dim")])
defop("split", "input", rules.split, "pieces of the given sizes along dim", attrs=[A("dim", "int"), A("sizes", "dims")], results=-1)
defop("index_select", "input index", rules.index_select, "entries of a 1-d integer index along dim", attrs=[A("dim", "int")])
defop("gather_rows", "input index", rules.gather_index, "input[index]: rows picked by an integer tensor of any shape")
defop("index", "input indices*", rules.index, "input[..., i0, i1, ...]: advanced indexing by broadcast integer tensors at dims", attrs=[A("dims", "ints", None)])
defop("gather", "input index", rules.gather, "input[..., index[i, j], ...] along dim (torch.gather)", attrs=[A("dim", "int")])
defop("pad", "input", rules.pad, "constant padding, last dim first (torch.nn.functional.pad)", attrs=[A("pad", "ints"), A("value", "float", 0.0)])
defop("repeat", "input", rules.repeat, "tile the input", attrs=[A("repeats", "dims")])
defop("tril", "input", rules.tril, "lower triangle (others zero)", attrs=[A("diagonal", "int", 0)])
defop("triu", "input", rules.tril, "upper triangle (others zero)", attrs=[A("diagonal", "int", 0)])

# Reductions and scans.
_RED = [A("dims", "ints", None), A("keepdim", "bool", False), A("dtype", "dtype", None)]
defop("sum", "input", rules.reduce, "sum over dims (all when None)", attrs=_RED)
defop("mean", "input", rules.mean, "mean over dims (all when None)", attrs=_RED)
defop("amax", "input", rules.reduce, "max over dims", attrs=_RED[:2])
defop("amin", "input", rules.reduce, "min over dims", attrs=_RED[:2])
defop("var", "input", rules.reduce, "variance over dims", attrs=[*_RED[:2], A("correction", "int", 1)])
defop("argmax", "input", rules.argreduce, "index of the max along dim", attrs=[A("dim", "int", None), A("keepdim", "bool", False)])
defop("cumsum", "input", rules.cumsum, "running sum along dim", attrs=[A("dim", "int"), A("dtype", "dtype", None)])

# Creation.
defop("arange", "", rules.arange, "start, start+step, ... below end", attrs=[A("start", "dim", 0), A("end", "dim"), A("step", "int", 1), A("dtype", "dtype", "i64")])
defop("full", "", rules.full, "a tensor of shape filled with value", attrs=[A("shape", "dims"), A("value", "scalar"), A("dtype", "dtype")])
defop("full_like", "input", rules.like, "a tensor like input filled with value", attrs=[A("value", "scalar"), A("dtype", "dtype", None)])
defop("constant", "", rules.constant, "a small literal tensor", attrs=[A("value", "floats"), A("shape", "dims"), A("dtype", "dtype")])

# Calls between graphs of one module (made by `outline`, undone by `inline`).
defop(
    "call",
    "inputs*",
    rules.call,
    "the outputs of graph `callee` of this module on inputs (its symbols bind to the inputs' dims)",
    attrs=[A("callee", "str")],
    results=-1,
)


GS = Dialect("gs", [*STRUCTURE_OPS, *OPS.values()], [TensorType])


def op_class(name: str) -> type[GsOp] | None:
    return OPS.get(name)


def result_names(op: Any) -> list[str | None]:
    names = op.properties.get("names")
    if names is None:
        return [None] * len(op.results)
    return [n.data for n in names.data]


def set_result_names(op: Any, names: Sequence[str]) -> None:
    op.properties["names"] = ArrayAttr([StringAttr(n) for n in names])


def set_scope(op: Any, scope: str) -> None:
    if scope:
        op.properties["scope"] = StringAttr(scope)
    else:
        op.properties.pop("scope", None)


def make_op(
    name: str,
    args: Sequence[Any],
    attrs: dict[str, Any],
    result_types: Sequence[TensorType],
    *,
    names: Sequence[str] | None = None,
    scope: str = "",
) -> GsOp:
    """Build a primitive op from positional arguments (SSAValues, numbers or None) and
    attribute values, the way the text form writes it."""
    cls = OPS[name]
    spec = cls.SPEC
    operands = []
    props: dict[str, Attribute] = {}
    for i, a in enumerate(args):
        if i >= len(spec.args) and not (spec.args and spec.args[-1].variadic):
            # More arguments than the op declares: values become operands (the verifier reports
            # the count, GS208); a literal has no attribute to go to.
            if _is_literal(a):
                raise TypeError(f"expects {spec.signature()} but got {len(args)} arguments")
            operands.append(a)
            continue
        arg_spec = spec.args[i] if i < len(spec.args) else spec.args[-1]
        if arg_spec.variadic or not _is_literal(a):
            operands.append(a)
        else:
            props[arg_spec.name] = scalar_attr(a) if a is not None else NoneAttr()
    for k, v in attrs.items():
        a = spec.attr_index[k]
        if v is None and a.default is None:
            continue
        props[k] = to_attr(a.kind, v)
    if names:
        props["names"] = ArrayAttr([StringAttr(n) for n in names])
    if scope:
        props["scope"] = StringAttr(scope)
    return cls.create(operands=operands, result_types=list(result_types), properties=props)


def _is_literal(a: Any) -> bool:
    return a is None or isinstance(a, (int, float, bool))


def graph_ops(module: Any) -> list[GraphOp]:
    return [op for op in module.body.block.ops if isinstance(op, GraphOp)]


def region_from(block_arg_types: Sequence[Attribute]) -> Region:
    from xdsl.ir import Block

    return Region(Block(arg_types=block_arg_types))
