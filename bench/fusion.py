"""Fused elementwise regions: eager vs lowered vs lowered with Triton fusion vs torch.compile.

For three workloads -- a GPT-2 block (transformers' GPT2Block), a ResNet basic block (ResNetBasicLayer),
and a synthetic elementwise-heavy block (a chain of a dozen pointwise ops over two large inputs) --
this imports the module with ``graphsynth.import_torch``, runs ``fuse-elementwise`` and times, in
one run and interleaved, the forward (no_grad) of:

- ``eager``: the source module;
- ``lowered``: ``graphsynth.lower(m)`` (regions inlined, one torch op per gs op);
- ``lowered+triton``: ``graphsynth.lower(run_pipeline(m, "fuse-elementwise"), fusion="triton")``;
- ``torch.compile``: ``torch.compile(model)`` (n/a, with the reason, when it fails or is skipped).

Ratios are eager time / variant time (above 1: faster than eager).  Each fused output is checked
against eager (max abs difference).  On CUDA the fused regions run as generated Triton kernels and
each kernel is also timed alone (``triton.testing.do_bench``) and its achieved bandwidth (bytes of
its operands and results / time) compared with a device-to-device copy (``torch.clone``) of the same
number of bytes, measured in the same run; the issue's GPU targets are printed with the verdicts.
On a machine with no CUDA device (and no ``TRITON_INTERPRET``) no kernel can run, so the regions
are inlined at lowering and ``lowered+triton`` is the plain lowering; the table says so.

    python bench/fusion.py --quick              # CPU, small sizes, no torch.compile (~1 min)
    python bench/fusion.py                      # CUDA when available (sizes for a real GPU)
    python bench/fusion.py --compile on --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from argtypes import at_least, names_from
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
for _p in (str(ROOT), str(ROOT / "examples")):
    if _p not in sys.path:
        sys.path.insert(0, _p)


# -- workloads ------------------------------------------------------------------------------------


class ElementwiseBlock(nn.Module):
    """A pointwise-only block: eager runs one kernel per op, a fused region reads x and y once."""

    def __init__(self, d: int):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.scale = nn.Parameter(1 + 0.1 * torch.randn(d, generator=g))
        self.shift = nn.Parameter(0.1 * torch.randn(d, generator=g))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = x * self.scale + self.shift
        g = F.gelu(h, approximate="tanh")
        z = g * torch.sigmoid(y) + y * 0.5
        z = torch.where(z > 0, z, z * 0.01)
        z = torch.clamp(z, -3.0, 3.0)
        return z * torch.rsqrt(1.0 + z * z) + x


@dataclass
class Workload:
    name: str
    model: nn.Module
    example: tuple[torch.Tensor, ...]  # small, for import (CPU)
    dynamic: dict[str, Any]
    inputs: tuple[torch.Tensor, ...]  # the timed inputs (on the device)


SIZES = {
    # name: (quick, cpu, cuda)
    "gpt2": ({"hidden": 64, "heads": 4, "batch": 2, "seq": 16}, {"hidden": 256, "heads": 4, "batch": 4, "seq": 128},
             {"hidden": 768, "heads": 12, "batch": 8, "seq": 512}),
    "resnet": ({"channels": 16, "hw": 16, "batch": 2}, {"channels": 64, "hw": 32, "batch": 8},
               {"channels": 64, "hw": 56, "batch": 32}),
    "elementwise": ({"rows": 256, "cols": 256}, {"rows": 2048, "cols": 1024}, {"rows": 8192, "cols": 4096}),
}


def workloads(size_index: int, device: torch.device, dtype: torch.dtype) -> list[Workload]:
    import transformers

    transformers.logging.set_verbosity_error()
    g = torch.Generator().manual_seed(0)
    out = []

    s = SIZES["gpt2"][size_index]
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_embd=s["hidden"], n_head=s["heads"], n_positions=max(64, s["seq"]))
    block = transformers.GPT2LMHeadModel._from_config(cfg).eval().transformer.h[0]
    out.append(Workload("gpt2-block", block, (torch.randn(2, 8, s["hidden"], generator=g),),
                        {"hidden_states": {0: "B", 1: "S"}},
                        (torch.randn(s["batch"], s["seq"], s["hidden"], generator=g),)))

    s = SIZES["resnet"][size_index]
    cfg = transformers.ResNetConfig(embedding_size=s["channels"], hidden_sizes=[s["channels"]], depths=[1],
                                    layer_type="basic")
    layer = transformers.ResNetModel._from_config(cfg).eval().encoder.stages[0].layers[0]
    out.append(Workload("resnet-block", layer, (torch.randn(2, s["channels"], s["hw"], s["hw"], generator=g),),
                        {"hidden_state": {0: "B"}},
                        (torch.randn(s["batch"], s["channels"], s["hw"], s["hw"], generator=g),)))

    s = SIZES["elementwise"][size_index]
    ew = ElementwiseBlock(s["cols"]).eval()
    out.append(Workload("elementwise", ew, (torch.randn(2, s["cols"], generator=g), torch.randn(2, s["cols"], generator=g)),
                        {"x": {0: "N"}, "y": {0: "N"}},
                        (torch.randn(s["rows"], s["cols"], generator=g), torch.randn(s["rows"], s["cols"], generator=g))))
    for w in out:
        w.inputs = tuple(t.to(device=device, dtype=dtype) for t in w.inputs)
    return out


# -- timing ---------------------------------------------------------------------------------------


def first_tensor(x: Any) -> torch.Tensor:
    while isinstance(x, (tuple, list)):
        x = x[0]
    return x


def median_times(fns: dict[str, Any], runs: int, device: torch.device) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved (round robin, rotating order)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    names = list(fns)
    samples: dict[str, list[float]] = {n: [] for n in names}
    with torch.no_grad():
        for n in names:  # warm up (compiles, caches, allocator)
            for _ in range(3):
                fns[n]()
        sync()
        for i in range(runs):
            order = names[i % len(names):] + names[: i % len(names)]
            for n in order:
                sync()
                t = time.perf_counter()
                fns[n]()
                sync()
                samples[n].append(time.perf_counter() - t)
    return {n: statistics.median(v) for n, v in samples.items()}


@dataclass
class Row:
    workload: str
    variant: str
    seconds: float | None
    ratio: float | None = None
    max_diff: float | None = None
    note: str = ""


@dataclass
class KernelRow:
    workload: str
    region: str
    ops: str
    nbytes: int
    seconds: float
    gbps: float
    copy_gbps: float
    ratio: float


@dataclass
class Results:
    device: str
    rows: list[Row] = field(default_factory=list)
    kernels: list[KernelRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- one workload ---------------------------------------------------------------------------------


def try_compile(model: nn.Module, inputs: tuple[torch.Tensor, ...], mode: str) -> tuple[Any, str]:
    if mode == "off":
        return None, "skipped (--compile off)"
    if mode == "quick":
        return None, "skipped on CPU with --quick (compiling takes ~40 s per model here; add --compile on)"
    try:
        compiled = torch.compile(model)
        t = time.perf_counter()
        with torch.no_grad():
            compiled(*inputs)
        return compiled, f"compiled in {time.perf_counter() - t:.0f} s"
    except Exception as e:  # noqa: BLE001 - a missing compiler, an inductor bug...: report, go on
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return None, f"failed: {type(e).__name__}: {msg[:120]}"


def run_workload(w: Workload, args: argparse.Namespace, device: torch.device, res: Results) -> None:
    import graphsynth as gs
    from graphsynth.backend import triton as gt
    from graphsynth.pipeline import all_passes

    # Import on the CPU with small examples (the IR is device-free; the timed dims are symbols).
    t = time.perf_counter()
    module = gs.import_torch(w.model.to(dtype=args.torch_dtype), tuple(x.to(args.torch_dtype) for x in w.example),
                             w.dynamic)
    t_import = time.perf_counter() - t
    model = w.model.to(device=device)
    state = model.state_dict()

    lowered = gs.lower(module)
    lowered.load_state_dict(state)
    lowered.to(device=device)

    fns: dict[str, Any] = {"eager": lambda: model(*w.inputs), "lowered": lambda: lowered(*w.inputs)}
    fused_note = ""
    fused = None
    if "fuse-elementwise" in all_passes():
        fused_module = gs.run_pipeline(module, f"fuse-elementwise{{max-ops={args.max_ops}}}")
        fused = gs.lower(fused_module, fusion="triton")
        fused.load_state_dict(state)
        fused.to(device=device)
        fns["lowered+triton"] = lambda: fused(*w.inputs)
    else:
        fused_note = "fuse-elementwise is not registered: fusion skipped"
        res.notes.append(f"{w.name}: {fused_note}")
    compiled, compile_note = try_compile(model, w.inputs, args.compile)
    if compiled is not None:
        fns["torch.compile"] = lambda: compiled(*w.inputs)

    with torch.no_grad():
        expected = first_tensor(model(*w.inputs)).float()
        diffs = {n: (first_tensor(fn()).float() - expected).abs().max().item() for n, fn in fns.items() if n != "eager"}
    times = median_times(fns, args.runs, device)
    eager = times["eager"]
    res.rows.append(Row(w.name, "eager", eager, 1.0, None, f"import {t_import:.1f} s"))
    res.rows.append(Row(w.name, "lowered", times["lowered"], eager / times["lowered"], diffs["lowered"]))
    if fused is not None:
        report = gt.fusion_report(fused)
        paths = sorted({r["last_path"] or "not run" for r in report})
        compiled_n = sum(r["compiled"] for r in report)
        if not report:
            fused_note = "no region formed"
        elif all(r["last_path"] == "inlined" for r in report):
            fused_note = f"{len(report)} region(s) inlined ({report[0]['reason']}): the plain lowering"
        elif device.type == "cuda":
            fused_note = f"{len(report)} regions, {compiled_n} Triton kernels; ran: {', '.join(paths)}"
        else:
            fused_note = f"{len(report)} regions, torch fallback on CPU (no kernels run)"
        res.rows.append(Row(w.name, "lowered+triton", times["lowered+triton"], eager / times["lowered+triton"],
                            diffs["lowered+triton"], fused_note))
    else:
        res.rows.append(Row(w.name, "lowered+triton", None, None, None, fused_note))
    if compiled is not None:
        res.rows.append(Row(w.name, "torch.compile", times["torch.compile"], eager / times["torch.compile"],
                            diffs["torch.compile"], compile_note))
    else:
        res.rows.append(Row(w.name, "torch.compile", None, None, None, f"n/a: {compile_note}"))
    if fused is not None and device.type == "cuda":
        kernel_bandwidth(w, fused, res)


def kernel_bandwidth(w: Workload, fused: nn.Module, res: Results) -> None:
    """Each fused region's kernel alone, against a clone of the same number of bytes."""
    import triton.testing

    from graphsynth.backend import triton as gt

    captured: dict[str, tuple[torch.Tensor, ...]] = {}
    hooks = []
    for name, m in fused.named_modules():
        if isinstance(m, gt.FusedRegion) and m.kernel is not None:
            hooks.append(m.register_forward_pre_hook(lambda mod, inp, name=name: captured.setdefault(name, tuple(inp))))
    with torch.no_grad():
        fused(*w.inputs)
    for h in hooks:
        h.remove()
    for name, inputs in captured.items():
        region = fused.get_submodule(name)
        kernel = region.kernel
        plan = kernel.plan(inputs, False)
        if isinstance(plan, str):
            res.notes.append(f"{w.name} {name}: not launched ({plan})")
            continue
        outs = kernel.launch(plan, inputs, False)
        nbytes = sum(t.numel() * t.element_size() for t in inputs) + sum(o.numel() * o.element_size() for o in outs)
        ms = triton.testing.do_bench(lambda k=kernel, p=plan, i=inputs: k.launch(p, i, False))
        src = torch.empty(max(1, nbytes // 2), dtype=torch.uint8, device=inputs[0].device)
        copy_ms = triton.testing.do_bench(lambda s=src: s.clone())
        gbps = nbytes / (ms * 1e-3) / 1e9
        copy_gbps = 2 * src.numel() / (copy_ms * 1e-3) / 1e9
        res.kernels.append(KernelRow(w.name, name, ",".join(region.ops), nbytes, ms * 1e-3, gbps, copy_gbps,
                                     gbps / copy_gbps))


# -- output ---------------------------------------------------------------------------------------


def fmt_time(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s * 1e3:.3f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"


def print_results(res: Results, device: torch.device) -> None:
    print(f"\ndevice: {res.device}")
    head = f"{'workload':<14} {'variant':<16} {'time/call':>11} {'vs eager':>9} {'max|diff|':>10}  note"
    print(head)
    print("-" * len(head))
    last = None
    for r in res.rows:
        name = r.workload if r.workload != last else ""
        last = r.workload
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "n/a"
        diff = f"{r.max_diff:.1e}" if r.max_diff is not None else ""
        print(f"{name:<14} {r.variant:<16} {fmt_time(r.seconds):>11} {ratio:>9} {diff:>10}  {r.note}")
    if device.type != "cuda":
        print("\nCPU: with no CUDA device no kernel can run, so 'lowered+triton' inlines the fused regions (the "
              "plain lowering); the Triton kernels run only on CUDA (or, very slowly, in Triton's interpreter "
              "with TRITON_INTERPRET=1, which the tests use as an oracle). GPU targets not evaluated.")
    if res.kernels:
        print(f"\n{'workload':<14} {'region':<14} {'MB moved':>9} {'time':>10} {'GB/s':>8} {'copy GB/s':>10} "
              f"{'of copy':>8}  ops")
        for k in res.kernels:
            print(f"{k.workload:<14} {k.region:<14} {k.nbytes / 1e6:>9.1f} {fmt_time(k.seconds):>10} {k.gbps:>8.0f} "
                  f"{k.copy_gbps:>10.0f} {k.ratio:>7.0%}  {k.ops}")
        verdicts(res)
    for n in res.notes:
        print(f"note: {n}")


def verdicts(res: Results) -> None:
    """The GPU targets of the issue, with what this run measured."""
    by = {(r.workload, r.variant): r for r in res.rows}
    ew_fused, ew_compile = by.get(("elementwise", "lowered+triton")), by.get(("elementwise", "torch.compile"))
    print()
    if ew_fused and ew_fused.ratio is not None:
        ok = ew_fused.ratio >= 2.0
        print(f"target: fused elementwise chain >= 2x faster than eager: {ew_fused.ratio:.2f}x -> "
              f"{'met' if ok else 'NOT met'}")
        if ew_compile and ew_compile.seconds is not None and ew_fused.seconds is not None:
            rel = ew_fused.seconds / ew_compile.seconds
            print(f"target: within 1.1x of torch.compile: {rel:.2f}x of its time -> {'met' if rel <= 1.1 else 'NOT met'}")
    worst = min(res.kernels, key=lambda k: k.ratio)
    print(f"target: every fused kernel >= 80% of copy bandwidth: worst {worst.ratio:.0%} ({worst.workload} "
          f"{worst.region}, {worst.nbytes / 1e6:.1f} MB) -> {'met' if worst.ratio >= 0.8 else 'NOT met'}")


WORKLOADS = ("gpt2-block", "resnet-block", "elementwise")


def max_ops(text: str) -> int:
    """0 (no limit) or at least 2: fuse-elementwise's regions have min-ops=2 ops or more."""
    v = at_least(0)(text)
    if v == 1:
        raise argparse.ArgumentTypeError("a fused region has at least 2 ops: use 0 (no limit) or 2 or more")
    return v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few runs, no torch.compile on CPU")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ap.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32")
    ap.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                    help="torch.compile: auto = on, except on CPU with --quick")
    ap.add_argument("--runs", type=at_least(1), default=None, help="timed calls per variant (median)")
    ap.add_argument("--max-ops", type=max_ops, default=0, help="fuse-elementwise{max-ops=N} (0: no limit; a region has 2 ops or more)")
    ap.add_argument("--workloads", type=names_from(WORKLOADS, "workload"), default=list(WORKLOADS))
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON (atomically)")
    ap.add_argument("--threads", type=at_least(1), default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args(argv)
    if args.json is not None:
        from graphsynth.fileio import FileError, check_writable

        try:
            check_writable(args.json)  # before minutes of measuring, not after
        except FileError as e:
            print(e.render(), file=sys.stderr)
            return 2
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    args.torch_dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    if args.runs is None:
        args.runs = 10 if args.quick else (200 if device.type == "cuda" else 30)
    size_index = 0 if args.quick else (2 if device.type == "cuda" else 1)
    if args.compile == "auto":
        args.compile = "quick" if args.quick and device.type == "cpu" else "on"
    if os.environ.get("TRITON_INTERPRET") and device.type == "cpu":
        print("note: TRITON_INTERPRET is set: on CPU the fused variant times Triton's interpreter, not a kernel")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    res = Results(f"{name}, torch {torch.__version__}, {args.dtype}")
    wanted = set(args.workloads)
    for w in workloads(size_index, device, args.torch_dtype):
        if w.name in wanted:
            t = time.perf_counter()
            run_workload(w, args, device, res)
            print(f"[{w.name}: {time.perf_counter() - t:.0f} s]", file=sys.stderr)
    print_results(res, device)
    if args.json:
        from graphsynth.fileio import write_atomic

        write_atomic(args.json, json.dumps({"device": res.device, "rows": [r.__dict__ for r in res.rows],
                                            "kernels": [k.__dict__ for k in res.kernels], "notes": res.notes}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
