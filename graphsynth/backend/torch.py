"""gs IR -> ``torch.nn.Module``: a ``torch.fx.GraphModule`` generated from verified IR.

Why fx: its code generator turns a graph into straight-line Python (one line per op, no
interpreter, no table lookups per op at run time), so the lowered forward costs what the torch
calls cost plus one attribute fetch per parameter, as eager code does; eager models also pay for
module calls and hooks on top of that (see bench/import_lower.py for the ratios).
The graph is built with the fx API (``graph.call_function`` ...), never by formatting source
text, so no attribute string or value name of the IR can reach the generated code unescaped:
fx writes literals with ``repr`` and sanitises node names, and the few names that fx would copy
verbatim (placeholder targets, ``get_attr`` paths) are checked here first.

What the lowered module looks like:

- ``forward`` takes the graph inputs, named and ordered as the GraphOp's ``arg_names`` (a name
  that is not a safe Python identifier is renamed, see :func:`_placeholder_names`), and returns
  the single output or a tuple of outputs.
- Every ``gs.param`` becomes an ``nn.Parameter`` (kind ``param``) or a registered buffer (kind
  ``buffer``) at its ``state_dict`` key, inside nested plain ``nn.Module``s, so that
  ``net.state_dict()`` has exactly the keys (and shapes) of the ParamOps and
  ``net.load_state_dict(model.state_dict())`` works.  A buffer whose op carries the discardable
  attribute ``persistent = false`` is registered non-persistent (kept out of ``state_dict``).
  Values that are part of the program rather than of the model's state (``constant`` ops, and
  literal scalars of ops that only take tensors) become non-persistent buffers under
  ``_gs_constants`` so that ``.to(device)`` moves them and ``state_dict`` never sees them.
- Symbolic dims in attributes (reshape/expand shapes, slice bounds, arange ends, full shapes ...)
  are computed at run time: each symbol is bound once to a dim of a graph input
  (``x.size(k)``), and each dim expression becomes fx integer arithmetic, shared between ops.
  Types drive the lowering everywhere a runtime value could disagree with them (squeeze removes
  exactly the dims the type says are 1; reshape uses reshape semantics, never ``view``).
- ``gs.fused`` regions are inlined by default; :func:`lower` takes a ``fused`` hook that may turn
  a region into a call of a callable (a generated kernel), see :meth:`_Lowerer.lower_fused_call`.

What lowering allocates, and the budget on it: the parameters and buffers (zeros, or the op's
``init``) and the ``constant`` tensors (see :data:`CONSTRUCTION_BYTES`, keyed by op beside
:data:`LOWERINGS`); nothing else is allocated until the module runs.  Their bytes are summed from
the types before the first tensor is made, and a total over ``max_param_bytes`` is refused with a
GS605 diagnostic at the op's line (the key, its type, its bytes, the budget).  By default the
budget is :data:`DEFAULT_MEMORY_FRACTION` of the memory the machine has available now (see
:func:`default_max_param_bytes`), so the models that fit the machine lower and a 100-byte file
declaring ``param w: f32[1000000000]`` is refused on a machine without 4 GB to spare.
:func:`to_python` builds on the ``meta`` device and allocates nothing.

Names: any legal IR name lowers.  A ``state_dict`` key whose parts are attribute names an
``nn.Module`` already uses (``training``, ``forward``, ``state_dict``, ``_modules``, ``__class__``
...; at the top level also those of ``fx.GraphModule``: ``graph``, ``code``, ``meta`` ...), Python
keywords, or names under the reserved ``_gs_`` prefix are held under mangled attribute names
(``_gs_n_graph.weight``; every other part keeps its name, so ``named_parameters()`` of ordinary
models matches the source model's), and
``state_dict()``/``load_state_dict()`` translate between the two, so the keys stay exactly the IR
names (``strict=True`` round trips).  :func:`state_attr` gives the attribute path of a key.
"""

from __future__ import annotations

import functools
import keyword
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import fx, nn
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr
from xdsl.ir import Block, SSAValue

from graphsynth.diagnostics import Diagnostic, GraphsynthError, VerificationError, error
from graphsynth.dialects import gs
from graphsynth.dialects.rules import FLOAT_DTYPES, Sig
from graphsynth.dialects.shapes import Dim, FloorDiv, SymDim, evaluate, format_shape

__all__ = ["CONSTRUCTION_BYTES", "DEFAULT_MEMORY_FRACTION", "LOWERINGS", "TORCH_DTYPES", "LoweringError",
           "default_max_param_bytes", "lower", "lower_graph", "state_attr", "tensor_bytes", "tie_shared_parameters",
           "to_python"]

TORCH_DTYPES: dict[str, torch.dtype] = {
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "f64": torch.float64,
    "i64": torch.int64,
    "i32": torch.int32,
    "i16": torch.int16,
    "i8": torch.int8,
    "u8": torch.uint8,
    "bool": torch.bool,
}

# Names the generated forward must not use for its arguments: ``self``, and the globals fx's
# code refers to (a parameter named ``torch`` would shadow the module in the body).
_RESERVED_ARG_NAMES = frozenset(
    {"self", "torch", "operator", "inf", "nan", "NoneType", "device", "fx_pytree", "pytree", "builtins", "math",
     "getattr", "slice", "float", "int", "bool", "tuple", "list", "dict", "range", "len", "isinstance", "super",
     "print", "None", "True", "False", "Ellipsis", "NotImplemented"}
)
_SAFE_STATE_PART = re.compile(r"^[A-Za-z0-9_]+$")
_CONSTANTS = "_gs_constants"
_FUSED = "_gs_fused"


class LoweringError(GraphsynthError):
    """Verified IR that this backend cannot turn into torch code (GS604)."""


# -- entry points ------------------------------------------------------------------------------


FusedHook = Callable[[gs.FusedOp], "Callable[..., Any] | None"]


def lower(module: ModuleOp, *, graph: str | None = None, fused: FusedHook | None = None,
          fusion: str | None = None, max_param_bytes: int | None = None) -> fx.GraphModule:
    """Lower a verified module to a ``torch.fx.GraphModule``.

    Unverified IR is refused: the verifier runs first and any diagnostic raises
    :class:`~graphsynth.diagnostics.VerificationError` carrying them, because code generated from
    an ill-typed graph would fail far from the cause (or, worse, compute something else).
    ``graph`` picks a graph by name when the module holds several.  ``fused(op)`` may return a
    callable (an ``nn.Module`` or a function) that computes a ``gs.fused`` region; ``None`` (or no
    hook) inlines the region's body.  ``fusion="triton"`` is a shorthand for
    ``fused=graphsynth.backend.triton.fused_hook`` (generated Triton kernels on CUDA, torch ops on
    CPU); ``fusion="inline"`` (or None) inlines.

    ``max_param_bytes`` bounds what lowering allocates (parameters, buffers and constants, summed):
    more raises :class:`LoweringError` with a GS605 diagnostic before any tensor is made.  None
    (the default) takes :func:`default_max_param_bytes`, what the machine has available now.
    """
    if fusion is not None:
        if fusion not in ("triton", "inline"):
            raise LoweringError([error("GS604", f"lower: unknown fusion {fusion!r}", expected="'triton' | 'inline'",
                                       got=repr(fusion))])
        if fused is not None:
            raise LoweringError([error("GS604", "lower: give either fused= or fusion=, not both")])
        if fusion == "triton":
            from graphsynth.backend.triton import fused_hook

            fused = fused_hook
    diags = _verify(module)
    if diags:
        raise VerificationError(diags, f"cannot lower a module that does not verify: {diags[0].message}"
                                + (f" (and {len(diags) - 1} more)" if len(diags) > 1 else ""))
    return lower_graph(_pick_graph(module, graph), fused=fused, max_param_bytes=max_param_bytes)


def lower_graph(graph_op: gs.GraphOp, *, fused: FusedHook | None = None,
                max_param_bytes: int | None = None) -> fx.GraphModule:
    """Lower one GraphOp without running the verifier (callers that just verified use this).
    ``max_param_bytes`` as for :func:`lower`."""
    return _Lowerer(graph_op, fused, budget=_Budget.of(max_param_bytes)).build()


def to_python(module: ModuleOp, *, graph: str | None = None) -> str:
    """The generated torch code, for reading (``--emit=python``): the declarations of the
    parameters and buffers, then the ``forward`` that fx generated.  The module is built on the
    ``meta`` device: printing allocates no parameter, whatever the types declare."""
    diags = _verify(module)
    if diags:
        raise VerificationError(diags, f"cannot lower a module that does not verify: {diags[0].message}")
    g = _pick_graph(module, graph)
    gm = _Lowerer(g, None, budget=_Budget.addressable(), device="meta").build()
    attrs = gm.meta.get("gs_state_attrs", {})
    lines = [f"# generated by graphsynth from graph {g.graph_name!r}", "# state (state_dict key, kind, type):"]
    for op in g.body.block.ops:
        if isinstance(op, gs.ParamOp):
            key = op.param_name.data
            shown = key if all(_SAFE_STATE_PART.match(p) for p in key.split(".")) else repr(key)
            kind = op.kind.data + ("" if _is_persistent(op) else " (not persistent)")
            held = f" (attribute {attrs[key]})" if key in attrs else ""
            lines.append(f"#   {shown}: {kind} {_type_of(op.results[0])}{held}")
    consts = getattr(gm, _CONSTANTS, None)
    if consts is not None:
        lines.append(f"# constants (non-persistent buffers under {_CONSTANTS}):")
        for name, buf in consts.named_buffers():
            lines.append(f"#   {name}: {str(buf.dtype).replace('torch.', '')}{list(buf.shape)}")
    return "\n".join(lines) + "\n" + gm.code.strip("\n") + "\n"


def tie_shared_parameters(net: nn.Module, model: nn.Module) -> list[list[str]]:
    """Share in ``net`` the parameters that ``model`` shares (tied weights).

    torch.export lists a tied weight once per ``state_dict`` key (``lm_head.weight`` and
    ``transformer.wte.weight`` in GPT2LMHeadModel), so the IR has one ParamOp per key and the
    lowered module gets independent copies: outputs match after ``load_state_dict``, gradients of
    the tied weight do not (the source model sums both uses into one ``.grad``).  Call this after
    loading the weights to restore the sharing; returns the groups of keys that were tied.
    """
    by_tensor: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_tensor.setdefault(id(p), []).append(name)
    own = dict(net.named_parameters(remove_duplicate=False))
    groups = []
    for names in by_tensor.values():
        present = [n for n in names if state_attr(net, n) in own]
        if len(present) < 2:
            continue
        keep = own[state_attr(net, present[0])]
        for other in present[1:]:
            *path, leaf = state_attr(net, other).split(".")
            owner = net.get_submodule(".".join(path)) if path else net
            setattr(owner, leaf, keep)
        groups.append(present)
    return groups


def state_attr(net: nn.Module, key: str) -> str:
    """The attribute path (for ``get_parameter``, ``named_parameters``) that holds the state of
    ``state_dict`` key ``key`` in a lowered module: the key itself, unless a part of it collides
    with torch's own names and is mangled (``graph.weight`` -> ``_gs_n_graph.weight``)."""
    meta = getattr(net, "meta", None)
    attrs = meta.get("gs_state_attrs") if isinstance(meta, dict) else None
    return attrs.get(key, key) if attrs else key


# -- the allocation budget ----------------------------------------------------------------

DEFAULT_MEMORY_FRACTION = 0.75
"""The share of the machine's available memory that lowering may fill by default."""

_MAX_TENSOR_BYTES = (1 << 63) - 1  # torch sizes storage in int64 bytes, also on the meta device
_ALWAYS_OK_BYTES = 1 << 20  # below this the machine is not asked (lowering of tiny graphs stays cheap)
_HUGE = 1 << 256  # byte counts are capped here: any such number is over every budget


def default_max_param_bytes() -> int:
    """:data:`DEFAULT_MEMORY_FRACTION` of the memory available now: ``MemAvailable`` of
    /proc/meminfo, lowered to what a cgroup (container) limit leaves, else the physical pages
    the OS reports free; 8 GiB when the machine says nothing."""
    avail = _available_memory()
    return int((avail if avail is not None else 8 << 30) * DEFAULT_MEMORY_FRACTION)


def _available_memory() -> int | None:
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            pass
    try:  # cgroup v2: the container's limit minus what it already uses
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                found.append(max(int(limit) - int(fh.read().strip()), 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def tensor_bytes(t: gs.TensorType, binding: Mapping[str, int] | None = None) -> int | None:
    """Bytes of a tensor of type ``t``, its symbols taken from ``binding``; None when a dim is
    symbolic and not bound.  Computed from the type, nothing is allocated; capped at 2**256."""
    sig = t.sig()
    n = TORCH_DTYPES[sig.dtype].itemsize
    for d in sig.shape:
        if not isinstance(d, int):
            if binding is None:
                return None
            try:
                d = evaluate(d, dict(binding))
            except Exception:  # noqa: BLE001 - an unbound symbol, a division by zero
                return None
        if d <= 0:
            return 0
        n = min(n * d, _HUGE)
    return n


def format_bytes(n: int) -> str:
    """``4000000000 bytes (3.7 GiB)``."""
    if n >= _HUGE:
        return "more than 2**256 bytes"
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n} bytes ({n / size:.1f} {unit})"
    return f"{n} bytes"


def _constant_bytes(op: Any) -> int | None:
    return tensor_bytes(op.results[0].type)


# Op name -> bytes its lowering allocates while the module is built (not when it runs); beside
# LOWERINGS because it describes what those lowerings do.  Parameters and buffers come on top.
CONSTRUCTION_BYTES: dict[str, Callable[[Any], int | None]] = {"constant": _constant_bytes}


class _Budget:
    """What one lowering may allocate, shared with the lowerings of called graphs."""

    def __init__(self, limit: int | None, *, addressable: bool = False):
        self.limit = limit  # None: ask the machine when the total is not tiny
        self.addressable = addressable

    @staticmethod
    def of(max_param_bytes: int | None) -> _Budget:
        if max_param_bytes is not None and (isinstance(max_param_bytes, bool) or not isinstance(max_param_bytes, int)
                                            or max_param_bytes < 0):
            raise LoweringError([error("GS604", f"lower: max_param_bytes must be a number of bytes >= 0, got "
                                                f"{max_param_bytes!r}", expected="int >= 0", got=repr(max_param_bytes))])
        return _Budget(max_param_bytes)

    @staticmethod
    def addressable() -> _Budget:
        """On the meta device nothing is allocated, but torch still sizes storage in int64 bytes."""
        return _Budget(_MAX_TENSOR_BYTES, addressable=True)

    def check(self, planned: list[tuple[Any, str, str, int | None]]) -> None:
        """``planned``: (op, what, name, bytes) for everything about to be allocated.  Raises
        GS605 at the first entry that brings the total over the limit."""
        total = 0
        limit = self.limit
        for op, what, name, nbytes in planned:
            if nbytes is None:
                continue
            total = min(total + nbytes, _HUGE)
            if limit is None and total > _ALWAYS_OK_BYTES:
                limit = self.limit = default_max_param_bytes()
            if limit is not None and (nbytes > limit or total > limit):
                raise LoweringError([self._diagnostic(op, what, name, nbytes, total, limit, planned)])

    def _diagnostic(self, op: Any, what: str, name: str, nbytes: int, total: int, limit: int,
                    planned: list[tuple[Any, str, str, int | None]]) -> Diagnostic:
        from graphsynth.grammar.parser import source_line
        from graphsynth.verifier import location

        try:
            t = str(op.results[0].type)
        except ValueError:  # a dim with more digits than Python converts to text
            t = f"{op.results[0].type.sig().dtype}[...]"
        if self.addressable:
            head = f"{what} '{name}': {t} needs {format_bytes(nbytes)}; torch cannot address a tensor that large"
            budget = f"{format_bytes(limit)} (the largest tensor torch can address)"
        else:
            head = (f"{what} '{name}': {t} needs {format_bytes(nbytes)}, over the lowering budget of "
                    f"{format_bytes(limit)}" if nbytes > limit else
                    f"{what} '{name}': {t} ({format_bytes(nbytes)}) brings what lowering allocates to "
                    f"{format_bytes(total)}, over the budget of {format_bytes(limit)}")
            budget = f"{limit} bytes (max_param_bytes)"
        largest = sorted((p for p in planned if p[3]), key=lambda p: -p[3])[:3]
        loc = location(op)
        d = error(
            "GS605", head, op=op.name.removeprefix("gs."), value=name, loc=loc,
            expected=f"<= {budget}", got=f"{nbytes} bytes",
            fix=None if self.addressable else "shrink the tensor, or raise the budget: gs.lower(..., max_param_bytes=N)",
            notes=["largest: " + ", ".join(f"{p[2]} ({format_bytes(p[3])})" for p in largest)] if len(largest) > 1 else [],
        )
        d.source_line = source_line(loc)
        return d


def _planned_allocations(graph_op: gs.GraphOp) -> list[tuple[Any, str, str, int | None]]:
    """(op, what, name, bytes) of every tensor lowering ``graph_op`` would make: its state, the
    constants of its body and of the graphs it calls (each once)."""
    out: list[tuple[Any, str, str, int | None]] = []
    module = graph_op.parent_op()
    graphs = {g.graph_name: g for g in gs.graph_ops(module)} if module is not None else {}
    seen = {graph_op.graph_name}
    todo = [graph_op]
    while todo:
        g = todo.pop()
        for op in g.body.walk():
            if isinstance(op, gs.ParamOp):
                out.append((op, op.kind.data, op.param_name.data, tensor_bytes(_type_of(op.results[0]))))
            elif isinstance(op, gs.GsOp):
                name = op.SPEC.name
                size = CONSTRUCTION_BYTES.get(name)
                if size is not None:
                    out.append((op, name, ", ".join(n for n in gs.result_names(op) if n) or name, size(op)))
                elif name == "call":
                    callee = graphs.get(op.attr_values()["callee"])
                    if callee is not None and callee.graph_name not in seen:
                        seen.add(callee.graph_name)
                        todo.append(callee)
    return out


# -- state names -------------------------------------------------------------------------

_MANGLED = "_gs_n_"  # an IR name part that cannot be an attribute as it is
_SHADOWED = "_gs_t_"  # a tensor whose key is also the path of a module (``a`` beside ``a.b``)


@functools.cache
def _taken_names(root: bool) -> frozenset[str]:
    """Attribute names a part of a key cannot use as is: whatever an ``nn.Module`` already has
    (``training``, ``forward``, ``state_dict``, ``_modules`` ...), and at the top level whatever a
    generated ``fx.GraphModule`` has too (``graph``, ``code``, ``meta`` ...; class and instance,
    after code generation); keywords everywhere (fx writes ``self.<name>`` into the code)."""
    names = set(dir(nn.Module())) | set(keyword.kwlist)
    if root:
        g = fx.Graph()
        g.output(g.placeholder("x"))
        names |= set(dir(fx.GraphModule(nn.Module(), g)))
    return frozenset(names)


def _attr_part(part: str, root: bool = False) -> str:
    """The attribute name for one part of a key: the part itself when torch leaves it free,
    else ``_gs_n_<part>`` (injective: a part under the reserved ``_gs_`` prefix is mangled too)."""
    if part in _taken_names(root) or part.startswith(("_gs_", "__")):
        return _MANGLED + part
    return part


def _state_layout(keys: Sequence[str]) -> dict[str, str]:
    """state_dict key -> attribute path, for every key.  A key that is only ``self`` is mangled
    too: fx names the node reading a top-level attribute after it, and a local ``self`` would
    shadow the module in ``forward`` (``self.query`` inside a module path is harmless)."""
    modules = {tuple(parts[:i]) for k in keys for parts in [k.split(".")] for i in range(1, len(parts))}
    out = {}
    for k in keys:
        parts = k.split(".")
        attrs = [_attr_part(p, root=i == 0) for i, p in enumerate(parts)]
        if tuple(parts) in modules:
            attrs[-1] = _SHADOWED + parts[-1]
        elif k == "self":
            attrs[-1] = _MANGLED + k
        out[k] = ".".join(attrs)
    return out


def _renamed(d: Any, prefix: str, names: Mapping[str, str], unknown: str | None) -> None:
    """Rename, in place and in order, the keys of ``d`` under ``prefix`` through ``names``; a key
    that is not in ``names`` but is one of its targets gets the prefix ``unknown`` (so that a
    stray key never lands on a mangled slot)."""
    targets = set(names.values()) if unknown is not None else ()
    items = list(d.items())
    d.clear()
    for k, v in items:
        if k.startswith(prefix):
            rel = k[len(prefix):]
            if rel in names:
                k = prefix + names[rel]
            elif unknown is not None and rel in targets:
                k = prefix + unknown + rel
        d[k] = v


def _save_ir_keys(module: nn.Module, state_dict: Any, prefix: str, local_metadata: Any) -> None:
    """state_dict post-hook: attribute paths -> IR keys."""
    _renamed(state_dict, prefix, module.meta["gs_state_keys"], None)


def _load_ir_keys(module: nn.Module, state_dict: Any, prefix: str, local_metadata: Any, strict: bool,
                  missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str]) -> None:
    """load_state_dict pre-hook: IR keys -> attribute paths (and remember how to name them back)."""
    _renamed(state_dict, prefix, module.meta["gs_state_attrs"], _UNKNOWN)
    module.meta["gs_loading"] = (prefix, error_msgs)


_UNKNOWN = "_gs_u_"


def _loaded_ir_keys(module: nn.Module, incompatible: Any) -> None:
    """load_state_dict post-hook: missing/unexpected keys and size-mismatch messages by IR key."""
    prefix, error_msgs = module.meta.pop("gs_loading", ("", []))
    back = module.meta["gs_state_keys"]

    def name(k: str) -> str:
        if not k.startswith(prefix):
            return k
        rel = k[len(prefix):]
        return prefix + (back.get(rel) or rel.removeprefix(_UNKNOWN))

    incompatible.missing_keys[:] = [name(k) for k in incompatible.missing_keys]
    incompatible.unexpected_keys[:] = [name(k) for k in incompatible.unexpected_keys]
    for i, msg in enumerate(error_msgs):
        for attr, key in back.items():
            msg = msg.replace(f"for {prefix}{attr}:", f"for {prefix}{key}:")
        error_msgs[i] = msg


# -- helpers -------------------------------------------------------------------------------


def _verify(module: ModuleOp) -> list[Diagnostic]:
    """The gs verifier's diagnostics.  Imported lazily: the verifier imports the whole dialect
    machinery and is written in another room; until it exists, xDSL's structural check stands in."""
    try:
        from graphsynth.verifier import verify
    except ModuleNotFoundError as e:  # pragma: no cover - only before graphsynth.verifier lands
        if e.name != "graphsynth.verifier":
            raise
        try:
            module.verify()
        except Exception as e:  # noqa: BLE001 - xDSL raises VerifyException and others
            return [error("GS211", f"module does not verify: {e}")]
        return []
    return list(verify(module))


def _pick_graph(module: ModuleOp, name: str | None) -> gs.GraphOp:
    graphs = gs.graph_ops(module)
    if name is None and len(graphs) > 1:
        # After `outline` the module holds the entry graph and the graphs it calls: the entry is
        # the one graph nobody calls.
        called = {op.attr_values()["callee"] for g in graphs for op in g.body.walk()
                  if isinstance(op, gs.GsOp) and op.SPEC.name == "call"}
        roots = [g for g in graphs if g.graph_name not in called]
        if len(roots) == 1 and called:
            return roots[0]
    if name is not None:
        for g in graphs:
            if g.graph_name == name:
                return g
        known = ", ".join(g.graph_name for g in graphs) or "none"
        raise LoweringError([error("GS604", f"lower: no graph named '{name}' (graphs: {known})")])
    if len(graphs) == 1:
        return graphs[0]
    if not graphs:
        raise LoweringError([error("GS604", "lower: the module holds no graph")])
    raise LoweringError([error(
        "GS604",
        f"lower: the module holds {len(graphs)} graphs; pick one with graph=NAME",
        notes=["graphs: " + ", ".join(g.graph_name for g in graphs)],
    )])


def _type_of(value: SSAValue) -> gs.TensorType:
    t = value.type
    assert isinstance(t, gs.TensorType)
    return t


def _sig(value: SSAValue) -> Sig:
    return _type_of(value).sig()


def _is_persistent(op: gs.ParamOp) -> bool:
    flag = op.attributes.get("persistent")
    if isinstance(flag, IntegerAttr):
        return bool(flag.value.data)
    return True


def _initial_value(op: gs.ParamOp, shape: list[int], dtype: torch.dtype, device: str | None = None) -> torch.Tensor:
    """Zeros, unless the op carries the discardable ``init`` attribute that passes creating new
    parameters set (``zeros``, ``ones``, ``normal:<std>``; see passes/insert_block.py)."""
    tensor = torch.zeros(shape, dtype=dtype, device=device)
    init = op.attributes.get("init")
    spec = init.data if isinstance(init, StringAttr) else "zeros"
    if spec == "ones":
        tensor.fill_(1)
    elif spec.startswith("normal:") and tensor.is_floating_point():
        try:
            std = float(spec.split(":", 1)[1])
        except ValueError:
            raise _fail(op, f"init={spec!r}: expected normal:<std>") from None
        tensor.normal_(0.0, std)
    elif spec != "zeros":
        raise _fail(op, f"init={spec!r} is not one of zeros, ones, normal:<std>", value=op.param_name.data)
    return tensor


def _placeholder_names(arg_names: Sequence[str]) -> list[str]:
    """Argument names for the generated ``forward``: the graph's own names when they are safe
    Python identifiers (fx writes placeholder targets into the ``def`` line verbatim), otherwise
    a sanitised form that keeps positional calls working."""
    out: list[str] = []
    used: set[str] = set()
    for i, name in enumerate(arg_names):
        cand = name
        if not (cand.isidentifier() and not keyword.iskeyword(cand) and cand not in _RESERVED_ARG_NAMES
                and not cand.startswith("__")):
            cand = re.sub(r"\W", "_", name).strip("_") or f"arg{i}"
            if cand[0].isdigit() or keyword.iskeyword(cand) or cand in _RESERVED_ARG_NAMES:
                cand = f"arg_{cand}"
        base, k = cand, 1
        while cand in used:
            cand = f"{base}_{k}"
            k += 1
        used.add(cand)
        out.append(cand)
    return out


def _node_name(name: str | None) -> str | None:
    """A readable fx node name from an IR value name (fx makes it unique)."""
    if not name:
        return None
    cand = re.sub(r"\W", "_", name)
    if not cand or cand[0].isdigit():
        cand = "v" + cand
    return cand + "_" if cand == "self" else cand


def _fail(op: Any, message: str, **kw: Any) -> LoweringError:
    """GS604 at ``op``'s place in the text (with its source line), as every diagnostic is."""
    from graphsynth.grammar.parser import source_line
    from graphsynth.verifier import location

    opname = op.name.removeprefix("gs.") if op is not None else None
    loc = location(op) if op is not None else None
    d = error("GS604", f"{opname}: {message}" if opname else message, op=opname, loc=loc, **kw)
    d.source_line = source_line(loc)
    return LoweringError([d])


def _norm(d: int, rank: int) -> int:
    return d % rank if rank else 0


# -- the lowerer ------------------------------------------------------------------------


Arg = Any  # an fx.Node (a tensor), a Python literal, or None


class _Lowerer:
    """Walks one GraphOp and emits the fx graph; holds the symbol bindings, the dim cache and the
    module tree under construction."""

    def __init__(self, graph_op: gs.GraphOp, fused: FusedHook | None, *, budget: _Budget | None = None,
                 device: str | None = None):
        self.graph_op = graph_op
        self.fused_hook = fused
        self.budget = budget  # None: a called graph, whose allocations the caller's lowerer counted
        self.device_kind = device  # "meta" builds the module without allocating its state
        self.g = fx.Graph()
        self.root = nn.Module()
        self.env: dict[SSAValue, fx.Node] = {}
        self.dims: dict[Dim, Any] = {}
        self.symbols: dict[str, Any] = {}  # symbol -> (fx placeholder, dim index, coeff, const) or node
        self.placeholders: list[fx.Node] = []
        self.consts: dict[tuple, fx.Node] = {}
        self.const_module: nn.Module | None = None
        self.const_count = 0
        self.fused_count = 0
        self.device_node: Any = None
        self.op: Any = None  # the op being lowered, for diagnostics
        self.named: set[fx.Node] = set()
        self.scope = ""  # module path of the op being lowered (node.meta["gs_scope"])
        self.in_fused = False
        self.call_stack: tuple[str, ...] = (graph_op.graph_name,)  # graphs being lowered (call recursion)
        self.callees: dict[str, str] = {}  # callee graph -> its submodule under _gs_calls
        # IR value name -> fx node, for the grad tools (gm.meta["gs_values"]); see build().
        self.value_nodes: dict[str, fx.Node] = {}
        self.state_attrs: dict[str, str] = {}  # state_dict key -> mangled attribute path

    # -- building -----------------------------------------------------------------------
    def build(self) -> fx.GraphModule:
        block = self.graph_op.body.block
        arg_names = [a.data for a in self.graph_op.arg_names.data]
        if len(arg_names) != len(block.args):
            raise _fail(None, f"graph '{self.graph_op.graph_name}' names {len(arg_names)} inputs but has {len(block.args)}")
        for name, ir_name, value in zip(_placeholder_names(arg_names), arg_names, block.args):
            node = self.g.placeholder(name)
            self.placeholders.append(node)
            self.env[value] = node
            self.value_nodes[ir_name] = node
        if self.budget is not None:  # before the first tensor is made
            self.budget.check(_planned_allocations(self.graph_op))
        self._collect_symbols(block)
        self._declare_state(block)
        outputs = self.lower_block(block)
        # A returned constant would alias a buffer of the module; eager code returns a fresh tensor.
        outputs = [self.g.call_method("clone", (o,)) if isinstance(o, fx.Node) and o.op == "get_attr"
                   and o.target.startswith(_CONSTANTS + ".") else o for o in outputs]
        self.g.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
        for node in list(self.g.nodes):
            if node.op == "get_attr" and not node.users:  # state the forward never reads
                self.g.erase_node(node)
        self.g.lint()
        cls_name = re.sub(r"\W", "_", self.graph_op.graph_name) or "Graph"
        gm = fx.GraphModule(self.root, self.g, class_name=cls_name if cls_name.isidentifier() else "Graph")
        self._adopt_tree(gm)
        if self.state_attrs:
            # Keys held under mangled attribute names: state_dict()/load_state_dict() speak IR keys.
            gm.meta["gs_state_attrs"] = dict(self.state_attrs)
            gm.meta["gs_state_keys"] = {a: k for k, a in self.state_attrs.items()}
            gm.register_state_dict_post_hook(_save_ir_keys)
            gm.register_load_state_dict_pre_hook(_load_ir_keys)
            gm.register_load_state_dict_post_hook(_loaded_ir_keys)
        # Where each IR value lives in the fx graph, keyed as the text form spells it ("%3", an
        # input name, a state_dict key), by node name (which survives deepcopy); several values
        # share a node when an op lowers to no computation (identity, full slice).
        live = set(self.g.nodes)
        gm.meta["gs_values"] = {k: n.name for k, n in self.value_nodes.items() if n in live}
        return gm

    def _adopt_tree(self, gm: fx.GraphModule) -> None:
        """fx copies only the attributes the graph reads, through fresh intermediate modules and as
        persistent buffers; put the whole tree back, in declaration order, so that unused
        parameters keep their keys, non-persistent buffers stay out of ``state_dict`` and the keys
        come in the order of the ParamOps (the order of the source model's state_dict)."""
        for name in list(gm._modules) + list(gm._parameters) + list(gm._buffers):
            delattr(gm, name)
        for name, p in self.root.named_parameters(recurse=False):
            gm.register_parameter(name, p)
        for name, b in self.root.named_buffers(recurse=False):
            gm.register_buffer(name, b, persistent=name not in self.root._non_persistent_buffers_set)
        for name, child in self.root.named_children():
            gm.add_module(name, child)

    def _declare_state(self, block: Block) -> None:
        """One nn.Parameter or buffer per ParamOp, at its state_dict key (at a mangled attribute
        path when a part of the key is a name torch uses, see :func:`_state_layout`)."""
        params = [op for op in block.ops if isinstance(op, gs.ParamOp)]
        layout = _state_layout([op.param_name.data for op in params])
        # Only the keys that differ from their attribute path (none, for most models).
        self.state_attrs = {k: a for k, a in layout.items() if k != a}
        for op in params:
            self.op = op
            key = op.param_name.data
            if not all(_SAFE_STATE_PART.match(p) for p in key.split(".")):
                raise _fail(op, f"state_dict key {key!r} has a part that is not [A-Za-z0-9_]+", value=key)
            attr = layout[key]
            parts = attr.split(".")
            sig = _sig(op.results[0])
            shape = []
            for d in sig.shape:
                if not isinstance(d, int):
                    raise _fail(op, f"'{key}' has symbolic shape {format_shape(sig.shape)}; state must be static",
                                value=key)
                shape.append(d)
            owner = self.root
            try:
                for p in parts[:-1]:
                    child = owner._modules.get(p)
                    if child is None:
                        child = nn.Module()
                        owner.add_module(p, child)
                    owner = child
                dtype = TORCH_DTYPES[sig.dtype]
                tensor = _initial_value(op, shape, dtype, self.device_kind)
                kind = op.kind.data
                if kind == "param":
                    owner.register_parameter(parts[-1], nn.Parameter(tensor, requires_grad=sig.dtype in FLOAT_DTYPES))
                elif kind == "buffer":
                    owner.register_buffer(parts[-1], tensor, persistent=_is_persistent(op))
                else:
                    raise _fail(op, f"'{key}' has kind '{kind}', expected param or buffer", value=key)
            except (KeyError, AttributeError, TypeError) as e:
                raise _fail(op, f"cannot place '{key}' in the module tree: {e}", value=key) from None
            self.env[op.results[0]] = self.value_nodes[key] = self.g.get_attr(attr)

    # -- symbols and dims ------------------------------------------------------------------
    def _collect_symbols(self, block: Block) -> None:
        """Bind each symbol to a dim of a graph input: a dim that is the bare symbol first, then a
        linear one (``c*S + k``, solved as ``(size - k) // c``)."""
        linear: dict[str, tuple[int, int, int, int]] = {}
        for i, value in enumerate(block.args):
            for k, d in enumerate(_sig(value).shape):
                if not isinstance(d, SymDim):
                    continue
                if len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1:
                    atom, e = d.terms[0][0][0]
                    if isinstance(atom, str) and e == 1:
                        self.symbols.setdefault(atom, (i, k, 1, 0))
                        continue
                solved = _solve_linear(d)
                if solved is not None:
                    sym, c, const = solved
                    linear.setdefault(sym, (i, k, c, const))
        for sym, how in linear.items():
            self.symbols.setdefault(sym, how)

    def symbol(self, name: str) -> Any:
        how = self.symbols.get(name)
        if how is None:
            raise _fail(self.op, f"symbol '{name}' is not bound by any graph input dim; cannot compute it at run time",
                        fix="give the graph an input whose type mentions the symbol")
        if isinstance(how, tuple):
            i, k, c, const = how
            node = self.g.call_method("size", (self.placeholders[i], k))
            if const:
                node = self.g.call_function(operator.sub, (node, const))
            if c != 1:
                node = self.g.call_function(operator.floordiv, (node, c))
            self.symbols[name] = node
            return node
        return how

    def dim(self, d: Any) -> Any:
        """An int, or the fx node computing a symbolic dim (memoised: expressions repeat)."""
        if isinstance(d, str):  # a symbolic scalar stored as text
            d = gs.dim_value(d)
        if not isinstance(d, SymDim):
            return d
        node = self.dims.get(d)
        if node is None:
            node = self._poly(d)
            self.dims[d] = node
        return node

    def dim_list(self, ds: Sequence[Any]) -> list[Any]:
        return [self.dim(d) for d in ds]

    def _poly(self, d: SymDim) -> Any:
        total: Any = None
        const = 0
        for mono, c in d.terms:
            if mono == ():
                const += c
                continue
            prod: Any = None
            for atom, e in mono:
                base = self.symbol(atom) if isinstance(atom, str) else self._floor(atom)
                for _ in range(e):
                    prod = base if prod is None else self.g.call_function(operator.mul, (prod, base))
            term = prod if abs(c) == 1 else self.g.call_function(operator.mul, (abs(c), prod))
            if total is None:
                total = term if c > 0 else self.g.call_function(operator.neg, (term,))
            else:
                total = self.g.call_function(operator.add if c > 0 else operator.sub, (total, term))
        if total is None:
            return const
        if const:
            total = self.g.call_function(operator.add if const > 0 else operator.sub, (total, abs(const)))
        return total

    def _floor(self, atom: FloorDiv) -> Any:
        key = SymDim(((((atom, 1),), 1),))  # the dim that is this one atom
        node = self.dims.get(key)
        if node is None:
            node = self.g.call_function(operator.floordiv, (self.dim(atom.num), self.dim(atom.den)))
            self.dims[key] = node
        return node

    # -- values ------------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> fx.Node:
        return self.g.call_function(fn, args, kwargs)

    def method(self, name: str, *args: Any, **kwargs: Any) -> fx.Node:
        return self.g.call_method(name, args, kwargs)

    def cast(self, x: Arg, sig: Sig | None, dtype: str) -> Arg:
        """``x.to(dtype)`` when the tensor's type says it has another dtype."""
        if sig is None or sig.dtype == dtype:
            return x
        return self.method("to", x, TORCH_DTYPES[dtype])

    def device(self) -> Any:
        """The device for creation ops: that of the first graph input (or of the state)."""
        if self.device_node is None:
            for ph in self.placeholders:
                self.device_node = self.call(getattr, ph, "device")
                break
            else:
                for name, _ in list(self.root.named_parameters()) + list(self.root.named_buffers()):
                    self.device_node = self.call(getattr, self.g.get_attr(name), "device")
                    break
        return self.device_node

    def constant(self, value: torch.Tensor, key: tuple) -> fx.Node:
        """A tensor that is part of the program: a non-persistent buffer, read with get_attr."""
        node = self.consts.get(key)
        if node is not None:
            return node
        if self.const_module is None:
            if _CONSTANTS in self.root._modules or hasattr(self.root, _CONSTANTS):
                raise _fail(self.op, f"the name '{_CONSTANTS}' is taken by the model's state")
            self.const_module = nn.Module()
            self.root.add_module(_CONSTANTS, self.const_module)
        name = f"c{self.const_count}"
        self.const_count += 1
        if self.device_kind is not None:
            value = value.to(self.device_kind)
        self.const_module.register_buffer(name, value, persistent=False)
        node = self.g.get_attr(f"{_CONSTANTS}.{name}")
        self.consts[key] = node
        return node

    def scalar_tensor(self, v: Any, dtype: str) -> fx.Node:
        """A literal scalar as a 0-dim tensor of ``dtype``, for torch functions that take tensors."""
        return self.constant(torch.tensor(v, dtype=TORCH_DTYPES[dtype]), ("scalar", type(v).__name__, v, dtype))

    # -- ops -------------------------------------------------------------------------------
    def lower_block(self, block: Block) -> list[Arg]:
        """Lower every op of a block; returns the operands of its terminator."""
        for op in block.ops:
            self.op = op
            if isinstance(op, gs.ParamOp):
                continue
            if isinstance(op, (gs.ReturnOp, gs.YieldOp)):
                return [self.env[v] for v in op.operands]
            if not self.in_fused:
                self.scope = getattr(op, "scope", "")
            before = len(self.g.nodes)
            if isinstance(op, gs.FusedOp):
                results = self.lower_fused(op)
            elif isinstance(op, gs.GsOp):
                results = self.lower_op(op)
            else:
                raise _fail(op, "is not a gs op this backend knows")
            self.bind(op, results)
            if not self.in_fused:
                # Tag the nodes this op created (node.meta["gs_op"] = its result names), so the
                # grad tools can re-run one op's computation in isolation.
                tag = tuple(n or "" for n in gs.result_names(op))
                for node, _ in zip(reversed(self.g.nodes), range(len(self.g.nodes) - before)):
                    node.meta.setdefault("gs_op", tag)
        raise _fail(None, "block has no terminator")

    def bind(self, op: Any, results: Any) -> None:
        """Map the op's results to fx values; a node made for this op takes the IR value's name,
        so the generated code reads like the IR."""
        if not isinstance(results, (list, tuple)):
            results = [results]
        if len(results) != len(op.results):
            raise _fail(op, f"lowering produced {len(results)} values for {len(op.results)} results")
        for value, node, name in zip(op.results, results, gs.result_names(op)):
            wanted = _node_name(name)
            if wanted and isinstance(node, fx.Node) and node not in self.named \
                    and node.op in ("call_function", "call_method", "call_module"):
                node._rename(wanted)
            if isinstance(node, fx.Node):
                self.named.add(node)
                # For checkers, debuggers and the grad tools; never read at run time.
                node.meta.setdefault("gs_type", _sig(value))
                if name:
                    node.meta.setdefault("gs_value", name)
                node.meta.setdefault("gs_scope", self.scope)
                if name and not self.in_fused:
                    self.value_nodes["%" + name] = node
            self.env[value] = node

    def lower_op(self, op: gs.GsOp) -> Any:
        name = op.name.removeprefix("gs.")
        fn = LOWERINGS.get(name)
        if fn is None:
            raise _fail(op, "has no torch lowering")
        args: list[Arg] = []
        sigs: list[Sig | None] = []
        for a in op.arg_layout():
            if isinstance(a, SSAValue):
                args.append(self.env[a])
                sigs.append(_sig(a))
            else:
                args.append(a)
                sigs.append(None)
        out = [_sig(r) for r in op.results]
        return fn(self, args, sigs, op.attr_values(), out)

    def lower_fused(self, op: gs.FusedOp) -> list[Arg]:
        """A fused region: the hook's callable when it gives one, else the body inlined."""
        if self.fused_hook is not None:
            kernel = self.fused_hook(op)
            if kernel is not None:
                return self.lower_fused_call(op, kernel)
        inner = op.body.block
        if len(inner.args) != len(op.operands):
            raise _fail(op, f"region has {len(inner.args)} arguments for {len(op.operands)} operands")
        for barg, operand in zip(inner.args, op.operands):
            self.env[barg] = self.env[operand]
        saved = self.op, self.in_fused
        self.in_fused = True  # the region's ops belong to the fused op's module
        results = self.lower_block(inner)
        self.op, self.in_fused = saved
        return results

    def lower_fused_call(self, op: gs.FusedOp, kernel: Callable[..., Any]) -> list[Arg]:
        """Lower a fused region to one call of ``kernel(*operands)``, which returns one tensor or
        a tuple of them (one per result).  An ``nn.Module`` kernel becomes a submodule under
        ``_gs_fused`` (it must hold no state, so ``state_dict`` keeps its keys); any other callable
        is called directly from the generated code."""
        operands = [self.env[v] for v in op.operands]
        if isinstance(kernel, nn.Module):
            if next(iter(kernel.state_dict()), None) is not None:
                raise _fail(op, "a fused kernel module must not hold parameters or buffers")
            holder = self.root._modules.get(_FUSED)
            if holder is None:
                if hasattr(self.root, _FUSED):
                    raise _fail(op, f"the name '{_FUSED}' is taken by the model's state")
                holder = nn.Module()
                self.root.add_module(_FUSED, holder)
            name = f"k{self.fused_count}"
            self.fused_count += 1
            holder.add_module(name, kernel)
            node = self.g.call_module(f"{_FUSED}.{name}", tuple(operands))
        else:
            node = self.g.call_function(kernel, tuple(operands))
        if len(op.results) == 1:
            return [node]
        return [self.call(operator.getitem, node, i) for i in range(len(op.results))]


def _solve_linear(d: SymDim) -> tuple[str, int, int] | None:
    """``c*S + k`` -> (S, c, k) for a positive c; None for anything else."""
    sym = None
    c = 0
    const = 0
    for mono, coeff in d.terms:
        if mono == ():
            const = coeff
        elif len(mono) == 1 and isinstance(mono[0][0], str) and mono[0][1] == 1 and sym is None:
            sym, c = mono[0][0], coeff
        else:
            return None
    if sym is None or c <= 0:
        return None
    return sym, c, const


# -- the op table ----------------------------------------------------------------------------
# Each entry: fn(L, args, sigs, attrs, out) -> fx value or list of them.  ``args`` are fx nodes
# (tensors), literals or None by argument position; ``sigs`` the matching tensor types (None for
# literals); ``attrs`` is ``op.attr_values()``; ``out`` the result types.  The callables are the C
# builtins behind torch.nn.functional (``torch._C._nn.gelu``, ``torch.layer_norm``...): the
# Python wrappers in torch.nn.functional add a torch-function check per call.

Lowering = Callable[[_Lowerer, list[Arg], list["Sig | None"], dict[str, Any], list[Sig]], Any]
LOWERINGS: dict[str, Lowering] = {}


def _unary(fn: Callable[..., Any]) -> Lowering:
    return lambda L, a, s, k, out: L.call(fn, a[0])


for _name, _fn in {
    "relu": torch.relu,
    "silu": torch._C._nn.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "neg": torch.neg,
    "abs": torch.abs,
    "sin": torch.sin,
    "cos": torch.cos,
    "erf": torch.erf,
    "reciprocal": torch.reciprocal,
    "logical_not": torch.logical_not,
    "sign": torch.sign,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
    "trunc": torch.trunc,
}.items():
    LOWERINGS[_name] = _unary(_fn)

LOWERINGS["identity"] = lambda L, a, s, k, out: a[0]


def _choice(L: _Lowerer, attr: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed:
        raise _fail(L.op, f"attribute {attr}={value!r} is not one of {', '.join(map(repr, allowed))}",
                    expected=" | ".join(map(repr, allowed)), got=repr(value))
    return value


LOWERINGS["gelu"] = lambda L, a, s, k, out: L.call(
    torch._C._nn.gelu, a[0], approximate=_choice(L, "approximate", k["approximate"], ("none", "tanh"))
)
LOWERINGS["leaky_relu"] = lambda L, a, s, k, out: L.call(torch._C._nn.leaky_relu, a[0], k["negative_slope"])
LOWERINGS["softplus"] = lambda L, a, s, k, out: L.call(torch._C._nn.softplus, a[0], k["beta"], k["threshold"])
LOWERINGS["hardtanh"] = lambda L, a, s, k, out: L.call(torch._C._nn.hardtanh, a[0], k["min_val"], k["max_val"])
LOWERINGS["clamp"] = lambda L, a, s, k, out: (
    a[0] if k["min"] is None and k["max"] is None else L.call(torch.clamp, a[0], k["min"], k["max"])
)
LOWERINGS["dropout"] = lambda L, a, s, k, out: (
    L.call(torch.dropout, a[0], k["p"], True) if k["train"] and k["p"] > 0 else a[0]
)
LOWERINGS["cast"] = lambda L, a, s, k, out: L.cast(a[0], s[0], out[0].dtype)


def _binary(fn: Callable[..., Any], *, tensors_only: bool = False, compare: bool = False) -> Lowering:
    """Elementwise binary op.  Tensor operands whose dtype differs from the result's are cast to
    it first, so the result has the declared dtype whatever torch's promotion of mixed dtypes
    (0-dim tensors, bf16 with f16 ...) would give.  Comparisons leave dtypes to torch."""

    def lower(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
        dtype = out[0].dtype
        args = list(a[:2]) if compare else [L.cast(x, sig, dtype) for x, sig in zip(a[:2], s[:2])]
        if tensors_only:
            want = _common_dtype(s[:2], a[:2]) if compare else dtype
            args = [L.scalar_tensor(x, want) if sig is None else x for x, sig in zip(args, s[:2])]
        return L.call(fn, *args)

    return lower


def _common_dtype(sigs: Sequence[Sig | None], args: Sequence[Arg]) -> str:
    for sig in sigs:
        if sig is not None:
            return sig.dtype
    return "bool" if isinstance(args[0], bool) else "f32"


for _name, _fn in {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    # torch.pow, not operator.pow: fx prints the latter as `-2.0 ** x`, which Python reads as -(2.0 ** x).
    "pow": torch.pow,
    "remainder": operator.mod,
    "bitwise_and": operator.and_,
    "bitwise_or": operator.or_,
}.items():
    LOWERINGS[_name] = _binary(_fn)
LOWERINGS["maximum"] = _binary(torch.maximum, tensors_only=True)
LOWERINGS["minimum"] = _binary(torch.minimum, tensors_only=True)
for _name, _fn in {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
                   "ge": operator.ge}.items():
    LOWERINGS[_name] = _binary(_fn, compare=True)
LOWERINGS["logical_and"] = _binary(torch.logical_and, tensors_only=True, compare=True)
LOWERINGS["logical_or"] = _binary(torch.logical_or, tensors_only=True, compare=True)


def _div(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    mode = _choice(L, "rounding_mode", k["rounding_mode"], (None, "trunc", "floor"))
    dtype = out[0].dtype
    x, y = (L.cast(v, sig, dtype) for v, sig in zip(a[:2], s[:2]))
    if mode is None:
        return L.call(operator.truediv, x, y)
    if s[0] is None:
        x = L.scalar_tensor(x, dtype)
    return L.call(torch.div, x, y, rounding_mode=mode)


LOWERINGS["div"] = _div


def _where(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    dtype = out[0].dtype
    x, y = (L.cast(v, sig, dtype) for v, sig in zip(a[1:3], s[1:3]))
    if s[1] is None and s[2] is None:  # two literals: torch would pick the default dtype
        x, y = L.scalar_tensor(x, dtype), L.scalar_tensor(y, dtype)
    return L.call(torch.where, a[0], x, y)


LOWERINGS["where"] = _where


def _masked_fill(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    x, mask, value = a
    if s[2] is not None and s[2].shape != ():
        # masked_fill takes a 0-dim value only; a broadcastable tensor goes through where.
        return L.call(torch.where, mask, L.cast(value, s[2], out[0].dtype), x)
    return L.call(torch.masked_fill, x, mask, value)


LOWERINGS["masked_fill"] = _masked_fill

# Linear algebra, convolution, pooling.
LOWERINGS["linear"] = lambda L, a, s, k, out: L.call(torch._C._nn.linear, a[0], a[1], a[2] if len(a) > 2 else None)
LOWERINGS["addmm"] = lambda L, a, s, k, out: L.call(torch.addmm, a[0], a[1], a[2])


def linear_relu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """relu(linear(x)) as one addmm with a ReLU epilogue (cuBLASLt on CUDA; no second pass over the
    output on the CPU) where that kernel applies: 2-d input, a bias, and no autograd graph to record
    (``_addmm_activation`` has no derivative).  Otherwise linear then relu in place."""
    if bias is not None and x.dim() == 2 and not (
        torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad)
    ):
        return torch._addmm_activation(bias, x, weight.t())
    return torch.relu_(torch._C._nn.linear(x, weight, bias))


def _linear_act(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """linear_act: the linear's output is a fresh tensor nobody else reads, so the activation
    runs in place on it (one buffer instead of two); relu_, silu_ and gelu_ are autograd-safe there
    (their backward gives the same gradients as the out-of-place ops)."""
    act = _choice(L, "activation", k["activation"], ("relu", "gelu", "silu"))
    bias = a[2] if len(a) > 2 else None
    if act == "relu":
        return L.call(linear_relu, a[0], a[1], bias)
    y = L.call(torch._C._nn.linear, a[0], a[1], bias)
    if act == "silu":
        return L.call(torch._C._nn.silu_, y)
    return L.call(torch._C._nn.gelu_, y, approximate=_choice(L, "approximate", k["approximate"], ("none", "tanh")))


LOWERINGS["linear_act"] = _linear_act
LOWERINGS["matmul"] = lambda L, a, s, k, out: L.call(torch.matmul, a[0], a[1])


def _conv(fn: Callable[..., Any]) -> Lowering:
    return lambda L, a, s, k, out: L.call(
        fn, a[0], a[1], a[2] if len(a) > 2 else None, list(k["stride"]), list(k["padding"]), list(k["dilation"]),
        k["groups"],
    )


LOWERINGS["conv2d"] = _conv(torch.conv2d)
LOWERINGS["conv1d"] = _conv(torch.conv1d)
LOWERINGS["max_pool2d"] = lambda L, a, s, k, out: L.call(
    torch.max_pool2d, a[0], list(k["kernel_size"]), list(k["stride"] or k["kernel_size"]), list(k["padding"]),
    list(k["dilation"]), k["ceil_mode"],
)
LOWERINGS["avg_pool2d"] = lambda L, a, s, k, out: L.call(
    torch._C._nn.avg_pool2d, a[0], list(k["kernel_size"]), list(k["stride"] or k["kernel_size"]),
    list(k["padding"]), k["ceil_mode"], k["count_include_pad"],
)
LOWERINGS["adaptive_avg_pool2d"] = lambda L, a, s, k, out: L.call(
    torch._C._nn.adaptive_avg_pool2d, a[0], list(k["output_size"])
)



def _interpolate(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """The aten upsample kernel of the mode and rank, given the output size and (when the IR has
    them) the scale factors, exactly as ``F.interpolate(scale_factor=...)`` calls it: with scales
    the kernel maps output pixels back with 1/scale, which differs from size/in_size when the
    product is not an integer."""
    spatial = len(s[0].shape) - 2
    mode = _choice(L, "mode", k["mode"], ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"))
    fn = {
        ("nearest", 1): torch._C._nn.upsample_nearest1d,
        ("nearest", 2): torch._C._nn.upsample_nearest2d,
        ("nearest", 3): torch._C._nn.upsample_nearest3d,
        ("nearest-exact", 1): torch._C._nn._upsample_nearest_exact1d,
        ("nearest-exact", 2): torch._C._nn._upsample_nearest_exact2d,
        ("nearest-exact", 3): torch._C._nn._upsample_nearest_exact3d,
        ("linear", 1): torch._C._nn.upsample_linear1d,
        ("bilinear", 2): torch._C._nn.upsample_bilinear2d,
        ("bicubic", 2): torch._C._nn.upsample_bicubic2d,
        ("trilinear", 3): torch._C._nn.upsample_trilinear3d,
    }.get((mode, spatial))
    if fn is None:
        raise _fail(L.op, f"mode '{mode}' does not apply to {spatial} spatial dims")
    scales = list(k["scales"]) if k["scales"] is not None else [None] * spatial
    size = L.dim_list(k["size"])
    if mode.startswith("nearest"):
        return L.call(fn, a[0], size, *scales)
    return L.call(fn, a[0], size, bool(k["align_corners"]), *scales)


LOWERINGS["interpolate"] = _interpolate


# Normalisation, attention, lookups.
def _opt(a: list[Arg], i: int) -> Arg:
    return a[i] if i < len(a) else None


LOWERINGS["layer_norm"] = lambda L, a, s, k, out: L.call(
    torch.layer_norm, a[0], L.dim_list(k["normalized_shape"]), _opt(a, 1), _opt(a, 2), k["eps"]
)
LOWERINGS["rms_norm"] = lambda L, a, s, k, out: L.call(
    torch.rms_norm, a[0], L.dim_list(k["normalized_shape"]), _opt(a, 1), k["eps"]
)
LOWERINGS["batch_norm"] = lambda L, a, s, k, out: L.call(
    torch.batch_norm, a[0], _opt(a, 1), _opt(a, 2), _opt(a, 3), _opt(a, 4), k["training"], k["momentum"], k["eps"],
    True,
)
LOWERINGS["group_norm"] = lambda L, a, s, k, out: L.call(
    torch.group_norm, a[0], k["num_groups"], _opt(a, 1), _opt(a, 2), k["eps"], True
)


def _softmax(fn: Callable[..., Any]) -> Lowering:
    def lower(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
        if k["dtype"] is None:
            return L.call(fn, a[0], k["dim"])
        return L.call(fn, a[0], k["dim"], dtype=TORCH_DTYPES[k["dtype"]])

    return lower


LOWERINGS["softmax"] = _softmax(torch.softmax)
LOWERINGS["log_softmax"] = _softmax(torch.log_softmax)


def _embedding(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    pad = k["padding_idx"]
    if pad is None:
        return L.call(torch.embedding, a[0], a[1])
    if pad < 0:
        rows = s[0].shape[0]
        pad = rows + pad if isinstance(rows, int) else L.call(operator.add, L.dim(rows), pad)
    return L.call(torch.embedding, a[0], a[1], pad)


LOWERINGS["embedding"] = _embedding


def _attention(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    kwargs: dict[str, Any] = {}
    if _opt(a, 3) is not None:
        kwargs["attn_mask"] = a[3]
    if k["dropout_p"]:
        kwargs["dropout_p"] = k["dropout_p"]
    if k["is_causal"]:
        kwargs["is_causal"] = True
    if k["scale"] is not None:
        kwargs["scale"] = k["scale"]
    return L.call(torch._C._nn.scaled_dot_product_attention, a[0], a[1], a[2], **kwargs)


LOWERINGS["attention"] = _attention

# Shape manipulation.  Shapes with symbols are computed at run time by L.dim_list.
LOWERINGS["reshape"] = lambda L, a, s, k, out: L.call(torch.reshape, a[0], L.dim_list(k["shape"]))
LOWERINGS["expand"] = lambda L, a, s, k, out: L.method("expand", a[0], L.dim_list(k["shape"]))
LOWERINGS["permute"] = lambda L, a, s, k, out: L.call(torch.permute, a[0], list(k["dims"]))
LOWERINGS["transpose"] = lambda L, a, s, k, out: L.call(torch.transpose, a[0], k["dim0"], k["dim1"])
LOWERINGS["flatten"] = lambda L, a, s, k, out: L.call(torch.flatten, a[0], k["start_dim"], k["end_dim"])
LOWERINGS["unsqueeze"] = lambda L, a, s, k, out: L.call(torch.unsqueeze, a[0], k["dim"])


def _squeeze(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    # Exactly the dims the type says are 1: a symbol that happens to be 1 at run time stays.
    shape = s[0].shape
    wanted = range(len(shape)) if k["dims"] is None else {_norm(d, len(shape)) for d in k["dims"]}
    dims = tuple(d for d in sorted(wanted) if shape[d] == 1)
    return L.call(torch.squeeze, a[0], dims) if dims else a[0]


LOWERINGS["squeeze"] = _squeeze
LOWERINGS["concat"] = lambda L, a, s, k, out: L.call(torch.cat, list(a), k["dim"])


def _slice(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    rank = len(s[0].shape)
    dim = _norm(k["dim"], rank)
    start, end, step = L.dim(k["start"] or 0), L.dim(k["end"]), k["step"] or 1
    if start == 0 and end is None and step == 1:
        return a[0]
    index = (slice(None),) * dim + (slice(start if start != 0 else None, end, step if step != 1 else None),)
    return L.call(operator.getitem, a[0], index)


LOWERINGS["slice"] = _slice
LOWERINGS["select"] = lambda L, a, s, k, out: L.call(torch.select, a[0], k["dim"], L.dim(k["index"]))


def _split(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    parts = L.call(torch.split, a[0], L.dim_list(k["sizes"]), k["dim"])
    return [L.call(operator.getitem, parts, i) for i in range(len(out))]


LOWERINGS["split"] = _split


def _index_select(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    return L.call(torch.index_select, a[0], k["dim"], a[1])


LOWERINGS["index_select"] = _index_select


def _index(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """``x[:, i, :, j]``: index tensors at ``dims``, full slices between them (torch follows
    numpy on where the broadcast index dims go, as the shape rule does)."""
    indices = list(a[1:])
    rank = len(s[0].shape)
    dims = list(range(len(indices))) if k["dims"] is None else [_norm(d, rank) for d in k["dims"]]
    key: list[Any] = [slice(None)] * (max(dims) + 1)
    for d, idx in zip(dims, indices):
        key[d] = idx
    return L.call(operator.getitem, a[0], tuple(key))


LOWERINGS["index"] = _index
LOWERINGS["gather"] = lambda L, a, s, k, out: L.call(torch.gather, a[0], k["dim"], L.cast(a[1], s[1], "i64"))
LOWERINGS["gather_rows"] = lambda L, a, s, k, out: L.call(operator.getitem, a[0], a[1])
LOWERINGS["pad"] = lambda L, a, s, k, out: L.call(torch.constant_pad_nd, a[0], list(k["pad"]), k["value"])
LOWERINGS["repeat"] = lambda L, a, s, k, out: L.method("repeat", a[0], L.dim_list(k["repeats"]))
LOWERINGS["tril"] = lambda L, a, s, k, out: L.call(torch.tril, a[0], k["diagonal"])
LOWERINGS["triu"] = lambda L, a, s, k, out: L.call(torch.triu, a[0], k["diagonal"])


# Reductions and scans.  "All dims" is spelled out from the static rank.
def _dims(k: dict[str, Any], sig: Sig) -> list[int]:
    dims = k["dims"]
    return list(range(len(sig.shape))) if not dims else list(dims)


def _reduce(fn: Callable[..., Any], with_dtype: bool) -> Lowering:
    def lower(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
        dims = _dims(k, s[0])
        if with_dtype and (k.get("dtype") is not None or out[0].dtype != s[0].dtype or s[0].dtype not in FLOAT_DTYPES):
            # An explicit dtype, or a sum of ints/bools: the declared result dtype decides.
            return L.call(fn, a[0], dims, k["keepdim"], dtype=TORCH_DTYPES[out[0].dtype])
        return L.call(fn, a[0], dims, k["keepdim"])

    return lower


LOWERINGS["sum"] = _reduce(torch.sum, True)
LOWERINGS["mean"] = _reduce(torch.mean, True)
LOWERINGS["amax"] = _reduce(torch.amax, False)
LOWERINGS["amin"] = _reduce(torch.amin, False)
LOWERINGS["var"] = lambda L, a, s, k, out: L.call(
    torch.var, a[0], _dims(k, s[0]), correction=k["correction"], keepdim=k["keepdim"]
)
LOWERINGS["argmax"] = lambda L, a, s, k, out: (
    L.call(torch.argmax, a[0]) if k["dim"] is None else L.call(torch.argmax, a[0], k["dim"], k["keepdim"])
)
LOWERINGS["cumsum"] = lambda L, a, s, k, out: L.call(torch.cumsum, a[0], k["dim"], dtype=TORCH_DTYPES[out[0].dtype])

# Creation ops: on the device of the inputs.
LOWERINGS["arange"] = lambda L, a, s, k, out: L.call(
    torch.arange, L.dim(k["start"] or 0), L.dim(k["end"]), k["step"] or 1, dtype=TORCH_DTYPES[out[0].dtype],
    device=L.device(),
)
LOWERINGS["full"] = lambda L, a, s, k, out: L.call(
    torch.full, L.dim_list(k["shape"]), L.dim(k["value"]), dtype=TORCH_DTYPES[out[0].dtype], device=L.device()
)
LOWERINGS["full_like"] = lambda L, a, s, k, out: L.call(
    torch.full_like, a[0], L.dim(k["value"]), dtype=TORCH_DTYPES[out[0].dtype]
)


def _constant(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    shape = [d for d in out[0].shape]
    if not all(isinstance(d, int) for d in shape):
        raise _fail(L.op, f"constant has symbolic shape {format_shape(out[0].shape)}")
    if L.device_kind == "meta":  # only the shape is wanted: do not spell out the values
        values = torch.empty(shape, dtype=TORCH_DTYPES[out[0].dtype], device="meta")
        return L.constant(values, ("constant", id(L.op)))
    values = torch.tensor(list(k["value"]), dtype=torch.float64).to(TORCH_DTYPES[out[0].dtype]).reshape(shape)
    return L.constant(values, ("constant", tuple(k["value"]), tuple(shape), out[0].dtype))


LOWERINGS["constant"] = _constant


_CALLS = "_gs_calls"


def _call(L: _Lowerer, a: list[Arg], s: list[Sig | None], k: dict[str, Any], out: list[Sig]) -> Any:
    """A call of another graph of the module: that graph lowered once to its own GraphModule,
    held (stateless: parameters are passed as arguments) under ``_gs_calls`` and called there."""
    name = k["callee"]
    module = L.graph_op.parent_op()
    callee = next((g for g in gs.graph_ops(module) if g.graph_name == name), None) if module is not None else None
    if callee is None:
        raise _fail(L.op, f"no graph named {name!r} in the module")
    if name in L.call_stack:
        raise _fail(L.op, f"graph {name!r} calls itself ({' -> '.join([*L.call_stack, name])})")
    target = L.callees.get(name)
    if target is None:
        if any(isinstance(op, gs.ParamOp) for op in callee.body.block.ops):
            raise _fail(L.op, f"graph {name!r} declares parameters; a called graph takes them as inputs")
        sub = _Lowerer(callee, L.fused_hook, device=L.device_kind)  # its constants were counted by the caller
        sub.call_stack = (*L.call_stack, name)
        gm = sub.build()
        holder = L.root._modules.get(_CALLS)
        if holder is None:
            if hasattr(L.root, _CALLS):
                raise _fail(L.op, f"the name '{_CALLS}' is taken by the model's state")
            holder = nn.Module()
            L.root.add_module(_CALLS, holder)
        attr = _attr_part(re.sub(r"\W", "_", name))
        while attr in holder._modules:
            attr += "_"
        holder.add_module(attr, gm)
        target = f"{_CALLS}.{attr}"
        L.callees[name] = target
    node = L.g.call_module(target, tuple(a))
    if len(out) == 1:
        return node
    return [L.call(operator.getitem, node, i) for i in range(len(out))]


LOWERINGS["call"] = _call
