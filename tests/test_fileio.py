"""graphsynth.fileio: atomic writes (what is left when a write fails half way), capped reads, and
the diagnostics both give."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fileio_util import ROOT, env, file_size_limit, leftovers, unprivileged

from graphsynth import fileio
from graphsynth.fileio import FileError, atomic_open, check_writable, read_bytes, read_text, write_atomic


def code_of(e: pytest.ExceptionInfo[FileError]) -> str:
    return e.value.diagnostics[0].code


# -- atomic writes ---------------------------------------------------------------------------------

def test_new_file_gets_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.txt", "hello\n")
    finally:
        os.umask(old)
    p = tmp_path / "new.txt"
    assert p.read_text() == "hello\n"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert leftovers(tmp_path, {"new.txt"}) == []


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o755, 0o640])
def test_replacing_keeps_the_permission_bits(tmp_path: Path, mode: int) -> None:
    p = tmp_path / "f.gs"
    p.write_text("old")
    p.chmod(mode)
    inode = p.stat().st_ino
    write_atomic(p, "new")
    assert p.read_text() == "new"
    assert stat.S_IMODE(p.stat().st_mode) == mode
    assert p.stat().st_ino != inode, "replaced by rename, not rewritten in place"


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.gs"
    real.write_text("old")
    link = tmp_path / "link.gs"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_devices_are_written_as_streams() -> None:
    write_atomic("/dev/null", "discarded")  # no temporary file in /dev, /dev/null stays a device
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("failure", [KeyboardInterrupt, fileio.Interrupted, RuntimeError])
def test_an_exception_half_way_leaves_the_target_and_no_temporary_file(tmp_path: Path, failure: type) -> None:
    p = tmp_path / "out.gs"
    p.write_text("the user's file\n")
    exc = failure(signal.SIGTERM) if failure is fileio.Interrupted else failure()
    with pytest.raises(failure):
        with atomic_open(p, "w") as f:
            f.write("half of the new contents " * 1000)
            f.flush()
            raise exc
    assert p.read_text() == "the user's file\n"
    assert leftovers(tmp_path, {"out.gs"}) == []


def test_an_oserror_half_way_is_gs002(tmp_path: Path) -> None:
    p = tmp_path / "out.gs"
    p.write_text("kept")
    with pytest.raises(FileError) as e:
        with atomic_open(p, "wb") as f:
            f.write(b"x" * 100)
            raise OSError(28, "No space left on device")
    assert code_of(e) == "GS002" and "No space left on device" in e.value.diagnostics[0].message
    assert p.read_text() == "kept" and leftovers(tmp_path, {"out.gs"}) == []


def test_file_size_limit_half_way_in_a_real_process(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: the write fails after 4 KiB of 1 MiB; the target keeps its old bytes."""
    p = tmp_path / "out.bin"
    p.write_bytes(b"old")
    code = ("from graphsynth.fileio import FileError, write_atomic\ntry:\n"
            f"    write_atomic({str(p)!r}, b'x' * 2**20)\nexcept FileError as e:\n    print(e.diagnostics[0].render())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), cwd=ROOT,
                       preexec_fn=file_size_limit(4096), timeout=120)
    assert r.stdout.startswith("error[GS002]") and "File too large" in r.stdout, r
    assert p.read_bytes() == b"old" and leftovers(tmp_path, {"out.bin"}) == []


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda t: t, "Is a directory"),
        (lambda t: t / "missing" / "f.gs", "folder"),
        (lambda t: ((t / "file").write_text(""), t / "file" / "f.gs")[1], "is not a folder"),
        (lambda t: "", "empty path"),
    ],
)
def test_check_writable(tmp_path: Path, make, fragment: str) -> None:
    with pytest.raises(FileError) as e:
        check_writable(make(tmp_path))
    assert code_of(e) == "GS002" and fragment in e.value.diagnostics[0].message


def test_unwritable_folder_and_read_only_file(tmp_path: Path) -> None:
    """Permission bits, checked in a process that cannot override them."""
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "old.gs").write_text("x")
    ro.chmod(0o555)
    locked = tmp_path / "locked.gs"
    locked.write_text("locked")
    locked.chmod(0o444)
    code = (
        "import sys\nfrom graphsynth.fileio import FileError, write_atomic\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n        write_atomic(p, 'new')\n        print('written', p)\n"
        "    except FileError as e:\n        print(e.diagnostics[0].code, e.diagnostics[0].message)\n"
    )
    try:
        r = subprocess.run([sys.executable, "-c", code, str(ro / "new.gs"), str(ro / "old.gs"), str(locked)],
                           capture_output=True, text=True, env=env(), cwd=ROOT, preexec_fn=unprivileged(), timeout=120)
    finally:
        ro.chmod(0o755)
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("GS002") and "Permission denied" in line for line in lines), r
    assert (ro / "old.gs").read_text() == "x" and locked.read_text() == "locked"
    assert sorted(p.name for p in ro.iterdir()) == ["old.gs"]


# -- capped reads ----------------------------------------------------------------------------------

def test_read_limit_refuses_big_regular_files_from_their_size(tmp_path: Path) -> None:
    p = tmp_path / "big.gs"
    with open(p, "wb") as f:
        f.truncate(3 * 2**30)  # sparse: 3 GiB that were never written
    t = time.perf_counter()
    with pytest.raises(FileError) as e:
        read_bytes(p)
    assert time.perf_counter() - t < 1.0
    assert code_of(e) == "GS003" and "3 GiB" in e.value.diagnostics[0].message


@pytest.mark.parametrize("limit", [1, 1000, 2**20 + 7])
def test_endless_input_stops_at_the_limit(limit: int) -> None:
    with pytest.raises(FileError) as e:
        read_bytes("/dev/zero", limit=limit)
    assert code_of(e) == "GS003"


def test_exactly_the_limit_is_read(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"a" * 100)
    assert read_bytes(p, limit=100) == b"a" * 100
    with pytest.raises(FileError):
        read_bytes(p, limit=99)


def test_limit_from_the_environment_and_from_the_tool(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"a" * 2048)
    monkeypatch.setenv(fileio.READ_LIMIT_ENV, "1K")
    with pytest.raises(FileError):
        read_bytes(p)
    with fileio.limited_reads(4096):
        assert len(read_bytes(p)) == 2048  # the tool's --read-limit wins over the environment
    monkeypatch.setenv(fileio.READ_LIMIT_ENV, "lots")
    with pytest.raises(FileError) as e:
        read_bytes(p)
    assert code_of(e) == "GS003" and "GRAPHSYNTH_READ_LIMIT" in e.value.diagnostics[0].message


@pytest.mark.parametrize("text, n", [("65536", 65536), ("512K", 512 * 1024), ("64m", 64 * 2**20), ("1G", 2**30),
                                     ("2 MiB", 2 * 2**20), ("1_000", 1000)])
def test_parse_size(text: str, n: int) -> None:
    assert fileio.parse_size(text) == n


@pytest.mark.parametrize("text", ["", "0", "-1", "1T", "abc", "1.5M", "١٢", "9" * 30])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        fileio.parse_size(text)


def test_read_errors_are_gs001(tmp_path: Path) -> None:
    with pytest.raises(FileError) as e:
        read_bytes(tmp_path / "missing")
    assert code_of(e) == "GS001" and "No such file" in e.value.diagnostics[0].message
    with pytest.raises(FileError) as e:
        read_bytes(tmp_path)
    assert code_of(e) == "GS001" and "Is a directory" in e.value.diagnostics[0].message


def test_not_utf8_is_located(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(FileError) as e:
        read_text(p, what="transcript")
    d = e.value.diagnostics[0]
    assert d.code == "GS001" and d.loc is not None and (d.loc.line, d.loc.column) == (2, 8)
    assert "not UTF-8" in d.message


def test_unreadable_file_is_gs001(tmp_path: Path) -> None:
    p = tmp_path / "secret.gs"
    p.write_text("x")
    p.chmod(0)
    code = "import sys\nfrom graphsynth.fileio import FileError, read_bytes\ntry:\n    read_bytes(sys.argv[1])\n" \
           "except FileError as e:\n    print(e.diagnostics[0].code, e.diagnostics[0].message)\n"
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, env=env(), cwd=ROOT,
                       preexec_fn=unprivileged(), timeout=120)
    assert r.stdout.startswith("GS001") and "Permission denied" in r.stdout, r
