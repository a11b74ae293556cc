"""Training dynamics: the monitor's overhead, the rules on broken and healthy runs, and the
designers against their baselines at an equal budget of trainings.

Three tables, per shipped task:

1. **Monitor overhead per step**: a training with the monitor and one without (same seed, one
   torch thread), repeated, the minimum of each kept; the step time (ms), the monitor's own time
   per step (its hooks and statistics, measured inside it) and that as a share of the step without
   it (target <= 10%), and the end-to-end difference of the two trainings' times.
2. **Rules**: the known broken runs (learning rate x100; a deep sigmoid stack; ReLU units pushed
   dead by a bias of -10; a wide model on 100 training examples) with the findings they get, and
   the false-positive rate on healthy runs (the task's default configuration, ``--fp-seeds`` seeds).
3. **Designers at equal budget** (``--budget`` trainings each; the selection metric is the
   validation accuracy, the test accuracy is that of the selected run): the default
   configuration (seed 0), the default with ``budget`` seeds (best of), Optuna TPE (seeded, the
   default enqueued first) and the designer replaying the shipped session
   ``examples/train/TASK_design.jsonl`` (scripted replies, not model output; see
   ``examples/train/record_sessions.py``).

Run: ``python bench/designer.py [--tasks digits,mnist1d,sequence] [--budget 6] [--fp-seeds 10]
[--repeat 3] [--skip overhead,rules,design]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECTIONS = ("overhead", "rules", "design")


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def mlp(widths: list[int], act: str, inp: int = 64, out: int = 10, offset: float | None = None) -> str:
    """An MLP on the digits interface: Linear + act per width, then a head (offset: subtracted
    before the first activation, a bias pushing its units dead)."""
    lines = [f"graph Deep(x: f32[B, {inp}]) -> f32[B, {out}] {{"]
    dims = [inp, *widths]
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        lines += [f"  param l{i}.fc.weight: f32[{b}, {a}]", f"  param l{i}.fc.bias: f32[{b}]"]
    lines += [f"  param head.weight: f32[{out}, {dims[-1]}]", f"  param head.bias: f32[{out}]"]
    prev, k = "x", 0
    for i, b in enumerate(dims[1:]):
        lines += [f"  module l{i} : Block {{", f"    module l{i}.fc : Linear {{",
                  f"      %{k}: f32[B, {b}] = linear({prev}, l{i}.fc.weight, l{i}.fc.bias)", "    }"]
        pre, k = f"%{k}", k + 1
        if offset is not None and i == 0:
            lines.append(f"    %{k}: f32[B, {b}] = sub({pre}, {offset})")
            pre, k = f"%{k}", k + 1
        lines += [f"    %{k}: f32[B, {b}] = {act}({pre})", "  }"]
        prev, k = f"%{k}", k + 1
    lines += ["  module head : Linear {", f"    %{k}: f32[B, {out}] = linear({prev}, head.weight, head.bias)", "  }", f"  return %{k}", "}"]
    return "\n".join(lines) + "\n"


def overhead(tasks: list[str], repeat: int) -> None:
    from graphsynth.train import fit

    print("## Monitor overhead per step (one torch thread; monitor every 10 steps)\n")
    print("| task | steps | step ms (no monitor) | monitor ms/step | monitor share of a step | end-to-end difference |")
    print("|---|---|---|---|---|---|")
    for task in tasks:
        fit(task, record=True)  # warm: data, imports, the activation probe
        plain, rec, mon = [], [], []
        steps = 0
        for _ in range(repeat):
            a = fit(task, record=False)
            b = fit(task, record=True)
            steps = int(a.metrics["steps"])
            plain.append(a.timings["train_s"])
            rec.append(b.timings["train_s"])
            mon.append(b.timings["monitor_s"])
        # the minimum of the repetitions: other processes only ever add time
        p, r, m = min(plain), min(rec), min(mon)
        print(f"| {task} | {steps} | {p / steps * 1e3:.3f} | {m / steps * 1e3:.4f} | {m / p:.1%} | {(r - p) / p:+.1%} |")
    print()


def rules(tasks: list[str], fp_seeds: int) -> None:
    from graphsynth.train import fit, load_task

    print("## Rules: known broken runs\n")
    print("| run | expected | findings | found |")
    print("|---|---|---|---|")
    cases = []
    for task in tasks:
        t = load_task(task)
        cases.append((f"{task}, lr x100", "divergence", lambda t=t: fit(t, None, {"lr": t.train["lr"] * 100})))
    digits = load_task("digits")
    cases.append(("digits, 6 sigmoid layers", "vanishing_gradients", lambda: fit(digits, mlp([32] * 6, "sigmoid"))))
    cases.append(("digits, ReLU with bias -10", "dead_units", lambda: fit(digits, mlp([32], "relu", offset=10.0))))
    small = dataclasses.replace(digits, data={**digits.data, "train_subset": 100})
    cases.append(("digits, 2x256 MLP on 100 examples", "overfitting", lambda: fit(small, mlp([256, 256], "relu"), {"epochs": 60})))
    for name, want, make in cases:
        kinds = [f.kind for f in make().findings()]
        print(f"| {name} | {want} | {', '.join(kinds) or '-'} | {'yes' if want in kinds else 'NO'} |")
    print(f"\n## Rules: false positives on healthy runs (default configuration, {fp_seeds} seeds)\n")
    print("| task | runs | runs with a finding | false-positive rate | kinds |")
    print("|---|---|---|---|---|")
    for task in tasks:
        flagged, kinds = 0, set()
        for seed in range(fp_seeds):
            found = fit(task, seed=seed).findings()
            flagged += bool(found)
            kinds |= {f.kind for f in found}
        print(f"| {task} | {fp_seeds} | {flagged} | {flagged / fp_seeds:.0%} | {', '.join(sorted(kinds)) or '-'} |")
    print()


def design_table(tasks: list[str], budget: int) -> None:
    from graphsynth.llm.proposer import ProposerError
    from graphsynth.train.baselines import default_baseline, optuna_search
    from graphsynth.train.designer import design

    print(f"## Designers at equal budget ({budget} trainings each; val accuracy selects, test accuracy of the selected run)\n")
    print("| task | default (seed 0) | default, best of seeds | Optuna TPE | designer (replayed) | designer trials kept |")
    print("|---|---|---|---|---|---|")
    for task in tasks:
        cells = []
        d = default_baseline(task, None, budget, 0)
        first = d.trials[0]
        cells.append(f"{first.metric('val_accuracy'):.4f} / {first.metric('test_accuracy'):.4f}")
        cells.append(f"{d.best.metric('val_accuracy'):.4f} / {d.best.metric('test_accuracy'):.4f}")
        o = optuna_search(task, None, budget, 0)
        cells.append(f"{o.best.metric('val_accuracy'):.4f} / {o.best.metric('test_accuracy'):.4f}")
        session = ROOT / "examples" / "train" / f"{task}_design.jsonl"
        kept = "-"
        if not session.is_file():
            cells.append("no session")
        else:
            try:
                r = design(task, None, budget, 0, proposer="replay", transcript=session)
                short = "" if len(r.trials) == budget else f" ({len(r.trials)} trainings: {r.skipped[-1].message[:80] if r.skipped else '?'})"
                cells.append(f"{r.best.metric('val_accuracy'):.4f} / {r.best.metric('test_accuracy'):.4f}{short}")
                kept = f"#{r.trials.index(r.best)} ({r.kinds[r.trials.index(r.best)]}, loss {r.best.loss_name})"
            except ProposerError as e:
                cells.append(f"replay diverged: {e.diagnostics[0].message[:60]}")
        print(f"| {task} | " + " | ".join(cells) + f" | {kept} |")
    print("\nCells: validation / test accuracy of the selected run. The designer column replays scripted sessions "
          "(examples/train/record_sessions.py), not a model's output.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=_csv, default=["digits", "mnist1d", "sequence"])
    p.add_argument("--budget", type=_positive, default=6, help="trainings per method and task")
    p.add_argument("--fp-seeds", type=_positive, default=10, help="healthy runs per task for the false-positive rate")
    p.add_argument("--repeat", type=_positive, default=5, help="repetitions of the overhead measurement (the minimum is reported)")
    p.add_argument("--skip", type=_csv, default=[], help=f"sections to skip: {', '.join(SECTIONS)}")
    args = p.parse_args(argv)
    from graphsynth.train import builtin_tasks

    unknown = [t for t in args.tasks if t not in builtin_tasks()]
    if unknown:
        p.error(f"argument --tasks: unknown task '{unknown[0]}' (known: {', '.join(builtin_tasks())})")
    bad = [s for s in args.skip if s not in SECTIONS]
    if bad:
        p.error(f"argument --skip: unknown section '{bad[0]}' (known: {', '.join(SECTIONS)})")
    t0 = time.perf_counter()
    if "overhead" not in args.skip:
        overhead(args.tasks, args.repeat)
    if "rules" not in args.skip:
        rules(args.tasks, args.fp_seeds)
    if "design" not in args.skip:
        design_table(args.tasks, args.budget)
    print(f"\n({time.perf_counter() - t0:.0f} s on this machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
