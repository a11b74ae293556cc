"""Reports of one or more runs: a Markdown table and matplotlib pictures.

``report(["run.sqlite"], "out/")`` writes (each file atomically: written beside, then renamed):

- ``report.md``: per run the counts by status, valid rate, best metric, throughput and the
  compiler's share of wall time; the top candidates; and the lineage of the best candidate as a
  chain of IR diffs, parent to child;
- ``best_so_far.png``: the best metric so far against evaluations, one line per run (proposer);
- ``pareto.png``: metric against parameters for every trained candidate, the Pareto front drawn;
- ``rates.png``: per round, the share of proposals trained, failed, duplicate, over budget and
  rejected;
- ``lineage.png``: the metric along the best candidate's lineage.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphsynth.synth.archive import Archive, Candidate, synth_error
from graphsynth.synth.search import run_stats
from graphsynth.synth.selection import pareto_front

STATUS_ORDER = ("trained", "failed", "duplicate", "over_budget", "rejected", "pending")
COLORS = {"trained": "#2a9d8f", "failed": "#e76f51", "duplicate": "#8d99ae", "over_budget": "#f4a261",
          "rejected": "#264653", "pending": "#cccccc"}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _save(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _atomic_write(path, buf.getvalue())


def lineage(archive: Archive, cid: int) -> list[Candidate]:
    """The chain of first parents from the seed down to candidate ``cid``."""
    chain: list[Candidate] = []
    seen: set[int] = set()
    c = archive.get(cid)
    while c is not None and c.id not in seen:
        chain.append(c)
        seen.add(c.id)
        c = archive.get(c.parents[0]) if c.parents else None
    return chain[::-1]


def _label(a: Archive) -> str:
    meta = a.meta
    s = meta.get("settings", {})
    return f"{meta['task']['name']}/{s.get('proposer')}/seed {s.get('seed')}"


def report(dbs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], metric: str | None = None) -> Path:
    """Write the report of the runs in ``dbs`` to directory ``out``; returns the Markdown path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not dbs:
        raise synth_error("GS918", "report: no archive given")
    archives = [Archive(p) for p in dbs]
    outdir = Path(out)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise synth_error("GS918", f"report: cannot create {outdir}: {e.strerror}") from None
    name, maximise = archives[0].metric_name(metric)
    md = ["# Synthesis report", ""]
    md += ["| run | proposals | trained | failed | duplicate | over budget | rejected | valid rate | best " + name +
           " | evaluations/min | compiler share |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in archives:
        counts = a.counts()
        total = sum(counts.values())
        best = a.best(metric)
        st = run_stats(a)
        valid = 1 - counts["rejected"] / max(total, 1)
        md.append(f"| {_label(a)} | {total} | {counts['trained']} | {counts['failed']} | {counts['duplicate']} | "
                  f"{counts['over_budget']} | {counts['rejected']} | {valid:.0%} | "
                  f"{(best.metric(name) if best else float('nan')):.4f} | {st['per_minute']:.1f} | {st['compiler_share']:.1%} |")

    # best so far
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for a in archives:
        xs, ys, best_v = [], [], None
        for i, c in enumerate([c for c in a.candidates() if c.status in ("trained", "failed")], 1):
            v = c.metric(name) if c.status == "trained" else None
            if v is not None and (best_v is None or (v > best_v if maximise else v < best_v)):
                best_v = v
            if best_v is not None:
                xs.append(i)
                ys.append(best_v)
        ax.step(xs, ys, where="post", label=_label(a))
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best {name} so far")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    _save(fig, outdir / "best_so_far.png")
    plt.close(fig)

    # metric vs params with the Pareto front
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for a in archives:
        trained = [c for c in a.candidates("trained") if c.metric(name) is not None and c.params]
        if not trained:
            continue
        pts = ax.scatter([c.params for c in trained], [c.metric(name) for c in trained], s=12, alpha=0.6, label=_label(a))
        front = sorted(pareto_front(trained, name, maximise), key=lambda c: c.params or 0)
        ax.plot([c.params for c in front], [c.metric(name) for c in front], "-o", ms=4, color=pts.get_facecolor()[0])
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(name)
    ax.set_title("metric vs parameters (lines: Pareto fronts)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    _save(fig, outdir / "pareto.png")
    plt.close(fig)

    # status rates per round (first archive; one panel per archive would crowd the picture)
    fig, axes = plt.subplots(len(archives), 1, figsize=(6.4, 2.2 * len(archives)), squeeze=False)
    for ax, a in zip(axes[:, 0], archives):
        rows = a.candidates()
        rounds = sorted({c.round for c in rows})
        bottom = [0.0] * len(rounds)
        for s in STATUS_ORDER:
            frac = []
            for r in rounds:
                in_r = [c for c in rows if c.round == r]
                frac.append(sum(c.status == s for c in in_r) / max(len(in_r), 1))
            if any(frac):
                ax.bar(rounds, frac, bottom=bottom, color=COLORS[s], label=s)
                bottom = [b + f for b, f in zip(bottom, frac)]
        ax.set_ylabel("share")
        ax.set_title(_label(a), fontsize=8)
        ax.legend(fontsize=6, ncol=3)
    axes[-1, 0].set_xlabel("round")
    _save(fig, outdir / "rates.png")
    plt.close(fig)

    # top candidates and lineage of the overall best
    overall = None
    for a in archives:
        b = a.best(metric)
        if b is not None and (overall is None or (b.metric(name) > overall[1].metric(name) if maximise else b.metric(name) < overall[1].metric(name))):
            overall = (a, b)
    md += ["", "![best so far](best_so_far.png) ![metric vs params](pareto.png) ![rates](rates.png)", ""]
    for a in archives:
        trained = sorted(a.candidates("trained"), key=lambda c: (-(c.metric(name) or 0) if maximise else (c.metric(name) or 0), c.id))
        md += [f"## Top candidates: {_label(a)}", "", f"| id | {name} | test_accuracy | params | FLOPs | parents | change |",
               "|---|---|---|---|---|---|---|"]
        for c in trained[:10]:
            md.append(f"| {c.id} | {c.metric(name):.4f} | {c.metrics.get('test_accuracy', float('nan')):.4f} | {c.params or 0:,} | "
                      f"{c.flops or 0:,} | {', '.join(map(str, c.parents)) or '-'} | {c.description.replace('|', '/')[:90]} |")
        md.append("")
    if overall is not None:
        a, best = overall
        chain = lineage(a, best.id)
        md += [f"## Lineage of the best candidate (#{best.id}, {_label(a)})", ""]
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        vals = [c.metric(name) for c in chain]
        ax.plot(range(len(chain)), [v if v is not None else float("nan") for v in vals], "-o")
        ax.set_xticks(range(len(chain)), [f"#{c.id}" for c in chain], fontsize=7)
        ax.set_ylabel(name)
        ax.set_title("metric along the lineage of the best candidate")
        ax.grid(alpha=0.3)
        _save(fig, outdir / "lineage.png")
        plt.close(fig)
        md += ["![lineage](lineage.png)", ""]
        for parent, child in zip(chain, chain[1:]):
            diff = difflib.unified_diff((parent.ir or "").splitlines(), (child.ir or "").splitlines(),
                                        f"#{parent.id}", f"#{child.id}", lineterm="", n=1)
            v = child.metric(name)
            md += [f"### #{parent.id} -> #{child.id}: {child.description} ({name} {v:.4f})" if v is not None else
                   f"### #{parent.id} -> #{child.id}: {child.description}", "", "```diff", *diff, "```", ""]
    path = outdir / "report.md"
    _atomic_write(path, ("\n".join(md) + "\n").encode())
    for a in archives:
        a.close()
    return path
