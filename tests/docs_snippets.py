"""Code blocks of README.md and docs/*.md, read from the Markdown and run as a reader would.

A document is one session: its blocks run top to bottom in one scratch directory holding a copy
of ``examples/``, so a later block sees what earlier ones defined or wrote.  The fence's info
string says what a block is and how it is checked (README.md, "Quick start", says the same):

- ``python``: run in one interpreter per document (as when a reader pastes the blocks into one
  session).
- ``bash``: run with ``bash -euo pipefail``.  Lines that install (``pip install ...``) are not
  run: the snippet test runs inside the environment they build, and ``.ci/run`` runs the
  README's install and test command on a clean clone.  A block whose every line is a plain
  ``graphsynth-*`` command runs each one forked from a process that has imported the tools
  (tests/tool_server.py: the same entry point, arguments, directory and environment, without
  seconds of start-up per command); any other block runs in bash.
- ``console``: a shell session.  Each ``$ command`` runs; the lines up to the next ``$`` are
  its expected output (stdout then stderr), compared line by line (``...`` on a line of its own
  stands for any number of lines).  A command shown without output must succeed silently.
- ``gs``: IR text; it must parse and verify.
- ``toml``, ``json``: a configuration file or a document; it must parse.
- ``text``: not run (output listings, illustrations, IR with elisions).

``file=PATH`` after ``python`` or ``gs`` marks an excerpt: the block must occur verbatim in
that file, which runs elsewhere; a python excerpt is not run again here.

``python tests/docs_snippets.py BLOCKS.json`` is the runner the test starts for one document.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KINDS = ("python", "bash", "console", "gs", "toml", "json", "text")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>.*)$")


@dataclass
class Block:
    """One fenced block: ``line`` is the 1-based line of its first content line."""

    doc: Path
    line: int
    kind: str  # the first word of the info string ("" when the fence has none)
    attrs: dict[str, str] = field(default_factory=dict)
    code: str = ""

    @property
    def where(self) -> str:
        return f"{display(self.doc)}:{self.line}"


def display(doc: Path) -> str:
    """``docs/x.md`` for the repository's documents, the path itself for others."""
    try:
        return str(doc.resolve().relative_to(ROOT))
    except ValueError:
        return str(doc)


def blocks(doc: Path) -> list[Block]:
    """Every fenced block of ``doc`` in order (an unclosed fence ends at the end of the file)."""
    out: list[Block] = []
    lines = doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, indent = m.group("fence"), m.group("indent")
        words = m.group("info").split()
        kind = words[0] if words else ""
        attrs = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        start = i + 1
        j = start
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        body = [x[len(indent):] if x.startswith(indent) else x.lstrip() for x in lines[start:j]]
        out.append(Block(doc, start + 1, kind, attrs, "\n".join(body) + "\n"))
        i = j + 1
    return out


def _closes(line: str, fence: str) -> bool:
    """A closing fence: the opening fence's character, at least as many, nothing else."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def all_blocks() -> list[Block]:
    return [b for doc in DOCUMENTS for b in blocks(doc)]


def shell_lines(block: Block) -> list[tuple[int, str]]:
    """The lines of a ``bash`` block that the test runs, with their line numbers (installs
    left out; a line ending in a backslash joined with the next)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for k, raw in enumerate(block.code.splitlines()):
        if pending is not None:
            line = (pending[0], pending[1] + "\n" + raw)
        else:
            line = (block.line + k, raw)
        if raw.endswith("\\"):
            pending = line
            continue
        pending = None
        if not line[1].strip() or line[1].lstrip().startswith("#") or is_install(line[1]):
            continue
        out.append(line)
    if pending is not None:
        out.append(pending)
    return out


def is_install(command: str) -> bool:
    return command.lstrip().startswith("pip install ")


@dataclass
class Step:
    """One ``$ command`` of a ``console`` block and the output shown under it."""

    line: int
    command: str
    expected: list[str]


def console_steps(block: Block) -> list[Step]:
    steps: list[Step] = []
    for k, raw in enumerate(block.code.splitlines()):
        if raw.startswith("$ "):
            steps.append(Step(block.line + k, raw[2:], []))
        elif steps:
            steps[-1].expected.append(raw)
        elif raw.strip():
            raise ValueError(f"{block.where}: a console block starts with '$ command'")
    return steps


def output_matches(expected: list[str], got: list[str]) -> bool:
    """Line by line, trailing blanks ignored; a line ``...`` matches any run of lines."""
    exp = [x.rstrip() for x in expected]
    act = [x.rstrip() for x in got]
    while exp and not exp[-1]:
        exp.pop()
    while act and not act[-1]:
        act.pop()

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(exp):
            return j == len(act)
        if exp[i] == "...":
            return any(match(i + 1, k) for k in range(j, len(act) + 1))
        return j < len(act) and exp[i] == act[j] and match(i + 1, j + 1)

    return match(0, 0)


# -- the runner: one document, top to bottom, in the current directory ------------------------------


class SnippetFailure(Exception):
    """A block did not do what the document shows."""


def run_shell(block: Block) -> None:
    import subprocess

    lines = shell_lines(block)
    plan = [_plain(cmd) for _line, cmd in lines]
    if lines and all(commands is not None for commands in plan):
        for (line, cmd), commands in zip(lines, plan):
            for command in commands or ():
                code, out, err = _tools().run(command)
                if code != 0:
                    raise SnippetFailure(f"{display(block.doc)}:{line}: $ {cmd}\nexit {code}\n--- stdout\n{out[-4000:]}--- stderr\n{err[-4000:]}")
        return
    script = "set -euo pipefail\n" + "\n".join(cmd for _line, cmd in lines) + "\n"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SnippetFailure(f"{block.where}: exit {proc.returncode}\n{script}--- stdout\n{proc.stdout[-4000:]}--- stderr\n{proc.stderr[-4000:]}")


def run_console(block: Block) -> None:
    import subprocess

    steps = console_steps(block)
    if not steps:
        raise SnippetFailure(f"{block.where}: empty console block")
    for step in steps:
        commands = _plain(step.command)
        if commands is not None and len(commands) == 1 and commands[0].stdout_path is None:
            code, stdout, stderr = _tools().run(commands[0])
        else:
            proc = subprocess.run(["bash", "-c", step.command], capture_output=True, text=True, stdin=subprocess.DEVNULL)
            code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        got = (stdout + stderr).splitlines()
        where = f"{display(block.doc)}:{step.line}: $ {step.command}"
        printed = f"exit {code}\n--- stdout\n{stdout[-4000:]}--- stderr\n{stderr[-4000:]}"
        if not any(x.strip() for x in step.expected):
            if code != 0 or got:
                raise SnippetFailure(f"{where}\nshown without output, but:\n{printed}")
        elif not output_matches(step.expected, got):
            shown = "\n".join(step.expected)
            raise SnippetFailure(f"{where}\n--- shown in the document\n{shown}\n--- printed\n{printed}")


def _plain(command: str) -> list[Any] | None:
    """The command as graphsynth commands the tool server runs, or None: bash runs it (always,
    with SNIPPETS_SHELL_ONLY=1)."""
    import os

    from tool_server import plain_commands

    return None if os.environ.get("SNIPPETS_SHELL_ONLY") == "1" else plain_commands(command)


_DOCUMENT_TOOLS: set[str] = set()  # filled by run_document before the first block runs


@functools.cache
def _tools() -> Any:
    """The document's tool server, made on first use."""
    from tool_server import ToolServer

    return ToolServer(_DOCUMENT_TOOLS)


def _tools_of(blocks_to_run: list[Block]) -> set[str]:
    """The graphsynth commands the blocks run through the tool server."""
    lines = [cmd for b in blocks_to_run if b.kind == "bash" for _line, cmd in shell_lines(b)]
    lines += [s.command for b in blocks_to_run if b.kind == "console" for s in console_steps(b)]
    return {c.argv[0] for line in lines for c in (_plain(line) or ())}


def run_document(blocks_to_run: list[Block]) -> None:
    import time

    _DOCUMENT_TOOLS.update(_tools_of(blocks_to_run))
    namespace: dict[str, object] = {"__name__": "__main__"}
    started = time.perf_counter()
    for block in blocks_to_run:
        print(f"--- {block.where} ({block.kind}) at {time.perf_counter() - started:.1f} s", flush=True)
        if block.kind == "python":
            # Blank lines in front, so that tracebacks give the line in the Markdown file.
            code = compile("\n" * (block.line - 1) + block.code, display(block.doc), "exec")
            exec(code, namespace)
        elif block.kind == "bash":
            run_shell(block)
        elif block.kind == "console":
            run_console(block)


def runnable(doc: Path) -> list[Block]:
    """The blocks of ``doc`` that run, in order (excerpts, IR and text are checked elsewhere)."""
    return [b for b in blocks(doc) if b.kind in ("python", "bash", "console") and "file" not in b.attrs]


if __name__ == "__main__":
    import sys

    try:
        run_document(runnable(Path(sys.argv[1])))
    except SnippetFailure as e:
        print(e, file=sys.stderr)
        sys.exit(1)
