"""Hostile inputs of growing size, class by class: wall time and peak memory, against a budget.

Each row builds one input (a symbolic dim that expands exponentially, a 5,000-digit integer,
modules nested 100,000 deep, a 60-byte MLIR attribute of a trillion elements, a parameter of
10**18 floats, a model's edit that declares one, 8,000 graphs, /dev/zero as a transcript, a
server that drips its answer, non-ASCII digits...) and runs what a user would run on it (parse
and verify, the MLIR reader, --emit=python, gs.lower, a rewrite's numerical check, --replay,
fold-constants, ...) in a fresh process, so that its peak RSS (``ru_maxrss``, interpreter and
imports included) is its own.  Time is the child's CPU time (its wall time is printed beside it:
on a shared machine the wall clock measures the neighbours).  The target (DESIGN.md section 11):
every input under 1 MB finishes in under 2 s and 500 MB, or is refused with a diagnostic within
that; larger inputs (files beyond the read limit) are refused within the same budget, and one of
1 MB or more within the read limit (64 MiB by default), which the tools read and check, is held to
the same rate, 2 s and 500 MB per MB; a dripping server is cut at the proposal's timeout (plus
thread wake-up).

    python bench/hostile.py                     # every class, every size (a few minutes)
    python bench/hostile.py --classes dims,mlir # some classes
    python bench/hostile.py --quick             # the smallest and the largest size of each class

Prints one row per input with its size, the time and peak RSS, the outcome (ok, or the
diagnostic codes) and PASS/FAIL against the budget; exits 1 when a row fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TIME_BUDGET_S = 2.0
MEMORY_BUDGET = 500 << 20
SIZE_LIMIT = 1 << 20  # the budget is stated for inputs under 1 MB
CHILD_TIMEOUT_S = 300.0  # wall clock: on a shared machine a row may wait long for a core
CHILD_ADDRESS_SPACE = 6 << 30  # a runaway allocation fails in the child instead of swapping
DRIP_SLACK_S = 0.75
LOWER_BUDGET = 256 << 20


@dataclasses.dataclass(frozen=True)
class Case:
    cls: str  # class of issue: "dims", "ints", ...
    name: str
    item: str  # numbered item of the hardening list it belongs to
    sizes: tuple[int, ...]
    build: Callable[[int], tuple[int, Callable[[], str]]]  # size -> (input bytes, run -> outcome)
    budget: str = "time+memory"  # or "deadline"
    unit: str = "n"


# -- what the rows run ------------------------------------------------------------------------------

def _codes(diags: list[Any]) -> str:
    codes = sorted({d.code for d in diags})
    return "refused " + ",".join(codes) if codes else "ok"


def _parse_verify(text: str | bytes, filename: str = "hostile.gs") -> str:
    from graphsynth.diagnostics import ParseError
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.grammar.printer import print_ir
    from graphsynth.verifier import verify

    try:
        m = parse_ir(text, filename=filename)
    except ParseError as e:
        return _codes(e.diagnostics)
    diags = verify(m)
    if diags:
        return _codes(diags)
    print_ir(m)
    return "ok"


def _mlir_verify(text: str) -> str:
    from graphsynth.cli import parse_mlir
    from graphsynth.diagnostics import ParseError
    from graphsynth.verifier import verify

    try:
        m = parse_mlir(text, "hostile.mlir")
    except ParseError as e:
        return _codes(e.diagnostics)
    return _codes(verify(m))


def _cli(argv: list[str]) -> str:
    import contextlib
    import io
    import re

    from graphsynth.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    codes = sorted(set(re.findall(r"GS\d{3}", err.getvalue())))
    return f"exit {rc}" + (f" {','.join(codes)}" if codes else "")


def _graph(arg_type: str, body: list[str], result: str = "%0", result_type: str | None = None) -> str:
    lines = [f"graph G(x: {arg_type}) -> {result_type or arg_type} {{", *("  " + b for b in body), f"  return {result}", "}"]
    return "\n".join(lines) + "\n"


def _text_case(make: Callable[[int], str]) -> Callable[[int], tuple[int, Callable[[], str]]]:
    def build(n: int) -> tuple[int, Callable[[], str]]:
        text = make(n)
        return len(text.encode("utf-8", "surrogatepass")), lambda: _parse_verify(text)

    return build


def _product(n: int) -> str:
    return "*".join(f"(a{i}+b{i})" for i in range(n))


# item 4: symbolic dims ------------------------------------------------------------------------

def dims_product(n: int) -> str:
    return _graph(f"f32[{_product(n)}, 4]", [], "x")


def dims_power(n: int) -> str:
    return _graph(f"f32[{'*'.join(['(B+1)'] * n)}]", [], "x")


def dims_floordiv(n: int) -> str:
    d = "B"
    for k in range(n):
        d = f"(({d}+S{k % 7})//{k % 5 + 2})"
    return _graph(f"f32[{d}]", [], "x")


def dims_floor_product(n: int) -> str:
    return _graph(f"f32[{'*'.join(f'((B+S{k})//{k + 2})' for k in range(n))}]", [], "x")


def dims_flatten(n: int) -> str:
    """A shape rule multiplies what the text keeps apart: flatten of n dims (a_i + b_i)."""
    dims = ", ".join(f"a{i}+b{i}" for i in range(n))
    return _graph(f"f32[{dims}]", ["%0: f32[a0+b0] = flatten(x)"], result_type="f32[a0+b0]")


def dims_repeat_chain(n: int) -> str:
    """Each op multiplies the dim once more, the declared types written factored."""
    body, dim = [], "a0"
    for k in range(n):
        dim = f"{dim}*(b{k}+1)" if k else f"a0*(b{k}+1)"
        src = "x" if k == 0 else f"%{k - 1}"
        body.append(f"%{k}: f32[{dim}] = repeat({src}, repeats=[b{k}+1])")
    return _graph("f32[a0]", body, f"%{n - 1}", f"f32[{dim}]")


def dims_mlir(n: int) -> str:
    t = f'!gs.tensor<f32, ["{_product(n)}", 4]>'
    return ('"builtin.module"() ({\n'
            f'  "gs.graph"() <{{sym_name = "G", arg_names = ["x"], output_types = [{t}], modules = []}}> ({{\n'
            f"  ^bb0(%0: {t}):\n"
            f'    "gs.return"(%0) : ({t}) -> ()\n'
            "  }) : () -> ()\n"
            "}) : () -> ()\n")


LLM_TEXT = """\
graph MLP(x: f32[B, 16]) -> f32[B, 16] {
  param fc.weight: f32[16, 16]
  %0: f32[B, 16] = linear(x, fc.weight)
  %1: f32[B, 16] = relu(%0)
  return %1
}
"""
LLM_LINE = "  %1: f32[B, 16] = relu(%0)"


def _edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


class _Scripted:
    name = "scripted"
    model = "scripted"

    def __init__(self, replies: list[str]):
        self.replies = list(replies)

    def propose(self, request: Any) -> Any:
        from graphsynth.llm import Proposal, Usage

        return Proposal(self.replies.pop(0), Usage(10, 5, calls=1), 0.0, "scripted")


def _rewrite(edit: str, goal: str = "[preserve-semantics] rewrite the relu") -> str:
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.llm import rewrite

    r = rewrite(parse_ir(LLM_TEXT, filename="mlp.gs"), goal, _Scripted([edit]), attempts=1)
    codes = sorted({d.code for a in r.attempts for d in a.diagnostics} | ({r.error.code} if r.error else set()))
    return "accepted" if r.accepted else "rejected " + ",".join(codes)


def llm_dim(n: int) -> tuple[int, Callable[[], str]]:
    dim = _product(n)
    edit = _edit(LLM_LINE, f"  %1: f32[B, 16] = relu(%0)\n  %9: f32[{dim}] = full(shape=[{dim}], value=0.0, dtype=f32)")
    return len(edit), lambda: _rewrite(edit, "rewrite the relu")


# item 13: integers and nesting -----------------------------------------------------------------

def int_dim(n: int) -> str:
    return _graph(f"f32[{'9' * n}]", [], "x")


def int_literal(n: int) -> str:
    return _graph("f32[B, 4]", [f"%0: f32[B, 4] = mul(x, {'7' * n})"])


def int_attribute(n: int) -> str:
    return _graph("f32[B, 4]", [f"%0: f32[B, 4] = reshape(x, shape=[B, {'3' * n}])"])


def float_literal(n: int) -> str:
    return _graph("f32[B, 4]", [f"%0: f32[B, 4] = mul(x, 1.{'5' * n}e{'9' * min(n, 30)})"])


def nest_modules(n: int) -> str:
    return _graph("f32[B, 4]", ["module m : M {"] * n + ["%0: f32[B, 4] = relu(x)"] + ["}"] * n)


def nest_parens(n: int) -> str:
    return _graph(f"f32[B, {'(' * n}4{')' * n}]", [], "x", "f32[B, 4]")


def nest_lists(n: int) -> str:
    return _graph("f32[B, 4]", [f"%0: f32[B, 4] = reshape(x, shape={'[' * n}4{']' * n})"])


def nest_fused(n: int) -> str:
    body = []
    for k in range(1, n + 1):
        body += [f"{'%0' if k == 1 else f'%b{k - 1}'}: f32[B, 4] = fused({'x' if k == 1 else f'%a{k - 1}'}) {{", f"^(%a{k}: f32[B, 4])"]
    body.append(f"%b{n}: f32[B, 4] = relu(%a{n})")
    for k in range(n, 0, -1):
        body += [f"yield %b{k}", "}"]
    return _graph("f32[B, 4]", body)


# item 9: MLIR attributes and types -----------------------------------------------------------------

def _mlir_op(props: str) -> str:
    t = '!gs.tensor<f32, [4]>'
    return ('"builtin.module"() ({\n'
            f'  "gs.graph"() <{{sym_name = "G", arg_names = ["x"], output_types = [{t}], modules = []}}> ({{\n'
            f"  ^bb0(%0: {t}):\n"
            f'    %1 = "gs.relu"(%0) <{{{props}}}> : ({t}) -> {t}\n'
            f'    "gs.return"(%1) : ({t}) -> ()\n'
            "  }) : () -> ()\n"
            "}) : () -> ()\n")


def mlir_dense(n: int) -> str:
    return _mlir_op(f"extra = dense<1.0> : tensor<{n}xf32>")


def mlir_int_width(n: int) -> str:
    return _mlir_op(f"extra = 1 : i{n}")


def mlir_nesting(n: int) -> str:
    return _mlir_op("extra = " + "[" * n + "1" + "]" * n)


def mlir_big_dim(n: int) -> str:
    t = f'!gs.tensor<f32, [{"9" * n}]>'
    return ('"builtin.module"() ({\n'
            f'  "gs.graph"() <{{sym_name = "G", arg_names = ["x"], output_types = [{t}], modules = []}}> ({{\n'
            f"  ^bb0(%0: {t}):\n"
            f'    "gs.return"(%0) : ({t}) -> ()\n'
            "  }) : () -> ()\n"
            "}) : () -> ()\n")


def mlir_open_string(n: int) -> str:
    return _mlir_op('names = ["' + "a" * n + "]")


def _mlir_case(make: Callable[[int], str]) -> Callable[[int], tuple[int, Callable[[], str]]]:
    def build(n: int) -> tuple[int, Callable[[], str]]:
        text = make(n)
        return len(text), lambda: _mlir_verify(text)

    return build


# item 5: parameters at --emit=python and gs.lower ----------------------------------------------

def _param_graph(n: int) -> str:
    return _graph("f32[B, 4]", [f"param w: f32[{n}]", "%0: f32[B, 4] = relu(x)"])


def emit_python(n: int) -> tuple[int, Callable[[], str]]:
    text = _param_graph(n)

    def run() -> str:
        from graphsynth.backend.lower import to_python
        from graphsynth.diagnostics import GraphsynthError
        from graphsynth.grammar.parser import parse_ir

        try:
            to_python(parse_ir(text))
        except GraphsynthError as e:
            return _codes(e.diagnostics)
        return "ok"

    return len(text), run


def lower_param(n: int) -> tuple[int, Callable[[], str]]:
    text = _param_graph(n)

    def run() -> str:
        from graphsynth.backend.lower import lower
        from graphsynth.diagnostics import GraphsynthError
        from graphsynth.grammar.parser import parse_ir

        try:
            lower(parse_ir(text), max_param_bytes=LOWER_BUDGET)
        except GraphsynthError as e:
            return _codes(e.diagnostics)
        return "ok"

    return len(text), run


def lower_constants(n: int) -> tuple[int, Callable[[], str]]:
    """Ops that make tensors from attributes alone (full, arange, expand, repeat of a full) go
    through fold-constants and lowering: nothing is materialised beyond the budgets."""
    text = _graph("f32[B, 4]", [
        f"%0: f32[{n}] = full(shape=[{n}], value=1.0, dtype=f32)",
        f"%1: i64[{n}] = arange(end={n})",
        f"%2: f32[4, {n}] = expand(%0, shape=[4, {n}])",
        f"%3: f32[{n}, 8] = repeat(%0, repeats=[{n}, 8])" if n < 10**9 else f"%3: f32[{n}] = relu(%0)",
        "%4: f32[] = sum(%2)",
        "%5: f32[B, 4] = add(x, %4)",
    ], "%5")

    def run() -> str:
        from graphsynth.backend.lower import lower
        from graphsynth.diagnostics import GraphsynthError
        from graphsynth.grammar.parser import parse_ir
        from graphsynth.pipeline import run_pipeline

        try:
            m = run_pipeline(parse_ir(text), "fold-constants,canonicalize,dce")
            lower(m, max_param_bytes=LOWER_BUDGET)
        except GraphsynthError as e:
            return _codes(e.diagnostics)
        return "ok"

    return len(text), run


def fold_attention(n: int) -> tuple[int, Callable[[], str]]:
    """fold-constants evaluates ops of small constants: attention of n x 1 splats has small
    operands and results but an n x n score matrix."""
    text = _graph("f32[B, 4]", [
        f"%0: f32[{n}, 1] = full(shape=[{n}, 1], value=0.5, dtype=f32)",
        f"%1: f32[{n}, 1] = attention(%0, %0, %0)",
        "%2: f32[] = sum(%1)",
        "%3: f32[B, 4] = add(x, %2)",
    ], "%3")

    def run() -> str:
        from graphsynth.diagnostics import GraphsynthError
        from graphsynth.grammar.parser import parse_ir
        from graphsynth.pipeline import run_pipeline

        try:
            run_pipeline(parse_ir(text), "fold-constants")
        except GraphsynthError as e:
            return _codes(e.diagnostics)
        return "ok"

    return len(text), run


# item 6: the rewrite's numerical check ---------------------------------------------------------

def llm_param(n: int) -> tuple[int, Callable[[], str]]:
    edit = _edit("  param fc.weight: f32[16, 16]", f"  param fc.weight: f32[16, 16]\n  param extra: f32[{n}]")
    return len(edit), lambda: _rewrite(edit)


def llm_intermediate(n: int) -> tuple[int, Callable[[], str]]:
    edit = _edit(LLM_LINE, f"{LLM_LINE}\n  %9: f32[B, {n}] = full(shape=[B, {n}], value=0.0, dtype=f32)")
    return len(edit), lambda: _rewrite(edit)


def llm_attention(n: int) -> tuple[int, Callable[[], str]]:
    """Small operands and results, an n x n score matrix per batch row while the check runs."""
    edit = _edit(LLM_LINE, f"{LLM_LINE}\n  %7: f32[B, {n}, 1] = full(shape=[B, {n}, 1], value=0.5, dtype=f32)\n"
                           f"  %8: f32[B, {n}, 1] = attention(%7, %7, %7)")
    return len(edit), lambda: _rewrite(edit)


def llm_flops(n: int) -> tuple[int, Callable[[], str]]:
    """Small tensors, an enormous amount of work: pooling with an n x n window over 2n x 2n."""
    m = 2 * n
    edit = _edit(LLM_LINE, f"{LLM_LINE}\n  %7: f32[1, 1, {m}, {m}] = full(shape=[1, 1, {m}, {m}], value=0.5, dtype=f32)\n"
                           f"  %8: f32[1, 1, {n + 1}, {n + 1}] = max_pool2d(%7, kernel_size=[{n}, {n}], stride=[1, 1])")
    return len(edit), lambda: _rewrite(edit)


# item 8: many graphs ---------------------------------------------------------------------------

def many_graphs(n: int) -> str:
    import verify_scale

    return verify_scale.many_graphs(4 * n)


def valid_graph(n: int) -> str:
    import verify_scale

    return verify_scale.straight_line(n)


# item 10: huge files ---------------------------------------------------------------------------

def _file_case(args: Callable[[str], list[str]], content: Callable[[int], bytes | None], suffix: str) -> Callable[[int], tuple[int, Callable[[], str]]]:
    def build(n: int) -> tuple[int, Callable[[], str]]:
        if n == 0:
            return 0, lambda: _cli(args("/dev/zero"))
        fd, path = tempfile.mkstemp(suffix=suffix)
        data = content(n)
        with os.fdopen(fd, "wb") as f:
            if data is None:
                f.truncate(n)  # sparse: the size is there, the bytes are not
            else:
                f.write(data)

        def run() -> str:
            try:
                return _cli(args(path))
            finally:
                os.unlink(path)

        return n, run

    return build


def _garbage(n: int) -> bytes | None:
    if n > 64 << 20:
        return None
    line = b'{"kind": "attempt", "reply": "' + b"x" * 200 + b'"}\n'
    return (line * (n // len(line) + 1))[:n]


def _big_gs(n: int) -> bytes | None:
    if n > 64 << 20:
        return None
    line = b"  %0: f32[B, 4] = relu(x)\n"
    return (b"graph G(x: f32[B, 4]) -> f32[B, 4] {\n" + line * (n // len(line) + 1))[:n]


# item 7: deadlines -----------------------------------------------------------------------------

def drip(timeout_s: int) -> tuple[int, Callable[[], str]]:
    """``timeout`` in tenths of a second: a server that drips its answer a byte every 0.1 s."""
    t = timeout_s / 10

    def run() -> str:
        from graphsynth.llm import AnthropicProposer, ProposalRequest, ProposerError
        from graphsynth.llm.fakeserver import FakeServer, Step

        os.environ.setdefault("ANTHROPIC_API_KEY", "local-fake-server")
        with FakeServer([Step(text="x" * 400, drip=0.1)]) as srv:
            p = AnthropicProposer(base_url=srv.url, timeout=t, max_retries=3)
            try:
                p.propose(ProposalRequest("S", [{"role": "user", "content": "x"}]))
            except ProposerError as e:
                return _codes(e.diagnostics)
        return "answered"

    return 0, run


# item 12: non-ASCII -----------------------------------------------------------------------------

def non_ascii_dims(n: int) -> str:
    return _graph(f"f32[B, 4{chr(0xFF17) * n}]", [], "x", "f32[B, 4]")


def non_ascii_names(n: int) -> str:
    return _graph("f32[B, 4]", [f"param w{chr(0x0430) * n}: f32[4]", "%0: f32[B, 4] = relu(x)"])


def long_name(n: int) -> str:
    return _graph("f32[B, 4]", [f"param {'n' * n}.weight: f32[4, 4]", "%0: f32[B, 4] = linear(x, " + "n" * n + ".weight)"])


def colliding_names(n: int) -> tuple[int, Callable[[], str]]:
    """n parameters whose names collide with torch internals at every level, lowered."""
    bad = ("meta", "code", "graph", "_graph", "training", "forward", "self", "state_dict", "T", "type")
    params = [f"param {bad[k % len(bad)]}.{bad[(k // len(bad)) % len(bad)]}{k}.weight: f32[4]" for k in range(n)]
    text = _graph("f32[B, 4]", [*params, "%0: f32[B, 4] = relu(x)"])

    def run() -> str:
        from graphsynth.backend.lower import lower
        from graphsynth.diagnostics import GraphsynthError
        from graphsynth.grammar.parser import parse_ir

        try:
            net = lower(parse_ir(text), max_param_bytes=LOWER_BUDGET)
        except GraphsynthError as e:
            return _codes(e.diagnostics)
        return "ok" if len(net.state_dict()) == n else "lost state"

    return len(text), run


def diagnostics_flood(n: int) -> str:
    """n lines, each an error: every one reported, each with its caret line."""
    return _graph("f32[B, 4]", [f"%{k}: f32[B, 5] = relu(x)" for k in range(n)], "%0", "f32[B, 5]")


def errors_in_each_graph(n: int) -> str:
    """n graphs in one file, each using an undefined name: every one reported (each graph looks
    at its own diagnostics)."""
    return "".join(f"graph G{k}(x: f32[B]) -> f32[B] {{\n  return y\n}}\n" for k in range(n))


def undefined_names(n: int) -> str:
    """n definitions, then n uses of undefined names: a typo search for each (one budget)."""
    lines = [f"  %v{k}: f32[B] = relu(x)" for k in range(n)] + [f"  %w{k}: f32[B] = relu(%u{k})" for k in range(n)]
    return _graph("f32[B]", lines, "x", "f32[B]")


def repair_searches(n: int) -> str:
    """n wrong conv2d lines, each with attributes to try repairs on (one budget per graph)."""
    line = "%{k}: f32[B, 3, 3] = conv2d(x, x, stride=[1, 1], padding=[0, 0], dilation=[1, 1], groups=1)"
    return _graph("f32[B, 4]", [line.format(k=k) for k in range(n)], "x", "f32[B, 4]")


def split_chunks(n: int) -> tuple[int, Callable[[], str]]:
    fd, path = tempfile.mkstemp(suffix=".gs")
    with os.fdopen(fd, "w") as f:
        f.write("graph G(x: f32[B]) -> f32[B] {\n  return y\n}\n// -----\n" * n)

    def run() -> str:
        try:
            return _cli([path, "--split-input-file"])
        finally:
            os.unlink(path)

    return os.path.getsize(path), run


# found by the fuzz campaign: where the fast reader hands over to Lark -----------------------------

_BAD_LINE = "  %bad: f32[B, 4] = relu(x,, )\n"


def late_error_graphs(n: int) -> str:
    """n small graphs, a syntax error in the last one: Lark reads that graph, not the file."""
    import verify_scale

    text = verify_scale.many_graphs(n)
    cut = text.rstrip("\n").rfind("\n")  # before the last graph's closing brace
    return text[:cut] + "\n" + _BAD_LINE.rstrip("\n") + text[cut:]


def late_error_ops(n: int) -> str:
    """One graph of n ops, a syntax error on its last line: Lark reads the whole graph."""
    import verify_scale

    text = verify_scale.straight_line(n)
    cut = text.rstrip("\n").rfind("\n  return")
    return text[:cut] + "\n" + _BAD_LINE.rstrip("\n") + text[cut:]


def fused_text(n: int) -> str:
    """What fuse-elementwise prints for a graph of n elementwise ops between matmuls: fused
    regions, which the fast reader reads (Lark did before)."""
    body = []
    for k in range(n):
        src = f"%{k - 1}" if k else "x"
        body.append(f"%{k}: f32[B, 64] = {('relu', 'tanh', 'sigmoid')[k % 3]}({src})" if k % 4 != 3 else f"%{k}: f32[B, 64] = matmul({src}, w)")
    text = "graph G(x: f32[B, 64], w: f32[64, 64]) -> f32[B, 64] {\n" + "".join(f"  {b}\n" for b in body) + f"  return %{n - 1}\n}}\n"
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.grammar.printer import print_ir
    from graphsynth.pipeline import run_pipeline

    return print_ir(run_pipeline(parse_ir(text), "fuse-elementwise"))


def mlir_ops(n: int) -> str:
    """A valid graph of n ops in MLIR generic form (xDSL's parser reads it)."""
    import verify_scale

    from graphsynth.cli import emit
    from graphsynth.grammar.parser import parse_ir

    return emit(parse_ir(verify_scale.straight_line(n)), "mlir")


def _sizes(*xs: int) -> tuple[int, ...]:
    return tuple(xs)


CASES: list[Case] = [
    Case("dims", "product of sums (a0+b0)*(a1+b1)*...", "4", _sizes(4, 8, 16, 32, 128, 4096), _text_case(dims_product), unit="factors"),
    Case("dims", "power (B+1)*(B+1)*...", "4", _sizes(8, 64, 512, 4096, 65536), _text_case(dims_power), unit="factors"),
    Case("dims", "nested floor divisions", "4", _sizes(4, 16, 31, 64, 10000), _text_case(dims_floordiv), unit="depth"),
    Case("dims", "product of floor divisions", "4", _sizes(4, 8, 16, 64, 1024), _text_case(dims_floor_product), unit="factors"),
    Case("dims", "flatten of n sums (shape rule)", "4", _sizes(4, 8, 16, 32, 64), _text_case(dims_flatten), unit="dims"),
    Case("dims", "repeat chain, factored types", "4", _sizes(4, 8, 16, 32, 256), _text_case(dims_repeat_chain), unit="ops"),
    Case("dims", "product of sums, MLIR form", "4,9", _sizes(4, 16, 64, 1024), _mlir_case(dims_mlir), unit="factors"),
    Case("dims", "product of sums in a model's reply", "4", _sizes(8, 20, 64, 1024), llm_dim, unit="factors"),
    Case("ints", "dim of n digits", "13", _sizes(19, 20, 4300, 100_000, 1_000_000 - 100), _text_case(int_dim), unit="digits"),
    Case("ints", "literal of n digits", "13", _sizes(19, 4301, 100_000, 1_000_000 - 100), _text_case(int_literal), unit="digits"),
    Case("ints", "attribute value of n digits", "13", _sizes(20, 4301, 1_000_000 - 100), _text_case(int_attribute), unit="digits"),
    Case("ints", "float literal of n digits", "13", _sizes(20, 4301, 1_000_000 - 100), _text_case(float_literal), unit="digits"),
    Case("ints", "MLIR dim of n digits", "9,13", _sizes(19, 20, 4301, 100_000), _mlir_case(mlir_big_dim), unit="digits"),
    Case("nesting", "module blocks", "13", _sizes(10, 32, 33, 1000, 100_000), _text_case(nest_modules), unit="depth"),
    Case("nesting", "parentheses in a dim", "13", _sizes(10, 100, 10_000, 300_000), _text_case(nest_parens), unit="depth"),
    Case("nesting", "lists in an attribute", "13", _sizes(10, 100, 10_000, 300_000), _text_case(nest_lists), unit="depth"),
    Case("nesting", "fused regions", "13", _sizes(4, 31, 64, 5000), _text_case(nest_fused), unit="depth"),
    Case("nesting", "MLIR brackets", "9,13", _sizes(10, 100, 10_000, 300_000), _mlir_case(mlir_nesting), unit="depth"),
    Case("mlir", "dense<1.0> : tensor<N x f32>", "9", _sizes(1000, 1 << 20, 300_000_000, 10**15), _mlir_case(mlir_dense), unit="elements"),
    Case("mlir", "integer type i<N>", "9", _sizes(64, 1 << 20, 1 << 40), _mlir_case(mlir_int_width), unit="bits"),
    Case("mlir", "string literal left open", "9", _sizes(10, 40, 10_000, 900_000), _mlir_case(mlir_open_string), unit="chars"),
    Case("params", "--emit=python of param f32[N]", "5", _sizes(1000, 10**9, 10**12, 10**18), emit_python, unit="elements"),
    Case("params", "gs.lower of param f32[N] (256 MiB budget)", "5", _sizes(1000, 10**7, 10**9, 10**18), lower_param, unit="elements"),
    Case("params", "full/arange/expand/repeat, fold + lower", "5", _sizes(1000, 10**6, 10**9, 10**15), lower_constants, unit="elements"),
    Case("params", "fold-constants of attention on n x 1", "5", _sizes(64, 4096, 65536), fold_attention, unit="rows"),
    Case("llm", "check of a model-added param f32[N]", "6", _sizes(1000, 10**8, 10**12), llm_param, unit="elements"),
    Case("llm", "check of an intermediate f32[B, N]", "6", _sizes(1000, 10**8, 10**12), llm_intermediate, unit="elements"),
    Case("llm", "check of attention over [B, n, 1]", "6", _sizes(64, 8192, 65536), llm_attention, unit="rows"),
    Case("llm", "check of max_pool2d, n x n window", "6", _sizes(8, 256, 2048), llm_flops, unit="window"),
    Case("graphs", "many small graphs (verify)", "8", _sizes(100, 1000, 4000, 6000, 8000), _text_case(many_graphs), unit="graphs"),
    Case("graphs", "one straight-line graph (verify)", "8", _sizes(100, 1000, 6000, 10000), _text_case(valid_graph), unit="ops"),
    Case("files", "--replay of a file of N bytes", "10", _sizes(1000, 1 << 20, 65 << 20, 1 << 40, 0),
         _file_case(lambda p: ["--replay", p], _garbage, ".jsonl"), unit="bytes"),
    Case("files", "graphsynth-opt on a file of N bytes", "10", _sizes(1000, 1 << 20, 65 << 20, 1 << 40, 0),
         _file_case(lambda p: [p], _big_gs, ".gs"), unit="bytes"),
    Case("files", "--split-input-file, N failing chunks", "2,10", _sizes(10, 1000, 19000, 40000), split_chunks, unit="chunks"),
    Case("deadline", "server dripping a byte every 0.1 s", "7", _sizes(5, 10, 20), drip, budget="deadline", unit="timeout/10 s"),
    Case("ascii", "fullwidth digits in a dim", "12", _sizes(1, 1000, 300_000), _text_case(non_ascii_dims), unit="chars"),
    Case("ascii", "Cyrillic letters in a name", "12", _sizes(1, 1000, 400_000), _text_case(non_ascii_names), unit="chars"),
    Case("names", "parameter name of n characters", "11", _sizes(100, 10_000, 400_000), _text_case(long_name), unit="chars"),
    Case("names", "n params named like torch internals, lowered", "11", _sizes(10, 100, 1000), colliding_names, unit="params"),
    Case("diagnostics", "n errors in one graph", "13", _sizes(10, 1000, 30000), _text_case(diagnostics_flood), unit="errors"),
    Case("diagnostics", "an error in each of n graphs", "8,13", _sizes(10, 1000, 20000), _text_case(errors_in_each_graph), unit="graphs"),
    Case("diagnostics", "n undefined names among n definitions", "13", _sizes(10, 1000, 16000), _text_case(undefined_names), unit="names"),
    Case("diagnostics", "n wrong conv2d ops (repair search)", "13", _sizes(10, 1000, 10000), _text_case(repair_searches), unit="ops"),
    Case("fuzz", "syntax error in the last of n graphs", "8,13", _sizes(100, 1000, 4000), _text_case(late_error_graphs), unit="graphs"),
    Case("fuzz", "syntax error on the last line, n ops", "13", _sizes(100, 1000, 4000, 10000), _text_case(late_error_ops), unit="ops"),
    Case("fuzz", "fused regions as printed, n ops", "13", _sizes(100, 1000, 4000, 10000), _text_case(fused_text), unit="ops"),
    Case("fuzz", "valid MLIR generic form, n ops", "9", _sizes(100, 1000, 3000), _mlir_case(mlir_ops), unit="ops"),
]


# -- child: one row in its own process ----------------------------------------------------------

def child(name: str, size: int) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > CHILD_ADDRESS_SPACE:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, hard))
    case = next(c for c in CASES if f"{c.cls}:{c.name}" == name)
    import graphsynth.grammar.parser  # noqa: F401 - imports are not the input's cost
    import graphsynth.verifier  # noqa: F401

    if case.cls in ("params", "llm", "names", "deadline"):
        import torch  # noqa: F401

        import graphsynth.backend.lower  # noqa: F401
        import graphsynth.llm  # noqa: F401
    if case.cls == "deadline":
        import anthropic  # noqa: F401 - the SDK's import is not the deadline's cost
    nbytes, run = case.build(size)
    rss_before = _rss_now()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        outcome = run()
        error = None
    except BaseException as e:  # noqa: BLE001 - the row fails, the table goes on
        outcome = f"traceback: {type(e).__name__}"
        error = traceback.format_exc()[-2000:]
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"bytes": nbytes, "seconds": seconds, "cpu": cpu, "outcome": outcome, "error": error, "rss_before": rss_before,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- parent: the table ----------------------------------------------------------------------------

def run_row(case: Case, size: int) -> dict[str, Any]:
    key = f"{case.cls}:{case.name}"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", key, str(size)], capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"bytes": None, "seconds": time.perf_counter() - t0, "outcome": f"killed after {CHILD_TIMEOUT_S:.0f} s",
                "peak_rss": None, "error": "timeout"}
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"bytes": None, "seconds": time.perf_counter() - t0, "outcome": f"child died (exit {proc.returncode})",
                "peak_rss": None, "error": proc.stderr[-2000:]}


def verdict(case: Case, size: int, r: dict[str, Any]) -> tuple[bool, str]:
    """PASS/FAIL and the budget the row is held to."""
    if r.get("error") or r["peak_rss"] is None:
        return False, "no traceback"
    if case.budget == "deadline":
        limit = size / 10 + DRIP_SLACK_S
        ok = r["seconds"] <= limit and r["peak_rss"] < MEMORY_BUDGET and "GS509" in r["outcome"]
        return ok, f"<{limit:.2f} s, <{MEMORY_BUDGET >> 20} MB, GS509"
    big = r["bytes"] is not None and r["bytes"] >= SIZE_LIMIT
    ok = r["cpu"] < TIME_BUDGET_S and r["peak_rss"] < MEMORY_BUDGET
    if big:
        # Inputs of 1 MB or more: beyond the read limit, refused (GS003) within the same budget;
        # within it, read and checked (answered with a result or diagnostics) at the same rate.
        if "GS003" in r["outcome"]:
            return ok, f"refused <{TIME_BUDGET_S:g} s, <{MEMORY_BUDGET >> 20} MB"
        scale = r["bytes"] / SIZE_LIMIT
        ok = r["cpu"] < TIME_BUDGET_S * scale and r["peak_rss"] < MEMORY_BUDGET * scale
        return ok, f"<{TIME_BUDGET_S * scale:.2f} s, <{(MEMORY_BUDGET >> 20) * scale:.0f} MB (rate)"
    return ok, f"<{TIME_BUDGET_S:g} s, <{MEMORY_BUDGET >> 20} MB"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, k in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def _fmt_size(n: int) -> str:
    if n == 0:
        return "/dev/zero"
    if n >= 10**6 and n % 10 ** (len(str(n)) - 1) == 0:
        return f"1e{len(str(n)) - 1}" if str(n)[0] == "1" else f"{str(n)[0]}e{len(str(n)) - 1}"
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return _fmt_bytes(n).replace(".0", "")
    return str(n)


def main(argv: list[str] | None = None) -> int:
    classes = sorted({c.cls for c in CASES})
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    p.add_argument("--classes", type=names_from(classes, "class"), default=classes, help=f"some of {','.join(classes)}")
    p.add_argument("--quick", action="store_true", help="the smallest and the largest size of each row only")
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    print(f"hostile inputs: every input under 1 MB in under {TIME_BUDGET_S:g} s of CPU and {MEMORY_BUDGET >> 20} MB peak RSS "
          f"(whole process, interpreter and imports included), or refused with a diagnostic within that; a server's "
          f"drip is held to its wall-clock deadline")
    head = (f"{'class':<8} {'item':<5} {'input':<44} {'size':>10} {'bytes':>10} {'CPU':>8} {'wall':>8} {'peak RSS':>9}  "
            f"{'outcome':<28} {'budget':<26} verdict")
    print(head)
    print("-" * len(head))
    failures = 0
    for case in CASES:
        if case.cls not in args.classes:
            continue
        sizes = (case.sizes[0], case.sizes[-1]) if args.quick and len(case.sizes) > 2 else case.sizes
        for size in sizes:
            r = run_row(case, size)
            ok, budget = verdict(case, size, r)
            failures += not ok
            peak = f"{r['peak_rss'] / 2**20:.0f} MB" if r["peak_rss"] else "?"
            label = f"{case.name} [{case.unit}]"
            cpu = f"{r['cpu']:.3f}s" if r.get("cpu") is not None else "?"
            print(f"{case.cls:<8} {case.item:<5} {label[:44]:<44} {_fmt_size(size):>10} {_fmt_bytes(r['bytes']):>10} "
                  f"{cpu:>8} {r['seconds']:>7.3f}s {peak:>9}  {r['outcome'][:28]:<28} {budget:<26} {'PASS' if ok else 'FAIL'}",
                  flush=True)
            if r.get("error") and r["error"] != "timeout":
                print("    " + r["error"].strip().replace("\n", "\n    "))
    print(f"{failures} row(s) failed" if failures else "every row passed")
    return 1 if failures else 0


from argtypes import names_from  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
