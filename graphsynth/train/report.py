"""The report of one recorded run: ``graphsynth-train report RUN --out DIR``.

Writes, each file atomically (:func:`graphsynth.fileio.write_atomic`: a temporary file beside
it, then a rename), into ``DIR``:

- ``curves.png``, ``grad_norms.png``, ``update_ratios.png`` (:mod:`graphsynth.train.pictures`);
- ``findings.json``: the rules' findings (kind, code, steps, modules, evidence, suggestion, change);
- ``report.md``: the run's task, status, metrics and hyper-parameters, the findings with their
  thresholds' sources, the diagnoses stored with the run, and the pictures.

A folder that cannot be made or a file that cannot be written is GS927; files already written
stay whole (each is replaced in one step or not at all).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from graphsynth.train.errors import TaskError, task_error


def report(run: Any, out: str | os.PathLike[str], diagnoses: list[dict[str, Any]] | None = None) -> Path:
    """Write the report of ``run`` (a :class:`TrainRun`) into folder ``out``; returns report.md."""
    from graphsynth.fileio import FileError, write_atomic
    from graphsynth.train.pictures import pictures
    from graphsynth.train.rules import THRESHOLDS

    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise task_error("GS927", f"report: cannot create {folder}: {e.strerror}") from None
    findings = run.findings()
    try:
        pngs = pictures(run, findings)
    except Exception as e:  # noqa: BLE001 - a picture that cannot be drawn is a diagnostic
        raise task_error("GS927", f"report: the pictures cannot be drawn ({type(e).__name__}: {str(e)[:200]})",
                         fix="pip install 'graphsynth[synth]' (matplotlib)") from None
    md = [f"# Training report: {run.task}" + (f" (run {run.id})" if run.id is not None else ""), "",
          f"Status **{run.status}**, origin {run.origin}, seed {run.seed}, loss {run.loss_name}.", "",
          "| metric | value |", "|---|---|"]
    md += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in sorted(run.metrics.items())]
    md += ["", "Hyper-parameters: `" + json.dumps(run.hp, sort_keys=True) + "`", ""]
    if run.timings.get("monitor_s") is not None and run.timings.get("train_s"):
        md += [f"Monitor overhead: {run.timings['monitor_s']:.3f} s of {run.timings['train_s']:.3f} s of training "
               f"({run.timings['monitor_s'] / run.timings['train_s']:.1%}), recording every {run.meta.get('every')} steps.", ""]
    md += [f"## Findings ({len(findings)})", ""]
    if not findings:
        md.append("No rule fired.")
    for f in findings:
        md += [f"- **{f.code} {f.kind}**, steps {f.steps[0]}-{f.steps[1]}" + (f", modules {', '.join(f.modules)}" if f.modules else "") +
               ": " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in f.evidence.items()),
               f"  - suggestion: {f.suggestion}"]
    for d in run.diagnostics:
        md.append(f"- training diagnostic: `{d.render().splitlines()[0]}`")
    md += ["", "![curves](curves.png)", "", "![gradient norm per module](grad_norms.png)", "",
           "![update ratios and dead units](update_ratios.png)", "", "## Thresholds", "", "| threshold | value | source |", "|---|---|---|"]
    md += [f"| {k} | {t.value:g} | {t.source} |" for k, t in THRESHOLDS.items()]
    for i, dg in enumerate(diagnoses or []):
        d = dg.get("diagnosis", dg)
        md += ["", f"## Diagnosis {i + 1}" + (f" (transcript {dg['transcript']})" if dg.get("transcript") else ""), "", d.get("summary", "")]
        md += [f"- problem {p.get('kind')}: {p.get('evidence', '')}" for p in d.get("problems", [])]
        md += [f"- change ({c.get('target')}): {json.dumps({k: v for k, v in c.items() if k not in ('target', 'rationale')})} -- "
               f"{c.get('rationale', '')}" for c in d.get("changes", [])]
    try:
        for name, data in pngs.items():
            write_atomic(folder / name, data)
        write_atomic(folder / "findings.json", json.dumps([f.to_dict() for f in findings], indent=1, sort_keys=True, allow_nan=True) + "\n")
        path = folder / "report.md"
        write_atomic(path, "\n".join(md) + "\n")
    except FileError as e:
        raise TaskError([*e.diagnostics, *task_error("GS927", f"report: cannot write into {folder}").diagnostics]) from None
    return path
