"""Every code block of README.md and docs/*.md runs as written (the convention: tests/docs_snippets.py).

A block that stops working fails here with its file and line, so the docs cannot drift from
the code.  Each run happens in a scratch directory holding a copy of ``examples/``, with the
tools of this environment first on PATH.  The LLM guide's example asks the Messages API for an
edit: here it talks to :class:`graphsynth.llm.fakeserver.FakeServer` on 127.0.0.1, which answers
with the replies of the shipped transcript recorded for that goal (only the remote service is
stood in for; the SDK, the driver, the parser and the verifier are the real ones).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docs_snippets import KINDS, ROOT, Block, all_blocks, console_steps, output_matches, shell_lines

BLOCKS = all_blocks()
TIMEOUT = 300

# Documents whose Python talks to the Messages API -> the transcript whose replies the stand-in
# service gives, in order.
SERVICE_REPLIES = {"docs/llm.md": ROOT / "examples" / "llm" / "insert_block.jsonl"}

_RUNNER = r"""
import json, sys
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for b in blocks:
    print(f"--- running {b['where']}", flush=True)
    # Blank lines in front, so that tracebacks give the line in the Markdown file.
    exec(compile("\n" * (b["line"] - 1) + b["code"], b["doc"], "exec"), namespace)
"""


def _rel(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def _of(kind: str, excerpts: bool = False) -> list[Block]:
    return [b for b in BLOCKS if b.kind == kind and ("file" in b.attrs) == excerpts]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), e.get("PATH", "")])
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e["MPLBACKEND"] = "Agg"
    e["LC_ALL"] = "C.UTF-8"
    e["PYTHONIOENCODING"] = "utf-8"
    e.pop("ANTHROPIC_API_KEY", None)
    e.pop("ANTHROPIC_BASE_URL", None)
    return e


def _show(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"


def test_every_block_says_what_it_is():
    """An untagged fence would be silently unchecked: every block names one of the kinds."""
    assert BLOCKS, "no code blocks found"
    untagged = [f"{b.where} ('{b.kind}')" for b in BLOCKS if b.kind not in KINDS]
    assert not untagged, f"fences must be tagged {'/'.join(KINDS)}: {untagged}"
    bad_attrs = [b.where for b in BLOCKS if set(b.attrs) - {"file"} or ("file" in b.attrs and b.kind not in ("python", "gs"))]
    assert not bad_attrs, f"only python and gs blocks take file=: {bad_attrs}"


PY_DOCS = sorted({b.doc for b in _of("python")})


@pytest.mark.parametrize("doc", PY_DOCS, ids=_rel)
def test_python_blocks_run(doc: Path, scratch: Path, env: dict[str, str]):
    blocks = [{"doc": _rel(b.doc), "where": b.where, "line": b.line, "code": b.code} for b in _of("python") if b.doc == doc]
    spec = scratch / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    replies = SERVICE_REPLIES.get(_rel(doc))
    if replies is None:
        proc = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    else:
        from graphsynth.llm.fakeserver import FakeServer, reply

        lines = [json.loads(x) for x in replies.read_text(encoding="utf-8").splitlines() if x.strip()]
        steps = [reply(a["reply"]) for a in lines if a.get("kind") == "attempt"]
        with FakeServer(steps) as server:
            env = dict(env, ANTHROPIC_API_KEY="sk-ant-snippet-test", ANTHROPIC_BASE_URL=server.url)
            proc = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        assert server.requests, "the document's code never reached the Messages API"
    assert proc.returncode == 0, _show(proc)


@pytest.mark.parametrize("block", [b for b in _of("bash") if shell_lines(b)], ids=lambda b: b.where)
def test_bash_block_runs(block: Block, scratch: Path, env: dict[str, str]):
    script = "set -euo pipefail\n" + "\n".join(cmd for _line, cmd in shell_lines(block)) + "\n"
    proc = subprocess.run(["bash", "-c", script], cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{block.where}:\n{script}\n{_show(proc)}"


@pytest.mark.parametrize("block", _of("console"), ids=lambda b: b.where)
def test_console_session_prints_what_it_shows(block: Block, scratch: Path, env: dict[str, str]):
    steps = console_steps(block)
    assert steps, f"{block.where}: empty console block"
    for step in steps:
        proc = subprocess.run(["bash", "-c", step.command], cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        got = (proc.stdout + proc.stderr).splitlines()
        where = f"{block.doc.relative_to(ROOT)}:{step.line}: $ {step.command}"
        if not step.expected or not any(x.strip() for x in step.expected):
            assert proc.returncode == 0 and not got, f"{where}: shown without output, but\n{_show(proc)}"
        else:
            shown = "\n".join(step.expected)
            assert output_matches(step.expected, got), f"{where}\n--- shown in the doc\n{shown}\n--- printed\n{_show(proc)}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind == "gs"], ids=lambda b: b.where)
def test_ir_blocks_parse_and_verify(block: Block):
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    module = parse_ir(block.code, filename=block.where)
    assert verify(module) == [], block.where


@pytest.mark.parametrize("block", _of("python", excerpts=True) + _of("gs", excerpts=True), ids=lambda b: b.where)
def test_excerpts_are_in_their_file(block: Block):
    path = ROOT / block.attrs["file"]
    assert path.is_file(), f"{block.where}: no file {block.attrs['file']}"
    text = "\n".join(x.rstrip() for x in path.read_text(encoding="utf-8").splitlines())
    excerpt = "\n".join(x.rstrip() for x in block.code.splitlines()).strip("\n")
    assert excerpt in text, f"{block.where}: the block is not (or no longer) in {block.attrs['file']}"
