"""Zero-cost proxy for the optional prefilter: SynFlow (Tanaka et al., 2020), as used for neural
architecture search without training by Abdelfattah et al. (2021).

SynFlow needs no data: every parameter is replaced by its absolute value, the network is run in
float64 on an all-ones input, and the score is ``sum |theta * dR/dtheta|`` for ``R`` the sum of
the outputs — the total "synaptic flow" through the network, which collapses for architectures
whose signal dies (dead paths, bottlenecks).  We report its natural logarithm; a network whose
score is not finite and positive scores ``-inf``.  It costs one forward and one backward on a
single example, a few milliseconds for the shipped tasks.

With ``prefilter="synflow"`` a round proposes ``prefilter_factor`` times as many candidates as it
will train, scores them, trains the best and records the rest as ``rejected`` (GS915).
"""

from __future__ import annotations

import math
from typing import Any

PROXIES = ("synflow",)


def synflow(ir: str, task: Any, seed: int = 0) -> float:
    import torch

    import graphsynth as gs
    from graphsynth.train.trainer import estimate_memory_bytes, initialise

    m = gs.parse_ir(ir, filename="candidate.gs")
    if estimate_memory_bytes(m, 1, "sgd") * 2 > task.budget.max_memory_mb * 2**20:  # float64: twice the bytes
        return float("-inf")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = gs.lower(m)
        initialise(net, m)
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones((1, *task.dataset().feature_shape), dtype=torch.float64)
    try:
        out = net(x)
        out.sum().backward()
    except Exception:  # noqa: BLE001 - a proxy failure only ranks the candidate last
        return float("-inf")
    score = sum(float((p.detach() * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None)
    return math.log(score) if math.isfinite(score) and score > 0 else float("-inf")
