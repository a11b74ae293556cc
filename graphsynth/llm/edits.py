"""The edit format: how a reply says what to change, and how it is applied to the graph text.

A reply holds either search/replace blocks or one menu choice.

Search/replace blocks, any number, anywhere in the reply (prose and code fences around them are
ignored)::

    <<<<<<< SEARCH
      %1: f32[B, 256] = relu(%0)
    =======
      %1: f32[B, 256] = gelu(%0)
    >>>>>>> REPLACE

The SEARCH part must equal whole consecutive lines of the offered text (leading and trailing
whitespace of each line is ignored: indentation carries no meaning in the text form) and must
occur exactly once in the region offered for editing.  Blocks are located in the original text,
all of them before any is applied, so their order does not matter; they must not overlap.  To
insert, repeat an anchor line and add lines after it; to delete, leave REPLACE empty.

A menu choice is one line ``CHOICE: <n>`` naming an entry of the numbered list of rewrites that
apply right now (see :mod:`graphsynth.llm.menu`).

Anything else is rejected with a diagnostic the model can act on: GS501 malformed edit (no edit,
unclosed block, overlapping blocks, a choice off the menu, a reply too large), GS502 anchor not
found (with the nearest line of the text), GS503 anchor found more than once (with the line
numbers), GS504 anchor outside the offered region.  Nothing in a reply is ever executed: it is
split into lines, compared with the text, and spliced in; the parser and verifier judge the rest.

Why this format: whole-line anchors cannot match half a token, so an edit either lands where the
model meant or is refused; models produce it reliably; and unlike line numbers it survives the
model miscounting.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field

from graphsynth.diagnostics import Diagnostic, GraphsynthError, Location, error

MAX_REPLY_CHARS = 1_000_000
MAX_BLOCKS = 64
MAX_MENU_CHOICE_DIGITS = 6

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_CHOICE = re.compile(r"^\s*\**CHOICE\**\s*:\s*\**\s*(\S+?)\s*\**\s*$", re.IGNORECASE)

FORMAT_HELP = """\
Answer with search/replace blocks (or, when a menu of rewrites is offered, one line `CHOICE: <n>`).

<<<<<<< SEARCH
<one or more whole, consecutive lines copied exactly from the graph text>
=======
<the lines that replace them>
>>>>>>> REPLACE

- SEARCH must match exactly one place in the editable text; include enough lines to be unique.
  Indentation is ignored when matching; copy each line's content exactly, types included.
- To insert lines, SEARCH for the line they follow and repeat it at the top of REPLACE.
  To delete lines, leave REPLACE empty.
- Several blocks are allowed; they are all located in the original text and must not overlap.
- Every value you define needs a unique %name and a type; every op follows the op reference.
  New parameters are declared with `param name: type` lines (state_dict keys, dotted).
- Do not explain at length; the blocks are what counts."""


class EditError(GraphsynthError):
    """The reply is not an applicable edit; ``.diagnostics`` says why (GS501-GS504)."""


@dataclass
class Block:
    search: list[str]
    replace: list[str]
    reply_line: int  # 1-based line of the <<<<<<< SEARCH marker in the reply


@dataclass
class Edit:
    mode: str  # "blocks" | "choice"
    blocks: list[Block] = field(default_factory=list)
    choice: int | None = None


@dataclass
class Offer:
    """The text a prompt offers: the whole printed module, and which of its lines the model may
    edit (0-based, half-open line ranges; None means all).  ``shown`` is what the prompt
    displays (a slice with folded context, say); it defaults to the whole text."""

    text: str
    editable: list[tuple[int, int]] | None = None
    shown: str | None = None
    description: str = "the graph"

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")
        self._stripped = [ln.strip() for ln in self.lines]

    @property
    def prompt_text(self) -> str:
        return self.shown if self.shown is not None else self.text

    def is_editable(self, start: int, end: int) -> bool:
        if self.editable is None:
            return True
        return any(a <= start and end <= b for a, b in self.editable)


@dataclass
class Hunk:
    """One applied block: lines ``start..start+removed`` (0-based) became ``added``."""

    start: int
    removed: list[str]
    added: list[str]

    def render(self) -> str:
        out = [f"@@ line {self.start + 1} @@"]
        out += ["-" + ln for ln in self.removed]
        out += ["+" + ln for ln in self.added]
        return "\n".join(out)


def _reply_diag(code: str, message: str, line: int | None, reply_lines: list[str], **kw) -> Diagnostic:
    d = error(code, message, **kw)
    if line is not None:
        d.loc = Location("reply", line, 1)
        if 0 < line <= len(reply_lines):
            d.source_line = reply_lines[line - 1][:200]
    return d


def parse_reply(reply: str, menu_size: int = 0) -> Edit:
    """Find the edit in a reply.  Raises :class:`EditError` (GS501) when there is none or it is
    malformed."""
    if not isinstance(reply, str):
        raise EditError([error("GS501", f"the reply is not text ({type(reply).__name__})")])
    if len(reply) > MAX_REPLY_CHARS:
        raise EditError(
            [
                error(
                    "GS501",
                    f"the reply is {len(reply)} characters long, more than the {MAX_REPLY_CHARS} an edit may take",
                    fix="answer with small search/replace blocks, not the whole graph",
                )
            ]
        )
    lines = reply.split("\n")
    blocks: list[Block] = []
    choices: list[tuple[int, str]] = []
    diags: list[Diagnostic] = []
    i = 0
    n = len(lines)
    while i < n:
        ln = lines[i]
        if _SEARCH.match(ln):
            start = i + 1
            j = i + 1
            search: list[str] = []
            while j < n and not _DIVIDER.match(lines[j]):
                if _SEARCH.match(lines[j]) or _REPLACE.match(lines[j]):
                    break
                search.append(lines[j])
                j += 1
            if j >= n or not _DIVIDER.match(lines[j]):
                diags.append(
                    _reply_diag(
                        "GS501",
                        "search/replace block has no ======= line after its SEARCH part",
                        start,
                        lines,
                        fix="write <<<<<<< SEARCH, the old lines, =======, the new lines, >>>>>>> REPLACE",
                    )
                )
                i = j if j > i else i + 1
                continue
            k = j + 1
            replace: list[str] = []
            while k < n and not _REPLACE.match(lines[k]):
                if _SEARCH.match(lines[k]) or _DIVIDER.match(lines[k]):
                    break
                replace.append(lines[k])
                k += 1
            if k >= n or not _REPLACE.match(lines[k]):
                diags.append(
                    _reply_diag(
                        "GS501",
                        "search/replace block is not closed by >>>>>>> REPLACE",
                        start,
                        lines,
                        fix="end every block with a line >>>>>>> REPLACE",
                    )
                )
                i = k if k > i else i + 1
                continue
            blocks.append(Block(_trim_blank(search), _trim_blank(replace), start))
            i = k + 1
            continue
        if _DIVIDER.match(ln) or _REPLACE.match(ln):
            diags.append(
                _reply_diag(
                    "GS501",
                    f"'{ln.strip()}' outside a search/replace block",
                    i + 1,
                    lines,
                    fix="every block starts with a line <<<<<<< SEARCH",
                )
            )
        else:
            m = _CHOICE.match(ln)
            if m:
                choices.append((i + 1, m.group(1)))
        i += 1
    if diags:
        raise EditError(diags)
    if blocks and choices:
        raise EditError(
            [
                _reply_diag(
                    "GS501",
                    "the reply has both search/replace blocks and a CHOICE line; give one or the other",
                    choices[0][0],
                    lines,
                )
            ]
        )
    if len(choices) > 1:
        raise EditError(
            [_reply_diag("GS501", f"the reply has {len(choices)} CHOICE lines; pick exactly one", choices[1][0], lines)]
        )
    if choices:
        line, word = choices[0]
        if not menu_size:
            raise EditError(
                [
                    _reply_diag(
                        "GS501",
                        "a CHOICE was given but no menu of rewrites was offered",
                        line,
                        lines,
                        fix="answer with search/replace blocks",
                    )
                ]
            )
        if not word.isdigit() or len(word) > MAX_MENU_CHOICE_DIGITS or not 1 <= int(word) <= menu_size:
            raise EditError(
                [_reply_diag("GS501", f"CHOICE '{word[:40]}' is not a number on the menu (1-{menu_size})", line, lines)]
            )
        return Edit("choice", choice=int(word))
    if not blocks:
        raise EditError(
            [
                error(
                    "GS501",
                    "the reply contains no edit: no <<<<<<< SEARCH / ======= / >>>>>>> REPLACE block"
                    + (" and no CHOICE line" if menu_size else ""),
                    fix="answer with at least one search/replace block",
                )
            ]
        )
    if len(blocks) > MAX_BLOCKS:
        raise EditError(
            [
                error(
                    "GS501",
                    f"the reply has {len(blocks)} blocks; at most {MAX_BLOCKS} are accepted",
                    fix="make fewer, larger blocks",
                )
            ]
        )
    for b in blocks:
        if not b.search:
            raise EditError(
                [
                    _reply_diag(
                        "GS501",
                        "a SEARCH part is empty; it must hold at least one line of the text",
                        b.reply_line,
                        lines,
                        fix="to insert, search for the line before and repeat it in REPLACE",
                    )
                ]
            )
    return Edit("blocks", blocks=blocks)


def _trim_blank(lines: list[str]) -> list[str]:
    a, b = 0, len(lines)
    while a < b and not lines[a].strip():
        a += 1
    while b > a and not lines[b - 1].strip():
        b -= 1
    return lines[a:b]


def apply_edit(offer: Offer, edit: Edit) -> tuple[str, list[Hunk]]:
    """Apply search/replace blocks to ``offer.text``; returns the new text and the hunks.
    Raises :class:`EditError` with every problem found (GS501-GS504)."""
    assert edit.mode == "blocks"
    diags: list[Diagnostic] = []
    located: list[tuple[int, int, Block]] = []
    for bi, b in enumerate(edit.blocks, 1):
        key = [s.strip() for s in b.search]
        k = len(key)
        hits = _find(offer._stripped, key)
        inside = [h for h in hits if offer.is_editable(h, h + k)]
        where = f"block {bi} (reply line {b.reply_line})"
        first = b.search[0].strip()[:160]
        if len(inside) == 1:
            located.append((inside[0], inside[0] + k, b))
        elif len(inside) > 1:
            at = ", ".join(str(h + 1) for h in inside[:8])
            diags.append(
                error(
                    "GS503",
                    f"{where}: the SEARCH lines occur {len(inside)} times (at lines {at}), so the edit is ambiguous",
                    got=first,
                    fix="include more surrounding lines in SEARCH so that it matches one place only",
                )
            )
        elif hits:
            at = ", ".join(str(h + 1) for h in hits[:8])
            diags.append(
                error(
                    "GS504",
                    f"{where}: the SEARCH lines are at line {at}, outside the text offered for editing "
                    f"({offer.description})",
                    got=first,
                    fix="edit only the lines offered for editing",
                )
            )
        else:
            diags.append(_not_found(offer, key, where))
    located.sort(key=lambda t: t[0])
    for (a0, a1, ba), (b0, _b1, bb) in itertools.pairwise(located):
        if b0 < a1:
            diags.append(
                error(
                    "GS501",
                    f"blocks at reply lines {ba.reply_line} and {bb.reply_line} overlap "
                    f"(text lines {a0 + 1}-{a1} and from {b0 + 1})",
                    fix="merge overlapping blocks into one",
                )
            )
    if diags:
        raise EditError(diags)
    lines = list(offer.lines)
    hunks: list[Hunk] = []
    for start, end, b in reversed(located):
        added = _reindent(b.replace, b.search[0], lines[start])
        hunks.append(Hunk(start, lines[start:end], added))
        lines[start:end] = added
    hunks.reverse()
    if all(h.removed == h.added or [s.strip() for s in h.removed] == [s.strip() for s in h.added] for h in hunks):
        raise EditError(
            [
                error(
                    "GS501",
                    "the edit changes nothing: every REPLACE equals its SEARCH",
                    fix="change the lines the goal asks to change",
                )
            ]
        )
    return "\n".join(lines), hunks


def _find(hay: list[str], key: list[str]) -> list[int]:
    k = len(key)
    first = key[0]
    out = []
    start = 0
    n = len(hay) - k + 1
    while start < n:
        try:
            i = hay.index(first, start, n)
        except ValueError:
            break
        if hay[i : i + k] == key:
            out.append(i)
        start = i + 1
    return out


def _not_found(offer: Offer, key: list[str], where: str) -> Diagnostic:
    # Report the first SEARCH line that is not in the text, and the closest line that is.
    missing = None
    for s in key:
        if s not in offer._stripped:
            missing = s
            break
    if missing is None:
        msg = f"{where}: every SEARCH line exists in the text but not as these consecutive lines"
        return error("GS502", msg, fix="copy a run of consecutive lines exactly as they appear")
    close = difflib.get_close_matches(missing, offer._stripped, n=1, cutoff=0.6) if len(offer._stripped) < 20000 else []
    d = error("GS502", f"{where}: the SEARCH line '{missing[:160]}' is not in the text", got=missing[:160])
    if close:
        line = offer._stripped.index(close[0]) + 1
        d.expected = close[0][:160]
        d.fix = f"did you mean line {line}: '{close[0][:160]}'? Copy lines exactly, types included"
    else:
        d.fix = "copy the SEARCH lines exactly from the graph text"
    return d


def _reindent(replace: list[str], search_first: str, text_first: str) -> list[str]:
    """Shift the replacement by the indentation difference between the model's first SEARCH line
    and the text line it matched, so the result stays readable (indentation has no meaning)."""
    delta = _indent(text_first) - _indent(search_first)
    if delta == 0:
        return list(replace)
    out = []
    for ln in replace:
        if not ln.strip():
            out.append("")
        elif delta > 0:
            out.append(" " * delta + ln)
        else:
            cut = min(-delta, _indent(ln))
            out.append(ln[cut:])
    return out


def _indent(s: str) -> int:
    return len(s) - len(s.lstrip(" "))
