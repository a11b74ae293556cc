"""Reading inputs and writing outputs so that nothing the user had is lost or half-written.

Every tool of the project reads and writes files through this module:

- **Reads are capped.**  :func:`read_bytes`/:func:`read_text` stop at a limit (default
  :data:`DEFAULT_READ_LIMIT`, 64 MiB; ``$GRAPHSYNTH_READ_LIMIT`` or a tool's ``--read-limit``
  changes it, e.g. ``256M``) and report GS003 instead of reading ``/dev/zero`` or a 50 GB file
  whole.  A regular file larger than the limit is refused from its size, before any byte is read.
- **Writes are atomic.**  :func:`atomic_open` writes a temporary file in the target's folder
  (so the rename cannot cross file systems), flushes and fsyncs it, gives it the target's
  permission bits (or the umask's defaults for a new file) and renames it over the target with
  :func:`os.replace`.  Readers see the old file or the new one, never a mix; a write that fails
  half way (disk full, file-size limit, Ctrl-C, SIGTERM) removes the temporary file and leaves the
  target as it was.  A symbolic link is written through (the file it points to is replaced, the
  link stays).  Targets that are not regular files (``/dev/null``, ``/dev/stdout``, a FIFO) are
  streams: they are written directly, as there is nothing to replace.  Replacing a file gives it
  a new inode, so hard links to the old file keep the old contents.
- **Failures are diagnostics.**  A path problem raises :class:`FileError` carrying GS001 (cannot
  read an input), GS002 (cannot write an output) or GS003 (input over the read limit); the tools
  report it and exit 2.
- **Interrupts are clean.**  :func:`run_tool` runs a tool's body with SIGINT and SIGTERM turned
  into :class:`Interrupted` (a ``KeyboardInterrupt``), so that every ``finally`` and every
  temporary-file cleanup runs; it then prints one line (GS004) and returns 130 for SIGINT, 143
  for SIGTERM (128 + the signal number, as shells report them), with no traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error, render_all

__all__ = [
    "DEFAULT_READ_LIMIT",
    "READ_LIMIT_ENV",
    "FileError",
    "Interrupted",
    "atomic_open",
    "check_writable",
    "exit_code",
    "limited_reads",
    "parse_size",
    "read_bytes",
    "read_limit",
    "read_text",
    "report",
    "run_tool",
    "write_atomic",
]

READ_LIMIT_ENV = "GRAPHSYNTH_READ_LIMIT"
DEFAULT_READ_LIMIT = 64 * 2**20
TOOL_CODES = ("GS001", "GS002", "GS003", "GS004")
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
          "g": 2**30, "gb": 2**30, "gib": 2**30}


class FileError(GraphsynthError):
    """A file could not be read or written (GS001 read, GS002 write, GS003 over the read limit)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; raised in the main thread so that cleanups run."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


# -- sizes and limits ------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    """``"64M"``, ``"512k"``, ``"1G"``, ``"1000"`` -> bytes (binary units); ValueError otherwise."""
    s = str(text).strip().lower().replace("_", "").replace(" ", "")
    digits = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(digits):]
    if not digits or not digits.isascii() or not digits.isdigit() or unit not in _UNITS or len(digits) > 18:
        raise ValueError(f"expected a size such as 65536, 512K, 64M or 1G, got {text!r}")
    n = int(digits) * _UNITS[unit]
    if n < 1:
        raise ValueError(f"a size must be at least 1 byte, got {text!r}")
    return n


_LIMIT: list[int] = []  # set by a tool's --read-limit for the whole run (see limited_reads)


@contextlib.contextmanager
def limited_reads(limit: int | None) -> Iterator[None]:
    """Within the block every read without an explicit limit uses ``limit`` (None: no change).
    A tool's ``--read-limit`` applies to every file its run reads, transcripts included."""
    if limit is None:
        yield
        return
    _LIMIT.append(limit)
    try:
        yield
    finally:
        _LIMIT.pop()


def read_limit(limit: int | None = None) -> int:
    """The read limit in bytes: ``limit`` when given, else the tool's ``--read-limit``
    (:func:`limited_reads`), else ``$GRAPHSYNTH_READ_LIMIT``, else the default.  A malformed
    environment value is a GS003 error (silently ignoring it would lift a limit the user meant
    to set)."""
    if limit is not None:
        return limit
    if _LIMIT:
        return _LIMIT[-1]
    env = os.environ.get(READ_LIMIT_ENV)
    if env is None or not env.strip():
        return DEFAULT_READ_LIMIT
    try:
        return parse_size(env)
    except ValueError as e:
        raise FileError([error("GS003", f"${READ_LIMIT_ENV}: {e}")]) from None


def _size_text(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


# -- reading ---------------------------------------------------------------------------------------

def _display(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _read_error(path: str, e: OSError, what: str) -> FileError:
    reason = e.strerror or str(e)
    if isinstance(e, IsADirectoryError):
        reason = "Is a directory"
    denied = e.errno in (errno.EACCES, errno.EPERM)
    return FileError([error("GS001", f"cannot read {what} '{_display(path)}': {reason}",
                            fix="check the file's permissions" if denied else None)])


def read_bytes(path: str | os.PathLike[str], *, limit: int | None = None, what: str = "input") -> bytes:
    """The bytes of ``path`` (``"-"`` reads stdin), at most the read limit; GS001/GS003 otherwise."""
    p = os.fspath(path)
    cap = read_limit(limit)
    if p == "-":
        return _read_capped(sys.stdin.buffer, p, cap, what)
    try:
        if os.path.isdir(p):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", p)
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", p)
            if stat.S_ISREG(st.st_mode) and st.st_size > cap:
                raise _too_big(p, cap, what, st.st_size)
            return _read_capped(f, p, cap, what)
    except OSError as e:
        raise _read_error(p, e, what) from None


def _read_capped(f: IO[bytes], path: str, cap: int, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        # Bounded chunks: a pipe or device that never ends costs at most the cap.
        chunk = f.read(min(1 << 20, cap + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            raise _too_big(path, cap, what, None)
    return b"".join(chunks)


def _too_big(path: str, cap: int, what: str, size: int | None) -> FileError:
    has = f" ({_size_text(size)})" if size is not None else ""
    return FileError([error(
        "GS003", f"{what} '{_display(path)}'{has} exceeds the read limit of {_size_text(cap)}",
        fix=f"raise the limit with --read-limit or ${READ_LIMIT_ENV} (e.g. {READ_LIMIT_ENV}=1G) if the file is meant to be this big",
    )])


def read_text(path: str | os.PathLike[str], *, limit: int | None = None, what: str = "input") -> str:
    """:func:`read_bytes` decoded as UTF-8; bytes that are not UTF-8 are GS001 at their line and
    column."""
    data = read_bytes(path, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        p = _display(os.fspath(path))
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise FileError([error("GS001", f"cannot read {what} '{p}': not UTF-8 text (byte {e.start})",
                               loc=Location(p, line, col))]) from None


# -- writing ---------------------------------------------------------------------------------------

def _write_error(path: str, e: OSError | str, fix: str | None = None) -> FileError:
    reason = e if isinstance(e, str) else (e.strerror or str(e))
    if isinstance(e, OSError) and e.errno == errno.EFBIG:
        reason += " (the file-size limit, ulimit -f, was reached)"
    if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = fix or "write somewhere you may create files"
    return FileError([error("GS002", f"cannot write '{path}': {reason}", fix=fix)])


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail early (GS002) when ``path`` cannot become an output file: a directory, a missing or
    non-directory parent, no permission.  Tools call this before the expensive work; the write
    itself is still checked."""
    p = os.fspath(path)
    if p == "-":
        return
    if not p:
        raise _write_error(p, "empty path")
    target = os.path.realpath(p)
    if os.path.isdir(target):
        raise _write_error(p, "Is a directory", "name a file, not a folder")
    parent = os.path.dirname(target) or "."
    if not os.path.exists(parent):
        raise _write_error(p, f"folder '{os.path.dirname(p) or '.'}' does not exist", "create the folder first")
    if not os.path.isdir(parent):
        raise _write_error(p, f"'{os.path.dirname(p)}' is not a folder")
    exists = os.path.lexists(target)
    if exists and not stat.S_ISREG(os.stat(target).st_mode):
        if not os.access(target, os.W_OK):
            raise _write_error(p, "Permission denied")
        return  # a device or FIFO: written as a stream
    if exists and not os.access(target, os.W_OK):
        raise _write_error(p, "Permission denied (the file is read-only)", "make it writable, or write elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _write_error(p, f"Permission denied (cannot create files in '{os.path.dirname(p) or '.'}')",
                           "write somewhere you may create files")


def umask() -> int:
    """The process's umask (new files get ``0o666 & ~umask()``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _LOCK:  # os.umask can only be read by setting it
        old = os.umask(0o022)
        os.umask(old)
    return old


_LOCK = threading.Lock()
_COMMITTED: list[str] = []  # outputs replaced since run_tool started (for the interrupt message)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM for the few system calls that must not be split (creating the
    temporary file and remembering its name; the rename): the signal is delivered right after."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, OSError, ValueError):  # pragma: no cover - platforms without sigmask
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open ``path`` for writing, atomically (see the module docstring).  ``mode`` is ``"w"`` or
    ``"wb"``.  Nothing is visible at ``path`` until the ``with`` block ends without an exception;
    OSErrors (in the block or while committing) become :class:`FileError` GS002."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    p = os.fspath(path)
    if p == "-":
        raise ValueError("atomic_open: '-' is stdout, not a file; write to sys.stdout instead")
    check_writable(p)
    target = os.path.realpath(p)
    kw: dict[str, Any] = {} if mode == "wb" else {"encoding": encoding, "newline": ""}
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _write_error(p, e) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        # /dev/null, /dev/stdout, a FIFO: a stream, not a file that could be replaced.
        try:
            with open(target, mode, **kw) as f:
                yield f
        except OSError as e:
            raise _write_error(p, e) from None
        return
    import tempfile  # here, not at the top: a run that writes no file does not load it (start-up)

    folder = os.path.dirname(target) or "."
    tmp: str | None = None
    try:
        with _signals_deferred():
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, mode, **kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~umask())
        if st is not None:
            with contextlib.suppress(OSError):  # keep the owner when allowed to (root)
                os.chown(tmp, st.st_uid, st.st_gid)
        with _signals_deferred():
            os.replace(tmp, target)
            tmp = None
            _COMMITTED.append(p)
        _fsync_folder(folder)
    except OSError as e:
        raise _write_error(p, e) from None
    finally:
        if tmp is not None:
            with _signals_deferred(), contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write ``data`` to ``path`` atomically (text is encoded as ``encoding``)."""
    with atomic_open(path, "wb") as f:
        f.write(data.encode(encoding) if isinstance(data, str) else data)


# -- reporting and interrupts ----------------------------------------------------------------------

def exit_code(diags: list[Diagnostic]) -> int:
    """2 when a diagnostic is about a path (GS001-GS003), else 1."""
    return 2 if any(d.code in ("GS001", "GS002", "GS003") for d in diags) else 1


def report(prog: str, diags: list[Diagnostic], fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Print diagnostics; in text form, a tool diagnostic without a location names the tool, as
    usage errors do (``graphsynth-opt: error[GS002]: cannot write ...``)."""
    out = stream or sys.stderr
    if fmt == "json":
        print(render_all(diags, "json"), file=out)
        return
    for d in diags:
        text = d.render()
        if d.loc is None and d.code in TOOL_CODES:
            text = f"{prog}: {text}"
        print(text, file=out)


def interrupt_diagnostic(e: KeyboardInterrupt) -> Diagnostic:
    signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
    name = signal.Signals(signum).name
    written = f"{len(_COMMITTED)} output file(s) had been written in full before" if _COMMITTED else \
        "no output file was written or changed"
    return error("GS004", f"interrupted by {name}: {written}")


def interrupt_exit_code(e: KeyboardInterrupt) -> int:
    return 128 + (e.signum if isinstance(e, Interrupted) else signal.SIGINT)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread
    (outside the main thread handlers cannot be installed, and nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        # One interrupt is enough: later ones while the tool winds down are ignored.
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_tool(prog: str, body: Callable[[], int], fmt: Callable[[], str] = lambda: "text") -> int:
    """Run a tool's ``body`` with clean interrupts and path errors: :class:`FileError` is reported
    and gives exit 2; SIGINT/SIGTERM print one GS004 line and give 130/143; a closed stdout
    (``| head``) ends quietly."""
    _COMMITTED.clear()
    with interrupts_raise():
        try:
            return body()
        except KeyboardInterrupt as e:
            d = interrupt_diagnostic(e)
            try:
                if fmt() == "json":
                    import json

                    print(json.dumps([d.to_dict()], sort_keys=True), file=sys.stderr)
                else:
                    print(f"{prog}: {d.render()}", file=sys.stderr)
            except (OSError, ValueError):
                pass
            return interrupt_exit_code(e)
        except FileError as e:
            report(prog, e.diagnostics, fmt())
            return exit_code(e.diagnostics)
        except BrokenPipeError:
            # Python would complain again while flushing stdout at exit.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
