"""The pass registry and the transactional pipeline runner.

A pipeline string uses MLIR syntax (``canonicalize,fuse-elementwise{max-ops=16}``) and is parsed
by xDSL's ``PassPipeline.parse_spec``.  Each pass runs on a clone; the verifier runs after it;
a pass that raises or whose output does not verify is reported as a ``PassError`` naming the
pass, and the caller's module is never touched.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline

from graphsynth.diagnostics import Diagnostic, PassError, error

PASSES: dict[str, Callable[[], type[ModulePass]]] = {}


def register(cls: type[ModulePass]) -> type[ModulePass]:
    """Class decorator: make a ModulePass available to pipelines by its ``name``."""
    if cls.name in PASSES:
        raise ValueError(f"pass '{cls.name}' is registered twice")
    PASSES[cls.name] = lambda: cls
    return cls


def pass_summary(name: str) -> str:
    """The first paragraph of the pass's docstring, on one line (for ``--help``)."""
    doc = (PASSES[name]().__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def context() -> Context:
    from graphsynth.dialects.gs import GS

    ctx = Context()
    ctx.load_dialect(GS)
    from xdsl.dialects.builtin import Builtin

    ctx.load_dialect(Builtin)
    return ctx


def parse_pipeline(pipeline: str) -> list[ModulePass]:
    """Pipeline text -> pass instances; unknown passes/options raise PassError (GS404)."""
    _load_builtin_passes()
    try:
        return list(PassPipeline.parse_spec(PASSES, pipeline).passes)
    except Exception as e:  # xDSL raises ValueError/PassPipelineParseError/TypeError for bad specs
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        valid = ", ".join(sorted(PASSES))
        raise PassError(
            "pipeline",
            [error("GS404", f"invalid pass pipeline '{pipeline}': {msg}", fix=f"registered passes: {valid}")],
        ) from None


def run_pipeline(
    module: ModuleOp,
    pipeline: str | list[ModulePass],
    *,
    after_pass: Callable[[ModulePass, ModuleOp, ModuleOp], None] | None = None,
) -> ModuleOp:
    """Apply ``pipeline`` to a clone of ``module``; return the new module (input untouched).

    ``after_pass(pass, before, after)`` is called after each pass that verified.
    """
    from graphsynth.verifier import verify

    passes = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    ctx = context()
    current = module.clone()
    for p in passes:
        candidate = current.clone()
        try:
            p.apply(ctx, candidate)
        except PassError:
            raise
        except Exception as e:  # a pass bug must not take the user's module with it
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


def _load_builtin_passes() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        import graphsynth.passes.builtin  # noqa: F401  (registers on import)
        from graphsynth.llm.rewrite_pass import LLMRewritePass

        register(LLMRewritePass)
