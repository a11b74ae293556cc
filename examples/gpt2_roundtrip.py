"""Import GPT-2, look at it, lower it back to torch and check it against the original.

    python examples/gpt2_roundtrip.py

The check a user would run before trusting a compiler with a model:

1. import a small GPT-2 (random weights, nothing downloaded) with batch and sequence length
   dynamic: they become the symbols ``B`` and ``S`` of every type in the IR;
2. print the first two levels of its module hierarchy (deeper modules are folded to one line);
3. verify it, and check that the text form round-trips (print -> parse -> print);
4. lower it to a torch module, load the original ``state_dict`` into it, and compare logits
   on fresh inputs at several (batch, sequence) sizes the export never saw.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import fresh_inputs, gpt2

import graphsynth as gs

SIZES = [{"B": 1, "S": 1}, {"B": 2, "S": 7}, {"B": 3, "S": 16}, {"B": 1, "S": 64}]


def main() -> int:
    model, inputs, dynamic_dims = gpt2()
    module = gs.import_torch(model, inputs, dynamic_dims)

    print("== GPT-2, two levels of the hierarchy ==")
    print(gs.print_ir(module, depth=2))

    diags = gs.verify(module)
    if diags:
        print("\n".join(d.render() for d in diags))
        return 1
    text = gs.print_ir(module)
    assert gs.print_ir(gs.parse_ir(text, filename="gpt2.gs")) == text, "text form does not round-trip"
    print(f"verified; {len(text.splitlines())} lines of IR round-trip through text")

    net = gs.lower(module)
    net.load_state_dict(model.state_dict())
    worst = 0.0
    print("\n== lowered vs original (logits) ==")
    for i, sizes in enumerate(SIZES):
        fresh = fresh_inputs(inputs, sizes, dynamic_dims, seed=i + 1)
        with torch.no_grad():
            (want,) = model(**fresh)
            got = net(fresh["input_ids"])
        err = ((got - want).abs().max() / want.abs().max()).item()
        worst = max(worst, err)
        print(f"B={sizes['B']:<2} S={sizes['S']:<3} logits {tuple(got.shape)}  max relative error {err:.2e}")
    ok = worst <= 1e-5
    print("OK: the lowered module matches GPT-2" if ok else f"MISMATCH: max relative error {worst:.2e} > 1e-5")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
