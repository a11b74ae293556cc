"""The search loop: archive contents, planted duplicates and failures, budgets, kill -9 and resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from synth_util import HOG_IR, NAN_IR, Planted, tiny_task

import graphsynth as gs
from graphsynth.synth import Archive, SynthError, resume, search


def _key(a: Archive) -> list[tuple]:
    return [(c.id, c.hash, c.status, c.parents, c.dup_of, {k: v for k, v in c.metrics.items()}) for c in a.candidates()]


def test_evolution_on_digits_fills_the_archive(tmp_path):
    db = tmp_path / "run.sqlite"
    archive = search(tiny_task(tmp_path), proposer="evolution", budget=7, seed=0, db=db, workers=1, batch=3)
    rows = archive.candidates()
    evaluated = [c for c in rows if c.status in ("trained", "failed")]
    assert len(evaluated) == 7 and rows[0].id == 0 and rows[0].proposer == "seed"
    assert all(c.status in ("trained", "failed", "rejected", "duplicate", "over_budget") for c in rows)
    hashes = [c.hash for c in evaluated]
    assert len(set(hashes)) == len(hashes), "a WL hash was trained twice"
    for c in rows:
        if c.status == "trained":
            m = gs.parse_ir(c.ir)
            assert gs.verify(m) == []
            assert 0 <= c.metrics["val_accuracy"] <= 1 and c.params and c.curve
            assert c.proposer == "evolution" or c.id == 0
            assert all(p < c.id for p in c.parents)
    best = archive.best()
    assert best.metrics["val_accuracy"] == max(c.metrics["val_accuracy"] for c in rows if c.status == "trained")
    assert Archive(db).best(metric="val_loss").metrics["val_loss"] == min(c.metrics["val_loss"] for c in rows if c.status == "trained")
    ev = archive.evaluations()
    assert len(ev) == 7 and all(e["finished"] is not None for e in ev)
    assert archive.meta["networkx"] and archive.meta["finished"] is True


def test_planted_duplicate_nan_and_memory_hog_are_recorded(tmp_path):
    tiny_task(tmp_path)
    seed = gs.print_ir(gs.parse_ir((tmp_path / "digits.gs").read_text()))
    wide = seed.replace("[32", "[4000").replace(", 32]", ", 4000]")
    planted = Planted([None, NAN_IR, HOG_IR, "graph broken(", wide, seed.replace("relu(", "gelu(")])
    archive = search(tmp_path / "tiny.toml", planted, budget=4, seed=0, db=tmp_path / "p.sqlite", executor="inline", batch=1)
    by_id = {c.id: c for c in archive.candidates()}
    assert by_id[1].status == "duplicate" and by_id[1].dup_of == 0 and by_id[1].diagnostics[0]["code"] == "GS907"
    assert by_id[1].hash == by_id[0].hash and by_id[1].metrics == {}
    assert by_id[2].status == "failed" and by_id[2].diagnostics[-1]["code"] == "GS910"
    assert by_id[3].status == "failed" and by_id[3].diagnostics[-1]["code"] == "GS911"
    assert by_id[4].status == "rejected" and by_id[4].diagnostics[0]["code"].startswith("GS1")
    assert by_id[5].status == "over_budget" and by_id[5].diagnostics[0]["code"] == "GS906" and by_id[5].params > 20000
    assert by_id[6].status == "trained"
    assert archive.counts() == {"pending": 0, "trained": 2, "rejected": 1, "duplicate": 1, "over_budget": 1, "failed": 2}


def test_proposals_are_capped(tmp_path):
    archive = search(tiny_task(tmp_path), Planted(["nonsense"] * 100), budget=3, db=tmp_path / "c.sqlite",
                     executor="inline", max_proposals=5)
    assert archive.counts()["rejected"] == 5 and archive.counts()["trained"] == 1


def test_prefilter_trains_the_best_proxy_scores(tmp_path):
    archive = search(tiny_task(tmp_path), "random", budget=5, seed=1, db=tmp_path / "f.sqlite", executor="inline",
                     batch=2, prefilter="synflow")
    rows = archive.candidates()
    filtered = [c for c in rows if any(d["code"] == "GS915" for d in c.diagnostics)]
    assert filtered and all(c.status == "rejected" for c in filtered)
    assert sum(c.status == "trained" for c in rows) == 5
    for r in {c.round for c in rows if c.round > 0}:
        kept = [c.metrics["synflow"] for c in rows if c.round == r and c.status == "trained"]
        dropped = [c.metrics["synflow"] for c in filtered if c.round == r]
        assert not dropped or min(kept) >= max(dropped)


def test_settings_conflict_and_missing_archive(tmp_path):
    path = tiny_task(tmp_path)
    search(path, "random", budget=2, db=tmp_path / "s.sqlite", executor="inline")
    with pytest.raises(SynthError) as ei:
        search(path, "evolution", budget=2, db=tmp_path / "s.sqlite", executor="inline")
    assert ei.value.diagnostics[0].code == "GS919"
    with pytest.raises(SynthError) as ei:
        Archive(tmp_path / "nope.sqlite")
    assert ei.value.diagnostics[0].code == "GS916"
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(SynthError) as ei:
        Archive(tmp_path / "junk.sqlite")
    assert ei.value.diagnostics[0].code == "GS916"
    # a larger budget continues the same run
    a = search(path, "random", budget=4, db=tmp_path / "s.sqlite", executor="inline")
    assert a.counts()["trained"] + a.counts()["failed"] == 4


@pytest.mark.long
def test_kill_9_then_resume_evaluates_nothing_twice(tmp_path):
    path = tiny_task(tmp_path)
    path.write_text(path.read_text().replace("epochs = 1\nmax_steps = 8", "epochs = 12"))
    db = tmp_path / "k.sqlite"
    cmd = [sys.executable, "-m", "graphsynth.synth.cli", "run", str(path), "--proposer", "evolution", "--budget", "8",
           "--seed", "5", "--batch", "2", "--workers", "1", "--db", str(db), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        trained = 0
        while time.time() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    with sqlite3.connect(db) as conn:
                        trained = conn.execute("SELECT COUNT(*) FROM candidates WHERE status = 'trained'").fetchone()[0]
                except sqlite3.OperationalError:
                    trained = 0
                if trained >= 4:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    before = {c.id: c for c in Archive(db).candidates()}
    done_before = {i for i, c in before.items() if c.status in ("trained", "failed")}
    assert 4 <= len(done_before) < 8

    archive = resume(db, executor="inline")
    rows = {c.id: c for c in archive.candidates()}
    assert sum(c.status in ("trained", "failed") for c in rows.values()) == 8
    finished = {}
    for e in archive.evaluations():
        if e["finished"] is not None:
            finished[e["candidate"]] = finished.get(e["candidate"], 0) + 1
    assert all(n == 1 for n in finished.values()), "a candidate was trained twice"
    for i in done_before:
        assert rows[i].metrics == before[i].metrics and rows[i].finished == before[i].finished
    hashes = [c.hash for c in rows.values() if c.status in ("trained", "failed")]
    assert len(hashes) == len(set(hashes))

    # the resumed run is the run an uninterrupted one gives
    fresh = search(path, "evolution", budget=8, seed=5, db=tmp_path / "u.sqlite", executor="inline", batch=2)
    assert _key(fresh) == _key(archive)
