"""How a primitive gs op is declared: one class, every fact about the op in its body.

    @gs_op
    class Relu(GsOp):
        \"\"\"max(x, 0)\"\"\"

        name = "gs.relu"
        args = "input"
        rule = unary
        traits = traits_def(Elementwise(), Activation(standard=True))

The class body says, in one place:

- ``name``: ``gs.<op>``, the op's name in MLIR; the text form writes it without ``gs.``;
- ``args``: the positional arguments, e.g. ``"input weight bias?"`` (``?`` optional, ``#`` may be a
  number instead of a tensor, ``*`` takes every remaining operand);
- ``attrs``: its attributes, :class:`~graphsynth.dialects.attrs.AttrSpec` (name, kind, default,
  choices);
- ``rule``: the shape rule, a function from a :class:`~graphsynth.dialects.rules.RuleContext`
  to the result signatures (shared by the verifier, the importer and the generators); the rule
  text shown to models is the rule's own (``@shape_rule("...")``) unless the op gives
  ``rule_text``;
- the docstring's first line: what the op computes, for ``--list-ops``, the docs and the prompt;
- ``flops`` (and optionally ``bytes``): the cost formula, from a
  :class:`~graphsynth.dialects.cost.CostContext` to terms whose sum is the count; elementwise ops
  default to one FLOP per output element, data movement and creation ops to none;
- ``workspace`` (optional): the bytes the op allocates while it runs besides its results (a
  formula like ``flops``), for ops whose temporaries outgrow their operands and results
  (attention's score matrix); what budgets of running a graph add to its tensors;
- ``results``: 1, or -1 for as many as the rule returns;
- ``dtypes``: the dtype kinds its tensor operands may have (``"float"``, ``"int"``, ``"bool"``,
  ``"complex"``; :data:`~graphsynth.dialects.dtypes.REAL_KINDS` unless the op says otherwise, every
  kind for ``DataMovement`` ops, which do no arithmetic).  An operand of another kind is refused
  before the shape rule runs (GS335, at the op and the operand), so a rule only meets the kinds
  it declared, and a real-only op never sees a complex value;
- ``traits``: xDSL traits (:mod:`graphsynth.dialects.traits`), canonicalization patterns among them.

:func:`gs_op` turns that into an ordinary xDSL ``IRDLOperation``: one variadic operand group,
variadic results, a property per attribute and per literal-capable argument, ``names`` and
``scope`` properties, ``Pure`` unless the op is ``Random``.  So the op prints and parses in MLIR
generic syntax, works with xDSL's rewriter, ``cse``, ``dce`` and ``canonicalize``, and its
:class:`OpSpec` (``cls.SPEC``) drives the text form, the verifier and everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from xdsl.dialects.builtin import ArrayAttr, LocationAttr, NoneAttr, StringAttr
from xdsl.ir import Attribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.irdl.operations import OpTraits
from xdsl.traits import Pure

from graphsynth.dialects import cost as costs
from graphsynth.dialects.attrs import REQUIRED, AttrSpec, from_attr, scalar_attr
from graphsynth.dialects.dtypes import ALL_KINDS, DTYPES, KINDS, REAL_KINDS
from graphsynth.dialects.rules import RuleContext, Sig
from graphsynth.dialects.traits import Creation, DataMovement, Elementwise, Random
from graphsynth.dialects.types import TensorType

Rule = Callable[[RuleContext], list[Sig]]


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
    """Everything a class declares about its op, gathered by :func:`gs_op`."""

    name: str
    args: tuple[ArgSpec, ...]
    attrs: tuple[AttrSpec, ...]
    rule: Rule
    doc: str
    rule_text: str
    flops: costs.Formula
    bytes: costs.Formula
    results: int = 1  # -1: as many as the rule returns
    elementwise: bool = False
    workspace: costs.Formula = costs.no_workspace
    dtypes: frozenset[str] = REAL_KINDS  # the dtype kinds its tensor operands may have
    attr_index: dict[str, AttrSpec] = field(default_factory=dict, compare=False, hash=False)
    # Derived from ``attrs`` once, for the per-op paths (the verifier reads every op's attributes):
    # (name, value when absent, reader) per attribute, and the attributes a value must be
    # checked against (required ones, ones with choices).
    readers: tuple[tuple[str, Any, Callable[[Attribute], Any]], ...] = field(init=False, compare=False, hash=False, repr=False)
    checked_attrs: tuple[AttrSpec, ...] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        readers = tuple((a.name, None if a.default is REQUIRED else a.default, a.codec.from_attr) for a in self.attrs)
        object.__setattr__(self, "readers", readers)
        object.__setattr__(self, "checked_attrs", tuple(a for a in self.attrs if a.default is REQUIRED or a.choices is not None))

    def signature(self) -> str:
        """One line for --help, docs and prompts: ``linear(input, weight, bias?)``."""
        parts = []
        for a in self.args:
            parts.append(a.name + ("..." if a.variadic else "") + ("?" if a.optional else "") + ("|num" if a.scalar else ""))
        for a in self.attrs:
            parts.append(a.describe())
        return f"{self.name}({', '.join(parts)})"

    def defaults(self) -> dict[str, Any]:
        """Every attribute with its default (None for a required one)."""
        return {a.name: (None if a.default is REQUIRED else a.default) for a in self.attrs}


class GsOp(IRDLOperation):
    """Base of the primitive ops: operands and results are TensorTypes; see :func:`gs_op`."""

    SPEC: ClassVar[OpSpec]

    ins = var_operand_def(TensorType)
    outs = var_result_def(TensorType)
    p_names = opt_prop_def(ArrayAttr, prop_name="names")
    p_scope = opt_prop_def(StringAttr, prop_name="scope")

    @property
    def scope(self) -> str:
        s = self.properties.get("scope")
        return s.data if isinstance(s, StringAttr) else ""

    @property
    def opname(self) -> str:
        """The op's name in the text form (``relu``)."""
        return self.SPEC.name

    def attr_values(self) -> dict[str, Any]:
        """Attribute values with defaults filled in (dims parsed)."""
        out: dict[str, Any] = {}
        props = self.properties
        for name, absent, read in self.SPEC.readers:
            attr = props.get(name)
            out[name] = absent if attr is None else read(attr)
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


def parse_args(text: str) -> tuple[ArgSpec, ...]:
    """``"input weight bias?"`` -> ArgSpecs (``#``: may be a number, ``*``: variadic)."""
    return tuple(
        ArgSpec(word.strip("?#*"), optional="?" in word, scalar="#" in word, variadic="*" in word) for word in text.split()
    )


_DECLARATION = ("args", "attrs", "rule", "rule_text", "flops", "bytes", "workspace", "results", "dtypes")

_KIND_OF = {name: d.kind for name, d in DTYPES.items()}
_KIND_WORDS = {"float": "float", "int": "integer", "bool": "bool", "complex": "complex"}


def _kinds_text(kinds: frozenset[str]) -> str:
    words = [_KIND_WORDS[k] for k in KINDS if k in kinds]
    return (", ".join(words[:-1]) + " or " + words[-1]) if len(words) > 1 else words[0]


def accepting(rule: Rule, kinds: frozenset[str], op: str) -> Rule:
    """``rule``, preceded by the check that every tensor operand has a dtype of one of ``kinds``
    (GS335 naming the operand otherwise).  Every reader of an op's rule (the verifier, the
    importer, the generators, the fix-its) goes through ``spec.rule``, so none can skip it."""
    if kinds >= ALL_KINDS:
        return rule
    wanted = _kinds_text(kinds)
    if "complex" in kinds:
        fix = "make the operand complex first (fft, rfft, or complex(x, zeros))"
    else:
        fix = "take the real part (real), the imaginary part (imag) or the magnitude (abs) of a complex value first"

    def checked(ctx: RuleContext) -> list[Sig]:
        for i, a in enumerate(ctx.args):
            if isinstance(a, Sig):
                kind = _KIND_OF.get(a.dtype)
                if kind is not None and kind not in kinds:
                    raise ctx.fail(
                        f"must have a {wanted} dtype ({op} does not take {kind} values), got {a.dtype}",
                        i, code="GS335", expected=f"a {wanted} dtype", got=a.dtype, fix=fix,
                    )
        return rule(ctx)

    checked.rule_text = getattr(rule, "rule_text", "")  # type: ignore[attr-defined]
    checked.__name__ = getattr(rule, "__name__", "rule")
    checked.__wrapped__ = rule  # type: ignore[attr-defined]
    return checked


def gs_op(cls: type) -> type[GsOp]:
    """Class decorator: read the op's declaration (see the module docstring), check it, and
    define the xDSL operation.  The class keeps its name, module and docstring."""
    body = dict(cls.__dict__)
    decl = {k: body.pop(k) for k in _DECLARATION if k in body}
    name = body.get("name")
    if not isinstance(name, str) or not name.startswith("gs."):
        raise TypeError(f"{cls.__qualname__}: name must be 'gs.<op>', got {name!r}")
    short = name.removeprefix("gs.")
    doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    if not doc:
        raise TypeError(f"{cls.__qualname__}: the docstring says what the op computes (one line); it is missing")
    rule = decl.get("rule")
    if not callable(rule):
        raise TypeError(f"{cls.__qualname__}: 'rule' must be the op's shape rule (a function), got {rule!r}")
    traits = body.get("traits")
    declared = tuple(traits) if isinstance(traits, OpTraits) else ()
    elementwise = any(isinstance(t, Elementwise) for t in declared)
    if not any(isinstance(t, Random) for t in declared):
        declared = (*declared, Pure())
    body["traits"] = traits_def(*declared)
    flops = decl.get("flops")
    if flops is None:
        if elementwise:
            flops = costs.per_output_element
        elif any(isinstance(t, (DataMovement, Creation)) for t in declared):
            flops = costs.free
        else:
            raise TypeError(f"{cls.__qualname__}: declare 'flops' (the op's FLOP formula); only elementwise, data "
                            "movement and creation ops have a default")
    rule_text = decl.get("rule_text") or getattr(rule, "rule_text", "")
    if not rule_text:
        raise TypeError(f"{cls.__qualname__}: the shape rule {getattr(rule, '__name__', rule)!r} has no text for models; "
                        "decorate it with @shape_rule('...') or give the op 'rule_text'")
    results = decl.get("results", 1)
    dtypes = decl.get("dtypes")
    if dtypes is None:
        dtypes = ALL_KINDS if any(isinstance(t, DataMovement) for t in declared) else REAL_KINDS
    dtypes = frozenset(dtypes)
    if not dtypes or not dtypes <= ALL_KINDS:
        raise TypeError(f"{cls.__qualname__}: 'dtypes' names dtype kinds ({', '.join(KINDS)}), got {sorted(dtypes)}")
    args = parse_args(decl.get("args", ""))
    attrs = tuple(decl.get("attrs", ()))
    for a in attrs:
        if not isinstance(a, AttrSpec):
            raise TypeError(f"{cls.__qualname__}: attrs must be AttrSpecs, got {a!r}")
    names = [a.name for a in args] + [a.name for a in attrs]
    if len(set(names)) != len(names) or {"names", "scope"} & set(names):
        raise TypeError(f"{cls.__qualname__}: argument and attribute names must be distinct (and not names/scope): {names}")
    spec = OpSpec(
        short, args, attrs, accepting(rule, dtypes, short), doc, rule_text, flops, decl.get("bytes") or costs.moved_bytes,
        results, elementwise, decl.get("workspace") or costs.no_workspace, dtypes,
    )
    spec.attr_index.update({a.name: a for a in attrs})
    body["SPEC"] = spec
    annotations = dict(body.get("__annotations__", {}))
    annotations["SPEC"] = ClassVar[OpSpec]
    body["__annotations__"] = annotations
    for a in args:
        if a.scalar or a.optional:
            body[f"p_{a.name}"] = opt_prop_def(Attribute, prop_name=a.name)
    for a in attrs:
        body[f"p_{a.name}"] = opt_prop_def(Attribute, prop_name=a.name)
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    return irdl_op_definition(type(cls.__name__, cls.__bases__, body))


def make_op(
    name_or_class: str | type[GsOp],
    args: Sequence[Any],
    attrs: dict[str, Any],
    result_types: Sequence[TensorType],
    *,
    names: Sequence[str] | None = None,
    scope: str = "",
    location: LocationAttr | None = None,
) -> GsOp:
    """Build a primitive op from positional arguments (SSAValues, numbers or None) and
    attribute values, the way the text form writes it (at ``location``, unknown if None)."""
    if isinstance(name_or_class, str):
        from graphsynth.dialects.gs import OPS

        cls = OPS[name_or_class]
    else:
        cls = name_or_class
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
        props[k] = a.codec.to_attr(v)
    if names:
        props["names"] = ArrayAttr([StringAttr(n) for n in names])
    if scope:
        props["scope"] = StringAttr(scope)
    return cls.create(operands=operands, result_types=list(result_types), properties=props, location=location)


def _is_literal(a: Any) -> bool:
    return a is None or isinstance(a, (int, float, bool))


def infer(cls: type[GsOp], args: Sequence[Any], attrs: dict[str, Any]) -> list[Sig]:
    """The result signatures of ``cls`` on ``args`` (Sigs, literals or None by position) and
    ``attrs`` (defaults filled in), by the op's rule; raises the rule's ShapeError.  One way to
    build a rule's input, for the importer, the generators and the verifier alike."""
    spec = cls.SPEC
    full = spec.defaults()
    full.update(attrs)
    operand_index: list[int | None] = []
    k = 0
    for a in args:
        is_tensor = isinstance(a, Sig)
        operand_index.append(k if is_tensor else None)
        k += is_tensor
    return spec.rule(RuleContext(spec.name, list(args), full, operand_index))
