"""Every code block of README.md and docs/*.md runs as written (the convention: tests/docs_snippets.py).

A block that stops working fails here with its file and line, so the docs cannot drift from
the code.  Each document runs top to bottom in a scratch directory holding a copy of
``examples/``, with the tools of this environment first on PATH.  Documents whose code asks the
Messages API for something (an IR edit, a synthesis proposal, a diagnosis, a designer's change)
talk to :class:`graphsynth.llm.fakeserver.FakeServer` on 127.0.0.1, which answers with scripted
replies (see ``_service``): only the remote service is stood in for; the SDK, the drivers, the
parser, the verifier and the trainings are real.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_snippets import DOCUMENTS, KINDS, ROOT, Block, all_blocks, output_matches, runnable

from graphsynth.llm.fakeserver import FakeServer, Step, reply

BLOCKS = all_blocks()
TIMEOUT = 600
RUNNER = Path(__file__).resolve().parent / "docs_snippets.py"

# Documents that talk to the Messages API -> what the stand-in service answers, request by request:
# the replies of a shipped transcript; edits of the digits task's seed (a wrong one first, so that
# the diagnostics go back; the last applies to either parent a tournament may pick); or the
# scripted designer that recorded the shipped design sessions, which answers what it is asked.
SYNTHESIS_REPLIES = [
    "<<<<<<< SEARCH\n%1: f32[B, 32] = relu(%0)\n=======\n%1: f32[B, 32] = relu(%7)\n>>>>>>> REPLACE",
    "<<<<<<< SEARCH\n%1: f32[B, 32] = relu(%0)\n=======\n%1: f32[B, 32] = gelu(%0)\n>>>>>>> REPLACE",
    "<<<<<<< SEARCH\nreturn %2\n=======\n%t: f32[B, 10] = tanh(%2)\nreturn %t\n>>>>>>> REPLACE",
]
DESIGNER_REQUESTS = 200  # more than training.md asks for; a request beyond them fails the run


def _service(doc: str) -> list[Step] | None:
    if doc == "docs/llm.md":
        path = ROOT / "examples" / "llm" / "insert_block.jsonl"
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        return [reply(a["reply"]) for a in lines if a.get("kind") == "attempt"]
    if doc == "docs/synthesis.md":
        return [reply(r) for r in SYNTHESIS_REPLIES]
    if doc == "docs/training.md":
        spec = importlib.util.spec_from_file_location("record_sessions", ROOT / "examples" / "train" / "record_sessions.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.ScriptedDesigner("digits")
        return [Step(text=model) for _ in range(DESIGNER_REQUESTS)]
    return None


def _rel(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), e.get("PATH", "")])
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e["MPLBACKEND"] = "Agg"
    e["LC_ALL"] = "C.UTF-8"
    e["PYTHONIOENCODING"] = "utf-8"
    e.pop("ANTHROPIC_API_KEY", None)
    e.pop("ANTHROPIC_BASE_URL", None)
    return e


def test_every_block_says_what_it_is():
    """An untagged fence would be silently unchecked: every block names one of the kinds."""
    assert BLOCKS, "no code blocks found"
    untagged = [f"{b.where} ('{b.kind}')" for b in BLOCKS if b.kind not in KINDS]
    assert not untagged, f"fences must be tagged {'/'.join(KINDS)}: {untagged}"
    bad_attrs = [b.where for b in BLOCKS if set(b.attrs) - {"file"} or ("file" in b.attrs and b.kind not in ("python", "gs"))]
    assert not bad_attrs, f"only python and gs blocks take file=: {bad_attrs}"


@pytest.mark.long
@pytest.mark.parametrize("doc", [d for d in DOCUMENTS if runnable(d)], ids=_rel)
def test_document_runs_top_to_bottom(doc: Path, tmp_path: Path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, str(RUNNER), str(doc)]
    steps = _service(_rel(doc))
    if steps is None:
        proc = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    else:
        scripted = len(steps)
        with FakeServer(steps) as server:
            env = dict(_env(), ANTHROPIC_API_KEY="sk-ant-snippet-test", ANTHROPIC_BASE_URL=server.url)
            proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        assert server.requests, "the document's code never reached the Messages API"
        assert len(server.requests) <= scripted, f"{len(server.requests)} requests, {scripted} scripted replies"
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-8000:]}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind == "gs"], ids=lambda b: b.where)
def test_ir_blocks_parse_and_verify(block: Block):
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    module = parse_ir(block.code, filename=block.where)
    assert verify(module) == [], block.where


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind in ("toml", "json")], ids=lambda b: b.where)
def test_toml_and_json_blocks_parse(block: Block):
    import tomllib

    parsed = tomllib.loads(block.code) if block.kind == "toml" else json.loads(block.code)
    assert isinstance(parsed, dict) and parsed, block.where


@pytest.mark.parametrize("block", [b for b in BLOCKS if "file" in b.attrs], ids=lambda b: b.where)
def test_excerpts_are_in_their_file(block: Block):
    path = ROOT / block.attrs["file"]
    assert path.is_file(), f"{block.where}: no file {block.attrs['file']}"
    text = "\n".join(x.rstrip() for x in path.read_text(encoding="utf-8").splitlines())
    excerpt = "\n".join(x.rstrip() for x in block.code.splitlines()).strip("\n")
    assert excerpt in text, f"{block.where}: the block is not (or no longer) in {block.attrs['file']}"


def test_output_matching_is_exact_but_for_ellipsis():
    """The console comparison can fail: a changed, missing or extra line is a mismatch."""
    assert output_matches(["a", "b"], ["a", "b", ""])
    assert not output_matches(["a", "b"], ["a", "c"])
    assert not output_matches(["a"], ["a", "b"])
    assert not output_matches(["a", "b"], ["a"])
    assert output_matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert output_matches(["a", "...", "z"], ["a", "z"])
    assert not output_matches(["a", "...", "z"], ["a", "b"])


def test_a_broken_block_fails_the_runner(tmp_path: Path):
    """The runner reports the Markdown line of a failing block, and compares console output."""
    doc = tmp_path / "broken.md"
    doc.write_text(
        "# t\n\n```python\nx = 1\n```\n\n```python\nassert x == 2, 'x is not 2'\n```\n",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, str(RUNNER), str(doc)], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "x is not 2" in proc.stderr and "line 8" in proc.stderr, proc.stderr
    doc.write_text("```console\n$ echo hello\nhullo\n```\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(RUNNER), str(doc)], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "hullo" in proc.stderr and "hello" in proc.stderr, proc.stderr


def test_the_tool_server_runs_what_the_shell_would(tmp_path: Path):
    """A plain graphsynth command forked from the tool server prints and exits as the same
    command started by bash; anything a shell would expand is left to bash."""
    from tool_server import ToolServer, plain_commands

    assert plain_commands("graphsynth-opt a.gs -p 'x{y=1}'  # note")[0].argv == ["graphsynth-opt", "a.gs", "-p", "x{y=1}"]
    for shell_only in ("graphsynth-opt $F", "graphsynth-opt *.gs", "graphsynth-opt a.gs | cat", "X=1 graphsynth-opt a.gs",
                       "graphsynth-opt a.gs 2> e", "graphsynth-opt a.gs >> o", "sed s/a/b/ a.gs", "graphsynth-opt a.gs &"):
        assert plain_commands(shell_only) is None, shell_only
    (tmp_path / "bad.gs").write_text("graph G(x: f32[B]) -> f32[B] {\n  return y\n}\n", encoding="utf-8")
    server = ToolServer({"graphsynth-opt"})
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for line in (f"graphsynth-opt {ROOT / 'examples' / 'mlp.gs'} -p canonicalize", "graphsynth-opt bad.gs"):
            (command,) = plain_commands(line)
            code, out, err = server.run(command)
            proc = subprocess.run(["bash", "-c", line], env=_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL)
            assert (code, out, err) == (proc.returncode, proc.stdout, proc.stderr), line
        (command,) = plain_commands("graphsynth-opt bad.gs > out.gs")
        assert server.run(command)[0] == 1 and (tmp_path / "out.gs").read_text() == ""
    finally:
        os.chdir(cwd)
