"""Fusion passes: ``fuse-linear-activation`` and ``fuse-elementwise{max-ops=N}``.

``fuse-linear-activation`` rewrites ``act(linear(x, w, b))`` into one ``linear_act(x, w, b,
activation=act)`` op when the activation is the linear's only reader.  Why a dedicated op rather
than an ``activation=`` attribute on ``linear`` or a ``gs.fused`` region:

- a ``gs.fused`` region may only hold elementwise ops (the Triton backend generates one pointwise
  kernel per region), and a matmul is not one;
- an attribute on ``linear`` would change the meaning of every existing ``linear``: each pattern,
  query, importer check and prompt that reads ``linear`` as an affine map would have to learn to
  look for it, and one that forgot would silently drop the activation.  A new op name cannot be
  mistaken for an affine map: passes that do not know it leave it alone.

It pays in the backend: the linear's output is a fresh tensor nobody else reads, so the activation
runs in place (one output buffer instead of two, one pass less over memory), and relu on a 2-d
input with a bias becomes a single ``addmm`` with a ReLU epilogue when no gradient is recorded
(cuBLASLt fuses it on CUDA).  Numerics are those of the unfused ops.

``fuse-elementwise`` groups elementwise ops (the ``Elementwise`` trait: unary, binary with
broadcasting, where, casts...) into ``gs.fused`` regions, the unit the Triton backend turns into
one kernel.  Groups grow greedily in program order: an op joins the groups of its elementwise
producers when the union stays *convex* (no op outside the group both reads a value the group
computes and feeds the group, directly or through other ops), which is exactly the condition for
the group to be replaced by one op without creating a cycle, and when it stays within ``max-ops``
ops (0: no limit).  Convexity is checked with bitsets: each op carries the set of groups it depends
on, each group the dependencies of the outside values it reads.

The region's operands are the values the group reads from outside (block arguments named
``f<k>.<name>``), its results the values read outside the group (they keep their names, so the rest
of the graph reads the same); ops inside are renamed ``f<k>.<name>``.  The fused op sits in the
innermost module that contains all its ops, at the position of the group's last op; outside ops
between the group's first and last op that read its values move after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from graphsynth.dialects import gs
from graphsynth.dialects.dtypes import DTYPES
from graphsynth.dialects.traits import Activation, Elementwise, is_random
from graphsynth.passes.builtin import apply_patterns
from graphsynth.passes.patterns import common_scope, op_scope, rewriting, taken_names, value_name
from graphsynth.passes.registry import register

# The activations linear_act fuses: the choices of its ``activation`` attribute, declared with the op.
LINEAR_ACTIVATIONS: tuple[str, ...] = gs.LinearAct.SPEC.attr_index["activation"].choices or ()

# -- fuse-linear-activation -------------------------------------------------------------------


@dataclass
class FuseLinearActivation(RewritePattern):
    """act(linear(x, w, b)) -> linear_act(x, w, b, activation=act) when act is the only reader."""

    activations: tuple[str, ...] = LINEAR_ACTIVATIONS

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not (isinstance(op, gs.GsOp) and op.has_trait(Activation) and op.SPEC.name in self.activations
                and len(op.operands) == 1):
            return
        lin = op.operands[0].owner
        if not (isinstance(lin, gs.Linear) and lin.results[0].has_one_use()):
            return
        if op.results[0].type != lin.results[0].type:
            return
        attrs = {"activation": op.SPEC.name}
        approx = op.attr_values().get("approximate")
        if approx is not None:  # gelu's; linear_act declares the same choices
            if approx not in gs.LinearAct.SPEC.attr_index["approximate"].choices:
                return
            if approx != "none":
                attrs["approximate"] = approx
        graph = _graph_of(op)
        table = graph.module_table() if graph is not None else {}
        new = gs.make_op(
            gs.LinearAct,
            [a for a in lin.arg_layout()],
            attrs,
            [op.results[0].type],
            names=[n for n in gs.result_names(op) if n is not None] or None,
            scope=common_scope(table, [op_scope(lin), op_scope(op)]),
        )
        rewriter.replace(op, [new])
        rewriter.erase(lin)


def _graph_of(op: Operation) -> gs.GraphOp | None:
    while op is not None and not isinstance(op, gs.GraphOp):
        op = op.parent_op()
    return op


@register
@dataclass(frozen=True)
class FuseLinearActivationPass(ModulePass):
    """Fuse linear + relu/gelu/silu (the linear's only reader) into one linear_act op."""

    name = "fuse-linear-activation"

    activations: str = ",".join(LINEAR_ACTIVATIONS)

    def __post_init__(self) -> None:
        bad = [a for a in self._acts() if a not in LINEAR_ACTIVATIONS]
        if bad or not self._acts():
            raise ValueError(f"fuse-linear-activation: activations={self.activations!r}; valid: {', '.join(LINEAR_ACTIVATIONS)}")

    def _acts(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.activations.split(",") if a.strip())

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        apply_patterns(op, [FuseLinearActivation(self._acts())], self.name)


# -- fuse-elementwise ------------------------------------------------------------------------


def fusible(op: Operation) -> bool:
    """Elementwise, deterministic, with at least one tensor operand and one result, every value
    of a dtype a kernel can hold (the dtype table's Triton type: complex values have none, so an
    op on them stays with torch)."""
    if not isinstance(op, gs.GsOp) or not op.has_trait(Elementwise) or not op.operands or len(op.results) != 1:
        return False
    if not all(_kernel_dtype(v.type) for v in (*op.operands, *op.results)):
        return False
    return not is_random(op)


def _kernel_dtype(t: object) -> bool:
    if not isinstance(t, gs.TensorType):
        return False
    d = DTYPES.get(t.dtype.data)
    return d is not None and bool(d.triton)


def _producers(op: Operation, block: Block) -> list[Operation]:
    """The ops of ``block`` whose results ``op`` (or an op in its regions) reads."""
    values = list(op.operands)
    for region in op.regions:
        for inner in region.walk():
            values.extend(inner.operands)
    out: list[Operation] = []
    for v in values:
        owner = v.owner
        if isinstance(owner, Operation) and owner.parent is block and owner not in out:
            out.append(owner)
    return out


class _Groups:
    """Union-find of groups with the bitsets that keep every union convex."""

    def __init__(self, max_ops: int):
        self.max_ops = max_ops
        self.parent: dict[int, int] = {}
        self.members: dict[int, list[Operation]] = {}
        self.mask: dict[int, int] = {}  # root -> bits of every id merged into it
        self.ext: dict[int, dict[int, int]] = {}  # root -> {producer's group id or -1: its dependencies}
        self.gid: dict[Operation, int] = {}  # grouped op -> the id it was given
        self.anc: dict[Operation, int] = {}  # op -> bits of the groups it depends on (transitively)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def _key(self, p: Operation) -> int:
        return self.gid[p] if p in self.gid else -1

    def legal(self, roots: list[int], producers: list[Operation]) -> bool:
        """Whether ``roots`` and a new op reading ``producers`` form a convex set."""
        if self.max_ops and sum(len(self.members[r]) for r in roots) + 1 > self.max_ops:
            return False
        inside = set(roots)
        mask = 0
        for r in roots:
            mask |= self.mask[r]
        for r in roots:
            for key, bits in self.ext[r].items():
                if key >= 0 and self.find(key) in inside:
                    continue
                if bits & mask:
                    return False
        for p in producers:
            if p in self.gid and self.find(self.gid[p]) in inside:
                continue
            bits = self.anc.get(p, 0) | (1 << self.gid[p] if p in self.gid else 0)
            if bits & mask:
                return False
        return True

    def visit(self, op: Operation, producers: list[Operation], candidate: bool) -> None:
        anc = 0
        for p in producers:
            anc |= self.anc.get(p, 0) | (1 << self.gid[p] if p in self.gid else 0)
        self.anc[op] = anc
        if not candidate:
            return
        roots = sorted({self.find(self.gid[p]) for p in producers if p in self.gid},
                       key=lambda r: (-len(self.members[r]), r))
        chosen: list[int] = []
        if roots and self.legal(roots, producers):
            chosen = roots
        else:
            for r in roots:
                if self.legal([*chosen, r], producers):
                    chosen.append(r)
        if chosen:
            root = chosen[0]
            for r in chosen[1:]:
                self.parent[r] = root
                self.mask[root] |= self.mask.pop(r)
                self.members[root].extend(self.members.pop(r))
                for key, bits in self.ext.pop(r).items():
                    self.ext[root][key] = self.ext[root].get(key, 0) | bits
        else:
            root = len(self.parent)
            self.parent[root] = root
            self.mask[root] = 1 << root
            self.members[root] = []
            self.ext[root] = {}
        self.gid[op] = root
        self.members[root].append(op)
        for p in producers:
            if p in self.gid and self.find(self.gid[p]) == root:
                continue
            key = self._key(p)
            self.ext[root][key] = self.ext[root].get(key, 0) | self.anc.get(p, 0)


def find_groups(block: Block, max_ops: int = 0, min_ops: int = 2, only: set[Operation] | None = None,
                order: dict[Operation, float] | None = None) -> list[list[Operation]]:
    """Maximal (greedy) groups of fusible ops of ``block`` (of ``only``, when given), each convex
    and in program order.  Two groups may still depend on each other both ways once each is
    contracted to one op; :func:`convex` re-checks each group against the graph as fused so far."""
    groups = _Groups(max_ops)
    # Regrouping a few ops reads only their span: ops before it cannot depend on groups in it.
    ops = list(block.ops) if only is None else _span(sorted(only, key=list(block.ops).index) if order is None else sorted(only, key=order.__getitem__))
    for op in ops:
        groups.visit(op, _producers(op, block), fusible(op) and (only is None or op in only))
    position = {op: i for i, op in enumerate(ops)}
    out = [sorted(m, key=position.__getitem__) for m in groups.members.values() if len(m) >= min_ops]
    return sorted(out, key=lambda m: position[m[0]])


def _span(members: list[Operation]) -> list[Operation]:
    """The ops of the block from the group's first op to its last (members in block order)."""
    out = [members[0]]
    op = members[0]
    while op is not members[-1]:
        op = op.next_op
        out.append(op)
    return out


def readers_between(block: Block, members: list[Operation]) -> list[Operation] | None:
    """The outside ops between the group's first and last op that read it (directly or through
    other such ops), in block order; None when one of them also feeds the group (not convex).
    Such a path lies inside that span, so only the span is read."""
    inside = set(members)
    tainted: list[Operation] = []
    seen: set[Operation] = set()
    for op in _span(members):
        producers = _producers(op, block)
        if op in inside:
            if any(p in seen for p in producers):
                return None
        elif any(p in inside or p in seen for p in producers):
            seen.add(op)
            tainted.append(op)
    return tainted


def convex(block: Block, members: list[Operation]) -> bool:
    """No op outside ``members`` (in block order) reads one of them and, through any path, feeds
    one of them."""
    return readers_between(block, members) is not None


def fuse_group(graph: gs.GraphOp, members: list[Operation], prefix: str, order: dict[Operation, float] | None = None,
               moved: list[Operation] | None = None, table: dict | None = None) -> gs.FusedOp | None:
    """Replace ``members`` (a convex set of fusible ops of the graph's block, in block order) by one
    gs.fused.  ``order`` (op -> a sortable key of its position) is kept up to date for the ops this
    moves or creates, so callers can order later groups without renumbering the block.  ``moved``
    is :func:`readers_between` and ``table`` the graph's module table when the caller has them
    (fusion does not change the table; rebuilding it per group made the pass quadratic).  Returns None (and changes nothing) when
    nothing outside reads the group."""
    block = graph.body.block
    inside = set(members)
    if moved is None:
        moved = readers_between(block, members)
        if moved is None:
            raise ValueError("fuse_group: the ops do not form a convex set")

    # The region's operands: values read from outside, in first-use order.
    inputs: list[SSAValue] = []
    for op in members:
        for v in op.operands:
            if not (isinstance(v.owner, Operation) and v.owner in inside) and v not in inputs:
                inputs.append(v)
    # Its results: member values read by anything outside the group (the return included).
    outputs = [r for op in members for r in op.results if any(u.operation not in inside for u in r.uses)]
    if not outputs:
        return None  # dead code: nothing reads the group (dce removes it; a region without results is not one)

    arg_names = [f"{prefix}.{value_name(v) or f'a{i}'}" for i, v in enumerate(inputs)]
    inner = Block(arg_types=[v.type for v in inputs])
    mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, inner.args))
    for op in members:
        clone = op.clone(value_mapper=mapping)
        gs.set_scope(clone, "")
        names = gs.result_names(op)
        if any(n is not None for n in names):
            gs.set_result_names(clone, [f"{prefix}.{n}" if n is not None else f"{prefix}.r{k}" for k, n in enumerate(names)])
        inner.add_op(clone)
        for old, new in zip(op.results, clone.results):
            mapping[old] = new
    inner.add_op(gs.YieldOp.create(operands=[mapping[r] for r in outputs]))

    out_names = [value_name(r) for r in outputs]
    props = {
        "arg_names": ArrayAttr([StringAttr(n) for n in arg_names]),
        "names": ArrayAttr([StringAttr(n if n is not None else f"{prefix}.out{i}") for i, n in enumerate(out_names)]),
    }
    scope = common_scope(graph.module_table() if table is None else table, [op_scope(op) for op in members])
    if scope:
        props["scope"] = StringAttr(scope)
    fused = gs.FusedOp.create(operands=inputs, result_types=[r.type for r in outputs], properties=props,
                              regions=[Region(inner)])
    block.insert_op_after(fused, members[-1])

    # Outside ops between the first and the last member that read the group move after it.
    anchor: Operation = fused
    for op in moved:
        op.detach()
        block.insert_op_after(op, anchor)
        anchor = op
    if order is not None:  # keys between the last member's and the next op's
        low = order[members[-1]]
        nxt = anchor.next_op
        high = order[nxt] if nxt is not None and nxt in order else low + 1.0
        step = (high - low) / (len(moved) + 2)
        for k, op in enumerate([fused, *moved], start=1):
            order[op] = low + k * step

    for old, new in zip(outputs, fused.results):
        old.replace_all_uses_with(new)
    for op in reversed(members):
        block.erase_op(op)
    return fused


@register
@dataclass(frozen=True)
class FuseElementwisePass(ModulePass):
    """Group convex sets of elementwise ops (up to max-ops each, 0: no limit) into gs.fused regions."""

    name = "fuse-elementwise"

    max_ops: int = 64
    min_ops: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.max_ops, int) or self.max_ops < 0:
            raise ValueError(f"fuse-elementwise: max-ops must be an int >= 0 (0: no limit), got {self.max_ops!r}")
        if not isinstance(self.min_ops, int) or self.min_ops < 1 or (self.max_ops and self.min_ops > self.max_ops):
            raise ValueError(f"fuse-elementwise: min-ops must be an int in [1, max-ops], got {self.min_ops!r}")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for graph in gs.graph_ops(op):
            block = graph.body.block
            used = {n.split(".", 1)[0] for n in taken_names(graph)}  # f<k> prefixes in use
            k = sum(1 for o in block.ops if isinstance(o, gs.FusedOp))
            pending = find_groups(block, self.max_ops, self.min_ops)
            order: dict[Operation, float] = {o: float(i) for i, o in enumerate(block.ops)}
            table = graph.module_table()
            while pending:
                # Earlier fusions may have moved ops: take the group in the block's current order.
                members = sorted(pending.pop(0), key=order.__getitem__)
                moved = readers_between(block, members)
                if moved is None:
                    # Convex alone, not once an earlier group became one op: regroup its ops.
                    pending[:0] = find_groups(block, self.max_ops, self.min_ops, only=set(members), order=order)
                    continue
                prefix = f"f{k}"
                while prefix in used:
                    k += 1
                    prefix = f"f{k}"
                with rewriting(self.name, members[0]):
                    fused = fuse_group(graph, members, prefix, order, moved, table)
                if fused is not None:
                    k += 1
