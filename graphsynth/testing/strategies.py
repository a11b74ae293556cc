"""Hypothesis strategies that generate random, well-typed gs modules.

    from hypothesis import given
    from graphsynth.testing.strategies import modules

    @given(modules(ops=("relu", "add", "linear"), max_ops=6))
    def test_my_pass(m): ...

Every module is built op by op: an op kind is drawn from the chosen op set, its operands from
the values built so far (the latest one by default, so a shrunk example is a chain; an earlier
one for branches and residual connections), its attributes from small choices, and its result
type from the op's own shape rule (``graphsynth.dialects.rules``), the one the verifier uses.
So a drawn module verifies by construction; :func:`modules` checks it anyway (``check=True``)
and fails loudly when it does not, because a generator that emits invalid IR would make every
pass look broken.

Why build ops rather than text: the rule decides each result type, so the generator cannot drift
from the verifier; and hypothesis shrinks the draws (fewer ops, earlier choices, the latest
operand), which gives small counter-examples: a failing pass is usually shown on a module of one
or two ops.

Dims are plain ints and symbols (``B``, ``S`` by default) carried by the graph inputs; derived
dims (``2*S``, ``S-1``, ``B*S``, ``S//2``) come from concat, slice and reshape.  Every dim a
module uses stays positive at every binding of the symbols to integers >= 3
(:data:`MIN_SYMBOL_VALUE`), the bindings :func:`graphsynth.testing.assert_rewrite_sound` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.vendor import pretty as _pretty
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region

from graphsynth.dialects import gs
from graphsynth.dialects.symdim import Dim, SymDim, free_symbols, mul
from graphsynth.dialects.traits import is_elementwise
from graphsynth.testing.builders import BUILDERS
from graphsynth.testing.building import MIN_SYMBOL_VALUE, State, Value

__all__ = [
    "DEFAULT_OPS",
    "ELEMENTWISE_OPS",
    "MIN_SYMBOL_VALUE",
    "SUPPORTED_OPS",
    "UNTAME",
    "dims",
    "modules",
    "tensor_types",
]

_DOMAIN = "defined only for part of the reals; random normal inputs fall outside it"
_JUMPS = "discontinuous: a last-bit difference in an input (another summation order) is a jump in its output"
_TRUTH = "gives a truth value, which a last-bit difference in an input flips"

UNTAME: dict[type[gs.GsOp], str] = {
    gs.Log: _DOMAIN,
    gs.Log1p: _DOMAIN,
    gs.Sqrt: _DOMAIN,
    gs.Rsqrt: _DOMAIN,
    gs.Reciprocal: "unbounded near zero, where random normal inputs often are",
    gs.Exp: "overflows f32 after a few steps of a chain (and its gradient with it)",
    gs.Sign: _JUMPS,
    gs.Floor: _JUMPS,
    gs.Ceil: _JUMPS,
    gs.Round: _JUMPS,
    gs.Trunc: _JUMPS,
    gs.Remainder: _JUMPS,
    gs.Eq: _TRUTH,
    gs.Ne: _TRUTH,
    gs.Lt: _TRUTH,
    gs.Le: _TRUTH,
    gs.Gt: _TRUTH,
    gs.Ge: _TRUTH,
    gs.LogicalNot: _TRUTH,
    gs.LogicalAnd: _TRUTH,
    gs.LogicalOr: _TRUTH,
    gs.TopK: "which elements tie is decided by last bits, and the order of ties by the implementation",
    gs.Sort: "the order of ties is decided by the implementation",
    gs.Argsort: "the order of ties is decided by the implementation",
    gs.OneHot: "reads integer class indices; the default set builds float modules",
}
"""Op classes the generator builds whose random instances are not numerically tame on random
normal inputs, with the reason: left out of :data:`ELEMENTWISE_OPS` and :data:`DEFAULT_OPS`
(name them in ``ops=`` to draw them anyway)."""

_TAME = tuple(cls for cls in BUILDERS if cls not in UNTAME)

ELEMENTWISE_OPS: tuple[str, ...] = tuple(cls.SPEC.name for cls in _TAME if is_elementwise(cls))
"""The elementwise ops (the ``Elementwise`` trait) the generator builds, numerically safe on random
normal inputs (no log or square root of negatives, no division by values near zero)."""

DEFAULT_OPS: tuple[str, ...] = ELEMENTWISE_OPS + tuple(cls.SPEC.name for cls in _TAME if not is_elementwise(cls))
"""Every op the generator builds whose random instances are numerically tame on random normal
inputs, elementwise ones first: hypothesis shrinks a draw toward the first entry (``relu``), so a
counter-example comes out as simple as it can."""


SUPPORTED_OPS: tuple[str, ...] = tuple(sorted(cls.SPEC.name for cls in BUILDERS))
"""Every op name :func:`modules` can generate."""

_BY_NAME = {cls.SPEC.name: cls for cls in BUILDERS}


# -- public strategies -------------------------------------------------------------------------------


def dims(
    symbols: Sequence[str] = ("B", "S"), ints: Sequence[int] = (2, 3, 4), derived: bool = False
) -> st.SearchStrategy[Dim]:
    """A dim: a symbol or a small int; with ``derived``, also ``2*S`` or ``S+1``."""
    base: list[Dim] = [SymDim.symbol(x) for x in symbols] + list(ints)
    if derived:
        for x in symbols:
            base += [mul(SymDim.symbol(x), 2), SymDim.symbol(x) + 1]
    return st.sampled_from(base)


def tensor_types(
    symbols: Sequence[str] = ("B", "S"), dtype: str = "f32", min_rank: int = 1, max_rank: int = 3, derived: bool = False
) -> st.SearchStrategy[gs.TensorType]:
    """A TensorType over ``symbols`` and small ints."""
    return st.lists(dims(symbols, derived=derived), min_size=min_rank, max_size=max_rank).map(
        lambda ds: gs.tensor_type(tuple(ds), dtype)
    )


def modules(ops: Sequence[str] | None = None, **options: Any) -> st.SearchStrategy[ModuleOp]:
    """A random well-typed module holding one ``gs.graph`` (options: see :func:`_modules`).

    A bad op set is reported here, when the strategy is made, not at the first draw.
    """
    names = tuple(DEFAULT_OPS if ops is None else ops)
    unknown = [o for o in names if o not in _BY_NAME]
    if unknown:
        raise ValueError(f"modules(): no generator for op(s) {unknown}; supported: {', '.join(SUPPORTED_OPS)}")
    if not names:
        raise ValueError("modules(): the op set is empty")
    return _modules(tuple(_BY_NAME[o] for o in names), **options)


@st.composite
def _modules(
    draw: Callable,
    chosen: tuple[type[gs.GsOp], ...],
    *,
    min_ops: int = 1,
    max_ops: int = 8,
    symbols: Sequence[str] = ("B", "S"),
    min_inputs: int = 1,
    max_inputs: int = 2,
    max_rank: int = 3,
    dtype: str = "f32",
    derived_inputs: bool = False,
    max_outputs: int = 2,
    max_modules: int = 3,
    names: bool = True,
    graph_name: str = "G",
    check: bool = True,
) -> ModuleOp:
    """The strategy behind :func:`modules`.

    ``ops``: op names to draw from (default :data:`DEFAULT_OPS`; see :data:`SUPPORTED_OPS`).
    ``min_ops``/``max_ops``: how many ops to draw, about five on average (helper ops such as the ``gt`` feeding a
    ``where`` or a ``transpose`` feeding a ``matmul`` come on top).  ``symbols``: the symbols the
    graph inputs may use (``()`` for static shapes).  ``min_inputs``/``max_inputs``/``max_rank``:
    graph inputs.  ``derived_inputs``: let input dims be ``2*S`` or ``S+1``.  ``max_outputs``:
    the graph returns the last value and up to ``max_outputs - 1`` earlier ones.
    ``max_modules``: nested ``module`` scopes (each op is drawn into one of them or the top
    level; ``0`` for a flat graph).  ``names``: give values names (``%0``...); without, the
    printer numbers them.  ``check``: verify the module and fail with the diagnostics when it
    does not (it always should).
    """
    # Graph inputs.
    n_inputs = draw(st.integers(min_inputs, max(min_inputs, max_inputs)))
    in_types = [
        draw(tensor_types(symbols, dtype, min_rank=1, max_rank=max_rank, derived=derived_inputs))
        for _ in range(n_inputs)
    ]
    block = Block(arg_types=in_types)
    # Only symbols that some input carries are bound; the others must not appear anywhere.
    bound = sorted(set().union(*(free_symbols(d) for t in in_types for d in t.shape)))
    s = State(tuple(bound), dtype, block, named=names)
    arg_names = [f"x{i}" for i in range(n_inputs)]
    for v, t in zip(block.args, in_types):
        s.pool.append(Value(v, t.sig()))

    # The module tree: paths with their class and parent, drawn up front.
    n_modules = draw(st.integers(0, max_modules))
    paths: list[tuple[str, str, str]] = []
    for i in range(n_modules):
        parent = draw(st.sampled_from(["", *(p for p, _, _ in paths)])) if paths else ""
        # Paths like torch's: named children (b0) and nn.Sequential indices (layers.0, or 0).
        leaf = draw(st.sampled_from((f"b{i}", str(i))))
        path = f"{parent}.{leaf}" if parent else leaf
        cls = draw(st.sampled_from(("Block", "MLP", "Linear", "Attention")))
        paths.append((path, cls, parent))

    # Ops: one step per op, each step a single draw (a "keep going" choice and the op's own
    # draws), so that hypothesis shrinks by deleting whole steps.
    scopes = ["", *(p for p, _, _ in paths)]
    max_ops = max(min_ops, max_ops)
    built = 0
    attempts = 0
    while built < max_ops and attempts < 4 * max_ops + 4:
        attempts += 1
        outcome = draw(_step(s, chosen, scopes, may_stop=built >= min_ops))
        if outcome is None:
            break
        built += outcome
    if built == 0:
        # Nothing in the op set applies to these inputs (e.g. only linear, and every input
        # has a symbolic last dim): hypothesis draws another example.
        raise _reject()

    # Outputs: the last value plus a few earlier ones.
    produced = [v for v in s.pool if not isinstance(v.value.owner, (Block, gs.ParamOp))]
    outputs = [produced[-1]]
    for _ in range(draw(st.integers(0, max(0, max_outputs - 1)))):
        extra = produced[draw(st.integers(0, len(produced) - 1))]
        outputs.append(extra)

    # Modules used by some op, in first-use order with parents first (as the parser records them).
    table: dict[str, tuple[str, str]] = {}
    info = {p: (c, par) for p, c, par in paths}

    def note(path: str) -> None:
        if not path or path in table:
            return
        note(info[path][1])
        table[path] = info[path]

    for op in s.ops:
        note(op.scope)

    for op in [*s.params, *s.ops]:
        block.add_op(op)
    block.add_op(gs.ReturnOp.create(operands=[o.value for o in outputs]))
    graph = gs.GraphOp.create(
        properties={
            "sym_name": StringAttr(graph_name),
            "arg_names": ArrayAttr([StringAttr(a) for a in arg_names]),
            "output_types": ArrayAttr([o.value.type for o in outputs]),
            "modules": ArrayAttr(
                [ArrayAttr([StringAttr(p), StringAttr(c), StringAttr(par)]) for p, (c, par) in table.items()]
            ),
        },
        regions=[Region(block)],
    )
    module = ModuleOp([graph])
    if check:
        from graphsynth.verifier import verify

        diags = verify(module)
        if diags:
            from graphsynth.grammar.printer import print_ir

            raise AssertionError(
                "graphsynth.testing.strategies.modules drew a module that does not verify (a generator bug):\n"
                + print_ir(module)
                + "\n".join(d.render() for d in diags)
            )
    return module


@st.composite
def _step(draw: Callable, s: State, chosen: Sequence[type[gs.GsOp]], scopes: Sequence[str], may_stop: bool) -> bool | None:
    """Add one op to ``s`` (True), fail to (False: the drawn op does not apply), or stop (None;
    only when ``may_stop``; about one step in six stops, and shrinking goes there)."""
    # The choice is drawn even when it cannot stop, so every step has the same shape and
    # deleting any one of them leaves the others aligned.
    if draw(st.integers(0, 5)) == 0 and may_stop:
        return None
    s.scope = draw(st.sampled_from(tuple(scopes))) if len(scopes) > 1 else ""
    kind = draw(st.sampled_from(tuple(chosen)))
    return BUILDERS[kind](draw, s)


def _pretty_module(obj: Any, printer: Any, cycle: bool) -> None:
    """Hypothesis shows a drawn module (in 'Falsifying example' reports) as its gs text rather
    than xDSL's repr, which runs to tens of kilobytes."""
    from graphsynth.grammar.printer import print_ir

    try:
        text = print_ir(obj)
    except Exception:  # noqa: BLE001 - a module too broken to print still needs a repr
        printer.text(f"<ModuleOp at {id(obj):#x}>")
        return
    printer.text("parse_ir('''\n" + text + "''')")


_pretty.for_type_by_name("xdsl.dialects.builtin", "ModuleOp", _pretty_module)


def _reject() -> Exception:
    from hypothesis.errors import UnsatisfiedAssumption

    return UnsatisfiedAssumption()
