"""The fuzz campaign of ``bench/fuzz.py``: mutated seeds (examples, FileCheck inputs, bench graphs,
imported-model snapshots, their MLIR form, recorded transcripts) through parse, verify, print,
reparse, passes, lowering and replay, in process.  Zero tracebacks, every rejection a located
diagnostic with a code, accepted texts print and read back to the same text, every input within
its time limit and memory budget.

The default suite runs a few thousand inputs; the full campaign (100,000 inputs, about half an
hour on two cores) is marked ``slow`` and runs with ``python -m pytest -m slow
tests/test_fuzz_campaign.py`` (or ``python bench/fuzz.py --count 100000``, which prints the
figures)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import fuzz  # noqa: E402

from graphsynth.testing.mutants import (  # noqa: E402
    BYTE_KINDS,
    CHAR_KINDS,
    KINDS,
    TOKEN_KINDS,
    mutate,
    mutate_json_lines,
    mutate_once,
)


@pytest.fixture(scope="module")
def seeds() -> list[fuzz.Seed]:
    return fuzz.corpus()


def _check(st: fuzz.Stats, cfg: fuzz.Config) -> None:
    assert not st.failures, fuzz.report(st, cfg, 1)
    assert st.count == cfg.count
    statuses = {status for status, _ in st.outcomes}
    stages = {stage for _, stage in st.outcomes}
    # Inputs got everywhere: rejected by the parser, by the verifier, in replays; accepted ones
    # went through passes and lowering.
    assert {"accepted", "rejected"} <= statuses
    assert {"parse", "verify", "done", "replay"} <= stages, st.outcomes
    codes = {c for c in st.codes if c.startswith("GS")}
    assert {"GS101", "GS103", "GS107", "GS201", "GS301"} <= codes, sorted(codes)
    assert len(codes) >= 25, sorted(codes)
    assert set(st.forms) == {"gs", "mlir", "transcript"}
    assert {kind for kinds in (BYTE_KINDS, CHAR_KINDS, TOKEN_KINDS) for kind in kinds} <= set(st.kinds) | {"json"}


def test_corpus_holds_every_kind_of_seed(seeds: list[fuzz.Seed]) -> None:
    names = " ".join(s.name for s in seeds)
    for needle in ("examples/mlp.gs", "tests/filecheck/passes/Inputs/gpt2.gs", "bench/verify_scale.py", ".mlir",
                   "(mlir)", "examples/llm/insert_block.jsonl", "graphsynth/train/tasks"):
        assert needle in names, needle
    assert len(seeds) > 200


def test_inputs_are_a_function_of_seed_and_index(seeds: list[fuzz.Seed]) -> None:
    cfg = fuzz.Config(10, seed=5)
    assert [fuzz.generate(cfg, seeds, i) for i in range(10)] == [fuzz.generate(cfg, seeds, i) for i in range(10)]
    assert fuzz.generate(cfg, seeds, 3) != fuzz.generate(fuzz.Config(10, seed=6), seeds, 3)


def test_mutants_stay_under_the_size_cap(seeds: list[fuzz.Seed]) -> None:
    cfg = fuzz.Config(400, seed=9, max_bytes=4096)
    sizes = [len(fuzz.generate(cfg, seeds, i)[1]) for i in range(400)]
    big_seed = max(len(s.text) for s in seeds)
    assert max(sizes) <= max(4096, big_seed)
    assert sum(size > 4096 for size in sizes) <= sum(len(fuzz.generate(cfg, seeds, i)[0].text) > 4096 for i in range(400))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_mutation_changes_text_and_keeps_its_type(kind: str) -> None:
    text = (ROOT / "examples" / "convnet.gs").read_text()
    rnd = random.Random(kind)
    changed = 0
    for _ in range(20):
        out = mutate_once(text, kind, rnd)
        assert isinstance(out, bytes) == (kind in BYTE_KINDS)
        changed += out != (text.encode() if isinstance(out, bytes) else text)
    assert changed >= 10, kind


def test_transcript_mutations_are_json_lines_or_text() -> None:
    text = (ROOT / "examples" / "llm" / "insert_block.jsonl").read_text()
    rnd = random.Random(1)
    outs = [mutate_json_lines(text, rnd) for _ in range(50)]
    assert sum(o != text for o in outs) >= 45
    assert all(isinstance(o, (str, bytes)) for o in outs)
    mixed, kinds = mutate(text, random.Random(3), 3)
    assert len(kinds) == 3


def test_a_failure_is_caught_and_reported(seeds: list[fuzz.Seed], monkeypatch) -> None:
    """The campaign is not blind: a traceback, an unlocated diagnostic, a slow input and a bad
    round trip each show up as failures."""
    from graphsynth.diagnostics import Diagnostic, ParseError

    checker = fuzz.Checker(deep=False)
    try:
        import graphsynth.grammar.parser as parser

        real = parser.parse_ir

        def raising(text, filename=None):
            raise ZeroDivisionError("planted")

        monkeypatch.setattr(parser, "parse_ir", raising)
        out = checker.run("gs", "graph G() -> () {}")
        assert out.status == "failed" and out.failure == "traceback:ZeroDivisionError"

        def unlocated(text, filename=None):
            raise ParseError([Diagnostic("error", "GS101", "somewhere")])

        monkeypatch.setattr(parser, "parse_ir", unlocated)
        out = checker.run("gs", "x")
        assert out.status == "failed" and out.failure == "unlocated"

        import graphsynth.grammar.printer as printer

        monkeypatch.setattr(parser, "parse_ir", real)
        real_print, calls = printer.print_ir, []

        def unstable(m, depth=None):  # prints the same module differently the second time
            calls.append(1)
            return real_print(m, depth=depth) + (" " if len(calls) % 2 == 0 else "")

        monkeypatch.setattr(printer, "print_ir", unstable)
        out = checker.run("gs", (ROOT / "examples" / "mlp.gs").read_text())
        assert out.status == "failed" and out.failure == "roundtrip"
    finally:
        checker.close()
    monkeypatch.undo()

    def slow(self, form, text):
        import time

        time.sleep(2)

    monkeypatch.setattr(fuzz.Checker, "run", slow)
    st = fuzz.run_range(fuzz.Config(1, seed=0, time_limit=0.2, deep=False), seeds, range(1))
    assert [f["failure"] for f in st.failures] == ["timeout"]


@pytest.mark.long
def test_a_few_thousand_mutants(seeds: list[fuzz.Seed]) -> None:
    """The default suite's share of the campaign (the full one is the slow test below)."""
    cfg = fuzz.Config(2000, seed=20240611, max_bytes=32 << 10)
    _check(fuzz.run_range(cfg, seeds, range(cfg.count)), cfg)


@pytest.mark.slow
def test_the_full_campaign() -> None:
    """100,000 inputs of up to 1 MiB, two processes (``-m slow``; about half an hour)."""
    cfg = fuzz.Config(100_000, seed=1)
    st = fuzz.campaign(cfg, jobs=2)
    print(fuzz.report(st, cfg, 2))
    _check(st, cfg)
