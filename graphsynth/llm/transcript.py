"""Transcripts: every exchange of a rewrite session, one JSON object per line.

Line kinds, in order:

- ``header``: format version, goal (and its flags), attempts allowed, proposer and model, the
  input graph text and its hash (so ``graphsynth-opt --replay t.jsonl`` needs nothing else);
- ``attempt`` (one per attempt): prompt/system/messages hashes, the reply, the edit as applied,
  the diagnostics, the verdict (accepted | rejected | error), tokens, latency, and the time
  spent outside the model (parse, verify, checks);
- ``result``: accepted or not, the output text hash, the summed usage.

Appending line by line means a crashed session still leaves a readable record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import IO, Any, Self

from graphsynth.llm.proposer import ProposerConfigError, ProposerError

FORMAT_VERSION = 1
MAX_LINE_CHARS = 50_000_000


@dataclass
class Transcript:
    path: str
    header: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any] | None:
        for r in reversed(self.records):
            if r.get("kind") == "result":
                return r
        return None

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == "attempt"]


def read_transcript(path: str | os.PathLike[str]) -> Transcript:
    """Read a transcript; malformed files raise :class:`ProposerError` with the line number."""
    p = str(path)
    try:
        with open(p, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except OSError as e:
        raise ProposerError(f"cannot read transcript {p}: {e.strerror}", fix="check the path") from None
    except UnicodeDecodeError as e:
        raise ProposerError(f"cannot read transcript {p}: not UTF-8 text (byte {e.start})") from None
    t = Transcript(p)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            raise ProposerError(f"{p}:{n}: transcript line too long ({len(line)} chars)")
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise ProposerError(
                f"{p}:{n}: not a JSON object ({e})", fix="the transcript is corrupt or truncated"
            ) from None
        if not isinstance(obj, dict) or "kind" not in obj:
            raise ProposerError(f"{p}:{n}: expected an object with a 'kind' field")
        if obj["kind"] == "header":
            if obj.get("version") != FORMAT_VERSION:
                raise ProposerError(
                    f"{p}:{n}: transcript format version {obj.get('version')}, expected {FORMAT_VERSION}"
                )
            t.header = obj
        else:
            t.records.append(obj)
    if not t.header:
        raise ProposerError(f"{p}: no header line", fix='a transcript starts with a {"kind": "header"} line')
    return t


class TranscriptWriter:
    """Appends records to a JSONL file (or any text stream), flushing after each line."""

    def __init__(self, target: str | os.PathLike[str] | IO[str]):
        if isinstance(target, (str, os.PathLike)):
            self.path: str | None = str(target)
            try:
                self._fh: IO[str] = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            except OSError as e:
                raise ProposerConfigError(
                    f"cannot write transcript {self.path}: {e.strerror}",
                    fix="check that the folder exists and is writable",
                ) from None
            self._owned = True
        else:
            self.path = getattr(target, "name", None)
            self._fh = target
            self._owned = False

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._owned:
            self._fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
