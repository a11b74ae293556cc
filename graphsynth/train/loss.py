"""Losses as small gs graphs: logits and integer targets in, one scalar out.

A loss is data, never code: a ``.gs`` graph that the parser reads, the verifier checks, this
module checks for the loss interface and on a probe batch, and graphsynth's backend lowers.  The
shipped library (``graphsynth/train/losses/``) holds ``cross_entropy``, ``label_smoothing``
(eps 0.1), ``focal`` (gamma 2) and ``confidence_penalty`` (an auxiliary entropy term, beta 0.1)::

    graph LabelSmoothing(logits: f32[B, C], targets: i64[B]) -> f32[] {
      %logp: f32[B, C] = log_softmax(logits, dim=1)
      %t: i64[B, 1] = unsqueeze(targets, dim=1)
      %picked: f32[B, 1] = gather(%logp, %t, dim=1)
      ...
      return %loss
    }

The interface (GS924 otherwise): exactly one graph; two inputs, the logits ``f32[B, C]`` and
integer targets ``[B]`` (i64 or i32) with the same batch *symbol* (the trainer feeds batches of any
size); one output, an ``f32`` scalar
(``f32[]``); no parameters or buffers (a loss has nothing to learn here).  Then (GS925 otherwise)
what every value of the graph would hold at the largest batch the trainer feeds is within
:data:`MAX_LOSS_BYTES`, it lowers, and on a seeded probe batch its value is a finite scalar and
its gradient with respect to the logits is finite and not zero everywhere (a loss that ignores
the logits cannot train anything).  The one-hot encoding of the targets is expressible with what
the dialect has: ``cast(eq(unsqueeze(targets, 1), arange(end=C)), dtype=f32)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.train.errors import TaskError, task_error

LOSS_DIR = Path(__file__).parent / "losses"
MAX_LOSS_CHARS = 20_000
MAX_LOSS_OPS = 200
MAX_LOSS_BYTES = 256 * 1024 * 1024
PROBE_BATCH = 8


def builtin_losses() -> list[str]:
    """Names of the shipped loss graphs."""
    return sorted(p.stem for p in LOSS_DIR.glob("*.gs"))


@dataclass
class LossGraph:
    """A checked loss graph: its name, canonical text and parsed module."""

    name: str
    text: str
    module: Any

    def fn(self) -> Any:
        """The lowered loss as ``fn(logits, targets) -> scalar tensor`` (for the trainer)."""
        import graphsynth as gs

        net = gs.lower(self.module)

        def loss(logits: Any, targets: Any) -> Any:
            return net(logits, targets)

        return loss


def loss_text(spec: str | os.PathLike[str]) -> tuple[str, str]:
    """(name, text) of a loss given by library name, ``.gs`` path or IR text (GS920 when it is
    none of these)."""
    s = os.fspath(spec)
    if s in builtin_losses():
        return s, (LOSS_DIR / f"{s}.gs").read_text(encoding="utf-8")
    if "graph " in s and "{" in s:
        return "", s
    path = Path(s)
    if s.endswith(".gs") or path.is_file():
        from graphsynth.fileio import FileError, read_text

        try:
            return path.stem, read_text(s, limit=MAX_LOSS_CHARS * 4, what="loss graph")
        except FileError as e:
            raise TaskError(e.diagnostics) from None
    import difflib

    close = difflib.get_close_matches(s, builtin_losses(), n=1)
    raise task_error("GS920", f"no loss '{s}': not a shipped loss, a .gs file or a graph", expected=" | ".join(builtin_losses()),
                     got=s, fix=f"did you mean '{close[0]}'?" if close else "give a shipped loss name or a .gs file")


def load_loss(spec: Any, classes: int | None = None) -> LossGraph | None:
    """A checked :class:`LossGraph` from a name, path, IR text or LossGraph; ``None`` stays None
    (the trainer's built-in cross-entropy).  Raises :class:`TaskError` with the diagnostics."""
    if spec is None or isinstance(spec, LossGraph):
        return spec
    name, text = loss_text(spec)
    lg, diags = check_loss_text(text, classes, name=name)
    if lg is None:
        raise TaskError(diags, f"loss '{name}' cannot be used: {diags[0].message}")
    return lg


def check_loss_text(text: str, classes: int | None = None, *, name: str = "", batch: int = 1024,
                    filename: str = "loss.gs") -> tuple[LossGraph | None, list[Diagnostic]]:
    """Parse, verify and check a loss graph; (LossGraph, []) or (None, diagnostics).  Without a
    ``name`` the loss is named after its graph (``graph Focal(...)`` is ``Focal``)."""
    import graphsynth as gs

    if len(text) > MAX_LOSS_CHARS:
        return None, [error("GS924", f"the loss graph has {len(text):,} characters; the limit is {MAX_LOSS_CHARS:,}",
                            expected=f"<= {MAX_LOSS_CHARS}", got=str(len(text)))]
    try:
        module = gs.parse_ir(text, filename=filename)
    except GraphsynthError as e:
        return None, list(e.diagnostics)
    except RecursionError:
        return None, [error("GS101", "the loss graph nests too deeply to parse")]
    diags = [d for d in gs.verify(module) if d.severity == "error"]
    if diags:
        return None, diags
    problems = interface_problems(module)
    if problems:
        return None, problems
    problems = probe(module, classes or 10, batch)
    if problems:
        return None, problems
    from graphsynth.dialects import gs as d

    return LossGraph(name or d.graph_ops(module)[0].graph_name, gs.print_ir(module), module), []


def interface_problems(module: Any) -> list[Diagnostic]:
    """GS924 diagnostics when ``module`` is not shaped like a loss (see the module docstring)."""
    from graphsynth.dialects import gs as d
    from graphsynth.dialects.rules import FLOAT_DTYPES, INT_DTYPES

    def bad(msg: str, **kw: Any) -> list[Diagnostic]:
        return [error("GS924", f"loss graph: {msg}", fix="a loss reads (logits: f32[B, C], targets: i64[B]) and returns one f32[] scalar",
                      **kw)]

    graphs = d.graph_ops(module)
    if len(graphs) != 1:
        return bad(f"holds {len(graphs)} graphs; a loss is exactly one", expected="1", got=str(len(graphs)))
    g = graphs[0]
    args = list(g.body.block.args)
    names = [a.data for a in g.arg_names.data]
    if len(args) != 2:
        return bad(f"takes {len(args)} inputs ({', '.join(names)}); a loss takes two, logits and targets",
                   expected="2", got=str(len(args)))
    lt, tt = args[0].type.sig(), args[1].type.sig()
    if len(lt.shape) != 2 or lt.dtype not in FLOAT_DTYPES:
        return bad(f"input #0 ({names[0]}) is {args[0].type}; the logits are a float [B, C] tensor", value=names[0],
                   expected="f32[B, C]", got=str(args[0].type))
    if len(tt.shape) != 1 or tt.dtype not in INT_DTYPES:
        return bad(f"input #1 ({names[1]}) is {args[1].type}; the targets are integer class indices [B]", value=names[1],
                   expected="i64[B]", got=str(args[1].type))
    if isinstance(lt.shape[0], int):
        return bad(f"input #0 ({names[0]}) has a fixed batch dim {lt.shape[0]}; the trainer feeds batches of any size (the last "
                   "batch of an epoch is smaller)", value=names[0], expected="f32[B, C] (B a symbol)", got=str(args[0].type))
    if str(tt.shape[0]) != str(lt.shape[0]):
        return bad(f"the targets' batch dim {tt.shape[0]} differs from the logits' {lt.shape[0]}", value=names[1],
                   expected=str(lt.shape[0]), got=str(tt.shape[0]))
    outs = list(g.output_types.data)
    if len(outs) != 1 or len(outs[0].sig().shape) != 0 or outs[0].sig().dtype != "f32":
        got = ", ".join(str(o) for o in outs) or "nothing"
        return bad(f"returns {got}; a loss returns one f32 scalar, f32[]", expected="f32[]", got=got)
    ops = [op for op in g.body.block.ops if not isinstance(op, d.ReturnOp)]
    state = [op.param_name.data for op in ops if isinstance(op, d.ParamOp)]
    if state:
        return bad(f"declares parameters or buffers ({', '.join(state[:3])}); a loss has none", value=state[0])
    if len(ops) > MAX_LOSS_OPS:
        return bad(f"has {len(ops)} ops; the limit is {MAX_LOSS_OPS}", expected=f"<= {MAX_LOSS_OPS}", got=str(len(ops)))
    return []


def _bytes(module: Any, bind: dict[str, int]) -> int:
    from graphsynth.dialects import gs as d
    from graphsynth.dialects.symdim import evaluate, free_symbols, numel

    total = 0
    for g in d.graph_ops(module):
        for op in g.walk():
            for r in op.results:
                if isinstance(r.type, d.TensorType):
                    n = numel(r.type.shape)
                    if not isinstance(n, int):
                        n = evaluate(n, {s: bind.get(s, 1) for s in free_symbols(n)})
                    total += max(int(n), 0) * 8
    return total


def probe(module: Any, classes: int, batch: int = 1024) -> list[Diagnostic]:
    """GS925 when the loss would allocate too much, does not lower, or its value or gradient on a
    seeded probe batch is unusable."""
    import graphsynth as gs
    from graphsynth.dialects import gs as d

    g = d.graph_ops(module)[0]
    lt, tt = (a.type.sig() for a in g.body.block.args)
    bind: dict[str, int] = {}
    for dim, value in ((lt.shape[0], batch), (lt.shape[1], classes)):
        if not isinstance(dim, int):
            bind[str(dim)] = value
    if isinstance(lt.shape[1], int) and lt.shape[1] != classes:
        return [error("GS924", f"loss graph: the logits have {lt.shape[1]} classes; the task has {classes}",
                      expected=f"f32[B, {classes}] or f32[B, C]", got=str(g.body.block.args[0].type))]
    try:
        need = _bytes(module, bind)
    except Exception as e:  # noqa: BLE001 - an unevaluable size is a diagnostic
        return [error("GS925", f"loss graph: the sizes of its values cannot be evaluated ({type(e).__name__}: {e})")]
    if need > MAX_LOSS_BYTES:
        return [error("GS925", f"loss graph: its values would take {need / 2**20:.0f} MiB at a batch of {batch}; the limit is "
                               f"{MAX_LOSS_BYTES // 2**20} MiB", expected=f"<= {MAX_LOSS_BYTES // 2**20} MiB", got=f"{need / 2**20:.0f} MiB")]
    import torch

    b = PROBE_BATCH if not isinstance(lt.shape[0], int) else lt.shape[0]
    try:
        net = gs.lower(module)
        gen = torch.Generator().manual_seed(0)
        logits = torch.randn(b, classes, generator=gen).requires_grad_(True)
        targets = torch.randint(0, classes, (b,), generator=gen, dtype=torch.int64 if tt.dtype == "i64" else torch.int32)
        value = net(logits, targets)
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            return [error("GS925", f"loss graph: returned {type(value).__name__} of shape {getattr(value, 'shape', '?')}, not a scalar")]
        if not bool(torch.isfinite(value)):
            v = float(value.detach())
            return [error("GS925", f"loss graph: its value on a probe batch is {v}", expected="a finite number", got=str(v), fix="keep log/sqrt/division away from zero and negatives")]
        (grad,) = torch.autograd.grad(value, logits, allow_unused=True)
    except GraphsynthError as e:
        return [error("GS925", f"loss graph: it does not lower: {e}"), *e.diagnostics]
    except Exception as e:  # noqa: BLE001 - hostile graphs fail as diagnostics, never tracebacks
        return [error("GS925", f"loss graph: evaluating it on a probe batch raised {type(e).__name__}: {str(e)[:200]}")]
    if grad is None or not bool(torch.isfinite(grad).all()) or float(grad.abs().max()) == 0.0:
        what = "does not depend on the logits" if grad is None or (bool(torch.isfinite(grad).all()) and float(grad.abs().max()) == 0.0) \
            else "has a non-finite gradient"
        return [error("GS925", f"loss graph: on a probe batch it {what}; training needs a finite, non-zero gradient with respect to the logits",
                      fix="make the scalar depend on the logits through differentiable ops")]
    return []
