"""Start-up time: ``import graphsynth``, ``graphsynth-opt examples/mlp.gs`` and ``xdsl-opt`` on
an equivalent tiny MLIR file, each a fresh process, best of N, in the same run.

The load average is printed with the table: on a shared machine a busy neighbour moves every
figure, so compare rows of one run, not runs.  Each row is measured twice: with the environment as
it is (where ``PYTHONDONTWRITEBYTECODE`` is set, every start compiles graphsynth's sources again,
while installed packages such as xDSL ship compiled) and with bytecode cached (a warm-up run
writes it under a temporary ``PYTHONPYCACHEPREFIX``, as an ordinary install would have it).  ``--baseline DIR`` adds the same rows for another
checkout of graphsynth (its package directory put first on ``PYTHONPATH``).
Target: ``graphsynth-opt file.gs`` below ``xdsl-opt``'s own start-up.
Run: ``python bench/startup.py [--runs 9] [--baseline /path/to/other/checkout]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from argtypes import at_least

ROOT = Path(__file__).resolve().parents[1]

# The MLIR equivalent of examples/mlp.gs's size: a few ops of builtin/arith/func.
TINY_MLIR = """builtin.module {
  func.func @mlp(%x: f32, %w: f32, %b: f32) -> f32 {
    %0 = arith.mulf %x, %w : f32
    %1 = arith.addf %0, %b : f32
    %2 = arith.maximumf %1, %x : f32
    func.return %2 : f32
  }
}
"""


def best(cmd: list[str], runs: int, env: dict[str, str], cwd: Path, cache: str | None = None) -> float:
    """The fastest of ``runs`` wall-clock times of ``cmd``, in seconds (it must succeed); with
    ``cache``, bytecode is written under that directory by a first, unmeasured run."""
    if cache is not None:
        env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        subprocess.run(cmd, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=at_least(1), default=7, help="runs per row; the best is shown")
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout to measure in the same run")
    args = ap.parse_args(argv)
    xdsl_opt = shutil.which("xdsl-opt")
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        mlir = Path(tmp) / "tiny.mlir"
        mlir.write_text(TINY_MLIR)
        rows: list[tuple[str, float, float]] = []

        def row(label: str, cmd: list[str], env: dict[str, str]) -> None:
            cache = tempfile.mkdtemp(dir=tmp)
            rows.append((label, best(cmd, args.runs, env, Path(tmp)), best(cmd, args.runs, env, Path(tmp), cache)))

        for label, tree in trees:
            env = dict(os.environ, PYTHONPATH=str(tree))
            row(f"python -c 'import graphsynth' ({label})", [sys.executable, "-c", "import graphsynth"], env)
            # What the graphsynth-opt script runs, with this tree's package first on the path.
            cli = [sys.executable, "-c", "import sys; from graphsynth.cli import main; sys.exit(main())"]
            row(f"graphsynth-opt examples/mlp.gs ({label})", [*cli, str(ROOT / "examples" / "mlp.gs")], env)
        row("python -c 'pass'", [sys.executable, "-c", "pass"], dict(os.environ))
        if xdsl_opt:
            row("xdsl-opt tiny.mlir", [xdsl_opt, str(mlir)], dict(os.environ))
    load = os.getloadavg()
    print(f"best of {args.runs} runs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"PYTHONDONTWRITEBYTECODE is {'set' if os.environ.get('PYTHONDONTWRITEBYTECODE') else 'not set'} here")
    width = max(len(r[0]) for r in rows)
    print(f"{'command':<{width}}  as set (s)  cached .pyc (s)")
    for r, t, c in rows:
        print(f"{r:<{width}}  {t:10.3f}  {c:15.3f}")


if __name__ == "__main__":
    main()
