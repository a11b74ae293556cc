"""The table of torch lowerings, keyed by op class.

A lowering turns one op into fx nodes: ``fn(L, args, sigs, attrs, out) -> fx value or list of
them``, where ``L`` is the :class:`~graphsynth.backend.fx.FxLowerer` (``L.call``, ``L.method``,
``L.dim``, ``L.cast`` ...), ``args`` the fx nodes (tensors), literals or None by argument
position, ``sigs`` the matching tensor types (None for literals), ``attrs`` ``op.attr_values()``
and ``out`` the result types.  The callables are the C builtins behind torch.nn.functional
(``torch._C._nn.gelu``, ``torch.layer_norm`` ...): the Python wrappers add a torch-function check
per call.

Lowerings register with ``@lowering(gs.Relu)`` in the family modules of
:mod:`graphsynth.backend.lowerings`, which imports them all, so the table is complete whenever the
lowerer can see it.  A registration is checked when it is made: the key must be an op class of
the dialect, registered once.  ``allocates=`` declares what a lowering builds into the module
(``constant``'s tensor), for the allocation budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphsynth.backend.base import Arg, fail
from graphsynth.dialects import gs
from graphsynth.dialects.rules import Sig

if TYPE_CHECKING:
    from graphsynth.backend.fx import FxLowerer

Lowering = Callable[["FxLowerer", list[Arg], list["Sig | None"], dict[str, Any], list[Sig]], Any]

LOWERINGS: dict[type[gs.GsOp], Lowering] = {}
"""Op class -> its torch lowering."""

ALLOCATES: dict[type[gs.GsOp], Callable[[Any], int | None]] = {}
"""Op class -> the bytes its lowering allocates while the module is built (not when it runs)."""


def register(cls: type[gs.GsOp], fn: Lowering, *, allocates: Callable[[Any], int | None] | None = None) -> Lowering:
    """Make ``fn`` the lowering of ``cls``; refused for anything that is not an op class of the
    dialect, and for a class that already has one."""
    if not (isinstance(cls, type) and issubclass(cls, gs.GsOp) and gs.OPS.get(cls.SPEC.name) is cls):
        raise TypeError(f"a lowering is registered for an op class of the gs dialect, got {cls!r}")
    if cls in LOWERINGS:
        raise TypeError(f"{cls.__name__} already has a torch lowering ({LOWERINGS[cls].__qualname__})")
    LOWERINGS[cls] = fn
    if allocates is not None:
        ALLOCATES[cls] = allocates
    return fn


def lowering(*classes: type[gs.GsOp], allocates: Callable[[Any], int | None] | None = None) -> Callable[[Lowering], Lowering]:
    """Decorator: ``@lowering(gs.Relu)`` registers the function as the lowering of each class."""

    def deco(fn: Lowering) -> Lowering:
        for cls in classes:
            register(cls, fn, allocates=allocates)
        return fn

    return deco


def choice(L: FxLowerer, attr: str, value: Any) -> Any:
    """``value`` of attribute ``attr`` of the op being lowered, checked against the choices the op
    declares (verified IR always passes; this guards IR a caller did not verify)."""
    spec = L.op.SPEC.attr_index[attr]
    if not spec.allows(value):
        allowed = tuple(spec.choices or ()) + ((None,) if spec.default is None else ())
        raise fail(L.op, f"attribute {attr}={value!r} is not one of {', '.join(map(repr, allowed))}",
                   expected=" | ".join(map(repr, allowed)), got=repr(value))
    return value
