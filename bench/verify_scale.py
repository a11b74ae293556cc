"""How parse, verify and print scale with graph size: straight-line and branching graphs of 1k,
10k and 100k ops with symbolic dims (B, S, S+1, 2*S, ...), built as text and parsed; and modules
of many small graphs (4 ops each, each calling the one before: 250, 2,500 and 25,000 graphs for
the same op counts), which measure what the verifier does per graph (callee signatures, the
call-cycle check) and print microseconds per graph.

    python bench/verify_scale.py            # 1k, 10k, 100k
    python bench/verify_scale.py --sizes 1000 10000 --repeat 3

Prints, per graph shape and size, the time per op of parse, verify and print (best of
``--repeat`` runs), then the growth of each from the smallest to the largest size (per-op time
ratio: 1.0 is linear growth, 10 at 100x the ops would be quadratic-ish).  Target (DESIGN.md
section 8): verifying 10k ops in under 0.5 s on a 2-core machine.  Exits 1 when verification of
10k ops misses the target or any phase grows clearly superlinearly (per-op ratio > 2).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

from argtypes import at_least

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphsynth.grammar.parser import parse_ir  # noqa: E402
from graphsynth.grammar.printer import print_ir  # noqa: E402
from graphsynth.verifier import verify  # noqa: E402

TARGET_VERIFY_10K_S = 0.5
MAX_GROWTH = 2.0


def straight_line(n_ops: int) -> str:
    """A chain of 8-op rounds (rounded up): the sequence dim goes S -> 2*S -> S -> S+1 -> S, a
    reshape to [B, S, 4, 16] and back with -1, and a linear layer with its own parameter."""
    rounds = max(1, -(-n_ops // 8))
    lines = ["graph Chain(x: f32[B, S, 64]) -> f32[B, S, 64] {"]
    for r in range(rounds):
        lines.append(f"  param layers.{r}.weight: f32[64, 64]")
    prev, k = "x", 0
    cycle = [
        ("f32[B, S, 64]", "tanh({v})"),
        ("f32[B, 2*S, 64]", "concat({v}, {v}, dim=1)"),
        ("f32[B, S, 64]", "slice({v}, dim=1, start=0, end=S)"),
        ("f32[B, S+1, 64]", "pad({v}, pad=[0, 0, 0, 1])"),
        ("f32[B, S, 64]", "slice({v}, dim=1, start=1)"),
        ("f32[B, S, 4, 16]", "reshape({v}, shape=[B, S, 4, 16])"),
        ("f32[B, S, 64]", "reshape({v}, shape=[B, S, -1])"),
    ]
    for r in range(rounds):
        for typ, call in cycle:
            lines.append(f"  %{k}: {typ} = {call.format(v=prev)}")
            prev, k = f"%{k}", k + 1
        lines.append(f"  module layers.{r} : Linear {{")
        lines.append(f"    %{k}: f32[B, S, 64] = linear({prev}, layers.{r}.weight)")
        lines.append("  }")
        prev, k = f"%{k}", k + 1
    lines.append(f"  return {prev}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def branching(n_ops: int) -> str:
    """Residual blocks with a diamond inside, 8 ops each: linear, relu, add (the residual),
    tanh and sigmoid side by side, mul joining them, concat to 2*S and a slice back to S."""
    lines = ["graph Residual(x: f32[B, S, 64]) -> f32[B, S, 64] {"]
    n_blocks = max(1, -(-n_ops // 8))
    for b in range(n_blocks):
        lines.append(f"  param blocks.{b}.fc.weight: f32[64, 64]")
        lines.append(f"  param blocks.{b}.fc.bias: f32[64]")
    h, k = "x", 0
    for b in range(n_blocks):
        lines.append(f"  module blocks.{b} : Block {{")
        lines.append(f"    module blocks.{b}.fc : Linear {{")
        lines.append(f"      %{k}: f32[B, S, 64] = linear({h}, blocks.{b}.fc.weight, blocks.{b}.fc.bias)")
        lines.append("    }")
        lines.append(f"    %{k + 1}: f32[B, S, 64] = relu(%{k})")
        lines.append(f"    %{k + 2}: f32[B, S, 64] = add({h}, %{k + 1})")
        lines.append(f"    %{k + 3}: f32[B, S, 64] = tanh(%{k + 2})")
        lines.append(f"    %{k + 4}: f32[B, S, 64] = sigmoid(%{k + 2})")
        lines.append(f"    %{k + 5}: f32[B, S, 64] = mul(%{k + 3}, %{k + 4})")
        lines.append(f"    %{k + 6}: f32[B, 2*S, 64] = concat(%{k + 5}, %{k + 2}, dim=1)")
        lines.append(f"    %{k + 7}: f32[B, S, 64] = slice(%{k + 6}, dim=1, start=S)")
        lines.append("  }")
        h = f"%{k + 7}"
        k += 8
    lines.append(f"  return {h}")
    lines.append("}")
    return "\n".join(lines) + "\n"


OPS_PER_GRAPH = 4


def many_graphs(n_ops: int) -> str:
    """``n_ops / 4`` graphs of 4 ops (linear with the weight the graph takes as an input, relu,
    and a call of the graph before, which gets the same weight; the first one ends in tanh
    instead): a chain of calls as long as the module."""
    out = []
    for i in range(max(2, n_ops // OPS_PER_GRAPH)):
        last = f'call(%1, w, callee="G{i - 1}")' if i else "tanh(%1)"
        out.append(
            f"graph G{i}(x: f32[B, 8], w: f32[8, 8]) -> f32[B, 8] {{\n"
            "  %0: f32[B, 8] = linear(x, w)\n"
            "  %1: f32[B, 8] = relu(%0)\n"
            f"  %2: f32[B, 8] = {last}\n"
            "  return %2\n"
            "}\n"
        )
    return "\n".join(out)


SHAPES: dict[str, Callable[[int], str]] = {"straight": straight_line, "branching": branching, "graphs": many_graphs}


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def measure(shape: str, n_ops: int, repeat: int) -> dict[str, float]:
    text = SHAPES[shape](n_ops)
    t_parse, module = best_of(repeat, lambda: parse_ir(text, filename=f"{shape}-{n_ops}.gs"))
    t_verify, diags = best_of(repeat, lambda: verify(module))
    assert diags == [], "\n".join(d.render() for d in diags[:5])
    t_print, printed = best_of(repeat, lambda: print_ir(module))
    assert printed == text, "the generated text is in printer form, so printing gives it back"
    graphs = len(list(module.body.block.ops))
    ops = sum(1 for op in module.walk()) - 1 - graphs  # less the module and the graphs
    return {"ops": ops, "graphs": graphs, "parse": t_parse, "verify": t_verify, "print": t_print}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=at_least(1), nargs="+", default=[1_000, 10_000, 100_000])
    ap.add_argument("--repeat", type=at_least(1), default=2, help="best of N runs per phase")
    args = ap.parse_args(argv)
    ok = True
    print(f"{'graph':<10} {'ops':>8} | {'parse µs/op':>11} {'verify µs/op':>12} {'print µs/op':>11} | {'verify s':>8}")
    print("-" * 72)
    results: dict[str, list[dict[str, float]]] = {}
    for shape in SHAPES:
        for n in args.sizes:
            r = measure(shape, n, args.repeat if n <= 10_000 else 1)
            results.setdefault(shape, []).append(r)
            per = {k: r[k] / r["ops"] * 1e6 for k in ("parse", "verify", "print")}
            print(f"{shape:<10} {r['ops']:>8} | {per['parse']:>11.1f} {per['verify']:>12.1f} {per['print']:>11.1f} | {r['verify']:>8.3f}")
            if r["graphs"] > 1:
                per_graph = {k: r[k] / r["graphs"] * 1e6 for k in ("parse", "verify", "print")}
                print(
                    f"{'':<10} {r['graphs']:>8} graphs, µs per graph: parse {per_graph['parse']:.0f}, "
                    f"verify {per_graph['verify']:.0f}, print {per_graph['print']:.0f}"
                )
            if shape != "graphs" and 9_000 <= r["ops"] <= 11_000 and r["verify"] * 10_000 / r["ops"] > TARGET_VERIFY_10K_S:
                print(f"  !! verifying 10k ops takes {r['verify']:.3f} s, over the {TARGET_VERIFY_10K_S} s target")
                ok = False
    print()
    print("growth of the time per op from the smallest to the largest size (1.0 = linear):")
    for shape, rs in results.items():
        small, large = rs[0], rs[-1]
        parts = []
        for phase in ("parse", "verify", "print"):
            ratio = (large[phase] / large["ops"]) / (small[phase] / small["ops"])
            parts.append(f"{phase} {ratio:.2f}")
            if len(rs) > 1 and ratio > MAX_GROWTH:
                ok = False
                parts[-1] += " (superlinear!)"
        print(f"  {shape:<10} {int(small['ops'])} -> {int(large['ops'])} ops: " + ", ".join(parts))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
