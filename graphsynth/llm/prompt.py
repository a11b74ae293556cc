"""Prompt assembly.

The system prompt is the unchanging part, identical for every goal and attempt so that prompt
caching pays: what the text form means, the op reference (generated from ``gs.OPS``: each op's
signature, meaning and shape rule), and the edit format.  The first user turn holds the goal,
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
from graphsynth.llm.edits import FORMAT_HELP, Offer
from graphsynth.llm.menu import MenuItem, render_menu
from graphsynth.llm.proposer import ProposalRequest

MAX_FEEDBACK_DIAGS = 12
MAX_FEEDBACK_CHARS = 6000

# How a rejection is rendered for the model.  "full": every diagnostic as the tools print it (its
# source line and caret, the violated relation, the fix, the notes), then an excerpt of the edited
# text around the problems.  "first-line": only the first line of each diagnostic
# (``file:line:col: error[CODE]: message``) and no excerpt, as a compiler's raw stderr would give
# it: the ablation that measures what the structure of the diagnostics is worth.
FEEDBACK_STYLES = ("full", "first-line")

# A context function picks what the model sees for a goal: ``(module, full_text, goal) -> Offer``
# (graphsynth.query.context provides one for large graphs).
ContextFn = Callable[[Any, str, str], Offer]

# What each shape rule means, by the name of its function in graphsynth.dialects.rules.
_RULE_TEXT = {
    "unary": "result has the input's shape and dtype",
    "float_unary": "result has the input's shape; float dtype",
    "binary": "numpy broadcasting of the two shapes; dtypes promote (a number adapts to the tensor)",
    "true_div": "broadcasting; integer inputs give a float result unless rounding_mode is set",
    "compare_op": "broadcasting; bool result",
    "logical": "broadcasting; bool result",
    "where": "cond, lhs, rhs broadcast together; dtype of lhs/rhs",
    "masked_fill": "mask broadcasts to input; result like input",
    "cast": "input's shape, the given dtype",
    "clamp": "result like input",
    "linear": "input [..., in], weight [out, in], bias [out] -> [..., out]",
    "matmul": "[..., n, k] @ [..., k, m] -> [..., n, m]; batch dims broadcast; 1-d operands as torch.matmul",
    "conv2d": "input [N, C, H, W], weight [O, C/groups, kh, kw] -> [N, O, (H+2p-d(kh-1)-1)//s+1, ...]",
    "conv1d": "input [N, C, L], weight [O, C/groups, k] -> [N, O, (L+2p-d(k-1)-1)//s+1]",
    "pool2d": "[N, C, H, W] -> [N, C, (H+2p-d(k-1)-1)//s+1, ...]; stride defaults to kernel_size",
    "adaptive_avg_pool2d": "[N, C, H, W] -> [N, C, *output_size]",
    "layer_norm": "trailing dims of input equal normalized_shape; weight and bias have that shape; result like input",
    "rms_norm": "trailing dims of input equal normalized_shape; weight has that shape; result like input",
    "batch_norm": "input [N, C, ...]; weight, bias, running stats [C]; result like input",
    "group_norm": "input [N, C, ...], C divisible by num_groups; weight, bias [C]; result like input",
    "softmax": "result like input (or the given dtype)",
    "embedding": "weight [V, D], integer indices [...] -> [..., D]",
    "attention": "q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev]; mask broadcasts to [..., L, S]",
    "reshape": "same number of elements; at most one -1",
    "expand": "size-1 dims broadcast to the new sizes; -1 keeps a dim",
    "permute": "dims is a permutation of 0..rank-1",
    "transpose": "dims dim0 and dim1 swapped",
    "flatten": "dims start_dim..end_dim merged into their product",
    "unsqueeze": "a size-1 dim inserted at dim",
    "squeeze": "listed (or all) size-1 dims removed",
    "concat": "equal shapes except along dim, where sizes add; at least one input",
    "slice_": "dim becomes the number of elements in start:end:step",
    "select": "dim removed",
    "split": "sizes add up to the size of dim; one result per size",
    "index_select": "index is 1-d integer; dim becomes len(index)",
    "gather_index": "input [R, ...], integer index [I...] -> [I..., ...]",
    "pad": "pairs (before, after) from the last dim backwards add to each size",
    "repeat": "each size multiplied by its repeat count (len(repeats) >= rank)",
    "tril": "result like input (rank >= 2)",
    "reduce": "listed dims removed (kept as 1 with keepdim); all dims when dims=None",
    "mean": "like sum; float dtype",
    "argreduce": "dim removed (kept as 1 with keepdim); i64 result",
    "cumsum": "result like input",
    "arange": "1-d, ceil((end-start)/step) elements",
    "full": "the given shape and dtype",
    "constant": "the given shape and dtype; len(value) equals the number of elements",
    "like": "input's shape; dtype as given or input's",
}

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

- TYPE is DTYPE[dims], dtype one of f32 f16 bf16 f64 i64 i32 i16 i8 u8 bool; a dim is an integer or a \
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


def _rule_text(spec: Any) -> str:
    name = getattr(spec.rule, "__name__", "")
    text = _RULE_TEXT.get(name)
    if text is None:
        doc = (getattr(spec.rule, "__doc__", None) or "").strip()
        text = doc.split("\n")[0] if doc else ""
    return text


@lru_cache(maxsize=1)
def op_reference() -> str:
    """One line per op: signature, meaning, shape rule.  Generated from ``gs.OPS`` so it never
    drifts from what the verifier checks."""
    from graphsynth.dialects import gs

    lines = [
        "## Ops",
        (
            "signature: meaning [shape rule]. `x?` optional, `x|num` tensor or number, `xs...` variadic, "
            "`k=kind` a required attribute, `k=v` an attribute with its default."
        ),
    ]
    for cls in gs.OPS.values():
        spec = cls.SPEC
        rule = _rule_text(spec)
        tag = " (elementwise)" if spec.elementwise else ""
        lines.append(f"- {spec.signature()}: {spec.doc}{tag}" + (f" [{rule}]" if rule else ""))
    return "\n".join(lines)


@lru_cache(maxsize=1)
def system_prompt() -> str:
    return f"{_INTRO}\n{op_reference()}\n\n## Edit format\n\n{FORMAT_HELP}"


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


def constraints(goal: Goal) -> str:
    """The invariants of ``goal`` as the model is told them ("" when there are none)."""
    said = []
    if goal.keep_interface:
        said.append("keep the graph interface (input names and types, result types) unchanged")
    if goal.preserve_semantics:
        said.append(
            "the rewritten graph must compute the same function (it is checked numerically "
            "on random inputs; parameters keep their values by state_dict key)"
        )
    return "Constraints: " + "; ".join(said) + "." if said else ""


def first_message(goal: Goal, offer: Offer, menu: Sequence[MenuItem] = ()) -> str:
    parts = [f"Goal: {goal.text}", ""]
    said = constraints(goal)
    if said:
        parts += [said, ""]
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


def feedback_message(
    attempt: int, diags: Sequence[Diagnostic], edited_text: str | None, style: str = "full"
) -> str:
    """The rejection of one attempt.  ``style`` (one of :data:`FEEDBACK_STYLES`): ``"full"``
    renders every diagnostic (with its line and caret), then the edited text around the first
    problems, so the model sees what its edit produced; ``"first-line"`` gives the first line of
    each diagnostic and nothing else."""
    if style not in FEEDBACK_STYLES:
        raise ValueError(f"feedback style must be one of {', '.join(FEEDBACK_STYLES)}, got {style!r}")
    shown = list(diags)[:MAX_FEEDBACK_DIAGS]
    parts = [f"Attempt {attempt} was rejected; the graph is unchanged. Diagnostics:", ""]
    # The origin note ("introduced by llm proposal") is for humans reading logs, not for the model.
    rendered = [dataclasses.replace(d, origin=None).render() for d in shown]
    if style == "first-line":
        rendered = [r.split("\n", 1)[0] for r in rendered]
    body = "\n".join(rendered)
    if len(diags) > len(shown):
        body += f"\n... and {len(diags) - len(shown)} more"
    parts.append(body[:MAX_FEEDBACK_CHARS])
    excerpt = _excerpt(diags, edited_text) if style == "full" else ""
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
