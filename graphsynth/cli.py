"""``graphsynth-opt``: read IR, run a pass pipeline, verify, print — the mlir-opt of gs IR.

Exit codes: 0 ok, 1 diagnostics (the input or a pass is at fault), 2 usage or path (a bad
command line; an input that cannot be read, GS001, or is over the read limit, GS003; an output
that cannot be written, GS002), 130 interrupted by Ctrl-C (143 by SIGTERM; GS004, one line).

Files: every input is read through :mod:`graphsynth.fileio` (capped at ``--read-limit``), and
``-o FILE`` is written atomically (a temporary file beside it, renamed over it) and only when
the run reported no error: a failed run, a failing ``--split-input-file`` chunk, an interrupt or a
full disk leave FILE as it was.  ``-o`` may name the input: the input is read whole first.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error, render_all
from graphsynth.expected import check_expected
from graphsynth.fileio import (
    FileError,
    check_writable,
    exit_code,
    limited_reads,
    parse_size,
    read_bytes,
    report,
    run_tool,
    write_atomic,
)
from graphsynth.plugins import PluginError, load_pass_plugins
from graphsynth.timing import Timer

PROG = "graphsynth-opt"
SPLIT_MARKER = re.compile(r"^// -----[ \t\r]*$", re.M)  # not \s*: the next lines keep their numbers


class UsageError(Exception):
    """Bad command line: exit code 2."""


def _epilog() -> str:
    from graphsynth.passes.registry import pass_options, pass_summary
    from graphsynth.pipeline import all_passes

    table = all_passes()
    lines = ["passes (use with -p, options in MLIR syntax: name{opt=value other=value}):"]
    for name in sorted(table):
        lines.append(f"  {name:<22} {pass_summary(name, table)}")
        lines.extend(f"    {option}" for option in pass_options(name, table))
    return "\n".join(lines)


class _ArgumentParser(argparse.ArgumentParser):
    """Lists the registered passes in ``--help`` only: loading every pass costs start-up time
    that a plain run does not need."""

    def format_help(self) -> str:
        self.epilog = _epilog()
        return super().format_help()


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(
        prog=PROG,
        description="Read gs IR (text form or MLIR generic form), run a pass pipeline, verify and print it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", nargs="?", default=None, help="input file (.gs or .mlir); '-' or nothing reads stdin")
    p.add_argument("-p", "--passes", default="", help="pass pipeline, e.g. 'canonicalize,cse'")
    p.add_argument("-o", "--output", default="-", help="output file, written atomically and only when the run has no error (default stdout)")
    p.add_argument("--emit", choices=["gs", "mlir", "python"], default="gs", help="output form")
    p.add_argument("--input-format", "--input", dest="input_format", choices=["gs", "mlir"], default=None, help="input form (default: by extension)")
    p.add_argument("--depth", type=int, default=None, help="fold modules nested deeper than this when printing gs")
    p.add_argument("--split-input-file", action="store_true", help="process chunks separated by '// -----' independently")
    p.add_argument("--verify-diagnostics", action="store_true", help="check '// expected-error@+N {{...}}' comments against the diagnostics")
    p.add_argument("--diagnostics", choices=["text", "json"], default="text", help="diagnostic format on stderr")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass (to stderr)")
    p.add_argument("--print-ir-diff", action="store_true", help="with --print-ir-after-all: print a unified diff per pass")
    p.add_argument("--list-ops", action="store_true", help="list the ops of the gs dialect with their signatures")
    p.add_argument("--apply-fixes", action="store_true", help="apply machine-applicable fix-its until none apply (cargo fix)")
    p.add_argument("--replay", metavar="TRANSCRIPT", help="re-run a recorded llm-rewrite session bit for bit (then -p, --emit, -o apply to its result)")
    p.add_argument("--import", dest="import_spec", metavar="MODULE:FACTORY", help="import a torch model from a factory function (then -p, --emit, -o apply to it)")
    p.add_argument("--read-limit", type=_size, default=None, metavar="SIZE",
                   help="refuse inputs larger than this (e.g. 512K, 64M, 1G; default $GRAPHSYNTH_READ_LIMIT or 64M)")
    p.add_argument("--view-op-graph", metavar="FILE",
                   help="draw the resulting graph to FILE (.dot, .gv, .svg, .png, .pdf; '-': DOT source on stderr)")
    p.add_argument("--view-op-graph-depth", type=int, default=None, metavar="N",
                   help="fold modules nested deeper than N in the picture (default: --depth)")
    p.add_argument("--timing", "--mlir-timing", dest="timing", action="store_true",
                   help="print the wall time of each phase and pass to stderr (as mlir-opt's --mlir-timing)")
    p.add_argument("--timing-format", "--mlir-output-format", dest="timing_format", choices=["text", "json"], default="text",
                   help="form of the --timing report")
    p.add_argument(
        "--load-pass-plugin",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="import a Python file or module that registers passes, before anything else (repeatable)",
    )
    return p


@dataclass
class Result:
    output: str
    diagnostics: list[Diagnostic]
    module: Any = None


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    fmt = {"value": "text"}

    def body() -> int:
        # Plugins first, as mlir-opt loads them before it reads the rest of the command line:
        # their passes are then in --help and can be named in -p.
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--load-pass-plugin", action="append", default=[])
        try:
            load_pass_plugins(pre.parse_known_args(argv)[0].load_pass_plugin)
        except PluginError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        args = parser.parse_args(argv)
        fmt["value"] = args.diagnostics
        try:
            return run(args, started)
        except UsageError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2

    return run_tool(PROG, body, lambda: fmt["value"])


def _check_usage(args: argparse.Namespace) -> None:
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {args.depth}")
    if args.view_op_graph_depth is not None and args.view_op_graph_depth < 0:
        raise UsageError(f"--view-op-graph-depth must be 0 or more, got {args.view_op_graph_depth}")
    if args.replay and args.import_spec:
        raise UsageError("--replay and --import each provide the input; give one of them")
    source = "--replay" if args.replay else "--import" if args.import_spec else None
    if source:
        if args.input is not None:
            raise UsageError(f"{source} provides the input graph; drop the input file '{args.input}'")
        for flag, on in (("--split-input-file", args.split_input_file), ("--verify-diagnostics", args.verify_diagnostics),
                         ("--input-format", args.input_format), ("--apply-fixes", args.apply_fixes)):
            if on:
                raise UsageError(f"{flag} applies to an input file, not to {source}")
    if args.apply_fixes and (args.split_input_file or args.verify_diagnostics or args.view_op_graph):
        raise UsageError("--apply-fixes cannot be combined with --split-input-file, --verify-diagnostics or --view-op-graph")
    if args.view_op_graph and args.split_input_file:
        raise UsageError("--view-op-graph draws one graph; it cannot be combined with --split-input-file")
    if args.view_op_graph and args.verify_diagnostics:
        raise UsageError("--view-op-graph cannot be combined with --verify-diagnostics (no output is produced)")


def run(args: argparse.Namespace, started: float | None = None) -> int:
    _check_usage(args)
    if args.list_ops:
        from graphsynth.dialects import gs

        for name in sorted(gs.OPS):
            spec = gs.OPS[name].SPEC
            print(f"{spec.signature():<70} {spec.doc}")
        return 0
    if args.passes:
        from graphsynth.diagnostics import PassError
        from graphsynth.pipeline import parse_pipeline

        try:
            parse_pipeline(args.passes)
        except PassError as e:
            print(render_all(e.diagnostics, args.diagnostics), file=sys.stderr)
            return 2
    # Outputs are checked before the work: a typo in -o must not cost a long run.
    if args.output != "-":
        check_writable(args.output)
    if args.view_op_graph and args.view_op_graph != "-":
        from graphsynth.query.picture import PictureError, choose_engine

        try:
            choose_engine("auto", _suffix(args.view_op_graph))
        except PictureError as e:
            report(PROG, e.diagnostics, args.diagnostics)
            return 2
        check_writable(args.view_op_graph)
    timer = Timer(started) if args.timing else None
    with limited_reads(args.read_limit):
        code = _run(args, timer)
    if timer is not None:
        sys.stderr.write(timer.report(args.timing_format))
    return code


def _suffix(path: str) -> str:
    import os

    return os.path.splitext(path)[1].lower()


class _NoTimer:
    """Stands in for :class:`Timer` when --timing is off (no bookkeeping on the hot path)."""

    def phase(self, name: str, key: Any = None) -> Any:
        import contextlib

        return contextlib.nullcontext()


def _run(args: argparse.Namespace, timer: Timer | None) -> int:
    t = timer or _NoTimer()
    outputs: list[str] = []
    failed = path_problem = False
    last_module: Any = None

    def take(result: Result) -> None:
        """Print a result's diagnostics now (a --split-input-file chunk's as soon as it is read,
        as mlir-opt does: none of them is kept) and keep its output for the end."""
        nonlocal failed, path_problem, last_module
        if result.diagnostics:
            failed = True
            path_problem = path_problem or exit_code(result.diagnostics) == 2
            print(render_all(result.diagnostics, args.diagnostics), file=sys.stderr)
        if result.output:
            outputs.append(result.output)
        last_module = result.module

    if args.replay:
        from graphsynth.llm.replay import run_replay

        with t.phase("Replay"):
            code, replayed = run_replay(args.replay, prog=PROG, fmt=args.diagnostics)
        if replayed is None:
            return code
        if not args.passes and args.emit == "gs" and args.depth is None and replayed.output_text:
            # The accepted text as the session produced it (its hash is the recorded one).
            text = replayed.output_text
            take(Result(text if text.endswith("\n") else text + "\n", [], replayed.module))
        else:
            take(process_module(replayed.module, args, timer))
    elif args.import_spec:
        from graphsynth.frontend.cli import FactoryError, import_from_factory

        try:
            with t.phase("Import"):
                module = import_from_factory(args.import_spec)
        except FactoryError as e:
            raise UsageError(str(e)) from None
        except FileError:
            raise  # a path problem: exit 2 (run_tool)
        except GraphsynthError as e:
            take(Result("", e.diagnostics))
        else:
            take(process_module(module, args, timer))
    else:
        with t.phase("Read input"):
            filename, data = _read_input(args.input or "-")
        fmt = args.input_format or ("mlir" if filename.endswith(".mlir") else "gs")
        if args.apply_fixes:
            return _apply_fixes(data, filename, fmt, args, timer)
        chunks = _split(data) if args.split_input_file else [(1, data)]
        for first_line, chunk in chunks:
            result = process(chunk, filename, fmt, args, timer, first_line)
            if args.verify_diagnostics:
                problems = check_expected(chunk, filename, result.diagnostics, first_line)
                if problems:
                    failed = True
                    print(render_all(problems, args.diagnostics), file=sys.stderr)
                continue
            take(result)
    if args.view_op_graph and not failed and last_module is not None:
        from graphsynth.query.picture import PictureError

        try:
            with t.phase("View op graph"):
                _view_op_graph(last_module, args)
        except PictureError as e:  # dot failed or timed out, too big for matplotlib: -o stays as it was
            report(PROG, e.diagnostics, args.diagnostics)
            return 2
    if outputs:
        text = "// -----\n".join(outputs)
        with t.phase("Write output"):
            if args.output == "-":
                sys.stdout.write(text)
                sys.stdout.flush()
            elif not failed:
                # A run with errors leaves -o as it was (as mlir-opt does): writing the chunks
                # that passed would drop the user's text of the ones that failed.
                write_atomic(args.output, text)
    # A file a pass could not read or write (a transcript, say) is a path problem: exit 2.
    return (2 if path_problem else 1) if failed else 0


def _apply_fixes(data: bytes, filename: str, fmt: str, args: argparse.Namespace, timer: Timer | None) -> int:
    """graphsynth.fixes.fix_file; with -p, --emit or --depth the repaired module goes through process_module."""
    from graphsynth.fixes import fix_file
    if fmt != "gs":
        raise UsageError("--apply-fixes edits gs text; the input is MLIR")
    plain = not args.passes and args.emit == "gs" and args.depth is None
    out, diags = fix_file(data, filename, None if plain else lambda m: process_module(m, args, timer))
    if diags:
        print(render_all(diags, args.diagnostics), file=sys.stderr)
    if out:
        sys.stdout.write(out) if args.output == "-" else write_atomic(args.output, out)
    return 1 if diags else 0


def _view_op_graph(module: Any, args: argparse.Namespace) -> None:
    from graphsynth.query.opgraph import op_graph
    from graphsynth.query.picture import dot_source, draw

    depth = args.view_op_graph_depth if args.view_op_graph_depth is not None else args.depth
    pic = op_graph(module, depth)
    if args.view_op_graph == "-":
        sys.stderr.write(dot_source(pic))
    else:
        draw(pic, args.view_op_graph)


def _read_input(path: str, limit: int | None = None) -> tuple[str, bytes]:
    data = read_bytes(path, limit=limit)
    return ("<stdin>" if path == "-" else path), data


def _split(data: str | bytes) -> Iterator[tuple[int, str | bytes]]:
    """(first line, text) of each chunk, made one at a time: a chunk is read on its own with the
    line it starts at in the file, so that its diagnostics carry the file's line numbers and a
    file of many chunks costs time linear in its length."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    line = 1
    for piece in SPLIT_MARKER.split(text):
        yield line, piece
        line += piece.count("\n")


def process(data: str | bytes, filename: str, fmt: str, args: argparse.Namespace, timer: Timer | None = None,
            first_line: int = 1) -> Result:
    """Parse, run the pipeline, verify and print one chunk (which starts at line ``first_line``)."""
    t = timer or _NoTimer()
    try:
        with t.phase("Parse"):
            module = _parse(data, filename, fmt, first_line)
    except GraphsynthError as e:
        return Result("", e.diagnostics)
    return process_module(module, args, timer)


def process_module(module: Any, args: argparse.Namespace, timer: Timer | None = None) -> Result:
    """Verify a module, run the pipeline and print it (whatever the module came from: a file,
    --import or --replay)."""
    from graphsynth.diagnostics import PassError
    from graphsynth.verifier import verify

    t = timer or _NoTimer()
    with t.phase("Verify"):
        diags = verify(module)
    if diags:
        return Result("", diags)
    if args.passes:
        from graphsynth.pipeline import parse_pipeline, run_pipeline  # the pass table loads only when asked for

        hooks = [_after_pass_printer(args)] if args.print_ir_after_all else []
        try:
            passes: list[Any] = parse_pipeline(args.passes)
            with t.phase("Pipeline"):
                if timer is not None:
                    passes = [_TimedPass(p, timer.current.child(p.name, key=(i, p.name))) for i, p in enumerate(passes)]
                    hooks.insert(0, _TimedPass.after)
                module = run_pipeline(module, passes, after_pass=_chain(hooks) if hooks else None)
        except PassError as e:
            return Result("", e.diagnostics, None)
    try:
        with t.phase("Print"):
            return Result(emit(module, args.emit, args.depth), [], module)
    except GraphsynthError as e:  # --emit=python lowers: a LoweringError is a diagnostic, not a traceback
        return Result("", e.diagnostics)


def _chain(hooks: list[Any]) -> Any:
    def hook(p: Any, before: Any, after: Any) -> None:
        for h in hooks:
            h(p, before, after)

    return hook


class _TimedPass:
    """A pass seen through a stopwatch: the row of the pass holds its run and the verifier after
    it (the time from its end to the pipeline's after-pass hook), the latter also as a child row."""

    def __init__(self, inner: Any, node: Any):
        self._inner = inner
        self._node = node
        self._ended = 0.0
        self.name = inner.name

    def apply(self, ctx: Any, op: Any) -> None:
        t0 = time.perf_counter()
        try:
            self._inner.apply(ctx, op)
        finally:
            self._ended = time.perf_counter()
            self._node.wall += self._ended - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @staticmethod
    def after(p: Any, before: Any, after: Any) -> None:
        if isinstance(p, _TimedPass) and p._ended:
            dt = time.perf_counter() - p._ended
            p._node.wall += dt
            p._node.child("Verify").wall += dt
            p._ended = 0.0


def _parse(data: str | bytes, filename: str, fmt: str, first_line: int = 1):
    from graphsynth.grammar.parser import parse_ir

    if fmt == "gs":
        return parse_ir(data, filename=filename, first_line=first_line)
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    # xDSL's parser counts lines from the start of its text: a chunk of MLIR keeps its line
    # numbers by blank lines standing in for the chunks before it.
    return parse_mlir("\n" * (first_line - 1) + text, filename)


def parse_mlir(text: str, filename: str):
    """MLIR generic syntax -> module, through xDSL's own parser, guarded (grammar/mlir.py).

    Syntax errors become GS101 at xDSL's position; input beyond a limit (nesting, a long
    literal, an attribute that would materialise too many elements, an out-of-range dim) is
    refused with its own code at its position before xDSL builds it; the module is then checked
    against the op definitions (xDSL's verify: regions, properties, operand types) so that the
    gs verifier only sees well-formed ops; each op gets the line and column of its text, as the
    gs parser gives them (GuardedParser records where each op's text starts), so verifier
    diagnostics point into the .mlir file."""
    from xdsl.utils.exceptions import ParseError as XParseError

    from graphsynth.diagnostics import ParseError, remember_source
    from graphsynth.dialects.gs import DimError
    from graphsynth.grammar.mlir import GuardedParser, LimitParseError, prescan
    from graphsynth.grammar.syntaxerrors import _offset_loc
    from graphsynth.passes.registry import context

    remember_source(filename, text)
    if not re.sub(r"//[^\n]*", "", text).strip():
        raise ParseError([error("GS104", "empty input: expected a builtin.module of gs.graph ops", loc=Location(filename, 1, 1))])
    refused = prescan(text)
    if refused is not None:
        raise ParseError([_with_source(error(refused.code, refused.message, loc=_offset_loc(text, refused.offset, filename)))])
    try:
        module = GuardedParser(context(), text, name=filename).parse_module()
    except XParseError as e:
        span = getattr(e, "span", None)
        loc = None
        if span is not None:
            where = span.get_location()
            loc = Location(filename, where.line, where.col)
            if span.start >= len(text.rstrip()):
                # Cut short: point at the end of the last line with text, as for gs input.
                body = text.rstrip()
                loc = Location(filename, body.count("\n") + 1, len(body) - body.rfind("\n"))
        msg = str(getattr(e, "msg", "")) or str(e).strip().splitlines()[-1]
        if isinstance(e, (LimitParseError, DimError)):
            raise ParseError([_with_source(error(e.code, msg, loc=loc))]) from None
        raise ParseError([_with_source(error("GS101", f"MLIR syntax error: {msg}", loc=loc))]) from None
    except RecursionError:  # prescan bounds the nesting; this is the backstop
        raise ParseError([error("GS109", "MLIR input nests too deeply", loc=Location(filename, 1, 1))]) from None
    except Exception as e:  # xDSL raises VerifyException and others while building ops
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ParseError([error("GS101", f"cannot read MLIR input: {first}", loc=Location(filename, 1, 1))]) from None
    from graphsynth.verifier.locations import location

    for op in module.walk():
        try:
            op.verify(verify_nested_ops=False)
        except Exception as e:  # VerifyException, or a malformed op that xDSL trips over
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            d = error("GS211", f"{op.name}: malformed MLIR input: {first}", op=op.name, loc=location(op) or Location(filename, 1, 1))
            raise ParseError([_with_source(d)]) from None
    if not any(True for _ in module.body.block.ops):
        raise ParseError([error("GS104", "no graph in the input: expected a builtin.module of gs.graph ops", loc=Location(filename, 1, 1))])
    return module


def _with_source(d: Diagnostic) -> Diagnostic:
    from graphsynth.diagnostics import source_line

    d.source_line = source_line(d.loc)
    return d


def emit(module, form: str, depth: int | None = None) -> str:
    if form == "mlir":
        from xdsl.printer import Printer

        stream = io.StringIO()
        Printer(stream=stream, print_generic_format=True).print_op(module)
        return stream.getvalue() + "\n"
    if form == "python":
        from graphsynth.backend.lower import to_python

        return to_python(module)
    from graphsynth.grammar.printer import print_ir

    return print_ir(module, depth=depth)


def _after_pass_printer(args: argparse.Namespace):
    from graphsynth.grammar.printer import print_ir

    def hook(p, before, after) -> None:
        if args.print_ir_diff:
            import difflib

            diff = difflib.unified_diff(
                print_ir(before).splitlines(keepends=True),
                print_ir(after).splitlines(keepends=True),
                fromfile=f"before {p.name}",
                tofile=f"after {p.name}",
            )
            sys.stderr.write(f"// -----// IR Diff After {p.name} //----- //\n" + "".join(diff))
        else:
            sys.stderr.write(f"// -----// IR Dump After {p.name} //----- //\n" + print_ir(after))

    return hook


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
