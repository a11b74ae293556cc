"""``graphsynth-query``: graph queries from the command line, as text or JSON.

    graphsynth-query paths FILE --from A --to B [--parallel] [--limit N] [--json]
    graphsynth-query context FILE TARGET [--budget 2000] [--json]
    graphsynth-query cost FILE [--bind B=2,S=128] [--depth D] [--ops] [--json]
    graphsynth-query neighbours FILE TARGET [-k 1] [--direction up|down|both] [--json]
    graphsynth-query shape FILE TARGET [--json]
    graphsynth-query cone FILE [--json]

FILE is a .gs file ('-' reads stdin); ``--graph NAME`` picks a graph in a file that holds several.
Exit codes, as graphsynth-opt: 0 answered, 1 diagnostics (the file does not parse or verify, an
unknown value or module, no path, a budget too small), 2 usage or path (FILE cannot be read:
GS001, or is over ``--read-limit``: GS003), 130 interrupted (143 for SIGTERM).  With ``--json`` the answer goes
to stdout as one JSON object and diagnostics to stderr as a JSON list.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from graphsynth.diagnostics import GraphsynthError, render_all
from graphsynth.fileio import limited_reads, parse_size, read_bytes, run_tool

PROG = "graphsynth-query"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog="Targets: value names (%3, x, fc1.weight) or module paths (blocks.0); "
                                       "PATH:in / PATH:out pick one side of a module; 'return' is the graph's results.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("file", help="a .gs file ('-' for stdin)")
        sp.add_argument("--graph", default=None, help="the graph to query when the file holds several")
        sp.add_argument("--json", action="store_true", help="print the answer (and diagnostics) as JSON")
        sp.add_argument("--read-limit", type=_size, default=None, metavar="SIZE",
                        help="refuse files larger than this (e.g. 64M; default $GRAPHSYNTH_READ_LIMIT or 64M)")

    sp = sub.add_parser("paths", help="all paths, or the parallel branches, between two values or modules")
    common(sp)
    sp.add_argument("--from", dest="src", required=True, help="source value or module (a module: its outputs)")
    sp.add_argument("--to", dest="dst", required=True, help="destination value or module (a module: its inputs)")
    sp.add_argument("--parallel", action="store_true", help="branches that share no value between bottlenecks")
    sp.add_argument("--limit", type=_positive, default=100, help="at most this many paths (default 100)")

    sp = sub.add_parser("context", help="the IR slice for editing one module or op, within a token budget")
    common(sp)
    sp.add_argument("target", help="module path or op result")
    sp.add_argument("--budget", type=_positive, default=2000, help="token budget (default 2000)")

    sp = sub.add_parser("cost", help="parameters and FLOPs per module, symbolic and for given bindings")
    common(sp)
    sp.add_argument("--bind", type=_bindings, default=None, metavar="B=2,S=128", help="values for the symbols")
    sp.add_argument("--depth", type=int, default=None, help="only modules nested at most this deep")
    sp.add_argument("--ops", action="store_true", help="also list every op with its FLOP formula")

    sp = sub.add_parser("neighbours", aliases=["neighbors"], help="values within k ops of a value or module")
    common(sp)
    sp.add_argument("target", help="value or module")
    sp.add_argument("-k", type=_non_negative, default=1, help="hops (default 1)")
    sp.add_argument("--direction", choices=["up", "down", "both"], default="both", help="producers, consumers or both")
    sp.add_argument("--no-params", action="store_true", help="leave parameters out")

    sp = sub.add_parser("shape", help="the type of a value, or the interface of a module")
    common(sp)
    sp.add_argument("target", help="value, module, PATH:in or PATH:out")

    sp = sub.add_parser("cone", help="the values the graph's results depend on, and the dead ones")
    common(sp)
    return p


def _integer_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got '{text}'") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {v}")
        return v

    return parse


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_positive = _integer_at_least(1, "positive")
_non_negative = _integer_at_least(0, "non-negative")


def _bindings(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise argparse.ArgumentTypeError(f"expected NAME=INT pairs like B=2,S=128, got '{part}'")
        try:
            out[name] = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"binding {name}: '{value}' is not an integer") from None
    return out


def main(argv: Sequence[str] | None = None) -> int:
    fmt = {"value": "text"}

    def body() -> int:
        args = build_parser().parse_args(argv)  # usage errors exit 2 (argparse)
        fmt["value"] = "json" if args.json else "text"
        return _main(args)

    return run_tool(PROG, body, lambda: fmt["value"])


def _main(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else "text"
    try:
        with limited_reads(args.read_limit):
            module = _load(args.file)
        answer = run(args, module)
    except GraphsynthError as e:
        from graphsynth.fileio import FileError

        if isinstance(e, FileError):
            raise
        print(render_all(e.diagnostics, fmt), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer.to_dict() if hasattr(answer, "to_dict") else answer, indent=1))
    else:
        print(_text(args, answer))
    sys.stdout.flush()
    return 0


def _load(path: str) -> Any:
    from graphsynth.diagnostics import VerificationError
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    data = read_bytes(path)
    module = parse_ir(data, filename="<stdin>" if path == "-" else path)
    diags = verify(module)
    if diags:
        raise VerificationError(diags)
    return module


def run(args: argparse.Namespace, module: Any) -> Any:
    from graphsynth import query as q

    g = args.graph
    if args.command == "paths":
        return q.paths(module, args.src, args.dst, parallel=args.parallel, limit=args.limit, graph=g)
    if args.command == "context":
        return q.context(module, args.target, args.budget, graph=g)
    if args.command == "cost":
        report = q.cost(module, args.bind, graph=g)
        return report
    if args.command in ("neighbours", "neighbors"):
        return q.neighbours(module, args.target, args.k, args.direction, params=not args.no_params, graph=g)
    if args.command == "shape":
        return q.shape(module, args.target, graph=g)
    if args.command == "cone":
        return q.output_cone(module, graph=g)
    raise AssertionError(args.command)


def _text(args: argparse.Namespace, answer: Any) -> str:
    if args.command == "context":
        return answer.text.rstrip("\n") + f"\n// {answer.tokens} of {answer.budget} tokens ({answer.counter})"
    if args.command == "cost":
        out = answer.table(args.depth)
        if args.ops:
            rows = [f"{o.value:<8} {o.op:<14} {o.module or '<top>':<30} {o.formula}" for o in answer.ops]
            out += "\n\nper op:\n" + "\n".join(rows)
        return out
    if args.command == "shape" and not hasattr(answer, "render"):
        return f"{answer.name}: {answer.type}  ({answer.kind} in {answer.module or '<top>'})"
    return answer.render()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
