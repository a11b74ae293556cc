"""The training archive: recorded runs, their series, findings and diagnoses, in SQLite.

One place for the schema of recorded training.  A file may hold only these tables
(``graphsynth-train fit --db runs.sqlite``) or sit beside a synthesis run's tables in the same
file (``graphsynth-synth run --tune`` records the tuning of the best candidates there, each run
naming its ``candidate``).  Tables, all prefixed ``train_``:

- ``train_meta``: ``schema_version``;
- ``train_runs``: one row per training: task, origin (``fit``, ``default``, ``optuna``,
  ``designer``, ``tune``), session (the design session or study it belongs to), parent run,
  synthesis candidate, seed, status, architecture text, hyper-parameters, loss graph text (NULL
  for the built-in cross-entropy) and name, metrics, what the monitor learned (``meta``),
  diagnostics, timings and the rules' findings;
- ``train_series``: one row per (run, series name): steps and values as JSON arrays;
- ``train_diagnoses``: the vision model's diagnoses of a run, with their transcript path and usage.

Each run is written in one transaction (its row and all its series), so a reader never sees half
a run and ``kill -9`` loses at most the run being written.  The journal is WAL, as for the
synthesis archive, so reports read while a design loop writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any

from graphsynth.train.errors import TaskError, task_error

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS train_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS train_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task TEXT NOT NULL,
  origin TEXT NOT NULL,
  session TEXT,
  parent INTEGER,
  candidate INTEGER,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL,
  arch TEXT NOT NULL,
  hp TEXT NOT NULL,
  loss TEXT,
  loss_name TEXT NOT NULL DEFAULT 'cross_entropy',
  metrics TEXT NOT NULL DEFAULT '{}',
  meta TEXT NOT NULL DEFAULT '{}',
  diagnostics TEXT NOT NULL DEFAULT '[]',
  timings TEXT NOT NULL DEFAULT '{}',
  findings TEXT NOT NULL DEFAULT '[]',
  classes INTEGER NOT NULL DEFAULT 0,
  created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS train_runs_session ON train_runs(session);
CREATE INDEX IF NOT EXISTS train_runs_candidate ON train_runs(candidate);
CREATE TABLE IF NOT EXISTS train_series (
  run INTEGER NOT NULL REFERENCES train_runs(id),
  name TEXT NOT NULL,
  steps TEXT NOT NULL,
  vals TEXT NOT NULL,
  PRIMARY KEY (run, name)
);
CREATE TABLE IF NOT EXISTS train_diagnoses (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run INTEGER NOT NULL REFERENCES train_runs(id),
  diagnosis TEXT NOT NULL,
  transcript TEXT,
  usage TEXT NOT NULL DEFAULT '{}',
  created REAL NOT NULL
);
"""

_COLS = ("id", "task", "origin", "session", "parent", "candidate", "seed", "status", "arch", "hp", "loss", "loss_name",
         "metrics", "meta", "diagnostics", "timings", "findings", "classes", "created")


def _dump(v: Any) -> str:
    return json.dumps(v, sort_keys=True, allow_nan=True, default=str)


def store_error(message: str, **kw: Any) -> TaskError:
    return task_error("GS926", message, **kw)


class TrainStore:
    """``TrainStore(path)`` opens (and creates, unless ``create=False``) a training archive."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True):
        self.path = os.fspath(path)
        if not create and not os.path.isfile(self.path):
            raise store_error(f"no training archive at {self.path}", fix="record runs with `graphsynth-train fit TASK --db FILE`")
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            has = self.conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='train_meta'").fetchone()
            if not has and not create:
                raise store_error(f"{self.path} holds no recorded training (no train_* tables)")
            if not has:
                with self.conn:
                    self.conn.executescript(_SCHEMA)
                    self.conn.execute("INSERT OR REPLACE INTO train_meta VALUES ('schema_version', ?)", (_dump(SCHEMA_VERSION),))
            row = self.conn.execute("SELECT value FROM train_meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise store_error(f"{self.path} is not a training archive ({e})") from None
        version = json.loads(row[0]) if row else None
        if version != SCHEMA_VERSION:
            raise store_error(f"{self.path} has training-archive schema {version}; this graphsynth reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> TrainStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def add(self, run: Any, *, parent: int | None = None, candidate: int | None = None, session: str | None = None) -> int:
        """Store ``run`` (and its series) in one transaction; sets and returns ``run.id``."""
        findings = [f.to_dict() for f in run.findings()]
        row = {"task": run.task, "origin": run.origin, "session": session, "parent": parent, "candidate": candidate,
               "seed": run.seed, "status": run.status, "arch": run.arch, "hp": _dump(run.hp), "loss": run.loss,
               "loss_name": run.loss_name, "metrics": _dump(run.metrics), "meta": _dump(run.meta),
               "diagnostics": _dump([d.to_dict() for d in run.diagnostics]), "timings": _dump(run.timings),
               "findings": _dump(findings), "classes": run.classes, "created": time.time()}
        keys = list(row)
        with self.conn:
            cur = self.conn.execute(f"INSERT INTO train_runs ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                                    [row[k] for k in keys])
            rid = int(cur.lastrowid)
            self.conn.executemany("INSERT INTO train_series VALUES (?, ?, ?, ?)",
                                  [(rid, name, _dump(s.steps), _dump(s.values)) for name, s in run.curves.items()])
        run.id, run.db = rid, self.path
        run.meta["session"] = session
        return rid

    def add_diagnosis(self, run_id: int, diagnosis: dict[str, Any], transcript: str | None, usage: dict[str, Any]) -> int:
        with self.conn:
            cur = self.conn.execute("INSERT INTO train_diagnoses (run, diagnosis, transcript, usage, created) VALUES (?, ?, ?, ?, ?)",
                                    (run_id, _dump(diagnosis), transcript, _dump(usage), time.time()))
        return int(cur.lastrowid)

    # -- reading ------------------------------------------------------------------------------
    def ids(self, *, session: str | None = None, candidate: int | None = None, origin: str | None = None) -> list[int]:
        q, args = "SELECT id FROM train_runs WHERE 1=1", []
        for col, val in (("session", session), ("candidate", candidate), ("origin", origin)):
            if val is not None:
                q += f" AND {col} = ?"
                args.append(val)
        return [r[0] for r in self.conn.execute(q + " ORDER BY id", args)]

    def row(self, run_id: int) -> dict[str, Any]:
        r = self.conn.execute(f"SELECT {', '.join(_COLS)} FROM train_runs WHERE id = ?", (run_id,)).fetchone()
        if r is None:
            last = self.conn.execute("SELECT MAX(id) FROM train_runs").fetchone()[0]
            raise store_error(f"{self.path} has no run {run_id}" + (f" (runs 1-{last})" if last else " (no runs)"))
        d = dict(zip(_COLS, r))
        for k in ("hp", "metrics", "meta", "diagnostics", "timings", "findings"):
            d[k] = json.loads(d[k])
        return d

    def get(self, run_id: int | None = None) -> Any:
        """The :class:`TrainRun` ``run_id`` (the last run when None), with its curves."""
        from graphsynth.train.errors import diagnostic_from_dict
        from graphsynth.train.record import Series
        from graphsynth.train.run import TrainRun

        if run_id is None:
            last = self.conn.execute("SELECT MAX(id) FROM train_runs").fetchone()[0]
            if last is None:
                raise store_error(f"{self.path} holds no runs")
            run_id = int(last)
        d = self.row(run_id)
        curves = {name: Series(json.loads(st), [float(v) for v in json.loads(vs)])
                  for name, st, vs in self.conn.execute("SELECT name, steps, vals FROM train_series WHERE run = ? ORDER BY rowid",
                                                        (run_id,))}
        run = TrainRun(d["task"], d["status"], d["metrics"], curves, d["hp"], d["arch"], d["loss"], d["loss_name"], d["seed"],
                       d["meta"], [diagnostic_from_dict(x) for x in d["diagnostics"]], d["timings"], d["id"], self.path,
                       d["origin"], d["classes"])
        run.meta.setdefault("session", d["session"])
        return run

    def diagnoses(self, run_id: int) -> list[dict[str, Any]]:
        return [{"id": i, "diagnosis": json.loads(dg), "transcript": tr, "usage": json.loads(us)}
                for i, dg, tr, us in self.conn.execute("SELECT id, diagnosis, transcript, usage FROM train_diagnoses WHERE run = ? "
                                                       "ORDER BY id", (run_id,))]


def parse_run_ref(ref: str) -> tuple[str, int | None]:
    """``FILE`` (its last run) or ``FILE:N`` (run N) -> (path, id)."""
    path, sep, tail = ref.rpartition(":")
    if sep and tail.isdigit() and path:
        return path, int(tail)
    return ref, None
