"""Shared pieces of the synthesis tests: a tiny task (digits, one short epoch), planted proposers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from graphsynth.synth.proposers import Proposal
from graphsynth.train.tasks import TASK_DIR

# Generated task data is cached per machine in a temporary folder, not in the home folder.
os.environ.setdefault("GRAPHSYNTH_DATA_CACHE", os.path.join(tempfile.gettempdir(), f"graphsynth-test-data-{os.getuid()}"))

TINY_TOML = """\
name = "tiny-digits"
description = "digits, one short epoch (tests)"
seed = "digits.gs"
metric = "val_accuracy"

[data]
source = "digits"

[budget]
max_params = 20000
time_per_candidate_s = 30
max_memory_mb = {mem}

[train]
optimizer = "adam"
lr = 0.01
batch_size = 64
epochs = 1
max_steps = 8
"""

NAN_IR = """\
graph NaNNet(x: f32[B, 64]) -> f32[B, 10] {
  param head.weight: f32[10, 64]
  param head.bias: f32[10]
  %0: f32[B, 64] = exp(x)
  %1: f32[B, 64] = neg(%0)
  %2: f32[B, 64] = sqrt(%1)
  module head : Linear {
    %3: f32[B, 10] = linear(%2, head.weight, head.bias)
  }
  return %3
}
"""

# Few parameters and a cheap reduction, but a [B, 20000, 64] intermediate: far over 64 MiB.
HOG_IR = """\
graph Hog(x: f32[B, 64]) -> f32[B, 10] {
  param head.weight: f32[10, 64]
  param head.bias: f32[10]
  %0: f32[B, 1, 64] = unsqueeze(x, dim=1)
  %1: f32[B, 20000, 64] = expand(%0, shape=[-1, 20000, -1])
  %2: f32[B, 64] = mean(%1, dims=[1])
  module head : Linear {
    %3: f32[B, 10] = linear(%2, head.weight, head.bias)
  }
  return %3
}
"""


def tiny_task(tmp_path: Path, mem: int = 64) -> Path:
    (tmp_path / "digits.gs").write_text((TASK_DIR / "digits.gs").read_text())
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML.format(mem=mem))
    return path


class Planted:
    """Proposes the given IR texts in order (None: the seed renamed, a structural duplicate)."""

    name = "planted"

    def __init__(self, texts: list[str | None]):
        self.texts = texts

    def propose(self, ctx) -> Proposal:
        k = ctx.id - 1
        text = self.texts[k] if k < len(self.texts) else None
        if text is None:
            seed = ctx.seed().ir or ""
            text = seed.replace("%1", "%renamed").replace("l1.fc", "first.fc").replace("module l1 ", "module first ")
        return Proposal(text, [0], f"planted #{ctx.id}")
