"""How many single-fault mutations of the shipped examples ``--apply-fixes`` repairs.

    python bench/fixits.py [--per-kind N] [--seed S]

Every ``.gs`` file under examples/ (and examples/llm/) is mutated one fault at a time
(graphsynth.testing.faults: one dim changed, one attribute integer changed, one declaration
dropped, one use renamed to a typo); the mutants that no longer verify are repaired with
:func:`graphsynth.fixes.repair` (what ``graphsynth-opt --apply-fixes`` runs).  The table gives,
per fault kind, the mutants, how many came back verifying, how many were left as they were (no
machine-applicable repair: an ambiguous one, or a change of the graph's signature, which is only
suggested), the rounds and the time per repair.  Target: at least 80% repaired in all; no repair
may make a text worse (checked; a violation fails the run), and valid examples come back
unchanged.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from argtypes import at_least

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 0.80


def main(argv: list[str] | None = None) -> int:
    from graphsynth.fixes import check_text, repair
    from graphsynth.testing.faults import KINDS, faults

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-kind", type=at_least(1), default=None, help="a seeded sample of N mutants per kind and file (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    paths = sorted([*ROOT.glob("examples/*.gs"), *ROOT.glob("examples/llm/*.gs")])
    rows: dict[str, dict[str, list]] = {k: defaultdict(list) for k in KINDS}
    worse = 0
    for path in paths:
        text = path.read_text()
        if repair(text, str(path)).changed:
            print(f"error: {path} verifies but was changed", file=sys.stderr)
            return 1
        for f in faults(text, seed=args.seed, per_kind=args.per_kind):
            before = check_text(f.text, "mutant.gs")
            t = time.perf_counter()
            r = repair(f.text, "mutant.gs", checked=before)
            dt = time.perf_counter() - t
            row = rows[f.kind]
            row["n"].append(1)
            row["ok"].append(r.ok)
            row["untouched"].append(not r.changed)
            row["rounds"].append(r.rounds)
            row["ms"].append(dt * 1000)
            if r.checked.score() > before.score():
                worse += 1
                print(f"error: {path.name}: {f.description}: the repair made the text worse", file=sys.stderr)
    print(f"== --apply-fixes on single-fault mutations of {len(paths)} examples ==")
    print(f"{'fault kind':<10} {'mutants':>7} {'repaired':>9} {'rate':>6} {'untouched':>9} {'rounds':>6} {'ms/repair':>10}")
    total = ok = 0
    for k in KINDS:
        row = rows[k]
        n = len(row["n"])
        if not n:
            continue
        good = sum(row["ok"])
        total += n
        ok += good
        print(f"{k:<10} {n:>7} {good:>9} {good / n:>6.1%} {sum(row['untouched']):>9} "
              f"{statistics.mean(row['rounds']):>6.2f} {statistics.median(row['ms']):>10.1f}")
    rate = ok / total if total else 0.0
    print(f"{'all':<10} {total:>7} {ok:>9} {rate:>6.1%}   target >= {TARGET:.0%}: {'ok' if rate >= TARGET else 'MISSED'}; "
          f"texts made worse: {worse}")
    return 0 if rate >= TARGET and worse == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
