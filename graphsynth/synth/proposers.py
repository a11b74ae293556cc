"""Proposers: where candidates come from.  One protocol, four kinds.

A proposer has a ``name`` and ``propose(ctx) -> Proposal``.  ``ctx`` (:class:`ProposalContext`)
holds the task, the archive so far, a random generator seeded by (run seed, proposal id) and the
selection settings; a proposal is IR text (or None) with its parents, a description and the
diagnostics of the attempts that failed on the way.  Proposers keep no state of their own between
calls, everything is read from the archive, so a run resumes and replays exactly.

- ``random``: random search in the space the mutations span: the seed architecture with 1-4
  random mutations, no selection.
- ``evolution``: regularised (aging) evolution (Real et al., 2019): the population is the last
  ``population`` trained candidates (older ones age out), the parent wins a tournament of
  ``sample`` (or is drawn from the Pareto front of metric vs params), the child is one mutation
  of it, or with probability ``crossover`` a module swapped in from a second parent.
- ``anthropic``: a language model edits a selected parent through the rewrite driver
  (``graphsynth.llm.rewrite``): the prompt carries the task, the budgets, the archive's best and
  most diverse candidates as IR with their metrics, and the diagnostics of recent rejected
  proposals; each edit is parsed and verified, rejected edits go back with their diagnostics, up
  to ``attempts`` times.  Every exchange is appended to a JSONL transcript.
- ``replay``: the same, answered from such a transcript (tests, reproducible runs).

Mutation proposers verify each mutated graph and retry (up to ``attempts`` tries) when a mutation
does not verify; the loop verifies every proposal again regardless of where it came from.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.synth.archive import Candidate, synth_error


@dataclass
class Proposal:
    ir: str | None
    parents: list[int] = field(default_factory=list)
    description: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tokens: dict[str, Any] = field(default_factory=dict)
    compiler_s: float = 0.0
    model_s: float = 0.0


@dataclass
class ProposalContext:
    task: Any
    candidates: list[Candidate]
    rng: random.Random
    id: int
    round: int
    attempts: int = 4
    selection: str = "tournament"
    population: int = 20
    sample: int = 5
    crossover: float = 0.1

    @property
    def metric(self) -> str:
        return self.task.metric

    @property
    def maximise(self) -> bool:
        return self.task.maximise

    def trained(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == "trained"]

    def seed(self) -> Candidate:
        for c in self.candidates:
            if c.id == 0:
                return c
        raise synth_error("GS914", "the archive has no seed candidate")

    def pool(self) -> list[Candidate]:
        """The population: the last ``population`` trained candidates (aging evolution)."""
        trained = self.trained()
        return trained[-self.population:] if trained else [self.seed()]

    def select(self) -> Candidate:
        from graphsynth.synth.selection import SELECTIONS

        return SELECTIONS[self.selection](self.pool(), self.rng, self.metric, self.maximise, self.sample)

    def best(self, k: int = 1) -> list[Candidate]:
        scored = [c for c in self.trained() if c.metric(self.metric) is not None]
        scored.sort(key=lambda c: ((c.metric(self.metric) or 0.0) * (-1 if self.maximise else 1), c.id))
        return scored[:k]


@runtime_checkable
class Proposer(Protocol):
    name: str

    def propose(self, ctx: ProposalContext) -> Proposal: ...


@lru_cache(maxsize=128)
def _parsed(text: str) -> Any:
    """Parents are parsed once and cloned for each child (a clone costs a third of a parse)."""
    import graphsynth as gs

    return gs.parse_ir(text, filename="parent.gs")


def _mutated(parent: Candidate, ctx: ProposalContext, steps: int, other: Candidate | None = None) -> Proposal:
    """Up to ``ctx.attempts`` tries of ``steps`` mutations (or a crossover with ``other``) of the
    parent that verify; the diagnostics of the tries that did not are kept."""
    import graphsynth as gs
    from graphsynth.synth.graphs import Inapplicable
    from graphsynth.synth.mutations import crossover, mutate

    t0 = time.perf_counter()
    diags: list[Diagnostic] = []
    parents = [parent.id] + ([other.id] if other is not None else [])
    for attempt in range(1, ctx.attempts + 1):
        what: list[str] = []
        try:
            m = _parsed(parent.ir or "").clone()
            if other is not None:
                m, w = crossover(m, _parsed(other.ir or ""), ctx.rng)
                what.append(w)
            else:
                for _ in range(steps):
                    m, w = mutate(m, ctx.rng)
                    what.append(w)
            found = gs.verify(m)
        except Inapplicable as e:
            diags.append(error("GS914", f"attempt {attempt}: {e}", origin="mutation"))
            if other is not None:
                break
            continue
        except GraphsynthError as e:  # a pass refused the edit: its diagnostics say why
            found = list(e.diagnostics)
        if found:
            for d in found:
                d.origin = d.origin or f"mutation (attempt {attempt}: {'; '.join(what)})"
            diags.extend(found)
            continue
        return Proposal(gs.print_ir(m), parents, "; ".join(what), diags, compiler_s=time.perf_counter() - t0)
    return Proposal(None, parents, "no mutation verified", diags or [error("GS914", "no mutation verified")],
                    compiler_s=time.perf_counter() - t0)


class RandomProposer:
    """Random search: 1 to ``max_steps`` random mutations of the seed architecture."""

    name = "random"

    def __init__(self, max_steps: int = 4):
        self.max_steps = max_steps

    def propose(self, ctx: ProposalContext) -> Proposal:
        return _mutated(ctx.seed(), ctx, ctx.rng.randint(1, self.max_steps))


class EvolutionProposer:
    """Regularised evolution: tournament (or Pareto) parent, one mutation or a crossover."""

    name = "evolution"

    def propose(self, ctx: ProposalContext) -> Proposal:
        parent = ctx.select()
        if ctx.rng.random() < ctx.crossover:
            pool = [c for c in ctx.pool() if c.id != parent.id]
            if pool:
                other = ctx.rng.choice(pool)
                p = _mutated(parent, ctx, 1, other)
                if p.ir is not None:
                    return p
        return _mutated(parent, ctx, 1)


# -- language models ------------------------------------------------------------------------------


class LLMProposer:
    """A model edits a selected parent through the rewrite driver (see the module docstring)."""

    def __init__(self, llm: Any, name: str = "anthropic", transcript: str | None = None, k_best: int = 3,
                 k_diverse: int = 2, k_rejected: int = 4):
        self.llm = llm
        self.name = name
        self.transcript = transcript
        self.k_best, self.k_diverse, self.k_rejected = k_best, k_diverse, k_rejected

    def skip(self, exchanges: int) -> None:
        """A resumed replay continues after the exchanges the archive already used."""
        if hasattr(self.llm, "_next"):
            self.llm._next = exchanges

    def propose(self, ctx: ProposalContext) -> Proposal:
        import graphsynth as gs
        from graphsynth.llm import rewrite

        t0 = time.perf_counter()
        parent = ctx.select()
        module = gs.parse_ir(parent.ir or "", filename=f"candidate-{parent.id}.gs")
        goal = synthesis_goal(ctx, parent, self.k_best, self.k_diverse, self.k_rejected)
        fh = open(self.transcript, "a", encoding="utf-8") if self.transcript else None  # noqa: SIM115
        try:
            result = rewrite(module, goal, self.llm, attempts=ctx.attempts, transcript=fh)
        finally:
            if fh is not None:
                fh.close()
        diags = [d for a in result.attempts if a.verdict != "accepted" for d in a.diagnostics]
        if result.error is not None and result.error not in diags:
            diags.append(result.error)
        tokens = {**result.usage.to_dict(), "attempts": len(result.attempts)}
        model_s = result.model_s
        compiler_s = max(0.0, time.perf_counter() - t0 - model_s)
        what = f"{self.name} edit of #{parent.id}"
        if result.accepted:
            diff = result.attempts[-1].edit.get("diff") or ""
            return Proposal(result.output_text, [parent.id], what + (f": {diff.count(chr(10)) + 1} diff lines" if diff else ""),
                            diags, tokens, compiler_s, model_s)
        return Proposal(None, [parent.id], what + ": no accepted edit", diags, tokens, compiler_s, model_s)


def synthesis_goal(ctx: ProposalContext, parent: Candidate, k_best: int = 3, k_diverse: int = 2, k_rejected: int = 4) -> str:
    """The goal text of an in-context synthesis request."""
    from graphsynth.synth.dedup import jaccard

    task = ctx.task
    ds = task.dataset()
    hp = task.train
    b = task.budget
    lines = [
        f"Propose one architecture change to the graph below that you expect to raise the task's metric. Task '{task.name}': "
        f"{task.description}",
        f"Data: {ds.summary()}. Keep the interface: one input f32[B, {', '.join(map(str, ds.feature_shape))}], "
        f"one output f32[B, {ds.classes}] (logits, trained with cross-entropy).",
        f"Metric: {task.metric} ({'higher' if task.maximise else 'lower'} is better) after {hp['epochs']} epochs of "
        f"{hp['optimizer']} (lr {hp['lr']:g}, batch {hp['batch_size']}).",
        "Budgets per candidate: " + ", ".join(x for x in (
            f"at most {b.max_params:,} parameters" if b.max_params else "",
            f"at most {b.max_flops} FLOPs (symbols bound to {b.bind or 'B=1'})" if b.max_flops else "",
            f"{b.time_per_candidate_s:g} s of training", f"{b.max_memory_mb} MiB of memory") if x) + ".",
        "Parameters start from a fan-in uniform draw (rank >= 2) or zero (rank <= 1) unless declared with "
        "init=\"ones\" / \"zeros\" / \"normal:<std>\": normalisation weights need init=\"ones\". "
        "A proposal identical in structure to an earlier one is not trained.",
    ]

    def show(c: Candidate) -> list[str]:
        m = ", ".join(f"{k}={v:.4f}" for k, v in c.metrics.items() if k in (ctx.metric, "val_loss", "val_accuracy") and isinstance(v, float))
        return [f"#{c.id} ({m}, {c.params or 0:,} params):", "```gs", (c.ir or "").rstrip(), "```"]

    best = ctx.best(k_best)
    if best:
        lines += ["", "Best candidates so far:"]
        for c in best:
            lines += show(c)
    if k_diverse and best and best[0].shingles:
        ref = frozenset(best[0].shingles)
        shown = {c.id for c in best}
        rest = [c for c in ctx.trained() if c.id not in shown and c.shingles]
        rest.sort(key=lambda c: (jaccard(ref, frozenset(c.shingles or [])), c.id))
        if rest[:k_diverse]:
            lines += ["", "Structurally most different trained candidates:"]
            for c in rest[:k_diverse]:
                lines += show(c)
    rejected = [c for c in ctx.candidates if c.status in ("rejected", "over_budget", "duplicate", "failed")][-k_rejected:]
    if rejected:
        lines += ["", "Recent proposals that were not kept:"]
        for c in rejected:
            first = c.diagnostics[-1]["message"] if c.diagnostics else ""
            lines.append(f"- #{c.id} {c.status}: {first[:300]}")
    lines += ["", f"Edit candidate #{parent.id} (shown below)."]
    return "\n".join(lines)


PROPOSERS = ("random", "evolution", "anthropic", "replay")


def make_proposer(kind: str | Any, **options: Any) -> Any:
    """``random``, ``evolution``, ``anthropic`` (options model, base_url, max_retries, timeout,
    transcript) or ``replay`` (option transcript); an object with ``propose`` is returned as is."""
    if not isinstance(kind, str):
        if isinstance(kind, Proposer):
            return kind
        raise synth_error("GS917", f"a proposer is a name ({', '.join(PROPOSERS)}) or an object with name and propose()")
    if kind == "random":
        return RandomProposer()
    if kind == "evolution":
        return EvolutionProposer()
    if kind in ("anthropic", "replay"):
        from graphsynth.llm.proposer import make_proposer as make_llm

        transcript = options.get("transcript")
        if kind == "replay" and not transcript:
            raise synth_error("GS917", "proposer 'replay' needs a transcript", fix="give --transcript FILE (recorded by an anthropic run)")
        try:
            llm = make_llm(kind, **{k: v for k, v in options.items() if v is not None})
        except GraphsynthError as e:
            raise synth_error("GS917", f"proposer '{kind}': {e}", fix=e.diagnostics[0].fix if e.diagnostics else None) from None
        return LLMProposer(llm, name=kind, transcript=transcript if kind == "anthropic" else None)
    raise synth_error("GS917", f"unknown proposer '{kind}'", expected=" | ".join(PROPOSERS), got=str(kind))
