"""The ``gs`` dialect: a tensor type with symbolic dims, graph structure ops, and the primitive ops.

This module is the dialect's public namespace.  Each primitive op is a named class declared with
every fact about it (operands, attributes, shape rule, doc, rule text for models, cost formula,
traits, canonicalization patterns) in the module of its family:

=========================================  ================================================
:mod:`graphsynth.dialects.elementwise`     relu, gelu, exp, neg, clamp, cast, log1p ...
:mod:`graphsynth.dialects.binary`          add, mul, div, pow, eq, lt, logical_and, where ...
:mod:`graphsynth.dialects.linalg`          linear, linear_act, matmul, addmm, conv1d/2d,
                                           attention
:mod:`graphsynth.dialects.pool`            1-d and 2-d pooling, interpolate
:mod:`graphsynth.dialects.norm`            layer/rms/batch/group norm, softmax
:mod:`graphsynth.dialects.shape`           reshape, permute, concat, slice, split, flip, roll ...
:mod:`graphsynth.dialects.index`           embedding, index_select, gather, index, one_hot
:mod:`graphsynth.dialects.reduce`          sum, mean, var, argmax, cumsum, topk, sort ...
:mod:`graphsynth.dialects.creation`        arange, full, full_like, constant
:mod:`graphsynth.dialects.spectral`        fft, rfft, irfft; real, imag, complex,
                                           view_as_real, view_as_complex
:mod:`graphsynth.dialects.call`            call (between graphs of a module)
=========================================  ================================================

Every class is bound here under its name, so a pattern writes ``isinstance(op, gs.Reshape)``;
:data:`OPS` (text name -> class) and :func:`op_class` are generated from the classes for the text
form's name lookup.  The structure ops (``gs.graph``, ``gs.param``, ``gs.return``, ``gs.fused``,
``gs.yield``) are in :mod:`graphsynth.dialects.structure`, the type in
:mod:`graphsynth.dialects.types`, how an op is declared in :mod:`graphsynth.dialects.opbase`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from xdsl.ir import Attribute, Dialect

from graphsynth.dialects import (
    binary,
    call,
    creation,
    dynamic,
    elementwise,
    index,
    linalg,
    norm,
    pool,
    reduce,
    shape,
    spectral,
)
from graphsynth.dialects.attrs import KINDS, REQUIRED, AttrSpec, dim_value, from_attr, scalar_attr
from graphsynth.dialects.elementwise import GELU_APPROXIMATIONS
from graphsynth.dialects.linalg import LINEAR_ACTIVATIONS
from graphsynth.dialects.opbase import ArgSpec, GsOp, OpSpec, gs_op, infer, make_op
from graphsynth.dialects.structure import (
    INIT_RE,
    STRUCTURE_OPS,
    UNBOUNDED,
    FusedOp,
    GraphOp,
    ParamOp,
    ReturnOp,
    YieldOp,
    graph_ops,
    region_from,
    result_names,
    set_result_names,
    set_scope,
    symbol_entry,
    symbol_row,
    symbols_attr,
)
from graphsynth.dialects.traits import Activation, is_activation, is_data_movement, is_elementwise, is_random
from graphsynth.dialects.types import DimError, TensorType, sig_type, tensor_type

FAMILIES: tuple[ModuleType, ...] = (elementwise, binary, linalg, pool, norm, shape, index, dynamic, reduce, spectral, creation, call)
"""The modules that declare primitive ops, in the order the op reference lists them."""


def _declared(module: ModuleType) -> list[type[GsOp]]:
    """The op classes a family module defines, in the order it defines them.  (The module test
    first and the MRO rather than ``issubclass``: ABCMeta answers a negative ``issubclass`` by
    walking every subclass of GsOp, for each name a module imports, at start-up.)"""
    return [v for v in vars(module).values()
            if isinstance(v, type) and v.__module__ == module.__name__ and GsOp in v.__mro__ and v is not GsOp]


OP_CLASSES: tuple[type[GsOp], ...] = tuple(cls for m in FAMILIES for cls in _declared(m))
"""Every primitive op class, family by family."""

OPS: dict[str, type[GsOp]] = {cls.SPEC.name: cls for cls in OP_CLASSES}
"""Text name -> op class, generated from the classes (for the text form's name lookup)."""

if len(OPS) != len(OP_CLASSES):  # two classes claiming one name: refused when the dialect loads
    _seen: dict[str, type] = {}
    for _cls in OP_CLASSES:
        if _cls.SPEC.name in _seen:
            raise TypeError(f"op name {_cls.SPEC.name!r} is declared by {_seen[_cls.SPEC.name].__qualname__} and {_cls.__qualname__}")
        _seen[_cls.SPEC.name] = _cls

for _cls in OP_CLASSES:  # each class under its own name: gs.Reshape, gs.LayerNorm ...
    globals()[_cls.__name__] = _cls

GS = Dialect("gs", [*STRUCTURE_OPS, *OP_CLASSES], [TensorType])


def op_class(name: str) -> type[GsOp] | None:
    """The class of the primitive op ``name`` (the text form's name), or None."""
    return OPS.get(name)


def ops_with(trait: Any) -> tuple[type[GsOp], ...]:
    """The primitive op classes that carry ``trait`` (a trait class or instance), in
    declaration order."""
    return tuple(cls for cls in OP_CLASSES if cls.get_trait(trait) is not None)


def activations(*, standard: bool = False) -> tuple[type[GsOp], ...]:
    """The op classes of the swappable activation family (``Activation(swappable=True)``), in
    declaration order; with ``standard``, only the usual hidden-layer choices (relu, gelu, silu, tanh)."""
    return tuple(cls for cls in ops_with(Activation)
                 if cls.get_trait(Activation).swappable and (not standard or cls.get_trait(Activation).standard))


def to_attr(kind: str, value: Any) -> Attribute:
    """The xDSL attribute of a value of attribute kind ``kind``."""
    return KINDS[kind].to_attr(value)


__all__ = [
    "FAMILIES",
    "GELU_APPROXIMATIONS",
    "GS",
    "INIT_RE",
    "LINEAR_ACTIVATIONS",
    "OPS",
    "OP_CLASSES",
    "REQUIRED",
    "STRUCTURE_OPS",
    "UNBOUNDED",
    "ArgSpec",
    "AttrSpec",
    "DimError",
    "FusedOp",
    "GraphOp",
    "GsOp",
    "OpSpec",
    "ParamOp",
    "ReturnOp",
    "TensorType",
    "YieldOp",
    "activations",
    "dim_value",
    "from_attr",
    "graph_ops",
    "gs_op",
    "infer",
    "is_activation",
    "is_data_movement",
    "is_elementwise",
    "is_random",
    "make_op",
    "op_class",
    "ops_with",
    "region_from",
    "result_names",
    "scalar_attr",
    "set_result_names",
    "set_scope",
    "sig_type",
    "symbol_entry",
    "symbol_row",
    "symbols_attr",
    "tensor_type",
    "to_attr",
    *(cls.__name__ for cls in OP_CLASSES),
]
