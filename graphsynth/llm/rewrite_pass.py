"""``llm-rewrite`` as an xDSL ModulePass, so a model's rewrite runs inside any pipeline.

    graphsynth-opt model.gs -p 'llm-rewrite{goal="replace every relu with gelu" attempts=4}'

Options: ``goal`` (flags ``[preserve-semantics]``/``[change-interface]`` may lead it, or use the
options of those names), ``attempts``, ``proposer`` (``anthropic`` | ``replay``), ``model``,
``base_url``, ``timeout`` (seconds for one model call, retries and slow replies included),
``deadline`` (seconds of wall clock for the whole pass, 0 = none; running out is GS509 with the
elapsed time), ``max_check_bytes`` (what the ``[preserve-semantics]`` check may allocate per
attempt, 0 = its default; an attempt over it is GS508), ``max_retries``, ``transcript`` (write the session as JSONL),
``replay`` (the transcript to answer from when ``proposer=replay``), ``menu`` (menu sources:
``activations``, ``canonicalize``, ``registry``, joined by ``+``; quote the value), ``focus`` (a
module path: only that module is offered for editing, the other modules are folded in the prompt),
``repair`` (default true: an attempt rejected only for findings with machine-applicable fix-its
is repaired by the driver, without a model call; a replay follows what its transcript recorded).

The module is rewritten in place only when a proposal is accepted; otherwise the pass raises
:class:`graphsynth.diagnostics.PassError` carrying the diagnostics of the last attempt (or the
proposer's error) and the module is untouched.  (The file is not called ``pass.py`` because
``pass`` is a Python keyword and could not be imported by name.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from graphsynth.diagnostics import PassError, error


@dataclass(frozen=True)
class LLMRewritePass(ModulePass):
    """Ask a language model for an edit towards `goal`; accept it only if it parses and verifies."""

    name = "llm-rewrite"

    goal: str = ""
    attempts: int = 4
    proposer: str = "anthropic"
    model: str = ""
    base_url: str = ""
    timeout: float = 120.0
    deadline: float = 0.0
    max_check_bytes: int = 0
    max_retries: int = 3
    transcript: str = ""
    replay: str = ""
    menu: str = ""
    focus: str = ""
    preserve_semantics: bool = False
    change_interface: bool = False
    repair: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from graphsynth.llm.context import context_source
        from graphsynth.llm.driver import rewrite
        from graphsynth.llm.menu import menu_source
        from graphsynth.llm.prompt import Goal
        from graphsynth.llm.proposer import ProposerError, make_proposer

        if not self.goal.strip():
            raise PassError(self.name, [error("GS404", "llm-rewrite needs a goal", fix='llm-rewrite{goal="..."}')])
        if self.attempts < 1:
            raise PassError(self.name, [error("GS404", f"llm-rewrite: attempts must be >= 1, got {self.attempts}")])
        if not 0 <= self.deadline < 1e9:
            raise PassError(self.name, [error("GS404", f"llm-rewrite: deadline must be a number of seconds >= 0 "
                                                       f"(0: none), got {self.deadline:g}")])
        if self.max_check_bytes < 0:
            raise PassError(self.name, [error("GS404", f"llm-rewrite: max-check-bytes must be >= 0 (0: the default), "
                                                       f"got {self.max_check_bytes}")])
        try:
            menu = menu_source(self.menu) if self.menu else None
        except ValueError as e:
            raise PassError(self.name, [error("GS404", f"llm-rewrite: {e}")]) from None
        # The proposer is built first: a missing API key is reported before any work.
        try:
            proposer = make_proposer(
                self.proposer,
                model=self.model,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                replay=self.replay,
            )
        except ProposerError as e:
            raise PassError(self.name, e.diagnostics) from None
        goal = self.goal
        if self.preserve_semantics:
            goal = "[preserve-semantics] " + goal
        if self.change_interface:
            goal = "[change-interface] " + goal
        numerics = None
        if self.max_check_bytes and Goal.parse(goal).preserve_semantics:
            from graphsynth.llm.checks import NumericChecker

            numerics = NumericChecker(op, max_bytes=self.max_check_bytes)
        try:
            result = rewrite(
                op,
                goal,
                proposer,
                attempts=self.attempts,
                deadline=self.deadline or None,
                numerics=numerics,
                transcript=self.transcript or None,
                menu=menu,
                menu_source=self.menu,
                context=context_source(f"focus:{self.focus}" if self.focus else ""),
                context_source=f"focus:{self.focus}" if self.focus else "",
                repair=_repair_setting(proposer, self.repair),
            )
        except ValueError as e:  # an unknown focus module
            raise PassError(self.name, [error("GS404", f"llm-rewrite: {e}")]) from None
        except ProposerError as e:  # e.g. the transcript cannot be written (GS002)
            raise PassError(self.name, e.diagnostics) from None
        if not result.accepted:
            diags = result.diagnostics or [error("GS401", "llm-rewrite: no proposal was accepted")]
            raise PassError(
                self.name,
                diags,
                f"llm-rewrite: no proposal accepted after {len(result.attempts)} attempt(s): "
                + (diags[0].message if diags else ""),
            )
        replace_module_body(op, result.module)


def replace_module_body(target: ModuleOp, source: Any) -> None:
    """Move the ops of ``source`` into ``target`` in place of its own (a ModulePass must mutate the
    module it was given)."""
    block = target.body.block
    for old in list(block.ops):
        old.detach()
        old.erase(safe_erase=False)
    src = source.body.block
    for new in list(src.ops):
        new.detach()
        block.add_op(new)


def _repair_setting(proposer: Any, default: bool) -> bool:
    """A replayed session repairs exactly as it did when recorded (older transcripts: not)."""
    transcript = getattr(proposer, "transcript", None)
    if transcript is not None and getattr(proposer, "name", "") == "replay":
        return bool(transcript.header.get("repair", False))
    return default
