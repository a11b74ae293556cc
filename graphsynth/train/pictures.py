"""Pictures of a recorded run (matplotlib, PNG bytes): what people and the vision model look at.

- ``curves.png``: the training loss per step (and the learning rate, dashed, on its own axis),
  the epoch losses and, below, train and validation accuracy; every finding is a shaded step range
  labelled with its code and kind;
- ``grad_norms.png``: a heat map of log10 gradient norm per module (rows, first layer on top,
  in data-flow order) over the recorded steps (columns);
- ``update_ratios.png``: the update-to-weight ratio of every parameter over the recorded steps
  (log scale, with the 1e-3 rule of thumb drawn: updates far below it barely move the weights,
  far above it are erratic), and below, the fraction of dead units after each activation.

Figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot state, safe in threads) and
saved without a timestamp or software tag, so the same run gives the same bytes with the same
matplotlib.  Each picture is about 900 x 600 pixels: legible for a vision model, small in a
request.
"""

from __future__ import annotations

import io
import math
from typing import Any

KIND_COLORS = {"divergence": "#d62728", "exploding_gradients": "#ff7f0e", "vanishing_gradients": "#9467bd",
               "dead_units": "#8c564b", "plateau": "#7f7f7f", "oscillation": "#e377c2", "overfitting": "#bcbd22",
               "slow_start": "#17becf"}
UPDATE_RATIO_REFERENCE = 1e-3
DPI = 100


def _figure(w: float = 9.0, h: float = 6.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=DPI)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _finite_pairs(steps: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    pairs = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def curves_png(run: Any, findings: list[Any] | None = None) -> bytes:
    findings = run.findings() if findings is None else findings
    fig = _figure()
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    c = run.curves
    if "loss" in c:
        xs, ys = _finite_pairs(c["loss"].steps, c["loss"].values)
        top.plot(xs, ys, lw=0.8, color="#1f77b4", alpha=0.7, label="loss (step)")
        bad = [s for s, v in zip(c["loss"].steps, c["loss"].values) if not math.isfinite(v)]
        for s in bad:
            top.axvline(s, color="#d62728", lw=1.5, ls=":")
        if ys and max(ys) > 0 and min(ys) > 0 and max(ys) / min(ys) > 50:
            top.set_yscale("log")
    for name, color in (("train_loss", "#2ca02c"), ("val_loss", "#d62728")):
        if name in c:
            xs, ys = _finite_pairs(c[name].steps, c[name].values)
            top.plot(xs, ys, "o-", ms=3, lw=1.2, color=color, label=name.replace("_", " ") + " (epoch)")
    top.set_ylabel("loss")
    top.grid(alpha=0.3)
    if "lr" in c and len(c["lr"]):
        ax2 = top.twinx()
        ax2.plot(c["lr"].steps, c["lr"].values, "--", lw=0.8, color="#555555", label="learning rate")
        ax2.set_ylabel("learning rate", color="#555555")
        ax2.tick_params(axis="y", labelcolor="#555555", labelsize=7)
    top.legend(loc="upper right", fontsize=7)
    for name, color in (("train_accuracy", "#2ca02c"), ("val_accuracy", "#d62728")):
        if name in c:
            xs, ys = _finite_pairs(c[name].steps, c[name].values)
            bottom.plot(xs, ys, "o-", ms=3, lw=1.2, color=color, label=name.replace("_", " "))
    bottom.set_ylabel("accuracy")
    bottom.set_xlabel("step")
    bottom.set_ylim(-0.02, 1.02)
    bottom.grid(alpha=0.3)
    bottom.legend(loc="lower right", fontsize=7)
    for i, f in enumerate(findings):
        color = KIND_COLORS.get(f.kind, "#999999")
        lo, hi = f.steps
        if hi <= lo:
            hi = lo + 1
        for ax in (top, bottom):
            ax.axvspan(lo, hi, color=color, alpha=0.15)
        top.annotate(f"{f.code} {f.kind}", xy=(lo, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10 - 10 * (i % 4)),
                     textcoords="offset points", fontsize=7, color=color, ha="left", va="top")
    title = f"{run.task}: {run.status}"
    if isinstance(run.metrics.get("val_accuracy"), (int, float)):
        title += f", val accuracy {run.metrics['val_accuracy']:.3f}"
    fig.suptitle(title + (f" ({len(findings)} finding{'s' if len(findings) != 1 else ''})" if findings else " (no finding)"), fontsize=10)
    fig.tight_layout()
    return _png(fig)


def grad_norms_png(run: Any) -> bytes:
    import numpy as np

    fig = _figure(9.0, 5.0)
    ax = fig.subplots()
    modules = [m for m in run.meta.get("modules", []) if f"grad_norm/{m}" in run.curves]
    if not modules:
        ax.text(0.5, 0.5, "no gradient norms recorded", ha="center", va="center")
        return _png(fig)
    steps = sorted({s for m in modules for s in run.curves[f"grad_norm/{m}"].steps})
    col = {s: i for i, s in enumerate(steps)}
    grid = np.full((len(modules), len(steps)), np.nan)
    for r, m in enumerate(modules):
        s = run.curves[f"grad_norm/{m}"]
        for st, v in zip(s.steps, s.values):
            grid[r, col[st]] = math.log10(v) if v > 0 and math.isfinite(v) else (-12.0 if v == 0 else np.nan)
    finite = grid[np.isfinite(grid)]
    vmin = float(finite.min()) if finite.size else -6
    vmax = float(finite.max()) if finite.size else 0
    im = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=vmin, vmax=max(vmax, vmin + 1e-6),
                   extent=(steps[0] - 0.5, steps[-1] + 0.5, len(modules) - 0.5, -0.5))
    ax.set_yticks(range(len(modules)), modules, fontsize=7)
    ax.set_xlabel("step")
    ax.set_ylabel("module (data-flow order)")
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log10 gradient norm (0 drawn as -12)")
    ax.set_title(f"{run.task}: gradient norm per module over the recorded steps (every {run.meta.get('every', '?')})", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def update_ratios_png(run: Any) -> bytes:
    fig = _figure()
    top, bottom = fig.subplots(2, 1, sharex=True)
    ratios = run.series("update_ratio")
    for k, s in ratios.items():
        xs, ys = _finite_pairs(s.steps, s.values)
        pairs = [(x, y) for x, y in zip(xs, ys) if y > 0]
        if pairs:
            top.plot([p[0] for p in pairs], [p[1] for p in pairs], lw=1.0, label=k)
    top.axhline(UPDATE_RATIO_REFERENCE, color="black", ls="--", lw=0.8, label="1e-3 rule of thumb")
    top.set_yscale("log")
    top.set_ylabel("|update| / |weight|")
    top.grid(alpha=0.3, which="both")
    if ratios:
        top.legend(fontsize=6, ncol=2, loc="upper right")
    dead = run.series("dead_fraction")
    acts = run.meta.get("activations", {})
    for name, s in dead.items():
        info = acts.get(name, {})
        bottom.plot(s.steps, s.values, lw=1.0, label=f"{name} {info.get('op', '')} ({info.get('module') or 'top'})")
    bottom.axhline(0.7, color="#8c564b", ls="--", lw=0.8, label="dead-unit threshold 0.7")
    bottom.set_ylim(-0.02, 1.02)
    bottom.set_ylabel("dead fraction")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=6, loc="upper right")
    fig.suptitle(f"{run.task}: update-to-weight ratio per parameter; dead units per activation", fontsize=10)
    fig.tight_layout()
    return _png(fig)


PICTURES = {"curves.png": curves_png, "grad_norms.png": grad_norms_png, "update_ratios.png": update_ratios_png}


def pictures(run: Any, findings: list[Any] | None = None) -> dict[str, bytes]:
    """Every picture of ``run`` as ``{file name: PNG bytes}``."""
    findings = run.findings() if findings is None else findings
    return {"curves.png": curves_png(run, findings), "grad_norms.png": grad_norms_png(run), "update_ratios.png": update_ratios_png(run)}
