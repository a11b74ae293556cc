"""In-place ops and views, for the converter: an update of a tensor replaces it for every later
use, an update of a view is written back into the tensor it views (a slice as a concatenation,
a reshape or permute undone), and the other views of that tensor are recomputed.  What cannot be
written back (a strided slice, an expand, an input of the graph) is refused with the source
line rather than imported wrongly."""

from __future__ import annotations

import operator
from typing import Any

import torch
from xdsl.ir import SSAValue

from graphsynth.dialects import gs
from graphsynth.dialects.dimcompare import compare
from graphsynth.dialects.symdim import Dim, add
from graphsynth.frontend.fxnodes import bind, module_stack, packet_name
from graphsynth.frontend.handlers import (
    BIG,
    HANDLERS,
    Fail,
    Unusable,
    functional_args,
)


class Mutations:
    """The converter's handling of in-place ops and views (mixed into
    :class:`~graphsynth.frontend.convert.Converter`)."""

    def note_view(self, n: Any, parent: Any) -> None:
        """Record that node ``n`` views ``parent`` (and so the root tensor of ``parent``)."""
        self.view_parent[n] = parent
        root = self.view_base.get(parent, parent)
        self.view_base[n] = root
        self.views_of.setdefault(root, []).append(n)

    def inplace(self, n: Any, name: str, base_name: str, args: dict[str, Any]) -> None:
        """``x.add_(y)``: compute ``x + y`` functionally and let it replace ``x`` from here on.

        When ``x`` is a view (``y = x[:, 0]; y.add_(1)`` or ``x[:, :k] = v``) the new value is
        written back through the chain of views into the tensor they view (slices and selects
        become concatenations, reshapes and permutes are undone), and every view of that
        tensor that is used later is recomputed from its new value -- what functionalization
        does, op by op."""
        target = n.args[0]
        if not isinstance(target, torch.fx.Node):
            raise Fail(f"in-place {name} on a non-tensor")
        if self.batch_counter(target):
            # BatchNorm counts batches in training mode; with a momentum the count is never
            # read, and gs batch_norm updates the running statistics itself.
            self.env[n] = Unusable("the batch counter update")
            return
        root = self.view_base.get(target, target)
        if root in self.placeholders:
            raise Fail(
                f"{name} updates the input, parameter or buffer '{root.name}' in place; graphsynth graphs are pure functions",
                fix="compute a new tensor instead of updating the input (x = x + y rather than x += y)",
            )
        self.op_name = base_name
        HANDLERS[base_name](self, n, functional_args(n.target, base_name, args))
        new = self.env[n]
        old = self.env.get(target)
        if not isinstance(new, SSAValue) or not isinstance(old, SSAValue):
            raise Fail(f"in-place {name} on a value that is not a tensor")
        if self.sig(new).dtype != self.sig(old).dtype:
            new = self.cast(new, self.sig(old).dtype)
        if self.sig(new).shape != self.sig(old).shape:
            new = self.e1(gs.Expand, [new], {"shape": self.sig(old).shape})
        node, value = target, new
        while node in self.view_parent:
            parent = self.view_parent[node]
            value = self.scatter(node, parent, value)
            node = parent
        self.env[root] = value
        self.refresh_views(root, n)
        self.env[n] = self.env[target]

    def refresh_views(self, root: Any, upto: Any) -> None:
        """Recompute, from the root's new value, every view of it made before ``upto``."""
        views = [v for v in self.views_of.get(root, []) if v is not upto]
        if not views:
            return
        saved = (self.node, self.stack, self.op_name)
        try:
            for v in views:
                self.node = v
                self.stack = module_stack(v) or saved[1]
                if v.target is operator.getitem:
                    self.env[v] = self.env[v.args[0]][v.args[1]]
                    continue
                self.op_name = packet_name(v.target)
                HANDLERS[self.op_name](self, v, bind(v))
        finally:
            self.node, self.stack, self.op_name = saved

    def scatter(self, view: Any, parent: Any, value: SSAValue) -> SSAValue:
        """The parent's value once ``view`` (a view of it) holds ``value``."""
        old = self.env[parent]
        if not isinstance(old, SSAValue):
            raise Fail(f"in-place update through {view.name}, whose base is not a tensor")
        shape = self.sig(old).shape
        r = len(shape)
        if view.target is operator.getitem:
            src = view.args[0]
            kind = packet_name(src.target)
            a = bind(src)
            dim = int(a.get("dim", 0)) % r
            pieces = [p.shape[dim] for p in self.meta_sigs(src)]
            start = sum_dims(pieces[: view.args[1]])
            if kind == "unbind":
                return self.put_along(old, dim, start, add(start, 1), self.e1(gs.Unsqueeze, [value], {"dim": dim}))
            return self.put_along(old, dim, start, add(start, pieces[view.args[1]]), value)
        kind = packet_name(view.target)
        a = bind(view)
        if kind in ("alias", "detach"):
            return value
        if kind in ("view", "reshape", "_unsafe_view", "flatten", "unflatten", "view_as", "squeeze", "unsqueeze"):
            return self.e1(gs.Reshape, [value], {"shape": shape})
        if kind in ("transpose", "swapaxes", "t"):
            if kind == "t":
                d0, d1 = (0, 1) if r == 2 else (0, 0)
            else:
                keys = list(a)
                d0, d1 = int(a[keys[1]]), int(a[keys[2]])
            return value if d0 % max(r, 1) == d1 % max(r, 1) else self.e1(gs.Transpose, [value], {"dim0": d0, "dim1": d1})
        if kind == "permute":
            dims = [int(d) % r for d in a["dims"]]
            inverse = [dims.index(k) for k in range(r)]
            return self.e1(gs.Permute, [value], {"dims": inverse})
        if kind in ("slice", "narrow"):
            dim = int(a["dim"]) % r
            if kind == "narrow":
                start = self.dim(a["start"])
                end: Dim = add(start, self.dim(a["length"]))
            else:
                if int(a.get("step") or 1) != 1:
                    raise Fail("an in-place update of a strided slice (x[::2] = ...) has no gs form")
                start = 0 if a.get("start") is None else self.dim(a["start"])
                end = shape[dim] if a.get("end") is None else self.dim(a["end"])
            start, end = _bound(start, shape[dim]), _bound(end, shape[dim])
            return self.put_along(old, dim, start, end, value)
        if kind == "select":
            dim = int(a["dim"]) % r
            index = _bound(self.dim(a["index"]), shape[dim])
            return self.put_along(old, dim, index, add(index, 1), self.e1(gs.Unsqueeze, [value], {"dim": dim}))
        raise Fail(
            f"an in-place update through a {kind} view has no functional gs form",
            fix="build the tensor functionally (torch.where, torch.cat, masked_fill without the underscore)",
        )

    def put_along(self, old: SSAValue, dim: int, start: Dim, end: Dim, value: SSAValue) -> SSAValue:
        """``old`` with ``old[start:end]`` along ``dim`` replaced by ``value``."""
        size = self.sig(old).shape[dim]
        parts = []
        if compare(start, 0) is not True:
            parts.append(self.e1(gs.Slice, [old], {"dim": dim, "start": 0, "end": start}))
        parts.append(value)
        if compare(end, size) is not True:
            parts.append(self.e1(gs.Slice, [old], {"dim": dim, "start": end}))
        return parts[0] if len(parts) == 1 else self.e1(gs.Concat, parts, {"dim": dim})


def _bound(v: Dim, size: Dim) -> Dim:
    """A slice bound as a position in [0, size]: negative ints count from the end, ends past
    the size stop at it."""
    if isinstance(v, int):
        if v < 0:
            return add(size, v)
        if v >= BIG or (isinstance(size, int) and v > size):
            return size
    return v


def sum_dims(dims: list[Dim]) -> Dim:
    total: Dim = 0
    for d in dims:
        total = add(total, d)
    return total
