"""Forward/backward recording on a lowered graph: the norm of every IR value, of its gradient,
and of the gradient along every use-def edge, aggregated per module.

How: :func:`instrument` replaces the net's ``forward`` (on that instance only; ``remove()``
restores it) by a run of the same fx graph node by node (:class:`~graphsynth.grad.graph.Run`).
Every time an op reads an operand, it reads a fresh view of the operand's tensor with a gradient
hook on it, so the hook sees exactly the gradient that flows back along that edge (the
contribution of that one use); a value's gradient is the sum over its uses.  The numbers the
generated code computes are unchanged (the views alias the same storage); the cost is one view
and one hook per edge, and the recorder keeps the gradient tensors of the last backward.

Definitions (docs/gradients.md has them in full):

- ``grad_norms()[value]`` = ``‖∂L/∂value‖₂`` (0.0 for values that carry no gradient: integer and
  boolean values, values the loss does not depend on, values the lowered graph never computes);
- ``grad_norms()[module]`` = the L2 norm over the gradients of all op results computed inside
  the module (any depth), i.e. ``sqrt(Σ ‖∂L/∂v‖²)``; ``aggregate="outputs"`` uses only the values
  the module hands to the rest of the graph;
- ``edge_grad_norms()[(u, v)]`` = the norm of the gradient that reaches ``u`` through the op that
  computes ``v`` (for an op with several results, shared by its result edges).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from graphsynth.grad.graph import Run, ValueGraph, fail, float_tensor, norm

__all__ = ["Recorder", "instrument"]


def instrument(net: Any, module: Any, *, graph: str | None = None, input_grads: bool = True) -> Recorder:
    """Instrument ``net = graphsynth.lower(module)``: every later ``net(...)`` call records the
    norms of all IR values, and the backward that follows records their gradients.

    ``input_grads``: float graph inputs that do not require grad are run as detached copies that
    do, so their gradient is recorded too (the caller's tensors are left alone).
    """
    return Recorder(net, module, graph=graph, input_grads=input_grads)


class Recorder:
    """What one instrumented forward/backward pass recorded, and the queries on top of it."""

    def __init__(self, net: Any, module: Any, *, graph: str | None = None, input_grads: bool = True):
        self.graph = ValueGraph(net, module, graph)
        self.net = net
        self.input_grads = input_grads
        self.run: Run | None = None
        self.inputs: list[Any] = []
        self.edge_grads: dict[tuple[str, int], torch.Tensor] = {}
        self._frozen: Run | None = None
        self._gains: dict[tuple[str, int, int, int], dict[str, float]] = {}
        self.attach()

    # -- attaching -----------------------------------------------------------------------
    def attach(self) -> None:
        """Route ``net(...)`` through the recorder (a second recorder on the same net replaces
        the first)."""
        old = self.net.__dict__.get("forward")
        owner = getattr(old, "__self__", None)
        if isinstance(owner, Recorder) and owner is not self:
            owner.remove()
        self.net.__dict__["forward"] = self._forward

    def remove(self) -> None:
        """Restore the net's own forward; what was recorded stays queryable."""
        if self.net.__dict__.get("forward") == self._forward:
            del self.net.__dict__["forward"]

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.net(*args, **kwargs)

    # -- recording -------------------------------------------------------------------------
    def _forward(self, *args: Any, **kwargs: Any) -> Any:
        vg = self.graph
        inputs = vg.bind_inputs(args, kwargs)
        grad_on = torch.is_grad_enabled()
        if self.input_grads and grad_on:
            inputs = [x.detach().requires_grad_(True) if float_tensor(x) and not x.requires_grad else x for x in inputs]
        self.edge_grads = {}
        self._frozen = None
        self._gains = {}
        run = Run(vg)
        out = run.execute(inputs, edge=self._edge if grad_on else None)
        self.run = run
        self.inputs = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
        return out

    def _edge(self, u: str, op_index: int, t: Any) -> Any:
        if not float_tensor(t) or not t.requires_grad:
            return t
        view = t.view_as(t)
        key = (u, op_index)

        def hook(g: torch.Tensor) -> None:
            prev = self.edge_grads.get(key)
            self.edge_grads[key] = g.detach() if prev is None else prev + g.detach()

        view.register_hook(hook)
        return view

    def _need_forward(self) -> Run:
        if self.run is None:
            raise fail("GS802", "nothing recorded yet: call net(...) after instrument(net, module)")
        return self.run

    def _need_backward(self) -> None:
        self._need_forward()
        if not self.edge_grads:
            raise fail("GS802", "no gradient recorded: run a backward pass (loss.backward()) after the forward",
                       notes=["the forward must run with gradients enabled (not under torch.no_grad())"])

    @property
    def frozen(self) -> Run:
        """The recorded forward with detached tensors: the fixed point gains are taken at."""
        if self._frozen is None:
            self._frozen = self._need_forward().detached()
        return self._frozen

    # -- raw data --------------------------------------------------------------------------
    def tensor(self, name: str) -> torch.Tensor | None:
        """The recorded forward value of an IR value (detached)."""
        v = self.graph.value(name)
        t = self.frozen.tensor(v.name)
        return t if isinstance(t, torch.Tensor) else None

    def grad(self, name: str) -> torch.Tensor | None:
        """``∂L/∂value`` from the last backward (None when no gradient reached it)."""
        self._need_backward()
        v = self.graph.value(name)
        total = None
        for i in self.graph.consumers.get(v.name, []):
            g = self.edge_grads.get((v.name, i))
            if g is not None:
                total = g if total is None else total + g
        return total

    # -- norms ---------------------------------------------------------------------------------
    def value_norms(self, aggregate: str = "all") -> dict[str, float]:
        """``‖value‖₂`` of every value of the last forward, and per module (L2 over its values,
        see :meth:`grad_norms` for ``aggregate``)."""
        run = self._need_forward()
        per_value = {name: norm(run.tensor(name)) for name in self.graph.values}
        return self._with_modules(per_value, aggregate)

    def grad_norms(self, aggregate: str = "all") -> dict[str, float]:
        """``‖∂L/∂v‖₂`` for every value name, and for every module path the L2 norm over the
        gradients of the op results computed inside it (``aggregate="all"``) or of its outputs
        only (``aggregate="outputs"``)."""
        self._need_backward()
        per_value = {name: norm(self.grad(name)) for name in self.graph.values}
        return self._with_modules(per_value, aggregate)

    def _with_modules(self, per_value: dict[str, float], aggregate: str) -> dict[str, float]:
        if aggregate not in ("all", "outputs"):
            raise fail("GS805", f"aggregate must be 'all' or 'outputs', got {aggregate!r}")
        out = dict(per_value)
        vg = self.graph
        for path in vg.modules:
            if aggregate == "all":
                members = [n for n in vg.module_values(path) if vg.values[n].kind == "op"]
            else:
                members = vg.module_outputs(path)
            out[path] = math.sqrt(sum(per_value[n] ** 2 for n in members))
        return out

    def edge_grad_norms(self) -> dict[tuple[str, str], float]:
        """``(u, v) -> ‖gradient reaching u through the op computing v‖``; edges into the graph
        outputs' consumer, the loss, are keyed ``(output, "loss")``."""
        self._need_backward()
        out: dict[tuple[str, str], float] = {}
        for u, r, i in self.graph.edges():
            out[(u, r)] = norm(self.edge_grads.get((u, i)))
        ret = self.graph.ops[-1].index
        for o in dict.fromkeys(self.graph.outputs):
            out[(o, "loss")] = norm(self.edge_grads.get((o, ret)))
        return out

    def param_grad_norms(self) -> dict[str, float]:
        """``‖∂L/∂p‖`` for every parameter (by state_dict key) from the last backward.  Keys that
        name one shared tensor in the net (tied weights: ``param k: T = other``) get the
        norm of the summed gradient, as ``p.grad`` would; ``grad_norms()[key]`` is per IR value."""
        self._need_backward()
        keys = [name for name, v in self.graph.values.items() if v.kind == "param"]
        groups: dict[int, list[str]] = {}
        for k in keys:
            try:
                ident = id(self.net.get_parameter(k))
            except (AttributeError, KeyError):
                ident = id(k)
            groups.setdefault(ident, []).append(k)
        out: dict[str, float] = {}
        for members in groups.values():
            total = None
            for k in members:
                g = self.grad(k)
                if g is not None:
                    total = g if total is None else total + g
            for k in members:
                out[k] = norm(total)
        return {k: out[k] for k in keys}

    def vanishing_params(self, threshold: float = 1e-6) -> list[tuple[str, float]]:
        """Parameters whose gradient norm is below ``threshold`` (zero when the loss does not
        reach them at all), smallest first."""
        return sorted(((k, g) for k, g in self.param_grad_norms().items() if g < threshold), key=lambda kv: kv[1])

    def exploding_params(self, threshold: float = 1e3) -> list[tuple[str, float]]:
        """Parameters whose gradient norm exceeds ``threshold`` or is not finite, largest first."""
        bad = [(k, g) for k, g in self.param_grad_norms().items() if not math.isfinite(g) or g > threshold]
        return sorted(bad, key=lambda kv: -kv[1] if math.isfinite(kv[1]) else -math.inf)

    # -- queries implemented in sibling modules ---------------------------------------------
    def weakest_path(self, src: str, dst: str = "loss", *, gain: str = "probe", probes: int = 4, seed: int = 0) -> Any:
        """The src -> dst path whose gradient gain (product of edge gains) is smallest."""
        from graphsynth.grad.paths import best_path

        return best_path(self, src, dst, strongest=False, gain=gain, probes=probes, seed=seed)

    def strongest_path(self, src: str, dst: str = "loss", *, gain: str = "probe", probes: int = 4,
                       seed: int = 0) -> Any:
        """The src -> dst path whose gradient gain is largest."""
        from graphsynth.grad.paths import best_path

        return best_path(self, src, dst, strongest=True, gain=gain, probes=probes, seed=seed)

    def edge_gains(self, src: str | None = None, dst: str = "loss", *, gain: str = "probe", probes: int = 4,
                   seed: int = 0) -> dict[tuple[str, str], float]:
        """The gain of every differentiable edge between ``src`` and ``dst`` (all edges when
        ``src`` is None)."""
        from graphsynth.grad.paths import corridor_gains

        return corridor_gains(self, src, dst, gain=gain, probes=probes, seed=seed)

    def sensitivity(self, inputs: Any, feature: Any) -> Any:
        """Rank every value by how strongly it responds (forward-mode JVP) to perturbing one
        input feature, see :func:`graphsynth.grad.sensitivity.sensitivity`."""
        from graphsynth.grad.sensitivity import sensitivity

        return sensitivity(self.graph, inputs, feature)

    def jacobian(self, src: str, dst: str, inputs: Any = None, **kw: Any) -> Any:
        """:func:`graphsynth.grad.jacobian` at ``inputs`` (default: the recorded forward's)."""
        from graphsynth.grad.jacobian import jacobian_on

        return jacobian_on(self.graph, src, dst, self.inputs if inputs is None else inputs, **kw)

    def render(self, path: Any, *, depth: int | None = None, engine: str = "auto", **kw: Any) -> Any:
        """Draw the graph (modules below ``depth`` folded) with edges coloured and sized by
        gradient norm; the format follows the suffix (.svg, .png, .pdf, .dot)."""
        from graphsynth.grad.render import render_graph

        return render_graph(self, path, depth=depth, engine=engine, **kw)

    def render_bars(self, path: Any, *, depth: int | None = 1, aggregate: str = "all") -> Any:
        """A bar chart of per-module gradient norms (modules up to ``depth`` levels)."""
        from graphsynth.grad.render import render_bars

        return render_bars(self, path, depth=depth, aggregate=aggregate)

    def summary(self, top: int = 10) -> str:
        """A few lines: the largest module gradient norms and the parameter extremes."""
        norms = self.grad_norms()
        mods = sorted(((p, norms[p]) for p in self.graph.modules), key=lambda kv: -kv[1])[:top]
        lines = ["gradient norm per module (largest first):"]
        lines += [f"  {p:<40} {g:.3e}" for p, g in mods]
        params = sorted(self.param_grad_norms().items(), key=lambda kv: kv[1])
        if params:
            lines.append(f"smallest parameter gradient: {params[0][0]} {params[0][1]:.3e}")
            lines.append(f"largest parameter gradient:  {params[-1][0]} {params[-1][1]:.3e}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "no forward" if self.run is None else ("forward+backward" if self.edge_grads else "forward")
        return f"<Recorder {self.graph.graph_op.graph_name}: {len(self.graph.values)} values, {state}>"

