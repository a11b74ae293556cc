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

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error
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
    header_line: int = 1
    records: list[dict[str, Any]] = field(default_factory=list)
    record_lines: list[int] = field(default_factory=list)  # the line of each record, for diagnostics

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
    """Read a transcript; a malformed file raises :class:`ProposerError` located at the line
    (and, for JSON syntax, the column) at fault.  Each record is checked against what a replay
    reads from it (:data:`FIELDS`): a transcript is input like any other, and a field of the
    wrong type must be a diagnostic, not a traceback far away in the replay."""
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
            raise ProposerError(f"{p}:{n}: transcript line too long ({len(line)} chars)", loc=Location(p, n, 1))
        try:
            obj = json.loads(line)
        except ValueError as e:
            col = getattr(e, "colno", 1)
            raise ProposerError(
                f"{p}:{n}: not a JSON object ({e})", fix="the transcript is corrupt or truncated", loc=Location(p, n, col)
            ) from None
        if not isinstance(obj, dict) or "kind" not in obj:
            raise ProposerError(f"{p}:{n}: expected an object with a 'kind' field", loc=Location(p, n, 1))
        if obj["kind"] == "header":
            if obj.get("version") != FORMAT_VERSION:
                raise ProposerError(
                    f"{p}:{n}: transcript format version {_show(obj.get('version'))}, expected {FORMAT_VERSION}",
                    loc=Location(p, n, 1),
                )
            _check_record(obj, p, n)
            t.header = obj
            t.header_line = n
        else:
            _check_record(obj, p, n)
            t.records.append(obj)
            t.record_lines.append(n)
    if not t.header:
        raise ProposerError(f"{p}: no header line", fix='a transcript starts with a {"kind": "header"} line',
                            loc=Location(p, 1, 1))
    return t


MAX_ATTEMPTS = 10_000
_NONE = type(None)
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "header": {"goal": (str,), "input_ir": (str,), "input_hash": (str,), "attempts": (int,), "flags": (dict,),
               "menu_source": (str,), "context_source": (str,), "model": (str, _NONE)},
    "attempt": {"reply": (str,), "messages_hash": (str, _NONE), "system_hash": (str, _NONE), "usage": (dict, _NONE),
                "model": (str, _NONE), "stop_reason": (str, _NONE), "attempt": (int,), "verdict": (str, _NONE)},
    "result": {"output_hash": (str, _NONE)},
}
"""Per kind of record, the fields a replay reads and the types they must have (other fields are
kept and not read).  A header needs ``goal`` and ``input_ir``; ``attempts`` is 1 to
:data:`MAX_ATTEMPTS`, ``flags`` maps names to booleans, ``usage`` holds non-negative integer
token counts and a ``cost_usd`` number or null."""
_REQUIRED = {"header": ("goal", "input_ir")}
_USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "calls")


def _show(v: Any) -> str:
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_record(obj: dict[str, Any], p: str, n: int) -> None:
    kind = obj["kind"]

    def bad(key: str, want: str) -> ProposerError:
        return ProposerError(f"{p}:{n}: {kind} field '{key}' must be {want}, got {_show(obj.get(key))}",
                             fix="the transcript is corrupt or was edited by hand", loc=Location(p, n, 1))

    fields = FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return
    for key in _REQUIRED.get(kind, ()):
        if key not in obj:
            raise ProposerError(f"{p}:{n}: {kind} has no '{key}' field", loc=Location(p, n, 1))
    for key, types in fields.items():
        if key not in obj:
            continue
        v = obj[key]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            raise bad(key, " or ".join("null" if t is _NONE else t.__name__ for t in types))
    if "attempts" in fields and "attempts" in obj and not 1 <= obj["attempts"] <= MAX_ATTEMPTS:
        raise bad("attempts", f"1 to {MAX_ATTEMPTS}")
    if "flags" in obj and not all(isinstance(k, str) and isinstance(v, bool) for k, v in obj["flags"].items()):
        raise bad("flags", "an object of true/false values")
    usage = obj.get("usage") if kind == "attempt" else None
    if usage:
        counts_ok = all(isinstance(usage.get(k, 0), int) and not isinstance(usage.get(k, 0), bool)
                        and 0 <= usage.get(k, 0) < 1 << 62 for k in _USAGE_COUNTS)
        cost = usage.get("cost_usd")
        if not counts_ok or not (cost is None or isinstance(cost, (int, float)) and not isinstance(cost, bool)):
            raise bad("usage", "token counts (integers >= 0) and a cost_usd number or null")


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
