"""State names: how the ``state_dict`` keys of the IR become attributes of a lowered module.

Any legal IR name lowers.  A key whose parts are attribute names an ``nn.Module`` already uses
(``training``, ``forward``, ``state_dict``, ``_modules``, ``__class__`` ...; at the top level also
those of ``fx.GraphModule``: ``graph``, ``code``, ``meta`` ...), Python keywords, or names under
the reserved ``_gs_`` prefix are held under mangled attribute names (``_gs_n_graph.weight``; every
other part keeps its name, so ``named_parameters()`` of ordinary models matches the source
model's), and ``state_dict()``/``load_state_dict()`` translate between the two, so the keys stay
exactly the IR names (``strict=True`` round trips).  :func:`state_attr` gives the attribute path of
a key.  Also here: the names of the generated ``forward``'s arguments and nodes, and the initial
values of parameters that passes create.
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import fx, nn
from xdsl.dialects.builtin import IntegerAttr, StringAttr

from graphsynth.backend.base import fail
from graphsynth.dialects import gs

# Names the generated forward must not use for its arguments: ``self``, and the globals fx's
# code refers to (a parameter named ``torch`` would shadow the module in the body).
RESERVED_ARG_NAMES = frozenset(
    {"self", "torch", "operator", "inf", "nan", "NoneType", "device", "fx_pytree", "pytree", "builtins", "math",
     "getattr", "slice", "float", "int", "bool", "tuple", "list", "dict", "range", "len", "isinstance", "super",
     "print", "None", "True", "False", "Ellipsis", "NotImplemented"}
)
SAFE_STATE_PART = re.compile(r"^[A-Za-z0-9_]+$")

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


def attr_part(part: str, root: bool = False) -> str:
    """The attribute name for one part of a key: the part itself when torch leaves it free,
    else ``_gs_n_<part>`` (injective: a part under the reserved ``_gs_`` prefix is mangled too)."""
    if part in _taken_names(root) or part.startswith(("_gs_", "__")):
        return _MANGLED + part
    return part


def state_layout(keys: Sequence[str]) -> dict[str, str]:
    """state_dict key -> attribute path, for every key.  A key that is only ``self`` is mangled
    too: fx names the node reading a top-level attribute after it, and a local ``self`` would
    shadow the module in ``forward`` (``self.query`` inside a module path is harmless)."""
    modules = {tuple(parts[:i]) for k in keys for parts in [k.split(".")] for i in range(1, len(parts))}
    out = {}
    for k in keys:
        parts = k.split(".")
        attrs = [attr_part(p, root=i == 0) for i, p in enumerate(parts)]
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


def save_ir_keys(module: nn.Module, state_dict: Any, prefix: str, local_metadata: Any) -> None:
    """state_dict post-hook: attribute paths -> IR keys."""
    _renamed(state_dict, prefix, module.meta["gs_state_keys"], None)


def load_ir_keys(module: nn.Module, state_dict: Any, prefix: str, local_metadata: Any, strict: bool,
                  missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str]) -> None:
    """load_state_dict pre-hook: IR keys -> attribute paths (and remember how to name them back)."""
    _renamed(state_dict, prefix, module.meta["gs_state_attrs"], _UNKNOWN)
    module.meta["gs_loading"] = (prefix, error_msgs)


_UNKNOWN = "_gs_u_"


def loaded_ir_keys(module: nn.Module, incompatible: Any) -> None:
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



def state_attr(net: nn.Module, key: str) -> str:
    """The attribute path (for ``get_parameter``, ``named_parameters``) that holds the state of
    ``state_dict`` key ``key`` in a lowered module: the key itself, unless a part of it collides
    with torch's own names and is mangled (``graph.weight`` -> ``_gs_n_graph.weight``)."""
    meta = getattr(net, "meta", None)
    attrs = meta.get("gs_state_attrs") if isinstance(meta, dict) else None
    return attrs.get(key, key) if attrs else key


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


def is_persistent(op: gs.ParamOp) -> bool:
    flag = op.attributes.get("persistent")
    if isinstance(flag, IntegerAttr):
        return bool(flag.value.data)
    return True


def initial_value(op: gs.ParamOp, shape: list[int], dtype: torch.dtype, device: str | None = None) -> torch.Tensor:
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
            raise fail(op, f"init={spec!r}: expected normal:<std>") from None
        tensor.normal_(0.0, std)
    elif spec != "zeros":
        raise fail(op, f"init={spec!r} is not one of zeros, ones, normal:<std>", value=op.param_name.data)
    return tensor


def placeholder_names(arg_names: Sequence[str]) -> list[str]:
    """Argument names for the generated ``forward``: the graph's own names when they are safe
    Python identifiers (fx writes placeholder targets into the ``def`` line verbatim), otherwise
    a sanitised form that keeps positional calls working."""
    out: list[str] = []
    used: set[str] = set()
    for i, name in enumerate(arg_names):
        cand = name
        if not (cand.isidentifier() and not keyword.iskeyword(cand) and cand not in RESERVED_ARG_NAMES
                and not cand.startswith("__")):
            cand = re.sub(r"\W", "_", name).strip("_") or f"arg{i}"
            if cand[0].isdigit() or keyword.iskeyword(cand) or cand in RESERVED_ARG_NAMES:
                cand = f"arg_{cand}"
        base, k = cand, 1
        while cand in used:
            cand = f"{base}_{k}"
            k += 1
        used.add(cand)
        out.append(cand)
    return out


def node_name(name: str | None) -> str | None:
    """A readable fx node name from an IR value name (fx makes it unique)."""
    if not name:
        return None
    cand = re.sub(r"\W", "_", name)
    if not cand or cand[0].isdigit():
        cand = "v" + cand
    return cand + "_" if cand == "self" else cand
