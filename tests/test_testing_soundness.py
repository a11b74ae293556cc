"""``assert_rewrite_sound``: every registered pass passes it on generated modules; deliberately
wrong rewrites fail it with a shrunk counter-example; each kind of rewrite and each check works."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from graphsynth.diagnostics import PassError
from graphsynth.dialects import gs
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.passes.registry import run_pipeline
from graphsynth.pipeline import all_passes
from graphsynth.testing import RewriteUnsound, assert_rewrite_sound, check_rewrite, default_bindings

ROOT = Path(__file__).resolve().parent.parent
PASSES = all_passes()

# Passes that cannot run with their default options (they need a goal, a place, a module...):
# each is covered below by explicit modules and options instead of generated modules.
NEEDS_OPTIONS = {"llm-rewrite", "insert-block", "outline"}
# Per-pass options for the generated-module run: passes that legitimately change part of the
# interface say so here.
PASS_OPTIONS: dict[str, dict] = {}
EXAMPLES = 25


def _has_required_fields(name: str) -> bool:
    cls = PASSES[name]()
    return any(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING for f in dataclasses.fields(cls)
    )


GENERIC = sorted(n for n in PASSES if n not in NEEDS_OPTIONS and not _has_required_fields(n))

MLP = """graph MLP(x: f32[B, 8]) -> f32[B, 4] {
  param fc1.weight: f32[16, 8]
  param fc1.bias: f32[16]
  param fc2.weight: f32[4, 16]
  module fc1 : Linear {
    %0: f32[B, 16] = linear(x, fc1.weight, fc1.bias)
  }
  module act : GELU {
    %1: f32[B, 16] = gelu(%0)
  }
  %2: f32[B, 16] = mul(%1, 1)
  module fc2 : Linear {
    %3: f32[B, 4] = linear(%2, fc2.weight)
  }
  %4: f32[B, 4] = add(%3, 0.0)
  return %4
}
"""


@pytest.mark.parametrize("name", GENERIC)
def test_registered_pass_is_sound_on_generated_modules(name):
    assert_rewrite_sound(name, max_examples=EXAMPLES, **PASS_OPTIONS.get(name, {}))


def test_every_registered_pass_is_covered():
    """A pass is tested on generated modules, or it is listed in NEEDS_OPTIONS and has an
    explicit test here; a new pass cannot slip through."""
    explicit = {"llm-rewrite", "insert-block", "outline"}
    shipped = {name for name, cls in PASSES.items() if cls().__module__.startswith("graphsynth.")}
    missing = shipped - set(GENERIC) - explicit
    assert not missing, f"passes with no soundness test: {sorted(missing)}"


def test_pipeline_of_every_generic_pass_is_sound():
    """All of them in one pipeline: what one pass leaves, the next must handle."""
    assert_rewrite_sound(",".join(GENERIC), max_examples=15)


def test_passes_on_an_explicit_module():
    m = parse_ir(MLP)
    for name in GENERIC:
        out = assert_rewrite_sound(name, m)
        assert isinstance(out, ModuleOp)
    assert print_ir(m) == MLP  # the caller's module is untouched


def _skip_unless(name: str) -> None:
    if name not in PASSES:
        pytest.skip(f"pass '{name}' is not registered in this checkout")


def test_outline_and_inline_are_sound():
    _skip_unless("outline")
    m = parse_ir(MLP)
    outlined = assert_rewrite_sound("outline{module=fc1}", m)
    assert len(gs.graph_ops(outlined)) == 2  # the callee is a new graph; the old interface stays
    if "inline" in PASSES:
        back = assert_rewrite_sound("inline", outlined, graphs=["MLP"])
        assert print_ir(back).startswith(MLP.split("\n")[0])
        assert_rewrite_sound("outline{module=act},inline", m)


def _outline_every_module(m: ModuleOp) -> ModuleOp:
    """outline each module of the graph that can become one call (GS406 says which cannot:
    not convex, or no ops of its own), innermost first."""
    g = gs.graph_ops(m)[0]
    paths = [e.data[0].data for e in g.modules.data]
    out = m
    for path in sorted(paths, key=lambda p: -p.count(".")):
        try:
            out = run_pipeline(out, f'outline{{module="{path}"}}')
        except PassError as e:
            assert e.diagnostics[-1].code in ("GS406", "GS405"), e.render()
    return out


def test_outline_and_inline_on_generated_modules():
    _skip_unless("outline")
    _skip_unless("inline")
    assert_rewrite_sound(_outline_every_module, max_examples=EXAMPLES, max_modules=3)
    # inline undoes outline: the composition is sound and keeps only the original graph.
    assert_rewrite_sound(
        lambda m: run_pipeline(_outline_every_module(m), "inline"), max_examples=EXAMPLES, max_modules=3
    )


def test_insert_block_keeps_the_function_when_the_block_is_an_identity():
    _skip_unless("insert-block")
    m = parse_ir(MLP)
    assert_rewrite_sound("insert-block{after=fc1 before=act block=identity}", m, keep_params=False)
    # An adapter starts as the identity (zero up-projection): sound at insertion...
    out = assert_rewrite_sound("insert-block{after=fc1 before=act block=adapter}", m, keep_params=False)
    assert len(gs.graph_ops(out)[0].modules.data) > len(gs.graph_ops(m)[0].modules.data)
    # ...but its new parameters are an interface change unless allowed, and a LayerNorm is not
    # the identity.
    with pytest.raises(RewriteUnsound, match="parameters changed .added"):
        assert_rewrite_sound("insert-block{after=fc1 before=act block=adapter}", m)
    with pytest.raises(RewriteUnsound, match="values differ"):
        assert_rewrite_sound("insert-block{after=fc1 before=act block=layer_norm}", m, keep_params=False)


def test_llm_rewrite_replayed_transcript_is_sound():
    """llm-rewrite needs a goal and a proposer: replay a recorded session that keeps semantics."""
    _skip_unless("llm-rewrite")
    src = ROOT / "examples" / "llm" / "fold_scales.gs"
    transcript = ROOT / "examples" / "llm" / "fold_scales.jsonl"
    if not transcript.exists():
        pytest.skip("no recorded transcript")
    import json

    header = json.loads(transcript.read_text().splitlines()[0])
    goal = header["goal"].replace('"', "'")
    m = parse_ir(src.read_text(), filename=str(src))
    pipeline = f'llm-rewrite{{goal="{goal}" proposer=replay replay="{transcript}" preserve-semantics=true}}'
    out = assert_rewrite_sound(pipeline, m)
    assert print_ir(out) != print_ir(m)


# -- deliberately wrong rewrites are caught, with a small counter-example ----------------------------------


class DropRelu(RewritePattern):
    """Wrong: relu(x) -> x."""

    def match_and_rewrite(self, op, rewriter: PatternRewriter) -> None:
        if isinstance(op, gs.OPS["relu"]):
            rewriter.replace(op, [], [op.operands[0]])


class SwapSub(RewritePattern):
    """Wrong: sub(x, c) -> sub(c, x) for a value x and a number c."""

    def match_and_rewrite(self, op, rewriter: PatternRewriter) -> None:
        if isinstance(op, gs.OPS["sub"]):
            layout = op.arg_layout()
            if len(layout) == 2 and isinstance(layout[0], SSAValue) and not isinstance(layout[1], SSAValue):
                names = [n for n in gs.result_names(op) if n] or None
                new = gs.make_op("sub", layout[::-1], {}, [op.results[0].type], names=names, scope=op.scope)
                rewriter.replace(op, [new])


def _ops_in(text: str) -> list[str]:
    return re.findall(r"= (\w+)\(", text)


def _counter_example(message: str) -> str:
    body = message.split("counter-example (shrunk by hypothesis):\n", 1)[1]
    return body.split("\n\nafter the rewrite:", 1)[0]


def test_wrong_pattern_is_caught_with_a_shrunk_counter_example():
    with pytest.raises(RewriteUnsound) as info:
        assert_rewrite_sound(DropRelu(), max_examples=200)
    msg = str(info.value)
    assert "pattern DropRelu is unsound" in msg
    assert "values differ" in msg
    example = _counter_example(msg)
    # Shrunk: one input, one op, and that op is the relu the pattern drops.
    assert _ops_in(example) == ["relu"], example
    assert re.match(r"graph G\(x0: f32\[[^\]]*\]\) -> ", example), example
    assert len(example.splitlines()) == 4, example


def test_swapped_operands_are_caught():
    with pytest.raises(RewriteUnsound) as info:
        assert_rewrite_sound(SwapSub, max_examples=200, ops=("relu", "sub", "add"))
    example = _counter_example(str(info.value))
    assert _ops_in(example) == ["sub"], example


def test_wrong_callable_changing_a_result_type_is_caught():
    """A rewrite that makes the module unverifiable: returns a value of another type."""

    def bad(m: ModuleOp) -> ModuleOp:
        g = gs.graph_ops(m)[0]
        ret = g.body.block.last_op
        ret.operands = [g.body.block.args[0]]
        return m

    m = parse_ir(
        "graph G(x: f32[B, 4]) -> f32[B, 2] {\n  param w: f32[2, 4]\n  %0: f32[B, 2] = linear(x, w)\n  return %0\n}\n"
    )
    with pytest.raises(RewriteUnsound, match="does not verify"):
        assert_rewrite_sound(bad, m)


# -- each check can fail -----------------------------------------------------------------------------------


SIMPLE = (
    "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  %0: f32[B, 4] = relu(x)\n  %1: f32[B, 4] = mul(%0, 2.0)\n  return %1\n}\n"
)


def test_interface_change_is_caught():
    def rename_input(m: ModuleOp) -> ModuleOp:
        g = gs.graph_ops(m)[0]
        g.arg_names = ArrayAttr([StringAttr("y")])
        return m

    with pytest.raises(RewriteUnsound, match=r"inputs \(x: f32\[B, 4\]\) became \(y: f32\[B, 4\]\)"):
        assert_rewrite_sound(rename_input, parse_ir(SIMPLE))
    assert_rewrite_sound(rename_input, parse_ir(SIMPLE), keep_names=False)


def test_parameter_change_is_caught_unless_allowed():
    text = (
        "graph G(x: f32[B, 4]) -> f32[B, 4] {\n  param w: f32[4, 4]\n  param unused: f32[3]\n"
        "  %0: f32[B, 4] = linear(x, w)\n  return %0\n}\n"
    )

    def drop_unused(m: ModuleOp) -> ModuleOp:
        for op in list(gs.graph_ops(m)[0].body.block.ops):
            if isinstance(op, gs.ParamOp) and op.param_name.data == "unused":
                op.detach()
                op.erase()
        return m

    with pytest.raises(RewriteUnsound, match="parameters changed .removed unused"):
        assert_rewrite_sound(drop_unused, parse_ir(text))
    assert_rewrite_sound(drop_unused, parse_ir(text), keep_params=False)


def test_numerical_difference_only_at_some_bindings_is_caught():
    """A rewrite correct only when B == 3 (mean over B as a sum divided by 3): the second
    binding exposes it."""
    text = "graph G(x: f32[B, 2]) -> f32[1, 2] {\n  %0: f32[1, 2] = mean(x, dims=[0], keepdim=true)\n  return %0\n}\n"
    wrong = (
        "graph G(x: f32[B, 2]) -> f32[1, 2] {\n  %0: f32[1, 2] = sum(x, dims=[0], keepdim=true)\n"
        "  %1: f32[1, 2] = div(%0, 3)\n  return %1\n}\n"
    )
    m = parse_ir(text)
    assert default_bindings(m)[0] == {"B": 3}
    with pytest.raises(RewriteUnsound, match=r"at B=\d: values differ"):
        assert_rewrite_sound(lambda _: parse_ir(wrong), m)
    assert_rewrite_sound(lambda _: parse_ir(wrong), m, bindings=[{"B": 3}])


def test_modifying_the_input_is_caught():
    m = parse_ir(SIMPLE)

    def sneaky(work: ModuleOp) -> ModuleOp:
        new = work.clone()
        g = gs.graph_ops(work)[0]
        g.sym_name = StringAttr("H")
        return new

    reason, _ = check_rewrite(sneaky, m)
    assert reason is not None and "modified the module it was given" in reason
    assert print_ir(m) == SIMPLE


def test_pass_errors_and_crashes_are_reported():
    @dataclasses.dataclass(frozen=True)
    class Crash(ModulePass):
        name = "crash"

        def apply(self, ctx: Context, op: ModuleOp) -> None:
            raise RuntimeError("boom")

    with pytest.raises(RewriteUnsound, match=r"pass 'crash' is unsound: it failed with diagnostics:\n.*GS402.*boom"):
        assert_rewrite_sound(Crash(), parse_ir(SIMPLE))
    with pytest.raises(RewriteUnsound, match="RuntimeError: boom"):
        assert_rewrite_sound(lambda m: (_ for _ in ()).throw(RuntimeError("boom")), parse_ir(SIMPLE))


# -- each kind of rewrite is accepted --------------------------------------------------------------------------


def test_each_kind_of_rewrite():
    from graphsynth.passes.builtin import CanonicalizePass
    from graphsynth.passes.canonicalize import PATTERNS

    m = parse_ir(MLP)
    results = [
        assert_rewrite_sound("canonicalize", m),
        assert_rewrite_sound("canonicalize,cse,dce", m),
        assert_rewrite_sound(CanonicalizePass(), m),
        assert_rewrite_sound(CanonicalizePass, m),
        assert_rewrite_sound(list(PATTERNS), m),
        assert_rewrite_sound(lambda x: run_pipeline(x, "canonicalize"), m),
    ]
    texts = {print_ir(r) for r in results}
    assert len(texts) == 1 and "mul(" not in texts.pop()
    # An in-place callable returning None is fine too.
    assert_rewrite_sound(lambda x: None, m)
    assert print_ir(m) == MLP


def test_bad_arguments_are_type_errors():
    with pytest.raises(TypeError, match="cannot apply"):
        assert_rewrite_sound(42, parse_ir(SIMPLE))
    with pytest.raises(TypeError, match="unknown option"):
        assert_rewrite_sound("dce", max_examples=1, max_opz=3)
    with pytest.raises(TypeError, match="only apply when modules are drawn"):
        assert_rewrite_sound("dce", parse_ir(SIMPLE), max_ops=3)
    with pytest.raises(PassError, match="unknown pass"):
        assert_rewrite_sound("no-such-pass", parse_ir(SIMPLE))


def test_options_reach_the_strategy():
    seen: set[str] = set()

    def spy(m: ModuleOp) -> None:
        for op in gs.graph_ops(m)[0].body.block.ops:
            if isinstance(op, gs.GsOp):
                seen.add(op.SPEC.name)

    assert_rewrite_sound(spy, max_examples=20, ops=("tanh", "add"), max_modules=0)
    assert seen and seen <= {"tanh", "add"}


def test_symbolic_bindings_are_distinct_and_positive():
    m = parse_ir(
        "graph G(x: f32[B, S, 2*T+1]) -> f32[B, S, 2*T+1] {\n  %0: f32[B, S, 2*T+1] = relu(x)\n  return %0\n}\n"
    )
    b = default_bindings(m, 3)
    assert len(b) == 3 and len({tuple(sorted(x.items())) for x in b}) == 3
    for x in b:
        assert len(set(x.values())) == 3 and min(x.values()) >= 3


def test_failure_raises_pass_error_inside_pipeline_untouched():
    m = parse_ir(SIMPLE)
    with pytest.raises(PassError):
        run_pipeline(m, "verify,no-such")
    assert print_ir(m) == SIMPLE
