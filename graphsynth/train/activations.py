"""Which ops are activations: the one place the training room asks.

The monitor measures the fraction of dead units after every activation, so it needs to know
which ops are activations.  That is a fact about the op and lives with the op: an op class with
the ``Activation`` trait (relu, gelu, silu, tanh, sigmoid, leaky_relu, softplus, hardtanh), or the
``FusedActivation`` trait (``linear_act``, whose result is a unit's output), is one.  No list of op
names lives here.
"""

from __future__ import annotations

from typing import Any

from graphsynth.dialects import traits


def is_activation(op: Any) -> bool:
    """True when ``op`` is an activation: what the monitor measures dead units after."""
    return traits.is_activation(op)
