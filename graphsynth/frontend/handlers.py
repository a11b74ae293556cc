"""The table of ATen handlers, keyed by ATen op name (the overload packet: ``relu``, ``add``...).

A handler turns one node of an exported graph into gs ops: ``fn(converter, node, args)``, where
``args`` are the node's arguments bound to the ATen schema's names.  Handlers emit op classes
(``c.e1(gs.Relu, [x], out=n)``) and declare which with ``emits=``, so the op registry can be
checked against what the importer produces (:data:`EMITTED_BY`).  A registration is checked when
it is made: an ATen name is handled once, and ``emits`` names op classes of the dialect.

The handlers themselves live in the family modules :mod:`graphsynth.frontend.aten` imports; the converter
(:mod:`graphsynth.frontend.convert`) reads this table.  Also here: what handlers and the
converter share to say that a node cannot be imported (:class:`Fail`) or that a value export
produces is not representable (:class:`Unusable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import DTYPES as GS_DTYPES

if TYPE_CHECKING:
    from graphsynth.frontend.convert import Converter

__all__ = ["BIG", "EMITTED_BY", "HANDLERS", "INPLACE_BASE", "Fail", "Handler", "Unusable", "dtype_name", "functional_args", "functional_name", "handles", "has_handler",
           "register"]

Handler = Callable[["Converter", Any, dict[str, Any]], None]

HANDLERS: dict[str, Handler] = {}
"""ATen op name -> its handler."""

EMITTED_BY: dict[type[gs.GsOp], set[str]] = {}
"""Op class -> the ATen op names whose handlers may emit it."""

INPLACE_BASE = {"copy_": "_copy", "fill_": "_fill", "zero_": "_zero"}
"""In-place ATen ops whose functional form has another name than ``name[:-1]``."""

BIG = 2**62
"""Slice ends at or beyond this mean "to the end"."""


class Fail(Exception):
    """Raised by handlers; the converter turns it into a GS602 diagnostic at the node."""

    def __init__(self, message: str, fix: str | None = None, code: str = "GS602"):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.code = code


class Unusable:
    """A value export produces that gs cannot represent (an op's second result such as
    max_pool2d's indices, a symbolic float).  Using it is an error naming why."""

    def __init__(self, why: str):
        self.why = why


def register(name: str, fn: Handler, *, emits: Iterable[type[gs.GsOp]] = ()) -> Handler:
    """Make ``fn`` the handler of ATen op ``name``; refused for a name already handled and for an
    ``emits`` entry that is not an op class of the dialect."""
    if name in HANDLERS:
        raise TypeError(f"ATen op {name!r} already has a handler ({HANDLERS[name].__qualname__})")
    for cls in emits:
        if not (isinstance(cls, type) and issubclass(cls, gs.GsOp) and gs.OPS.get(cls.SPEC.name) is cls):
            raise TypeError(f"the handler of {name!r} declares {cls!r}, which is not an op class of the gs dialect")
        EMITTED_BY.setdefault(cls, set()).add(name)
    HANDLERS[name] = fn
    return fn


def handles(*names: str, emits: Iterable[type[gs.GsOp]] = ()) -> Callable[[Handler], Handler]:
    """Decorator: ``@handles("relu", emits=(gs.Relu,))`` registers the function for each name."""
    emitted = tuple(emits)

    def deco(fn: Handler) -> Handler:
        for n in names:
            register(n, fn, emits=emitted)
        return fn

    return deco


def has_handler(name: str) -> bool:
    """Whether ATen op ``name`` (an overload packet name) is handled, in place forms included."""
    if name in HANDLERS:
        return True
    base = functional_name(name)
    return base is not None and base in HANDLERS


def functional_name(name: str) -> str | None:
    """The functional twin of an in-place ATen op (``mul_`` -> ``mul``, ``__iand__`` ->
    ``__and__``, ``copy_`` -> the importer's own ``_copy``), or None when ``name`` is not an
    in-place op.  ATen names every in-place variant this way, so one rule covers the class."""
    if name in INPLACE_BASE:
        return INPLACE_BASE[name]
    if name.startswith("__i") and name.endswith("__") and len(name) > 5:
        return "__" + name[3:]
    if name.endswith("_") and not name.startswith("_") and len(name) > 1:
        return name[:-1]
    return None


def functional_args(target: Any, base: str, args: dict[str, Any]) -> dict[str, Any]:
    """An in-place node's arguments under the names its functional twin's schema gives them.

    The two schemas take the same arguments in the same order, but not always under the same
    names (``dropout_(Tensor self, ...)`` against ``dropout(Tensor input, ...)``), and the
    handlers read arguments by the functional schema's names."""
    if not isinstance(target, torch._ops.OpOverload):
        return args
    packet = getattr(torch.ops.aten, base, None) if base not in INPLACE_BASE.values() else None
    if packet is None:
        return args
    twin = getattr(packet, target._overloadname, None)
    if twin is None:
        mine = len(target._schema.arguments)
        twin = next((getattr(packet, o) for o in packet.overloads() if len(getattr(packet, o)._schema.arguments) == mine), None)
    if twin is None:
        return args
    names = [a.name for a in twin._schema.arguments]
    return {(names[i] if i < len(names) else k): v for i, (k, v) in enumerate(args.items())}


DTYPES: dict[Any, str] = {getattr(torch, d.torch): name for name, d in GS_DTYPES.items()}
"""torch dtype -> gs dtype name, from the dtype table."""


def dtype_name(dt: Any) -> str:
    """The gs name of a torch dtype; one gs does not have is a :class:`Fail`."""
    name = DTYPES.get(dt)
    if name is None:
        raise Fail(f"dtype {dt} is not supported by graphsynth (supported: {', '.join(DTYPES.values())})")
    return name
