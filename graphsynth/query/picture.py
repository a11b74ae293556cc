"""Drawing a graph: the nodes and edges to draw, a layered layout, and the engines that write
DOT, SVG, PNG or PDF.  Shared by the picture of the IR itself (``graphsynth-opt
--view-op-graph``, :mod:`graphsynth.query.opgraph`) and the gradient pictures
(:mod:`graphsynth.grad.render`), which differ only in what the nodes are and how edges are
weighted.

A :class:`Picture` is plain data: nodes with a label, a kind and the chain of unfolded modules
around them (drawn as nested clusters), and edges that may carry a weight (a gradient norm).
Weighted pictures colour edges on a log scale (viridis, dark = small, yellow = large) and draw
unweighted edges grey and dashed; unweighted pictures draw every edge plain.

Engines:

- ``.dot``/``.gv``: graphviz source, written by this module (no graphviz package or binary).
- ``graphviz``: the source piped through the ``dot`` binary, when it is on the PATH, with a
  deadline (:data:`DOT_TIMEOUT_S`); modules that are not folded become nested clusters.
- ``matplotlib``: a layered drawing (:func:`layered_layout`), used for SVG/PNG/PDF when ``dot``
  is not installed; pictures of more than :data:`MAX_MATPLOTLIB_NODES` nodes are refused
  (GS807: fold deeper, or write ``.dot``) rather than drawn for minutes.

Every file is written atomically (:func:`graphsynth.fileio.atomic_open`).  Failures are
:class:`PictureError` carrying GS807.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from graphsynth.diagnostics import GraphsynthError, error
from graphsynth.fileio import atomic_open

__all__ = [
    "DOT_TIMEOUT_S",
    "GRAPHVIZ_FORMATS",
    "MAX_MATPLOTLIB_NODES",
    "MPL_FORMATS",
    "NO_GRAD",
    "PEdge",
    "PNode",
    "Picture",
    "PictureError",
    "VIRIDIS",
    "choose_engine",
    "colour",
    "dot_source",
    "draw",
    "layered_layout",
]

VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
NO_GRAD = "#b0b0b0"
PLAIN_EDGE = "#404040"
GRAPHVIZ_FORMATS = {".svg", ".png", ".pdf", ".dot", ".gv"}
MPL_FORMATS = {".svg", ".png", ".pdf"}
DOT_TIMEOUT_S = 120.0
MAX_MATPLOTLIB_NODES = 2000
SHAPES = {"value": "box", "op": "box", "module": "box3d", "loss": "doublecircle", "input": "ellipse",
          "param": "note", "output": "ellipse"}
KIND_FILL = {"op": "#f2f2f2", "module": "#dcefdc", "input": "#dbe8f6", "output": "#dbe8f6", "param": "#fbf3d5",
             "value": "#f2f2f2", "loss": "#f2f2f2"}


class PictureError(GraphsynthError):
    """A picture that cannot be drawn or written (GS807)."""


def fail(message: str, **kw: Any) -> PictureError:
    return PictureError([error("GS807", message, **kw)])


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
    kind: str  # "value" | "module" | "loss" | "op" | "input" | "param" | "output"
    order: int
    grad: float | None
    cluster: list[str] = field(default_factory=list)  # unfolded module chain around it


@dataclass
class PEdge:
    src: str
    dst: str
    grad: float | None  # the edge's weight (a gradient norm); None when it has none


@dataclass
class Picture:
    nodes: dict[str, PNode]
    edges: list[PEdge]
    title: str
    weighted: bool = True  # edges carry weights (gradient norms) that colour them
    name: str = "gradients"

    def scale(self) -> tuple[float, float]:
        """log10 range of the positive edge weights."""
        logs = [math.log10(e.grad) for e in self.edges if e.grad]
        if not logs:
            return 0.0, 1.0
        lo, hi = min(logs), max(logs)
        return lo, (hi if hi > lo else lo + 1.0)

    def style(self, g: float | None) -> tuple[str, float, bool]:
        """(colour, width in points, dashed) of an edge with weight ``g``."""
        if not self.weighted:
            return PLAIN_EDGE, 0.9, False
        if not g:
            return NO_GRAD, 0.6, True
        lo, hi = self.scale()
        t = (math.log10(g) - lo) / (hi - lo)
        return colour(t), 0.8 + 4.2 * t, False

    def node_scale(self) -> tuple[float, float]:
        logs = [math.log10(n.grad) for n in self.nodes.values() if n.grad]
        if not logs:
            return 0.0, 1.0
        lo, hi = min(logs), max(logs)
        return lo, (hi if hi > lo else lo + 1.0)

    def fill(self, n: PNode, lo_hi: tuple[float, float]) -> str:
        """A pale version of the edge colour scale (weighted pictures), so labels stay readable;
        a colour per kind otherwise."""
        if not self.weighted:
            return KIND_FILL.get(n.kind, "#f2f2f2")
        if not n.grad:
            return "#f2f2f2"
        lo, hi = lo_hi
        c = colour((math.log10(n.grad) - lo) / (hi - lo))
        rgb = [int(c[k:k + 2], 16) for k in (1, 3, 5)]
        pale = [round(255 - (255 - x) * 0.35) for x in rgb]
        return "#" + "".join(f"{x:02x}" for x in pale)

    def label(self, n: PNode) -> str:
        return n.label + ("" if n.grad is None or not self.weighted else f"\n∇ {n.grad:.2e}")


# -- engines ---------------------------------------------------------------------------------------

def choose_engine(engine: str, suffix: str) -> str:
    """``"dot-source"``, ``"graphviz"`` or ``"matplotlib"`` for a file suffix (GS807 if none fits)."""
    if engine not in ("auto", "graphviz", "matplotlib"):
        raise fail(f"engine must be 'auto', 'graphviz' or 'matplotlib', got {engine!r}")
    if suffix in (".dot", ".gv"):
        if engine == "matplotlib":
            raise fail(f"matplotlib cannot write {suffix} files; use .svg, .png or .pdf")
        return "dot-source"
    if engine == "auto":
        engine = "graphviz" if shutil.which("dot") else "matplotlib"
    if engine == "graphviz" and not shutil.which("dot"):
        raise fail("the graphviz 'dot' binary is not on the PATH",
                   fix="install it (apt install graphviz, conda install graphviz, brew install graphviz), "
                       "or use engine='matplotlib', or write a .dot file")
    allowed = GRAPHVIZ_FORMATS if engine == "graphviz" else MPL_FORMATS
    if suffix not in allowed:
        raise fail(f"cannot write '{suffix or '(no suffix)'}' pictures with {engine}; use one of "
                   f"{', '.join(sorted(allowed))}")
    if engine == "matplotlib":
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise fail("drawing SVG/PNG/PDF needs matplotlib or the graphviz 'dot' binary; neither is installed",
                       fix="pip install matplotlib (or graphsynth[viz]), install graphviz, or write a .dot file") from None
    return engine


def draw(pic: Picture, path: str | os.PathLike[str], *, engine: str = "auto", make_parents: bool = False,
         dot_timeout_s: float = DOT_TIMEOUT_S, max_matplotlib_nodes: int = MAX_MATPLOTLIB_NODES) -> Path:
    """Draw ``pic`` to ``path`` (format from its suffix), atomically; returns the path.
    ``make_parents`` creates missing folders; otherwise a missing folder is GS002."""
    out = Path(path)
    suffix = out.suffix.lower()
    how = choose_engine(engine, suffix)
    if make_parents:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise fail(f"cannot create the folder of '{out}': {e.strerror or e}") from None
    if how == "dot-source":
        with atomic_open(out, "w") as f:
            f.write(dot_source(pic))
    elif how == "graphviz":
        data = run_dot(dot_source(pic), suffix[1:], dot_timeout_s)
        with atomic_open(out, "wb") as f:
            f.write(data)
    else:
        if len(pic.nodes) > max_matplotlib_nodes:
            raise fail(f"the picture has {len(pic.nodes)} nodes; without graphviz's 'dot' binary at most "
                       f"{max_matplotlib_nodes} are drawn",
                       fix="fold modules (a smaller depth), write a .dot file, or install graphviz")
        with atomic_open(out, "wb") as f:
            _matplotlib(pic, f, suffix[1:])
    return out


def run_dot(source: str, fmt: str, timeout_s: float = DOT_TIMEOUT_S) -> bytes:
    """``dot -T<fmt>`` on ``source``, within a deadline."""
    exe = shutil.which("dot")
    if exe is None:
        raise fail("the graphviz 'dot' binary is not on the PATH", fix="install graphviz or write a .dot file")
    try:
        p = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                           timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise fail(f"graphviz 'dot' did not finish within {timeout_s:g} s",
                   fix="fold modules (a smaller depth) or write a .dot file") from None
    except OSError as e:
        raise fail(f"cannot run graphviz 'dot': {e.strerror or e}") from None
    if p.returncode != 0:
        msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise fail(f"graphviz 'dot' failed (exit {p.returncode}): {msg[-1] if msg else 'no message'}")
    return p.stdout


def _q(text: str) -> str:
    """A DOT quoted string: backslashes and quotes escaped, newlines as graphviz's centred ``\\n``,
    other control characters dropped (names come from model-written IR)."""
    s = text.replace("\\", "\\\\").replace('"', '\\"')
    s = "".join(ch for ch in s if ch == "\n" or ch >= " ")
    return '"' + s.replace("\n", "\\n") + '"'


def _attrs(d: dict[str, str]) -> str:
    return "[" + " ".join(f"{k}={_q(v)}" for k, v in sorted(d.items())) + "]"


def dot_source(pic: Picture) -> str:
    """Graphviz source of ``pic``: unfolded modules as nested clusters."""
    lines = [f"digraph {_q(pic.name)} {{",
             "\tgraph " + _attrs({"rankdir": "TB", "label": pic.title, "labelloc": "t", "fontsize": "12",
                                  "fontname": "Helvetica"}),
             "\tnode " + _attrs({"fontname": "Helvetica", "fontsize": "10", "style": "filled"})]
    lo_hi = pic.node_scale()
    # Clusters as a trie of module names: cluster 0 is the picture itself, each other cluster is
    # (parent cluster, name).  Walking every node's chain costs its length, not its square.
    child_of: dict[tuple[int, str], int] = {}
    names: list[str] = [""]
    kids: list[list[int]] = [[]]
    members: list[list[PNode]] = [[]]
    for n in pic.nodes.values():
        c = 0
        for name in n.cluster:
            nxt = child_of.get((c, name))
            if nxt is None:
                nxt = child_of[(c, name)] = len(names)
                names.append(name)
                kids.append([])
                members.append([])
                kids[c].append(nxt)
            c = nxt
        members[c].append(n)
    ids = {key: f"n{i}" for i, key in enumerate(pic.nodes)}

    # Depth-first with an explicit stack: module nesting can be deeper than Python's recursion.
    tab = "\t"
    stack: list[tuple[int, int, bool]] = [(0, 1, True)]
    while stack:
        c, level, opening = stack.pop()
        indent = tab * level
        if not opening:
            lines.append(tab * (level - 1) + "}")
            continue
        if c:
            lines.append(f"{tab * (level - 1)}subgraph cluster_{c - 1} {{")
            lines.append(indent + "graph " + _attrs({"label": names[c], "style": "rounded", "color": "#888888",
                                                     "fontsize": "10"}))
            stack.append((c, level, False))
        for n in members[c]:
            lines.append(indent + ids[n.key] + " " + _attrs(
                {"label": pic.label(n), "shape": SHAPES.get(n.kind, "box"), "fillcolor": pic.fill(n, lo_hi)}))
        for k in reversed(kids[c]):
            stack.append((k, level + 1, True))

    for e in pic.edges:
        col, width, dashed = pic.style(e.grad)
        attrs = {"color": col, "penwidth": f"{width:.2f}"}
        if dashed:
            attrs["style"] = "dashed"
        if e.grad and pic.weighted:
            attrs["tooltip"] = f"{e.grad:.3e}"
        lines.append(f"\t{ids[e.src]} -> {ids[e.dst]} {_attrs(attrs)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


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


def _matplotlib(pic: Picture, out: IO[bytes], fmt: str) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch

    xy = layered_layout(pic)
    n_layers = int(-min((y for _, y in xy.values()), default=0)) + 1
    widest = max((sum(1 for _, y in xy.values() if y == -k) for k in range(n_layers)), default=1)
    fig = Figure(figsize=(min(max(4.0, 2.2 * widest), 40.0), min(max(3.0, 1.0 * n_layers), 80.0)))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    ax.set_title(pic.title, fontsize=9)
    lo_hi = pic.node_scale()
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
        ax.text(x, y, pic.label(n), ha="center", va="center", fontsize=6, zorder=2,
                bbox={"boxstyle": "round,pad=0.3" if n.kind != "module" else "square,pad=0.4",
                      "fc": pic.fill(n, lo_hi), "ec": "#555555", "lw": 0.6})
    xs = [p[0] for p in xy.values()] or [0.0]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(-n_layers, 1)
    fig.savefig(out, format=fmt, bbox_inches="tight")
