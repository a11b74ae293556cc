"""Elementwise ops of two or more operands: arithmetic, comparisons, logical and bitwise ops,
``where`` and ``masked_fill``.

They broadcast numpy-style and take a literal number on either side (``mul(x, 0.5)``); every op
carries the ``Elementwise`` trait (fusible into ``gs.fused`` regions, one FLOP per output element
unless it says otherwise).  Their rules are in :mod:`graphsynth.dialects.elementwise_rules`.
"""

from __future__ import annotations

from xdsl.irdl import traits_def

from graphsynth.dialects.attrs import AttrSpec as A
from graphsynth.dialects.dtypes import ALL_KINDS
from graphsynth.dialects.elementwise_rules import (
    binary,
    compare_op,
    logical,
    masked_fill_rule,
    true_div,
    true_division,
    where_rule,
)
from graphsynth.dialects.opbase import GsOp, gs_op
from graphsynth.dialects.traits import (
    Commutative,
    Elementwise,
    FoldsUnits,
    LeftUnit,
    RightUnit,
)

# -- binary ------------------------------------------------------------------------------------


@gs_op
class Add(GsOp):
    """lhs + rhs"""

    name = "gs.add"
    args = "lhs# rhs#"
    rule = binary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), Commutative(), RightUnit(0), LeftUnit(0), FoldsUnits())


@gs_op
class Sub(GsOp):
    """lhs - rhs"""

    name = "gs.sub"
    args = "lhs# rhs#"
    rule = binary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), RightUnit(0), FoldsUnits())


@gs_op
class Mul(GsOp):
    """lhs * rhs"""

    name = "gs.mul"
    args = "lhs# rhs#"
    rule = binary
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), Commutative(), RightUnit(1), LeftUnit(1), FoldsUnits())


@gs_op
class Div(GsOp):
    """lhs / rhs; rounding_mode trunc|floor for integer division"""

    name = "gs.div"
    args = "lhs# rhs#"
    attrs = (A("rounding_mode", "str", None, ("trunc", "floor")),)
    rule = true_div
    dtypes = ALL_KINDS  # complex values too (torch's own op; no Triton kernel holds them)
    traits = traits_def(Elementwise(), RightUnit(1, when=true_division), FoldsUnits())


@gs_op
class Pow(GsOp):
    """lhs ** rhs"""

    name = "gs.pow"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), RightUnit(1), FoldsUnits())


@gs_op
class Maximum(GsOp):
    """elementwise max"""

    name = "gs.maximum"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Minimum(GsOp):
    """elementwise min"""

    name = "gs.minimum"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Remainder(GsOp):
    """Python-style modulus"""

    name = "gs.remainder"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise())


@gs_op
class Eq(GsOp):
    """lhs == rhs (bool)"""

    name = "gs.eq"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Ne(GsOp):
    """lhs != rhs (bool)"""

    name = "gs.ne"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Lt(GsOp):
    """lhs < rhs (bool)"""

    name = "gs.lt"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class Le(GsOp):
    """lhs <= rhs (bool)"""

    name = "gs.le"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class Gt(GsOp):
    """lhs > rhs (bool)"""

    name = "gs.gt"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class Ge(GsOp):
    """lhs >= rhs (bool)"""

    name = "gs.ge"
    args = "lhs# rhs#"
    rule = compare_op
    traits = traits_def(Elementwise())


@gs_op
class LogicalAnd(GsOp):
    """boolean and"""

    name = "gs.logical_and"
    args = "lhs# rhs#"
    rule = logical
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class LogicalOr(GsOp):
    """boolean or"""

    name = "gs.logical_or"
    args = "lhs# rhs#"
    rule = logical
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class BitwiseAnd(GsOp):
    """bitwise and (ints, bools)"""

    name = "gs.bitwise_and"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class BitwiseOr(GsOp):
    """bitwise or (ints, bools)"""

    name = "gs.bitwise_or"
    args = "lhs# rhs#"
    rule = binary
    traits = traits_def(Elementwise(), Commutative())


@gs_op
class Where(GsOp):
    """cond ? lhs : rhs"""

    name = "gs.where"
    args = "cond lhs# rhs#"
    rule = where_rule
    traits = traits_def(Elementwise())


@gs_op
class MaskedFill(GsOp):
    """input with value where mask is true"""

    name = "gs.masked_fill"
    args = "input mask value#"
    rule = masked_fill_rule
    traits = traits_def(Elementwise())
