"""``graphsynth-opt``: read IR, run a pass pipeline, verify, print — the mlir-opt of gs IR.

Exit codes: 0 ok, 1 diagnostics (the input or a pass is at fault), 2 usage error.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error, render_all

SPLIT_MARKER = re.compile(r"^// -----[ \t\r]*$", re.M)  # not \s*: the next lines keep their numbers
EXPECTED = re.compile(r"//\s*expected-(error|warning|note|remark)(@([+-]\d+|above|below|unknown))?\s*\{\{(.*?)\}\}")


class UsageError(Exception):
    """Bad command line: exit code 2."""


def _epilog() -> str:
    from graphsynth.passes.registry import PASSES, _load_builtin_passes, pass_options, pass_summary

    _load_builtin_passes()
    lines = ["passes (use with -p, options in MLIR syntax: name{opt=value other=value}):"]
    for name in sorted(PASSES):
        lines.append(f"  {name:<22} {pass_summary(name)}")
        lines.extend(f"    {option}" for option in pass_options(name))
    return "\n".join(lines)


class _ArgumentParser(argparse.ArgumentParser):
    """Lists the registered passes in ``--help`` only: loading every pass costs start-up time
    that a plain run does not need."""

    def format_help(self) -> str:
        self.epilog = _epilog()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(
        prog="graphsynth-opt",
        description="Read gs IR (text form or MLIR generic form), run a pass pipeline, verify and print it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", nargs="?", default="-", help="input file (.gs or .mlir); '-' or nothing reads stdin")
    p.add_argument("-p", "--passes", default="", help="pass pipeline, e.g. 'canonicalize,cse'")
    p.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    p.add_argument("--emit", choices=["gs", "mlir", "python"], default="gs", help="output form")
    p.add_argument("--input-format", "--input", dest="input_format", choices=["gs", "mlir"], default=None, help="input form (default: by extension)")
    p.add_argument("--depth", type=int, default=None, help="fold modules nested deeper than this when printing gs")
    p.add_argument("--split-input-file", action="store_true", help="process chunks separated by '// -----' independently")
    p.add_argument("--verify-diagnostics", action="store_true", help="check '// expected-error@+N {{...}}' comments against the diagnostics")
    p.add_argument("--diagnostics", choices=["text", "json"], default="text", help="diagnostic format on stderr")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass (to stderr)")
    p.add_argument("--print-ir-diff", action="store_true", help="with --print-ir-after-all: print a unified diff per pass")
    p.add_argument("--list-ops", action="store_true", help="list the ops of the gs dialect with their signatures")
    p.add_argument("--replay", metavar="TRANSCRIPT", help="re-run a recorded llm-rewrite session bit for bit")
    p.add_argument("--import", dest="import_spec", metavar="MODULE:FACTORY", help="import a torch model from a factory function")
    return p


@dataclass
class Result:
    output: str
    diagnostics: list[Diagnostic]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as e:
        print(f"graphsynth-opt: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def run(args: argparse.Namespace) -> int:
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {args.depth}")
    if args.list_ops:
        from graphsynth.dialects import gs

        for name in sorted(gs.OPS):
            spec = gs.OPS[name].SPEC
            print(f"{spec.signature():<70} {spec.doc}")
        return 0
    if args.replay:
        from graphsynth.llm import replay_main

        return replay_main(args.replay, output_path=None if args.output == "-" else args.output)
    if args.import_spec:
        from graphsynth.frontend.cli import main as import_main

        argv = [args.import_spec, "-o", args.output, "--diagnostics", args.diagnostics]
        if args.depth is not None:
            argv += ["--depth", str(args.depth)]
        return import_main(argv)
    if args.passes:
        from graphsynth.diagnostics import PassError
        from graphsynth.passes.registry import parse_pipeline

        try:
            parse_pipeline(args.passes)
        except PassError as e:
            print(render_all(e.diagnostics, args.diagnostics), file=sys.stderr)
            return 2
    filename, data = _read_input(args.input)
    fmt = args.input_format or ("mlir" if filename.endswith(".mlir") else "gs")
    chunks = _split(data) if args.split_input_file else [data]
    outputs: list[str] = []
    failed = False
    for chunk in chunks:
        result = process(chunk, filename, fmt, args)
        if args.verify_diagnostics:
            problems = check_expected(chunk, filename, result.diagnostics)
            if problems:
                failed = True
                print(render_all(problems, args.diagnostics), file=sys.stderr)
            continue
        if result.diagnostics:
            failed = True
            print(render_all(result.diagnostics, args.diagnostics), file=sys.stderr)
        if result.output:
            outputs.append(result.output)
    if outputs:
        text = "// -----\n".join(outputs)
        if args.output == "-":
            sys.stdout.write(text)
        else:
            try:
                with open(args.output, "w") as f:
                    f.write(text)
            except OSError as e:
                raise UsageError(f"cannot write '{args.output}': {e.strerror}") from None
    return 1 if failed else 0


def _read_input(path: str) -> tuple[str, str | bytes]:
    if path == "-":
        return "<stdin>", sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return path, f.read()
    except OSError as e:
        raise UsageError(f"cannot read '{path}': {e.strerror}") from None


def _split(data: str | bytes) -> list[str | bytes]:
    """Chunks keep their original line numbers (blank lines stand in for earlier chunks)."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    pieces = SPLIT_MARKER.split(text)
    out = []
    line = 0
    for piece in pieces:
        out.append("\n" * line + piece)
        line += piece.count("\n")
    return out


def process(data: str | bytes, filename: str, fmt: str, args: argparse.Namespace) -> Result:
    """Parse, run the pipeline, verify and print one chunk."""
    from graphsynth.diagnostics import PassError
    from graphsynth.passes.registry import run_pipeline
    from graphsynth.verifier import verify

    try:
        module = _parse(data, filename, fmt)
    except GraphsynthError as e:
        return Result("", e.diagnostics)
    diags = verify(module)
    if diags:
        return Result("", diags)
    if args.passes:
        hook = _after_pass_printer(args) if args.print_ir_after_all else None
        try:
            module = run_pipeline(module, args.passes, after_pass=hook)
        except PassError as e:
            return Result("", e.diagnostics)
    try:
        return Result(emit(module, args.emit, args.depth), [])
    except GraphsynthError as e:  # --emit=python lowers: a LoweringError is a diagnostic, not a traceback
        return Result("", e.diagnostics)


def _parse(data: str | bytes, filename: str, fmt: str):
    from graphsynth.grammar.parser import parse_ir

    if fmt == "gs":
        return parse_ir(data, filename=filename)
    return parse_mlir(data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data, filename)


def parse_mlir(text: str, filename: str):
    """MLIR generic syntax -> module, through xDSL's own parser, guarded (grammar/mlir.py).

    Syntax errors become GS101 at xDSL's position; input beyond a limit (nesting, a long
    literal, an attribute that would materialise too many elements, an out-of-range dim) is
    refused with its own code at its position before xDSL builds it; the module is then checked
    against the op definitions (xDSL's verify: regions, properties, operand types) so that the
    gs verifier only sees well-formed ops; each op gets the line and column of its text, as the
    gs parser gives them, so verifier diagnostics point into the .mlir file."""
    from xdsl.utils.exceptions import ParseError as XParseError

    from graphsynth.diagnostics import ParseError
    from graphsynth.dialects.gs import DimError
    from graphsynth.grammar.mlir import GuardedParser, LimitParseError, prescan
    from graphsynth.grammar.parser import _offset_loc, _remember
    from graphsynth.passes.registry import context

    _remember(filename, text)
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
    _locate_mlir_ops(module, text, filename)
    from graphsynth.verifier import location

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


_MLIR_OP_LINE = re.compile(r'^([ \t]*)(?:%[^=]*=[ \t]*)?"([A-Za-z_][\w.$]*)"\(', re.M)


def _locate_mlir_ops(module, text: str, filename: str) -> None:
    """Give every op the position of its line in generic-format text (one op per line, in walk
    order, as xDSL prints it).  When the lines and the ops do not pair up, locations stay unset."""
    from xdsl.dialects.builtin import FileLineColLoc, IntAttr, StringAttr

    starts = list(_MLIR_OP_LINE.finditer(text))
    ops = list(module.walk())
    if len(starts) == len(ops) - 1:
        # The root module is not in the text: the top-level ops had no builtin.module around
        # them, or there were several (a builtin.module and stray ops), which xDSL wraps.
        ops = ops[1:]
    if len(starts) != len(ops) or any(m.group(2) != op.name for m, op in zip(starts, ops)):
        return
    file_attr = StringAttr(filename)
    for m, op in zip(starts, ops):
        line = text.count("\n", 0, m.start()) + 1
        op.location = FileLineColLoc(file_attr, IntAttr(line), IntAttr(len(m.group(1)) + 1))


def _with_source(d: Diagnostic) -> Diagnostic:
    from graphsynth.grammar.parser import source_line

    d.source_line = source_line(d.loc)
    return d


def emit(module, form: str, depth: int | None = None) -> str:
    if form == "mlir":
        from xdsl.printer import Printer

        stream = io.StringIO()
        Printer(stream=stream, print_generic_format=True).print_op(module)
        return stream.getvalue() + "\n"
    if form == "python":
        from graphsynth.backend.torch import to_python

        return to_python(module)
    from graphsynth.grammar.printer import print_ir

    return print_ir(module, depth=depth)


def _after_pass_printer(args: argparse.Namespace):
    from graphsynth.grammar.printer import print_ir

    def hook(p, before, after) -> None:
        if args.print_ir_diff:
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


def check_expected(data: str | bytes, filename: str, diags: list[Diagnostic]) -> list[Diagnostic]:
    """mlir-opt's --verify-diagnostics: every ``// expected-<severity>[@where] {{text}}`` comment
    must be matched by a diagnostic of that severity on the target line whose ``CODE: message``
    contains ``text``, and every error or warning must be expected.

    ``where`` is ``+N``/``-N`` (lines below/above the comment), ``above``, ``below`` or
    ``unknown`` (a diagnostic without a location); without it, the comment's own line.
    ``expected-note`` matches a note of a diagnostic on the target line (its notes, the violated
    relation, its origin or its suggested fix) and does not consume the diagnostic.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    expected: list[tuple[str, int | None, str, int]] = []  # (severity, target line, substring, comment line)
    for i, line in enumerate(text.splitlines(), start=1):
        for m in EXPECTED.finditer(line):
            offset = m.group(3)
            target: int | None = i
            if offset == "above":
                target = i - 1
            elif offset == "below":
                target = i + 1
            elif offset == "unknown":
                target = None
            elif offset:
                target = i + int(offset)
            expected.append((m.group(1), target, m.group(4), i))

    def on_line(d: Diagnostic, line: int | None) -> bool:
        return d.loc is None if line is None else d.loc is not None and d.loc.line == line

    def notes_of(d: Diagnostic) -> list[str]:
        extra = [f"violated: {d.relation}"] if d.relation else []
        extra += [f"introduced by {d.origin}"] if d.origin else []
        extra += [d.fix] if d.fix else []
        return list(d.notes) + extra

    problems: list[Diagnostic] = []
    unmatched = list(diags)
    where = {None: "without a location"}
    for severity, line, sub, at in expected:
        place = where.get(line, f"on line {line}")
        if severity == "note":
            if not any(on_line(d, line) and any(sub in n for n in notes_of(d)) for d in diags):
                got = [f"got note: {n}" for d in diags if on_line(d, line) for n in notes_of(d)] or ["no note was produced there"]
                problems.append(error("GS000", f'expected note "{sub}" {place} was not produced', loc=Location(filename, at, 1), notes=got))
            continue
        hit = next((d for d in unmatched if d.severity == severity and on_line(d, line) and sub in f"{d.code}: {d.message}"), None)
        if hit is None:
            near = [d for d in unmatched if on_line(d, line)]
            note = [f"got {d.severity} there: [{d.code}] {d.message}" for d in near] or [f"no {severity} was produced there"]
            problems.append(error("GS000", f'expected {severity} "{sub}" {place} was not produced', loc=Location(filename, at, 1), notes=note))
        else:
            unmatched.remove(hit)
    for d in unmatched:
        if d.severity in ("error", "warning"):
            problems.append(error("GS000", f"unexpected {d.severity}: [{d.code}] {d.message}", loc=d.loc, notes=[d.code]))
    return problems


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
