"""Offline rules on a recorded run: each a documented threshold on the raw series, with its source.

``check(run) -> list[Finding]``.  A :class:`Finding` names the rule (``kind``), the step range
(``steps``, first and last step where the condition held), the modules involved, the evidence
numbers and a suggested change (``suggestion`` in words, ``change`` as a partial hyper-parameter
document or a loss/architecture hint the designers read).  Each kind also renders as a warning
diagnostic with its own code (GS931-GS938).

The thresholds (:data:`THRESHOLDS`, one place) come from AUTOTRAINER (Zhang et al., ICSE 2021;
``AutoTrainer/utils/monitor.py`` in github.com/shiningrain/AUTOTRAINER: ``gradient_issue``,
``loss_issue``, ``ol_judge`` and the ``default_param`` values) where it has one; the others are
ours and say so.  AUTOTRAINER reads the weight gradients of the first and last layer; here a
*layer* is a module that owns parameters, in data-flow order (``run.meta["modules"]``), and its
gradient norm is over all the parameters it owns.

Gradient and dead-unit conditions are checked at every recorded step and must *persist*: hold at
:data:`MIN_HITS` recorded steps or more and at a share of at least ``persist`` of them, so one noisy
batch is not a finding.  As in AUTOTRAINER's ``determine`` (dying ReLU is checked before
vanishing gradients), a vanishing-gradient condition at steps where dead units are found is
explained by them and not reported separately.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic
from graphsynth.train.errors import warning

KINDS = ("divergence", "exploding_gradients", "vanishing_gradients", "dead_units", "plateau", "oscillation",
         "overfitting", "slow_start")
CODES = {k: f"GS93{i + 1}" for i, k in enumerate(KINDS)}
MIN_HITS = 3

AUTOTRAINER = "AUTOTRAINER monitor.py"


@dataclass(frozen=True)
class Threshold:
    value: float
    source: str
    meaning: str


THRESHOLDS: dict[str, Threshold] = {
    "loss_limit": Threshold(1e5, f"{AUTOTRAINER} (loss_issue: test_loss >= 1e5 is nan_loss)",
                            "a loss at or above this is divergence"),
    "loss_rise": Threshold(2.0, "ours", "divergence when the loss (median of 3 steps) exceeds this multiple of the first step's loss"),
    "vanish_ratio": Threshold(1e-3, f"{AUTOTRAINER} (beta_1)", "first/last layer gradient-norm ratio below this ..."),
    "vanish_first": Threshold(1e-4, f"{AUTOTRAINER} (beta_2)", "... and the first layer's gradient norm below this: vanishing"),
    "explode_ratio": Threshold(70.0, f"{AUTOTRAINER} (beta_3)", "first/last layer gradient-norm ratio above this: exploding"),
    "dead_fraction": Threshold(0.7, f"{AUTOTRAINER} (gamma, zero-gradient ratio of dying ReLU)",
                               "an activation with at least this share of dead units"),
    "persist": Threshold(0.2, "ours", "share of recorded steps a gradient or dead-unit condition must hold at"),
    "sc_delta": Threshold(0.01, f"{AUTOTRAINER} (delta, sc_accuracy)",
                          "plateau when no evaluation raised train or validation accuracy by this much"),
    "stall": Threshold(0.01, "ours", "plateau when the second half of the run lowers the loss by less than this share ..."),
    "stall_level": Threshold(0.5, "ours", "... while the loss is still at least this share of the first step's loss"),
    "osc_amplitude": Threshold(0.03, f"{AUTOTRAINER} (zeta, ol_judge)", "a swing of validation accuracy of at least this ..."),
    "osc_rate": Threshold(0.2, f"{AUTOTRAINER} (eta, ol_judge)", "... in at least this share of the evaluations: oscillation"),
    "gap_low": Threshold(0.1, f"{AUTOTRAINER} (loss_issue, test_not_well)",
                         "train - validation accuracy gap when train accuracy <= 0.9 ..."),
    "gap_high": Threshold(0.07, f"{AUTOTRAINER} (loss_issue, test_not_well)", "... and when train accuracy > 0.9"),
    "val_rise": Threshold(0.1, "ours (AUTOTRAINER's test_turn_bad asks for a rising test loss)",
                          "overfitting also needs the final validation loss this share above its minimum"),
    "judgment_point": Threshold(0.3, f"{AUTOTRAINER} (judgment_point)", "share of the run after which loss rules judge"),
    "slow_drop": Threshold(0.1, "ours", "slow start when the first judgment_point of the run lowers the loss by less than this share ..."),
    "slow_final": Threshold(0.5, "ours", "... and the run ends below this share of the first loss (it did learn, late)"),
    "min_evals": Threshold(5, "ours", "evaluations needed before oscillation is judged"),
}


def T(name: str) -> float:
    return THRESHOLDS[name].value


@dataclass
class Finding:
    """One rule's verdict on a run."""

    kind: str
    steps: tuple[int, int]
    modules: list[str]
    evidence: dict[str, Any]
    suggestion: str
    change: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return CODES[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "steps": list(self.steps), "modules": list(self.modules), "evidence": dict(self.evidence),
                "suggestion": self.suggestion, "change": dict(self.change), "code": self.code}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Finding:
        steps = d.get("steps") or [0, 0]
        return Finding(str(d["kind"]), (int(steps[0]), int(steps[-1])), list(d.get("modules") or []), dict(d.get("evidence") or {}),
                       str(d.get("suggestion", "")), dict(d.get("change") or {}))

    def diagnostic(self) -> Diagnostic:
        where = f" in {', '.join(self.modules)}" if self.modules else ""
        ev = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        return warning(self.code, f"{self.kind.replace('_', ' ')} at steps {self.steps[0]}-{self.steps[1]}{where}: {ev}",
                       fix=self.suggestion)

    def __str__(self) -> str:
        return self.diagnostic().render()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


# -- helpers ------------------------------------------------------------------------------------


def _finite(xs: list[float]) -> list[float]:
    return [x for x in xs if math.isfinite(x)]


def _median3(values: list[float]) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - 1): i + 2]
        out.append(statistics.median(window))
    return out


def _persistent(hits: list[tuple[int, Any]], total: int) -> bool:
    return len(hits) >= MIN_HITS and total > 0 and len(hits) / total >= T("persist")


def _series(run: Any, name: str) -> tuple[list[int], list[float]]:
    s = run.curves.get(name)
    return (list(s.steps), list(s.values)) if s is not None else ([], [])


# -- the rules -----------------------------------------------------------------------------------


def divergence(run: Any) -> list[Finding]:
    steps, loss = _series(run, "loss")
    if not loss:
        return []
    bad = [(s, v) for s, v in zip(steps, loss) if not math.isfinite(v) or abs(v) >= T("loss_limit")]
    change = {"hp": {"lr": run.hp.get("lr", 1e-3) * 0.1, "grad_clip": 1.0}}
    if bad:
        return [Finding("divergence", (bad[0][0], steps[-1]), [], {"loss": bad[0][1], "first_loss": loss[0], "step": bad[0][0]},
                        "lower the learning rate (x0.1), clip gradients (grad_clip=1) or add warm-up steps", change)]
    first = loss[0]
    if not (math.isfinite(first) and first > 0):
        return []
    smooth = _median3(loss)
    limit = T("loss_rise") * first
    over = [(s, v) for s, v, raw in zip(steps, smooth, loss) if v > limit and raw > limit]
    if not over:
        return []
    peak = max(loss)
    return [Finding("divergence", (over[0][0], over[-1][0]), [],
                    {"first_loss": first, "peak_loss": peak, "peak_step": steps[loss.index(peak)], "rise": peak / first,
                     "limit": limit}, "lower the learning rate (x0.1), clip gradients (grad_clip=1) or add warm-up steps", change)]


def _ratios(run: Any) -> tuple[str, str, list[tuple[int, float, float]]]:
    """(first, last, [(step, first-layer norm, last-layer norm)]) over the recorded steps."""
    modules = [m for m in run.meta.get("modules", []) if f"grad_norm/{m}" in run.curves]
    if len(modules) < 2:
        return "", "", []
    a, b = run.curves[f"grad_norm/{modules[0]}"], run.curves[f"grad_norm/{modules[-1]}"]
    by_step = dict(zip(b.steps, b.values))
    rows = [(s, v, by_step[s]) for s, v in zip(a.steps, a.values) if s in by_step]
    return modules[0], modules[-1], rows


def exploding(run: Any) -> list[Finding]:
    first, last, rows = _ratios(run)
    if not rows:
        return []
    nonfinite = [(s, f, la) for s, f, la in rows if not (math.isfinite(f) and math.isfinite(la))]
    if nonfinite:
        s = nonfinite[0][0]
        return [Finding("exploding_gradients", (s, rows[-1][0]), [first, last], {"step": s, "first_norm": nonfinite[0][1],
                        "last_norm": nonfinite[0][2]}, "clip gradients (grad_clip=1) and lower the learning rate",
                        {"hp": {"grad_clip": 1.0, "lr": run.hp.get("lr", 1e-3) * 0.1}})]
    hits = [(s, f / la) for s, f, la in rows if la > 0 and f / la > T("explode_ratio")]
    if not _persistent(hits, len(rows)):
        return []
    ratio = statistics.median(r for _, r in hits)
    return [Finding("exploding_gradients", (hits[0][0], hits[-1][0]), [first, last],
                    {"ratio_first_last": ratio, "threshold": T("explode_ratio"), "share_of_recorded_steps": len(hits) / len(rows)},
                    "clip gradients (grad_clip=1), lower the learning rate, or add normalisation between the layers",
                    {"hp": {"grad_clip": 1.0, "lr": run.hp.get("lr", 1e-3) * 0.3}, "architecture": "normalisation layers"})]


def vanishing(run: Any, dead_steps: set[int] | None = None) -> list[Finding]:
    first, last, rows = _ratios(run)
    if not rows:
        return []
    hits = [(s, f, la) for s, f, la in rows if f < T("vanish_first") and (f / la if la > 0 else 0.0 if f == 0 else math.inf) < T("vanish_ratio")]
    if dead_steps:
        hits = [h for h in hits if h[0] not in dead_steps]
    if not _persistent([(s, f) for s, f, _ in hits], len(rows)):
        return []
    fmed = statistics.median(f for _, f, _ in hits)
    lmed = statistics.median(la for _, _, la in hits)
    return [Finding("vanishing_gradients", (hits[0][0], hits[-1][0]), [first, last],
                    {"first_norm": fmed, "last_norm": lmed, "ratio_first_last": fmed / lmed if lmed > 0 else 0.0,
                     "share_of_recorded_steps": len(hits) / len(rows)},
                    "use non-saturating activations (relu, gelu), residual connections or normalisation; fewer layers; "
                    "a larger learning rate only helps a little",
                    {"architecture": "non-saturating activations, residual connections or normalisation",
                     "hp": {"optimizer": "adam"}})]


def dead_units(run: Any) -> list[Finding]:
    acts = run.meta.get("activations", {})
    out = []
    for name, info in acts.items():
        s = run.curves.get(f"dead_fraction/{name}")
        if s is None or not len(s):
            continue
        hits = [(st, v) for st, v in zip(s.steps, s.values) if v >= T("dead_fraction")]
        if not _persistent(hits, len(s)):
            continue
        med = statistics.median(v for _, v in hits)
        module = info.get("module") or ""
        out.append(Finding("dead_units", (hits[0][0], hits[-1][0]), [module] if module else [],
                           {"value": name, "op": info.get("op", "?"), "dead_fraction": med, "threshold": T("dead_fraction"),
                            "share_of_recorded_steps": len(hits) / len(s)},
                           f"units after {info.get('op', 'the activation')} {name} no longer respond: lower the learning rate, "
                           "start biases at zero, or use leaky_relu/gelu",
                           {"hp": {"lr": run.hp.get("lr", 1e-3) * 0.3}, "architecture": f"leaky_relu or gelu instead of {info.get('op')}"}))
    return out


def plateau(run: Any) -> list[Finding]:
    vs, va = _series(run, "val_accuracy")
    ts, ta = _series(run, "train_accuracy")
    out: list[Finding] = []

    def max_delta(xs: list[float]) -> float:
        return max((b - a for a, b in zip(xs, xs[1:])), default=0.0)

    if len(va) >= 3 and len(ta) >= 3 and max_delta(va) < T("sc_delta") and max_delta(ta) < T("sc_delta"):
        out.append(Finding("plateau", (vs[0], vs[-1]), [], {"max_val_accuracy_gain": max_delta(va), "max_train_accuracy_gain": max_delta(ta),
                                                           "threshold": T("sc_delta"), "val_accuracy": va[-1]},
                           "the run never learns: check for dead units or vanishing gradients; try a larger learning rate or adam",
                           {"hp": {"lr": run.hp.get("lr", 1e-3) * 3, "optimizer": "adam"}}))
        return out
    steps, loss = _series(run, "loss")
    loss = [v for v in loss if math.isfinite(v)]
    if len(loss) < 20 or not loss[0] > 0:
        return out
    half = len(loss) // 2
    window = max(5, len(loss) // 10)
    mid = statistics.median(loss[max(0, half - window // 2): half + window // 2 + 1])
    end = statistics.median(loss[-window:])
    if mid > 0 and (mid - end) / loss[0] < T("stall") and end >= T("stall_level") * loss[0]:
        out.append(Finding("plateau", (steps[half], steps[-1]), [], {"loss_at_half": mid, "loss_at_end": end, "first_loss": loss[0]},
                           "the loss stalls far from fitting: a larger learning rate, a schedule with warm-up, or a wider model",
                           {"hp": {"lr": run.hp.get("lr", 1e-3) * 3, "schedule": "cosine"}}))
    return out


def oscillation(run: Any) -> list[Finding]:
    steps, acc = _series(run, "val_accuracy")
    if len(acc) < T("min_evals"):
        return []
    maxima, minima = [], []
    for i in range(1, len(acc) - 1):
        if acc[i] - acc[i - 1] >= 0 and acc[i] - acc[i + 1] >= 0:
            maxima.append((steps[i], acc[i]))
        if acc[i] - acc[i - 1] <= 0 and acc[i] - acc[i + 1] <= 0:
            minima.append((steps[i], acc[i]))
    swings = [(mx, mn) for mx, mn in zip(maxima, minima) if mx[1] - mn[1] >= T("osc_amplitude")]
    if not swings or len(swings) < T("osc_rate") * len(acc):
        return []
    amp = max(mx[1] - mn[1] for mx, mn in swings)
    first = min(min(mx[0], mn[0]) for mx, mn in swings)
    last = max(max(mx[0], mn[0]) for mx, mn in swings)
    return [Finding("oscillation", (first, last), [], {"swings": len(swings), "evaluations": len(acc), "max_swing": amp,
                                                       "threshold": T("osc_amplitude")},
                    "lower the learning rate or decay it (cosine schedule); a larger batch smooths the updates",
                    {"hp": {"lr": run.hp.get("lr", 1e-3) * 0.3, "schedule": "cosine"}})]


def overfitting(run: Any) -> list[Finding]:
    ts, ta = _series(run, "train_accuracy")
    vs, va = _series(run, "val_accuracy")
    ls, lv = _series(run, "val_loss")
    if not ta or not va or not lv:
        return []
    gap = ta[-1] - va[-1]
    need = T("gap_high") if ta[-1] > 0.9 else T("gap_low")
    lv_f = _finite(lv)
    if gap < need or not lv_f:
        return []
    low = min(lv_f)
    at = ls[lv.index(low)]
    if not lv[-1] >= (1 + T("val_rise")) * low:
        return []
    return [Finding("overfitting", (at, ls[-1]), [], {"train_accuracy": ta[-1], "val_accuracy": va[-1], "gap": gap, "gap_threshold": need,
                                                      "min_val_loss": low, "final_val_loss": lv[-1]},
                    "regularise: weight decay, label smoothing, fewer epochs or a smaller model; more data if there is any",
                    {"hp": {"weight_decay": 0.01, "optimizer": "adamw"}, "loss": "label_smoothing"})]


def slow_start(run: Any) -> list[Finding]:
    steps, loss = _series(run, "loss")
    loss_f = _finite(loss)
    if len(loss_f) != len(loss) or len(loss) < 10 or not loss[0] > 0:
        return []
    planned = int(run.meta.get("planned_steps") or steps[-1])
    cut = max(1, int(T("judgment_point") * planned))
    early = [v for s, v in zip(steps, loss) if s <= cut]
    if len(early) < 5:
        return []
    window = max(3, len(loss) // 20)
    start = statistics.median(loss[:window])
    at_cut = statistics.median(early[-window:])
    end = statistics.median(loss[-window:])
    if (start - at_cut) / start < T("slow_drop") and end < T("slow_final") * start:
        return [Finding("slow_start", (steps[0], cut), [], {"first_loss": start, "loss_at_judgment_point": at_cut, "final_loss": end,
                                                            "judgment_step": cut},
                        "the first part of the run is wasted: a larger initial learning rate, shorter warm-up, or adam",
                        {"hp": {"warmup_steps": 0, "lr": run.hp.get("lr", 1e-3) * 2}})]
    return []


def check(run: Any) -> list[Finding]:
    """Every rule on ``run``; findings ordered by their first step, then kind."""
    found: list[Finding] = []
    found += divergence(run)
    found += exploding(run)
    dead = dead_units(run)
    found += dead
    dead_steps: set[int] = set()
    for f in dead:
        s = run.curves.get(f"dead_fraction/{f.evidence['value']}")
        if s is not None:
            dead_steps |= {st for st, v in zip(s.steps, s.values) if v >= T("dead_fraction")}
    found += vanishing(run, dead_steps)
    found += plateau(run)
    found += oscillation(run)
    found += overfitting(run)
    found += slow_start(run)
    found.sort(key=lambda f: (f.steps[0], KINDS.index(f.kind)))
    return found
