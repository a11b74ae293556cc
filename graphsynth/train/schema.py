"""Reading and checking the JSON documents models reply with.

A reply is text; :func:`extract_json` finds the one JSON object in it (a fenced ```json block, or
the first ``{`` that starts a complete object) and :func:`validate` checks it against a schema
written in the JSON Schema vocabulary (draft 2020-12), of which the documents here use this
subset: ``type`` (a name or a list of names), ``enum``, ``properties``, ``required``,
``additionalProperties: false``, ``items``, ``minItems``/``maxItems``, ``minLength``/``maxLength``,
``minimum``/``maximum``.  The same schema is shown to the model in the prompt; the test suite
checks :func:`validate` against the ``jsonschema`` package on the shipped schemas.

Problems are diagnostics: GS921 when there is no JSON object (or it is too large or too deeply
nested), GS922 for each way the object departs from the schema, naming the JSON path
(``$.changes[0].hp.lr``), what was expected and what was found.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphsynth.diagnostics import Diagnostic, error

MAX_REPLY_CHARS = 200_000
MAX_ERRORS = 8
_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.S)
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def extract_json(text: str) -> tuple[Any, list[Diagnostic]]:
    """(the object, []) or (None, [GS921 diagnostic])."""
    if len(text) > MAX_REPLY_CHARS:
        return None, [error("GS921", f"the reply has {len(text):,} characters; the limit is {MAX_REPLY_CHARS:,}",
                            fix="reply with one JSON object, nothing else")]
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(text[start:])
    last: str = "no '{' in the reply"
    for c in candidates:
        c = c.strip()
        try:
            obj, _ = json.JSONDecoder().raw_decode(c)
        except RecursionError:
            return None, [error("GS921", "the reply's JSON nests too deeply to read")]
        except ValueError as e:
            last = str(e)
            continue
        if isinstance(obj, dict):
            return obj, []
        last = f"the JSON value is a {type(obj).__name__}, not an object"
    return None, [error("GS921", f"the reply holds no JSON object ({last})",
                        fix="reply with exactly one JSON object that matches the schema, in a ```json block")]


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) != float("inf")
    return isinstance(value, _TYPES.get(name, ()))


def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def validate(doc: Any, schema: dict[str, Any], path: str = "$") -> list[Diagnostic]:
    """GS922 diagnostics for every departure of ``doc`` from ``schema`` (at most MAX_ERRORS)."""
    out: list[Diagnostic] = []
    _check(doc, schema, path, out)
    return out[:MAX_ERRORS]


def _bad(out: list[Diagnostic], path: str, want: str, got: Any) -> None:
    out.append(error("GS922", f"{path}: expected {want}, got {_show(got)}", value=path, expected=want, got=_show(got)))


def _check(v: Any, s: dict[str, Any], path: str, out: list[Diagnostic]) -> None:
    if len(out) >= MAX_ERRORS:
        return
    types = s.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(v, t) for t in names):
            _bad(out, path, " or ".join(f"a{'n' if t[0] in 'aeiou' else ''} {t}" for t in names), v)
            return
    if "enum" in s and v not in s["enum"]:
        _bad(out, path, "one of " + ", ".join(json.dumps(e) for e in s["enum"]), v)
        return
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        lo, hi = s.get("minimum"), s.get("maximum")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            _bad(out, path, f"a number in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]", v)
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            _bad(out, path, f"a string of at most {s['maxLength']} characters", f"{len(v)} characters")
        if "minLength" in s and len(v) < s["minLength"]:
            _bad(out, path, f"a string of at least {s['minLength']} characters", v)
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            _bad(out, path, f"at most {s['maxItems']} items", f"{len(v)} items")
            return
        if "minItems" in s and len(v) < s["minItems"]:
            _bad(out, path, f"at least {s['minItems']} items", f"{len(v)} items")
        item = s.get("items")
        if isinstance(item, dict):
            for i, x in enumerate(v):
                _check(x, item, f"{path}[{i}]", out)
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                out.append(error("GS922", f"{path}: the required key '{k}' is missing", value=path, expected=k, got="nothing"))
        if s.get("additionalProperties") is False:
            for k in v:
                if k not in props:
                    import difflib

                    close = difflib.get_close_matches(str(k), list(props), n=1)
                    out.append(error("GS922", f"{path}: unknown key '{k}'", value=f"{path}.{k}", expected=" | ".join(props),
                                     got=str(k), fix=f"did you mean '{close[0]}'?" if close else None))
        for k, sub in props.items():
            if k in v:
                _check(v[k], sub, f"{path}.{k}", out)


def render_problems(diags: list[Diagnostic], limit: int = 12) -> str:
    """The diagnostics as the model reads them back (rendered MLIR-style, capped)."""
    lines = [d.render() for d in diags[:limit]]
    if len(diags) > limit:
        lines.append(f"... and {len(diags) - limit} more")
    return "\n".join(lines)
