"""Pictures of recorded gradients: the graph with edges coloured and sized by gradient norm, and a
per-module bar chart.

The graph can be drawn at any depth of the module hierarchy: with ``depth=k`` every module
nested deeper than ``k`` levels is folded into one node (as ``print_ir(module, depth=k)`` folds
it into one line), and the edges between two drawn nodes carry the L2 norm of the gradients of
the IR edges they stand for.  Colour (viridis, dark = small, yellow = large) and width follow
``log10`` of that norm; edges that carry no gradient are grey and dashed.  Integer and boolean
values (index and mask computations) carry no gradient and are left out unless ``show_all``;
parameters are left out unless ``show_params``.

The layout and the engines are shared with the picture of the IR itself
(:mod:`graphsynth.query.picture`): graphviz's ``dot`` binary when it is on the PATH (modules
that are not folded become nested clusters), matplotlib otherwise (a layered drawing: each node
one layer below its deepest predecessor, layers ordered by the mean position of their
predecessors).  ``.dot``/``.gv`` files are written as graphviz source and need no binary.  Files
are written atomically; a picture that cannot be drawn is a :class:`GradError` GS807.
"""

from __future__ import annotations

import math
import shutil  # noqa: F401 - tests stand in for the `dot` lookup through this module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphsynth.fileio import atomic_open
from graphsynth.grad.graph import GradError, fail, norm
from graphsynth.query.picture import (
    GRAPHVIZ_FORMATS,
    MPL_FORMATS,
    NO_GRAD,
    VIRIDIS,
    PEdge,
    Picture,
    PictureError,
    PNode,
    colour,
    draw,
    layered_layout,
)

if TYPE_CHECKING:
    from graphsynth.grad.recorder import Recorder

__all__ = ["GRAPHVIZ_FORMATS", "MPL_FORMATS", "VIRIDIS", "Picture", "colour", "layered_layout", "picture_graph",
           "render_bars", "render_graph"]


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
    pic = Picture(nodes, edges, "", weighted=True, name="gradients")
    if have_grads:
        lo, hi = pic.scale()
        what = f"edge colour/width: gradient norm, 10^{lo:.1f} dark/thin .. 10^{hi:.1f} yellow/wide"
    else:
        what = "no backward recorded: edges uncoloured"
    pic.title = f"{vg.graph_op.graph_name} ({where})\n{what}"
    return pic


def render_graph(rec: Recorder, path: Any, *, depth: int | None = None, engine: str = "auto",
                 show_params: bool = False, show_all: bool = False) -> Path:
    """Draw the recorded graph to ``path`` (format from its suffix, written atomically; missing
    folders are created); returns the path."""
    from graphsynth.query.picture import choose_engine

    out = Path(path)
    try:
        choose_engine(engine, out.suffix.lower())  # a bad format is refused before any work
    except PictureError as e:
        raise GradError(e.diagnostics) from None
    pic = picture_graph(rec, depth, show_params, show_all)
    try:
        return draw(pic, out, engine=engine, make_parents=True)
    except PictureError as e:
        raise GradError(e.diagnostics) from None


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
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise fail("GS807", f"cannot create the folder of '{out}': {e.strerror or e}") from None
    with atomic_open(out, "wb") as f:
        fig.savefig(f, format=out.suffix.lower()[1:], bbox_inches="tight")
    return out

