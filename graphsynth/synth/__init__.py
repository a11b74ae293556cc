"""Closed-loop architecture synthesis on the IR: propose -> verify -> de-duplicate -> train
briefly -> keep.

    from graphsynth.synth import load_task, search, Archive
    archive = search("digits", proposer="evolution", budget=20, seed=0, db="run.sqlite")
    best = archive.best()
    print(best.metrics["val_accuracy"], best.ir)

Candidates are IR, never code: every proposal is parsed and verified, and only graphsynth's
backend lowers it for training.  See docs/synthesis.md.
"""

from graphsynth.synth.archive import Archive, Candidate, SynthError
from graphsynth.synth.proposers import (
    EvolutionProposer,
    LLMProposer,
    Proposal,
    ProposalContext,
    Proposer,
    RandomProposer,
    make_proposer,
)
from graphsynth.synth.search import DEFAULTS, resume, run_stats, search
from graphsynth.train.tasks import Task, builtin_tasks, load_task

__all__ = [
    "DEFAULTS",
    "Archive",
    "Candidate",
    "EvolutionProposer",
    "LLMProposer",
    "Proposal",
    "ProposalContext",
    "Proposer",
    "RandomProposer",
    "SynthError",
    "Task",
    "builtin_tasks",
    "load_task",
    "make_proposer",
    "resume",
    "run_stats",
    "search",
]
