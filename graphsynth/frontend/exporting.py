"""Running torch.export for the importer, and explaining what it refuses.

``dynamic_dims`` become ``torch.export.Dim`` objects (:func:`dim_requests`: a name gives a
``Dim`` of that name, one object per name; an unnamed dim gets ``<input>_<axis>``; a ``Dim`` or a
Dim expression is used as given).  :func:`export_with_diagnostics` exports (non-strict); when
export narrows the range of a dim given only by name, it retries once with that range (a name
says "dynamic", not "unbounded").  Any other constraint violation is GS603 naming the dim, the
guard in the user's names and the source line that added it (:func:`specialised_dims`); any
other failure is GS601 with export's reason and what to do (:func:`export_failure`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sysconfig
import traceback
from collections.abc import Iterator
from typing import Any

from graphsynth.diagnostics import Diagnostic, FrontendError, Location, error

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# -- 2. dynamic dims --------------------------------------------------------------------------


class DimRequest:
    """One dynamic dim the user asked for: where it is, its name, and the Dim export sees.
    ``by_name`` is true when the user gave only a name (export may narrow its range)."""

    def __init__(self, arg: str, axis: int, name: str, dim: Any, by_name: bool):
        self.arg = arg
        self.axis = axis
        self.name = name
        self.dim = dim
        self.by_name = by_name

    def where(self) -> str:
        return f"dim {self.axis} of input '{self.arg}'"


def dim_requests(tensors: dict[str, Any], dynamic_dims: dict[str, Any]) -> list[DimRequest]:
    from torch.export import Dim
    from torch.export.dynamic_shapes import _DimHint

    if not isinstance(dynamic_dims, dict):
        raise FrontendError([error("GS601", f"dynamic_dims must be a dict keyed by input name, got {type(dynamic_dims).__name__}")])
    by_name: dict[str, Any] = {}
    out: list[DimRequest] = []
    for arg, spec in dynamic_dims.items():
        if arg not in tensors:
            raise FrontendError(
                [error("GS601", f"dynamic_dims names '{arg}', which is not a tensor input of forward (tensor inputs: {', '.join(tensors)})", got=str(arg))]
            )
        rank = tensors[arg].dim()
        if isinstance(spec, (list, tuple, set)):
            items = [(a, None) for a in spec]
        elif isinstance(spec, dict):
            items = list(spec.items())
        elif spec is None:
            continue
        else:
            raise FrontendError([error("GS601", f"dynamic_dims['{arg}'] must be a dict {{axis: name}} or a list of axes, got {type(spec).__name__}")])
        for axis, d in items:
            if not isinstance(axis, int) or not -rank <= axis < rank:
                raise FrontendError([error("GS601", f"dynamic_dims['{arg}'] names axis {axis!r}, but '{arg}' has rank {rank}")])
            axis %= rank
            if d is None or isinstance(d, _DimHint):
                name = f"{arg}_{axis}"
                dim = by_name.setdefault(name, Dim(name))
                out.append(DimRequest(arg, axis, name, dim, True))
            elif isinstance(d, str):
                if not _NAME.match(d):
                    raise FrontendError([error("GS601", f"dim name '{d}' for {arg} axis {axis} is not an identifier (letters, digits, _)")])
                dim = by_name.setdefault(d, Dim(d))
                out.append(DimRequest(arg, axis, d, dim, True))
            elif isinstance(d, Dim):
                root = getattr(d, "root", d)
                out.append(DimRequest(arg, axis, root.__name__, d, False))
            else:
                raise FrontendError([error("GS601", f"dynamic_dims['{arg}'][{axis}] must be a name, None or a torch.export.Dim, got {d!r}")])
    return out


# -- 3. export --------------------------------------------------------------------------------


def export_with_diagnostics(model: Any, tensors: dict[str, Any], constants: dict[str, Any], requests: list[DimRequest],
                            refused: list[Diagnostic] | None = None) -> Any:
    """The ExportedProgram, or FrontendError.  When export succeeds only with its guards
    deferred as run-time assertions, the GS603 diagnostics of the refused guards are appended
    to ``refused``: the caller reports them if the program cannot be imported after all."""
    import torch

    deferred = False
    first: list[Diagnostic] | None = None
    for attempt in range(4):
        shapes: dict[str, Any] = {name: None for name in tensors}
        for r in requests:
            shapes[r.arg] = {**(shapes[r.arg] or {}), r.axis: r.dim}
        recorder = _GuardRecorder()
        try:
            with _bound_forward(model, constants), recorder, _quiet_torch_logs():
                ep = torch.export.export(model, (), dict(tensors), dynamic_shapes=shapes if requests else None, strict=False,
                                         prefer_deferred_runtime_asserts_over_guards=deferred)
            if first is not None and refused is not None:
                refused.extend(first)
            return ep
        except Exception as e:  # noqa: BLE001 - every export failure becomes a diagnostic
            if first is not None:
                raise FrontendError(first) from None
            if _is_constraint_violation(e):
                if attempt < 2 and _refine_ranges(str(e), requests, tensors):
                    continue
                # A guard export cannot prove for the whole range (ceil_mode pooling's
                # ``2*(H//2)-2 < H``) may still hold on all of it: export once more with the guard
                # kept as a run-time assertion, which the converter checks over the range
                # (GS620 where it fails), instead of refusing the dim.
                first = specialised_dims(e, requests, recorder)
                deferred = True
                continue
            raise FrontendError([export_failure(e, model)]) from None
    raise FrontendError(first or [error("GS601", "torch.export failed")])


_NOISY_LOGGERS = ("torch._subclasses.fake_tensor", "torch.fx.experimental.symbolic_shapes", "torch._export", "torch.export")


@contextlib.contextmanager
def _quiet_torch_logs() -> Iterator[None]:
    """torch logs the traceback of a failing meta kernel and guard warnings to stderr while
    exporting; the diagnostic says the same in one message, so keep them quiet meanwhile."""
    import logging

    saved = []
    for name in _NOISY_LOGGERS:
        log = logging.getLogger(name)
        saved.append((log, log.level))
        log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for log, level in saved:
            log.setLevel(level)


@contextlib.contextmanager
def _bound_forward(model: Any, constants: dict[str, Any]) -> Iterator[None]:
    """Bind the non-tensor inputs (return_dict=False...) into forward for the export.

    torch.export cannot take them as keyword inputs beside dynamic shapes (its dynamic_shapes
    check fails on ``**kwargs`` entries that are not tensors), and they are constants anyway.
    """
    if not constants:
        yield
        return
    had = "forward" in model.__dict__
    old = model.__dict__.get("forward")
    model.forward = functools.partial(model.forward, **constants)
    try:
        yield
    finally:
        if had:
            model.forward = old
        else:
            del model.forward


class _GuardRecorder:
    """Records, for every shape guard export adds, the innermost frame of the model's own
    code, so that a specialised dim can be explained by the line that specialised it.

    It wraps ``ShapeEnv.__init__`` to give each new ShapeEnv a recording guard list.  This
    leans on torch internals; if they change, diagnostics lose the source line, nothing else.
    """

    def __init__(self) -> None:
        self.envs: list[Any] = []
        self._orig: Any = None

    def __enter__(self) -> _GuardRecorder:  # noqa: PYI034
        try:
            from torch.fx.experimental import symbolic_shapes as ss
        except ImportError:  # pragma: no cover
            return self
        orig = ss.ShapeEnv.__init__
        envs = self.envs

        @functools.wraps(orig)
        def init(env: Any, *a: Any, **k: Any) -> None:
            orig(env, *a, **k)
            if isinstance(getattr(env, "guards", None), list):
                rec = _RecordingList(env.guards)
                env.guards = rec
                envs.append(env)

        self._orig = orig
        ss.ShapeEnv.__init__ = init
        return self

    def __exit__(self, *exc: object) -> None:
        if self._orig is not None:
            from torch.fx.experimental import symbolic_shapes as ss

            ss.ShapeEnv.__init__ = self._orig


_SKIP_DIRS: tuple[str, ...] = ()


def _skip_dirs() -> tuple[str, ...]:
    global _SKIP_DIRS
    if not _SKIP_DIRS:
        import torch

        _SKIP_DIRS = (
            os.path.dirname(torch.__file__) + os.sep,
            sysconfig.get_paths()["stdlib"] + os.sep,
            os.path.dirname(os.path.dirname(__file__)) + os.sep,
        )
    return _SKIP_DIRS


def user_frame(frames: list[traceback.FrameSummary]) -> traceback.FrameSummary | None:
    """The innermost frame of the model's code: outside torch, the standard library and
    graphsynth, and called from graphsynth (the caller of import_torch is not the model)."""
    skip = _skip_dirs()
    ours = skip[2]
    start = min((i for i, f in enumerate(frames) if f.filename.startswith(ours)), default=-1)
    for f in reversed(frames[start + 1 :]):
        name = f.filename
        if name.startswith(("<", skip[0], skip[2])):
            continue
        if name.startswith(skip[1]) and "site-packages" not in name and "dist-packages" not in name:
            continue  # the standard library (site-packages lives inside its directory)
        return f
    return None


class _RecordingList(list):
    def __init__(self, items: list[Any]):
        super().__init__(items)
        self.frames: list[traceback.FrameSummary | None] = [None] * len(items)

    def append(self, item: Any) -> None:
        try:
            frame = user_frame(traceback.extract_stack())
        except Exception:  # noqa: BLE001 - recording must never break export
            frame = None
        self.frames.append(frame)
        super().append(item)


def _is_constraint_violation(e: Exception) -> bool:
    return "Constraints violated" in str(e)


_RANGE_FIX = re.compile(r"^\s*(\w+) = Dim\('(\w+)'((?:, (?:min|max)=\w+)*)\)\s*$")


def _suggested_fixes(text: str) -> list[str]:
    lines = text.splitlines()
    try:
        k = next(i for i, ln in enumerate(lines) if ln.strip() == "Suggested fixes:")
    except StopIteration:
        return []
    out = []
    for ln in lines[k + 1 :]:
        if not ln.startswith("  ") or not ln.strip():
            break
        out.append(ln.strip())
    return out


_GUARD_OF = re.compile(r"Not all values of (\w+) = (\S+) in the specified range(?: .*?)? satisfy the generated guard (.*?)\.?$")
_SAFE_GUARD = re.compile(r"^[\sv0-9()+\-*/%<>=!,]*$")
_SCAN = 4096  # how far beyond the example a guard must keep holding for the range to stay open


def _refine_ranges(text: str, requests: list[DimRequest], tensors: dict[str, Any]) -> bool:
    """Narrow the range of dims the user gave only by name until export accepts them; return
    whether anything changed (then the caller exports again).

    Two sources: export's suggested fixes when they are plain ranges (``S = Dim('S', max=64)``
    for a position table), and the violated guards themselves when each mentions one dim:
    ``S-1 != 1`` (a slice export will not let reach size 1) or ``S != 64`` (GPT-Neo) hold on
    a range around the example's size, and that range is taken.  A guard export cannot turn
    into a range (a divisibility, a relation between two dims) leaves the dim alone and ends
    in GS603.  The range export settles on is declared in the IR (``symbol S: [2, 64]``), so
    the lowered module refuses what the graph was not traced for."""
    from torch.export import Dim

    by_name = {r.name: r for r in requests if r.by_name}
    bounds: dict[str, list[Any]] = {n: [r.dim.min, r.dim.max] for n, r in by_name.items()}
    fixes = _suggested_fixes(text)
    matches = [_RANGE_FIX.match(f) for f in fixes]
    if fixes and all(m and m.group(1) == m.group(2) and m.group(1) in by_name for m in matches):
        for m in matches:
            for part in m.group(3).split(", ")[1:]:
                key, val = part.split("=")
                if val not in ("oo", "int_oo"):
                    bounds[m.group(1)][0 if key == "min" else 1] = int(val)
    for name, exprs in _single_dim_guards(text, by_name).items():
        r = by_name[name]
        lo, hi = bounds[name]
        narrowed = _range_where(exprs, int(tensors[r.arg].shape[r.axis]), lo, hi)
        if narrowed is not None:
            bounds[name] = list(narrowed)
    changed = False
    made: dict[str, Any] = {}
    for r in requests:
        if r.name not in by_name:
            continue
        lo, hi = bounds[r.name]
        if (lo, hi) == (r.dim.min, r.dim.max):
            continue
        kw = {"min": int(lo)} if isinstance(lo, int) and lo > 0 else {}
        if isinstance(hi, int) and hi < 2**40:
            kw["max"] = int(hi)
        try:
            r.dim = made.setdefault(r.name, Dim(r.name, **kw))
        except (AssertionError, ValueError):
            continue
        changed = True
    return changed


def _single_dim_guards(text: str, by_name: dict[str, DimRequest]) -> dict[str, list[str]]:
    """The violated guards as Python expressions in ``v``, for dims given by name whose
    guards mention only that dim (others are left to GS603)."""
    out: dict[str, list[str]] = {}
    bad: set[str] = set()
    for line in text.splitlines():
        m = _GUARD_OF.search(line.strip())
        if not m or m.group(1) not in by_name:
            continue
        name, src, guard = m.groups()
        expr = guard.replace(src, "v")
        words = re.sub(r"\b(max|min|and|or|not)\b", " ", expr)
        if not _SAFE_GUARD.match(words):
            bad.add(name)  # a guard on several dims, or one we cannot read: no guessing
            continue
        out.setdefault(name, []).append(expr)
    return {k: v for k, v in out.items() if k not in bad}


def _range_where(exprs: list[str], example: int, lo: Any, hi: Any) -> tuple[int, Any] | None:
    """The widest [lo', hi'] inside [lo, hi] around ``example`` where every guard holds
    (hi' stays open when they hold for _SCAN values past the example)."""

    def holds(v: int) -> bool:
        try:
            return all(eval(e, {"__builtins__": {}}, {"v": v, "max": max, "min": min}) for e in exprs)  # checked by _SAFE_GUARD
        except (ArithmeticError, SyntaxError, TypeError, NameError):
            return False

    if not holds(example):
        return None
    floor = max(int(lo) if isinstance(lo, int) else 0, 2)
    new_lo = example
    while new_lo - 1 >= floor and holds(new_lo - 1):
        new_lo -= 1
    top = int(hi) if isinstance(hi, int) and hi < 2**40 else None
    limit = example + _SCAN if top is None else min(top, example + _SCAN)
    new_hi = example
    while new_hi + 1 <= limit and holds(new_hi + 1):
        new_hi += 1
    if new_hi == limit and top is None:
        return new_lo, hi
    if new_hi <= new_lo:
        return None  # holds at the example alone: a divisibility or a constant, not a range
    return new_lo, new_hi


_VIOLATION = re.compile(r"^\s*- (.*)$")


def specialised_dims(e: Exception, requests: list[DimRequest], recorder: _GuardRecorder) -> list[Diagnostic]:
    """GS603, one per dim export could not keep dynamic: the dim, the guard, where it came from."""
    text = str(e)
    head = re.search(r"Constraints violated \(([^)]*)\)", text)
    names = [n.strip() for n in head.group(1).split(",")] if head else []
    bullets = [m.group(1) for m in map(_VIOLATION.match, text.splitlines()) if m]
    fixes = _suggested_fixes(text)
    by_name: dict[str, list[DimRequest]] = {}
    for r in requests:
        by_name.setdefault(r.name, []).append(r)
    env = recorder.envs[-1] if recorder.envs else None
    sym_of = _symbols_of_requests(env, requests)
    sym_names = {s: r.name for s, r in sym_of.items()}
    diags = []
    for name in names or list(by_name):
        reqs = by_name.get(name) or []
        where = ", ".join(r.where() for r in reqs) or f"dim {name}"
        mine = [b for b in bullets if re.search(rf"\b{re.escape(name)}\b", b)]
        guards = _guards_for(env, [s for s, r in sym_of.items() if r.name == name], sym_names)
        fix_lines = [f for f in fixes if re.match(rf"^_?{re.escape(name)}\b", f)]
        summary, fix = _explain(name, mine, fix_lines, reqs)
        msg = f"dynamic dim {name} ({where}) {summary}"
        notes = []
        loc = Location(guards[0][1].filename, guards[0][1].lineno or 1, 1) if guards and guards[0][1] else None
        line = guards[0][1].line if guards and guards[0][1] else None
        for rel, frame in guards[1:4]:
            at = f" at {frame.filename}:{frame.lineno}: {(frame.line or '').strip()}" if frame else ""
            notes.append(f"guard {rel}{at}")
            if loc is None and frame is not None:
                loc = Location(frame.filename, frame.lineno or 1, 1)
                line = frame.line
        if guards and guards[0][1] is not None:
            g = guards[0]
            msg += f": guard {g[0]} added at {os.path.basename(g[1].filename)}:{g[1].lineno}"
        elif guards:
            msg += f": guard {guards[0][0]}"
        diags.append(error("GS603", msg, value=name, loc=loc, source_line=line, fix=fix, notes=notes))
    return diags


def _explain(name: str, bullets: list[str], fixes: list[str], reqs: list[DimRequest]) -> tuple[str, str]:
    joined = " ".join(bullets)
    m = re.search(r"specialized it to be a constant \((\d+)\)", joined)
    if m:
        value = int(m.group(1))
        fix = (
            f"the model's code needs this size to be exactly {value}: leave it out of dynamic_dims (it is static), "
            "or change the code that compares or branches on it"
        )
        if value in (0, 1):
            fix += "; export treats sizes 0 and 1 specially, so use an example input whose size is at least 2 there"
        return f"was specialised to the constant {value}", fix
    m = re.search(r"The values of (\w+) = .* and (\w+) = .* must always be equal", joined)
    if m:
        other = m.group(2) if m.group(1) == name else m.group(1)
        return f"must always equal {other}", f"give both dims the same name ('{other}')"
    if fixes:
        arg, axis = (reqs[0].arg, reqs[0].axis) if reqs else ("x", 0)
        return "cannot take every value: export needs a narrower range or a divisibility", (
            f"pass the torch.export.Dim export suggests: dynamic_dims={{'{arg}': {{{axis}: {_dim_suggestion(name, fixes)}}}}}"
        )
    arg, axis = (reqs[0].arg, reqs[0].axis) if reqs else ("x", 0)
    return "cannot take every value: a guard export added does not hold for all of them", (
        f"give {name} a range in which the guard holds, e.g. dynamic_dims={{'{arg}': {{{axis}: Dim('{name}', min=..., max=...)}}}} "
        "with torch.export.Dim, or leave it out of dynamic_dims (static)"
    )


def _dim_suggestion(name: str, fixes: list[str]) -> str:
    """export's suggested fix for one dim as a single expression: ``_F = Dim('_F', min=1,
    max=oo); F = 4*_F`` becomes ``4*Dim('_F', min=1)``."""
    defs = {}
    for f in fixes:
        k, _, v = f.partition(" = ")
        defs[k.strip()] = re.sub(r", max=(oo|int_oo)", "", v.strip())
    expr = defs.get(name, "")
    for k, v in defs.items():
        if k != name and v.startswith("Dim("):
            expr = re.sub(rf"\b{re.escape(k)}\b", v, expr)
    return expr or "Dim(...)"


def _symbols_of_requests(env: Any, requests: list[DimRequest]) -> dict[Any, DimRequest]:
    """Export's symbols for the requested dims, from the ShapeEnv's sources."""
    out: dict[Any, DimRequest] = {}
    if env is None:
        return out
    try:
        for sym, sources in env.var_to_sources.items():
            for src in sources:
                idx = getattr(src, "idx", None)
                base = getattr(src, "base", None)
                text = base.name() if base is not None and hasattr(base, "name") and callable(base.name) else str(base)
                for r in requests:
                    if idx == r.axis and re.search(rf"\b{re.escape(r.arg)}\b", text):
                        out[sym] = r
    except Exception:  # noqa: BLE001 - diagnostics degrade to the message alone
        return out
    return out


def _guards_for(env: Any, syms: list[Any], names: dict[Any, str]) -> list[tuple[str, traceback.FrameSummary | None]]:
    from graphsynth.frontend.symbols import format_relation

    if env is None or not syms:
        return []
    sym_names = {getattr(s, "name", str(s)): n for s, n in names.items()}
    guards = getattr(env, "guards", [])
    frames = getattr(guards, "frames", [None] * len(guards))
    out: list[tuple[str, traceback.FrameSummary | None]] = []
    seen = set()
    wanted = set(syms)
    for g, frame in zip(guards, frames):
        expr = getattr(g, "expr", None)
        if expr is None or not (expr.free_symbols & wanted):
            continue
        try:
            rel = format_relation(expr, sym_names)
        except Exception:  # noqa: BLE001
            rel = str(expr)
        key = (rel, frame.filename if frame else None, frame.lineno if frame else None)
        if key in seen:
            continue
        seen.add(key)
        out.append((rel, frame))
    # Guards with a user frame first: they are the ones a user can act on.
    out.sort(key=lambda rf: rf[1] is None)
    return out


def export_failure(e: Exception, model: Any) -> Diagnostic:
    """GS601: export's reason in one message, where in the model, what to do."""
    kind = type(e).__name__
    text = str(e).strip()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), kind)
    frame = None
    # Export names the user's line in "The following call raised this error" blocks...
    m = re.search(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', text.split("The following call raised this error:")[-1]) if "The following call raised this error:" in text else None
    if m:
        frame = traceback.FrameSummary(m.group(1), int(m.group(2)), "", line=m.group(3))
    else:  # ...otherwise the traceback of the exception does.
        frame = user_frame(traceback.extract_tb(e.__traceback__))
    fix = "check that the model runs eagerly on the example inputs"
    if "data-dependent" in text or kind.startswith("GuardOnDataDependent"):
        first = "control flow or a shape depends on the values in a tensor: " + first
        fix = "make the branch independent of tensor values (torch.where, torch.cond) or compute the value outside forward"
    elif "not in range" in text:
        first = f"an example input size lies outside the range of its Dim: {first}"
        fix = "use example inputs inside the min/max of every torch.export.Dim you pass"
    elif kind in ("Unsupported", "UserError"):
        fix = "rewrite that line of the model so torch.export can trace it, or try strict export to get more detail"
    where = f" at {os.path.basename(frame.filename)}:{frame.lineno}" if frame else ""
    msg = f"torch.export could not trace {type(model).__name__}.forward{where}: {kind}: {first}"
    return error(
        "GS601",
        msg[:600],
        loc=Location(frame.filename, frame.lineno or 1, 1) if frame else None,
        source_line=frame.line if frame else None,
        fix=fix,
    )
