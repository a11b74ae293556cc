"""The error type of the training room: a task that cannot be loaded, hyper-parameters out of
their schema, data that cannot be made.  It carries GS9xx diagnostics like every other error."""

from __future__ import annotations

from typing import Any

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error


class TaskError(GraphsynthError):
    """A task file, its data or its hyper-parameters are unusable; ``.diagnostics`` says why."""


def task_error(code: str, message: str, **kw: Any) -> TaskError:
    return TaskError([error(code, message, **kw)])


def diagnostic_from_dict(d: dict[str, Any]) -> Diagnostic:
    """The inverse of ``Diagnostic.to_dict`` (diagnostics cross process boundaries and are stored
    in archives as dicts)."""
    loc = d.get("loc")
    known = {"severity", "code", "message", "op", "value", "expected", "got", "relation", "origin", "fix", "notes"}
    kw = {k: v for k, v in d.items() if k in known}
    kw.setdefault("severity", "error")
    kw.setdefault("code", "GS913")
    kw.setdefault("message", "")
    kw["notes"] = list(kw.get("notes") or [])
    if isinstance(loc, dict) and {"file", "line", "column"} <= set(loc):
        kw["loc"] = Location(str(loc["file"]), int(loc["line"]), int(loc["column"]))
    return Diagnostic(**kw)


def warning(code: str, message: str, **kw: Any) -> Diagnostic:
    """A diagnostic of severity ``warning`` (a finding, or a degraded recording)."""
    return Diagnostic("warning", code, message, **kw)
