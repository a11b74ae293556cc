"""Re-record the example transcripts in this folder against the scripted Messages API server.

    python examples/llm/record_transcripts.py

The replies below are scripted (no model is called): each session shows the driver at work, with
a first attempt that is rejected by the parser, the verifier or the goal's checks and a second
one that is accepted.  They run through the real ``anthropic`` SDK and HTTP (the server is
``graphsynth.llm.fakeserver`` on 127.0.0.1), so the transcripts hold real request hashes, token
counts (estimated by the fake server, with prompt caching simulated) and latencies.  Run this
again when the prompt or the diagnostics change: replaying an old transcript then fails with
"asks a different question", by design.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))


MODEL = "claude-sonnet-4-6"  # only names the price list used for the cost estimate


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


SESSIONS: dict[str, dict] = {
    "insert_block": {
        "goal": "insert a LayerNorm block named norm between the modules encoder and head",
        "replies": [
            "I'll add a LayerNorm module after the activation and feed its output to the head.\n\n"
            + block(
                "%1: f32[B, 128] = relu(%0)",
                "%1: f32[B, 128] = relu(%0)\nmodule norm : LayerNorm {\n"
                "  %n: f32[B, 128] = layer_norm(%1, norm.weight, norm.bias, normalized_shape=[128])\n}",
            )
            + "\n\n"
            + block(
                "%2: f32[B, 10] = linear(%1, head.weight, head.bias)",
                "%2: f32[B, 10] = linear(%n, head.weight, head.bias)",
            ),
            "The parameters of the new module were not declared; here is the complete edit.\n\n"
            + block(
                "param head.bias: f32[10]",
                "param head.bias: f32[10]\nparam norm.weight: f32[128]\nparam norm.bias: f32[128]",
            )
            + "\n\n"
            + block(
                "%1: f32[B, 128] = relu(%0)",
                "%1: f32[B, 128] = relu(%0)\nmodule norm : LayerNorm {\n"
                "  %n: f32[B, 128] = layer_norm(%1, norm.weight, norm.bias, normalized_shape=[128])\n}",
            )
            + "\n\n"
            + block(
                "%2: f32[B, 10] = linear(%1, head.weight, head.bias)",
                "%2: f32[B, 10] = linear(%n, head.weight, head.bias)",
            ),
        ],
    },
    "replace_activation": {
        "goal": "replace every ReLU with GELU",
        "menu": "activations",
        "replies": [
            "CHOICE: replace all relu with gelu",
            "The first menu entry does exactly this.\nCHOICE: 1",
        ],
    },
    "replace_activation_free": {
        "goal": "replace every ReLU with GELU",
        "replies": [
            block("%1: f32[N, 16, H, W] = relu(%0)", "%1: f32[N, 16, H, W] = gelu(%0)")
            + "\n"
            + block("%3: f32[N, 32, H, H] = relu(%2)", "%3: f32[N, 32, H, W] = gelu(%2)")
            + "\n"
            + block("%7: f32[N, 10] = relu(%6)", "%7: f32[N, 10] = gelu(%6)"),
            block("%1: f32[N, 16, H, W] = relu(%0)", "%1: f32[N, 16, H, W] = gelu(%0)")
            + "\n"
            + block("%3: f32[N, 32, H, W] = relu(%2)", "%3: f32[N, 32, H, W] = gelu(%2)")
            + "\n"
            + block("%7: f32[N, 10] = relu(%6)", "%7: f32[N, 10] = gelu(%6)"),
        ],
    },
    "reduce_params": {
        "goal": "reduce the number of parameters by at least 4x while keeping the interface",
        "replies": [
            "Shrinking the hidden width from 512 to 192 cuts the parameters about 4.5x.\n\n"
            + block(
                "param fc1.weight: f32[512, 256]\nparam fc1.bias: f32[512]\nparam fc2.weight: f32[512, 512]\n"
                "param fc2.bias: f32[512]\nparam fc3.weight: f32[16, 512]",
                "param fc1.weight: f32[192, 256]\nparam fc1.bias: f32[192]\nparam fc2.weight: f32[192, 192]\n"
                "param fc2.bias: f32[192]\nparam fc3.weight: f32[16, 192]",
            )
            + "\n"
            + block(
                "%0: f32[B, 512] = linear(x, fc1.weight, fc1.bias)\n}\n%1: f32[B, 512] = gelu(%0)",
                "%0: f32[B, 192] = linear(x, fc1.weight, fc1.bias)\n}\n%1: f32[B, 192] = gelu(%0)",
            ),
            "I missed the types of %2 and %3.\n\n"
            + block(
                "param fc1.weight: f32[512, 256]\nparam fc1.bias: f32[512]\nparam fc2.weight: f32[512, 512]\n"
                "param fc2.bias: f32[512]\nparam fc3.weight: f32[16, 512]",
                "param fc1.weight: f32[192, 256]\nparam fc1.bias: f32[192]\nparam fc2.weight: f32[192, 192]\n"
                "param fc2.bias: f32[192]\nparam fc3.weight: f32[16, 192]",
            )
            + "\n"
            + block(
                "%0: f32[B, 512] = linear(x, fc1.weight, fc1.bias)\n}\n%1: f32[B, 512] = gelu(%0)",
                "%0: f32[B, 192] = linear(x, fc1.weight, fc1.bias)\n}\n%1: f32[B, 192] = gelu(%0)",
            )
            + "\n"
            + block(
                "%2: f32[B, 512] = linear(%1, fc2.weight, fc2.bias)\n}\n%3: f32[B, 512] = gelu(%2)",
                "%2: f32[B, 192] = linear(%1, fc2.weight, fc2.bias)\n}\n%3: f32[B, 192] = gelu(%2)",
            ),
        ],
    },
    "make_residual": {
        "goal": "make the block blocks.0 residual: add its input to its output",
        "replies": [
            block("%3: f32[B, S, 64] = gelu(%2)", "%3: f32[B, S, 64] = gelu(%2)\n%r: f32[B, S, 64] = add(x, %3)")
            + "\n"
            + block("%4: f32[B, S, 32] = linear(%3, out.weight)", "%4: f32[B, S, 32] = linear(%r, out.weight)"),
            "The block's input is %0 (the projection), not the graph input.\n\n"
            + block("%3: f32[B, S, 64] = gelu(%2)", "%3: f32[B, S, 64] = gelu(%2)\n%r: f32[B, S, 64] = add(%0, %3)")
            + "\n"
            + block("%4: f32[B, S, 32] = linear(%3, out.weight)", "%4: f32[B, S, 32] = linear(%r, out.weight)"),
        ],
    },
    "fold_scales": {
        "goal": "[preserve-semantics] fold the two consecutive scalings of x into one multiplication",
        "replies": [
            block("%0: f32[B, 8] = mul(x, 0.5)\n%1: f32[B, 8] = mul(%0, 3.0)", "%1: f32[B, 8] = mul(x, 3.5)"),
            "0.5 * 3.0 is 1.5, not 3.5.\n\n"
            + block("%0: f32[B, 8] = mul(x, 0.5)\n%1: f32[B, 8] = mul(%0, 3.0)", "%1: f32[B, 8] = mul(x, 1.5)"),
        ],
    },
}


def input_of(name: str) -> Path:
    return HERE / (name.removesuffix("_free") + ".gs")


def record(name: str) -> object:
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.llm import AnthropicProposer, menu_source, rewrite
    from graphsynth.llm.fakeserver import FakeServer, reply

    spec = SESSIONS[name]
    src = input_of(name)
    module = parse_ir(src.read_text(), filename=src.name)
    menu = spec.get("menu", "")
    with FakeServer([reply(r) for r in spec["replies"]]) as srv:
        proposer = AnthropicProposer(model=MODEL, base_url=srv.url, timeout=10.0, max_retries=1)
        return rewrite(
            module,
            spec["goal"],
            proposer,
            attempts=4,
            transcript=str(HERE / f"{name}.jsonl"),
            menu=menu_source(menu) if menu else None,
            menu_source=menu,
        )


def main() -> int:
    from graphsynth.llm import summary_table

    os.environ.setdefault("ANTHROPIC_API_KEY", "scripted-session-no-key-needed")
    results = [record(name) for name in SESSIONS]
    print(summary_table(results))
    return 0 if all(r.accepted for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
