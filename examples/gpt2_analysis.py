"""Graph queries and gradient analysis of GPT-2, from one script.

    python examples/gpt2_analysis.py [OUT_DIR] [--tiny] [--layers N] [--block I]

GPT-2 small (12 layers, 768 wide, 50257-token vocabulary; random weights, nothing downloaded;
one to two minutes on two CPU cores), or with ``--tiny`` a 2-layer, 64-wide one (seconds):

1. import it (batch and sequence length symbolic), lower it to torch and load the weights;
2. the parallel paths across one transformer block, from the value entering it to the value
   leaving it (the residual branch and the attention/MLP branches): ``graphsynth.query.paths``;
3. the context slice an LLM would get to edit that block, under a 2,000-token budget:
   ``graphsynth.query.context``;
4. one instrumented forward/backward with a next-token cross-entropy loss, then the gradient
   norm per block, the parameters whose gradients vanish or explode, and the weakest (and
   strongest) gradient path from the block to the loss: ``graphsynth.grad``;
5. pictures in OUT_DIR (default: a fresh temporary directory): the graph folded to blocks
   with edges coloured and sized by gradient norm, and a bar chart of gradient norm per module.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from models import gpt2

import graphsynth as gs
import graphsynth.query as query
from graphsynth import grad
from graphsynth.backend.lower import tie_shared_parameters

SMALL = dict(layers=12, hidden=768, heads=12, vocab=50257, positions=1024, batch=2, seq=16)
TINY = dict(layers=2, hidden=64, heads=4, vocab=128, positions=64, batch=2, seq=8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", help="directory for the pictures (default: a new temporary directory)")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer, 64-wide GPT-2 instead of GPT-2 small")
    ap.add_argument("--layers", type=int, help="override the number of blocks")
    ap.add_argument("--block", type=int, default=0, help="the block to look at (default 0)")
    args = ap.parse_args(argv)
    cfg = dict(TINY if args.tiny else SMALL)
    if args.layers:
        cfg["layers"] = args.layers
    if not 0 <= args.block < cfg["layers"]:
        ap.error(f"--block must be in [0, {cfg['layers']})")
    out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gpt2_analysis_"))
    out_dir.mkdir(parents=True, exist_ok=True)

    # 1. Import, lower, load the weights (and re-tie lm_head to the token embedding).
    t0 = time.perf_counter()
    model, inputs, dynamic_dims = gpt2(**cfg)
    module = gs.import_torch(model, inputs, dynamic_dims)
    net = gs.lower(module)
    net.load_state_dict(model.state_dict())
    tie_shared_parameters(net, model)
    print(f"GPT-2 {cfg['layers']} layers x {cfg['hidden']} wide: imported and lowered in "
          f"{time.perf_counter() - t0:.1f} s")

    rec = grad.instrument(net, module)
    block = f"transformer.h.{args.block}"

    # 2. Parallel paths across the block (from the value entering it to the value leaving it).
    paths = query.paths(module, block, block, parallel=True)
    print(f"\n== parallel paths across {block} ==")
    print(paths.render())

    # 3. The context slice for editing the block, within 2,000 tokens.
    ctx = query.context(module, block, 2000)
    print(f"\n== context for {block} under a 2,000-token budget: {ctx.tokens} tokens, "
          f"{len(ctx.text.splitlines())} lines ==")
    print(ctx.text)

    # 4. One forward/backward with a next-token loss.
    ids = inputs["input_ids"]
    t0 = time.perf_counter()
    logits = net(ids)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    loss.backward()
    print(f"\n== gradients (loss {loss.item():.4f}; instrumented forward+backward "
          f"{time.perf_counter() - t0:.2f} s) ==")
    norms = rec.grad_norms()
    print("gradient norm per block (L2 over the gradients of every value computed in the block):")
    for i in range(cfg["layers"]):
        print(f"  transformer.h.{i:<3} {norms[f'transformer.h.{i}']:.4e}")
    vanishing, exploding = rec.vanishing_params(1e-6), rec.exploding_params(1e3)
    print(f"parameters with vanishing gradients (< 1e-6): {len(vanishing)}"
          + "".join(f"\n  {k} {g:.2e}" for k, g in vanishing[:5]))
    print(f"parameters with exploding gradients (> 1e3): {len(exploding)}"
          + "".join(f"\n  {k} {g:.2e}" for k, g in exploding[:5]))

    t0 = time.perf_counter()
    weakest = rec.weakest_path(block, "loss")
    strongest = rec.strongest_path(block, "loss")
    print(f"\n== gradient paths from {block} to the loss ({time.perf_counter() - t0:.1f} s) ==")
    print(weakest.describe(depth=3))  # steps grouped by module, three levels deep
    print(strongest.describe(depth=3))

    # 5. Pictures.
    graph_file = rec.render(out_dir / "gpt2_gradients.svg", depth=1 if cfg["layers"] > 4 else 2)
    bars_file = rec.render_bars(out_dir / "gpt2_grad_norms.png", depth=3)
    print(f"\npictures: {graph_file}\n          {bars_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
