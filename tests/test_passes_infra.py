"""Pass infrastructure: failures name the pass and the op, non-converging patterns are caught
(GS403), bad pipelines are usage errors listing the valid choices (graphsynth-opt exits 2)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

import graphsynth as gs
from graphsynth.dialects import gs as gsd
from graphsynth.passes.builtin import apply_patterns
from graphsynth.passes.patterns import rewriting
from graphsynth.passes.registry import PASSES, parse_pipeline

TEXT = """\
graph G(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
  %1: f32[B, 4] = mul(%0, 2.0)
  %2: f32[B, 4] = tanh(%1)
  return %2
}
"""


def module() -> ModuleOp:
    return gs.parse_ir(TEXT, filename="infra.gs")


class Explodes(RewritePattern):
    """A buggy pattern: raises on every mul."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name == "gs.mul":
            raise KeyError("no such attribute")


class ClaimsChange(RewritePattern):
    """A buggy pattern: swaps every tanh for an identical clone, forever."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name == "gs.tanh":
            rewriter.replace(op, [op.clone()])


class FlipFlop(RewritePattern):
    """A buggy pair: mul x by 2 <-> by 2.0 (each round changes the text, never converges)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if op.name == "gs.mul":
            x, c = op.arg_layout()
            new = gsd.make_op("mul", [x, 2 if isinstance(c, float) else 2.0], {}, [op.results[0].type], names=["1"])
            rewriter.replace(op, [new])


@dataclass(frozen=True)
class PatternPass(ModulePass):
    name = "test-patterns"
    pattern: type = Explodes

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        apply_patterns(op, [self.pattern], self.name)


@dataclass(frozen=True)
class OpByOpPass(ModulePass):
    """A ModulePass that walks ops itself and fails on the tanh."""

    name = "test-op-by-op"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for inner in op.walk():
            with rewriting(self.name, inner):
                if inner.name == "gs.tanh":
                    raise ValueError("cannot handle tanh")


def test_pattern_exception_names_pass_pattern_and_op():
    m = module()
    before = gs.print_ir(m)
    with pytest.raises(gs.PassError) as info:
        gs.run_pipeline(m, [PatternPass()])
    (d,) = info.value.diagnostics
    assert d.code == "GS402"
    assert "test-patterns" in d.message and "%1 = mul" in d.message and "KeyError" in d.message
    assert d.op == "mul" and d.value == "%1"
    assert d.loc is not None and (d.loc.file, d.loc.line) == ("infra.gs", 3)
    assert any("pattern Explodes" in n for n in d.notes)
    assert "mul(%0, 2.0)" in d.render()  # the source line is shown with a caret
    assert gs.print_ir(m) == before  # the input is untouched


def test_module_pass_exception_names_the_op():
    with pytest.raises(gs.PassError) as info:
        gs.run_pipeline(module(), [OpByOpPass()])
    (d,) = info.value.diagnostics
    assert d.code == "GS402" and d.op == "tanh" and d.loc.line == 4
    assert "cannot handle tanh" in d.message


def test_change_without_change_is_gs403():
    with pytest.raises(gs.PassError) as info:
        gs.run_pipeline(module(), [PatternPass(pattern=ClaimsChange)])
    (d,) = info.value.diagnostics
    assert d.code == "GS403" and "identical" in d.message
    assert any("ClaimsChange" in n for n in d.notes)


def test_patterns_that_never_converge_are_gs403():
    with pytest.raises(gs.PassError) as info:
        gs.run_pipeline(module(), [PatternPass(pattern=FlipFlop)])
    (d,) = info.value.diagnostics
    assert d.code == "GS403" and "did not converge" in d.message
    assert "FlipFlop" in d.notes[0]


def test_real_patterns_pass_the_checks():
    m = gs.run_pipeline(module(), "canonicalize,fold-constants")
    assert gs.verify(m) == []


@pytest.mark.parametrize(
    ("pipeline", "expect"),
    [
        ("fuse-elementwse", ["unknown pass 'fuse-elementwse'", "did you mean 'fuse-elementwise'", "insert-block"]),
        ("fuse-elementwise{max_opz=3}", ["no option 'max-opz'", "max-ops: int = 64", "min-ops"]),
        ("canonicalize,fuse-elementwise{max-opz=3}", ["pass 'fuse-elementwise' has no option 'max-opz'"]),
        ("fuse-elementwise{max-ops=many}", ["option 'max-ops' of pass 'fuse-elementwise' expects int", "'many'"]),
        ("canonicalize{", ["malformed pass pipeline", "column 14"]),
        ("cse,,dce", ["malformed pass pipeline", "expected pass name"]),
        ("insert-block{after=a before=b block=transformer}", ["unknown block kind 'transformer'", "adapter", "layer_norm"]),
        ("fold-constants{max-elements=-1}", ["max-elements must be a non-negative int"]),
    ],
)
def test_bad_pipelines_are_usage_errors(pipeline, expect):
    with pytest.raises(gs.PassError) as info:
        parse_pipeline(pipeline)
    (d,) = info.value.diagnostics
    assert d.code == "GS404"
    text = d.render()
    for e in expect:
        assert e in text, (e, text)


def test_option_values_may_be_bare_paths():
    (p,) = parse_pipeline("insert-block{after=h.0.attn before=h.0.mlp block=adapter value=%3}")
    assert (p.after, p.before, p.block, p.value) == ("h.0.attn", "h.0.mlp", "adapter", "%3")


def test_every_pass_is_registered():
    parse_pipeline("verify")
    for name in ("fold-constants", "fuse-linear-activation", "fuse-elementwise", "insert-block", "outline", "inline"):
        assert name in PASSES


@pytest.mark.parametrize("pipeline", ["nope", "canonicalize{foo=1}", "canonicalize{", "fuse-elementwise{max-ops=x}"])
def test_cli_exit_code_2_for_bad_pipelines(tmp_path, pipeline):
    src = tmp_path / "g.gs"
    src.write_text(TEXT)
    r = subprocess.run([sys.executable, "-m", "graphsynth.cli", str(src), "-p", pipeline], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "GS404" in r.stderr and "Traceback" not in r.stderr
