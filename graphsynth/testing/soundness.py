"""``assert_rewrite_sound``: check that a rewrite keeps a module valid, its interface and its function.

    from graphsynth.testing import assert_rewrite_sound

    assert_rewrite_sound("canonicalize")                    # 30 modules drawn by hypothesis
    assert_rewrite_sound(MyPattern(), module, rtol=1e-3)    # one given module
    assert_rewrite_sound(my_function, ops=("relu", "add"), max_examples=100)

A rewrite is a registered pass name or a pipeline string (run through ``run_pipeline``), an xDSL
``ModulePass`` (instance or class), a ``RewritePattern`` (instance, class or a sequence of them,
applied greedily by xDSL's ``PatternRewriteWalker`` to a copy of the module), or any callable
``ModuleOp -> ModuleOp`` (called on a copy; it may also rewrite that copy in place and return
``None``).

The checks, in order, each a reason to fail:

1. the rewrite runs (a ``PassError`` or any exception fails, with its diagnostics);
2. the module handed to the rewrite is untouched when the rewrite returns a new module (the
   contract of ``run_pipeline``), and the caller's module is never touched;
3. the result verifies (``graphsynth.verify``) and survives the text form: it prints, parses
   back, verifies and prints identically (``round_trip``, default True);
4. the interface is unchanged: every graph of the input is still there (graphs the rewrite adds
   are allowed) with the same input names and types, result types and (with ``keep_params``,
   the default) the same parameters by ``state_dict`` key, kind and type;
5. the lowered modules (``graphsynth.lower``) agree numerically on random inputs at two or more
   bindings of each symbol (``n_bindings``, or ``bindings=[{...}, ...]``), with the same random
   parameters loaded by ``state_dict`` key (parameters the rewrite adds keep their initial
   values); ``rtol``/``atol`` default by dtype.

Without a module, modules are drawn from :func:`graphsynth.testing.strategies.modules` (options
such as ``ops``, ``max_ops``, ``symbols``, ``max_modules`` are passed to it, or give your own
``strategy``) by a hypothesis ``@given`` run internally (``max_examples``, ``settings``); on
failure the AssertionError carries the shrunk counter-example as gs text, before and after the
rewrite, with the reason.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker, RewritePattern

from graphsynth.diagnostics import Diagnostic, GraphsynthError, render_all
from graphsynth.dialects import gs
from graphsynth.grammar.printer import print_ir
from graphsynth.testing.numerics import Options, check_numerics, default_bindings

__all__ = [
    "MODULE_OPTIONS",
    "RewriteUnsound",
    "apply_rewrite",
    "assert_rewrite_sound",
    "check_interface",
    "check_numerics",
    "check_rewrite",
    "check_text_round_trip",
    "default_bindings",
    "rewrite_name",
]

MODULE_OPTIONS = frozenset(
    {
        "ops",
        "min_ops",
        "max_ops",
        "symbols",
        "min_inputs",
        "max_inputs",
        "max_rank",
        "dtype",
        "derived_inputs",
        "max_outputs",
        "max_modules",
        "names",
    }
)
"""Options of :func:`assert_rewrite_sound` that go to :func:`graphsynth.testing.strategies.modules`."""


class RewriteUnsound(AssertionError):
    """A rewrite failed one of the checks; the message says which, on which module."""


Rewrite = Any  # str | ModulePass | type[ModulePass] | RewritePattern | Sequence[RewritePattern] | Callable


# -- applying a rewrite -------------------------------------------------------------------------------


def rewrite_name(rewrite: Rewrite) -> str:
    if isinstance(rewrite, str):
        return f"pipeline '{rewrite}'"
    if isinstance(rewrite, ModulePass) or isinstance(rewrite, type) and issubclass(rewrite, ModulePass):
        return f"pass '{rewrite.name}'"
    if isinstance(rewrite, RewritePattern):
        return f"pattern {type(rewrite).__name__}"
    if isinstance(rewrite, type) and issubclass(rewrite, RewritePattern):
        return f"pattern {rewrite.__name__}"
    if isinstance(rewrite, (list, tuple)):
        return "patterns " + ", ".join(rewrite_name(p).removeprefix("pattern ") for p in rewrite)
    return f"rewrite {getattr(rewrite, '__qualname__', type(rewrite).__name__)}"


def _patterns(rewrite: Rewrite) -> list[RewritePattern] | None:
    items = list(rewrite) if isinstance(rewrite, (list, tuple)) else [rewrite]
    out = []
    for p in items:
        if isinstance(p, type) and issubclass(p, RewritePattern):
            p = p()
        if not isinstance(p, RewritePattern):
            return None
        out.append(p)
    return out


def apply_rewrite(rewrite: Rewrite, module: ModuleOp) -> ModuleOp:
    """Apply ``rewrite`` the way :func:`assert_rewrite_sound` does and return the new module;
    ``module`` itself is never modified (patterns and callables work on a copy).  Raises what
    the rewrite raises (``PassError`` for pipelines).  Pipeline text is resolved in the table of
    every pass (:func:`graphsynth.pipeline.all_passes`, ``llm-rewrite`` included)."""
    from graphsynth.pipeline import run_pipeline

    if isinstance(rewrite, str):
        return run_pipeline(module, rewrite)
    if isinstance(rewrite, type) and issubclass(rewrite, ModulePass):
        rewrite = rewrite()
    if isinstance(rewrite, ModulePass):
        return run_pipeline(module, [rewrite])
    patterns = _patterns(rewrite)
    if patterns is not None:
        work = module.clone()
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns), walk_reverse=True).rewrite_module(work)
        return work
    if callable(rewrite):
        work = module.clone()
        before = _generic(work)
        result = rewrite(work)
        if result is None or result is work:
            return work
        if not isinstance(result, ModuleOp):
            raise TypeError(f"{rewrite_name(rewrite)} returned {type(result).__name__}, expected a ModuleOp or None")
        if _generic(work) != before:
            raise _Contract(
                "returned a new module but also modified the module it was given; a rewrite that returns "
                "a module must leave its argument alone (or return the argument itself)"
            )
        return result
    raise TypeError(
        f"assert_rewrite_sound: cannot apply {rewrite!r}; expected a pass name or pipeline string, a ModulePass, "
        "a RewritePattern or a callable ModuleOp -> ModuleOp"
    )


class _Contract(Exception):
    """The rewrite broke the module-in, module-out contract."""


def _generic(module: ModuleOp) -> str:
    """The MLIR generic text: every property, attribute and location, for 'untouched' checks."""
    from xdsl.printer import Printer

    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return stream.getvalue()


# -- the checks -------------------------------------------------------------------------------------------


def check_rewrite(rewrite: Rewrite, module: ModuleOp, **opts: Any) -> tuple[str | None, ModuleOp | None]:
    """Run every check on one module; returns (``None``, result) when sound, else (the reason,
    the result if there is one).  :func:`assert_rewrite_sound` turns a reason into an error."""
    o = Options(**opts)
    before = _generic(module)
    try:
        result = apply_rewrite(rewrite, module)
    except _Contract as e:
        return str(e), None
    except GraphsynthError as e:
        return f"it failed with diagnostics:\n{render_all(e.diagnostics)}", None
    except Exception as e:  # noqa: BLE001 - any crash of the rewrite is a finding
        return f"it raised {type(e).__name__}: {e}", None
    if _generic(module) != before:
        return "it modified its input module (a rewrite must return a new module and leave the input untouched)", None
    if not isinstance(result, ModuleOp):
        return f"it returned {type(result).__name__}, not a ModuleOp", None
    from graphsynth.verifier import verify

    try:
        diags = verify(result)
    except Exception as e:  # noqa: BLE001 - IR so broken that the verifier trips over it
        return f"its result is malformed (the verifier raised {type(e).__name__}: {e})", result
    if diags:
        return f"its result does not verify:\n{_render(diags)}", result
    if o.round_trip:
        problem = check_text_round_trip(result)
        if problem:
            return problem, result
    problem = check_interface(module, result, keep_params=o.keep_params, keep_names=o.keep_names, graphs=o.graphs)
    if problem:
        return f"it changed the interface: {problem}", result
    if o.numeric:
        problem = check_numerics(module, result, o)
        if problem:
            return problem, result
    return None, result


def check_text_round_trip(module: ModuleOp) -> str | None:
    """A rewrite's result must be writable as text: it prints, the text parses and verifies,
    and prints back identically (IR the text form cannot hold would be lost on the next save)."""
    from graphsynth.diagnostics import ParseError
    from graphsynth.grammar.parser import parse_ir
    from graphsynth.verifier import verify

    try:
        text = print_ir(module)
    except Exception as e:  # noqa: BLE001
        return f"its result does not print: {type(e).__name__}: {e}"
    try:
        again = parse_ir(text, filename="<rewritten>")
    except ParseError as e:
        return f"its result prints as text that does not parse back:\n{render_all(e.diagnostics)}"
    diags = verify(again)
    if diags:
        return f"its result prints as text that does not verify once parsed:\n{_render(diags)}"
    if print_ir(again) != text:
        return "its result prints as text that parses to a different module (print -> parse -> print changes it)"
    return None


def _render(diags: list[Diagnostic]) -> str:
    return "\n".join(d.render() for d in diags)


def interface_of(module: ModuleOp, keep_params: bool = True) -> dict[str, dict[str, Any]]:
    """graph name -> its inputs (name, type), result types and parameters (key -> kind, type)."""
    out: dict[str, dict[str, Any]] = {}
    for g in gs.graph_ops(module):
        entry: dict[str, Any] = {
            "inputs": [(n.data, str(a.type)) for n, a in zip(g.arg_names.data, g.body.block.args)],
            "results": [str(t) for t in g.output_types.data],
        }
        if keep_params:
            entry["params"] = {
                op.param_name.data: (op.kind.data, str(op.results[0].type))
                for op in g.body.block.ops
                if isinstance(op, gs.ParamOp)
            }
        out[g.graph_name] = entry
    return out


def check_interface(
    before: ModuleOp,
    after: ModuleOp,
    *,
    keep_params: bool = True,
    keep_names: bool = True,
    graphs: Sequence[str] | None = None,
) -> str | None:
    """The first difference between the interfaces of ``graphs`` (default: every graph of
    ``before``) in the two modules, or None.  Graphs the rewrite adds are not part of it."""
    a, b = interface_of(before, keep_params), interface_of(after, keep_params)
    names = list(a) if graphs is None else list(graphs)
    for name in names:
        if name not in a:
            return f"graph {name} is not in the input module (graphs: {', '.join(a)})"
        if name not in b:
            return f"graph {name} is gone (graphs now: {', '.join(b) or 'none'})"
        x, y = a[name], b[name]
        xin = x["inputs"] if keep_names else [t for _, t in x["inputs"]]
        yin = y["inputs"] if keep_names else [t for _, t in y["inputs"]]
        if xin != yin:
            return f"graph {name}: inputs {_fmt(x['inputs'])} became {_fmt(y['inputs'])}"
        if x["results"] != y["results"]:
            return f"graph {name}: result types {', '.join(x['results'])} became {', '.join(y['results']) or 'none'}"
        if keep_params and x["params"] != y["params"]:
            gone = sorted(set(x["params"]) - set(y["params"]))
            new = sorted(set(y["params"]) - set(x["params"]))
            changed = sorted(k for k in set(x["params"]) & set(y["params"]) if x["params"][k] != y["params"][k])
            parts = []
            if gone:
                parts.append("removed " + ", ".join(gone))
            if new:
                parts.append("added " + ", ".join(new))
            for k in changed:
                parts.append(f"{k}: {' '.join(x['params'][k])} became {' '.join(y['params'][k])}")
            return f"graph {name}: parameters changed ({'; '.join(parts)}); pass keep_params=False if that is intended"
    return None


def _fmt(ins: list[tuple[str, str]]) -> str:
    return "(" + ", ".join(f"{n}: {t}" for n, t in ins) + ")"


# -- the entry point ---------------------------------------------------------------------------------------


def _report(rewrite: Rewrite, module: ModuleOp, reason: str, result: ModuleOp | None, shrunk: bool) -> str:
    head = f"{rewrite_name(rewrite)} is unsound: {reason}"
    which = "counter-example (shrunk by hypothesis)" if shrunk else "input module"
    lines = [head, "", f"{which}:", print_ir(module).rstrip("\n")]
    if result is not None:
        try:
            after = print_ir(result).rstrip("\n")
        except Exception as e:  # noqa: BLE001
            after = f"<does not print: {type(e).__name__}: {e}>"
        lines += ["", "after the rewrite:", after]
    return "\n".join(lines)


_CHECK_OPTIONS = frozenset(
    {
        "rtol",
        "atol",
        "bindings",
        "n_bindings",
        "keep_params",
        "keep_names",
        "numeric",
        "seed",
        "inputs",
        "graphs",
        "round_trip",
    }
)


def assert_rewrite_sound(rewrite: Rewrite, module: ModuleOp | None = None, **opts: Any) -> ModuleOp | None:
    """Assert that ``rewrite`` is sound on ``module``, or on modules drawn by hypothesis.

    Options: ``rtol``, ``atol`` (default by output dtype, see :data:`TOLERANCES`), ``bindings``
    (a list of symbol bindings) or ``n_bindings`` (default 2), ``keep_params`` (default True:
    parameters keep their keys, kinds and types), ``keep_names`` (default True: input names
    stay), ``numeric`` and ``round_trip`` (default True), ``seed``, ``inputs`` (``f(name, shape, dtype, generator)
    -> tensor`` for graph inputs that need special values, e.g. valid indices), ``graphs`` (the
    graphs whose interface and function must stay; default every graph of the input; graphs
    the rewrite adds, like ``outline``'s callees, are free).
    When drawing: ``max_examples`` (default 30), ``strategy`` (default
    ``strategies.modules(...)`` with the options in :data:`MODULE_OPTIONS`), ``settings`` (a
    ``hypothesis.settings`` to start from).

    Returns the rewritten module when ``module`` is given; raises :class:`RewriteUnsound` (an
    AssertionError) with the module, the result and the reason otherwise.
    """
    _validate(rewrite)
    check_opts = {k: opts.pop(k) for k in list(opts) if k in _CHECK_OPTIONS}
    if module is not None:
        if opts:
            raise TypeError(
                f"assert_rewrite_sound: options {sorted(opts)} only apply when modules are drawn (module=None)"
            )
        reason, result = check_rewrite(rewrite, module, **check_opts)
        if reason is not None:
            raise RewriteUnsound(_report(rewrite, module, reason, result, shrunk=False))
        return result
    _draw_and_check(rewrite, check_opts, **opts)
    return None


def _validate(rewrite: Rewrite) -> None:
    """Usage errors surface at once, not as an unsound rewrite: a rewrite of no known kind is a
    TypeError, a pipeline that does not parse a PassError (GS404, listing the passes)."""
    if isinstance(rewrite, str):
        from graphsynth.pipeline import parse_pipeline

        parse_pipeline(rewrite)
        return
    if isinstance(rewrite, ModulePass) or isinstance(rewrite, type) and issubclass(rewrite, ModulePass):
        return
    if _patterns(rewrite) is not None or callable(rewrite):
        return
    raise TypeError(
        f"assert_rewrite_sound: cannot apply {rewrite!r}; expected a pass name or pipeline string, a ModulePass, "
        "a RewritePattern or a callable ModuleOp -> ModuleOp"
    )


def _draw_and_check(
    rewrite: Rewrite,
    check_opts: dict[str, Any],
    *,
    max_examples: int = 30,
    strategy: Any = None,
    settings: Any = None,
    **module_opts: Any,
) -> None:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as Settings

    from graphsynth.testing.strategies import modules

    unknown = set(module_opts) - MODULE_OPTIONS
    if unknown:
        valid = sorted(MODULE_OPTIONS | _CHECK_OPTIONS | {"max_examples", "strategy", "settings"})
        raise TypeError(f"assert_rewrite_sound: unknown option(s) {sorted(unknown)}; valid: {', '.join(valid)}")
    if strategy is not None and module_opts:
        raise TypeError(
            f"assert_rewrite_sound: {sorted(module_opts)} configure the default strategy; not with strategy="
        )
    strat = strategy if strategy is not None else modules(**module_opts)
    base = settings if settings is not None else Settings(database=None)
    conf = Settings(
        base,
        max_examples=max_examples,
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )

    @conf
    @given(strat)
    def run(module: ModuleOp) -> None:
        reason, result = check_rewrite(rewrite, module, **check_opts)
        if reason is not None:
            err = RewriteUnsound(reason)
            err.example = (module, reason, result)
            raise err

    try:
        run()
    except RewriteUnsound as e:
        # Hypothesis raises the error of its final run, the shrunk example.
        module, reason, result = e.example
        raise RewriteUnsound(_report(rewrite, module, reason, result, shrunk=True)) from None
