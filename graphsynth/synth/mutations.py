"""Mutations: IR edits of a parent graph, built from the passes and rewrites graphsynth ships.

=================  ===========================================================================
mutation           what it does (and what it reuses)
=================  ===========================================================================
insert_block       an ``mlp``, ``adapter`` (a residual bottleneck) or ``layer_norm`` block on an
                   edge between two modules: the ``insert-block`` pass
normalise          a ``layer_norm`` block on an edge: the ``insert-block`` pass
swap_activation    one activation (or all of a kind) replaced by another: the LLM menu's
                   ``activation_swaps`` rewrites
resize             the width of a linear/conv layer (its out features and the in features of
                   the layers that read it, through activations and norms) times 0.5-2
deepen             a copy of a module whose input and output types are equal, after it
residual           ``y = x + f(x)`` around such a module
remove             such a module, or an activation/normalisation op, bypassed and erased
crossover          a module of one parent replaced by a module of another parent with the same
                   input and output types (two parents; see :func:`crossover`)
=================  ===========================================================================

Each mutation edits a fresh parse of the parent in place and returns a one-line description; a
mutation with no site raises :class:`~graphsynth.synth.graphs.Inapplicable`.  The caller verifies
the result: a mutation is a proposal like any other and gets no pass from the verifier.  Which
ops are layers, norms and pools is a table keyed by op class (:func:`width_roles`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from xdsl.ir import Operation, SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.traits import Normalizes, Pooling, WidthLayer, is_elementwise
from graphsynth.synth.graphs import (
    Inapplicable,
    copy_module,
    drop_unused,
    edges,
    erase_module,
    fresh_path,
    module_info,
    modules,
    redirect,
    replace_op,
    the_graph,
    with_dim,
)

MAX_WIDTH = 1024
# The standard members of the activation family (a trait declared by each op), in declaration order.
ACTIVATION_CHOICES = tuple(cls.SPEC.name for cls in gs.activations(standard=True))


@dataclass(frozen=True)
class Layer:
    """How a layer op carries width: the feature axis of its input and result, and where its
    weight (operand 1) keeps its out and in features."""

    axis: int
    weight_out: int = 0
    weight_in: int = 1


@lru_cache(maxsize=1)
def width_roles() -> tuple[dict[type, Layer], dict[type, int], frozenset[type]]:
    """(layers, norms -> the axis they normalise, pools): keyed by op class, read from the ops'
    WidthLayer, Normalizes and Pooling traits."""
    layers = {}
    for cls in gs.ops_with(WidthLayer):
        t = cls.get_trait(WidthLayer)
        layers[cls] = Layer(t.axis, t.weight_out, t.weight_in)
    norms = {cls: cls.get_trait(Normalizes).axis for cls in gs.ops_with(Normalizes)}
    pools = frozenset(gs.ops_with(Pooling))
    return layers, norms, pools


def _param(v: Any) -> gs.ParamOp | None:
    if isinstance(v, SSAValue) and isinstance(v.owner, gs.ParamOp) and len(list(v.uses)) == 1:
        return v.owner
    return None


def _groups_ok(op: Operation) -> bool:
    return op.attr_values().get("groups", 1) in (None, 1) if isinstance(op, gs.GsOp) else False


# -- insert-block (and normalise) ----------------------------------------------------------------


def _insert(module: Any, rng: random.Random, kinds: tuple[str, ...]) -> tuple[Any, str]:
    import graphsynth as gs_api

    g = the_graph(module)
    sites = []
    for a, b, v in edges(g):
        t = _value_type(g, v)
        if t is not None and t.sig().dtype == "f32" and t.shape and isinstance(t.shape[-1], int):
            sites.append((a, b, v, t.shape[-1], len(t.shape)))
    fits = {k: [s for s in sites if k != "pool" or s[4] == 3] for k in kinds}  # pool mixes [B, S, D]
    kinds = tuple(k for k in kinds if fits[k])
    if not kinds:
        raise Inapplicable("no edge between two modules that a block fits")
    kind = rng.choice(kinds)
    a, b, v, d, _ = rng.choice(fits[kind])
    opts = [f"after={a}", f"before={b}", f"block={kind}", f"value=%{v}", f"path={fresh_path(g, 'blk')}"]
    if kind in ("mlp", "adapter"):
        hidden = rng.choice([max(2, d // 2), d, 2 * d] if kind == "mlp" else [max(2, d // 4), max(2, d // 2), d])
        opts += [f"hidden={min(hidden, MAX_WIDTH)}", f"activation={rng.choice(ACTIVATION_CHOICES)}"]
    spec = "insert-block{" + " ".join(opts) + "}"
    return gs_api.run_pipeline(module, spec), f"insert-block {kind} on {a} -> {b} ({' '.join(opts[4:])})"


def _value_type(g: gs.GraphOp, name: str) -> gs.TensorType | None:
    for op in g.body.block.ops:
        for n, r in zip(gs.result_names(op), op.results):
            if n == name:
                return r.type
    return None


def insert_block(module: Any, rng: random.Random) -> tuple[Any, str]:
    return _insert(module, rng, ("mlp", "adapter", "layer_norm", "pool"))


def normalise(module: Any, rng: random.Random) -> tuple[Any, str]:
    return _insert(module, rng, ("layer_norm",))


# -- activation swaps ----------------------------------------------------------------------------


def swap_activation(module: Any, rng: random.Random) -> tuple[Any, str]:
    from graphsynth.llm.menu import activation_swaps

    items = activation_swaps(module)
    if not items:
        raise Inapplicable("no activation to swap")
    item = rng.choice(items)
    out = item.apply(module)
    return (out if out is not None else module), item.description


# -- width ---------------------------------------------------------------------------------------


@dataclass
class _WidthSite:
    producer: Operation
    axis: int
    width: int
    through: list[Operation]
    consumers: list[Operation]


def _width_sites(g: gs.GraphOp) -> list[_WidthSite]:
    layers, norms, pools = width_roles()
    block = g.body.block
    sites = []
    for op in block.ops:
        role = layers.get(type(op))
        if role is None or not _groups_ok(op) or len(op.operands) < 2 or _param(op.operands[1]) is None:
            continue
        if len(op.operands) > 2 and _param(op.operands[2]) is None:
            continue
        r = op.results[0]
        rank = len(r.type.shape)
        axis = role.axis % rank
        width = r.type.shape[axis]
        if not isinstance(width, int):
            continue
        walked = _walk(r, axis, width, block, layers, norms, pools)
        if walked is not None and walked[1]:
            sites.append(_WidthSite(op, axis, width, *walked))
    return sites


def _walk(value: SSAValue, axis: int, width: int, block: Any, layers: dict, norms: dict,
          pools: frozenset) -> tuple[list[Operation], list[Operation]] | None:
    through: list[Operation] = []
    consumers: list[Operation] = []
    frontier = [value]
    while frontier:
        v = frontier.pop()
        for use in list(v.uses):
            u = use.operation
            if u.parent_block() is not block or isinstance(u, gs.ReturnOp) or u in through or u in consumers:
                return None
            cls = type(u)
            role = layers.get(cls)
            if role is not None:
                rank = len(v.type.shape)
                if use.index != 0 or role.axis % rank != axis or not _groups_ok(u) or _param(u.operands[1]) is None:
                    return None
                consumers.append(u)
                continue
            single = len(u.operands) == 1 and len(u.results) == 1
            r = u.results[0] if u.results else None
            if r is None or len(r.type.shape) != len(v.type.shape) or r.type.shape[axis] != width:
                return None
            if single and (is_elementwise(u) or cls in pools):
                through.append(u)
                frontier.append(r)
                continue
            if cls in norms and use.index == 0 and norms[cls] % len(v.type.shape) == axis:
                extra = list(u.operands[1:])
                if all(_param(p) is not None and p.type.shape == (width,) for p in extra):
                    shape = u.attr_values().get("normalized_shape")
                    if shape is None or tuple(shape) == (width,):
                        through.append(u)
                        frontier.append(r)
                        continue
            return None
    return through, consumers


def resize(module: Any, rng: random.Random) -> tuple[Any, str]:
    g = the_graph(module)
    sites = _width_sites(g)
    if not sites:
        raise Inapplicable("no layer whose width can change")
    s = rng.choice(sites)
    choices = sorted({max(2, min(MAX_WIDTH, round(s.width * f))) for f in (0.5, 0.75, 1.5, 2.0)} - {s.width})
    new = rng.choice(choices)
    layers, _, _ = width_roles()
    # parameters first (their ops are separate), then the ops in program order
    _resize_param(s.producer.operands[1], layers[type(s.producer)].weight_out, new)
    if len(s.producer.operands) > 2:
        _resize_param(s.producer.operands[2], 0, new)
    for u in s.through:
        for p in list(u.operands[1:]):
            _resize_param(p, 0, new)
    for c in s.consumers:
        _resize_param(c.operands[1], layers[type(c)].weight_in, new)
    name = gs.result_names(s.producer)[0]
    for op in [s.producer, *s.through]:
        props = {}
        if "normalized_shape" in op.properties:
            props["normalized_shape"] = gs.to_attr("dims", (new,))
        replace_op(op, [with_dim(r.type, s.axis, new) for r in op.results], props)
    return module, f"resize %{name} width {s.width} -> {new}"


def _resize_param(v: SSAValue, axis: int, size: int) -> None:
    p = v.owner
    assert isinstance(p, gs.ParamOp)
    replace_op(p, [with_dim(v.type, axis, size)])


# -- module-level edits --------------------------------------------------------------------------


def _same_type_modules(g: gs.GraphOp) -> list[Any]:
    return [m for m in modules(g) if m.same_type]


def deepen(module: Any, rng: random.Random) -> tuple[Any, str]:
    g = the_graph(module)
    cands = _same_type_modules(g)
    if not cands:
        raise Inapplicable("no module whose input and output types are equal")
    info = rng.choice(cands)
    table = g.module_table()
    parent = table[info.path][1]
    local = info.path.rsplit(".", 1)[-1]
    new_path = fresh_path(g, f"{parent}.{local}_" if parent else f"{local}_")
    before = info.ops[-1].next_op
    out, new_ops = copy_module(g, info, g, new_path, info.outputs[0], before, parent)
    redirect(info.outputs[0], out, set(info.ops) | set(new_ops), g.body.block)
    return module, f"deepen: copy of {info.path} as {new_path}"


def residual(module: Any, rng: random.Random) -> tuple[Any, str]:
    from graphsynth.passes.patterns import fresh_name, taken_names

    g = the_graph(module)
    cands = _same_type_modules(g)
    if not cands:
        raise Inapplicable("no module whose input and output types are equal")
    info = rng.choice(cands)
    x, y = info.inputs[0], info.outputs[0]
    name = fresh_name("res", taken_names(g))
    add = gs.make_op(gs.Add, [x, y], {}, [y.type], names=[name], scope=info.path)
    g.body.block.insert_op_after(add, info.ops[-1])
    redirect(y, add.results[0], set(info.ops) | {add}, g.body.block)
    return module, f"residual around {info.path}"


def remove(module: Any, rng: random.Random) -> tuple[Any, str]:
    g = the_graph(module)
    _, norms, _ = width_roles()
    block = g.body.block
    mods = _same_type_modules(g)
    ops = [op for op in block.ops
           if isinstance(op, gs.GsOp) and len(op.results) == 1 and op.operands
           and (is_elementwise(op) and len(op.operands) == 1 or type(op) in norms)
           and op.operands[0].type == op.results[0].type]
    if not mods and not ops:
        raise Inapplicable("nothing removable")
    pick = rng.randrange(len(mods) + len(ops))
    if pick < len(mods):
        info = mods[pick]
        redirect(info.outputs[0], info.inputs[0], set(info.ops), block)
        erase_module(g, info)
        return module, f"remove module {info.path}"
    op = ops[pick - len(mods)]
    name = gs.result_names(op)[0]
    op.results[0].replace_all_uses_with(op.operands[0])
    op.detach()
    op.erase()
    drop_unused(g)
    return module, f"remove %{name} ({op.name.removeprefix('gs.')})"


def crossover(module: Any, other: Any, rng: random.Random) -> tuple[Any, str]:
    """Replace a simple module of ``module`` by a simple module of ``other`` with the same input
    and output types and different ops (the shapes must allow it)."""
    g, h = the_graph(module), the_graph(other)
    mine = [m for m in modules(g) if m.simple]
    theirs = [m for m in modules(h) if m.simple]

    def body(info: Any) -> tuple[str, ...]:
        return tuple(f"{op.name}:{','.join(str(r.type) for r in op.results)}" for op in info.ops)

    pairs = [(a, b) for a in mine for b in theirs
             if a.inputs[0].type == b.inputs[0].type and a.outputs[0].type == b.outputs[0].type and body(a) != body(b)]
    if not pairs:
        raise Inapplicable("no two modules with the same interface and different bodies")
    a, b = rng.choice(pairs)
    parent = g.module_table()[a.path][1]
    new_path = fresh_path(g, f"{parent}.x" if parent else "x")
    out, _ = copy_module(h, b, g, new_path, a.inputs[0], a.ops[0], parent)
    redirect(a.outputs[0], out, set(a.ops), g.body.block)
    erase_module(g, module_info(g, a.path))
    return module, f"crossover: {a.path} replaced by {b.path} of the other parent (as {new_path})"


MUTATIONS: dict[str, tuple[float, Callable[[Any, random.Random], tuple[Any, str]]]] = {
    "insert_block": (0.2, insert_block),
    "normalise": (0.05, normalise),
    "swap_activation": (0.15, swap_activation),
    "resize": (0.25, resize),
    "deepen": (0.1, deepen),
    "residual": (0.1, residual),
    "remove": (0.15, remove),
}


def mutate(module: Any, rng: random.Random, kinds: tuple[str, ...] | None = None, tries: int = 8) -> tuple[Any, str]:
    """Apply one mutation, drawn by weight among ``kinds`` (default: all) until one applies.
    Returns the (possibly new) module and the description; the module is not verified here."""
    names = [k for k in (kinds or tuple(MUTATIONS)) if k in MUTATIONS]
    reasons = []
    for _ in range(tries):
        if not names:
            break
        kind = rng.choices(names, weights=[MUTATIONS[k][0] for k in names])[0]
        try:
            out, what = MUTATIONS[kind][1](module, rng)
        except Inapplicable as e:
            reasons.append(f"{kind}: {e}")
            names.remove(kind)
            continue
        drop_unused(the_graph(out))
        return out, f"{kind}: {what}" if not what.startswith(kind) else what
    raise Inapplicable("no mutation applies (" + "; ".join(reasons) + ")")
