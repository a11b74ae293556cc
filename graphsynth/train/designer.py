"""Designers: a model proposes hyper-parameters (a schema-checked document) and losses (a gs
graph), and a loop keeps what trains better, within a budget of trainings.

The loop (:func:`design`)::

    train the task's default configuration (trial 0, the incumbent)
    repeat until `budget` trainings (trial 0 included):
        rules + (optionally) the vision diagnosis of the incumbent, once per new incumbent
        the hp designer (odd rounds) or the loss designer (even rounds) proposes a change of the
            incumbent; invalid replies go back with their diagnostics (up to `attempts`)
        train it (same architecture, same seed); keep it if its metric beats the incumbent's

- The **hyper-parameter designer** replies ``{"hp": {...}, "rationale": "..."}``: only the keys
  to change, inside :data:`graphsynth.train.space.SEARCH_SPACE` (schema GS922, space GS923); a
  configuration already trained (same hyper-parameters and loss) is rejected too (GS923).
- The **loss designer** replies ``{"loss": "<a gs graph>", "rationale": "..."}``: the graph is
  parsed and verified (its GS1xx-GS3xx diagnostics go back to the model), checked for the loss
  interface (GS924), its allocation and a probe batch (GS925) (:mod:`graphsynth.train.loss`).
  Nothing the model writes is executed: graphsynth's backend lowers the verified graph.

A round whose designer gives no valid proposal within its attempts costs no training (GS929 is
recorded); the loop stops after ``2 * budget`` rounds whatever happens.  The baselines at the
same budget are in :mod:`graphsynth.train.baselines`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic
from graphsynth.llm.proposer import Usage
from graphsynth.train.errors import task_error, warning

ROUND_FACTOR = 2
TEXT = {"type": "string", "maxLength": 2000}


@dataclass
class DesignResult:
    """What a design session did: every trial (``trials[0]`` is the default), the kind of each
    (``default``, ``hp``, ``loss``), the best run, the diagnoses, the model sessions and usage."""

    task: str
    method: str
    trials: list[Any]
    kinds: list[str]
    best: Any
    diagnoses: list[Any] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)
    skipped: list[Diagnostic] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    session: str = ""
    wall_s: float = 0.0

    def metric(self, name: str = "val_accuracy") -> float | None:
        return self.best.metric(name) if self.best is not None else None

    def table(self, metric: str = "val_accuracy") -> str:
        rows = [f"| # | kind | change | loss | {metric} | test_accuracy | findings |", "|---|---|---|---|---|---|---|"]
        base = self.trials[0].hp if self.trials else {}
        for i, (run, kind) in enumerate(zip(self.trials, self.kinds)):
            diff = {k: v for k, v in run.hp.items() if base.get(k) != v}
            kinds = ",".join(sorted({f.kind for f in run.findings()})) or "-"
            mark = " (best)" if run is self.best else ""
            rows.append(f"| {i}{mark} | {kind} | {json.dumps(diff, sort_keys=True) if diff else '-'} | {run.loss_name} | "
                        f"{_fmt(run.metric(metric))} | {_fmt(run.metric('test_accuracy'))} | {kinds} |")
        return "\n".join(rows)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def better(a: Any, b: Any | None, metric: str, maximise: bool) -> bool:
    """Whether run ``a`` beats ``b`` (a failed or metric-less run never does; ties keep ``b``)."""
    va = a.metric(metric) if a is not None and a.status == "trained" else None
    if va is None:
        return False
    vb = b.metric(metric) if b is not None and b.status == "trained" else None
    return vb is None or (va > vb if maximise else va < vb)


# -- prompts -----------------------------------------------------------------------------------------

HP_SYSTEM = """\
You design the training configuration of a small neural network for a task, in a loop: each \
proposal is trained once (same architecture, same seed) and kept if its validation metric beats \
the best so far. You see every trial so far with its metrics and the findings of offline rules on \
the best run, and a diagnosis of it. Propose ONE change of hyper-parameters of the best run.

Reply with exactly one JSON object, in a ```json block, matching this JSON schema:
{schema}

List only the keys you change; every value must lie inside the schema's ranges (epochs may not \
exceed the task's default). A configuration that was already trained is rejected.\
"""

LOSS_SYSTEM = """\
You design the training loss of a small neural network for a task, in a loop: each proposal is \
trained once (same architecture, hyper-parameters of the best run, same seed) and kept if its \
validation metric beats the best so far. A loss is a graph in graphsynth's gs IR text form: two \
inputs, the logits f32[B, C] and the integer class targets i64[B]; one output, an f32[] scalar to \
minimise; no parameters. The parser and the verifier check it; a graph that does not verify comes \
back with its diagnostics. One-hot targets: cast(eq(unsqueeze(targets, dim=1), arange(end=C)), dtype=f32).

Reply with exactly one JSON object, in a ```json block, matching this JSON schema:
{schema}

"loss" holds the complete graph text (newlines escaped as \\n in JSON).

The ops of the gs dialect:
{ops}\
"""


def _context(task: Any, trials: list[Any], kinds: list[str], best: Any, findings: list[Any], diagnosis: Any, left: int) -> list[str]:
    metric = task.metric
    lines = [f"Task '{task.name}': {task.description}", f"Data: {task.dataset().summary()}",
             f"Metric: {metric} ({'higher' if task.maximise else 'lower'} is better). Trainings left after this proposal: {left}.",
             "", "Architecture (fixed):", "```gs", best.arch.strip(), "```", "", "Trials so far:"]
    for i, (run, kind) in enumerate(zip(trials, kinds)):
        kinds_found = ",".join(sorted({f.kind for f in run.findings()})) or "none"
        lines.append(f"#{i} ({kind}{', best' if run is best else ''}): hp {json.dumps(run.hp, sort_keys=True)}; loss {run.loss_name}; "
                     f"status {run.status}; {metric}={_fmt(run.metric(metric))}, val_loss={_fmt(run.metric('val_loss'))}, "
                     f"train_loss={_fmt(run.metric('train_loss'))}; findings: {kinds_found}")
    lines += ["", f"Findings of the best run (#{trials.index(best)}):"]
    lines += [f"- {f.diagnostic().render()}" for f in findings] or ["- none"]
    if diagnosis is not None:
        lines += ["", "Diagnosis of the best run:", json.dumps(diagnosis.to_dict(), sort_keys=True)]
    return lines


def hp_document_schema(task: Any) -> dict[str, Any]:
    from graphsynth.train.space import hp_schema

    return {"type": "object", "additionalProperties": False, "required": ["hp", "rationale"],
            "properties": {"hp": hp_schema(task), "rationale": TEXT}}


def loss_document_schema() -> dict[str, Any]:
    from graphsynth.train.loss import MAX_LOSS_CHARS

    return {"type": "object", "additionalProperties": False, "required": ["loss", "rationale"],
            "properties": {"loss": {"type": "string", "maxLength": MAX_LOSS_CHARS}, "rationale": TEXT}}


def _key(hp: dict[str, Any], loss: str | None) -> str:
    from graphsynth.train.space import SEARCH_SPACE

    return json.dumps({"hp": {k: hp.get(k) for k in SEARCH_SPACE}, "loss": loss}, sort_keys=True)


def propose_hp(proposer: Any, task: Any, trials: list[Any], kinds: list[str], best: Any, findings: list[Any], diagnosis: Any,
               left: int, *, attempts: int = 3, writer: Any = None, deadline: float | None = 300.0) -> tuple[dict[str, Any] | None, Any]:
    """One hyper-parameter proposal: (the full hp dict to train, the session)."""
    from graphsynth.diagnostics import error
    from graphsynth.train.space import check_design_hp
    from graphsynth.train.structured import ask
    from graphsynth.train.trainer import check_hp

    schema = hp_document_schema(task)
    tried = {_key(r.hp, r.loss): i for i, r in enumerate(trials)}

    def judge(doc: dict[str, Any]) -> tuple[Any, list[Diagnostic]]:
        change = doc["hp"]
        if not change:
            return None, [error("GS923", "$.hp: the proposal changes nothing", expected="at least one key", got="{}")]
        diags = check_design_hp(change, task)
        if diags:
            return None, diags
        hp = check_hp({**best.hp, **change}, where="$.hp", partial=False)
        hit = tried.get(_key(hp, best.loss))
        if hit is not None:
            return None, [error("GS923", f"$.hp: this configuration was already trained (trial #{hit})",
                                fix="propose a configuration that differs from every trial")]
        return hp, []

    prompt = "\n".join(_context(task, trials, kinds, best, findings, diagnosis, left) +
                       ["", f"Propose one change of hyper-parameters of trial #{trials.index(best)}."])
    system = HP_SYSTEM.replace("{schema}", json.dumps(schema, sort_keys=True))
    res = ask(proposer, "hp-designer", system, prompt, schema, judge, attempts=attempts, writer=writer, deadline=deadline)
    return res.value, res


def propose_loss(proposer: Any, task: Any, trials: list[Any], kinds: list[str], best: Any, findings: list[Any], diagnosis: Any,
                 left: int, *, attempts: int = 3, writer: Any = None, deadline: float | None = 300.0) -> tuple[Any, Any]:
    """One loss proposal: (a checked LossGraph, the session)."""
    from graphsynth.diagnostics import error
    from graphsynth.llm.prompt import op_reference
    from graphsynth.train.loss import LOSS_DIR, check_loss_text
    from graphsynth.train.structured import ask

    schema = loss_document_schema()
    classes = task.dataset().classes
    tried = {_key(r.hp, r.loss): i for i, r in enumerate(trials)}

    def judge(doc: dict[str, Any]) -> tuple[Any, list[Diagnostic]]:
        lg, diags = check_loss_text(doc["loss"], classes, batch=max(best.hp.get("batch_size", 64), 1024),
                                    filename="proposed-loss.gs")
        if lg is None:
            return None, diags
        hit = tried.get(_key(best.hp, lg.text))
        if hit is not None or (best.loss is None and _same_as_ce(lg.text)):
            return None, [error("GS923", f"the loss was already trained with these hyper-parameters (trial #{hit if hit is not None else 0})",
                                fix="propose a different loss")]
        return lg, []

    examples = []
    for name in ("cross_entropy", "label_smoothing"):
        examples += [f"Example, the shipped '{name}' loss:", "```gs", (LOSS_DIR / f"{name}.gs").read_text().strip(), "```"]
    prompt = "\n".join(_context(task, trials, kinds, best, findings, diagnosis, left) +
                       ["", *examples, "", f"Propose a loss graph to train trial #{trials.index(best)}'s configuration with."])
    system = LOSS_SYSTEM.replace("{schema}", json.dumps(schema, sort_keys=True)).replace("{ops}", op_reference())
    res = ask(proposer, "loss-designer", system, prompt, schema, judge, attempts=attempts, writer=writer, deadline=deadline)
    return res.value, res


def _same_as_ce(text: str) -> bool:
    import graphsynth as gs
    from graphsynth.train.loss import LOSS_DIR

    try:
        return gs.print_ir(gs.parse_ir((LOSS_DIR / "cross_entropy.gs").read_text())) == text
    except Exception:  # noqa: BLE001
        return False


# -- the loop ------------------------------------------------------------------------------------------


def design(task: Any, arch: Any = None, budget: int = 6, seed: int = 0, *, proposer: Any, transcript: Any = None,
           db: str | os.PathLike[str] | None = None, diagnose: bool = True, attempts: int = 3, deadline: float | None = 300.0,
           every: int | None = None, log: Any = None, candidate: int | None = None, origin: str = "designer") -> DesignResult:
    """Run the design loop (see the module docstring).  ``proposer`` is an LLM proposer
    (``AnthropicProposer``, ``ReplayProposer``) or a name (``anthropic``, ``replay``, with
    ``transcript`` the recording to replay); ``transcript`` records every model session of this
    design (JSONL, written atomically when the design ends)."""
    from graphsynth.llm.proposer import make_proposer
    from graphsynth.llm.transcript import TranscriptWriter
    from graphsynth.train.diagnose import diagnose as run_diagnosis
    from graphsynth.train.run import fit
    from graphsynth.train.tasks import load_task

    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise task_error("GS920", f"design: budget must be a positive integer (trainings), got {budget!r}")
    t0 = time.perf_counter()
    task = load_task(task)
    if isinstance(proposer, str):
        if proposer == "replay":
            if transcript is None:
                raise task_error("GS920", "design: proposer 'replay' needs the transcript to replay")
            proposer = make_proposer("replay", transcript=os.fspath(transcript))
            transcript = None
        else:
            proposer = make_proposer(proposer)
    session = f"{origin}-{uuid.uuid4().hex[:8]}"
    say = log or (lambda m: None)
    own = transcript is not None and not hasattr(transcript, "write")
    writer = TranscriptWriter(transcript) if own else transcript  # a writer shared by several designs stays open
    try:
        first = fit(task, arch, None, None, seed, db=db, every=every, origin="default" if origin == "designer" else origin,
                    candidate=candidate, session=session)
        out = DesignResult(task.name, "designer", [first], ["default"], first, session=session)
        say(f"#0 default: {task.metric}={_fmt(first.metric(task.metric))}")
        diagnosis, diagnosed = None, None
        rounds = 0
        while len(out.trials) < budget and rounds < ROUND_FACTOR * budget:
            rounds += 1
            best = out.best
            findings = best.findings()
            if diagnose and diagnosed is not best:
                diagnosis, res = run_diagnosis(best, proposer, attempts=attempts, writer=writer, deadline=deadline, findings=findings)
                diagnosed = best
                out.sessions.append(res)
                out.usage = out.usage + res.usage
                if diagnosis is not None:
                    out.diagnoses.append(diagnosis)
                elif res.error is not None:
                    out.skipped.append(res.error)
                    break
            kind = "hp" if rounds % 2 == 1 else "loss"
            left = budget - len(out.trials) - 1
            fn = propose_hp if kind == "hp" else propose_loss
            value, res = fn(proposer, task, out.trials, out.kinds, best, findings, diagnosis, left, attempts=attempts, writer=writer,
                            deadline=deadline)
            out.sessions.append(res)
            out.usage = out.usage + res.usage
            if value is None:
                why = res.error.message if res.error is not None else (res.rejections[-1].message if res.rejections else "no reply")
                out.skipped.append(warning("GS929", f"round {rounds}: the {kind} designer gave no valid proposal in {len(res.attempts)} "
                                                    f"attempt(s): {why}"))
                say(f"round {rounds}: {kind} designer: no valid proposal ({why})")
                if res.error is not None:
                    break  # the service failed: stop rather than spend the rounds
                continue
            hp, loss = (value, best.loss) if kind == "hp" else (best.hp, value)
            run = fit(task, arch, hp, loss, seed, db=db, every=every, origin=origin, candidate=candidate, session=session,
                      parent=best.id)
            out.trials.append(run)
            out.kinds.append(kind)
            if better(run, out.best, task.metric, task.maximise):
                out.best = run
            say(f"#{len(out.trials) - 1} {kind}: {task.metric}={_fmt(run.metric(task.metric))} (best {_fmt(out.best.metric(task.metric))})")
    finally:
        if own and writer is not None:
            writer.close()
    out.wall_s = time.perf_counter() - t0
    return out
