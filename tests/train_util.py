"""Shared pieces of the training-dynamics tests: architectures that break training in known ways,
a short task, and JSON replies."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import synth_util  # noqa: F401 - sets the per-machine data cache

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from designer import mlp  # noqa: E402 - the bench's generator of the broken architectures

from graphsynth.train import load_task  # noqa: E402

__all__ = ["fenced", "mlp", "short_task", "subset_task"]


def short_task(epochs: int = 2, name: str = "digits") -> Any:
    """A shipped task trained for a few epochs only (tests of the loops, not of the rules)."""
    t = load_task(name)
    return dataclasses.replace(t, train={**t.train, "epochs": epochs})


def subset_task(n: int = 100) -> Any:
    t = load_task("digits")
    return dataclasses.replace(t, data={**t.data, "train_subset": n})


def fenced(doc: Any) -> str:
    return "Here is my answer.\n```json\n" + json.dumps(doc) + "\n```"
