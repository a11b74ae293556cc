"""Re-running a recorded session: ``graphsynth-opt --replay transcript.jsonl``.

The transcript's header holds the input graph, the goal and its flags, the number of attempts
and the menu source, so the session can be re-run with nothing else: the same prompts are
rebuilt, every recorded reply is checked against the request it answered (by hash), and the
parse/verify/check verdicts are recomputed.  The run matches the recording when every verdict
and the output hash are the same.
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import IO, Any

from graphsynth.diagnostics import GraphsynthError, Location, error
from graphsynth.fileio import FileError, check_writable, exit_code, report, write_atomic
from graphsynth.llm.context import context_source
from graphsynth.llm.driver import RewriteResult, rewrite
from graphsynth.llm.prompt import FEEDBACK_STYLES
from graphsynth.llm.proposer import ProposerError, ReplayProposer
from graphsynth.llm.transcript import read_transcript


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def resolve_menu(source: str) -> Any:
    """The menu function named in a transcript header ('' = no menu)."""
    if not source:
        return None
    from graphsynth.llm.menu import menu_source

    return menu_source(source)


def replay_transcript(
    path: str | os.PathLike[str],
    module: Any = None,
    *,
    transcript_out: str | IO[str] | None = None,
    context: Any = None,
) -> RewriteResult:
    """Re-run the session recorded at ``path``; ``module`` defaults to the recorded input.

    Differences from the recording (a verdict, the output) are reported in ``result.notes``
    and make ``result.replay_ok`` false; a request that differs from the recorded one stops the
    replay with a GS507 error naming the attempt.
    """
    t = read_transcript(path)
    h = t.header
    if module is None:
        from graphsynth.grammar.parser import parse_ir

        module = parse_ir(h["input_ir"], filename=f"{os.path.basename(str(path))}:input")
    else:
        from graphsynth.grammar.printer import print_ir

        got = _sha(print_ir(module))
        if got != h.get("input_hash"):
            raise ProposerError(
                f"replay of {path}: the given graph (hash {got}) is not the recorded input "
                f"(hash {h.get('input_hash')})",
                fix="replay without an input file to use the recorded graph",
                loc=Location(str(path), t.header_line, 1),
            )
    flags = h.get("flags", {})
    goal = h["goal"]
    prefix = ("[preserve-semantics] " if flags.get("preserve_semantics") else "") + (
        "[change-interface] " if not flags.get("keep_interface", True) else ""
    )
    try:
        menu = resolve_menu(h.get("menu_source", ""))
        if context is None:
            context = context_source(h.get("context_source", ""))
    except ValueError as e:  # a menu or context the header names that does not exist
        raise ProposerError(f"{path}:{t.header_line}: {e}", loc=Location(str(path), t.header_line, 1)) from None
    feedback = h.get("feedback", "full")
    if feedback not in FEEDBACK_STYLES:
        raise ProposerError(
            f"replay of {path}: the header names an unknown feedback style {str(feedback)[:40]!r}",
            fix=f"the recorded session used one of {', '.join(FEEDBACK_STYLES)}; the transcript is corrupt",
            loc=Location(str(path), t.header_line, 1),
        )
    proposer = ReplayProposer(path)
    result = rewrite(
        module,
        prefix + goal,
        proposer,
        attempts=int(h.get("attempts", 4)),
        transcript=transcript_out,
        menu=menu,
        menu_source=h.get("menu_source", ""),
        context=context,
        context_source=h.get("context_source", ""),
        feedback=feedback,
        # Sessions recorded before the driver repaired by itself have no "repair" key.
        repair=bool(h.get("repair", False)),
    )
    recorded = [r.get("verdict") for r in t.attempts]
    replayed = [a.verdict for a in result.attempts]
    ok = True
    if recorded != replayed:
        ok = False
        result.notes.append(f"verdicts differ: recorded {recorded}, replayed {replayed}")
    rec_out = (t.result or {}).get("output_hash")
    new_out = _sha(result.output_text) if result.output_text is not None else None
    if rec_out != new_out:
        ok = False
        result.notes.append(f"output differs: recorded hash {rec_out}, replayed {new_out}")
    result.replay_ok = ok
    return result


def run_replay(
    path: str, err: IO[str] | None = None, *, prog: str = "graphsynth-opt", fmt: str = "text"
) -> tuple[int, RewriteResult | None]:
    """Replay ``path`` and report on ``err`` (the summary, notes, and why it failed; diagnostics
    in ``fmt``).  Returns ``(0, result)`` when the replay matches the recording and reached an
    accepted rewrite, else ``(1, None)`` (``2`` when the transcript itself cannot be read:
    GS001/GS003)."""
    err = err or sys.stderr
    try:
        result = replay_transcript(path)
    except GraphsynthError as e:  # unreadable or malformed transcript, a recorded input that does not parse
        report(prog, e.diagnostics, fmt, err)
        return exit_code(e.diagnostics), None
    except Exception as e:  # noqa: BLE001 - the CLI reports, it does not trace back
        err.write(error("GS507", f"replay of {path} failed: {type(e).__name__}: {e}").render() + "\n")
        return 1, None
    err.write(result.summary() + "\n")
    for n in result.notes:
        err.write(f"note: {n}\n")
    if not result.replay_ok:
        for d in result.diagnostics:
            err.write(d.render() + "\n")
        err.write(f"error: the replay of {path} does not match the recording\n")
        return 1, None
    if result.output_text is None:
        err.write("error: the recorded session did not reach an accepted rewrite (replayed faithfully)\n")
        return 1, None
    return 0, result


def replay_main(
    path: str, out: IO[str] | None = None, err: IO[str] | None = None, output_path: str | None = None
) -> int:
    """What ``graphsynth-opt --replay PATH [-o OUT]`` does: 0 when the replay matches the
    recording (the rewritten graph is printed, or written atomically to ``output_path``), 1
    otherwise (diagnostics on ``err``), 2 when the transcript cannot be read or the output
    cannot be written."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if output_path:
            check_writable(output_path)  # before the work, not after it
        code, result = run_replay(path, err)
        if result is None:
            return code
        text = result.output_text or ""
        text = text if text.endswith("\n") else text + "\n"
        if output_path:
            write_atomic(output_path, text)
        else:
            out.write(text)
    except FileError as e:
        report("graphsynth-opt", e.diagnostics, "text", err)
        return 2
    return 0
