"""The archive: one SQLite file per run, one committed transaction per event.

Tables:

- ``meta``: the run's settings (task snapshot, proposer, budget, seed, executor-independent
  options), the versions of graphsynth and networkx (WL hashes depend on it), and ``finished``.
- ``candidates``: one row per proposal, in proposal order (``id`` 0 is the seed architecture):
  IR text, WL hash, parent ids, proposer, description, the diagnostics of its attempts and of the
  loop, status, metrics, training curve, timings, tokens, params and FLOPs.  ``status`` is
  ``pending`` (queued for training) until the training's outcome lands, then ``trained`` or
  ``failed``; proposals that never reach training are ``rejected`` (parse, verify, interface,
  proposer failure, proxy filter), ``duplicate`` (exact or near, ``dup_of`` names the original)
  or ``over_budget``.
- ``evaluations``: one row per training started (``finished`` is NULL while it runs), so a
  resumed run can show that no candidate was trained twice.

Every write is its own transaction (``with conn``), so ``kill -9`` at any moment loses at most
the trainings in flight: their candidates stay ``pending`` and are trained when the run resumes.
The journal is SQLite's WAL, so a report can read the file while the run writes it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import GraphsynthError, error

SCHEMA_VERSION = 1
STATUSES = ("pending", "trained", "rejected", "duplicate", "over_budget", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
  id INTEGER PRIMARY KEY,
  round INTEGER NOT NULL,
  hash TEXT,
  ir TEXT,
  status TEXT NOT NULL,
  parents TEXT NOT NULL DEFAULT '[]',
  proposer TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  diagnostics TEXT NOT NULL DEFAULT '[]',
  metrics TEXT NOT NULL DEFAULT '{}',
  curve TEXT NOT NULL DEFAULT '[]',
  timings TEXT NOT NULL DEFAULT '{}',
  tokens TEXT NOT NULL DEFAULT '{}',
  shingles TEXT,
  dup_of INTEGER,
  params INTEGER,
  flops INTEGER,
  created REAL NOT NULL,
  finished REAL
);
CREATE INDEX IF NOT EXISTS candidates_status ON candidates(status);
CREATE TABLE IF NOT EXISTS evaluations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  candidate INTEGER NOT NULL REFERENCES candidates(id),
  started REAL NOT NULL,
  finished REAL,
  status TEXT,
  worker TEXT
);
"""


class SynthError(GraphsynthError):
    """A search, archive or report problem; ``.diagnostics`` carry GS9xx codes."""


def synth_error(code: str, message: str, **kw: Any) -> SynthError:
    return SynthError([error(code, message, **kw)])


@dataclass
class Candidate:
    """One archived proposal (see the module docstring for the fields)."""

    id: int
    round: int
    hash: str | None
    ir: str | None
    status: str
    parents: list[int]
    proposer: str
    description: str
    diagnostics: list[dict[str, Any]]
    metrics: dict[str, Any]
    curve: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    dup_of: int | None = None
    params: int | None = None
    flops: int | None = None
    created: float = 0.0
    finished: float | None = None
    shingles: list[str] | None = None

    def metric(self, name: str) -> float | None:
        v = self.metrics.get(name)
        return float(v) if isinstance(v, (int, float)) else None

    def render_diagnostics(self) -> str:
        from graphsynth.train.errors import diagnostic_from_dict

        return "\n".join(diagnostic_from_dict(d).render() for d in self.diagnostics)


_COLUMNS = ("id", "round", "hash", "ir", "status", "parents", "proposer", "description", "diagnostics", "metrics",
            "curve", "timings", "tokens", "dup_of", "params", "flops", "created", "finished", "shingles")
_JSON = {"parents", "diagnostics", "metrics", "curve", "timings", "tokens", "shingles"}


def _row(r: sqlite3.Row | tuple) -> Candidate:
    d = dict(zip(_COLUMNS, r))
    for k in _JSON:
        if d[k] is not None:
            d[k] = json.loads(d[k])
    return Candidate(**d)


def _dump(v: Any) -> str:
    return json.dumps(v, sort_keys=True, allow_nan=True, default=str)


class Archive:
    """A run's archive.  ``Archive(path)`` opens an existing file (GS916 if it is missing or not
    an archive); :meth:`create` makes a new one.  ``candidates()`` and ``best()`` read it."""

    def __init__(self, path: str | os.PathLike[str], *, _create: bool = False):
        self.path = str(path)
        if not _create and not os.path.isfile(self.path):
            raise synth_error("GS916", f"no archive at {self.path}", fix="run `graphsynth-synth run TASK --db FILE` first")
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if _create:
                with self.conn:
                    self.conn.executescript(_SCHEMA)
            version = self._meta_value("schema_version")
        except sqlite3.DatabaseError as e:
            raise synth_error("GS916", f"{self.path} is not a graphsynth archive ({e})") from None
        if version is None and not _create:
            raise synth_error("GS916", f"{self.path} is not a graphsynth archive (no run recorded)")
        if version is not None and version != SCHEMA_VERSION:
            raise synth_error("GS916", f"{self.path} has archive schema {version}; this graphsynth reads {SCHEMA_VERSION}")

    @classmethod
    def create(cls, path: str | os.PathLike[str], meta: dict[str, Any]) -> Archive:
        a = cls(path, _create=True)
        if a._meta_value("schema_version") is None:
            with a.conn:
                for k, v in {"schema_version": SCHEMA_VERSION, "created": time.time(), **meta}.items():
                    a.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, _dump(v)))
        return a

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    def _meta_value(self, key: str) -> Any:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return json.loads(row[0]) if row else None

    @property
    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def task(self) -> Any:
        from graphsynth.train.tasks import Task

        return Task.from_dict(self.meta["task"])

    def candidates(self, status: str | None = None) -> list[Candidate]:
        """Every candidate in proposal order (or those with ``status``)."""
        cols = ", ".join(_COLUMNS)
        if status is None:
            rows = self.conn.execute(f"SELECT {cols} FROM candidates ORDER BY id")
        else:
            rows = self.conn.execute(f"SELECT {cols} FROM candidates WHERE status = ? ORDER BY id", (status,))
        return [_row(r) for r in rows]

    def get(self, cid: int) -> Candidate | None:
        r = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM candidates WHERE id = ?", (cid,)).fetchone()
        return _row(r) if r else None

    def metric_name(self, metric: str | None = None) -> tuple[str, bool]:
        """(metric, maximise): the run's task metric by default; names ending in ``loss`` are
        minimised."""
        name = metric or (self.meta.get("task") or {}).get("metric") or "val_accuracy"
        return name, not name.endswith("loss")

    def best(self, metric: str | None = None) -> Candidate | None:
        """The trained candidate with the best ``metric`` (earliest wins ties)."""
        name, maximise = self.metric_name(metric)
        best: Candidate | None = None
        for c in self.candidates("trained"):
            v = c.metric(name)
            if v is None:
                continue
            b = best.metric(name) if best else None
            if b is None or (v > b if maximise else v < b):
                best = c
        return best

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for s, n in self.conn.execute("SELECT status, COUNT(*) FROM candidates GROUP BY status"):
            out[s] = n
        return out

    def evaluations(self) -> list[dict[str, Any]]:
        cols = ("id", "candidate", "started", "finished", "status", "worker")
        return [dict(zip(cols, r)) for r in self.conn.execute(f"SELECT {', '.join(cols)} FROM evaluations ORDER BY id")]

    def next_id(self) -> int:
        r = self.conn.execute("SELECT MAX(id) FROM candidates").fetchone()
        return 0 if r[0] is None else r[0] + 1

    # -- writing (each call is one transaction) -------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dump(value)))

    def add(self, c: Candidate) -> None:
        vals = [getattr(c, k) for k in _COLUMNS]
        vals = [_dump(v) if k in _JSON and v is not None else v for k, v in zip(_COLUMNS, vals)]
        with self.conn:
            self.conn.execute(f"INSERT INTO candidates ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", vals)

    def update(self, cid: int, **fields: Any) -> None:
        keys = list(fields)
        vals = [_dump(fields[k]) if k in _JSON and fields[k] is not None else fields[k] for k in keys]
        with self.conn:
            self.conn.execute(f"UPDATE candidates SET {', '.join(f'{k} = ?' for k in keys)} WHERE id = ?", [*vals, cid])

    def start_evaluation(self, cid: int, worker: str) -> int:
        with self.conn:
            cur = self.conn.execute("INSERT INTO evaluations (candidate, started, worker) VALUES (?, ?, ?)", (cid, time.time(), worker))
        return int(cur.lastrowid)

    def finish(self, eval_id: int, cid: int, status: str, **fields: Any) -> None:
        """The outcome of a training: the evaluation row and the candidate row, in one transaction."""
        keys = ["status", "finished", *fields]
        now = time.time()
        vals = [status, now] + [_dump(fields[k]) if k in _JSON and fields[k] is not None else fields[k] for k in fields]
        with self.conn:
            self.conn.execute("UPDATE evaluations SET finished = ?, status = ? WHERE id = ?", (now, status, eval_id))
            self.conn.execute(f"UPDATE candidates SET {', '.join(f'{k} = ?' for k in keys)} WHERE id = ?", [*vals, cid])
