"""What the command-line tools do to files when things go wrong, run as real processes: a write
that fails half way (file-size limit), a read-only folder, an unreadable input, Ctrl-C and SIGTERM
in the middle of a run, ``-o`` naming the input, ``--split-input-file`` with a failing chunk, and
every path problem of every tool and flag that takes a path (a diagnostic and exit 2)."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from fileio_util import BAD, GOOD, chain, command, env, file_size_limit, leftovers, run, unprivileged

TRANSCRIPT = Path(__file__).resolve().parents[1] / "examples" / "llm" / "insert_block.jsonl"

FACTORY = '''
import torch
from torch import nn

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return torch.tanh(torch.relu(self.fc(x)))

def build():
    return Tiny(), (torch.randn(2, 4),), {"x": {0: "N"}}
'''


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


# -- a write that fails half way -------------------------------------------------------------------

@pytest.mark.parametrize("same_as_input", [False, True])
def test_file_size_limit_leaves_the_output_as_it_was(tmp_path: Path, same_as_input: bool) -> None:
    src = tmp_path / "big.gs"
    src.write_text(chain(400))  # ~12 KB of output
    out = src if same_as_input else tmp_path / "out.gs"
    if not same_as_input:
        out.write_text("the user's old output\n")
    before = out.read_bytes()
    r = run("opt", src, "-o", out, preexec=file_size_limit(4096))
    no_traceback(r)
    assert r.returncode == 2
    assert re.match(rf"graphsynth-opt: error\[GS002\]: cannot write '{re.escape(str(out))}': File too large", r.stderr)
    assert out.read_bytes() == before
    assert leftovers(tmp_path, {"big.gs", "out.gs"}) == []


def test_output_equal_to_the_input_is_replaced_whole(tmp_path: Path) -> None:
    src = tmp_path / "m.gs"
    src.write_text(GOOD.replace("relu", "tanh"))
    src.chmod(0o640)
    r = run("opt", src, "-p", "canonicalize", "-o", src)
    assert r.returncode == 0, r.stderr
    assert src.read_text() == GOOD.replace("relu", "tanh")
    assert stat.S_IMODE(src.stat().st_mode) == 0o640
    mlir = run("opt", src, "--emit=mlir", "-o", src)
    assert mlir.returncode == 0 and src.read_text().startswith('"builtin.module"')
    assert leftovers(tmp_path, {"m.gs"}) == []


# -- permissions -----------------------------------------------------------------------------------

@pytest.fixture()
def read_only_dir(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "old.gs").write_text("old\n")
    ro.chmod(0o555)
    yield ro
    ro.chmod(0o755)


def test_read_only_folder_every_writer(tmp_path: Path, read_only_dir: Path) -> None:
    src = tmp_path / "m.gs"
    src.write_text(GOOD)
    factory = tmp_path / "tinyfactory.py"
    factory.write_text(FACTORY)
    drop = unprivileged()
    cases = [
        ("opt", [src, "-o", read_only_dir / "new.gs"]),
        ("opt", [src, "-o", read_only_dir / "old.gs"]),
        ("opt", ["--replay", TRANSCRIPT, "-o", read_only_dir / "r.gs"]),
        ("opt", [src, "--view-op-graph", read_only_dir / "g.dot"]),
        ("import", [f"{factory}:build", "-o", read_only_dir / "i.gs"]),
        ("opt", ["--import", f"{factory}:build", "-o", read_only_dir / "i.gs"]),
    ]
    for tool, args in cases:
        r = run(tool, *args, preexec=drop)
        no_traceback(r)
        assert r.returncode == 2, (args, r.stderr)
        assert "error[GS002]" in r.stderr and "Permission denied" in r.stderr, r.stderr
        assert r.stdout == ""
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["old.gs"]
    assert (read_only_dir / "old.gs").read_text() == "old\n"


def test_unreadable_input_every_reader(tmp_path: Path) -> None:
    secret = tmp_path / "secret.gs"
    secret.write_text(GOOD)
    secret.chmod(0)
    transcript = tmp_path / "t.jsonl"
    transcript.write_bytes(TRANSCRIPT.read_bytes())
    transcript.chmod(0)
    drop = unprivileged()
    factory = tmp_path / "secretfactory.py"
    factory.write_text(FACTORY)
    factory.chmod(0)
    for tool, args in [("opt", [secret]), ("query", ["cone", secret]), ("opt", ["--replay", transcript]),
                       ("import", [f"{factory}:build"]), ("opt", ["--import", f"{factory}:build"])]:
        r = run(tool, *args, preexec=drop)
        no_traceback(r)
        assert r.returncode == 2 and "error[GS001]" in r.stderr and "Permission denied" in r.stderr, r.stderr


# -- interrupts ------------------------------------------------------------------------------------

def _interrupt(tmp_path: Path, sig: int, extra: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Start graphsynth-opt on a FIFO (so we know it is running once the FIFO opens), feed it a
    big graph, and signal it while it reads, parses or verifies."""
    fifo = tmp_path / "in.gs"
    os.mkfifo(fifo)
    out = tmp_path / "out.gs"
    out.write_text("the user's old output\n")
    p = subprocess.Popen(command("opt", fifo, "-o", out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    try:
        with open(fifo, "w") as f:  # returns once the tool has opened its input
            f.write(chain(20000)[: 400_000])  # about half the graph, then the pipe stays open a moment
            f.flush()
            time.sleep(0.3)
            p.send_signal(sig)
            time.sleep(0.2)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    return subprocess.CompletedProcess(p.args, p.returncode, stdout.decode(), stderr.decode()), out


@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_while_reading(tmp_path: Path, sig: int, code: int, name: str) -> None:
    r, out = _interrupt(tmp_path, sig, [])
    no_traceback(r)
    assert r.returncode == code
    assert r.stderr.splitlines() == [f"graphsynth-opt: error[GS004]: interrupted by {name}: no output file was written or changed"]
    assert out.read_text() == "the user's old output\n"
    assert leftovers(tmp_path, {"in.gs", "out.gs"}) == []


def _wait_for_cpu_time(p: subprocess.Popen, seconds: float, timeout: float = 120.0) -> None:
    """Wait until ``p`` has run ``seconds`` of CPU time (past its start-up, into the work), so that
    a loaded machine (parallel test workers) cannot deliver the signal before the tool started.
    Without /proc, a fixed wait."""
    stat = Path(f"/proc/{p.pid}/stat")
    if not stat.exists():
        time.sleep(1.5)
        return
    tick = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / tick >= seconds:  # utime + stime
            return
        time.sleep(0.05)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_the_middle_of_a_slow_run(tmp_path: Path, sig: int, code: int) -> None:
    """A 30k-op graph takes seconds to parse, verify and canonicalize: signal it half way."""
    src = tmp_path / "big.gs"
    src.write_text(chain(30000))
    out = tmp_path / "out.gs"
    out.write_text("old\n")
    p = subprocess.Popen(command("opt", src, "-p", "canonicalize,cse", "-o", out, "--diagnostics=json"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    _wait_for_cpu_time(p, 1.0)
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == code, stderr
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and '"code": "GS004"' in lines[0], lines
    assert out.read_text() == "old\n" and leftovers(tmp_path, {"big.gs", "out.gs"}) == []


# -- --split-input-file ----------------------------------------------------------------------------

def test_split_input_file_with_a_failing_chunk_leaves_the_output(tmp_path: Path) -> None:
    text = GOOD + "// -----\n" + BAD + "// -----\n" + GOOD.replace("graph M", "graph N")
    src = tmp_path / "in.gs"
    src.write_text(text)
    r = run("opt", "--split-input-file", src, "-o", src)
    no_traceback(r)
    assert r.returncode == 1 and "GS301" in r.stderr
    assert src.read_text() == text, "no chunk of the user's file was dropped"
    other = tmp_path / "other.gs"
    other.write_text("kept\n")
    assert run("opt", "--split-input-file", src, "-o", other).returncode == 1
    assert other.read_text() == "kept\n"
    # Every chunk passes: the output is written, every chunk in it.
    fixed = text.replace(BAD, GOOD.replace("graph M", "graph L"))
    src.write_text(fixed)
    r = run("opt", "--split-input-file", src, "-o", src)
    assert r.returncode == 0, r.stderr
    assert [line for line in src.read_text().splitlines() if line.startswith("graph")] == [
        "graph M(x: f32[B, 4]) -> f32[B, 4] {", "graph L(x: f32[B, 4]) -> f32[B, 4] {", "graph N(x: f32[B, 4]) -> f32[B, 4] {"]


# -- path problems: a diagnostic and exit 2, for every tool and flag --------------------------------

PATH_CASES = [
    # (tool, args, code, fragment); {t} is the test's folder, {good} a valid .gs file in it
    ("opt", ["{good}", "-o", "{t}/missing/dir/x.gs"], "GS002", "does not exist"),
    ("opt", ["{good}", "-o", "{t}"], "GS002", "Is a directory"),
    ("opt", ["{good}", "-o", "{good}/x.gs"], "GS002", "is not a folder"),
    ("opt", ["{t}/nope.gs"], "GS001", "No such file"),
    ("opt", ["{t}"], "GS001", "Is a directory"),
    ("opt", ["--replay", "{transcript}", "-o", "{t}/missing/dir/x.gs"], "GS002", "does not exist"),
    ("opt", ["--replay", "{transcript}", "-o", "{t}"], "GS002", "Is a directory"),
    ("opt", ["--replay", "{t}/missing.jsonl"], "GS001", "No such file"),
    ("opt", ["--replay", "{t}"], "GS001", "Is a directory"),
    ("opt", ["--replay", "{binary}"], "GS001", "not UTF-8"),
    ("opt", ["{good}", "--view-op-graph", "{t}/missing/g.svg"], "GS002", "does not exist"),
    ("opt", ["{good}", "--view-op-graph", "{t}"], "GS807", "cannot write"),
    ("opt", ["{good}", "--view-op-graph", "{t}/g.bmp"], "GS807", "'.bmp'"),
    ("opt", ["--import", "{factory}:build", "-o", "{t}/missing/x.gs"], "GS002", "does not exist"),
    ("opt", ["--import", "{factory}:build", "-o", "{t}"], "GS002", "Is a directory"),
    ("import", ["{factory}:build", "-o", "{t}/missing/x.gs"], "GS002", "does not exist"),
    ("import", ["{factory}:build", "-o", "{t}"], "GS002", "Is a directory"),
    ("import", ["{t}/missing.py:build"], "GS001", "No such file"),
    ("import", ["{t}:build"], "GS001", "Is a directory"),
    ("opt", ["--import", "{t}/missing.py:build"], "GS001", "No such file"),
    ("opt", ["{good}", "-p", 'llm-rewrite{goal="x" proposer=replay replay="{transcript}" transcript="{t}/no/t.jsonl"}'],
     "GS002", "cannot write transcript"),
    ("opt", ["{good}", "--read-limit", "1M", "-p", 'llm-rewrite{goal="x" proposer=replay replay="/dev/zero"}'],
     "GS003", "exceeds the read limit"),
    ("query", ["cone", "{t}/nope.gs"], "GS001", "No such file"),
    ("query", ["cone", "{t}"], "GS001", "Is a directory"),
    ("query", ["paths", "{t}", "--from", "x", "--to", "return"], "GS001", "Is a directory"),
]


@pytest.mark.parametrize("tool, args, code, fragment", PATH_CASES)
def test_path_problems_are_diagnostics_with_exit_2(tmp_path: Path, tool: str, args: list[str], code: str, fragment: str) -> None:
    good = tmp_path / "good.gs"
    good.write_text(GOOD)
    factory = tmp_path / "tinyfactory.py"
    factory.write_text(FACTORY)
    binary = tmp_path / "t.jsonl"
    binary.write_bytes(b'{"kind": "header"}\n\xff\xfe\n')
    subst = {"{t}": str(tmp_path), "{good}": str(good), "{factory}": str(factory), "{transcript}": str(TRANSCRIPT),
             "{binary}": str(binary)}

    def fill(a: str) -> str:
        for k, v in subst.items():
            a = a.replace(k, v)
        return a

    before = sorted(p.name for p in tmp_path.iterdir())
    r = run(tool, *[fill(a) for a in args], cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 2, r.stderr
    assert f"error[{code}]" in r.stderr and fragment in r.stderr, r.stderr
    assert r.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing written, no temporary file left"


def test_json_diagnostics_for_path_problems(tmp_path: Path) -> None:
    r = run("opt", tmp_path / "nope.gs", "--diagnostics=json")
    assert r.returncode == 2
    import json

    [d] = json.loads(r.stderr)
    assert d["code"] == "GS001" and "nope.gs" in d["message"]


# -- read limits -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "tool, args",
    [
        ("opt", ["/dev/zero", "--read-limit", "1M"]),
        ("opt", ["--replay", "/dev/zero", "--read-limit", "1M"]),
        ("query", ["cone", "/dev/zero", "--read-limit", "1M"]),
        ("opt", ["-", "--read-limit", "100K"]),
    ],
)
def test_endless_inputs_stop_at_the_read_limit(tool: str, args: list[str]) -> None:
    t = time.perf_counter()
    r = run(tool, *args, stdin=b"\0" * 300_000 if "-" in args else None)
    no_traceback(r)
    assert r.returncode == 2 and "error[GS003]" in r.stderr and "exceeds the read limit" in r.stderr, r.stderr
    assert time.perf_counter() - t < 30


def test_default_read_limit_on_dev_zero_is_bounded() -> None:
    """With no flag: the default limit (64 MiB) stops /dev/zero; memory stays near the limit."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *command("opt", "--replay", "/dev/zero")], capture_output=True,
                       text=True, env=env(), timeout=120) if Path("/usr/bin/time").exists() else None
    if r is None:
        r2 = run("opt", "--replay", "/dev/zero")
        assert r2.returncode == 2 and "GS003" in r2.stderr
        return
    assert r.returncode == 2 and "GS003" in r.stderr and "64 MiB" in r.stderr
    peak_kb = int(r.stderr.strip().splitlines()[-1])
    assert peak_kb < 400_000, f"peak RSS {peak_kb} KB"


def test_read_limit_from_the_environment(tmp_path: Path) -> None:
    src = tmp_path / "m.gs"
    src.write_text(GOOD)
    r = run("opt", src, extra_env={"GRAPHSYNTH_READ_LIMIT": "64"})
    assert r.returncode == 2 and "error[GS003]" in r.stderr and "64 bytes" in r.stderr
    assert run("opt", src, "--read-limit", "1K", extra_env={"GRAPHSYNTH_READ_LIMIT": "64"}).returncode == 0
    bad = run("opt", src, "--read-limit", "lots")
    assert bad.returncode == 2 and "usage:" in bad.stderr


# -- --import and graphsynth-import ----------------------------------------------------------------

def test_import_writes_to_stdout_and_runs_the_pipeline(tmp_path: Path, monkeypatch, capsys) -> None:
    """In-process (torch.export is the slow part, and the suite has torch loaded already)."""
    from graphsynth.cli import main as opt_main
    from graphsynth.frontend.cli import main as import_main

    monkeypatch.chdir(tmp_path)
    factory = tmp_path / "tinyfactory.py"
    factory.write_text(FACTORY)
    assert import_main([f"{factory}:build", "-o", "-"]) == 0
    plain = capsys.readouterr().out
    assert "graph Tiny(x: f32[N, 4])" in plain and "fused" not in plain
    assert opt_main(["--import", f"{factory}:build", "-p", "fuse-elementwise"]) == 0
    fused = capsys.readouterr().out
    assert "fused" in fused and "tanh" in fused
    out = tmp_path / "t.gs"
    assert opt_main(["--import", f"{factory}:build", "-p", "fuse-elementwise", "-o", str(out)]) == 0
    assert capsys.readouterr().out == "" and out.read_text() == fused
    assert opt_main(["--import", f"{factory}:build", "-p", "no-such-pass"]) == 2
    assert "GS404" in capsys.readouterr().err
    assert opt_main(["--import", f"{factory}:build", str(out)]) == 2
    assert "drop the input file" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_import_of_a_module_that_fails_to_load(tmp_path: Path) -> None:
    failing = tmp_path / "failing.py"
    failing.write_text("raise RuntimeError('broken at import')\n")
    r = run("import", f"{failing}:build", cwd=tmp_path)
    no_traceback(r)
    assert r.returncode == 2 and "broken at import" in r.stderr


def test_replay_output_to_a_file_and_through_a_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "r.gs"
    out.write_text("old")
    out.chmod(0o600)
    r = run("opt", "--replay", TRANSCRIPT, "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("graph ") and stat.S_IMODE(out.stat().st_mode) == 0o600
    r = run("opt", "--replay", TRANSCRIPT, "-p", "canonicalize", "--emit=mlir")
    assert r.returncode == 0 and r.stdout.startswith('"builtin.module"')


def test_split_input_file_reads_each_chunk_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A chunk is parsed without text standing in for the chunks before it, so the characters
    handed to the parser and the source store grow with the file, not with its square, and the
    diagnostics still carry the file's lines with their source lines."""
    import graphsynth.diagnostics as diagnostics
    import graphsynth.grammar.parser as parser
    from graphsynth.cli import main

    chunk = "graph G(x: f32[B]) -> f32[B] {\n  return y\n}\n// -----\n"
    handed: list[int] = []
    stored: list[int] = []
    real_parse, real_store = parser.parse_ir, diagnostics.remember_source

    def parse(text: str, *a: object, **k: object) -> object:
        handed.append(len(text))
        return real_parse(text, *a, **k)

    def store(filename: str, text: str, *a: object) -> None:
        stored.append(len(text))
        real_store(filename, text, *a)

    monkeypatch.setattr(parser, "parse_ir", parse)
    monkeypatch.setattr(parser, "remember_source", store)
    for n in (50, 400):
        src = tmp_path / f"chunks{n}.gs"
        src.write_text(chunk * n)
        handed.clear()
        stored.clear()
        assert main([str(src), "--split-input-file"]) == 1
        err = capsys.readouterr().err
        size = len(chunk) * n
        assert len(handed) == n + 1 and sum(handed) <= size and sum(stored) <= size
        errors = [line for line in err.splitlines() if "GS201" in line]
        assert len(errors) == n
        assert errors[-1].startswith(f"{src}:{4 * (n - 1) + 2}:10: error[GS201]"), errors[-1]
        assert err.count("\n  return y\n         ^") == n
