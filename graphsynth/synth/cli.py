"""graphsynth-synth: closed-loop architecture synthesis from the shell.

    graphsynth-synth run TASK --proposer evolution --budget 50 --seed 0 --db run.sqlite [--executor ray] [--workers K] [--tune K]
    graphsynth-synth resume --db run.sqlite
    graphsynth-synth report --db run.sqlite [--db other.sqlite] --out report/
    graphsynth-synth bench --tasks digits,mnist1d,sequence --proposers random,evolution --seeds 3 --budget 30
    graphsynth-synth tasks

Exit codes: 0 done, 1 diagnostics (printed MLIR-style, or as JSON with --diagnostics=json),
2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from graphsynth.diagnostics import GraphsynthError, render_all

PROG = "graphsynth-synth"


def _threshold(text: str) -> float | None:
    if text.lower() in ("none", "off"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1] or 'none', got '{text}'") from None


def build_parser() -> argparse.ArgumentParser:
    from graphsynth.synth.search import DEFAULTS

    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--diagnostics", choices=("text", "json"), default="text", help="how errors are printed")
    sub = p.add_subparsers(dest="cmd", required=True)

    def execution(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--executor", choices=("process", "ray", "inline"), default="process",
                        help="where trainings run (ray: a local cluster, or --ray-address / $RAY_ADDRESS)")
        sp.add_argument("--workers", type=int, default=None, help="parallel trainings (default: the CPU count)")
        sp.add_argument("--ray-address", default=None, help="attach to this Ray cluster (a private network: Ray has no auth)")
        sp.add_argument("--no-progress", action="store_true", help="no progress line, even on a terminal")

    def llm(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--transcript", default=None, help="JSONL transcript (anthropic: appended; replay: read)")
        sp.add_argument("--model", default=None, help="model of the anthropic proposer (default: $GRAPHSYNTH_MODEL)")
        sp.add_argument("--base-url", default=None, help="Messages API base URL of the anthropic proposer")

    def tuning(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--tune", type=int, default=0, metavar="K",
                        help="after the search, tune the K best candidates' hyper-parameters and loss (graphsynth.train designers)")
        sp.add_argument("--tune-budget", type=int, default=4, help="trainings per tuned candidate (its default configuration included)")
        sp.add_argument("--tune-method", choices=("designer", "optuna"), default="designer")
        sp.add_argument("--tune-proposer", choices=("anthropic", "replay"), default="anthropic", help="the designers' model (--model and --base-url apply to it too)")
        sp.add_argument("--tune-transcript", default=None, help="JSONL of the designers' sessions (anthropic: written; replay: read)")
        sp.add_argument("--tune-no-diagnose", action="store_true", help="designers without the vision diagnosis")

    r = sub.add_parser("run", help="start (or continue) a search")
    r.add_argument("task", help="a shipped task name (graphsynth-synth tasks) or a task .toml file")
    r.add_argument("--proposer", default="evolution", choices=("random", "evolution", "anthropic", "replay"))
    r.add_argument("--budget", type=int, default=50, help="candidates to train")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--db", default="run.sqlite", help="the archive (SQLite) of this run")
    r.add_argument("--batch", type=int, default=DEFAULTS["batch"], help="candidates trained per round")
    r.add_argument("--attempts", type=int, default=DEFAULTS["attempts"], help="tries per proposal (diagnostics go back)")
    r.add_argument("--max-proposals", type=int, default=None, help="cap on proposals (default 10 x budget)")
    r.add_argument("--near-threshold", type=_threshold, default=DEFAULTS["near_threshold"],
                   help="Jaccard similarity at which a proposal is a near-duplicate ('none' to disable)")
    r.add_argument("--prefilter", choices=("synflow",), default=None, help="zero-cost proxy prefilter")
    r.add_argument("--selection", choices=("tournament", "pareto"), default=DEFAULTS["selection"])
    r.add_argument("--population", type=int, default=DEFAULTS["population"])
    execution(r)
    llm(r)
    tuning(r)

    s = sub.add_parser("resume", help="continue the run recorded in an archive")
    s.add_argument("--db", required=True)
    s.add_argument("--budget", type=int, default=None, help="raise the run's budget")
    execution(s)
    llm(s)
    tuning(s)

    rep = sub.add_parser("report", help="Markdown table and pictures of one or more runs")
    rep.add_argument("--db", action="append", required=True, help="an archive (repeat to compare runs)")
    rep.add_argument("--out", required=True, help="output directory")
    rep.add_argument("--metric", default=None)

    b = sub.add_parser("bench", help="the design benchmark: proposers x tasks x seeds at equal budget")
    b.add_argument("--tasks", default="digits,mnist1d,sequence")
    b.add_argument("--proposers", default="random,evolution")
    b.add_argument("--seeds", type=int, default=3)
    b.add_argument("--budget", type=int, default=30)
    b.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    b.add_argument("--delta", type=float, default=0.01, help="'reach the seed's metric + delta'")
    b.add_argument("--out", default="bench-synth", help="directory for the archives")
    execution(b)
    llm(b)

    sub.add_parser("tasks", help="list the shipped tasks")
    return p


def _llm_options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in {"transcript": args.transcript, "model": args.model, "base_url": args.base_url}.items() if v}


def _summary(archive: Any) -> str:
    from graphsynth.synth.search import run_stats

    c = archive.counts()
    best = archive.best()
    name, _ = archive.metric_name()
    st = run_stats(archive)
    parts = [f"{archive.path}: " + ", ".join(f"{v} {k}" for k, v in c.items() if v)]
    if best is not None:
        parts.append(f"best: #{best.id} {name}={best.metric(name):.4f} test_accuracy={best.metrics.get('test_accuracy', float('nan')):.4f} "
                     f"params={best.params:,} ({best.description})")
    parts.append(f"{st['per_minute']:.1f} evaluations/min, compiler {st['compiler_share']:.1%} of wall time")
    return "\n".join(parts)


def _tune_proposer(args: argparse.Namespace) -> object:
    """The designers' proposer, made before the search so a missing key or transcript is found
    before any training (None when there is no tuning stage or it needs no model)."""
    if not args.tune or args.tune_method != "designer":
        return None
    from graphsynth.llm.proposer import make_proposer

    if args.tune_proposer == "replay":
        if not args.tune_transcript:
            raise SystemExit(f"{PROG}: --tune-proposer replay needs --tune-transcript FILE")
        return make_proposer("replay", transcript=args.tune_transcript)
    return make_proposer("anthropic", model=args.model, base_url=args.base_url)


def _tune(args: argparse.Namespace, db: str, proposer: object = None) -> int:
    """The optional tuning stage after a run (``--tune K``)."""
    if not args.tune:
        return 0
    from graphsynth.synth.tune import tune

    entries = tune(db, args.tune, args.tune_budget, method=args.tune_method, proposer=proposer,
                   transcript=args.tune_transcript if args.tune_proposer == "anthropic" else None, diagnose=not args.tune_no_diagnose, log=lambda m: print(m, file=sys.stderr))
    def num(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else "-"

    for e in entries:
        print(f"tuned #{e['candidate']} ({e['method']}, {e['trainings']} trainings): {e['metric']} {num(e['default'])} -> {num(e['after'])}, "
              f"loss {e['loss']}, hp {json.dumps(e['hp'], sort_keys=True)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except GraphsynthError as e:
        print(render_all(e.diagnostics, args.diagnostics), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; `{PROG} resume --db FILE` continues the run", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.cmd == "tasks":
        from graphsynth.train.tasks import builtin_tasks, load_task

        for name in builtin_tasks():
            t = load_task(name)
            print(f"{name:10s} {t.description}")
        return 0
    if args.cmd == "run":
        from graphsynth.synth.search import search

        tuner = _tune_proposer(args)
        a = search(args.task, args.proposer, args.budget, args.seed, args.db, args.executor, args.workers,
                   max_proposals=args.max_proposals, proposer_options=_llm_options(args),
                   progress=False if args.no_progress else None, ray_address=args.ray_address, batch=args.batch,
                   attempts=args.attempts, near_threshold=args.near_threshold, prefilter=args.prefilter,
                   selection=args.selection, population=args.population)
        print(_summary(a))
        return _tune(args, a.path, tuner)
    if args.cmd == "resume":
        from graphsynth.synth.search import resume

        tuner = _tune_proposer(args)
        a = resume(args.db, args.executor, args.workers, progress=False if args.no_progress else None,
                   proposer_options=_llm_options(args), ray_address=args.ray_address, budget=args.budget)
        print(_summary(a))
        return _tune(args, a.path, tuner)
    if args.cmd == "report":
        from graphsynth.synth.report import report

        path = report(args.db, args.out, args.metric)
        print(f"wrote {path} and its pictures")
        return 0
    if args.cmd == "bench":
        from graphsynth.synth.bench import run_bench, table, verdict

        tasks = [t for t in args.tasks.split(",") if t]
        props = [p for p in args.proposers.split(",") if p]
        results = run_bench(tasks, props, args.seeds, args.budget, args.out, args.workers, args.executor, args.delta,
                            args.batch, _llm_options(args), log=lambda m: print(m, file=sys.stderr))
        print(table(results, args.delta))
        if {"random", "evolution"} <= set(props):
            print(verdict(results))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
