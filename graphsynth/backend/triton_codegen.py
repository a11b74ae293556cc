"""``gs.fused`` region -> Triton kernel source: the analysis, the structural key and the generator.

This module imports neither torch nor triton: it turns verified IR into plain data
(:class:`RegionSpec`) and that data into Python source text.  ``graphsynth.backend.triton`` writes
the text to a file, loads it and launches it.

Why generate text at all: ``@triton.jit`` reads the source of the function it decorates, so a
kernel has to exist as real source.  The text is produced here only from a :class:`RegionSpec`,
and every token in it comes from our own tables: op names map through :data:`~graphsynth.backend.triton_emitters.EMITTERS` (keyed by op
class; an op missing there is not fused), dtypes through :data:`COMPUTE`/:data:`STORAGE`, identifiers are
generated (``v3``, ``in0``), and literals are Python numbers that we validated and print with
``repr`` (or as bit patterns when they are not finite).  No string from the IR (value names,
attribute strings, scopes) reaches the source; ``gelu``'s ``approximate`` string only selects one
of two formulas.

Numerics follow the torch lowering of the same region (``graphsynth.backend.lower``), which is
the fallback and the reference:

- each value lives in a *compute* dtype: f16/bf16 compute in f32 (like torch's opmath), the other
  dtypes in themselves; after every op whose declared result is f16/bf16 the value is rounded to
  that precision (round to nearest even, done by bit manipulation for bf16 so that the Triton
  interpreter, whose bf16 conversion truncates, gives the bits the GPU gives), so a fused chain
  rounds where the unfused chain rounds;
- tensor operands of arithmetic ops are converted to the result dtype first, as the lowering does;
  comparisons convert both sides to their promoted dtype;
- only builtins of ``triton.language`` are used, never ``libdevice`` (the interpreter cannot run
  extern calls) nor the ``@jit`` helpers of ``triton.language.standard`` (those are decorated when
  triton is imported and break the interpreter if ``TRITON_INTERPRET`` was set later): ``tanh``,
  ``pow``, ``round`` and friends are spelled out from ``exp``/``log``/``floor``.

The structural key hashes what the kernel text depends on (op kinds, attribute and literal values,
dtypes, ranks, which dims are statically 1) and nothing else: not value names, not sizes, not
symbol bindings.  Two regions with the same key share one kernel.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from xdsl.ir import SSAValue

from graphsynth.backend.triton_emitters import EMITTERS
from graphsynth.backend.triton_gen import (
    COMPUTE,
    FLOATS,
    GENERATOR_VERSION,
    INTS,
    STORAGE,
    Emitter,
    Gen,
    Ref,
    RegionSpec,
    Step,
    Unsupported,
    const,
)
from graphsynth.dialects import gs

__all__ = ["COMPUTE", "EMITTERS", "FLOATS", "GENERATOR_VERSION", "INTS", "STORAGE", "Emitter", "Gen", "Layout", "Ref",
           "RegionSpec", "Step", "Unsupported", "analyze", "const", "generate", "kernel_name"]

def _literal(v: Any, where: str) -> Ref:
    if isinstance(v, bool) or isinstance(v, int) or isinstance(v, float):
        return ("lit", v)
    raise Unsupported(f"{where} is {v!r}; only numbers can be compiled into a kernel")


def analyze(op: gs.FusedOp) -> RegionSpec:
    """The :class:`RegionSpec` of a fused region, or :class:`Unsupported` with the reason."""
    block = op.body.block
    index: dict[SSAValue, Ref] = {}
    inputs = []
    for k, arg in enumerate(block.args):
        t = arg.type
        if not isinstance(t, gs.TensorType) or t.dtype.data not in COMPUTE:
            raise Unsupported(f"region argument #{k} has type {t}, which has no kernel dtype")
        shape = t.shape
        inputs.append((t.dtype.data, len(shape), tuple(d == 1 for d in shape)))
        index[arg] = ("in", k)
    steps: list[Step] = []
    outputs: list[tuple[Ref, str, int]] = []
    for inner in block.ops:
        if isinstance(inner, gs.YieldOp):
            for v in inner.operands:
                t = v.type
                assert isinstance(t, gs.TensorType)
                outputs.append((index[v], t.dtype.data, len(t.shape)))
            break
        if not isinstance(inner, gs.GsOp):
            raise Unsupported(f"'{inner.name}' cannot stand in a kernel")
        name = inner.SPEC.name
        emitter = EMITTERS.get(type(inner))
        if emitter is None:
            raise Unsupported(f"'{name}' has no Triton lowering")
        if len(inner.results) != 1:
            raise Unsupported(f"'{name}' has {len(inner.results)} results")
        rt = inner.results[0].type
        assert isinstance(rt, gs.TensorType)
        if rt.dtype.data not in COMPUTE:
            raise Unsupported(f"'{name}' gives {rt}, which has no kernel dtype")
        args: list[Ref | None] = []
        dtypes: list[str | None] = []
        for i, a in enumerate(inner.arg_layout()):
            if isinstance(a, SSAValue):
                args.append(index[a])
                at = a.type
                assert isinstance(at, gs.TensorType)
                dtypes.append(at.dtype.data)
            elif a is None:
                args.append(None)
                dtypes.append(None)
            else:
                args.append(_literal(a, f"'{name}' argument #{i}"))
                dtypes.append(None)
        attrs = []
        for a in inner.SPEC.attrs:
            v = inner.attr_values()[a.name]
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise Unsupported(f"'{name}' attribute {a.name}={v} is not a plain value")
            attrs.append((a.name, v))
        step = Step(name, tuple(args), tuple(dtypes), tuple(attrs), rt.dtype.data, len(rt.shape))
        check = emitter.check(step)
        if check:
            raise Unsupported(f"'{name}': {check}")
        index[inner.results[0]] = ("v", len(steps))
        steps.append(step)
    if not outputs:
        raise Unsupported("the region yields nothing")
    return RegionSpec(tuple(inputs), tuple(steps), tuple(outputs))


# -- kernel source ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How one launch indexes memory (decided per call from the runtime tensors).

    ``rank``: dims of the (coalesced) iteration space; ``index64``: int64 offsets; per input and
    per output a mode: ``"flat"`` (contiguous over the iteration space: offset = linear index),
    ``"scalar"`` (one element, loaded once) or a tuple of bools, one per dim, True where the
    stride is nonzero (strides are kernel arguments; an output's zero-stride dims are stored only
    at index 0 of that dim)."""

    rank: int
    index64: bool
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]

    @property
    def key(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]


def kernel_name(spec: RegionSpec) -> str:
    return f"gs_fused_{spec.key}"


def generate(spec: RegionSpec, layout: Layout) -> str:
    """The source of a module defining one ``@triton.jit`` kernel for ``spec`` under ``layout``.

    Kernel arguments, in order: input pointers, output pointers, ``numel``, the sizes of dims
    1..rank-1 (dim 0 is never a divisor), then for every strided input and output its nonzero
    strides, then ``BLOCK`` (constexpr).  See :func:`kernel_args` for the host side."""
    n_in, n_out = len(spec.inputs), len(spec.outputs)
    params = [f"in{k}" for k in range(n_in)] + [f"out{j}" for j in range(n_out)] + ["numel"]
    params += [f"size{d}" for d in range(1, layout.rank)]
    for prefix, modes in (("in", layout.inputs), ("out", layout.outputs)):
        for k, mode in enumerate(modes):
            if isinstance(mode, tuple):
                params += [f"{prefix}{k}_stride{d}" for d, nz in enumerate(mode) if nz]
    params.append("BLOCK: tl.constexpr")

    body: list[str] = []
    if layout.index64:
        body.append("offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)")
    else:
        body.append("offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)")
    body.append("mask = offs < numel")
    strided = [m for m in layout.inputs + layout.outputs if isinstance(m, tuple)]
    if strided:
        # Linear index -> one index per dim, innermost first; only the dims some operand needs.
        needed = {d for m in strided for d, nz in enumerate(m) if nz}
        needed |= {d for m in layout.outputs if isinstance(m, tuple) and any(m) for d, nz in enumerate(m) if not nz}
        body.append("rest = offs")
        for d in range(layout.rank - 1, 0, -1):
            if d in needed:
                body.append(f"i{d} = rest % size{d}")
            if any(x < d for x in needed):
                body.append(f"rest = rest // size{d}")
            else:
                break
        if 0 in needed:
            body.append("i0 = rest")

    def offset(prefix: str, k: int, mode: Any) -> str:
        if mode == "flat":
            return "offs"
        terms = [f"i{d} * {prefix}{k}_stride{d}" for d, nz in enumerate(mode) if nz]
        return " + ".join(terms) if terms else "0"

    used = spec.used_inputs()
    loads: dict[int, str] = {}
    for k, (dtype, _, _) in enumerate(spec.inputs):
        if k not in used:
            continue
        mode = layout.inputs[k]
        if mode == "scalar":
            load = f"tl.load(in{k})"
        else:
            load = f"tl.load(in{k} + {offset('in', k, mode)}, mask=mask)"
        if dtype == "bool":
            load = f"{load} != 0"
        elif STORAGE[dtype] != COMPUTE[dtype]:
            load = f"{load}.to({COMPUTE[dtype]})"
        body.append(f"x{k} = {load}")
        loads[k] = f"x{k}"

    gen = Gen(spec, loads)
    for j, step in enumerate(spec.steps):
        expr = EMITTERS[gs.OPS[step.op]].emit(gen, step)
        if step.out in ("f16", "bf16"):
            expr = gen.round_to(expr, step.out)
        elif COMPUTE[step.out] in ("tl.float32", "tl.float64") or step.out in INTS:
            expr = f"({expr}).to({COMPUTE[step.out]})"
        gen.lines.append(f"v{j} = {expr}")
        gen.values.append(f"v{j}")
    body += gen.const_lines + gen.lines

    for j, (ref, dtype, _) in enumerate(spec.outputs):
        value, _ = gen.ref(ref)
        if STORAGE[dtype] != COMPUTE[dtype]:
            value = f"{value}.to({STORAGE[dtype]})"
        mode = layout.outputs[j]
        where, store_mask = f"out{j} + {offset('out', j, mode)}", "mask"
        if isinstance(mode, tuple) and not any(mode):
            # One element (every dim broadcast): the first lane of the first program writes it.
            where, store_mask = f"out{j} + offs * 0", "offs == 0"
        elif isinstance(mode, tuple):
            # Broadcast dims of an output are written at index 0 only: each element once.
            zero_dims = [d for d, nz in enumerate(mode) if not nz]
            store_mask = " & ".join(["mask"] + [f"(i{d} == 0)" for d in zero_dims])
        body.append(f"tl.store({where}, {value}, mask={store_mask})")

    name = kernel_name(spec)
    head = [
        f"# Generated by graphsynth (generator v{GENERATOR_VERSION}) from a gs.fused region; do not edit.",
        f"# region key {spec.key}, layout {layout!r}",
        "import triton",
        "import triton.language as tl",
        "",
        "",
        "@triton.jit",
        f"def {name}({', '.join(params)}):",
    ]
    return "\n".join(head + ["    " + line for line in body]) + "\n"
