"""Pictures of recorded gradients: the graph with edges coloured and sized by gradient norm, and a
per-module bar chart.

The graph can be drawn at any depth of the module hierarchy: with ``depth=k`` every module
nested deeper than ``k`` levels is folded into one node (as ``print_ir(module, depth=k)`` folds
it into one line), and the edges between two drawn nodes carry the L2 norm of the gradients of
the IR edges they stand for.  Colour (viridis, dark = small, yellow = large) and width follow
``log10`` of that norm; edges that carry no gradient are grey and dashed.  Integer and boolean
values (index and mask computations) carry no gradient and are left out unless ``show_all``;
parameters are left out unless ``show_params``.

Engines: graphviz through its Python package when the ``dot`` binary is on the PATH (modules
that are not folded become nested clusters), matplotlib otherwise (a layered drawing: each node
one layer below its deepest predecessor, layers ordered by the mean position of their
predecessors).  ``.dot``/``.gv`` files are written as graphviz source and need no binary.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphsynth.grad.graph import fail, norm

if TYPE_CHECKING:
    from graphsynth.grad.recorder import Recorder

__all__ = ["VIRIDIS", "colour", "picture_graph", "render_bars", "render_graph"]

VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
NO_GRAD = "#b0b0b0"
GRAPHVIZ_FORMATS = {".svg", ".png", ".pdf", ".dot", ".gv"}
MPL_FORMATS = {".svg", ".png", ".pdf"}


def colour(t: float) -> str:
    """A viridis colour for ``t`` in [0, 1] (linear between five stops)."""
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    a, b = VIRIDIS[i], VIRIDIS[i + 1]
    rgb = [round(int(a[k:k + 2], 16) * (1 - f) + int(b[k:k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


@dataclass
class PNode:
    key: str
    label: str
    kind: str  # "value" | "module" | "loss"
    order: int
    grad: float | None
    cluster: list[str] = field(default_factory=list)  # unfolded module chain around it


@dataclass
class PEdge:
    src: str
    dst: str
    grad: float | None  # L2 over the IR edges it stands for; None before a backward


@dataclass
class Picture:
    nodes: dict[str, PNode]
    edges: list[PEdge]
    title: str

    def scale(self) -> tuple[float, float]:
        """log10 range of the positive edge norms."""
        logs = [math.log10(e.grad) for e in self.edges if e.grad]
        if not logs:
            return 0.0, 1.0
        lo, hi = min(logs), max(logs)
        return lo, (hi if hi > lo else lo + 1.0)

    def style(self, g: float | None) -> tuple[str, float, bool]:
        """(colour, width in points, dashed) of an edge with gradient norm ``g``."""
        if not g:
            return NO_GRAD, 0.6, True
        lo, hi = self.scale()
        t = (math.log10(g) - lo) / (hi - lo)
        return colour(t), 0.8 + 4.2 * t, False


def picture_graph(rec: Recorder, depth: int | None = None, show_params: bool = False,
                  show_all: bool = False) -> Picture:
    """The nodes and edges to draw, with their gradient norms (no drawing library involved)."""
    vg = rec.graph
    if depth is not None and depth < 0:
        raise fail("GS805", f"depth must be >= 0 or None, got {depth}")
    rec._need_forward()
    have_grads = bool(rec.edge_grads)
    norms = rec.grad_norms() if have_grads else {}
    nodes: dict[str, PNode] = {}
    key_of: dict[str, str] = {}
    for v in vg.values.values():
        if v.kind in ("param", "buffer") and not show_params:
            continue
        if not show_all and (not v.is_float or v.node is None):
            continue
        chain = vg.chain(v.scope)
        if depth is not None and len(chain) > depth:
            path = chain[depth]
            key = "module:" + path
            if key not in nodes:
                cls = vg.modules.get(path, ("?", ""))[0]
                nodes[key] = PNode(key, f"{path}\n{cls}", "module", v.index, norms.get(path), chain[:depth])
        else:
            key = "value:" + v.name
            op = vg.ops[v.op].name if v.op is not None else v.kind
            nodes[key] = PNode(key, f"{v.name} {op}\n{v.type_text}", "value", v.index, norms.get(v.name), chain)
        key_of[v.name] = key
    sq: dict[tuple[str, str], float] = {}
    seen: set[tuple[str, str, str, int]] = set()
    for u, r, i in vg.edges():
        a, b = key_of.get(u), key_of.get(r)
        if a is None or b is None or a == b:
            continue
        k = (a, b)
        sq.setdefault(k, 0.0)
        # One IR edge (u, op) counts once per drawn edge, even when the op has several results
        # inside the same folded node; each result drawn on its own carries it.
        if have_grads and (a, b, u, i) not in seen:
            seen.add((a, b, u, i))
            g = rec.edge_grads.get((u, i))
            if g is not None:
                sq[k] += norm(g) ** 2
    edges = [PEdge(a, b, math.sqrt(s) if have_grads else None) for (a, b), s in sq.items()]
    if have_grads:
        ret = vg.ops[-1].index
        nodes["loss"] = PNode("loss", "loss", "loss", len(vg.values), None)
        for o in dict.fromkeys(vg.outputs):
            if o in key_of:
                g = rec.edge_grads.get((o, ret))
                edges.append(PEdge(key_of[o], "loss", norm(g) if g is not None else 0.0))
    where = "all modules unfolded" if depth is None else f"modules folded below depth {depth}"
    pic = Picture(nodes, edges, "")
    if have_grads:
        lo, hi = pic.scale()
        what = f"edge colour/width: gradient norm, 10^{lo:.1f} dark/thin .. 10^{hi:.1f} yellow/wide"
    else:
        what = "no backward recorded: edges uncoloured"
    pic.title = f"{vg.graph_op.graph_name} ({where})\n{what}"
    return pic


def _fmt(g: float | None) -> str:
    return "" if g is None else f"\n∇ {g:.2e}"


def _choose_engine(engine: str, suffix: str) -> str:
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise fail("GS807", f"engine must be 'auto', 'graphviz' or 'matplotlib', got {engine!r}")
    if suffix in (".dot", ".gv"):
        if engine == "matplotlib":
            raise fail("GS807", f"matplotlib cannot write {suffix} files; use .svg, .png or .pdf")
        return "graphviz-source"
    if engine == "auto":
        engine = "graphviz" if shutil.which("dot") else "matplotlib"
    if engine == "graphviz" and not shutil.which("dot"):
        raise fail("GS807", "the graphviz 'dot' binary is not on the PATH",
                   fix="install it (apt install graphviz, conda install graphviz, brew install graphviz), "
                       "or use engine='matplotlib', or write a .dot file")
    allowed = GRAPHVIZ_FORMATS if engine == "graphviz" else MPL_FORMATS
    if suffix not in allowed:
        raise fail("GS807", f"cannot write '{suffix or '(no suffix)'}' with {engine}; use one of "
                            f"{', '.join(sorted(allowed))}")
    return engine


def render_graph(rec: Recorder, path: Any, *, depth: int | None = None, engine: str = "auto",
                 show_params: bool = False, show_all: bool = False) -> Path:
    """Draw the recorded graph to ``path`` (format from its suffix); returns the path."""
    out = Path(path)
    how = _choose_engine(engine, out.suffix.lower())
    pic = picture_graph(rec, depth, show_params, show_all)
    out.parent.mkdir(parents=True, exist_ok=True)
    if how.startswith("graphviz"):
        dot = _graphviz(pic)
        if how == "graphviz-source":
            out.write_text(dot.source)
        else:
            out.write_bytes(dot.pipe(format=out.suffix.lower()[1:]))
    else:
        _matplotlib(pic, out)
    return out


def _graphviz(pic: Picture) -> Any:
    import graphviz

    g = graphviz.Digraph("gradients", graph_attr={"rankdir": "TB", "label": pic.title, "labelloc": "t",
                                                  "fontsize": "12", "fontname": "Helvetica"},
                         node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled"})
    lo_hi = _node_scale(pic)
    # Nested clusters for the unfolded modules.
    tree: dict[tuple[str, ...], list[PNode]] = {}
    for n in pic.nodes.values():
        tree.setdefault(tuple(n.cluster), []).append(n)
    prefixes = sorted({tuple(c[:i]) for c in tree for i in range(1, len(c) + 1)}, key=len)

    def node_attrs(n: PNode) -> dict[str, str]:
        shape = {"value": "box", "module": "box3d", "loss": "doublecircle"}[n.kind]
        fill = _node_fill(n.grad, lo_hi)
        return {"label": n.label + _fmt(n.grad), "shape": shape, "fillcolor": fill}

    def emit(graph: Any, prefix: tuple[str, ...]) -> None:
        for n in tree.get(prefix, []):
            graph.node(ids[n.key], **node_attrs(n))
        for child in prefixes:
            if len(child) == len(prefix) + 1 and child[:len(prefix)] == prefix:
                with graph.subgraph(name=f"cluster_{prefixes.index(child)}") as sub:
                    sub.attr(label=child[-1], style="rounded", color="#888888", fontsize="10")
                    emit(sub, child)

    ids = {key: f"n{i}" for i, key in enumerate(pic.nodes)}
    emit(g, ())
    for e in pic.edges:
        col, width, dashed = pic.style(e.grad)
        attrs = {"color": col, "penwidth": f"{width:.2f}"}
        if dashed:
            attrs["style"] = "dashed"
        if e.grad:
            attrs["tooltip"] = f"{e.grad:.3e}"
        g.edge(ids[e.src], ids[e.dst], **attrs)
    return g


def _node_scale(pic: Picture) -> tuple[float, float]:
    logs = [math.log10(n.grad) for n in pic.nodes.values() if n.grad]
    if not logs:
        return 0.0, 1.0
    lo, hi = min(logs), max(logs)
    return lo, (hi if hi > lo else lo + 1.0)


def _node_fill(g: float | None, lo_hi: tuple[float, float]) -> str:
    """A pale version of the edge colour scale, so labels stay readable."""
    if not g:
        return "#f2f2f2"
    lo, hi = lo_hi
    c = colour((math.log10(g) - lo) / (hi - lo))
    rgb = [int(c[k:k + 2], 16) for k in (1, 3, 5)]
    pale = [round(255 - (255 - x) * 0.35) for x in rgb]
    return "#" + "".join(f"{x:02x}" for x in pale)


def layered_layout(pic: Picture) -> dict[str, tuple[float, float]]:
    """Longest-path layering (each node one layer below its deepest predecessor), then two
    barycentre sweeps to order each layer; returns (x, y) per node key, y = -layer."""
    order = sorted(pic.nodes.values(), key=lambda n: n.order)
    preds: dict[str, list[str]] = {n.key: [] for n in order}
    for e in pic.edges:
        if e.src in preds and e.dst in preds:
            preds[e.dst].append(e.src)
    layer: dict[str, int] = {}
    for n in order:
        layer[n.key] = 1 + max((layer[p] for p in preds[n.key] if p in layer), default=-1)
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(layer[n.key], []).append(n.key)
    pos: dict[str, float] = {}
    for _ in range(2):
        for k in sorted(layers):
            keys = layers[k]
            for i, key in enumerate(keys):
                pos.setdefault(key, float(i))
            bary = {key: (sum(pos[p] for p in preds[key]) / len(preds[key]) if preds[key] else pos[key])
                    for key in keys}
            keys.sort(key=lambda key: bary[key])
            width = len(keys)
            for i, key in enumerate(keys):
                pos[key] = i - (width - 1) / 2
    return {key: (pos[key], -float(layer[key])) for key in pic.nodes}


def _matplotlib(pic: Picture, out: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch

    xy = layered_layout(pic)
    n_layers = int(-min((y for _, y in xy.values()), default=0)) + 1
    widest = max((sum(1 for _, y in xy.values() if y == -k) for k in range(n_layers)), default=1)
    fig = Figure(figsize=(min(max(4.0, 2.2 * widest), 40.0), min(max(3.0, 1.0 * n_layers), 80.0)))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_title(pic.title, fontsize=9)
    lo_hi = _node_scale(pic)
    for e in pic.edges:
        col, width, dashed = pic.style(e.grad)
        (x0, y0), (x1, y1) = xy[e.src], xy[e.dst]
        # Edges that skip layers (residual connections) bow out so they do not run through the
        # nodes in between.
        span = abs(y1 - y0)
        rad = 0.0 if span <= 1 and x0 == x1 else (0.08 if span <= 1 else min(0.15 + 0.05 * span, 0.5))
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=8, color=col, lw=width,
                                     linestyle="--" if dashed else "-", shrinkA=12, shrinkB=12, zorder=1,
                                     connectionstyle=f"arc3,rad={rad}"))
    for key, n in pic.nodes.items():
        x, y = xy[key]
        ax.text(x, y, n.label + _fmt(n.grad), ha="center", va="center", fontsize=6, zorder=2,
                bbox={"boxstyle": "round,pad=0.3" if n.kind != "module" else "square,pad=0.4",
                      "fc": _node_fill(n.grad, lo_hi), "ec": "#555555", "lw": 0.6})
    xs = [p[0] for p in xy.values()] or [0.0]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(-n_layers, 1)
    fig.savefig(out, format=out.suffix.lower()[1:], bbox_inches="tight")


def render_bars(rec: Recorder, path: Any, *, depth: int | None = 1, aggregate: str = "all") -> Path:
    """Horizontal bars, one per module up to ``depth`` levels (all when None), in graph order,
    of the module's gradient norm (log scale)."""
    from matplotlib.figure import Figure

    out = Path(path)
    if out.suffix.lower() not in MPL_FORMATS:
        raise fail("GS807", f"cannot write '{out.suffix or '(no suffix)'}' bar charts; use .svg, .png or .pdf")
    vg = rec.graph
    norms = rec.grad_norms(aggregate)
    mods = [p for p in vg.modules if depth is None or vg.level(p) <= depth]
    if not mods:
        raise fail("GS807", f"no module at depth <= {depth} to chart")
    vals = [norms[p] for p in mods]
    fig = Figure(figsize=(8.0, max(2.0, 0.28 * len(mods) + 1.0)))
    ax = fig.add_subplot(1, 1, 1)
    ys = list(range(len(mods)))[::-1]
    positive = [v for v in vals if v > 0]
    floor = min(positive) / 10 if positive else 1e-12
    levels = [vg.level(p) for p in mods]
    top = max(levels)
    shade = {lv: colour(0.15 + 0.6 * (lv - 1) / max(top - 1, 1)) for lv in set(levels)}
    ax.barh(ys, [v if v > 0 else floor for v in vals],
            color=[shade[lv] if v > 0 else NO_GRAD for v, lv in zip(vals, levels)])
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=shade[lv], label=f"level {lv}") for lv in sorted(shade)], fontsize=7,
              loc="lower right")
    ax.set_yticks(ys)
    ax.set_yticklabels(mods, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(f"gradient norm ({'all values inside' if aggregate == 'all' else 'module outputs'}, L2)")
    ax.set_title(f"{vg.graph_op.graph_name}: gradient norm per module", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lower()[1:], bbox_inches="tight")
    return out

