"""The ATen handlers of the importer, one module per ATen op family; importing this module
registers them all in :data:`graphsynth.frontend.handlers.HANDLERS` (the converter imports it).

Each handler reads the node's arguments by schema name (``a``), emits gs ops through the
:class:`~graphsynth.frontend.convert.Converter` and binds the node's value with ``c.set``.
``out=n`` on the last emit checks the gs shape rule against torch.export's metadata.  Ops with
no gs op of their own are written with the ops that exist, exactly (``einsum`` as
permute/reshape/matmul, ``hardswish`` as its formula, ``diff`` as slice/sub...), so the op set
stays small and every backend sees only gs ops.

The families: :mod:`~graphsynth.frontend.aten_elementwise` (pass-through values, assertions,
dropout, elementwise ops), :mod:`~graphsynth.frontend.aten_nn` (linear algebra, convolution,
pooling, normalisation, attention), :mod:`~graphsynth.frontend.aten_shape` (views, indexing,
padding), :mod:`~graphsynth.frontend.aten_reduce` (reductions, sorting, creation, in-place base
forms, higher-order wrappers, grids) and :mod:`~graphsynth.frontend.aten_dynamic` (data-dependent
sizes, index_add); :mod:`~graphsynth.frontend.aten_args` holds the argument readers they share.
A new family is a module that registers its handlers with ``@handles`` and is imported here.
"""

from __future__ import annotations

from graphsynth.frontend import aten_dynamic, aten_elementwise, aten_nn, aten_reduce, aten_shape

__all__ = ["aten_dynamic", "aten_elementwise", "aten_nn", "aten_reduce", "aten_shape"]
