"""Transcripts: every exchange of a rewrite session, one JSON object per line.

Line kinds, in order:

- ``header``: format version, goal (and its flags), attempts allowed, proposer and model, the
  input graph text and its hash, the feedback style (so ``graphsynth-opt --replay t.jsonl``
  needs nothing else);
- ``attempt`` (one per attempt): prompt/system/messages hashes, the reply, the edit as applied,
  the diagnostics, the verdict (accepted | rejected | error), whether a model was asked
  (``model_call``), tokens, latency, and the time spent outside the model (parse, verify,
  checks);
- ``result``: accepted or not, the output text hash, the summed usage.

Writing to a path never truncates or half-writes a file the user had.  Records go, one line at
a time (each flushed, so that a crash of the process loses no line), to a temporary file beside
the target named ``NAME.XXXXXXXX.partial``; when the session's ``result`` line has been written,
closing the writer fsyncs that file and renames it over ``NAME`` in one step (as
:func:`graphsynth.fileio.atomic_open` writes outputs, permission bits kept).  A session that dies
before its result (a crash, Ctrl-C) leaves the ``.partial`` file as a readable record of what
happened, and ``NAME`` untouched.

Reading is capped at the project's read limit (``$GRAPHSYNTH_READ_LIMIT``, see
:mod:`graphsynth.fileio`): a transcript over it, not UTF-8, or not a file is an error carrying
GS003/GS001 instead of a read of ``/dev/zero`` without end.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, Self

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.fileio import FileError, check_writable, read_text, umask
from graphsynth.llm.proposer import ProposerConfigError, ProposerError

FORMAT_VERSION = 1
MAX_LINE_CHARS = 50_000_000


class TranscriptFileError(ProposerError):
    """A transcript could not be read (GS001, GS003): a :class:`ProposerError`, so that the
    ``replay`` proposer reports it like any other failure, with the file diagnostic's code."""

    def __init__(self, diagnostics: list[Diagnostic]):
        GraphsynthError.__init__(self, diagnostics)


class TranscriptWriteError(ProposerConfigError):
    """A transcript could not be written (GS002), found before any request is sent."""

    def __init__(self, diagnostics: list[Diagnostic]):
        GraphsynthError.__init__(self, diagnostics)


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
        lines = read_text(p, what="transcript").split("\n")
    except FileError as e:
        raise TranscriptFileError(e.diagnostics) from None
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
    """Writes records as JSON lines to a path (atomically, see the module docstring) or to any
    text stream, flushing after each line."""

    def __init__(self, target: str | os.PathLike[str] | IO[str]):
        self.partial_path: str | None = None
        self._done = False
        self._stream = False
        if isinstance(target, (str, os.PathLike)):
            self.path: str | None = os.fspath(target)
            try:
                check_writable(self.path)
                final = os.path.realpath(self.path)
                self._final = final
                try:
                    st: os.stat_result | None = os.stat(final)
                except FileNotFoundError:
                    st = None
                self._mode: int | None = stat.S_IMODE(st.st_mode) if st is not None else None
                if st is not None and not stat.S_ISREG(st.st_mode):
                    # /dev/stdout, a FIFO: a stream, written directly (there is no file to replace).
                    self._fh: IO[str] = open(final, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
                    self._stream = True
                else:
                    fd, self.partial_path = tempfile.mkstemp(
                        prefix=os.path.basename(final) + ".", suffix=".partial", dir=os.path.dirname(final) or "."
                    )
                    self._fh = os.fdopen(fd, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            except FileError as e:
                raise TranscriptWriteError([_as_transcript(d) for d in e.diagnostics]) from None
            except OSError as e:
                raise TranscriptWriteError([_write_diag(self.path, e)]) from None
            self._owned = True
        else:
            self.path = getattr(target, "name", None)
            self._fh = target
            self._owned = False

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            self._fh.flush()
        except OSError as e:  # disk full, file-size limit: a diagnostic, the target untouched
            raise TranscriptWriteError([_write_diag(self.path or "<stream>", e)]) from None
        if record.get("kind") == "result":
            self._done = True

    def close(self) -> None:
        """Close; a finished session (its ``result`` written) replaces the target, an unfinished
        one stays in :attr:`partial_path`."""
        if not self._owned or self._fh.closed:
            return
        try:
            if self._done and not self._stream:
                os.fsync(self._fh.fileno())  # the contents are on disk before the rename
        except OSError as e:
            self._done = False
            raise TranscriptWriteError([_write_diag(self.path or "", e)]) from None
        finally:
            self._fh.close()
        if not self._done or self.partial_path is None:
            return
        try:
            os.chmod(self.partial_path, self._mode if self._mode is not None else 0o666 & ~umask())
            os.replace(self.partial_path, self._final)
        except OSError as e:
            raise TranscriptWriteError([_write_diag(self.path or "", e)]) from None
        self.partial_path = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_diag(path: str, e: OSError) -> Diagnostic:
    return error("GS002", f"cannot write transcript '{path}': {e.strerror or e}",
                 fix="check that the folder exists and is writable")


def _as_transcript(d: Diagnostic) -> Diagnostic:
    d.message = d.message.replace("cannot write '", "cannot write transcript '", 1)
    return d
