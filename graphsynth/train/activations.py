"""Which ops are activations: the one place the training room asks.

The monitor measures the fraction of dead units after every activation, so it needs to know
which ops are activations.  That is a fact about the op and belongs with the op: an op class
that carries a trait named ``Activation`` (or ``ActivationTrait``) in its xDSL ``traits``, or
declares ``IS_ACTIVATION = True`` (or False), answers for itself.  The ``gs`` dialect does not
declare such a trait yet; until it does, the answer comes from the op's family as the dialect
declares it in each op's ``SPEC`` -- elementwise, one tensor operand, a dtype-keeping shape rule
-- and from how its own lowering bends a ramp (see :func:`_nonlinear_unit`), plus ops that fuse
an ``activation`` into another op (``linear_act``).  No list of op names lives here; once the
dialect grows an activation trait, the first branch answers for every op and the fallback goes.
"""

from __future__ import annotations

from typing import Any

_TRAIT_NAMES = ("Activation", "ActivationTrait")


def _declared(op: Any) -> bool | None:
    """The op's own answer (a trait or a class flag), or None when it does not say."""
    cls = type(op)
    flag = getattr(cls, "IS_ACTIVATION", None)
    if isinstance(flag, bool):
        return flag
    traits = getattr(cls, "traits", None)
    for t in getattr(traits, "_traits", ()) or ():
        if type(t).__name__ in _TRAIT_NAMES:
            return True
    return None


def is_activation(op: Any) -> bool:
    """True when ``op`` is an activation: what the monitor measures dead units after."""
    declared = _declared(op)
    if declared is not None:
        return declared
    spec = getattr(op, "SPEC", None)
    if spec is None:
        return False
    if any(a.name == "activation" for a in spec.attrs):  # linear fused with its activation
        return True
    if not spec.elementwise or len(spec.args) != 1 or spec.args[0].scalar or spec.results != 1:
        return False
    from graphsynth.dialects import rules

    if spec.rule is not rules.unary and spec.rule is not rules.float_unary:
        return False
    return _nonlinear_unit(spec)


def _nonlinear_unit(spec: Any) -> bool:
    """An elementwise one-input op that bends its input the way a unit's nonlinearity does.

    Decided on the op's own lowering, once per op class (cached by name): the op is applied to a
    ramp through zero, and it is an activation when its output there is finite (not log, sqrt,
    reciprocal), not affine (not identity, neg, dropout at inference), without jumps (its slope
    between ramp points stays within 4: not sign or rounding), and grows at most linearly, |f(x)| <= 2|x| + 2 (not exp).  So relu, gelu,
    silu, tanh, sigmoid, leaky_relu, softplus, hardtanh are, and so are bounded periodic or
    rectifying units (sin, abs, erf) when a graph uses them as one."""
    hit = _CACHE.get(spec.name)
    if hit is None:
        hit = _CACHE[spec.name] = _probe(spec.name)
    return hit


_CACHE: dict[str, bool] = {}


def _probe(name: str) -> bool:
    try:
        import torch

        import graphsynth as gs

        n = 241
        text = f"graph P(x: f32[{n}]) -> f32[{n}] {{\n  %0: f32[{n}] = {name}(x)\n  return %0\n}}\n"
        module = gs.parse_ir(text, filename="activation-probe.gs")
        if gs.verify(module):
            return False
        x = torch.linspace(-6.0, 6.0, n)
        with torch.no_grad():
            y = gs.lower(module)(x)
    except Exception:  # noqa: BLE001 - an op that does not run on a ramp is not an activation
        return False
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or not bool(torch.isfinite(y).all()):
        return False
    if bool((y.abs() > 2 * x.abs() + 2).any()):
        return False
    dy = y[1:] - y[:-1]
    slope = dy / float(x[1] - x[0])
    if float(slope.max() - slope.min()) < 1e-3:
        return False
    return float(slope.abs().max()) <= 4.0
