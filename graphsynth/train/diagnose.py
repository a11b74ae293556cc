"""The vision-model diagnosis of a recorded run.

The rules detect (they read the raw numbers: chart-reading models answer many chart questions
without looking at the picture, and do worst on purely visual ones); the model explains and
proposes, given the pictures, a compact summary of the series and the rules' verdicts.  The
request carries the three PNGs of :mod:`graphsynth.train.pictures` as image content blocks
(base64) through the official SDK, then the text.  The reply is one JSON object of
:data:`DIAGNOSIS_SCHEMA`::

    {"summary": "...",
     "problems": [{"kind": "divergence", "steps": [2, 40], "modules": ["l1"], "evidence": "..."}],
     "changes": [{"target": "hp", "hp": {"lr": 0.0003}, "rationale": "..."},
                 {"target": "loss", "loss": "label_smoothing", "rationale": "..."},
                 {"target": "architecture", "architecture": "...", "rationale": "..."}]}

Beyond the schema (GS922), a reply is rejected when a problem names steps outside the run or a
module the run does not have (GS922), when a proposed hyper-parameter change leaves the search
space (GS923, :mod:`graphsynth.train.space`) or names a loss that is not shipped (GS922), and
it goes back to the model with the reasons, like an IR edit.  Sessions are recorded and replay
like rewrite transcripts (:mod:`graphsynth.train.structured`).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic, error

OTHER = "other"


def diagnosis_schema(task: Any) -> dict[str, Any]:
    from graphsynth.train.rules import KINDS
    from graphsynth.train.space import hp_schema

    text = {"type": "string", "maxLength": 2000}
    return {
        "type": "object", "additionalProperties": False, "required": ["summary", "problems", "changes"],
        "properties": {
            "summary": text,
            "problems": {"type": "array", "maxItems": 12, "items": {
                "type": "object", "additionalProperties": False, "required": ["kind", "evidence"],
                "properties": {"kind": {"enum": [*KINDS, OTHER]},
                               "steps": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 0}},
                               "modules": {"type": "array", "maxItems": 32, "items": {"type": "string", "maxLength": 200}},
                               "evidence": text}}},
            "changes": {"type": "array", "maxItems": 8, "items": {
                "type": "object", "additionalProperties": False, "required": ["target", "rationale"],
                "properties": {"target": {"enum": ["hp", "loss", "architecture"]}, "hp": hp_schema(task),
                               "loss": {"type": "string", "maxLength": 200}, "architecture": text, "rationale": text}}},
        },
    }


@dataclass
class Diagnosis:
    """A validated diagnosis: ``problems`` and ``changes`` as in the schema."""

    summary: str
    problems: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    usage: dict[str, Any] = field(default_factory=dict)
    rejected: list[Diagnostic] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "problems": self.problems, "changes": self.changes}

    def first_target(self) -> str | None:
        return self.changes[0]["target"] if self.changes else None


SYSTEM = """\
You diagnose the training of small neural networks from recorded series. You receive pictures of \
one run (loss and accuracy curves with the rule findings shaded; a heat map of the gradient norm \
per module over steps; update-to-weight ratios per parameter and dead-unit fractions per activation), \
a compact summary of the same series as numbers, and the verdicts of offline rules (thresholds from \
AUTOTRAINER). The rules detect; you explain what went wrong and why, name the evidence you see, and \
propose changes to the hyper-parameters, the loss or the architecture that you expect to fix it. \
A healthy run may need no change: say so with empty lists.

Reply with exactly one JSON object, in a ```json block, matching this JSON schema:
{schema}

Rules: "kind" is a rule name or "other"; "steps" is [first, last] within the run; "modules" are \
module paths of the run; an "hp" change lists only the keys to change, inside the search space; a \
"loss" change names one of the shipped losses ({losses}) or describes a new one in words.\
"""


def _g(v: Any) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _points(steps: list[int], values: list[float], k: int) -> str:
    if not values:
        return "(none)"
    n = len(values)
    idx = sorted({round(i * (n - 1) / max(1, k - 1)) for i in range(min(k, n))})
    return ", ".join(f"{steps[i]}: {_g(values[i])}" for i in idx)


def summarise(run: Any, k: int = 16) -> str:
    """The series as the model reads them: a few evenly spaced points of each, 4 significant digits."""
    c = run.curves
    lines = [f"steps: {run.meta.get('steps')} ({run.meta.get('steps_per_epoch')} per epoch, {run.meta.get('epochs')} epochs); "
             f"gradient norms, update ratios and dead units recorded every {run.meta.get('every')} steps"]
    for name in ("loss", "lr"):
        if name in c:
            lines.append(f"{name} (step: value): {_points(c[name].steps, c[name].values, k)}")
    for name in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        if name in c:
            lines.append(f"{name} per epoch: {_points(c[name].steps, c[name].values, 64)}")
    mods = [m for m in run.meta.get("modules", []) if f"grad_norm/{m}" in c]
    if mods:
        lines.append("gradient norm per module (data-flow order; step: value):")
        lines += [f"  {m}: {_points(c[f'grad_norm/{m}'].steps, c[f'grad_norm/{m}'].values, 8)}" for m in mods]
    ratios = run.series("update_ratio")
    if ratios:
        lines.append("update-to-weight ratio per parameter (median; last):")
        for key, s in ratios.items():
            fin = sorted(v for v in s.values if math.isfinite(v))
            if fin:
                lines.append(f"  {key}: {_g(fin[len(fin) // 2])}; {_g(s.values[-1])}")
    acts = run.meta.get("activations", {})
    for name, s in run.series("dead_fraction").items():
        info = acts.get(name, {})
        lines.append(f"dead fraction after {info.get('op', '?')} {name} in {info.get('module') or 'top level'}: "
                     f"{_points(s.steps, s.values, 8)}")
    return "\n".join(lines)


def prompt_text(run: Any, findings: list[Any], task: Any) -> str:
    import json

    lines = [f"Task '{task.name}': {task.description}", f"Data: {task.dataset().summary()}",
             f"Run status: {run.status}; metrics: " + ", ".join(f"{k}={_g(v)}" for k, v in sorted(run.metrics.items())),
             "Hyper-parameters: " + json.dumps(run.hp, sort_keys=True), f"Loss: {run.loss_name}",
             "Architecture:", "```gs", run.arch.strip(), "```", "", "Series:", summarise(run), "", "Rule findings:"]
    lines += [f"- {f.diagnostic().render()}" for f in findings] or ["- none"]
    for d in run.diagnostics:
        if d.severity == "error":
            lines.append(f"Training error: {d.render()}")
    lines += ["", "The pictures above show the same run. Diagnose it."]
    return "\n".join(lines)


def images(run: Any, findings: list[Any]) -> list[dict[str, str]]:
    from graphsynth.train.pictures import pictures

    return [{"media_type": "image/png", "data": base64.b64encode(png).decode("ascii")} for png in pictures(run, findings).values()]


def judge_diagnosis(run: Any, task: Any) -> Any:
    from graphsynth.train.loss import builtin_losses
    from graphsynth.train.space import check_design_hp

    steps = int(run.meta.get("steps") or 0)
    known = set(run.meta.get("modules", [])) | {a.get("module") for a in run.meta.get("activations", {}).values() if a.get("module")}
    for m in list(known):
        parts = m.split(".")
        known |= {".".join(parts[:i]) for i in range(1, len(parts))}

    def judge(doc: dict[str, Any]) -> tuple[Diagnosis | None, list[Diagnostic]]:
        diags: list[Diagnostic] = []
        for i, p in enumerate(doc["problems"]):
            st = p.get("steps")
            if st is not None and not (st[0] <= st[1] <= max(steps, 1)):
                diags.append(error("GS922", f"$.problems[{i}].steps: {st} is not a step range of this run (steps 0-{steps})",
                                   expected=f"[first, last] within 0-{steps}", got=str(st)))
            for m in p.get("modules", []):
                if m not in known:
                    diags.append(error("GS922", f"$.problems[{i}].modules: the run has no module '{m}'",
                                       expected=" | ".join(sorted(known)) or "no modules", got=m))
        for i, ch in enumerate(doc["changes"]):
            t = ch["target"]
            if t not in ch:
                diags.append(error("GS922", f"$.changes[{i}]: a change with target '{t}' needs the key '{t}'", expected=t, got="nothing"))
            elif t == "hp":
                diags += check_design_hp(ch["hp"], task, where=f"$.changes[{i}].hp")
                if not ch["hp"]:
                    diags.append(error("GS922", f"$.changes[{i}].hp: an empty hyper-parameter change", expected="at least one key", got="{}"))
            elif t == "loss" and " " not in ch["loss"].strip() and ch["loss"] not in builtin_losses():
                diags.append(error("GS922", f"$.changes[{i}].loss: '{ch['loss']}' is not a shipped loss",
                                   expected=" | ".join(builtin_losses()) + " (or a description in words)", got=ch["loss"]))
        if diags:
            return None, diags
        return Diagnosis(doc["summary"], list(doc["problems"]), list(doc["changes"])), []

    return judge


def diagnose(run: Any, proposer: Any, *, attempts: int = 3, writer: Any = None, deadline: float | None = 300.0,
             findings: list[Any] | None = None) -> tuple[Diagnosis | None, Any]:
    """Ask ``proposer`` to diagnose ``run``; (Diagnosis or None, the session's DocResult).  When
    the run is stored in an archive, the diagnosis is stored with it."""
    import json

    from graphsynth.train.loss import builtin_losses
    from graphsynth.train.structured import ask
    task = run.task_obj()
    findings = run.findings() if findings is None else findings
    schema = diagnosis_schema(task)
    system = SYSTEM.replace("{schema}", json.dumps(schema, sort_keys=True)).replace("{losses}", ", ".join(builtin_losses()))
    res = ask(proposer, "diagnosis", system, prompt_text(run, findings, task), schema, judge_diagnosis(run, task),
              images=images(run, findings), attempts=attempts, writer=writer, deadline=deadline)
    diag = res.value
    if diag is not None:
        diag.usage = res.usage.to_dict()
        diag.rejected = res.rejections
        if run.db is not None and run.id is not None:
            from graphsynth.train.store import TrainStore

            with TrainStore(run.db) as store:
                path = getattr(writer, "path", None)
                store.add_diagnosis(run.id, diag.to_dict(), path, diag.usage)
    return diag, res
