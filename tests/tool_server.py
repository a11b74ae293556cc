"""graphsynth's own commands, run in processes forked from one that has already imported them.

A document's shell lines are mostly ``graphsynth-*`` commands, and each one started as a new
interpreter spends seconds importing torch (and torch._dynamo, which the first optimizer pulls
in) before it does a second of work.  The snippet runner hands such a line to this module
instead: a multiprocessing *forkserver* imports the tools' modules once, without running
anything (so no thread pool exists when it forks), and each command is a fresh process forked
from it that calls the same console-script entry point with the same arguments, working
directory and environment, stdin on /dev/null and stdout/stderr to files: what a shell would
have run, less the start-up.

Only plain commands qualify: a graphsynth console script with literal arguments, ``&&`` between
such commands and one ``> FILE`` at the end of a command.  Anything else a shell would expand
(variables, globs, pipes, other programs) returns ``None`` from :func:`plain_commands`, and the
runner gives the whole block to bash.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import multiprocessing
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass

# Imported by the server before it forks, besides the entry points' modules of the tools a
# document runs: the dependencies of the commands that train (torch._dynamo comes with the first
# optimizer), when the document runs such a command.  For a document of quick queries they
# would cost more than they save.
_TRAINING_TOOLS = ("graphsynth-train", "graphsynth-synth")
_TRAINING_PRELOAD = ("torch", "torch._dynamo", "graphsynth.train.trainer", "graphsynth.synth.search", "anthropic")
# Characters a shell would treat specially outside quotes (expansions, globs, history, grouping).
_SPECIAL = set("$`*?[]{}~!()|;<")
_OTHER_REDIRECT = re.compile(r"\d>|>&|&>|>>")  # stderr, appending, both: the shell's business


def _entry_points() -> dict[str, str]:
    """console-script name -> 'module:function', for graphsynth's own scripts."""
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")
            if ep.name.startswith("graphsynth-") and ep.value.startswith("graphsynth.")}


@dataclass(frozen=True)
class Command:
    argv: list[str]
    stdout_path: str | None  # ``> FILE``


def _unquoted_special(line: str) -> bool:
    """Whether ``line`` has a character a shell would expand or act on outside quotes."""
    quote = ""
    escaped = False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return False  # a comment: the rest is not run
        elif ch in _SPECIAL:
            return True
    return False


def plain_commands(line: str) -> list[Command] | None:
    """The commands of one shell line if each is a plain graphsynth command, else None."""
    if _unquoted_special(line) or "\n" in line or _OTHER_REDIRECT.search(line):
        return None
    lexer = shlex.shlex(line, posix=True, punctuation_chars="&>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    scripts = _entry_points()
    commands: list[Command] = []
    current: list[str] = []
    redirect: str | None = None
    i = 0
    while i <= len(tokens):
        tok = tokens[i] if i < len(tokens) else "&&"
        if tok == "&&":
            if not current or current[0] not in scripts or "=" in current[0]:
                return None
            commands.append(Command(current, redirect))
            current, redirect = [], None
        elif tok == ">":
            if redirect is not None or i + 1 >= len(tokens) or tokens[i + 1] in ("&&", ">"):
                return None
            redirect = tokens[i + 1]
            i += 1
        elif redirect is not None or set(tok) <= set("&>"):
            return None  # an argument after the redirection, or another operator
        else:
            current.append(tok)
        i += 1
    return commands


def _run_tool(target: str, argv: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked process: the console script's ``sys.exit(main())`` with the caller's setting."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(f, fd)
        os.close(f)
    sys.argv = list(argv)
    module, _, func = target.partition(":")
    sys.exit(getattr(importlib.import_module(module), func)())


class ToolServer:
    """Forks graphsynth commands from a process that has imported the tools (one per runner)."""

    def __init__(self, tools: set[str]) -> None:
        """``tools``: the console scripts the document runs (their modules are preloaded)."""
        self._scripts = _entry_points()
        preload = [self._scripts[t].partition(":")[0] for t in sorted(tools) if t in self._scripts]
        if tools & set(_TRAINING_TOOLS):
            preload[:0] = _TRAINING_PRELOAD
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(preload)

    def run(self, command: Command) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of one command; stdout goes to its file when redirected."""
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.abspath(command.stdout_path) if command.stdout_path else os.path.join(tmp, "out")
            err = os.path.join(tmp, "err")
            p = self._ctx.Process(target=_run_tool, args=(self._scripts[command.argv[0]], command.argv, os.getcwd(),
                                                          dict(os.environ), out, err))
            p.start()
            p.join()
            stdout = "" if command.stdout_path else _read(out)
            code = 1 if p.exitcode is None else p.exitcode if p.exitcode >= 0 else 128 - p.exitcode  # as bash: 128+signal
            return code, stdout, _read(err)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
