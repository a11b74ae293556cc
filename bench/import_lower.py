"""Import and lowering costs per model, and the lowered forward against eager.

For each model of ``examples/models.py`` (small configs, random weights) this prints: the ATen
nodes of the exported graph, the time torch.export takes, graphsynth's conversion of the exported program to gs IR, the verifier, the
lowering to a torch.fx GraphModule, the import time (export + conversion) per ATen node, and the forward time of the lowered module against the
source model's eager forward, measured in the same run, interleaved, as the median of many calls
(no_grad, the same inputs).  The target is a ratio <= 1.02 on CPU.

    python bench/import_lower.py [--models gpt2,bert] [--runs 200] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from argtypes import at_least, names_from

ROOT = Path(__file__).resolve().parents[1]


def _models() -> Any:
    """examples/models.py (the factories), with the checkout importable when not installed."""
    for p in (str(ROOT), str(ROOT / "examples")):
        if p not in sys.path:
            sys.path.insert(0, p)
    return importlib.import_module("models")


DEFAULT_MODELS = ("gpt2", "bert", "vit", "resnet", "fnet")


def timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def import_in_steps(model: Any, inputs: dict[str, Any], dynamic_dims: dict[str, Any]) -> tuple[Any, float, float, int]:
    """(module, export seconds, conversion seconds, ATen nodes), through the frontend's own steps."""
    from graphsynth.frontend import importer as front
    from graphsynth.frontend.convert import Converter

    tensors, constants = front.bind_inputs(model, inputs)
    requests = front.dim_requests(tensors, dynamic_dims or {})
    ep, t_export = timed(lambda: front.export_with_diagnostics(model, tensors, constants, requests))

    def convert() -> Any:
        symbols = front.symbol_names(ep, tensors, requests)
        return Converter(ep, model, symbols, list(tensors), type(model).__name__).convert()

    module, t_convert = timed(convert)
    import_torch_nodes = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    return module, t_export, t_convert, import_torch_nodes


def verify_time(module: Any) -> tuple[float | None, int]:
    try:
        from graphsynth.verifier import verify
    except ImportError:
        return None, 0
    diags, t = timed(lambda: verify(module))
    return t, len(diags)


def forward_times(fn_a: Any, fn_b: Any, runs: int) -> tuple[float, float]:
    """Median seconds per call of two functions, measured interleaved (a, b, a, b, ...)."""
    with torch.no_grad():
        for _ in range(max(10, runs // 10)):
            fn_a()
            fn_b()
        ta, tb = [], []
        for i in range(runs):
            for fn, acc in ((fn_a, ta), (fn_b, tb)) if i % 2 == 0 else ((fn_b, tb), (fn_a, ta)):
                t = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


def max_rel_err(got: Any, want: Any) -> float:
    got = got if isinstance(got, tuple) else (got,)
    want = torch.utils._pytree.tree_leaves(want)
    err = 0.0
    for a, b in zip(got, want):
        err = max(err, float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)))
    return err


def bench(name: str, runs: int) -> dict[str, Any]:
    model, inputs, dyn = getattr(_models(), name)()  # first: puts the checkout on sys.path
    from graphsynth.backend.lower import lower_graph
    from graphsynth.dialects import gs

    module, t_export, t_convert, nodes = import_in_steps(model, inputs, dyn)
    t_verify, n_diags = verify_time(module)
    graph = gs.graph_ops(module)[0]
    net, t_lower = timed(lambda: lower_graph(graph))
    net.load_state_dict(model.state_dict(), strict=True)
    net.eval()
    tensors = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}
    with torch.no_grad():
        err = max_rel_err(net(**tensors), model(**inputs))
    t_eager, t_lowered = forward_times(lambda: model(**inputs), lambda: net(**tensors), runs)
    return {
        "model": name,
        "ops": sum(1 for _ in graph.walk()) - 1,
        "nodes": nodes,
        "export": t_export,
        "convert": t_convert,
        "verify": t_verify,
        "diags": n_diags,
        "lower": t_lower,
        "eager": t_eager,
        "lowered": t_lowered,
        "ratio": t_lowered / t_eager,
        "err": err,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=names_from(_models().FACTORIES, "model"), default=list(DEFAULT_MODELS),
                   help="comma-separated factories of examples/models.py")
    p.add_argument("--runs", type=at_least(1), default=200, help="forward calls per module for the medians")
    p.add_argument("--threads", type=at_least(0), default=0, help="torch.set_num_threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [bench(name, args.runs) for name in args.models]

    def ms(v: float | None) -> str:
        return "n/a" if v is None else f"{v * 1e3:.1f}"

    head = f"{'model':<12} {'aten':>5} {'ops':>5} {'export ms':>10} {'convert ms':>11} {'ms/aten':>8} {'verify ms':>10} {'lower ms':>9} " \
           f"{'eager ms':>9} {'lowered ms':>11} {'ratio':>6} {'max rel err':>12}"
    print(head)
    print("-" * len(head))
    for r in rows:
        verify = ms(r["verify"]) + ("" if not r["diags"] else f" ({r['diags']}!)")
        per = (r["export"] + r["convert"]) / max(r["nodes"], 1)
        print(f"{r['model']:<12} {r['nodes']:>5} {r['ops']:>5} {ms(r['export']):>10} {ms(r['convert']):>11} {per * 1e3:>8.2f} {verify:>10} "
              f"{ms(r['lower']):>9} {r['eager'] * 1e3:>9.3f} {r['lowered'] * 1e3:>11.3f} {r['ratio']:>6.3f} {r['err']:>12.2e}")
    worst = max(r["ratio"] for r in rows)
    print(f"\nworst lowered/eager forward ratio: {worst:.3f} (target <= 1.02), median of {args.runs} interleaved calls, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    return 0 if worst <= 1.02 else 1


if __name__ == "__main__":
    raise SystemExit(main())
