"""Gradient instrumentation of lowered graphs: per-value and per-module gradient norms,
Jacobians between two IR values, sensitivities to one input feature, the weakest and strongest
gradient paths, and pictures.

    import graphsynth as gs
    from graphsynth import grad

    net = gs.lower(module)
    rec = grad.instrument(net, module)      # net(...) now records
    loss = net(x).pow(2).sum(); loss.backward()
    rec.grad_norms()["fc1"]                 # module paths and value names -> float
    rec.weakest_path("fc1", "loss")         # list of steps; str(step) = "%3 (fc1)"
    rec.render("grads.svg", depth=2)
    grad.jacobian(net, module, "%0", "%3", x)

Definitions of every number are in docs/gradients.md.  torch is imported with this package
(``import graphsynth`` alone does not import it).
"""

from __future__ import annotations

from graphsynth.grad.graph import GradError
from graphsynth.grad.jacobian import JacobianResult, jacobian
from graphsynth.grad.paths import GradPath, Step
from graphsynth.grad.recorder import Recorder, instrument
from graphsynth.grad.sensitivity import Sensitivity, SensitivityEntry

__all__ = [
    "GradError",
    "GradPath",
    "JacobianResult",
    "Recorder",
    "Sensitivity",
    "SensitivityEntry",
    "Step",
    "instrument",
    "jacobian",
]
