"""What an op *is*, as xDSL traits: the facts passes, queries, the model's menu and the search read
from an op class instead of from lists of op names.

Each trait is declared by the op (``traits = traits_def(Elementwise(), Activation(standard=True))``)
and asked of an op or an op class the xDSL way, ``op.has_trait(Elementwise)`` or
``gs.Relu.get_trait(Activation)``; :func:`has` does the same for either, and :func:`ops_with` lists
the op classes of the dialect that carry a trait.

======================  ===========================================================================
trait                   meaning (and who reads it)
======================  ===========================================================================
``Elementwise``         one output element from the same-position elements of the (broadcast)
                        inputs: fusible into ``gs.fused`` regions and Triton kernels
                        (fuse-elementwise, the emitters), one FLOP per output element by default
``DataMovement``        moves, copies or selects elements, no arithmetic (0 FLOPs); with
                        ``injective=True`` every output element is one input element and no
                        input element is read twice, so the Jacobian has orthonormal rows and
                        the gradient gain through it is exactly 1 (grad paths)
``Creation``            a tensor made from attributes alone, no tensor operand (fold-constants)
``Activation``          the family of activations a model or a search may swap between: one
                        tensor in, the same type out, no required attribute (the menu's swaps);
                        ``standard=True`` for the usual hidden-layer choices (insert-block's
                        ``activation=``, architecture search)
``Commutative``         xDSL's own: the two tensor operands may be swapped
``RightUnit(v)``        ``op(x, v) == x`` (``x + 0``, ``x * 1``, ``x / 1``, ``x ** 1``), when
``LeftUnit(v)``         ``when(op)`` allows it; ``LeftUnit``: ``op(v, x) == x`` (canonicalize,
                        the importer's no-op filter)
``DataDependentSize``   one dim of the result is a count read from the data (``nonzero``,
                        ``masked_select``, ``x[mask]``): the op's ``size`` attribute names the
                        unbacked symbol it defines (``symbol u0: [0, inf] unbacked``); the
                        verifier checks one op defines it before any use, the lowering binds it
                        from the result's run-time size
``Random``              draws random numbers when ``when(op)`` says so (dropout in training,
                        attention with dropout_p): never folded, merged or moved; it replaces
                        ``Pure`` as the op's memory effect
``WidthLayer(axis)``    a layer whose weight (operand 1) sets the width of feature axis ``axis``
                        (linear, conv): architecture search resizes it
``Normalizes(axis)``    a normalisation over feature axis ``axis`` whose parameters have that
                        width (layer_norm, rms_norm, batch_norm)
``Pooling``             spatial pooling whose output keeps the channel axis (search widens it
                        with the layer before)
======================  ===========================================================================

Canonicalization patterns are attached with xDSL's ``HasCanonicalizationPatternsTrait`` (see
:mod:`graphsynth.dialects.canonicalization`), so xDSL's walker, our ``canonicalize`` pass, the LLM
menu and any user pass find them on the op.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xdsl.ir import Operation
from xdsl.traits import (
    Commutative,
    EffectInstance,
    HasCanonicalizationPatternsTrait,
    MemoryEffect,
    MemoryEffectKind,
    OpTrait,
)

if TYPE_CHECKING:
    from xdsl.pattern_rewriter import RewritePattern

__all__ = [
    "Activation",
    "Commutative",
    "Creation",
    "DataMovement",
    "Elementwise",
    "FoldsUnits",
    "ForwardsInput",
    "FusedActivation",
    "LeftUnit",
    "NoopWhenSameType",
    "Normalizes",
    "Pooling",
    "Random",
    "RightUnit",
    "WidthLayer",
    "has",
    "is_activation",
    "is_data_movement",
    "is_elementwise",
    "is_random",
]


@dataclass(frozen=True)
class Elementwise(OpTrait):
    """Each output element depends only on the input elements at the same (broadcast) position."""


@dataclass(frozen=True)
class DataMovement(OpTrait):
    """No arithmetic: elements are moved, copied or selected (see the module docstring)."""

    injective: bool = False


@dataclass(frozen=True)
class Creation(OpTrait):
    """A tensor made from the op's attributes alone."""


@dataclass(frozen=True)
class Activation(OpTrait):
    """An activation function: the nonlinearity of a unit.  ``swappable``: a member of the family
    that one-tensor activations may be swapped within (the LLM menu's swaps); ``standard``: one of
    the usual hidden-layer choices."""

    standard: bool = False
    swappable: bool = True


@dataclass(frozen=True)
class FusedActivation(OpTrait):
    """An op that ends in an activation of its own (``linear_act``): a unit's output."""


def _always(op: Any) -> bool:
    return True


@dataclass(frozen=True)
class RightUnit(OpTrait):
    """``op(x, value) == x`` whenever ``when(op)`` (and broadcasting leaves the type alone)."""

    value: int | float
    when: Callable[[Any], bool] = field(default=_always, compare=False)


@dataclass(frozen=True)
class LeftUnit(OpTrait):
    """``op(value, x) == x`` whenever ``when(op)``."""

    value: int | float
    when: Callable[[Any], bool] = field(default=_always, compare=False)


@dataclass(frozen=True)
class DataDependentSize(OpTrait):
    """Dim ``dim`` of result #0 (or the dim the attribute ``dim_attr`` gives) is a count that
    depends on the values of the operands, and the attribute ``size`` names the unbacked symbol
    the op defines for it."""

    dim_attr: str | None = None

    def position(self, attrs: dict[str, Any]) -> int:
        """The dim of result #0 that the op's data decides."""
        return int(attrs.get(self.dim_attr) or 0) if self.dim_attr else 0


@dataclass(frozen=True)
class Random(MemoryEffect):
    """The op draws random numbers when ``when(op)`` is true; it then has an effect (so cse does
    not merge two draws and no pass evaluates it at compile time), otherwise none (it is pure)."""

    when: Callable[[Any], bool] = field(default=_always, compare=False)

    @classmethod
    def get_effects(cls, op: Operation) -> Set[EffectInstance] | None:
        trait = op.get_trait(Random)
        if trait is not None and trait.when(op):
            return {EffectInstance(MemoryEffectKind.WRITE, None)}
        return set()


@dataclass(frozen=True)
class WidthLayer(OpTrait):
    """The weight (operand 1) sets the width of feature axis ``axis`` of the result; the weight
    holds the output features at dim ``weight_out`` and the input features at ``weight_in``."""

    axis: int
    weight_out: int = 0
    weight_in: int = 1


@dataclass(frozen=True)
class Normalizes(OpTrait):
    """Normalises over feature axis ``axis``; its weight and bias have that width."""

    axis: int


@dataclass(frozen=True)
class Pooling(OpTrait):
    """Spatial pooling: the channel axis passes through unchanged."""


# -- canonicalization hooks shared by several families (patterns: graphsynth.dialects.canonicalization)


class ForwardsInput(HasCanonicalizationPatternsTrait):
    """identity(x), and dropout when it draws nothing, compute x."""

    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from graphsynth.dialects.canonicalization import RemoveIdentity

        return (RemoveIdentity(),)


class NoopWhenSameType(HasCanonicalizationPatternsTrait):
    """An op whose result type equals its input type does nothing (reshape, expand, flatten,
    cast)."""

    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from graphsynth.dialects.canonicalization import RemoveNoop

        return (RemoveNoop(),)


class FoldsUnits(HasCanonicalizationPatternsTrait):
    """x + 0, x * 1, 1 * x, x / 1, x ** 1 are x (see :class:`RightUnit`, :class:`LeftUnit`)."""

    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        from graphsynth.dialects.canonicalization import FoldUnit

        return (FoldUnit(),)


# -- asking ---------------------------------------------------------------------------------------


def has(op_or_class: Any, trait: type[OpTrait] | OpTrait) -> bool:
    """Whether an op (or op class) carries ``trait``; False for anything that is not an op."""
    cls = op_or_class if isinstance(op_or_class, type) else type(op_or_class)
    get = getattr(cls, "get_trait", None)
    return get is not None and issubclass(cls, Operation) and get(trait) is not None


def is_elementwise(op_or_class: Any) -> bool:
    return has(op_or_class, Elementwise)


def is_activation(op_or_class: Any) -> bool:
    """An activation, or an op that applies one to its result (``FusedActivation``)."""
    return has(op_or_class, Activation) or has(op_or_class, FusedActivation)


def is_data_movement(op_or_class: Any) -> bool:
    return has(op_or_class, DataMovement)


def is_random(op: Operation) -> bool:
    """Whether this op (an instance: it depends on its attributes) draws random numbers."""
    trait = op.get_trait(Random) if isinstance(op, Operation) else None
    return trait is not None and trait.when(op)
