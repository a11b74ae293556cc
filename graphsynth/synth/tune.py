"""The optional tuning stage of a search: the designers applied to the best candidates.

``graphsynth-synth run TASK ... --tune K`` (or ``tune(archive, K, ...)``) takes the K best trained
candidates of the run and gives each a design session of ``budget`` trainings
(:func:`graphsynth.train.designer.design`: the candidate's default configuration first, then
hyper-parameter and loss proposals of a model, each kept if it trains better; or, with
``method="optuna"``, the seeded TPE baseline over the same space), so architecture and training
are searched together.  Every training is recorded in the run's own SQLite file, in the training
archive's tables (:mod:`graphsynth.train.store`), naming its candidate; the outcome per candidate
(metric before and after, the winning hyper-parameters and loss) is kept in the archive's
``tune`` meta entry.  A candidate already tuned is not tuned again, so the stage resumes.
"""

from __future__ import annotations

import os
from typing import Any

from graphsynth.synth.archive import Archive, synth_error

METHODS = ("designer", "optuna")


def tune(db: str | os.PathLike[str], k: int = 1, budget: int = 4, *, method: str = "designer", proposer: Any = None,
         transcript: str | os.PathLike[str] | None = None, seed: int | None = None, diagnose: bool = True,
         log: Any = None) -> list[dict[str, Any]]:
    """Tune the ``k`` best candidates of the run in ``db``; returns the ``tune`` entries."""
    from graphsynth.train.baselines import optuna_search
    from graphsynth.train.designer import design

    if method not in METHODS:
        raise synth_error("GS917", f"tune: unknown method '{method}'", expected=" | ".join(METHODS), got=str(method))
    if not isinstance(k, int) or k < 1 or not isinstance(budget, int) or budget < 1:
        raise synth_error("GS917", f"tune: the number of candidates and the budget must be positive integers, got {k!r}, {budget!r}")
    archive = Archive(db)
    try:
        task = archive.task()
        meta = archive.meta
        run_seed = int(meta.get("settings", {}).get("seed", 0)) if seed is None else seed
        done: list[dict[str, Any]] = list(meta.get("tune") or [])
        name, maximise = archive.metric_name()
        trained = [c for c in archive.candidates("trained") if c.metric(name) is not None]
        trained.sort(key=lambda c: ((c.metric(name) or 0.0) * (-1 if maximise else 1), c.id))
        picked = trained[:k]
    finally:
        archive.close()
    say = log or (lambda m: None)
    writer = None
    if method == "designer":
        from graphsynth.llm.proposer import make_proposer
        from graphsynth.llm.transcript import TranscriptWriter

        if proposer is None or isinstance(proposer, str):
            kind = proposer or "anthropic"
            if kind == "replay" and transcript is None:
                raise synth_error("GS917", "tune: proposer 'replay' needs the transcript to replay")
            proposer = make_proposer(kind, transcript=os.fspath(transcript)) if kind == "replay" else make_proposer(kind)
            if kind == "replay":
                transcript = None
        writer = TranscriptWriter(transcript) if transcript is not None else None
    try:
        for c in picked:
            if any(e.get("candidate") == c.id for e in done):
                continue
            say(f"tuning candidate #{c.id} ({name} {c.metric(name):.4f})")
            if method == "designer":
                res = design(task, c.ir, budget, run_seed, proposer=proposer, transcript=writer, db=db, diagnose=diagnose,
                             candidate=c.id, origin="tune", log=say)
            else:
                res = optuna_search(task, c.ir, budget, run_seed, db=db, candidate=c.id)
            best = res.best
            entry = {"candidate": c.id, "method": method, "budget": budget, "metric": name, "before": c.metric(name),
                     "default": res.trials[0].metric(name), "after": best.metric(name) if best is not None else None,
                     "test_accuracy": best.metric("test_accuracy") if best is not None else None,
                     "hp": best.hp if best is not None else None, "loss": best.loss_name if best is not None else None,
                     "trainings": len(res.trials), "session": res.session}
            done.append(entry)
            with Archive(db) as a:
                a.set_meta("tune", done)
    finally:
        if writer is not None:
            writer.close()
    return done
