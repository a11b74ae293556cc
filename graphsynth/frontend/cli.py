"""``graphsynth-import MODULE:FACTORY [-o out.gs]``: a PyTorch model as a ``.gs`` file.

``MODULE`` is a dotted module name (``mypkg.models``) or a path to a Python file
(``examples/models.py``); ``FACTORY`` is a function in it that takes no arguments and returns
``(model, example_inputs)`` or ``(model, example_inputs, dynamic_dims)`` -- the arguments of
``graphsynth.import_torch``.  The imported graph is verified before it is written.

Exit codes, as graphsynth-opt: 0 written, 1 diagnostics (the import or the verifier failed),
2 usage or path (bad MODULE:FACTORY, a factory that raises or returns the wrong thing, an output
that cannot be written: GS002), 130 interrupted (143 for SIGTERM).  ``-o FILE`` is written
atomically (:mod:`graphsynth.fileio`) and only when the import verified; ``-o -`` is stdout.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, error
from graphsynth.fileio import FileError, check_writable, report, run_tool, write_atomic

PROG = "graphsynth-import"


class FactoryError(Exception):
    """MODULE:FACTORY cannot be loaded or called, or returns the wrong thing (a usage error)."""


def _usage(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def load_factory(spec: str) -> Any:
    """``path/to/file.py:fn`` or ``package.module:fn`` -> the function (ValueError if not found,
    :class:`~graphsynth.fileio.FileError` GS001 if the file cannot be read)."""
    module_part, sep, attr = spec.rpartition(":")
    if not sep or not module_part or not attr:
        raise ValueError(f"expected MODULE:FACTORY, got '{spec}'")
    path = Path(module_part)
    if module_part.endswith(".py") or path.exists():
        # A path problem is a GS001 diagnostic (exit 2), as for every other tool input.
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise FileError([error("GS001", f"cannot read factory module '{module_part}': "
                                            f"{'Is a directory' if path.is_dir() else e.strerror or e}")]) from None
        # Files next to the factory (a models.py importing its siblings) stay importable.
        sys.path.insert(0, str(path.resolve().parent))
        mod_spec = importlib.util.spec_from_file_location(path.stem, path)
        if mod_spec is None or mod_spec.loader is None:
            raise ValueError(f"cannot load {module_part} as a Python module")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules.setdefault(path.stem, module)
        mod_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as e:
            raise ValueError(f"cannot import module '{module_part}': {e}") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        names = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise ValueError(f"'{module_part}' has no function '{attr}' (callables: {', '.join(names[:12])})")
    return fn


def import_from_factory(spec: str) -> Any:
    """``MODULE:FACTORY`` -> the imported (unverified) gs module.  Raises :class:`FactoryError`
    for usage problems and :class:`GraphsynthError` when the import itself fails."""
    try:
        factory = load_factory(spec)
    except ValueError as e:
        raise FactoryError(str(e)) from None
    except FileError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's module failing to load is a usage error
        raise FactoryError(f"loading {spec} raised {type(e).__name__}: {e}") from None
    try:
        made = factory()
    except Exception as e:  # noqa: BLE001 - the user's factory failing is a usage error
        raise FactoryError(f"{spec} raised {type(e).__name__}: {e}") from None
    if not isinstance(made, tuple) or len(made) not in (2, 3):
        raise FactoryError(f"{spec} must return (model, example_inputs[, dynamic_dims]), got {type(made).__name__}")
    model, inputs = made[0], made[1]
    dynamic = made[2] if len(made) == 3 else None

    from graphsynth.frontend.importer import import_torch

    return import_torch(model, inputs, dynamic)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Import a PyTorch model (through torch.export) as gs IR text.",
        epilog="FACTORY() returns (model, example_inputs[, dynamic_dims]); see graphsynth.import_torch.",
    )
    p.add_argument("factory", metavar="MODULE:FACTORY", help="e.g. examples/models.py:gpt2 or mypkg.models:build")
    p.add_argument("-o", "--output", default="-", help="write the IR here, atomically (default or '-': stdout)")
    p.add_argument("--depth", type=int, default=None, help="fold modules nested deeper than this (default: print all)")
    p.add_argument("--emit", choices=("gs", "mlir"), default="gs", help="text form (gs) or MLIR generic syntax (mlir)")
    p.add_argument("--diagnostics", choices=("text", "json"), default="text", help="how to print diagnostics")
    return p


def main(argv: list[str] | None = None) -> int:
    fmt = {"value": "text"}

    def body() -> int:
        args = build_parser().parse_args(argv)
        fmt["value"] = args.diagnostics
        return _run(args)

    return run_tool(PROG, body, lambda: fmt["value"])


def _run(args: argparse.Namespace) -> int:
    if args.depth is not None and args.depth < 0:
        return _usage(f"--depth must be 0 or more, got {args.depth}")
    if args.output != "-":
        check_writable(args.output)  # before the import, which can take a while
    try:
        module = import_from_factory(args.factory)
    except FactoryError as e:
        return _usage(str(e))
    except FileError:
        raise  # a path problem: exit 2 (run_tool)
    except GraphsynthError as e:
        report(PROG, e.diagnostics, args.diagnostics)
        return 1
    diags = _verify(module)
    if diags:
        report(PROG, diags, args.diagnostics)
        return 1
    text = _emit(module, args.emit, args.depth)
    if args.output != "-":
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def _verify(module: Any) -> list[Diagnostic]:
    try:
        from graphsynth.verifier import verify
    except ImportError:  # pragma: no cover - before the verifier lands
        try:
            module.verify()
        except Exception as e:  # noqa: BLE001
            return [error("GS211", f"the imported module does not verify: {e}")]
        return []
    return list(verify(module))


def _emit(module: Any, emit: str, depth: int | None) -> str:
    if emit == "mlir":
        import io

        from xdsl.printer import Printer

        out = io.StringIO()
        Printer(stream=out, print_generic_format=True).print_op(module)
        return out.getvalue() + "\n"
    from graphsynth.grammar.printer import print_ir

    text = print_ir(module, depth=depth)
    return text if text.endswith("\n") else text + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
