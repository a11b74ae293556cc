"""How well the LLM loop works with a real model, and what its structured diagnostics are worth.

    python bench/llm_efficacy.py                         # live when ANTHROPIC_API_KEY is set, else replay
    python bench/llm_efficacy.py --mode live --model claude-sonnet-4-6 --out runs/sonnet
    python bench/llm_efficacy.py --mode replay --transcripts runs/sonnet
    python bench/llm_efficacy.py --mode scripted         # re-record the shipped (scripted) transcripts

A fixed suite of goals on the shipped example graphs (``examples/llm/efficacy/suite.toml``: goal
text, graph, invariants, text checks of the result) runs through the rewrite driver twice: once
with the diagnostics the driver normally sends back (``feedback="full"``: each diagnostic with
its source line, caret, violated relation and fix, plus an excerpt of the edited text), and once
with only the first line of each diagnostic (``feedback="first-line"``, like a compiler's raw
stderr).  For each goal and each arm it prints whether the rewrite was accepted within 1, 2 and 4
attempts, whether the text checks say the goal was met, the model calls made and the calls saved
by auto-repair (attempts the driver made without asking the model), tokens and cost; then one
line per arm, so the two can be compared.

Modes:

- ``live``: asks a model through :class:`graphsynth.llm.AnthropicProposer` (``ANTHROPIC_API_KEY``;
  ``ANTHROPIC_BASE_URL`` is honoured by the SDK).  Every rewrite has a total deadline
  (``--deadline``, also bounded by what is left of ``--budget`` for the whole suite; goals not
  started when the budget is spent are reported as not run) and every model call its own
  (``--timeout``).  Transcripts are written to ``--out`` (``ARM/GOAL.jsonl``), so a live run can
  be replayed later at no cost.
- ``replay``: re-runs recorded transcripts (``--transcripts``, by default the shipped ones) through
  the driver: the same prompts (checked by hash), verdicts recomputed.  Deterministic.
- ``scripted``: records the suite against :class:`graphsynth.llm.fakeserver.FakeServer` with the
  replies of ``examples/llm/efficacy/scripted.toml``.  The shipped transcripts were made this way:
  they are scripted, not model output, and both arms get the same replies, so their tables show
  the harness working, not a measurement.

Cost is recomputed from the tokens with the price table of :data:`graphsynth.llm.proposer.PRICES`
(USD per million input/output tokens by model-name prefix; cache writes 1.25x input, cache reads
0.1x); ``--price PREFIX=IN,OUT`` puts an entry in front of it.  ``--show-prices`` prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphsynth.llm.prompt import FEEDBACK_STYLES, Goal  # noqa: E402
from graphsynth.llm.proposer import PRICES, Usage, cost_usd, prices  # noqa: E402

SUITE_DIR = ROOT / "examples" / "llm" / "efficacy"
SUITE = SUITE_DIR / "suite.toml"
SCRIPTED = SUITE_DIR / "scripted.toml"
SHIPPED = SUITE_DIR / "transcripts"
SCRIPTED_MODEL = "claude-sonnet-4-6"  # only names the price of the scripted sessions' tokens
INVARIANTS = ("interface", "semantics")
MAX_SUITE_BYTES = 1 << 20


class SuiteError(Exception):
    """The suite or a transcript folder is unusable; the message says where and why."""


# -- the suite ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteGoal:
    name: str
    graph: Path
    goal: str
    invariants: tuple[str, ...] = ("interface",)
    must_contain: tuple[str, ...] = ()
    must_not_contain: tuple[str, ...] = ()

    @property
    def flagged(self) -> str:
        """The goal text with the driver's flags for its invariants."""
        flags = ("[preserve-semantics] " if "semantics" in self.invariants else "") + (
            "" if "interface" in self.invariants else "[change-interface] "
        )
        return flags + self.goal

    def met(self, text: str | None) -> bool:
        """Whether an accepted graph's text passes the goal's checks."""
        return text is not None and all(s in text for s in self.must_contain) and not any(
            s in text for s in self.must_not_contain
        )


@dataclass(frozen=True)
class Suite:
    path: Path
    attempts: int
    goals: tuple[SuiteGoal, ...]


def _strings(v: Any, where: str, empty: bool = False) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v) or (not v and not empty):
        raise SuiteError(f"{where}: expected a list of non-empty strings")
    return tuple(v)


def load_suite(path: Path = SUITE) -> Suite:
    """Read and check a suite file (unknown keys, missing graphs and bad values are errors)."""
    try:
        raw = path.read_bytes()[: MAX_SUITE_BYTES + 1]
        if len(raw) > MAX_SUITE_BYTES:
            raise SuiteError(f"{path}: larger than {MAX_SUITE_BYTES} bytes")
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SuiteError(f"{path}: {e}") from None
    unknown = set(doc) - {"attempts", "goal"}
    if unknown:
        raise SuiteError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    attempts = doc.get("attempts", 4)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 16:
        raise SuiteError(f"{path}: attempts must be an integer in 1..16, got {attempts!r}")
    goals: list[SuiteGoal] = []
    seen: set[str] = set()
    for i, g in enumerate(doc.get("goal", []), 1):
        where = f"{path}: goal #{i}"
        if not isinstance(g, dict):
            raise SuiteError(f"{where}: expected a table")
        unknown = set(g) - {"name", "graph", "goal", "invariants", "must_contain", "must_not_contain"}
        if unknown:
            raise SuiteError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name, graph, text = g.get("name"), g.get("graph"), g.get("goal")
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
            raise SuiteError(f"{where}: name must be letters, digits, '-' and '_', got {name!r}")
        if name in seen:
            raise SuiteError(f"{where}: the name {name!r} is used twice")
        seen.add(name)
        if not isinstance(text, str) or not text.strip():
            raise SuiteError(f"{where} ({name}): goal must be a non-empty string")
        if Goal.parse(text).text != text.strip():
            raise SuiteError(f"{where} ({name}): write invariants in 'invariants', not as [flags] in the goal")
        if not isinstance(graph, str) or not (path.parent / graph).is_file():
            raise SuiteError(f"{where} ({name}): graph {graph!r} is not a file next to the suite")
        inv = _strings(g.get("invariants", ["interface"]), f"{where} ({name}): invariants", empty=True)
        bad = [x for x in inv if x not in INVARIANTS]
        if bad:
            raise SuiteError(f"{where} ({name}): unknown invariant(s) {bad}; known: {', '.join(INVARIANTS)}")
        goals.append(
            SuiteGoal(
                name,
                (path.parent / graph).resolve(),
                text.strip(),
                inv,
                _strings(g.get("must_contain", []), f"{where} ({name}): must_contain", empty=True),
                _strings(g.get("must_not_contain", []), f"{where} ({name}): must_not_contain", empty=True),
            )
        )
    if not goals:
        raise SuiteError(f"{path}: no [[goal]] entries")
    return Suite(path, attempts, tuple(goals))


def _module(goal: SuiteGoal) -> Any:
    from graphsynth.grammar.parser import parse_ir

    return parse_ir(goal.graph.read_text(encoding="utf-8"), filename=goal.graph.name)


# -- one goal under one arm -----------------------------------------------------------------


@dataclass
class Run:
    """One goal under one feedback style, computed from the driver's records of the rewrite."""

    goal: SuiteGoal
    arm: str
    model: str = ""
    source: str = ""  # "model", "scripted", "replay of <...>"
    accepted_at: int | None = None  # the attempt that was accepted
    attempts: int = 0
    goal_met: bool = False
    model_calls: int = 0
    saved: int = 0  # attempts made without a model call (auto-repair)
    usage: Usage = field(default_factory=Usage)
    problem: str | None = None  # why the run ended without an answer (proposer failure, stale transcript...)
    local: bool = False  # the "model" was a server on this machine (a scripted stand-in)
    broken: bool = False  # the measurement itself failed (a missing, stale or diverging transcript)

    def within(self, k: int) -> bool:
        return self.accepted_at is not None and self.accepted_at <= k


def run_of(goal: SuiteGoal, arm: str, result: Any, model: str, base_url: str | None) -> Run:
    """The row of a finished rewrite (a :class:`graphsynth.llm.RewriteResult`)."""
    r = Run(goal, arm, model=model or "")
    r.attempts = len(result.attempts)
    if result.accepted:
        r.accepted_at = result.attempts[-1].index
    r.goal_met = bool(result.accepted) and goal.met(result.output_text)
    r.usage = result.usage
    r.model_calls = result.usage.calls
    r.saved = sum(1 for a in result.attempts if not a.model_call)
    r.local = _is_local(base_url)
    if result.error is not None:
        r.problem = f"{result.error.code}: {result.error.message}"
    if getattr(result, "replay_ok", None) is False:
        r.problem = "replay differs from the recording: " + "; ".join(result.notes)
        r.broken = True
    return r


def _is_local(base_url: str | None) -> bool:
    if not base_url:
        return False
    host = urlparse(base_url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def transcript_path(folder: Path, arm: str, goal: SuiteGoal) -> Path:
    return folder / arm / f"{goal.name}.jsonl"


def replay_goal(goal: SuiteGoal, arm: str, folder: Path) -> Run:
    """Re-run the recorded rewrite of ``goal`` under ``arm``; a missing, stale or divergent
    transcript is a row with a problem, not an exception."""
    from graphsynth.diagnostics import GraphsynthError
    from graphsynth.llm import replay_transcript
    from graphsynth.llm.transcript import read_transcript

    path = transcript_path(folder, arm, goal)
    if not path.is_file():
        return Run(goal, arm, problem=f"no transcript {path}", broken=True)
    try:
        t = read_transcript(path)
        h = t.header
        want = Goal.parse(goal.flagged)
        if h.get("goal") != want.text or h.get("flags") != want.flags() or h.get("feedback", "full") != arm:
            return Run(goal, arm, problem=f"{path} records another goal, flags or feedback style than the suite's",
                       broken=True)
        result = replay_transcript(path, _module(goal))
    except GraphsynthError as e:
        return Run(goal, arm, problem=f"{path}: {e.diagnostics[0].message if e.diagnostics else e}", broken=True)
    return run_of(goal, arm, result, str(h.get("model") or ""), h.get("base_url"))


def rewrite_goal(goal: SuiteGoal, arm: str, proposer: Any, attempts: int, transcript: Path, deadline: float) -> Run:
    """Ask ``proposer`` for the rewrite of ``goal`` with ``arm`` feedback, recording a transcript."""
    from graphsynth.diagnostics import GraphsynthError
    from graphsynth.llm import rewrite

    transcript.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = rewrite(
            _module(goal), goal.flagged, proposer, attempts=attempts, transcript=str(transcript),
            deadline=deadline, feedback=arm,
        )
    except GraphsynthError as e:  # the graph does not parse, the transcript cannot be written
        return Run(goal, arm, model=getattr(proposer, "model", ""), problem=e.diagnostics[0].message, broken=True)
    client = getattr(proposer, "client", None)
    base = getattr(client, "base_url", None)
    return run_of(goal, arm, result, getattr(proposer, "model", ""), str(base) if base is not None else None)


# -- modes ----------------------------------------------------------------------------------


def replay_suite(suite: Suite, folder: Path, arms: Sequence[str]) -> list[Run]:
    return [replay_goal(g, arm, folder) for g in suite.goals for arm in arms]


def live_suite(
    suite: Suite, out: Path, arms: Sequence[str], *, model: str | None, timeout: float, deadline: float,
    budget: float, max_retries: int = 3,
) -> list[Run]:
    """Ask a model; goal by goal, both arms one after the other (so that a budget cut treats the
    arms alike).  ``deadline`` bounds each rewrite, ``budget`` the whole suite."""
    from graphsynth.llm import AnthropicProposer

    end = time.monotonic() + budget
    runs: list[Run] = []
    for g in suite.goals:
        for arm in arms:
            left = end - time.monotonic()
            if left <= 1.0:
                runs.append(Run(g, arm, model=model or "", problem=f"not run: the suite's budget of {budget:g} s is spent"))
                continue
            proposer = AnthropicProposer(model=model, timeout=min(timeout, left), max_retries=max_retries)
            runs.append(rewrite_goal(g, arm, proposer, suite.attempts, transcript_path(out, arm, g), min(deadline, left)))
    return runs


def load_scripted(path: Path = SCRIPTED) -> dict[str, list[str]]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SuiteError(f"{path}: {e}") from None
    replies = doc.get("replies")
    if not isinstance(replies, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in replies.values()
    ):
        raise SuiteError(f"{path}: [replies] must map goal names to lists of strings")
    return replies


def scripted_suite(suite: Suite, out: Path, arms: Sequence[str], replies: dict[str, list[str]]) -> list[Run]:
    """Record the suite against the scripted stand-in of the Messages API (no model is asked)."""
    from graphsynth.llm import AnthropicProposer
    from graphsynth.llm.fakeserver import FakeServer, reply

    runs: list[Run] = []
    for g in suite.goals:
        if g.name not in replies:
            raise SuiteError(f"{SCRIPTED}: no scripted replies for goal {g.name!r}")
        for arm in arms:
            with FakeServer([reply(r) for r in replies[g.name]]) as srv:
                proposer = AnthropicProposer(
                    model=SCRIPTED_MODEL, base_url=srv.url, api_key="scripted-no-key", timeout=10.0, max_retries=0
                )
                runs.append(rewrite_goal(g, arm, proposer, suite.attempts, transcript_path(out, arm, g), 60.0))
    return runs


# -- the tables -----------------------------------------------------------------------------


def within_columns(attempts: int) -> list[int]:
    """1, 2 and 4 attempts (those the suite allows), and the suite's own number."""
    return sorted({k for k in (1, 2, 4) if k <= attempts} | {attempts})


def priced(run: Run, table: Sequence[tuple[str, float, float]] = ()) -> float | None:
    """The run's cost at the price of its model (None when the table has no price for it)."""
    u = run.usage
    return cost_usd(prices(run.model, table), u.input_tokens, u.output_tokens,
                    u.cache_creation_input_tokens, u.cache_read_input_tokens)


def _money(c: float | None) -> str:
    return "n/a" if c is None else f"${c:.4f}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def _sum_cost(runs: Sequence[Run], table: Sequence[tuple[str, float, float]]) -> float | None:
    costs = [priced(r, table) for r in runs]
    return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


ARM_TEXT = {
    "full": "full diagnostics (source line, caret, relation, fix; excerpt of the edited text)",
    "first-line": "first line of each diagnostic only (like raw stderr)",
}


def render(suite: Suite, runs: Sequence[Run], table: Sequence[tuple[str, float, float]] = (),
           source: str = "") -> str:
    """The per-goal tables (one per arm) and the comparison of the arms."""
    ks = within_columns(suite.attempts)
    arms = [a for a in FEEDBACK_STYLES if any(r.arm == a for r in runs)]
    n = len(suite.goals)
    lines = [f"LLM loop efficacy: {n} goals from {_rel(suite.path)}, up to {suite.attempts} attempts each"]
    if source:
        lines.append(f"source: {source}")
    if runs and all(r.local for r in runs if r.attempts):
        lines.append("note: every reply came from a server on this machine (a scripted stand-in): "
                     "these are not model output and measure nothing")
    models = sorted({r.model for r in runs if r.model})
    for m in models:
        p = prices(m, table)
        lines.append(f"model: {m}; price per Mtok in/out: " + ("n/a" if p is None else f"${p[0]:.2f}/${p[1]:.2f}"))
    for arm in arms:
        lines += ["", f"feedback: {arm} - {ARM_TEXT[arm]}"]
        rows = [["goal", "graph", "invariants", *[f"<={k}" for k in ks], "attempts", "goal met", "model calls",
                 "saved by auto-repair", "tokens in", "out", "cache r/w", "cost"]]
        mine = [r for r in runs if r.arm == arm]
        for r in mine:
            u = r.usage
            rows.append([
                r.goal.name, _rel(r.goal.graph), ",".join(r.goal.invariants) or "-",
                *["yes" if r.within(k) else "no" for k in ks],
                str(r.attempts), "yes" if r.goal_met else "no", str(r.model_calls), str(r.saved),
                str(u.input_tokens), str(u.output_tokens),
                f"{u.cache_read_input_tokens}/{u.cache_creation_input_tokens}", _money(priced(r, table)),
            ])
        lines += _table(rows)
        for r in mine:
            if r.problem:
                lines.append(f"  {r.goal.name}: {r.problem[:300]}")
    if arms:
        lines += ["", "by feedback style"]
        rows = [["feedback", *[f"accepted <={k}" for k in ks], "goal met", "attempts", "model calls",
                 "saved by auto-repair", "tokens in", "tokens out", "cost"]]
        for arm in arms:
            mine = [r for r in runs if r.arm == arm]
            total = Usage()
            for r in mine:
                total = total + r.usage
            rows.append([
                arm, *[f"{sum(r.within(k) for r in mine)}/{len(mine)}" for k in ks],
                f"{sum(r.goal_met for r in mine)}/{len(mine)}", str(sum(r.attempts for r in mine)),
                str(sum(r.model_calls for r in mine)), str(sum(r.saved for r in mine)),
                str(total.input_tokens), str(total.output_tokens), _money(_sum_cost(mine, table)),
            ])
        lines += _table(rows)
    return "\n".join(lines)


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


# -- command line ---------------------------------------------------------------------------


def _price(text: str) -> tuple[str, float, float]:
    prefix, sep, rest = text.partition("=")
    parts = rest.split(",")
    try:
        if not sep or not prefix or len(parts) != 2:
            raise ValueError
        inp, out = float(parts[0]), float(parts[1])
        if not (0 <= inp < 1e6 and 0 <= out < 1e6):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PREFIX=IN,OUT (USD per million tokens), got '{text}'") from None
    return prefix, inp, out


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if not 0 < v < 1e6:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1e6 seconds, got {text}")
    return v


def _arms(text: str) -> list[str]:
    arms = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in arms if a not in FEEDBACK_STYLES]
    if not arms or bad:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(FEEDBACK_STYLES)}, got '{text}'")
    return [a for a in FEEDBACK_STYLES if a in arms]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("auto", "live", "replay", "scripted"), default="auto",
                    help="auto: live when ANTHROPIC_API_KEY is set, else replay")
    ap.add_argument("--suite", type=Path, default=SUITE, help="the suite file (default: the shipped suite)")
    ap.add_argument("--transcripts", type=Path, default=SHIPPED, help="replay: the folder of ARM/GOAL.jsonl transcripts")
    ap.add_argument("--out", type=Path, default=None,
                    help="live: where transcripts go (default ./llm-efficacy/MODEL-TIME); scripted: default the shipped folder")
    ap.add_argument("--arms", type=_arms, default=list(FEEDBACK_STYLES), help="feedback styles to run (default: both)")
    ap.add_argument("--goals", default=None, help="comma-separated goal names (default: all)")
    ap.add_argument("--model", default=None, help="live: the model (default $GRAPHSYNTH_MODEL or the driver's default)")
    ap.add_argument("--timeout", type=_seconds, default=120.0, help="live: seconds for one model call, retries included")
    ap.add_argument("--deadline", type=_seconds, default=300.0, help="live: seconds for one rewrite, all attempts")
    ap.add_argument("--budget", type=_seconds, default=3600.0, help="live: seconds for the whole suite")
    ap.add_argument("--price", type=_price, action="append", default=[], metavar="PREFIX=IN,OUT",
                    help="USD per million input/output tokens for models whose name starts with PREFIX (repeatable)")
    ap.add_argument("--show-prices", action="store_true", help="print the price table in effect and exit")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    table = list(args.price)
    if args.show_prices:
        print("model prefix          USD/Mtok in  USD/Mtok out   (cache writes 1.25x input, cache reads 0.1x)")
        for prefix, inp, out in (*table, *PRICES):
            print(f"{prefix:<21} {inp:>11.2f}  {out:>12.2f}")
        return 0
    try:
        suite = load_suite(args.suite)
        if args.goals:
            names = [x.strip() for x in args.goals.split(",") if x.strip()]
            unknown = [x for x in names if x not in {g.name for g in suite.goals}]
            if unknown or not names:
                raise SuiteError(f"unknown goal(s) {unknown}; the suite has {', '.join(g.name for g in suite.goals)}")
            suite = Suite(suite.path, suite.attempts, tuple(g for g in suite.goals if g.name in names))
        mode = args.mode
        if mode == "auto":
            mode = "live" if os.environ.get("ANTHROPIC_API_KEY") else "replay"
        if mode == "replay":
            runs = replay_suite(suite, args.transcripts, args.arms)
            source = f"replay of the transcripts in {_rel(args.transcripts)}"
        elif mode == "scripted":
            out = args.out or SHIPPED
            runs = scripted_suite(suite, out, args.arms, load_scripted())
            source = f"scripted replies from {_rel(SCRIPTED)} (not model output); transcripts in {_rel(out)}"
        else:
            if not os.environ.get("ANTHROPIC_API_KEY"):
                print("error: --mode live needs ANTHROPIC_API_KEY (without it, --mode replay replays transcripts)",
                      file=sys.stderr)
                return 2
            model = args.model or os.environ.get("GRAPHSYNTH_MODEL") or None
            out = args.out or Path("llm-efficacy") / f"{model or 'default'}-{time.strftime('%Y%m%d-%H%M%S')}"
            runs = live_suite(suite, out, args.arms, model=model, timeout=args.timeout, deadline=args.deadline,
                              budget=args.budget)
            source = f"live model calls; transcripts in {out} (replay: --mode replay --transcripts {out})"
    except SuiteError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(render(suite, runs, table, source))
    return 1 if any(r.broken for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
