"""The loop: propose -> parse -> verify -> interface -> budget -> de-duplicate -> (proxy) -> train
-> archive -> select -> repeat, until ``budget`` candidates are trained.

The run advances in *rounds*.  A round proposes until it holds ``batch`` candidates to train
(``batch`` is a setting of the run, independent of the executor and the worker count), writing
every proposal to the archive as it is judged and sending each candidate to training at once (so
proposing overlaps training), marks the round complete, and waits for its trainings, recording
each outcome as it lands.  Proposals of a round see only the results of earlier rounds.  Every proposal's random generator is seeded by
(run seed, proposal id), and proposers read their state from the archive, so:

- the same settings and seed give the same archive on any executor and any number of workers;
- ``kill -9`` at any moment loses only trainings in flight; :func:`resume` (or :func:`search` on
  the same file) finishes an incomplete round's proposals, trains what is still pending and goes
  on, giving the archive an uninterrupted run would have given.  A candidate that finished
  training is never trained again (the ``evaluations`` table shows it).

``budget`` counts evaluations: candidates trained, including those whose training failed (NaN,
memory, time); rejected, duplicate and over-budget proposals do not count.  Proposals are capped
at ``max_proposals`` (default ``MAX_PROPOSALS_FACTOR`` x budget) so a proposer that never
succeeds still ends.  The seed architecture is candidate 0 and is trained first (it counts).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.synth.archive import Archive, Candidate, SynthError, synth_error
from graphsynth.synth.dedup import DedupIndex, Fingerprint, fingerprint, networkx_version
from graphsynth.synth.proposers import ProposalContext, make_proposer

MAX_PROPOSALS_FACTOR = 10
MAX_STORED_IR_CHARS = 1_000_000
DEFAULTS: dict[str, Any] = {
    "batch": 4,
    "attempts": 4,
    "near_threshold": 0.95,
    "prefilter": None,
    "prefilter_factor": 2,
    "selection": "tournament",
    "population": 20,
    "sample": 5,
    "crossover": 0.1,
    "hp": {},
}
# Settings that may change when a run is continued (the rest must match the archive).
_MAY_CHANGE = {"budget", "max_proposals"}


@dataclass
class _State:
    archive: Archive
    task: Any
    settings: dict[str, Any]
    index: DedupIndex
    fps: dict[int, Fingerprint] = field(default_factory=dict)
    rows: list[Candidate] = field(default_factory=list)

    def count(self, *statuses: str, round_: int | None = None) -> int:
        return sum(1 for c in self.rows if c.status in statuses and (round_ is None or c.round == round_))


def search(task: Any, proposer: Any = "evolution", budget: int = 100, seed: int = 0, db: str | os.PathLike[str] = "run.sqlite",
           executor: Any = "process", workers: int | None = None, *, max_proposals: int | None = None,
           proposer_options: dict[str, Any] | None = None, progress: bool | None = None, ray_address: str | None = None,
           **options: Any) -> Archive:
    """Run (or continue) a search; returns the :class:`Archive`.

    ``task`` is a Task or its name/path; ``proposer`` a name (random, evolution, anthropic,
    replay) or a proposer object; ``options`` are the run settings of :data:`DEFAULTS`.
    ``proposer_options`` go to the proposer (anthropic: model, base_url, max_retries, timeout,
    transcript; replay: transcript).  ``progress`` shows a progress line (default: when stderr is
    a terminal)."""
    from graphsynth.train.tasks import load_task

    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise synth_error("GS917", f"search: unknown option '{unknown[0]}'", expected=" | ".join(DEFAULTS), got=unknown[0])
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise synth_error("GS917", f"search: budget must be a positive integer, got {budget!r}")
    task = load_task(task)
    popts = dict(proposer_options or {})
    prop = make_proposer(proposer, **popts)
    settings = {**DEFAULTS, **options, "proposer": prop.name, "budget": budget, "seed": seed,
                "max_proposals": max_proposals or MAX_PROPOSALS_FACTOR * budget,
                "proposer_options": {k: v for k, v in popts.items() if k in ("model", "transcript", "base_url")}}
    _check_settings(settings)
    from graphsynth.train.trainer import check_hp

    settings["hp"] = check_hp(settings["hp"] or {}, where="search hp")
    archive = _open(db, task, settings)
    workers = workers or max(1, os.cpu_count() or 1)
    state = _load_state(archive, archive.task(), archive.meta["settings"])
    if hasattr(prop, "skip"):
        prop.skip(sum(int(c.tokens.get("attempts", 0)) for c in state.rows if c.proposer == prop.name))
    runner = _Runner(state, prop, executor, workers, progress, ray_address)
    try:
        runner.run()
    finally:
        runner.close()
    return archive


def resume(db: str | os.PathLike[str], executor: str = "process", workers: int | None = None, *,
           progress: bool | None = None, proposer_options: dict[str, Any] | None = None,
           ray_address: str | None = None, budget: int | None = None) -> Archive:
    """Continue the run recorded in ``db`` with its own settings (``budget`` may raise its budget;
    an LLM proposer's key comes from the environment as before)."""
    archive = Archive(db)
    meta = archive.meta
    if "settings" not in meta or "task" not in meta:
        raise synth_error("GS919", f"{db} holds no run to resume")
    s = dict(meta["settings"])
    archive.close()
    popts = {**s.pop("proposer_options", {}), **(proposer_options or {})}
    name = s.pop("proposer")
    b = budget or s.pop("budget")
    s.pop("budget", None)
    seed = s.pop("seed")
    mp = s.pop("max_proposals")
    mp = mp if budget is None else None
    return search(_task_of(meta), name, b, seed, db, executor, workers, max_proposals=mp,
                  proposer_options=popts, progress=progress, ray_address=ray_address, **s)


def _task_of(meta: dict[str, Any]) -> Any:
    from graphsynth.train.tasks import Task

    return Task.from_dict(meta["task"])


def _check_settings(s: dict[str, Any]) -> None:
    from graphsynth.synth.proxy import PROXIES
    from graphsynth.synth.selection import SELECTIONS

    def bad(msg: str) -> SynthError:
        return synth_error("GS917", f"search: {msg}")

    if not isinstance(s["batch"], int) or not 1 <= s["batch"] <= 1024:
        raise bad(f"batch must be an integer in [1, 1024], got {s['batch']!r}")
    if not isinstance(s["attempts"], int) or not 1 <= s["attempts"] <= 32:
        raise bad(f"attempts must be an integer in [1, 32], got {s['attempts']!r}")
    if s["near_threshold"] is not None and not (isinstance(s["near_threshold"], (int, float)) and 0 < s["near_threshold"] <= 1):
        raise bad(f"near_threshold must be in (0, 1] or None, got {s['near_threshold']!r}")
    if s["prefilter"] is not None and s["prefilter"] not in PROXIES:
        raise bad(f"unknown prefilter {s['prefilter']!r} (known: {', '.join(PROXIES)})")
    if not isinstance(s["prefilter_factor"], int) or not 1 <= s["prefilter_factor"] <= 16:
        raise bad(f"prefilter_factor must be an integer in [1, 16], got {s['prefilter_factor']!r}")
    if s["selection"] not in SELECTIONS:
        raise bad(f"unknown selection {s['selection']!r} (known: {', '.join(SELECTIONS)})")
    for k in ("population", "sample"):
        if not isinstance(s[k], int) or not 1 <= s[k] <= 100_000:
            raise bad(f"{k} must be a positive integer, got {s[k]!r}")
    if not isinstance(s["crossover"], (int, float)) or not 0 <= s["crossover"] <= 1:
        raise bad(f"crossover must be a probability, got {s['crossover']!r}")
    if not isinstance(s["max_proposals"], int) or s["max_proposals"] < s["budget"]:
        raise bad(f"max_proposals must be an integer >= budget, got {s['max_proposals']!r}")


def _open(db: str | os.PathLike[str], task: Any, settings: dict[str, Any]) -> Archive:
    import graphsynth

    path = str(db)
    if os.path.exists(path):
        archive = Archive(path)
        old = archive.meta.get("settings")
        if old is not None:
            diff = sorted(k for k in set(old) | set(settings) if k not in _MAY_CHANGE and old.get(k) != settings.get(k)
                          and k != "proposer_options")
            if diff:
                k = diff[0]
                raise synth_error("GS919", f"{path} holds a run with {k}={old.get(k)!r}; this call asks {k}={settings.get(k)!r}",
                                  fix="continue it with `graphsynth-synth resume --db FILE`, or use another --db")
            if archive.meta["task"]["seed_ir"] != task.seed_ir or archive.meta["task"]["name"] != task.name:
                raise synth_error("GS919", f"{path} holds a run of another task ('{archive.meta['task']['name']}')")
            archive.set_meta("settings", {**old, "budget": settings["budget"], "max_proposals": settings["max_proposals"]})
            return archive
        archive.close()
    return Archive.create(path, {"task": task.to_dict(), "settings": settings, "graphsynth": graphsynth.__version__,
                                 "networkx": networkx_version(), "round_complete": -1, "wall_s": 0.0})


def _load_state(archive: Archive, task: Any, settings: dict[str, Any]) -> _State:
    meta_nx = archive.meta.get("networkx")
    if meta_nx is not None and meta_nx != networkx_version():
        raise synth_error("GS916", f"the archive's WL hashes were made with networkx {meta_nx}; this is {networkx_version()}",
                          fix="resume with the networkx version that made the archive")
    st = _State(archive, task, settings, DedupIndex(settings["near_threshold"]))
    st.rows = archive.candidates()
    for c in st.rows:
        if c.status in ("trained", "failed", "pending") and c.hash is not None:
            fp = Fingerprint(c.hash, frozenset(c.shingles or ()))
            st.fps[c.id] = fp
            st.index.add(c.id, fp)
    return st


def _diag_dicts(diags: list[Diagnostic]) -> list[dict[str, Any]]:
    return [d.to_dict() for d in diags]


class _Runner:
    def __init__(self, st: _State, proposer: Any, executor: str, workers: int, progress: bool | None,
                 ray_address: str | None):
        from graphsynth.synth.progress import Progress

        self.st = st
        self.proposer = proposer
        self.executor_kind = executor
        self.workers = workers
        self.ray_address = ray_address
        self.executor: Any = None
        self.task_dict: dict[str, Any] | None = None
        self.submitted: dict[int, int] = {}  # candidate id -> evaluation row, while training
        self.owned = True
        if not isinstance(executor, str):  # an executor object shared across runs (the bench does this)
            self.executor, self.owned, executor = executor, False, getattr(executor, "name", "process")
            self.executor_kind = executor
        s = st.settings
        self.progress = Progress(s["budget"], f"{st.task.name}/{proposer.name}", enabled=progress)
        self.t0 = time.perf_counter()
        from graphsynth.synth.executors import EXECUTORS

        if executor not in EXECUTORS:
            raise synth_error("GS917", f"unknown executor '{executor}'", expected=" | ".join(EXECUTORS), got=str(executor))

    # -- bookkeeping -----------------------------------------------------------------------------

    def evaluated(self) -> int:
        return self.st.count("trained", "failed")

    def proposals(self) -> int:
        return sum(1 for c in self.st.rows if c.id != 0)

    def _add(self, c: Candidate) -> None:
        self.st.archive.add(c)
        self.st.rows.append(c)

    def _set(self, cid: int, **fields: Any) -> None:
        self.st.archive.update(cid, **fields)
        row = next(c for c in self.st.rows if c.id == cid)
        for k, v in fields.items():
            setattr(row, k, v)

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> None:
        st, s = self.st, self.st.settings
        if not any(c.id == 0 for c in st.rows):
            self._seed()
        meta = st.archive.meta
        last_round = max((c.round for c in st.rows), default=0)
        if meta.get("round_complete", -1) < last_round:
            self._generate(last_round)
        while True:
            self._train_pending()
            self._show()
            if self.evaluated() >= s["budget"] or self.proposals() >= s["max_proposals"]:
                break
            last_round += 1
            self._generate(last_round)
            if not st.count("pending", "trained", "failed", round_=last_round):
                break  # the proposal cap ended the round with nothing to train
        st.archive.set_meta("finished", True)
        self.progress.close()

    def _seed(self) -> None:
        c = self._judge(0, 0, self.st.task.seed_ir, [], "seed", "the task's seed architecture", [], {}, 0.0, 0.0)
        if c.status != "pending":
            first = c.diagnostics[0]["message"] if c.diagnostics else c.status
            raise synth_error("GS906" if c.status == "over_budget" else "GS903",
                              f"the seed architecture of task '{self.st.task.name}' cannot be trained: {first}")
        self._add(c)
        self.st.archive.set_meta("round_complete", 0)

    def _generate(self, round_: int) -> None:
        st, s = self.st, self.st.settings
        before = sum(1 for c in st.rows if c.status in ("trained", "failed") and c.round < round_)
        target = min(s["batch"], s["budget"] - before)
        want = target * (s["prefilter_factor"] if s["prefilter"] else 1)
        while st.count("pending", "trained", "failed", round_=round_) < want and self.proposals() < s["max_proposals"]:
            cid = st.archive.next_id()
            ctx = ProposalContext(st.task, self._view(round_), random.Random(f"{s['seed']}:{cid}"), cid, round_, s["attempts"],
                                  s["selection"], s["population"], s["sample"], s["crossover"])
            t = time.perf_counter()
            try:
                p = self.proposer.propose(ctx)
            except Exception as e:  # noqa: BLE001 - a proposer bug costs one proposal, not the run
                from graphsynth.synth.proposers import Proposal

                d = e.diagnostics[0] if isinstance(e, GraphsynthError) and e.diagnostics else \
                    error("GS914", f"proposer '{self.proposer.name}' raised {type(e).__name__}: {str(e)[:300]}")
                p = Proposal(None, [], "proposer failure", [d])
            propose_s = time.perf_counter() - t
            c = self._judge(cid, round_, p.ir, p.parents, self.proposer.name, p.description, p.diagnostics, p.tokens,
                            p.compiler_s, propose_s, p.model_s)
            self._add(c)
            if c.status == "pending" and not s["prefilter"]:
                self._submit(c)  # training starts while the round goes on proposing
            if self.executor is not None and self.submitted:
                self._collect(0.0)
            self._show()
        if s["prefilter"] and st.count("pending", round_=round_) > target:
            self._prefilter(round_, target)
        st.archive.set_meta("round_complete", round_)

    def _view(self, round_: int) -> list[Candidate]:
        """What a proposal of ``round_`` sees: everything proposed so far, but training outcomes
        only of earlier rounds (this round's trainings land in any order; hiding them keeps the
        run a function of its seed on every executor)."""
        import dataclasses

        return [c if c.round < round_ or c.status not in ("trained", "failed")
                else dataclasses.replace(c, status="pending", metrics={}, curve=[], finished=None)
                for c in self.st.rows]

    def _judge(self, cid: int, round_: int, ir: str | None, parents: list[int], proposer: str, description: str,
               attempt_diags: list[Diagnostic], tokens: dict[str, Any], compiler_s: float, propose_s: float,
               model_s: float = 0.0) -> Candidate:
        """Parse, verify, check interface and budget, de-duplicate: the candidate row to write."""
        import graphsynth as gs
        from graphsynth.train.tasks import budget_limits, interface_problems

        st = self.st
        timings = {"propose_s": propose_s, "model_s": model_s}
        if ir is not None and len(ir) > MAX_STORED_IR_CHARS:  # a rejected text is kept for diagnosis, not in full
            attempt_diags = [*attempt_diags, error("GS914", f"the proposal has {len(ir):,} characters; the limit is "
                                                              f"{MAX_STORED_IR_CHARS:,}")]
            c = Candidate(cid, round_, None, ir[:2000], "rejected", list(parents), proposer, description,
                          _diag_dicts(attempt_diags), {}, timings=timings, tokens=tokens, created=time.time())
            timings["compiler_s"] = compiler_s
            return c
        c = Candidate(cid, round_, None, ir, "rejected", list(parents), proposer, description, _diag_dicts(attempt_diags), {},
                      timings=timings, tokens=tokens, created=time.time())

        def reject(status: str, diags: list[Diagnostic]) -> Candidate:
            c.status = status
            c.diagnostics = c.diagnostics + _diag_dicts(diags)
            timings["compiler_s"] = compiler_s + timings.get("parse_s", 0) + timings.get("verify_s", 0) + timings.get("cost_s", 0)
            return c

        if ir is None:
            return reject("rejected", [] if attempt_diags else [error("GS914", "the proposer returned no graph")])
        t = time.perf_counter()
        try:
            m = gs.parse_ir(ir, filename=f"candidate-{cid}.gs")
        except GraphsynthError as e:
            timings["parse_s"] = time.perf_counter() - t
            return reject("rejected", list(e.diagnostics))
        timings["parse_s"] = time.perf_counter() - t
        t = time.perf_counter()
        diags = gs.verify(m)
        timings["verify_s"] = time.perf_counter() - t
        if diags:
            return reject("rejected", diags)
        problems = interface_problems(st.task, m)
        if problems:
            return reject("rejected", [error("GS909", f"the candidate does not fit task '{st.task.name}': {problems[0]}")])
        t = time.perf_counter()
        try:
            from graphsynth.query import cost

            max_params, max_flops, bind = budget_limits(st.task, m)
            report = cost(m, bind)
            c.params, c.flops = report.total.params_value, report.total.flops_value
        except GraphsynthError as e:
            timings["cost_s"] = time.perf_counter() - t
            return reject("rejected", list(e.diagnostics))
        timings["cost_s"] = time.perf_counter() - t
        over = []
        if max_params is not None and (c.params or 0) > max_params:
            over.append(error("GS906", f"{c.params:,} parameters exceed the budget of {max_params:,}",
                              expected=f"<= {max_params}", got=str(c.params)))
        if max_flops is not None and (c.flops or 0) > max_flops:
            over.append(error("GS906", f"{c.flops:,} FLOPs ({st.task.budget.max_flops} at {bind}) exceed the budget of {max_flops:,}",
                              expected=f"<= {max_flops}", got=str(c.flops)))
        if over:
            return reject("over_budget", over)
        c.ir = gs.print_ir(m)  # the canonical text of what was verified (comments and layout dropped)
        t = time.perf_counter()
        fp = fingerprint(m)
        c.hash = fp.wl_hash
        c.shingles = sorted(fp.shingles)
        match = st.index.check(fp)
        timings["dedup_s"] = time.perf_counter() - t
        if match is not None:
            c.dup_of = match.other
            c.shingles = None
            how = "has the same WL hash as" if match.kind == "exact" else f"is a near-duplicate (Jaccard {match.similarity:.3f}) of"
            return reject("duplicate", [error("GS907" if match.kind == "exact" else "GS908",
                                              f"the candidate {how} candidate #{match.other}; it is not trained")])
        c.status = "pending"
        timings["compiler_s"] = compiler_s + timings["parse_s"] + timings["verify_s"] + timings["cost_s"]
        st.index.add(cid, fp)
        st.fps[cid] = fp
        return c

    def _prefilter(self, round_: int, keep: int) -> None:
        from graphsynth.synth.proxy import synflow

        st = self.st
        rows = [c for c in st.rows if c.round == round_ and c.status == "pending"]
        scored = []
        for c in rows:
            t = time.perf_counter()
            score = synflow(c.ir or "", st.task)
            c.timings["proxy_s"] = time.perf_counter() - t
            scored.append((score, -c.id, c))
        scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
        for rank, (score, _, c) in enumerate(scored):
            metrics = {"synflow": score}
            if rank < keep:
                self._set(c.id, metrics=metrics, timings=c.timings)
                continue
            d = error("GS915", f"filtered by the zero-cost proxy: synflow {score:.3f} ranks {rank + 1} of {len(scored)}; "
                      f"the round trains the best {keep}")
            self._set(c.id, status="rejected", metrics=metrics, timings=c.timings,
                      diagnostics=c.diagnostics + [d.to_dict()], shingles=None)
            st.index.remove(c.id, st.fps.pop(c.id))

    def _submit(self, c: Candidate) -> None:
        """Queue a pending candidate for training (the evaluation row is written first)."""
        from graphsynth.synth.executors import Job, make_executor

        st = self.st
        if self.task_dict is None:
            self.task_dict = st.task.to_dict()
        if self.executor is None:
            self.executor = make_executor(self.executor_kind, self.workers, st.task.budget.max_memory_mb, self.ray_address,
                                          self.task_dict)
        self.submitted[c.id] = st.archive.start_evaluation(c.id, self.executor.name)
        self.executor.submit(Job(c.id, self.task_dict, c.ir or "", st.settings["hp"], st.settings["seed"]))

    def _collect(self, timeout: float) -> None:
        """Record the trainings that finished, each in one transaction."""
        st = self.st
        for job, result, worker in self.executor.poll(timeout):
            row = next(c for c in st.rows if c.id == job.cid)
            timings = {**row.timings, **{k: v for k, v in (result.get("timings") or {}).items()}}
            timings["worker"] = worker  # type: ignore[assignment]
            fields = {"metrics": {**row.metrics, **(result.get("metrics") or {})}, "curve": result.get("curve") or [],
                      "timings": timings, "diagnostics": row.diagnostics + list(result.get("diagnostics") or [])}
            status = "trained" if result.get("status") == "trained" else "failed"
            st.archive.finish(self.submitted.pop(job.cid), job.cid, status, **fields)
            for k, v in fields.items():
                setattr(row, k, v)
            row.status = status
            row.finished = time.time()
            self._show()

    def _train_pending(self) -> None:
        """Submit what is pending and not yet submitted (resumed runs, prefiltered rounds) and wait
        for every training of the round."""
        for c in self.st.rows:
            if c.status == "pending" and c.id not in self.submitted:
                self._submit(c)
        while self.submitted:
            self._collect(0.5)
        st = self.st
        st.archive.set_meta("wall_s", float(st.archive.meta.get("wall_s", 0.0)) + time.perf_counter() - self.t0)
        self.t0 = time.perf_counter()

    def _show(self) -> None:
        st = self.st
        best = None
        for c in st.rows:
            if c.status == "trained" and st.task.better(c.metric(st.task.metric), best):
                best = c.metric(st.task.metric)
        n = self.proposals() + 1
        valid = sum(1 for c in st.rows if c.status not in ("rejected",))
        self.progress.update(self.evaluated(), n, valid / n, best)

    def close(self) -> None:
        if self.executor is not None and self.owned:
            self.executor.close()
        self.executor = None
        self.progress.close()


def run_stats(archive: Archive) -> dict[str, Any]:
    """Throughput and where the time went, from an archive (used by the report and the bench).

    ``compiler_s`` is the graphsynth work of the loop: proposing (mutations and their passes,
    or the driver's parsing and verification of model edits; model latency excluded), parsing,
    verifying and costing each proposal, and lowering in the workers (divided by the number of
    workers that ran in parallel).  ``compiler_share`` is ``compiler_s / wall_s``."""
    rows = archive.candidates()
    meta = archive.meta
    wall = float(meta.get("wall_s") or 0.0)
    workers = max(1, len({c.timings.get("worker") for c in rows if c.timings.get("worker")}))
    parent = sum(float(c.timings.get("compiler_s", 0.0)) for c in rows)
    lowering = sum(float(c.timings.get("lower_s", 0.0)) for c in rows)
    train = sum(float(c.timings.get("train_s", 0.0)) + float(c.timings.get("eval_s", 0.0)) for c in rows)
    dedup = sum(float(c.timings.get("dedup_s", 0.0)) for c in rows)
    model = sum(float(c.timings.get("model_s", 0.0)) for c in rows)
    evaluated = sum(1 for c in rows if c.status in ("trained", "failed"))
    compiler = parent + lowering / workers
    return {"wall_s": wall, "evaluated": evaluated, "proposals": len(rows), "compiler_s": compiler, "parent_compiler_s": parent,
            "lowering_s": lowering, "train_s": train, "dedup_s": dedup, "model_s": model, "workers": workers,
            "per_minute": evaluated / wall * 60 if wall > 0 else 0.0, "compiler_share": compiler / wall if wall > 0 else 0.0}
