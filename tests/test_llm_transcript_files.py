"""Transcripts as files: a session never truncates or half-writes a transcript the user had (it
writes beside it and renames when the session ends), a session that dies leaves its ``.partial``
record, write failures are GS002 diagnostics, and reading is capped and diagnosed (GS001/GS003)."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.llm import Proposal, ProposerConfigError, ProposerError, ReplayProposer, Usage, rewrite
from graphsynth.llm.replay import replay_main
from graphsynth.llm.transcript import TranscriptWriter, read_transcript

TEXT = """\
graph M(x: f32[B, 8]) -> f32[B, 8] {
  %0: f32[B, 8] = relu(x)
  return %0
}
"""
RELU = "%0: f32[B, 8] = relu(x)"
GELU = "%0: f32[B, 8] = gelu(x)"
BAD = "%0: f32[B, 9] = relu(x)"
RECORDED = Path(__file__).resolve().parents[1] / "examples" / "llm" / "insert_block.jsonl"


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


class Scripted:
    name = "scripted"
    model = "scripted"

    def __init__(self, replies: list[object]):
        self.replies = list(replies)

    def propose(self, request):
        r = self.replies.pop(0)
        if isinstance(r, BaseException):
            raise r
        return Proposal(r, Usage(1, 1, calls=1), 0.0, "scripted")


def kinds(path: Path) -> list[str]:
    return [json.loads(line)["kind"] for line in path.read_text().splitlines() if line.strip()]


def test_a_finished_session_replaces_the_transcript_keeping_its_permissions(tmp_path: Path) -> None:
    t = tmp_path / "session.jsonl"
    t.write_text("an older session\n")
    t.chmod(0o640)
    r = rewrite(parse_ir(TEXT), "use gelu", Scripted([block(RELU, BAD), block(RELU, GELU)]), transcript=str(t))
    assert r.accepted
    assert kinds(t) == ["header", "attempt", "attempt", "result"]
    assert stat.S_IMODE(t.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.jsonl"]
    assert read_transcript(t).result["accepted"] is True


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), SystemExit(3)])
def test_a_session_that_dies_keeps_the_old_transcript_and_leaves_a_partial_record(tmp_path: Path, failure) -> None:
    t = tmp_path / "session.jsonl"
    t.write_text("an older session\n")
    with pytest.raises(type(failure)):
        rewrite(parse_ir(TEXT), "use gelu", Scripted([block(RELU, BAD), failure]), transcript=str(t))
    assert t.read_text() == "an older session\n"
    [partial] = [p for p in tmp_path.iterdir() if p.name != "session.jsonl"]
    assert partial.name.startswith("session.jsonl.") and partial.name.endswith(".partial")
    assert kinds(partial) == ["header", "attempt"]  # readable: every line written so far is whole


def test_a_write_failure_is_gs002_and_leaves_the_target(tmp_path: Path) -> None:
    t = tmp_path / "session.jsonl"
    t.write_text("kept\n")
    w = TranscriptWriter(t)

    class Full(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    w._fh.close()
    w._fh = Full()
    with pytest.raises(ProposerConfigError) as e:
        w.write({"kind": "header"})
    d = e.value.diagnostics[0]
    assert d.code == "GS002" and "No space left" in d.message and "session.jsonl" in d.message
    w.close()
    assert t.read_text() == "kept\n"


@pytest.mark.parametrize("where, code", [("missing/t.jsonl", "GS002"), (".", "GS002")])
def test_unwritable_transcript_paths(tmp_path: Path, where: str, code: str) -> None:
    with pytest.raises(ProposerConfigError) as e:
        TranscriptWriter(tmp_path / where)
    assert e.value.diagnostics[0].code == code
    assert "cannot write transcript" in e.value.diagnostics[0].message


def test_reading_is_capped(tmp_path: Path, monkeypatch) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(RECORDED.read_bytes() + b" " * 5000)
    monkeypatch.setenv("GRAPHSYNTH_READ_LIMIT", "4K")
    with pytest.raises(ProposerError) as e:
        ReplayProposer(big)
    assert e.value.diagnostics[0].code == "GS003"
    with pytest.raises(ProposerError) as e:
        ReplayProposer("/dev/zero")
    assert e.value.diagnostics[0].code == "GS003"


def test_replay_main_exit_codes(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert replay_main(str(tmp_path / "missing.jsonl"), out, err) == 2
    assert "error[GS001]" in err.getvalue()
    err = io.StringIO()
    assert replay_main(str(RECORDED), out, err, output_path=str(tmp_path / "no" / "x.gs")) == 2
    assert "error[GS002]" in err.getvalue() and out.getvalue() == ""
    target = tmp_path / "x.gs"
    assert replay_main(str(RECORDED), out, io.StringIO(), output_path=str(target)) == 0
    assert target.read_text().startswith("graph ") and out.getvalue() == ""


def test_a_device_target_is_written_as_a_stream() -> None:
    """/dev/null is not replaced by a regular file (which, as root, would break the device)."""
    import os

    with TranscriptWriter("/dev/null") as w:
        w.write({"kind": "header"})
        w.write({"kind": "result"})
    assert w.partial_path is None
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
