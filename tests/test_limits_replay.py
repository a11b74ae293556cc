"""Hostile text reaching the core through a replayed transcript (``--replay``): a recorded reply,
or the recorded input graph, carrying what the text form refuses elsewhere -- a product of sums
that expands exponentially, a parameter of a trillion floats under ``[preserve-semantics]``,
integers beyond int64 and beyond Python's conversion limit, non-ASCII digits, nesting past any
stack.  Each is a located diagnostic of the attempt (or of the replay), never a traceback, a
memory blow-up or a minutes-long run; the recorded graph is never changed."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
import torch  # noqa: F401 - the numerical check imports it; its import is no input's cost

from graphsynth.cli import main as opt_main
from graphsynth.diagnostics import GraphsynthError
from graphsynth.llm.replay import replay_transcript

ROOT = Path(__file__).resolve().parents[1]
FOLD = ROOT / "examples" / "llm" / "fold_scales.jsonl"  # preserve-semantics, edits by search/replace
RESIDUAL = ROOT / "examples" / "llm" / "make_residual.jsonl"


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _first_search(reply: str) -> str:
    return reply.split("<<<<<<< SEARCH\n", 1)[1].split("\n=======\n", 1)[0]


def _with_reply(tmp_path: Path, source: Path, make_replace) -> Path:
    """``source`` with the first attempt's reply replaced by an edit of its own search text."""
    recs = _records(source)
    first = next(r for r in recs if r["kind"] == "attempt")
    search = _first_search(first["reply"])
    first["reply"] = f"<<<<<<< SEARCH\n{search}\n=======\n{make_replace(search)}\n>>>>>>> REPLACE"
    out = tmp_path / source.name
    out.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return out


def _replay(path: Path) -> tuple[list[str], float, float]:
    """(codes of the first attempt or of the replay's error, seconds, MiB the peak RSS rose)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        r = replay_transcript(path)
        diags = r.attempts[0].diagnostics
        # The first attempt's own problems are located in its text; a later attempt asks another
        # question than the recording (the feedback changed): GS507 at that transcript line.
        for d in diags + [d for a in r.attempts[1:] for d in a.diagnostics if d.code == "GS507"]:
            assert d.loc is not None and d.loc.line >= 1 and d.loc.column >= 1, d.render()
        codes = [d.code for d in diags]
    except GraphsynthError as e:
        codes = [d.code for d in e.diagnostics]
        assert all(d.loc is not None for d in e.diagnostics), [d.render() for d in e.diagnostics]
    seconds = time.perf_counter() - t0
    return codes, seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024


def _product(n: int, a: str = "p", b: str = "q") -> str:
    return "*".join(f"({a}{i}+{b}{i})" for i in range(n))


# Each: (transcript, what the reply's replacement adds after the search text, expected code).
HOSTILE_REPLIES = {
    "exponential dim in a type": (RESIDUAL, lambda s: f"{s}\n%9: f32[{_product(22)}] = full(shape=[4], value=0.0, dtype=f32)", "GS307"),
    "exponential dim in an attribute": (RESIDUAL, lambda s: f"{s}\n%9: f32[4] = full(shape=[{_product(26, 'u', 'v')}], value=1.0, dtype=f32)", "GS307"),
    "parameter of 10**12 floats, preserve-semantics": (FOLD, lambda s: f"param extra.weight: f32[1000000, 1000000]\n{s}", "GS508"),
    "intermediate of 10**11 floats, preserve-semantics": (FOLD, lambda s: f"{s}\n%9: f32[B, 100000000000] = full(shape=[B, 100000000000], value=0.0, dtype=f32)", "GS508"),
    "integer of 5,000 digits": (FOLD, lambda s: s.replace("0.5", "4" * 5000, 1), "GS108"),
    "int64 plus one in a dim": (RESIDUAL, lambda s: f"{s}\n%9: f32[9223372036854775808] = full(shape=[4], value=0.0, dtype=f32)", "GS108"),
    "Arabic-Indic digit in a dim": (RESIDUAL, lambda s: f"{s}\n%9: f32[B, \u0663] = full(shape=[4], value=0.0, dtype=f32)", "GS107"),
    "superscript two in a dim": (FOLD, lambda s: s.replace("f32[B, 8]", "f32[B, 8\u00b2]", 1), "GS107"),
    "lists nested 5,000 deep": (FOLD, lambda s: f"{s}\n%9: f32[4] = full(shape={'[' * 5000}4{']' * 5000}, value=0.0, dtype=f32)", "GS109"),
    "module blocks nested 2,000 deep": (RESIDUAL, lambda s: "module m : M {\n" * 2000 + s + "\n}" * 2000, "GS109"),
    "parentheses nested 20,000 deep in a dim": (FOLD, lambda s: s.replace("f32[B, 8]", f"f32[B, {'(' * 20000}8{')' * 20000}]", 1), "GS109"),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_REPLIES))
def test_a_hostile_recorded_reply_is_a_located_rejection(tmp_path: Path, kind: str) -> None:
    source, replace, code = HOSTILE_REPLIES[kind]
    codes, seconds, rise = _replay(_with_reply(tmp_path, source, replace))
    assert code in codes, (kind, codes)
    assert seconds < 10 and rise < 500, (seconds, rise)


@pytest.mark.parametrize(
    "old, new, code",
    [
        ("f32[B, 8]", f"f32[B, {_product(24)}]", "GS307"),
        ("f32[B, 8]", "f32[B, \uff18]", "GS107"),
        ("f32[B, 8]", f"f32[B, {'9' * 4400}]", "GS108"),
    ],
    ids=["exponential", "fullwidth", "4400 digits"],
)
def test_a_hostile_recorded_input_graph_is_a_located_diagnostic(tmp_path: Path, old: str, new: str, code: str, capsys) -> None:
    """The header's input graph is hostile: ``--replay`` exits 1 with the parser's located
    diagnostic and writes nothing."""
    recs = _records(FOLD)
    assert old in recs[0]["input_ir"]
    recs[0]["input_ir"] = recs[0]["input_ir"].replace(old, new, 1)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out.gs"
    t0 = time.perf_counter()
    rc = opt_main(["--replay", str(path), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and f"error[{code}]" in err and "Traceback" not in err, err
    assert ":input:" in err  # located in the recorded graph
    assert time.perf_counter() - t0 < 10
    assert not out.exists()
