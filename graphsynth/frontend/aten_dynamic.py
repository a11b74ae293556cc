"""ATen handlers of the ops whose result size depends on the data: ``nonzero``, ``argwhere``,
one-argument ``where``, ``masked_select``, boolean-mask ``index``; and ``index_add``, with which
mixture-of-experts layers add each expert's rows back.

torch.export names such a size ``u0`` (an unbacked symbol); the importer keeps it as an unbacked
symbol of the IR (:func:`graphsynth.frontend.importer.symbol_names`, declared with the range
export knows), and the op that produces it names it in ``size=``.  Nothing is specialised to the
example's count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphsynth.dialects import gs
from graphsynth.dialects.dynamic import single_symbol
from graphsynth.dialects.rules import Sig
from graphsynth.dialects.symdim import Dim
from graphsynth.frontend.handlers import Fail, handles

if TYPE_CHECKING:
    from xdsl.ir import SSAValue

    from graphsynth.frontend.convert import Converter


def data_size(d: Dim, what: str) -> Dim:
    """The unbacked symbol export gave a data-dependent dim (``u0``)."""
    if single_symbol(d) is None:
        raise Fail(f"{what} has the size {d}, where torch.export should give one data-dependent symbol (u0)",
                   fix="export with a torch version that names data-dependent sizes as unbacked symbols")
    return d


def nonzero_columns(c: Converter, n: Any, cond: SSAValue) -> tuple[SSAValue, ...]:
    """``torch.where(cond)``: the columns of ``nonzero(cond)``, one index tensor per dim."""
    outs = c.meta_sigs(n)
    size = data_size(outs[0].shape[0], "torch.where(cond)")
    nz = c.e1(gs.Nonzero, [cond], {"size": size}, out=[Sig((size, len(outs)), "i64")])
    return tuple(c.e1(gs.Select, [nz], {"dim": 1, "index": k}, out=[o]) for k, o in enumerate(outs))


def boolean_index(c: Converter, n: Any, x: SSAValue, idx: list[Any]) -> SSAValue:
    """``x[mask]`` (``x[:, mask]``): one bool mask after full slices (None in ATen's list)."""
    dims = [k for k, i in enumerate(idx) if i is not None]
    if len(dims) != 1 or dims[0] != len(idx) - 1:
        raise Fail("indexing with a boolean mask together with other index tensors has no gs op",
                   fix="index with the mask alone (x[mask]), or with torch.nonzero's columns")
    size = data_size(c.out_sig(n).shape[dims[0]], "x[mask]")
    return c.e1(gs.BooleanIndex, [x, c.t(idx[dims[0]])], {"dim": dims[0], "size": size}, out=n)


@handles("nonzero", "argwhere", emits=(gs.Nonzero,))
def _nonzero(c: Converter, n: Any, a: dict[str, Any]) -> None:
    size = data_size(c.out_sig(n).shape[0], c.op_name)
    c.set(n, c.e1(gs.Nonzero, [c.t(a["self"])], {"size": size}, out=n))


@handles("masked_select", emits=(gs.MaskedSelect,))
def _masked_select(c: Converter, n: Any, a: dict[str, Any]) -> None:
    size = data_size(c.out_sig(n).shape[0], "masked_select")
    c.set(n, c.e1(gs.MaskedSelect, [c.t(a["self"]), c.t(a["mask"])], {"size": size}, out=n))


@handles("index_add", emits=(gs.IndexAdd,))
def _index_add(c: Converter, n: Any, a: dict[str, Any]) -> None:
    x = c.t(a["self"])
    src = c.cast(c.t(a["source"]), c.sig(x).dtype)
    alpha = a.get("alpha", 1)
    c.set(n, c.e1(gs.IndexAdd, [x, c.t(a["index"]), src], {"dim": int(a["dim"]), "alpha": float(alpha)}, out=n))
