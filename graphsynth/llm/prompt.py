"""Prompt assembly.

The system prompt is the unchanging part, identical for every goal and attempt so that prompt
caching pays: what the text form means, the op reference (generated from the op classes: each
op's signature, meaning and shape rule), and the edit format.  The first user turn holds the goal,
its constraints, the graph text (or a slice of it chosen by a context function) and, when there
is one, the menu of applicable rewrites; it is the same for every attempt of one rewrite, so it
is cached too.  Each rejected attempt adds the model's reply and a user turn with the rendered
diagnostics and the offending lines of the edited text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphsynth.diagnostics import Diagnostic
from graphsynth.dialects.dtypes import DTYPE_NAMES
from graphsynth.llm.edits import FORMAT_HELP, Offer
from graphsynth.llm.menu import MenuItem, render_menu
from graphsynth.llm.proposer import ProposalRequest

MAX_FEEDBACK_DIAGS = 12
MAX_FEEDBACK_CHARS = 6000

# A context function picks what the model sees for a goal: ``(module, full_text, goal) -> Offer``
# (graphsynth.query.context provides one for large graphs).
ContextFn = Callable[[Any, str, str], Offer]

_INTRO = """\
You rewrite neural-network graphs written in graphsynth's text IR. Every edit you propose is applied to \
the text, parsed, and verified (names, types, symbolic shapes); a rejected edit comes back to you with \
diagnostics naming the op, the operand, the expected and the actual value. Nothing you write is executed.

## The text form

graph NAME(input: TYPE, ...) -> TYPE, ... {
  param KEY: TYPE            (a parameter; KEY is its state_dict key, e.g. h.0.mlp.c_fc.weight)
  buffer KEY: TYPE           (a buffer, same rules)
  module PATH : CLASS {      (the source model's module hierarchy; ops inside belong to that module)
    %NAME: TYPE = OP(ARG, ..., key=value, ...)
  }
  return %NAME, ...
}

- TYPE is DTYPE[dims], dtype one of @DTYPES@; a dim is an integer or a \
symbolic expression over the graph's size symbols (B, S, S+1, 2*D, (H-3)//2+1).
- Graph inputs and params are referenced by bare name, op results by %NAME. %NAMEs are unique in a graph \
and defined before use. An op with several results writes `%a: T1, %b: T2 = split(...)`.
- Every result's declared TYPE must equal what the op's shape rule infers from its operands.
- Arguments are positional (tensors, or numbers where the signature says |num), then key=value \
attributes: lists in [..], strings quoted, dtypes bare (dtype=i64), None.
- The graph header (inputs and result types) is the interface; keep it unless the goal says otherwise.

## Example

graph MLP(x: f32[B, 784]) -> f32[B, 10] {
  param fc1.weight: f32[256, 784]
  param fc1.bias: f32[256]
  param fc2.weight: f32[10, 256]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  }
  %1: f32[B, 256] = relu(%0)
  module fc2 : Linear {
    %2: f32[B, 10] = linear(%1, fc2.weight)
  }
  return %2
}
"""


@lru_cache(maxsize=1)
def op_reference() -> str:
    """One line per op: signature, meaning, shape rule.  Generated from the op classes (each
    declares its doc and its rule text) so it never drifts from what the verifier checks."""
    from graphsynth.dialects import gs

    lines = [
        "## Ops",
        (
            "signature: meaning [shape rule]. `x?` optional, `x|num` tensor or number, `xs...` variadic, "
            "`k=kind` a required attribute, `k=v` an attribute with its default."
        ),
    ]
    for cls in gs.OP_CLASSES:
        spec = cls.SPEC
        tag = " (elementwise)" if spec.elementwise else ""
        lines.append(f"- {spec.signature()}: {spec.doc}{tag} [{spec.rule_text}]")
    return "\n".join(lines)


@lru_cache(maxsize=1)
def system_prompt() -> str:
    intro = _INTRO.replace("@DTYPES@", " ".join(DTYPE_NAMES))
    return f"{intro}\n{op_reference()}\n\n## Edit format\n\n{FORMAT_HELP}"


@dataclass
class Goal:
    """What the rewrite must achieve and which invariants the driver checks.

    Flags may lead the goal text in brackets: ``[preserve-semantics]`` (outputs must match the
    input graph numerically after lowering) and ``[change-interface]`` (the inputs and outputs
    may change; by default they are kept).
    """

    text: str
    preserve_semantics: bool = False
    keep_interface: bool = True

    @staticmethod
    def parse(goal: str | Goal) -> Goal:
        if isinstance(goal, Goal):
            return goal
        text = goal.strip()
        preserve, keep = False, True
        while text.startswith("["):
            end = text.find("]")
            if end < 0:
                break
            flag = text[1:end].strip().lower()
            if flag in ("preserve-semantics", "preserve_semantics"):
                preserve = True
            elif flag in ("change-interface", "change_interface"):
                keep = False
            else:
                break
            text = text[end + 1 :].lstrip()
        return Goal(text, preserve, keep)

    def flags(self) -> dict[str, bool]:
        return {"preserve_semantics": self.preserve_semantics, "keep_interface": self.keep_interface}


def first_message(goal: Goal, offer: Offer, menu: Sequence[MenuItem] = ()) -> str:
    parts = [f"Goal: {goal.text}", ""]
    constraints = []
    if goal.keep_interface:
        constraints.append("keep the graph interface (input names and types, result types) unchanged")
    if goal.preserve_semantics:
        constraints.append(
            "the rewritten graph must compute the same function (it is checked numerically "
            "on random inputs; parameters keep their values by state_dict key)"
        )
    if constraints:
        parts.append("Constraints: " + "; ".join(constraints) + ".")
        parts.append("")
    where = "the whole graph" if offer.editable is None else offer.description
    parts.append(f"The graph (you may edit {where}):")
    if offer.editable is not None:
        parts.append(
            "(Folded lines cannot be edited or used as SEARCH anchors. New parameters may be declared "
            "with `param` lines inside the module you edit.)"
        )
    parts.append("```gs")
    parts.append(offer.prompt_text.rstrip("\n"))
    parts.append("```")
    if menu:
        parts.append("")
        parts.append(
            "Rewrites that apply right now (answer `CHOICE: <n>` to apply one of them, or write search/replace blocks):"
        )
        parts.append(render_menu(menu))
    return "\n".join(parts)


def feedback_message(attempt: int, diags: Sequence[Diagnostic], edited_text: str | None) -> str:
    """The rejection of one attempt: every diagnostic rendered (with its line and caret), then the
    edited text around the first problems, so the model sees what its edit produced."""
    shown = list(diags)[:MAX_FEEDBACK_DIAGS]
    parts = [f"Attempt {attempt} was rejected; the graph is unchanged. Diagnostics:", ""]
    # The origin note ("introduced by llm proposal") is for humans reading logs, not for the model.
    body = "\n".join(dataclasses.replace(d, origin=None).render() for d in shown)
    if len(diags) > len(shown):
        body += f"\n... and {len(diags) - len(shown)} more"
    parts.append(body[:MAX_FEEDBACK_CHARS])
    excerpt = _excerpt(diags, edited_text)
    if excerpt:
        parts += ["", "Your edit produced (around the problem; '>' marks the line):", excerpt]
    parts += [
        "",
        ("Send a corrected edit against the original graph text given above (not against your previous attempt)."),
    ]
    return "\n".join(parts)


def _excerpt(diags: Sequence[Diagnostic], text: str | None, radius: int = 2, max_sites: int = 3) -> str:
    if not text:
        return ""
    lines = text.split("\n")
    sites = sorted(
        {d.loc.line for d in diags if d.loc is not None and d.loc.file != "reply" and 0 < d.loc.line <= len(lines)}
    )
    out: list[str] = []
    last = 0
    for ln in sites[:max_sites]:
        lo, hi = max(1, ln - radius), min(len(lines), ln + radius)
        lo = max(lo, last + 1)
        if out and lo > last + 1:
            out.append("   ...")
        for i in range(lo, hi + 1):
            mark = ">" if i == ln else " "
            out.append(f"{mark}{i:5d} | {lines[i - 1][:200]}")
        last = hi
    return "\n".join(out)


def build_request(
    goal: Goal, offer: Offer, history: Sequence[tuple[str, str]], menu: Sequence[MenuItem] = (), attempt: int = 1
) -> ProposalRequest:
    """The request for an attempt: the system prompt, the first message, then for each earlier
    attempt the reply and its feedback."""
    messages = [{"role": "user", "content": first_message(goal, offer, menu)}]
    for reply, feedback in history:
        messages.append({"role": "assistant", "content": reply if reply.strip() else "(empty reply)"})
        messages.append({"role": "user", "content": feedback})
    return ProposalRequest(system_prompt(), messages, attempt=attempt)


def whole_graph(module: Any, text: str, goal: str) -> Offer:
    """The default context: the whole printed graph, all of it editable."""
    return Offer(text)
