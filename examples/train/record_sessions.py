"""Re-record the shipped design sessions in this folder against the scripted Messages API server.

    python examples/train/record_sessions.py [--budget 6] [--tasks digits,mnist1d,sequence]

No model is called: the replies come from :class:`ScriptedDesigner` below, a fixed policy that
plays the model's part (a diagnosis that restates the rule findings, a planned sequence of
hyper-parameter changes per task, the shipped label-smoothing and focal losses as proposed loss
graphs, and one deliberately invalid reply per kind to show a rejection and its retry).  The
sessions run through the real ``anthropic`` SDK and HTTP (``graphsynth.llm.fakeserver`` on
127.0.0.1) and the real design loop, so the transcripts hold the real request hashes, the
rejected attempts with their diagnostics, estimated token counts and latencies.
``bench/designer.py`` replays them (the trainings are re-run; the replay checks that every
request asks what was recorded).  Run this again when a prompt, the trainer or a task changes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

BUDGET = 6
LOSSES = Path(__file__).resolve().parents[2] / "graphsynth" / "train" / "losses"

# Per task, the hyper-parameter changes the scripted designer proposes, in order.
PLANS: dict[str, list[dict[str, Any]]] = {
    "digits": [{"lr": 0.01, "schedule": "cosine"}, {"weight_decay": 0.0001, "optimizer": "adamw"}, {"batch_size": 32}],
    "mnist1d": [{"lr": 0.005, "batch_size": 32, "schedule": "cosine"}, {"weight_decay": 0.0005, "optimizer": "adamw"},
                {"warmup_steps": 20}],
    "sequence": [{"lr": 0.01, "schedule": "cosine"}, {"batch_size": 32}, {"weight_decay": 0.0001, "optimizer": "adamw"}],
}
# What an invalid first try looks like (epochs above the task's default, outside the schema).
INVALID_HP = {"hp": {"lr": 0.01, "epochs": 1000}, "rationale": "train for much longer"}


def fenced(doc: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(doc, indent=1) + "\n```"


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))


class ScriptedDesigner:
    """Answers diagnosis, hyper-parameter and loss requests (see the module docstring)."""

    def __init__(self, task: str):
        self.plan = list(PLANS[task])
        self.hp_next = 0
        self.loss_next = 0
        self.invalid_sent: set[str] = set()

    def __call__(self, body: dict[str, Any]) -> str:
        system = text_of(body.get("system"))
        messages = body.get("messages", [])
        prompt = text_of(messages[0]["content"])
        if system.startswith("You diagnose"):
            return self.diagnosis(prompt)
        if "design the training configuration" in system:
            if "hp" not in self.invalid_sent:
                self.invalid_sent.add("hp")
                return fenced(INVALID_HP)
            change = self.plan[self.hp_next % len(self.plan)]
            self.hp_next += 1
            return fenced({"hp": change, "rationale": "a change of the best run's configuration from the plan"})
        if "design the training loss" in system:
            if "loss" not in self.invalid_sent:
                self.invalid_sent.add("loss")
                broken = (LOSSES / "label_smoothing.gs").read_text().replace("%picked: f32[B, 1] = gather", "%picked: f32[B, C] = gather")
                return fenced({"loss": broken, "rationale": "label smoothing regularises the confident head"})
            name = ("label_smoothing", "focal", "confidence_penalty")[self.loss_next % 3]
            self.loss_next += 1
            return fenced({"loss": (LOSSES / f"{name}.gs").read_text(), "rationale": f"the shipped {name} loss"})
        return fenced({"error": "unexpected request"})

    def diagnosis(self, prompt: str) -> str:
        block = prompt.split("Rule findings:", 1)[-1]
        kinds = sorted({w for w in ("divergence", "exploding gradients", "vanishing gradients", "dead units", "plateau", "oscillation",
                                    "overfitting", "slow start") if w in block})
        problems = [{"kind": k.replace(" ", "_"), "evidence": "the rule finding and the curves agree"} for k in kinds]
        summary = ("The rules find " + ", ".join(kinds) + ".") if kinds else "The run looks healthy: the loss falls steadily and validation follows."
        return fenced({"summary": summary, "problems": problems,
                       "changes": [{"target": "hp", "hp": {"schedule": "cosine"}, "rationale": "decay the rate to settle the last epochs"}]})


def record(task: str, budget: int, out: Path) -> Any:
    os.environ.setdefault("ANTHROPIC_API_KEY", "scripted")
    from graphsynth.llm.fakeserver import FakeServer, Step
    from graphsynth.llm.proposer import AnthropicProposer
    from graphsynth.train.designer import design

    model = ScriptedDesigner(task)
    with FakeServer([Step(text=model) for _ in range(8 * budget)]) as srv:
        proposer = AnthropicProposer(model="claude-sonnet-4-6", base_url=srv.url, max_retries=0, timeout=60)
        res = design(task, None, budget, 0, proposer=proposer, transcript=out, log=lambda m: print(f"  {m}"))
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=int, default=BUDGET)
    p.add_argument("--tasks", default="digits,mnist1d,sequence")
    args = p.parse_args(argv)
    for task in [t for t in args.tasks.split(",") if t]:
        out = HERE / f"{task}_design.jsonl"
        print(f"{task}: recording {out.name}")
        res = record(task, args.budget, out)
        print(res.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
