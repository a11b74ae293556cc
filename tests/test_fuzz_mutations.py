"""Issue 3, "Bad input": mutate valid IR text and check that the tool either accepts it or
reports diagnostics with a location, and never crashes.

The texts are the shipped examples and generated modules; the mutations delete, duplicate and
swap lines, change numbers and names, insert random characters and bytes, and truncate.  Each
mutant goes through ``parse_ir`` + ``verify`` in process (and, when it is accepted, through the
printer and back); a smaller number go through ``graphsynth-opt`` in a subprocess, where the exit
code must be 0 or 1 and stderr must hold JSON diagnostics, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_budget import examples

from graphsynth.cli import emit, parse_mlir
from graphsynth.cli import main as cli_main
from graphsynth.diagnostics import Diagnostic, ParseError
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.testing.strategies import modules
from graphsynth.verifier import verify

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "examples").glob("*.gs")) + sorted((ROOT / "examples" / "llm").glob("*.gs"))
# Beside the examples: digit-led names and module paths (nn.Sequential keys) and a fused region.
SEQUENTIAL = """graph Seq(input: f32[B, 4], mask: bool[B, 4]) -> f32[B, 2] {
  param 0.weight: f32[4, 4]
  param 2.0.weight: f32[2, 4]
  module 0 : Linear {
    %0: f32[B, 4] = linear(input, 0.weight)
  }
  %1: f32[B, 4] = where(mask, %0, -inf)
  %2: f32[B, 4] = fused(%1) {
    ^(%a: f32[B, 4])
    %b: f32[B, 4] = mul(%a, 0.5)
    %c: f32[B, 4] = relu(%b)
    yield %c
  }
  module 2 : Sequential {
    module 2.0 : Linear {
      %3: f32[B, 2] = linear(%2, 2.0.weight)
    }
  }
  %4: f32[B, 2] = reshape(%3, shape=[B, -1])
  return %4
}
"""
TEXTS = [p.read_text() for p in SOURCES] + [SEQUENTIAL]
FUZZ = settings(max_examples=examples(400), deadline=None, database=None, suppress_health_check=list(HealthCheck))

_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
_WORD = re.compile(r"%?[A-Za-z_][A-Za-z0-9_.]*")
_KEYWORDS = [
    "graph",
    "module",
    "param",
    "buffer",
    "return",
    "yield",
    "fused",
    "None",
    "true",
    "f32",
    "i64",
    "bool",
    "S",
    "B",
    "%0",
    "zz",
    "%zz",
]
_NUMBERS = ["0", "-1", "1", "2", "7", "-3", "1.5", "1e400", "nan", "-inf", "99999999999999999999999"]
_JUNK = list('{}()[],:=%^-+*/"\'\\#@$!<>.\t\r\n ') + ["\x00", "\x7f", "\ufffd", "\ufeff", "\u2028", "é", "//", "// -----", "->"]
KINDS = ("delete", "duplicate", "swap", "number", "name", "insert", "bytes", "truncate")


def mutate_once(text: str, kind: str, rnd: random.Random) -> str:
    """One mutation of ``kind`` at random positions chosen by ``rnd``."""
    lines = text.split("\n")
    if kind == "delete":
        del lines[rnd.randrange(len(lines))]
    elif kind == "duplicate":
        lines.insert(rnd.randrange(len(lines) + 1), lines[rnd.randrange(len(lines))])
    elif kind == "swap":
        i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind in ("number", "name"):
        found = list((_NUMBER if kind == "number" else _WORD).finditer(text))
        if not found:
            return text
        m = rnd.choice(found)
        pool = _NUMBERS if kind == "number" else sorted({w.group() for w in found}) + _KEYWORDS
        return text[: m.start()] + rnd.choice(pool) + text[m.end() :]
    elif kind == "insert":
        pos = rnd.randrange(len(text) + 1)
        return text[:pos] + rnd.choice(_JUNK) + text[pos:]
    elif kind == "bytes":
        pos = rnd.randrange(len(text) + 1)
        junk = "".join(chr(rnd.randrange(0, 0x250)) for _ in range(rnd.randint(1, 4)))
        return text[:pos] + junk + text[pos:]
    elif kind == "truncate":
        return text[: rnd.randrange(len(text) + 1)]
    return "\n".join(lines)


def mutate(text: str, seed: int, count: int = 1) -> str:
    rnd = random.Random(seed)
    for _ in range(count):
        text = mutate_once(text, rnd.choice(KINDS), rnd)
    return text


@st.composite
def mutants(draw) -> str:
    """A valid text (an example or a generated module) with 1-3 mutations; the mutation
    positions come from a drawn seed, the kinds from drawn choices (so failures shrink to one
    mutation of one kind)."""
    if draw(st.booleans()):
        text = draw(st.sampled_from(TEXTS))
    else:
        text = print_ir(draw(modules(max_ops=6)))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3)):
        text = mutate_once(text, kind, rnd)
    return text


def check_located(diags: list[Diagnostic], text: str) -> None:
    assert diags, "an error without diagnostics"
    n_lines = text.count("\n") + 2
    for d in diags:
        assert d.code and re.fullmatch(r"GS\d{3}", d.code), d
        assert d.message, d
        assert d.loc is not None, f"diagnostic without a location: {d.render()}\n--- input ---\n{text}"
        assert 1 <= d.loc.line <= n_lines and d.loc.column >= 1, (d.render(), text)
        d.render()
        json.loads(d.to_json())


def check_text(text: str, filename: str = "fuzz.gs") -> bool:
    """parse + verify: accepted (and then print/parse stable), or located diagnostics."""
    try:
        m = parse_ir(text, filename=filename)
    except ParseError as e:
        check_located(e.diagnostics, text)
        return False
    diags = verify(m)
    if diags:
        check_located(diags, text)
        return False
    out = print_ir(m)
    again = parse_ir(out)
    assert verify(again) == [], out
    assert print_ir(again) == out
    return True


@FUZZ
@given(mutants())
def test_mutated_text_is_accepted_or_diagnosed_in_process(text):
    check_text(text)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(mutants(), st.sampled_from([[], ["-p", "canonicalize,cse,dce"], ["--emit=mlir"], ["--split-input-file"], ["--diagnostics=json"]]))
def test_mutated_text_through_the_cli_in_process(tmp_path_factory, text: str, flags: list[str]) -> None:
    """The whole tool in-process: exit 0 or 1 and no exception, whatever the input and flags."""
    path = tmp_path_factory.mktemp("fuzz") / "in.gs"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(path), *flags])
    assert code in (0, 1), err.getvalue()
    if code == 1:
        assert re.search(r"in\.gs:\d+:\d+: error\[GS\d{3}\]|\"line\": \d+", err.getvalue()), err.getvalue()


@settings(max_examples=examples(200), deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(TEXTS), st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_mutated_mlir_is_accepted_or_diagnosed(text, seed, count):
    """The MLIR generic form of the examples, mutated, read as graphsynth-opt reads a .mlir
    file: never a crash; when accepted it verifies and prints as text that parses back."""
    generic = emit(parse_ir(text), "mlir")
    mutated = mutate(generic, seed, count)
    try:
        m = parse_mlir(mutated, "fuzz.mlir")
    except ParseError as e:
        check_located(e.diagnostics, mutated)
        return
    diags = verify(m)
    if diags:
        check_located(diags, mutated)
        return
    out = print_ir(m)
    assert print_ir(parse_ir(out)) == out


def test_bytes_input_is_diagnosed():
    for data in (b"\xff\xfe\x00garbage", bytes(range(256)), b"graph G(x: f32[2]) -> f32[2] {\n  return x\n}\n\x80"):
        try:
            parse_ir(data, filename="bin.gs")
        except ParseError as e:
            check_located(e.diagnostics, data.decode("latin-1"))
        else:
            raise AssertionError(f"{data!r} was accepted")


# -- through the command line ----------------------------------------------------------------------


def _opt() -> list[str]:
    exe = shutil.which("graphsynth-opt")
    return [exe] if exe else [sys.executable, "-m", "graphsynth.cli"]


def _json_documents(stderr: str) -> list:
    """graphsynth-opt --diagnostics=json writes one JSON array per chunk."""
    decoder = json.JSONDecoder()
    docs, i = [], 0
    while i < len(stderr):
        if stderr[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(stderr, i)
        docs.append(doc)
    return docs


def _run_cli(data: bytes, *args: str, tmp_path: Path, name: str = "fuzz.gs") -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run([*_opt(), str(path), "--diagnostics=json", *args], capture_output=True, timeout=120)


def _check_cli(proc: subprocess.CompletedProcess, what: str) -> list:
    err = proc.stderr.decode("utf-8", errors="replace")
    assert proc.returncode in (0, 1), f"exit code {proc.returncode} for {what}:\n{err}"
    assert "Traceback" not in err, f"traceback for {what}:\n{err}"
    docs = _json_documents(err)
    diags = [d for doc in docs for d in doc]
    if proc.returncode == 1:
        assert diags, f"exit code 1 without diagnostics for {what}"
    for d in diags:
        assert d["loc"] is not None and d["loc"]["line"] >= 1 and d["loc"]["column"] >= 1, (what, d)
    return diags


def test_cli_on_single_mutants(tmp_path):
    """A handful of mutants, one graphsynth-opt process each (each process costs ~0.5 s)."""
    rnd = random.Random(1234)
    for k in range(8):
        text = rnd.choice(TEXTS)
        mutated = mutate(text, seed=rnd.randrange(2**32), count=1 + k % 3).encode("utf-8", errors="surrogatepass")
        proc = _run_cli(mutated, tmp_path=tmp_path)
        diags = _check_cli(proc, f"mutant #{k}")
        if proc.returncode == 0:
            assert not diags and proc.stdout.startswith(b"graph ")


def test_cli_on_many_mutants_in_one_split_file(tmp_path):
    """Many mutants in one process with --split-input-file: each chunk is accepted or diagnosed;
    the binary-garbage and empty chunks too."""
    rnd = random.Random(99)
    chunks = []
    for _ in range(60):
        mutated = mutate(rnd.choice(TEXTS), seed=rnd.randrange(2**32), count=rnd.randint(1, 3))
        chunks.append(mutated.replace("// -----", "//"))  # keep the chunk boundaries ours
    chunks += ["", "\x00\x01\x02 binary", "graph G(x: f32[B]) -> f32[B] {\n  return x\n"]
    data = "\n// -----\n".join(chunks).encode("utf-8", errors="surrogatepass")
    proc = _run_cli(data, "--split-input-file", tmp_path=tmp_path)
    diags = _check_cli(proc, "split file")
    assert proc.returncode == 1 and len(diags) >= 3


def test_cli_on_mutated_mlir(tmp_path):
    generic = emit(parse_ir(TEXTS[0]), "mlir")
    rnd = random.Random(7)
    for k in range(3):
        mutated = mutate(generic, seed=rnd.randrange(2**32), count=2)
        proc = _run_cli(mutated.encode("utf-8", errors="surrogatepass"), tmp_path=tmp_path, name=f"fuzz{k}.mlir")
        _check_cli(proc, f"mlir mutant #{k}")
