"""graphsynth-synth: run, resume, report, bench, tasks; the report's files; the docs' snippets."""

from __future__ import annotations

import re

import pytest
from synth_util import tiny_task

from graphsynth.synth import search
from graphsynth.synth.bench import run_bench, table, verdict
from graphsynth.synth.cli import main
from graphsynth.synth.report import report

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_writes_table_pictures_and_lineage(tmp_path):
    path = tiny_task(tmp_path)
    a = search(path, "evolution", budget=6, seed=1, db=tmp_path / "a.sqlite", executor="inline", batch=2)
    search(path, "random", budget=4, seed=1, db=tmp_path / "b.sqlite", executor="inline", batch=2)
    md = report([tmp_path / "a.sqlite", tmp_path / "b.sqlite"], tmp_path / "rep")
    text = md.read_text()
    for name in ("best_so_far.png", "pareto.png", "rates.png", "lineage.png"):
        assert (tmp_path / "rep" / name).read_bytes()[:8] == PNG
    assert "tiny-digits/evolution/seed 1" in text and "tiny-digits/random/seed 1" in text
    best = a.best()
    assert f"Lineage of the best candidate (#{best.id}" in text or "Lineage of the best candidate" in text
    if best.parents:
        assert "```diff" in text and re.search(r"^[+-] ", text, re.M)
    assert not list((tmp_path / "rep").glob(".*tmp"))  # atomic writes leave no temporaries


def test_cli_run_resume_report_and_errors(tmp_path, capsys):
    path = tiny_task(tmp_path)
    db = str(tmp_path / "c.sqlite")
    assert main(["run", str(path), "--proposer", "random", "--budget", "2", "--db", db, "--executor", "inline", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 trained" in out and "best: #" in out
    assert main(["resume", "--db", db, "--budget", "4", "--executor", "inline", "--no-progress"]) == 0
    assert "4 trained" in capsys.readouterr().out
    assert main(["report", "--db", db, "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.md").exists()
    assert main(["run", "no-such-task", "--db", str(tmp_path / "x.sqlite")]) == 1
    assert "GS901" in capsys.readouterr().err
    assert main(["--diagnostics", "json", "resume", "--db", str(tmp_path / "missing.sqlite")]) == 1
    assert '"code": "GS916"' in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:
        main(["run", "digits", "--proposer", "genetic"])
    assert ei.value.code == 2
    assert main(["tasks"]) == 0
    assert "mnist1d" in capsys.readouterr().out


def test_bench_table_at_equal_budget(tmp_path):
    path = str(tiny_task(tmp_path))
    results = run_bench([path], ["random", "evolution"], 2, 4, tmp_path / "bench", executor="inline", log=lambda m: None)
    assert len(results) == 4 and {r.proposer for r in results} == {"random", "evolution"}
    assert all(r.seed_metric is not None and r.best >= r.seed_metric for r in results)
    text = table(results, 0.01)
    assert "tiny-digits" in text and "± " in text and "evals to seed+0.01" in text
    assert "of 1 tasks" in verdict(results)
