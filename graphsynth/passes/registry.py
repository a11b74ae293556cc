"""The pass registry and the transactional pipeline runner.

A pipeline string uses MLIR syntax (``canonicalize,fuse-elementwise{max-ops=16}``) and is parsed
by xDSL's pipeline-spec parser (numbers given to float options are read as floats, see
:func:`_coerce_numbers`).  Each pass runs on a clone; the verifier runs after it;
a pass that raises or whose output does not verify is reported as a ``PassError`` naming the
pass, and the caller's module is never touched.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.arg_spec import ArgSpec

from graphsynth.diagnostics import Diagnostic, PassError, error

PassTable = dict[str, Callable[[], type[ModulePass]]]

PASSES: PassTable = {}
"""Passes registered with :func:`register` (the shipped ones once their modules are imported,
and users' own).  The table of every pass by name, ``llm-rewrite`` included, is
:func:`graphsynth.pipeline.all_passes`."""


def register(cls: type[ModulePass]) -> type[ModulePass]:
    """Class decorator: make a ModulePass available to pipelines by its ``name``."""
    if cls.name in PASSES:
        raise ValueError(f"pass '{cls.name}' is registered twice")
    PASSES[cls.name] = lambda: cls
    return cls


def pass_summary(name: str, table: PassTable | None = None) -> str:
    """The first paragraph of the pass's docstring, on one line (for ``--help``)."""
    doc = ((table or passes_table())[name]().__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def context() -> Context:
    from graphsynth.dialects.gs import GS

    ctx = Context()
    ctx.load_dialect(GS)
    from xdsl.dialects.builtin import Builtin

    ctx.load_dialect(Builtin)
    return ctx


def passes_table() -> PassTable:
    """The passes of this package and those registered by users (no ``llm-rewrite``: the LLM
    driver is a layer above; :func:`graphsynth.pipeline.all_passes` adds it)."""
    load_shipped_passes()
    return dict(PASSES)


def parse_pipeline(pipeline: str, table: PassTable | None = None) -> list[ModulePass]:
    """Pipeline text -> pass instances; unknown passes/options raise PassError (GS404).

    Option values that xDSL's lexer does not take bare (module paths such as ``h.0.attn``,
    value names such as ``%3``) are quoted first, as mlir-opt accepts them unquoted."""
    from xdsl.utils.arg_spec import parse_pipeline as parse_specs
    from xdsl.utils.exceptions import ArgSpecParseError

    table = passes_table() if table is None else table
    try:
        specs = list(parse_specs(_quote_option_values(pipeline, table)))
        unknown = [s.name for s in specs if s.name not in table]
        if unknown:
            raise ValueError(f"Unrecognized passes: {unknown}")
        return [table[s.name]().from_spec(_coerce_numbers(table[s.name](), s)) for s in specs]
    except (Exception, ArgSpecParseError) as e:  # ValueError/TypeError; ArgSpecParseError is a BaseException
        raise PassError("pipeline", [_pipeline_diagnostic(pipeline, e, table)]) from None


def _coerce_numbers(cls: type[ModulePass], spec: ArgSpec) -> ArgSpec:
    """Numbers written for float options become floats, as mlir-opt reads them.

    xDSL's lexer reads ``timeout=5`` as an int and ``timeout=1e3`` as a string, and its type check
    then refuses both for a ``float`` option; an int (or an exponent literal) is a valid float, so
    every float option of every pass (``float``, ``float | None``, ``tuple[float, ...]``) takes one.
    Options of other types are left to xDSL's check, which reports a mismatch (GS404)."""
    hints = typing.get_type_hints(cls)
    params = dict(spec.parameters)
    for key, values in spec.parameters.items():
        wanted = hints.get(key.replace("-", "_"))
        if wanted is None or not _takes_float(wanted):
            continue
        params[key] = tuple(_as_float(v) for v in values)
    return ArgSpec(spec.name, params)


def _takes_float(t: object) -> bool:
    """``float`` itself, or a union/tuple whose members include float but not int (where an int
    literal already means an int)."""
    if t is float:
        return True
    args = typing.get_args(t)
    return float in args and int not in args or any(_takes_float(a) for a in args if a is not Ellipsis and a is not t)


def _as_float(v: object) -> object:
    if isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str) and _FLOAT_TEXT.fullmatch(v):
        return float(v)
    return v


_FLOAT_TEXT = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


_BARE_OK = re.compile(r'^(-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|[A-Za-z_][A-Za-z0-9_-]*|"([^"\\]|\\.)*")$')
_OPTION = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)=("(?:[^"\\]|\\.)*"|[^\s{}"]+)')


def _str_options(name: str, table: PassTable) -> set[str]:
    """The options (as spelled in pipelines) of a registered pass whose type is str."""
    import dataclasses

    factory = table.get(name)
    if factory is None:
        return set()
    return {f.name.replace("_", "-") for f in dataclasses.fields(factory()) if f.type in ("str", str)}


def _quote_option_values(pipeline: str, table: PassTable) -> str:
    """``p{after=h.0.attn}`` -> ``p{after="h.0.attn"}``: bare values the lexer does not take (paths,
    ``%3``) and numbers given to str options (``after=0``, a module of an nn.Sequential) are quoted."""
    out, depth, i = [], 0, 0
    strs: set[str] = set()
    while i < len(pipeline):
        ch = pipeline[i]
        if ch == "{":
            depth += 1
            head = re.search(r"([A-Za-z0-9_-]+)\s*$", pipeline[:i])
            strs = _str_options(head.group(1), table) if head else set()
        elif ch == "}":
            depth = max(depth - 1, 0)
        elif depth and (m := _OPTION.match(pipeline, i)) and (i == 0 or not pipeline[i - 1].isalnum()):
            key, value = m.group(1), m.group(2)
            if not _BARE_OK.match(value) or (key.replace("_", "-") in strs and not value.startswith('"')):
                value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out.append(f"{key}={value}")
            i = m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def pass_options(name: str, table: PassTable | None = None) -> list[str]:
    """``max-ops: int = 64`` for each option of a registered pass."""
    import dataclasses

    cls = (table or passes_table())[name]()
    out = []
    for f in dataclasses.fields(cls):
        default = "(required)" if f.default is dataclasses.MISSING else f"= {f.default!r}"
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out.append(f"{f.name.replace('_', '-')}: {kind} {default}")
    return out


def _pipeline_diagnostic(pipeline: str, e: BaseException, table: PassTable) -> Diagnostic:
    """A usage diagnostic for a bad pipeline: what is wrong, where, and the valid choices."""
    import difflib

    text = str(e).strip()
    valid = sorted(table)
    unknown = re.search(r"Unrecognized passes: \[(.*)\]", text)
    if unknown:
        names = [n.strip(" '\"") for n in unknown.group(1).split(",")]
        close = [m for n in names for m in difflib.get_close_matches(n, valid, n=1)]
        hint = f"did you mean '{close[0]}'? " if close else ""
        return error("GS404", f"unknown pass {', '.join(repr(n) for n in names)} in pipeline '{pipeline}'",
                     got=", ".join(names), expected=" | ".join(valid), fix=f"{hint}registered passes: {', '.join(valid)}")
    bad_option = re.search(r'Provided arguments \[(.*)\] not found in expected arguments', text)
    if bad_option:
        opts = [o.strip(" '\"").replace("_", "-") for o in bad_option.group(1).split(",")]
        owner = _pass_with_option(pipeline, opts[0])
        choices = pass_options(owner, table) if owner in table else []
        return error("GS404", f"pass '{owner}' has no option {', '.join(repr(o) for o in opts)}",
                     got=", ".join(opts), expected=" | ".join(c.split(":")[0] for c in choices) or "no options",
                     fix=f"options of '{owner}': " + ("; ".join(choices) if choices else "none"))
    bad_type = re.search(r"Incompatible types: given \((.*?),?\), expected <class '(\w+)'>", text)
    if bad_type:
        given, want = bad_type.group(1).strip(" '\""), bad_type.group(2)
        found = re.search(r"([A-Za-z0-9_-]+)\s*\{[^}]*?([A-Za-z0-9_-]+)\s*=\s*\"?" + re.escape(given), pipeline)
        owner, opt = (found.group(1), found.group(2)) if found else ("?", "?")
        choices = pass_options(owner, table) if owner in table else []
        return error("GS404", f"option '{opt}' of pass '{owner}' expects {want}, got {given!r}", got=given, expected=want,
                     fix=f"options of '{owner}': " + ("; ".join(choices) if choices else "none"))
    lines = text.splitlines()
    if lines and lines[0].startswith("Error parsing pass pipeline specification") and len(lines) >= 4:
        col = len(lines[3]) - len(lines[3].lstrip()) + 1 if len(lines) > 3 else 1
        reason = lines[4].strip() if len(lines) > 4 else "syntax error"
        return error("GS404", f"malformed pass pipeline '{pipeline}' at column {col}: {reason.rstrip('.').lower()}",
                     got=pipeline, expected="name{opt=value ...},name...",
                     fix=f"pipeline syntax: pass{{option=value other=value}},pass; registered passes: {', '.join(valid)}")
    msg = lines[0] if lines else type(e).__name__
    owner = msg.split(":", 1)[0]
    if owner in table:  # a pass refused an option value (its __post_init__)
        return error("GS404", f"invalid pass pipeline '{pipeline}': {msg}", fix=f"options of '{owner}': " + "; ".join(pass_options(owner, table)))
    return error("GS404", f"invalid pass pipeline '{pipeline}': {msg}", fix=f"registered passes: {', '.join(valid)}")


def _pass_with_option(pipeline: str, option: str) -> str:
    """The pass of ``pipeline`` given ``option`` (xDSL reports it with ``_``, users write ``-``)."""
    from xdsl.utils.arg_spec import parse_pipeline as parse_specs

    wanted = option.replace("-", "_")
    try:
        for spec in parse_specs(pipeline):
            if any(k.replace("-", "_") == wanted for k in spec.parameters):
                return spec.name
    except Exception:  # the pipeline already parsed once to get here; be safe anyway
        pass
    return "?"


def run_pipeline(
    module: ModuleOp,
    pipeline: str | list[ModulePass],
    *,
    after_pass: Callable[[ModulePass, ModuleOp, ModuleOp], None] | None = None,
    table: PassTable | None = None,
) -> ModuleOp:
    """Apply ``pipeline`` to a clone of ``module``; return the new module (input untouched).

    ``after_pass(pass, before, after)`` is called after each pass that verified.  Pass names are
    looked up in ``table`` (default: :func:`passes_table`).
    """
    from graphsynth.verifier import verify

    passes = parse_pipeline(pipeline, table) if isinstance(pipeline, str) else list(pipeline)
    ctx = context()
    current = module.clone()
    for p in passes:
        candidate = current.clone()
        try:
            p.apply(ctx, candidate)
        except PassError:
            raise
        except Exception as e:  # a pass bug must not take the user's module with it
            from graphsynth.passes.patterns import failure_diagnostic, failure_in

            failure = failure_in(e)  # a guarded pattern run by the pass's own walker: name the op
            if failure is not None:
                raise PassError(p.name, [failure_diagnostic(p.name, failure)]) from e
            raise PassError(p.name, [error("GS402", f"pass '{p.name}' raised {type(e).__name__}: {e}", origin=p.name)]) from e
        diags = verify(candidate)
        if diags:
            for d in diags:
                d.origin = d.origin or f"pass '{p.name}'"
            raise PassError(p.name, _rolled_back(p.name, diags))
        if after_pass is not None:
            after_pass(p, current, candidate)
        current = candidate
    return current


def _rolled_back(name: str, diags: list[Diagnostic]) -> list[Diagnostic]:
    head = error("GS401", f"pass '{name}' produced IR that does not verify; it was rolled back", origin=name)
    return [head, *diags]


_LOADED = False


def load_shipped_passes() -> None:
    """Import the modules of the passes this package ships (each registers its passes)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import graphsynth.passes.builtin  # noqa: F401  (registers on import)
        import graphsynth.passes.fold_constants  # noqa: F401
        import graphsynth.passes.fusion  # noqa: F401
        import graphsynth.passes.insert_block  # noqa: F401
        import graphsynth.passes.outline  # noqa: F401
