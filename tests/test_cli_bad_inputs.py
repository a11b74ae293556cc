"""Malformed input through ``graphsynth-opt``: every kind gets diagnostics with a file:line:column
and exit code 1 (usage problems: one line and exit code 2), never a traceback.

Most cases call the tool's ``main()`` in this process (:func:`run_tool`), with byte streams in
place of stdin, stdout and stderr: the same code path and exit code as the installed command,
without starting Python and importing torch for each case.  The tests about the process itself
(stdin, a missing or unreadable input, an unencodable byte reaching the terminal) run it as a
subprocess (``python -m graphsynth.cli``, :func:`run_process`), the way users and lit do.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCATED = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>GS\d{3})\]: ", re.M)

GOOD = """graph M(x: f32[B, 4]) -> f32[B, 4] {
  param w: f32[4, 4]
  %0: f32[B, 4] = linear(x, w)
  %1: f32[B, 4] = relu(%0)
  return %1
}
"""


def run_tool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``graphsynth-opt ARGS`` in this process: ``main()``'s return value (or argparse's exit
    status) and what it wrote, as bytes, like :func:`run_process` gives them.  The streams are
    UTF-8 like the subprocess's (its environment sets PYTHONIOENCODING); stderr escapes what it
    cannot encode, as Python's own stderr does."""
    from graphsynth.cli import main

    def stream(data: bytes, errors: str) -> io.TextIOWrapper:
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors, newline="\n", write_through=True)

    fin, fout, ferr = stream(stdin or b"", "strict"), stream(b"", "strict"), stream(b"", "backslashreplace")
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(fout))
        stack.enter_context(contextlib.redirect_stderr(ferr))
        saved_stdin, sys.stdin = sys.stdin, fin
        stack.callback(setattr, sys, "stdin", saved_stdin)
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's usage errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return subprocess.CompletedProcess(["graphsynth-opt", *args], code, fout.buffer.getvalue(), ferr.buffer.getvalue())


def run_process(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``graphsynth-opt ARGS`` as a process (``python -m graphsynth.cli``)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "graphsynth.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def decoded(p: subprocess.CompletedProcess) -> tuple[str, str]:
    return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_diagnosed(path: Path, code: str, line: int | None = None, *extra: str, run=run_tool) -> str:
    """Run the tool on ``path``: exit 1, no traceback, a located diagnostic with ``code``."""
    p = run(str(path), *extra)
    out, err = decoded(p)
    assert p.returncode == 1, (p.returncode, err)
    assert "Traceback" not in err
    assert out == "", "nothing is printed for an input that does not verify"
    found = [m for m in LOCATED.finditer(err)]
    assert found, f"no located diagnostic in:\n{err}"
    assert all(m["file"] == str(path) for m in found), err
    codes = [m["code"] for m in found]
    assert code in codes, err
    if line is not None:
        assert any(m["code"] == code and int(m["line"]) == line for m in found), err
    return err


CASES = {
    # name: (text or bytes, code, line)
    "truncated": (GOOD[: GOOD.index("relu(") + 7], "GS102", 4),
    "truncated_at_line_end": (GOOD[: GOOD.index("  return")], "GS102", 4),
    "unknown_op": (GOOD.replace("relu(", "rleu("), "GS207", 4),
    "unknown_symbol_in_type": (GOOD.replace("%1: f32[B, 4]", "%1: f32[Q, 4]"), "GS210", 4),
    "wrong_arity": (GOOD.replace("relu(%0)", "relu(%0, %0)"), "GS208", 4),
    "missing_operand": (GOOD.replace("linear(x, w)", "linear(x)"), "GS208", 3),
    "shape_mismatch": (GOOD.replace("param w: f32[4, 4]", "param w: f32[4, 5]"), "GS301", 3),
    "declared_type_wrong": (GOOD.replace("%1: f32[B, 4]", "%1: f32[B, 5]"), "GS305", 4),
    "use_before_def": (
        GOOD.replace("  %0: f32[B, 4] = linear(x, w)\n  %1: f32[B, 4] = relu(%0)\n", "  %1: f32[B, 4] = relu(%0)\n  %0: f32[B, 4] = linear(x, w)\n"),
        "GS203",
        3,
    ),
    "cycle": (GOOD.replace("linear(x, w)", "linear(%1, w)"), "GS204", None),
    "self_loop": (GOOD.replace("relu(%0)", "add(%0, %1)"), "GS204", 4),
    "duplicate_name": (GOOD.replace("%1: f32[B, 4] = relu(%0)", "%0: f32[B, 4] = relu(%0)").replace("return %1", "return %0"), "GS202", 4),
    "duplicate_param": (GOOD.replace("  param w: f32[4, 4]\n", "  param w: f32[4, 4]\n  param w: f32[4, 8]\n"), "GS206", 3),
    "undefined_value": (GOOD.replace("relu(%0)", "relu(%9)"), "GS201", 4),
    "no_return": (GOOD.replace("  return %1\n", ""), "GS211", 1),
    "empty_file": ("", "GS104", 1),
    "only_whitespace": ("\n\n   \n\t\n", "GS104", 1),
    "only_comments": ("// nothing here\n// at all\n", "GS104", 1),
    "invalid_utf8": (b"graph M(x: f32[B, 4]) -> f32[B, 4] {\n  return \xff\xfex\n}\n", "GS103", 2),
    "nul_bytes": (GOOD.replace("relu", "re\x00lu"), "GS103", 4),
    "random_bytes": (bytes(range(256)) * 4, "GS103", 2),  # byte 128 is on line 2 (byte 10 is a newline)
    "utf16_text": (GOOD.encode("utf-16"), "GS103", 1),
    "huge_int_literal": (GOOD.replace("relu(%0)", "mul(%0, " + "9" * 400 + ")"), "GS108", 4),
    "huge_dim": (GOOD.replace("param w: f32[4, 4]", "param w: f32[4, " + "9" * 30 + "]"), "GS108", 2),
    "deeply_nested_dim": (GOOD.replace("f32[B, 4] {", "f32[B, " + "(" * 3000 + "4" + ")" * 3000 + "] {", 1), "GS109", 1),
    "deeply_nested_attr": (GOOD.replace("relu(%0)", "reshape(%0, shape=" + "[" * 3000 + "]" * 3000 + ")"), "GS109", 4),
    "garbage_after_op": (GOOD.replace("relu(%0)", "relu(%0) @@@"), "GS103", 4),
    "bad_attribute_value": (GOOD.replace("relu(%0)", 'softmax(%0, dim="one")'), "GS106", 4),
    "unknown_attribute": (GOOD.replace("relu(%0)", "relu(%0, inplace=true)"), "GS209", 4),
    "negative_dim": (GOOD.replace("param w: f32[4, 4]", "param w: f32[4, -4]"), "GS105", 2),
    "unprovable_dims": (GOOD.replace("x: f32[B, 4]) ->", "x: f32[B, S]) ->").replace("param w: f32[4, 4]", "param w: f32[4, T]"), "GS210", 2),
    "cannot_prove": (
        "graph M(x: f32[B, S], y: f32[B, T]) -> f32[B, S] {\n  %0: f32[B, S] = add(x, y)\n  return %0\n}\n",
        "GS304",
        2,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_diagnosed(tmp_path: Path, name: str) -> None:
    data, code, line = CASES[name]
    path = tmp_path / f"{name}.gs"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    check_diagnosed(path, code, line)


@pytest.mark.parametrize("name", ["invalid_utf8", "random_bytes", "deeply_nested_dim", "cannot_prove"])
def test_bad_input_is_diagnosed_by_the_process(tmp_path: Path, name: str) -> None:
    """The same through a real process: undecodable bytes, the deepest nesting (the process's own
    stack) and a verifier error, each with its exit code and no traceback."""
    data, code, line = CASES[name]
    path = tmp_path / f"{name}.gs"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    check_diagnosed(path, code, line, run=run_process)


def test_good_input_passes(tmp_path: Path) -> None:
    path = tmp_path / "good.gs"
    path.write_text(GOOD)
    p = run_process(str(path))
    assert p.returncode == 0, decoded(p)[1]
    assert decoded(p)[0] == GOOD


def test_every_diagnostic_of_a_file_is_reported(tmp_path: Path) -> None:
    """Independent verifier errors in one graph are all reported, each on its own line."""
    text = GOOD.replace("param w: f32[4, 4]", "param w: f32[4, 5]").replace("relu(%0)", "relu(x, x)")
    path = tmp_path / "two.gs"
    path.write_text(text)
    err = check_diagnosed(path, "GS301", 3)
    assert [(m["code"], m["line"]) for m in LOCATED.finditer(err)] == [("GS301", "3"), ("GS208", "4")]


def test_diagnostic_has_source_line_and_caret(tmp_path: Path) -> None:
    path = tmp_path / "caret.gs"
    path.write_text(GOOD.replace("relu(%0)", "relu(%0) $"))
    err = check_diagnosed(path, "GS103", 4)
    lines = err.splitlines()
    head = next(i for i, ln in enumerate(lines) if "error[GS103]" in ln)
    col = int(LOCATED.search(lines[head] + "\n")["col"])
    assert lines[head + 1] == "  %1: f32[B, 4] = relu(%0) $"
    assert lines[head + 2] == " " * (col - 1) + "^"
    assert lines[head + 1][col - 1] == "$"


def test_stdin_input_is_named_stdin() -> None:
    p = run_process(stdin=GOOD.replace("relu(", "rleu(").encode())
    out, err = decoded(p)
    assert p.returncode == 1 and "Traceback" not in err
    assert err.startswith("<stdin>:4:19: error[GS207]: rleu: unknown op"), err


def test_stdin_binary_garbage() -> None:
    p = run_process("-", stdin=b"\x00\x01\x02garbage\xff")
    out, err = decoded(p)
    assert p.returncode == 1 and "Traceback" not in err
    assert LOCATED.search(err) and "GS103" in err


def test_directory_as_input_is_a_usage_error(tmp_path: Path) -> None:
    p = run_process(str(tmp_path))
    out, err = decoded(p)
    assert p.returncode == 2 and "Traceback" not in err
    assert err.strip() == f"graphsynth-opt: error[GS001]: cannot read input '{tmp_path}': Is a directory"


def test_nonexistent_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gs"
    p = run_process(str(missing))
    out, err = decoded(p)
    assert p.returncode == 2 and "Traceback" not in err
    assert err.strip() == f"graphsynth-opt: error[GS001]: cannot read input '{missing}': No such file or directory"


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "GS104"),
        (b'"builtin.module"() ({\n}) : () -> ()\n', "GS211"),
        (b'"builtin.module"() ({\n  "gs.graph"() <{sym_name = "M"', "GS101"),
        (bytes(range(256)), "GS101"),
        (b'"builtin.module"() ({\n  "gs.frob"() : () -> ()\n}) : () -> ()\n', "GS101"),
    ],
)
def test_bad_mlir_input_is_diagnosed(tmp_path: Path, data: bytes, code: str) -> None:
    path = tmp_path / "bad.mlir"
    path.write_bytes(data)
    check_diagnosed(path, code)
