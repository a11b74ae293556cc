"""A proposal is text that the parser and verifier judge: it is never executed, imported or
passed to a shell.  Hostile proposals are rejected with diagnostics, cleanly, and the input module
is left as it was."""

from __future__ import annotations

import builtins
import os
import subprocess

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.llm import Proposal, Usage, rewrite

TEXT = """\
graph Net(x: f32[B, 16]) -> f32[B, 16] {
  param fc.weight: f32[16, 16]
  module fc : Linear {
    %0: f32[B, 16] = linear(x, fc.weight)
  }
  %1: f32[B, 16] = relu(%0)
  return %1
}
"""
LINE = "%1: f32[B, 16] = relu(%0)"


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


class Scripted:
    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)

    def propose(self, request):
        return Proposal(self.replies.pop(0), Usage(calls=1), 0.0, "scripted")


class Forbidden(RuntimeError):
    pass


@pytest.fixture
def torch_loaded():
    """The semantics check lowers through torch.fx, whose code generator execs the Python it
    writes; import it before the guard so that only code written for a proposal is recorded."""
    import torch  # noqa: F401

    import graphsynth.backend.lower  # noqa: F401


@pytest.fixture
def guarded(monkeypatch, tmp_path):
    """Run with shells forbidden and every exec/eval of source text recorded."""
    module = parse_ir(TEXT, filename="net.gs")
    rewrite(module, "warm up the imports", Scripted([block(LINE, LINE.replace("relu", "tanh"))]))
    calls: list[str] = []
    real_exec, real_eval = builtins.exec, builtins.eval

    def recording_exec(src, *a, **k):
        if isinstance(src, (str, bytes)):
            calls.append(f"exec:{src!r}")
        return real_exec(src, *a, **k)

    def recording_eval(src, *a, **k):
        if isinstance(src, (str, bytes)):
            calls.append(f"eval:{src!r}")
        return real_eval(src, *a, **k)

    def no_shell(*a, **k):
        calls.append(f"shell:{a!r:.80}")
        raise Forbidden("shell")

    monkeypatch.setattr(builtins, "exec", recording_exec)
    monkeypatch.setattr(builtins, "eval", recording_eval)
    monkeypatch.setattr(os, "system", no_shell)
    monkeypatch.setattr(os, "popen", no_shell)
    monkeypatch.setattr(subprocess, "Popen", no_shell)
    return module, calls, tmp_path / "pwned"


HOSTILE = {
    "import as op": "%1: f32[B, 16] = __import__('os').system('touch {pwned}')",
    "import as name": "%1: f32[B, 16] = relu(__import__)",
    "backticks": "%1: f32[B, 16] = relu(`touch {pwned}`)",
    "shell in type": "%1: f32[B, $(touch {pwned})] = relu(%0)",
    "newline inside a name": "%1\n: f32[B, 16] = relu(%0)",
    "carriage return and NUL": "%1\r: f32[B, 16] = relu(%0\x00)",
    "giant dim": "%1: f32[B, 99999999999999999999999999999999999999] = relu(%0)",
    "giant attribute": "%1: f32[B, 16] = reshape(%0, shape=[B, " + "9" * 5000 + "])",
    "giant int operand": "%1: f32[B, 16] = mul(%0, " + "7" * 5000 + ")",
    "deep nesting": "%1: f32[B, " + "(" * 3000 + "16" + ")" * 3000 + "] = relu(%0)",
    "python in attribute": "%1: f32[B, 16] = gelu(%0, approximate=__import__('os').system('touch {pwned}'))",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_proposals_are_rejected_cleanly(guarded, name):
    module, calls, pwned = guarded
    before = (print_ir(module), str(module))
    replacement = HOSTILE[name].format(pwned=pwned)
    r = rewrite(module, "replace the activation", Scripted([block(LINE, replacement)]), attempts=1)
    assert not r.accepted, name
    assert r.attempts[0].verdict == "rejected"
    assert r.attempts[0].diagnostics and all(d.code.startswith("GS") for d in r.attempts[0].diagnostics)
    assert calls == []
    assert not pwned.exists()
    assert (print_ir(module), str(module)) == before


BREAKOUT = '%1: f32[B, 16] = gelu(%0, approximate="none\\"); import os; os.system(\\"touch {pwned}\\"); (\\"")'


def test_strings_from_a_proposal_never_reach_code_unescaped(torch_loaded, guarded):
    """A quoted attribute that tries to break out of a Python string literal: as IR it is just a
    string, and not one of the values gelu's approximate may take: the verifier refuses it before
    anything is lowered (the backend would refuse it too)."""
    module, calls, pwned = guarded
    before = (print_ir(module), str(module))
    edit = block(LINE, BREAKOUT.format(pwned=pwned))
    r = rewrite(module, "[preserve-semantics] use gelu", Scripted([edit]), attempts=1)
    assert not r.accepted
    assert r.attempts[0].codes == ["GS209"]
    assert "approximate" in r.attempts[0].diagnostics[0].message
    assert not [c for c in calls if c.startswith("shell") or str(pwned) in c]
    assert not pwned.exists()
    assert (print_ir(module), str(module)) == before


def test_ten_megabyte_reply(guarded):
    module, calls, _ = guarded
    huge = block(LINE, LINE.replace("relu", "tanh")) + "\n" + "A" * 10_000_000
    r = rewrite(module, "replace the activation", Scripted([huge, huge]), attempts=2)
    assert not r.accepted
    assert [a.codes for a in r.attempts] == [["GS501"], ["GS501"]]
    assert "characters long" in r.attempts[0].diagnostics[0].message
    assert calls == []


def test_hostile_menu_choice(guarded):
    module, calls, _ = guarded
    r = rewrite(
        module,
        "replace the activation",
        Scripted(["CHOICE: __import__('os').system('id')"]),
        attempts=1,
        menu=lambda m: [],
    )
    assert not r.accepted and r.attempts[0].codes == ["GS501"]
    assert calls == []
