"""graphsynth-train: recorded training, reports, diagnoses and designers from the shell.

    graphsynth-train fit TASK [--arch FILE.gs] [--set lr=0.3 ...] [--loss NAME|FILE.gs] [--seed S] [--db FILE] [--report DIR]
    graphsynth-train report RUN --out DIR                 # RUN: FILE (its last run) or FILE:ID
    graphsynth-train diagnose RUN --proposer anthropic|replay [--transcript FILE]
    graphsynth-train design TASK --budget N [--method designer|optuna|default] [--proposer anthropic|replay] [--transcript FILE] [--db FILE]
    graphsynth-train losses

Exit codes: 0 done (findings are warnings), 1 diagnostics (a failed training, a model that gave
no valid reply, a bad archive), 2 usage or path error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from graphsynth.diagnostics import GraphsynthError, render_all

PROG = "graphsynth-train"


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _hp(args: argparse.Namespace) -> dict[str, Any]:
    hp: dict[str, Any] = {}
    if getattr(args, "hp", None):
        try:
            doc = json.loads(args.hp)
        except ValueError as e:
            build_parser().error(f"argument --hp: not a JSON object: {e}")
        if not isinstance(doc, dict):
            build_parser().error("argument --hp: must be a JSON object, like '{\"lr\": 0.01}'")
        hp.update(doc)
    for item in getattr(args, "set", None) or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            build_parser().error(f"argument --set: expected KEY=VALUE, got '{item}'")
        hp[key.strip()] = _value(val.strip())
    return hp


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--diagnostics", choices=("text", "json"), default="text", help="how diagnostics are printed")
    sub = p.add_subparsers(dest="cmd", required=True)

    def model(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--proposer", choices=("anthropic", "replay"), default="anthropic")
        sp.add_argument("--transcript", default=None, help="JSONL transcript (anthropic: written; replay: read)")
        sp.add_argument("--model", default=None, help="model of the anthropic proposer (default: $GRAPHSYNTH_MODEL)")
        sp.add_argument("--base-url", default=None, help="Messages API base URL")
        sp.add_argument("--attempts", type=int, default=3, help="tries per request (rejected replies go back with reasons)")
        sp.add_argument("--deadline", type=float, default=300.0, help="seconds for one model session, retries included")

    f = sub.add_parser("fit", help="train with recording, print metrics and findings")
    f.add_argument("task", help="a shipped task (graphsynth-synth tasks) or a task .toml file")
    f.add_argument("--arch", default=None, help="architecture .gs file (default: the task's seed)")
    f.add_argument("--hp", default=None, help="hyper-parameters as a JSON object")
    f.add_argument("--set", action="append", metavar="KEY=VALUE", help="one hyper-parameter (repeatable)")
    f.add_argument("--loss", default=None, help="a shipped loss (graphsynth-train losses) or a loss .gs file")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--db", default=None, help="store the run in this SQLite archive")
    f.add_argument("--every", type=int, default=None, help="record gradients, updates and dead units every N steps (default 10)")
    f.add_argument("--no-record", action="store_true", help="train without the monitor")
    f.add_argument("--report", default=None, metavar="DIR", help="also write the report into DIR")

    r = sub.add_parser("report", help="pictures, findings and a Markdown report of a stored run")
    r.add_argument("run", help="FILE (its last run) or FILE:ID")
    r.add_argument("--out", required=True)

    d = sub.add_parser("diagnose", help="the vision model's diagnosis of a stored run")
    d.add_argument("run", help="FILE (its last run) or FILE:ID")
    model(d)

    g = sub.add_parser("design", help="the design loop (or a baseline) at a budget of trainings")
    g.add_argument("task")
    g.add_argument("--arch", default=None)
    g.add_argument("--budget", type=int, default=6, help="trainings, the default configuration included")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--method", choices=("designer", "optuna", "default"), default="designer")
    g.add_argument("--db", default=None)
    g.add_argument("--no-diagnose", action="store_true", help="designers without the vision diagnosis")
    model(g)

    sub.add_parser("losses", help="list the shipped loss graphs")
    return p


def _proposer(args: argparse.Namespace) -> Any:
    from graphsynth.llm.proposer import make_proposer

    if args.proposer == "replay":
        if not args.transcript:
            build_parser().error("argument --proposer: replay needs --transcript FILE")
        return make_proposer("replay", transcript=args.transcript)
    return make_proposer("anthropic", model=args.model, base_url=args.base_url)


def _print_run(run: Any, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"id": run.id, "status": run.status, "metrics": run.metrics, "findings": [f.to_dict() for f in run.findings()],
                          "diagnostics": [d.to_dict() for d in run.diagnostics]}, sort_keys=True, allow_nan=True))
        return
    where = f"{run.db}:{run.id}" if run.id is not None else "not stored"
    m = run.metrics
    line = f"{run.task}: {run.status}"
    if "val_accuracy" in m:
        line += f", val_accuracy={m['val_accuracy']:.4f} test_accuracy={m['test_accuracy']:.4f} steps={m.get('steps')}"
    print(f"{line} ({where})")
    if run.timings.get("train_s"):
        print(f"monitor: {run.timings.get('monitor_s', 0.0):.3f} s of {run.timings['train_s']:.3f} s training")
    findings = run.findings()
    errors = [d for d in run.diagnostics if d.severity == "error"]
    if errors:
        print(render_all(errors), file=sys.stderr)
    if findings:
        print(render_all([f.diagnostic() for f in findings]))
    else:
        print("no finding")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except GraphsynthError as e:
        from graphsynth.fileio import exit_code

        print(render_all(e.diagnostics, args.diagnostics), file=sys.stderr)
        return exit_code(e.diagnostics)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "losses":
        from graphsynth.train.loss import LOSS_DIR, builtin_losses

        for name in builtin_losses():
            first = (LOSS_DIR / f"{name}.gs").read_text().splitlines()[0].lstrip("/ ")
            print(f"{name:20s} {first}")
        return 0
    if args.cmd == "fit":
        from graphsynth.train.run import fit

        run = fit(args.task, args.arch, _hp(args), args.loss, args.seed, not args.no_record, db=args.db, every=args.every)
        _print_run(run, args.diagnostics)
        if args.report:
            from graphsynth.train.report import report

            print(f"wrote {report(run, args.report)}")
        return 0 if run.status == "trained" else 1
    from graphsynth.train.store import TrainStore, parse_run_ref

    if args.cmd in ("report", "diagnose"):
        proposer = _proposer(args) if args.cmd == "diagnose" else None
        path, rid = parse_run_ref(args.run)
        with TrainStore(path, create=False) as store:
            run = store.get(rid)
            stored = store.diagnoses(run.id)
        if args.cmd == "report":
            from graphsynth.train.report import report

            print(f"wrote {report(run, args.out, stored)} and its pictures")
            return 0
        from graphsynth.llm.transcript import TranscriptWriter
        from graphsynth.train.diagnose import diagnose

        writer = TranscriptWriter(args.transcript) if args.transcript and args.proposer == "anthropic" else None
        try:
            diag, res = diagnose(run, proposer, attempts=args.attempts, writer=writer, deadline=args.deadline)
        finally:
            if writer is not None:
                writer.close()
        for a in res.attempts:
            if a.verdict != "accepted":
                print(render_all(a.diagnostics, args.diagnostics), file=sys.stderr)
        if diag is None:
            return 1
        print(json.dumps(diag.to_dict(), indent=1, sort_keys=True))
        return 0
    if args.cmd == "design":
        if args.budget < 1:
            build_parser().error("argument --budget: must be at least 1")
        if args.method == "designer":
            from graphsynth.train.designer import design

            proposer = _proposer(args)
            res = design(args.task, args.arch, args.budget, args.seed, proposer=proposer, db=args.db, diagnose=not args.no_diagnose,
                         attempts=args.attempts, deadline=args.deadline,
                         transcript=args.transcript if args.proposer == "anthropic" else None, log=lambda m: print(m, file=sys.stderr))
            if res.skipped:
                print(render_all(res.skipped, args.diagnostics), file=sys.stderr)
        else:
            from graphsynth.train.baselines import default_baseline, optuna_search

            fn = optuna_search if args.method == "optuna" else default_baseline
            res = fn(args.task, args.arch, args.budget, args.seed, db=args.db)
        print(res.table())
        best = res.best
        print(f"best: trial #{res.trials.index(best)} val_accuracy={best.metric('val_accuracy') or float('nan'):.4f} "
              f"test_accuracy={best.metric('test_accuracy') or float('nan'):.4f}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
