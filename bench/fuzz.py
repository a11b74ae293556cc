"""Fuzz campaign: mutated texts through the whole core, in process, with a time limit per input.

The seeds are the texts the project ships and tests with: the examples, every chunk of the
FileCheck inputs, the graphs the bench scripts generate, the imported-model snapshots (GPT-2,
BERT, LLaMA, ViT, ResNet), their MLIR generic form and the .mlir test inputs, and the recorded
LLM transcripts.  Each input is a seed with 1-4 mutations (byte, character, token and line level;
:mod:`graphsynth.testing.mutants`) and goes, in this process, through

- gs text: parse -> verify -> print -> reparse (same text) -> passes
  (``canonicalize,cse,dce,fuse-elementwise``) -> print -> reparse -> lower under an allocation
  budget (``max_param_bytes``);
- MLIR text: the MLIR reader -> verify -> print as gs text -> reparse, then the same as above;
- transcripts: ``--replay`` in process (the recorded replies, mutated or not, applied to the
  recorded graph, parsed, verified and checked), every attempt's diagnostics included.

An input fails the campaign when anything raises an exception that is not a graphsynth error
(a traceback for the user), when a rejection is not a diagnostic with a code and a location
inside the input, when an accepted text does not print and read back to the same text, when a
pass rejects or a lowering fails on a module that verified (other than the allocation budget,
GS605), when it runs past the time limit (CPU seconds of the process, as the machine may be
shared, with a wall-clock backstop of four times that), or when it raises the process's peak
memory by more than the memory budget.  Mutants are capped at ``--max-bytes``.

    python bench/fuzz.py --count 100000                 # the full campaign (~30 min on 2 cores)
    python bench/fuzz.py --count 2000 --seed 3 --jobs 2
    python bench/fuzz.py --count 500 --save-failures /tmp/fuzz-failures

Prints inputs/s, outcomes by stage, rejections by diagnostic code, mutation kinds, the slowest
input and the peak memory; exits 1 when any input failed (each failure is printed with its
seed, and saved with ``--save-failures``).  ``tests/test_fuzz_campaign.py`` runs a few thousand
inputs in the default test suite and the full campaign under ``-m slow``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from argtypes import at_least, names_from, positive_float

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphsynth.diagnostics import Diagnostic, GraphsynthError, ParseError, PassError  # noqa: E402
from graphsynth.testing.mutants import mutate, mutate_json_lines  # noqa: E402

PIPELINE = "canonicalize,cse,dce,fuse-elementwise"
LOWER_BUDGET = 64 << 20  # bytes lowering may allocate per input
FORMS = (("gs", 0.80), ("mlir", 0.12), ("transcript", 0.08))
WALL_FACTOR = 4  # the wall-clock backstop, in time limits
MLIR_SEED_MAX_OPS = 80  # xDSL's own parser costs ~0.6 ms per op: bigger seeds stay in gs form


@dataclasses.dataclass(frozen=True)
class Seed:
    name: str
    form: str  # gs | mlir | transcript
    text: str


@dataclasses.dataclass
class Outcome:
    status: str  # accepted | rejected | failed
    stage: str  # where it ended: parse, verify, roundtrip, passes, lower, done, replay, ...
    codes: list[str] = dataclasses.field(default_factory=list)
    failure: str | None = None  # kind of failure
    detail: str = ""


class InputTimeout(BaseException):
    """The per-input time limit passed (a BaseException: no ``except Exception`` swallows it)."""


class Failure(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


# -- the corpus -----------------------------------------------------------------------------------

def _split_chunks(text: str) -> list[str]:
    return [c for c in re.split(r"^// -----[ \t\r]*$", text, flags=re.M) if c.strip()]


def corpus() -> list[Seed]:
    """Every text the project ships or tests with, in the forms the campaign mutates."""
    from graphsynth.cli import emit
    from graphsynth.grammar.parser import parse_ir

    seeds: list[Seed] = []
    gs_files = sorted((ROOT / "examples").rglob("*.gs")) + sorted((ROOT / "graphsynth" / "train" / "tasks").glob("*.gs"))
    gs_files += sorted((ROOT / "tests" / "filecheck").rglob("*.gs"))
    for path in gs_files:
        rel = str(path.relative_to(ROOT))
        for k, chunk in enumerate(_split_chunks(path.read_text())):
            seeds.append(Seed(f"{rel}#{k}", "gs", chunk))
    sys.path.insert(0, str(ROOT / "bench"))
    import verify_scale

    for shape, build in verify_scale.SHAPES.items():
        for n in (16, 64):
            seeds.append(Seed(f"bench/verify_scale.py:{shape}({n})", "gs", build(n)))
    for path in sorted((ROOT / "tests" / "filecheck").rglob("*.mlir")):
        for k, chunk in enumerate(_split_chunks(path.read_text())):
            seeds.append(Seed(f"{path.relative_to(ROOT)}#{k}", "mlir", chunk))
    for s in list(seeds):
        if s.form != "gs":
            continue
        try:
            m = parse_ir(s.text, filename=s.name)
        except GraphsynthError:
            continue
        if sum(1 for _ in m.walk()) <= MLIR_SEED_MAX_OPS:
            seeds.append(Seed(s.name + " (mlir)", "mlir", emit(m, "mlir")))
    for path in sorted((ROOT / "examples").rglob("*.jsonl")):
        seeds.append(Seed(str(path.relative_to(ROOT)), "transcript", path.read_text()))
    return seeds


# -- checks ---------------------------------------------------------------------------------------

def _located(diags: list[Diagnostic], text: str | bytes, what: str) -> list[str]:
    """The codes of ``diags``; raises Failure unless each has a code and a location inside the text."""
    if not diags:
        raise Failure("no-diagnostic", f"{what}: an error without diagnostics")
    n_lines = (text.count(b"\n") if isinstance(text, bytes) else text.count("\n")) + 2
    codes = []
    for d in diags:
        if not (d.code and re.fullmatch(r"GS\d{3}", d.code) and d.message):
            raise Failure("unlocated", f"{what}: diagnostic without a code or message: {d!r}"[:500])
        if d.loc is None or not (1 <= d.loc.line <= n_lines and d.loc.column >= 1):
            raise Failure("unlocated", f"{what}: diagnostic without a location in the input: {d.render()}"[:500])
        d.render()
        json.loads(d.to_json())
        codes.append(d.code)
    return codes


class Checker:
    """Runs one input through the core; keeps what is shared between inputs (the pipeline, the
    modules already taken through passes and lowering, a scratch folder for transcripts)."""

    def __init__(self, deep: bool = True, lower_budget: int = LOWER_BUDGET):
        from graphsynth.passes.registry import parse_pipeline

        self.passes = parse_pipeline(PIPELINE)
        self.deep = deep
        self.lower_budget = lower_budget
        self.deep_done: set[bytes] = set()
        self.scratch = tempfile.mkdtemp(prefix="graphsynth-fuzz-")
        # First-use costs (importing torch and xDSL's passes, Lark tables) belong to no input.
        self._ir("gs", (ROOT / "examples" / "mlp.gs").read_text())
        self.deep_done.clear()

    def close(self) -> None:
        for name in os.listdir(self.scratch):
            os.unlink(os.path.join(self.scratch, name))
        os.rmdir(self.scratch)

    def run(self, form: str, text: str | bytes) -> Outcome:
        try:
            if form == "transcript":
                return self._transcript(text)
            return self._ir(form, text)
        except Failure as f:
            return Outcome("failed", "check", failure=f.kind, detail=f.detail)
        except (InputTimeout, KeyboardInterrupt):
            raise
        except GraphsynthError as e:  # reached where no graphsynth error is expected
            return Outcome("failed", "check", failure="unexpected-error", detail=f"{type(e).__name__}: {e}"[:500])
        except BaseException as e:  # noqa: BLE001 - a traceback for the user: that is what is counted
            import traceback

            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-6))
            return Outcome("failed", "traceback", failure=f"traceback:{type(e).__name__}", detail=tb[-3000:])

    # gs and MLIR text ------------------------------------------------------------------------
    def _ir(self, form: str, text: str | bytes) -> Outcome:
        from graphsynth.cli import parse_mlir
        from graphsynth.grammar.parser import parse_ir
        from graphsynth.grammar.printer import print_ir
        from graphsynth.verifier import verify

        name = "fuzz.gs" if form == "gs" else "fuzz.mlir"
        try:
            if form == "gs":
                m = parse_ir(text, filename=name)
            else:
                src = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
                m = parse_mlir(src, name)
                text = src
        except ParseError as e:
            return Outcome("rejected", "parse", _located(e.diagnostics, text, "parse"))
        diags = verify(m)
        if diags:
            return Outcome("rejected", "verify", _located(diags, text, "verify"))
        out = self._roundtrip(m, "print")
        if not self.deep:
            return Outcome("accepted", "verify")
        key = hashlib.sha256(out.encode("utf-8", "surrogatepass")).digest()
        if key in self.deep_done:
            return Outcome("accepted", "done (seen)")
        self.deep_done.add(key)
        try:
            after = _run_pipeline(m, self.passes)
        except PassError as e:
            raise Failure("pass-rejected-valid", f"{e.pass_name}: " + "; ".join(d.render() for d in e.diagnostics)[:800]) from None
        after_text = self._roundtrip(after, "print after passes")
        del after_text
        from graphsynth.backend.lower import LoweringError, lower, lower_graph
        from graphsynth.dialects import gs

        codes: list[str] = []
        for k, g in enumerate(gs.graph_ops(after)[:4]):
            try:
                if k == 0:  # the public entry point, verifier included
                    lower(after, graph=g.graph_name, max_param_bytes=self.lower_budget)
                else:
                    lower_graph(g, max_param_bytes=self.lower_budget)
            except LoweringError as e:
                got = [d.code for d in e.diagnostics]
                if got != ["GS605"]:
                    raise Failure("lowering-failed-valid", "; ".join(d.render() for d in e.diagnostics)[:800]) from None
                _located(e.diagnostics, print_ir(after), "lowering budget")
                codes += got
        _ = verify  # the verifier ran in lower too
        return Outcome("accepted" if not codes else "rejected", "done" if not codes else "lower", codes)

    def _roundtrip(self, m: Any, what: str) -> str:
        from graphsynth.grammar.parser import parse_ir
        from graphsynth.grammar.printer import print_ir
        from graphsynth.verifier import verify

        out = print_ir(m)
        try:
            again = parse_ir(out, filename="printed.gs")
        except ParseError as e:
            raise Failure("roundtrip", f"{what}: printed text does not parse: {e.diagnostics[0].render()}\n{out[:2000]}") from None
        diags = verify(again)
        if diags:
            raise Failure("roundtrip", f"{what}: printed text does not verify: {diags[0].render()}\n{out[:2000]}")
        if print_ir(again) != out:
            raise Failure("roundtrip", f"{what}: printed text reads back as different text\n{out[:2000]}")
        return out

    # transcripts ------------------------------------------------------------------------------
    def _transcript(self, text: str | bytes) -> Outcome:
        from graphsynth.llm.replay import replay_transcript

        path = os.path.join(self.scratch, "t.jsonl")
        with open(path, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            result = replay_transcript(path)
        except GraphsynthError as e:
            return Outcome("rejected", "replay", _located_transcript(e.diagnostics, text))
        codes = []
        for a in result.attempts:
            for d in a.diagnostics:
                if not (d.code and re.fullmatch(r"GS\d{3}", d.code) and d.message):
                    raise Failure("unlocated", f"attempt diagnostic without a code: {d!r}"[:500])
                d.render()
                codes.append(d.code)
        if result.output_text is not None:
            from graphsynth.grammar.parser import parse_ir

            self._roundtrip(parse_ir(result.output_text, filename="replayed.gs"), "replayed output")
        status = "accepted" if result.replay_ok and result.output_text is not None else "rejected"
        return Outcome(status, "replay", codes or (["diverged"] if not result.replay_ok else []))


def _located_transcript(diags: list[Diagnostic], text: str | bytes) -> list[str]:
    """Transcript problems name the transcript line; problems of the recorded graph are located
    in it (its own line numbers)."""
    if not diags:
        raise Failure("no-diagnostic", "replay: an error without diagnostics")
    for d in diags:
        if not (d.code and re.fullmatch(r"GS\d{3}", d.code) and d.message):
            raise Failure("unlocated", f"replay: diagnostic without a code: {d!r}"[:500])
        if d.loc is None:
            raise Failure("unlocated", f"replay: diagnostic without a location: {d.render()}"[:500])
        d.render()
    return [d.code for d in diags]


def _run_pipeline(m: Any, passes: list[Any]) -> Any:
    from graphsynth.pipeline import run_pipeline

    return run_pipeline(m, passes)


# -- the campaign ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Stats:
    count: int = 0
    seconds: float = 0.0
    bytes_in: int = 0
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    codes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    kinds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    forms: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failures: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    slowest: list[tuple[float, int, str, int, str]] = dataclasses.field(default_factory=list)  # (s, index, seed, bytes, kinds)
    over_2s: int = 0
    peak_rss: int = 0
    rss_start: int = 0
    biggest_rss_step: tuple[int, int, str] = (0, -1, "")  # (bytes, index, seed)

    def merge(self, other: Stats) -> None:
        self.count += other.count
        self.seconds = max(self.seconds, other.seconds)
        self.bytes_in += other.bytes_in
        for a in ("outcomes", "codes", "kinds", "forms"):
            getattr(self, a).update(getattr(other, a))
        self.failures += other.failures
        self.slowest = sorted(self.slowest + other.slowest, reverse=True)[:5]
        self.over_2s += other.over_2s
        self.peak_rss = max(self.peak_rss, other.peak_rss)
        self.rss_start = max(self.rss_start, other.rss_start)
        self.biggest_rss_step = max(self.biggest_rss_step, other.biggest_rss_step)


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclasses.dataclass(frozen=True)
class Config:
    count: int
    seed: int = 0
    time_limit: float = 5.0  # CPU seconds per input
    memory_budget: int = 500 << 20
    max_bytes: int = 1 << 20
    deep: bool = True
    lower_budget: int = LOWER_BUDGET
    save_failures: str | None = None
    forms: tuple[str, ...] = ("gs", "mlir", "transcript")


def generate(cfg: Config, seeds: list[Seed], index: int) -> tuple[Seed, str | bytes, list[str]]:
    """Input number ``index`` of the campaign: a function of (seed, index) only."""
    rnd = random.Random(f"{cfg.seed}:{index}")
    r = rnd.random()
    weights = [(f, w) for f, w in FORMS if f in cfg.forms]
    r *= sum(w for _, w in weights)
    form = weights[-1][0]
    for f, w in weights:
        if r < w:
            form = f
            break
        r -= w
    pool = [s for s in seeds if s.form == form] or seeds
    seed = rnd.choice(pool)
    donors = [s.text for s in rnd.sample(pool, min(3, len(pool)))]
    if seed.form == "transcript":
        text: str | bytes = seed.text
        kinds = ["json"]
        for _ in range(rnd.randint(1, 2)):
            before = text
            text = mutate_json_lines(text if isinstance(text, str) else text.decode("utf-8", "surrogateescape"), rnd, donors)
            if len(text) > max(cfg.max_bytes, len(seed.text)):
                text = before  # the cap holds for transcripts too (a seed bigger than it stays whole)
    else:
        text = seed.text
        kinds = []
        for _ in range(rnd.choice((1, 1, 2, 2, 3, 4))):
            before = text
            text, k = mutate(text, rnd, 1, donors)
            if len(text) > cfg.max_bytes:
                text = before  # keep inputs under the size the budgets are stated for
                continue
            kinds += k
    return seed, text, kinds


def run_range(cfg: Config, seeds: list[Seed], indices: range, progress: Callable[[int], None] | None = None) -> Stats:
    """Run inputs ``indices`` in this process."""
    checker = Checker(deep=cfg.deep, lower_budget=cfg.lower_budget)
    st = Stats()
    st.rss_start = _rss_now()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    old_prof = signal.signal(signal.SIGPROF, _on_alarm)
    started = time.perf_counter()
    try:
        for n, i in enumerate(indices):
            seed, text, kinds = generate(cfg, seeds, i)
            peak_before = _peak_rss()
            t0, c0 = time.perf_counter(), time.process_time()
            # CPU seconds (the machine may be shared), and a wall-clock backstop for waits.
            signal.setitimer(signal.ITIMER_PROF, cfg.time_limit)
            signal.setitimer(signal.ITIMER_REAL, WALL_FACTOR * cfg.time_limit)
            try:
                out = checker.run(seed.form, text)
            except InputTimeout:
                out = Outcome("failed", "timeout", failure="timeout",
                              detail=f"over the time limit of {cfg.time_limit} s of CPU ({WALL_FACTOR * cfg.time_limit:g} s of wall clock)")
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
            dt = time.process_time() - c0
            wall = time.perf_counter() - t0
            step = _peak_rss() - peak_before
            if step > st.biggest_rss_step[0]:
                st.biggest_rss_step = (step, i, seed.name)
            if out.status != "failed" and step > cfg.memory_budget:
                out = Outcome("failed", "memory", failure="memory", detail=f"raised the peak RSS by {step >> 20} MiB")
            st.count += 1
            st.bytes_in += len(text)
            st.forms[seed.form] += 1
            st.kinds.update(kinds)
            st.outcomes[(out.status, out.stage)] += 1
            st.codes.update(out.codes)
            if dt > 2.0:
                st.over_2s += 1
            if len(st.slowest) < 5 or dt > st.slowest[-1][0]:
                st.slowest = sorted(st.slowest + [(dt, i, seed.name, len(text), "+".join(kinds))], reverse=True)[:5]
            if out.status == "failed":
                rec = {"index": i, "seed": seed.name, "form": seed.form, "kinds": kinds, "failure": out.failure,
                       "detail": out.detail, "bytes": len(text), "seconds": round(dt, 3), "wall_seconds": round(wall, 3)}
                st.failures.append(rec)
                if cfg.save_failures:
                    _save(cfg.save_failures, rec, text)
            if progress is not None:
                progress(n + 1)
    finally:
        signal.signal(signal.SIGALRM, old)
        signal.signal(signal.SIGPROF, old_prof)
        checker.close()
    st.seconds = time.perf_counter() - started
    st.peak_rss = _peak_rss()
    return st


def _on_alarm(signum: int, frame: Any) -> None:
    raise InputTimeout()


def _rss_now() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _save(folder: str, rec: dict[str, Any], text: str | bytes) -> None:
    os.makedirs(folder, exist_ok=True)
    ext = {"gs": "gs", "mlir": "mlir", "transcript": "jsonl"}[rec["form"]]
    base = os.path.join(folder, f"{rec['index']:07d}-{rec['failure'].replace(':', '-')}")
    with open(f"{base}.{ext}", "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    with open(f"{base}.json", "w") as f:
        json.dump(rec, f, indent=1)


def _worker(args: tuple[Config, list[Seed], int, int]) -> Stats:
    cfg, seeds, start, stop = args
    _limit_memory()
    return run_range(cfg, seeds, range(start, stop))


def _limit_memory() -> None:
    """Address-space cap for a worker: a hostile input that allocates without bound fails with
    MemoryError (counted as a failure) instead of taking the machine down."""
    cap = int(os.environ.get("GRAPHSYNTH_FUZZ_AS", str(8 << 30)))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def campaign(cfg: Config, jobs: int = 1, progress: bool = False) -> Stats:
    """Run the campaign (``jobs`` worker processes, each a contiguous range of indices)."""
    seeds = corpus()
    if jobs <= 1:
        last = [time.perf_counter()]

        def show(n: int) -> None:
            if progress and time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                print(f"  {n}/{cfg.count} inputs", file=sys.stderr, flush=True)

        return run_range(cfg, seeds, range(cfg.count), show)
    import multiprocessing as mp

    bounds = [cfg.count * k // jobs for k in range(jobs + 1)]
    with mp.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool:
        # Chunks of ~2,000 inputs: a fresh worker per chunk keeps caches from growing unnoticed.
        tasks = []
        for k in range(jobs):
            lo, hi = bounds[k], bounds[k + 1]
            step = 2000
            tasks += [(cfg, seeds, a, min(a + step, hi)) for a in range(lo, hi, step)]
        total = Stats()
        t0 = time.perf_counter()
        for done, st in enumerate(pool.imap_unordered(_worker, tasks), 1):
            total.merge(st)
            if progress:
                print(f"  {total.count}/{cfg.count} inputs ({done}/{len(tasks)} chunks)", file=sys.stderr, flush=True)
        total.seconds = time.perf_counter() - t0
    return total


# -- report ---------------------------------------------------------------------------------------

def report(st: Stats, cfg: Config, jobs: int) -> str:
    lines = [f"fuzz campaign: {st.count} inputs, seed {cfg.seed}, {jobs} process(es), time limit {cfg.time_limit} s CPU per input, "
             f"memory budget {cfg.memory_budget >> 20} MiB per input, inputs <= {cfg.max_bytes} bytes"]
    rate = st.count / st.seconds if st.seconds else 0.0
    lines.append(f"  wall {st.seconds:.1f} s, {rate:.1f} inputs/s, {st.bytes_in / max(st.count, 1):.0f} bytes per input on average")
    lines.append("  forms: " + ", ".join(f"{k} {v}" for k, v in sorted(st.forms.items())))
    lines.append("  outcomes (status, stage):")
    for (status, stage), n in sorted(st.outcomes.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {status:<9} {stage:<14} {n:>8}  {100 * n / max(st.count, 1):5.1f}%")
    lines.append("  diagnostics by code (rejections, and every attempt of a replay):")
    for code, n in sorted(st.codes.items()):
        lines.append(f"    {code:<10} {n:>8}")
    lines.append("  mutations applied: " + ", ".join(f"{k} {v}" for k, v in sorted(st.kinds.items(), key=lambda kv: -kv[1])))
    lines.append(f"  slowest inputs, CPU time (inputs over 2 s: {st.over_2s}):")
    for dt, i, name, n, kinds in st.slowest:
        lines.append(f"    {dt * 1000:8.1f} ms  #{i}  {name}  {n} bytes  [{kinds}]")
    step, i, name = st.biggest_rss_step
    lines.append(f"  peak RSS {st.peak_rss / 2**20:.0f} MiB (at start {st.rss_start / 2**20:.0f} MiB); largest rise of the "
                 f"peak by one input: {step / 2**20:.1f} MiB (#{i} {name})")
    lines.append(f"  failures: {len(st.failures)}")
    by_kind = collections.Counter(f["failure"] for f in st.failures)
    for kind, n in by_kind.most_common():
        lines.append(f"    {kind:<28} {n}")
    for f in st.failures[:20]:
        lines.append(f"  FAIL #{f['index']} {f['failure']} seed={f['seed']} kinds={f['kinds']} ({f['bytes']} bytes, {f['seconds']} s)")
        lines.extend("      " + line for line in f["detail"].splitlines()[-12:])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=at_least(1), default=100_000, help="inputs (default 100000)")
    p.add_argument("--seed", type=at_least(0), default=0)
    p.add_argument("--jobs", type=at_least(1), default=1, help="worker processes")
    p.add_argument("--time-limit", type=positive_float, default=5.0, help="CPU seconds per input (default 5; the wall-clock backstop is 4 times that)")
    p.add_argument("--memory-budget", type=at_least(1), default=500, help="MiB by which one input may raise the peak RSS")
    p.add_argument("--max-bytes", type=at_least(16), default=1 << 20, help="largest mutant (default 1 MiB)")
    p.add_argument("--forms", type=names_from([f for f, _ in FORMS], "form"), default=[f for f, _ in FORMS],
                   help="which seeds to mutate (default gs,mlir,transcript)")
    p.add_argument("--shallow", action="store_true", help="stop after verify and the print/reparse round trip")
    p.add_argument("--save-failures", metavar="DIR", help="write each failing input and its record to DIR")
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = p.parse_args(argv)
    cfg = Config(args.count, args.seed, args.time_limit, args.memory_budget << 20, args.max_bytes, not args.shallow,
                 LOWER_BUDGET, args.save_failures, tuple(args.forms))
    if args.jobs == 1:
        _limit_memory()
    st = campaign(cfg, args.jobs, progress=True)
    print(report(st, cfg, args.jobs))
    if args.json:
        from graphsynth.fileio import write_atomic

        write_atomic(args.json, json.dumps(figures(st), indent=1, sort_keys=True) + "\n")
    return 1 if st.failures else 0


def figures(st: Stats) -> dict[str, Any]:
    return {
        "inputs": st.count, "seconds": st.seconds, "inputs_per_s": st.count / st.seconds if st.seconds else 0.0,
        "outcomes": {f"{a}/{b}": n for (a, b), n in st.outcomes.items()}, "codes": dict(st.codes),
        "failures": st.failures, "slowest": st.slowest, "over_2s": st.over_2s, "peak_rss": st.peak_rss,
        "biggest_rss_step": list(st.biggest_rss_step),
    }


def iter_inputs(cfg: Config, indices: range) -> Iterator[tuple[Seed, str | bytes, list[str]]]:
    """The inputs of a campaign, for replaying a failure by its index."""
    seeds = corpus()
    for i in indices:
        yield generate(cfg, seeds, i)


if __name__ == "__main__":
    sys.exit(main())
