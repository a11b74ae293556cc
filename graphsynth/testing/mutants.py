"""Mutations of text at byte, character and token level, for fuzzing the readers of the project.

Each mutation takes a text and a ``random.Random`` (and, for crossover, a second text) and
returns the text changed in one place.  Mutations know just enough of the text forms to hit the
places where hostile input hurts: numbers (int64 edges, 5,000-digit integers, ``1e400``), names
(the internals of ``nn.Module`` and ``fx.GraphModule``, keywords, non-ASCII letters), dims inside
``[...]`` (products of sums, written-out powers, nested floor divisions, deep parentheses,
non-ASCII digits), op names (every op of the dialect), attribute values, dtypes, brackets,
lines and whole blocks (deleted, duplicated, moved, repeated hundreds of times, nested); and,
below the text, characters (control characters, Unicode digits and spaces, surrogates) and bytes
(bit flips, invalid UTF-8, NUL, a byte order mark).

    rnd = random.Random(7)
    text = mutate(seed_text, rnd, count=3, donors=[other_text])    # str, or bytes after a byte mutation

:func:`mutate_json_lines` mutates a JSON-lines transcript structurally (a string field of one
record, a number, a field removed or retyped) or as plain text.  The generators are
deterministic in the ``Random`` they are given, so a failure is reproduced from its seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence

from graphsynth.testing.hostile import UNICODE_DIGITS, UNICODE_SPACES

__all__ = ["BYTE_KINDS", "CHAR_KINDS", "KINDS", "TOKEN_KINDS", "mutate", "mutate_json_lines", "mutate_once"]

Text = str | bytes

_NUMBER = re.compile(r"(?<![A-Za-z_%.])-?\d+(\.\d+)?([eE][-+]?\d+)?")
_WORD = re.compile(r"%?[A-Za-z_][A-Za-z0-9_.]*")
_DIMS = re.compile(r"\[([^\[\]\n]*)\]")
_ATTR = re.compile(r"\b([a-z_]+)=")
_CALL = re.compile(r"=\s*([a-z_][a-z0-9_]*)\(")
_DTYPE = re.compile(r"\b(f64|f32|f16|bf16|i64|i32|i16|i8|u8|bool)\[")

INTERESTING_NUMBERS = (
    "0", "1", "-1", "2", "3", "-2", "7", "255", "256", "65536", "2147483647", "2147483648", "4294967296",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "99999999999999999999999", "1" + "0" * 400, "9" * 4400, "0" * 30 + "7",
    "1.5", "-0.0", "1e400", "-1e400", "1e-400", "nan", "inf", "-inf", "1e18", "1e19", "0x10", "1_000",
    "+5", "007", "1.", ".5", "1e", "1e+", "3.4028235e38",
)
HOSTILE_NAMES = (
    "meta", "code", "graph", "_graph", "graph.weight", "training", "forward", "self", "__class__",
    "state_dict", "_modules", "_parameters", "__init__", "register_buffer", "T", "cuda", "to", "type",
    "None", "True", "def", "lambda", "import", "__import__", "0", "0.weight", "a..b", ".a", "a.",
    "_gs_n_graph", "_gs_constants", "_gs_fused", "torch", "fx", "__builtins__", "n" * 300,
    "\u00e9t\u00e9", "\uff41", "\u0430dd", "a\u200bb",
)
HOSTILE_DIMS = (
    "(a0+b0)*(a1+b1)*(a2+b2)*(a3+b3)*(a4+b4)*(a5+b5)*(a6+b6)*(a7+b7)*(a8+b8)*(a9+b9)*(a10+b10)*(a11+b11)",
    "*".join(["(B+1)"] * 60), "*".join(["B"] * 400), "+".join(f"s{i}" for i in range(300)),
    "((((((((B//2)//2)//2)//2)//2)//2)//2)//2)", "(" * 200 + "B" + ")" * 200, "B//0", "B%0", "0", "-1", "-B",
    "9223372036854775807", "9223372036854775808", "9223372036854775807*9223372036854775807", "B*9223372036854775807",
    "(B+9223372036854775807)*(S+9223372036854775807)", "(B*S*H*W)//(B*S*H*W)", "B-B", "2*B-B-B+1", "B//B",
    "((B+S)//2)*((B+S)//3)*((B+S)//5)*((B+S)//7)*((B+S)//11)*((B+S)//13)", "(B//(S//(H//(W//2))))",
    "1" + "0" * 30, "B\uff17", "\u00b2", "B\u00a0+1", "B+", "*B", "()", "B S", "B,", "",
)
HOSTILE_ATTRS = (
    "[" + ", ".join(["1"] * 2000) + "]", "[" * 100 + "1" + "]" * 100, "None", "true", "false", "'x'", '"y"', "''",
    "-1", "0", "9223372036854775808", "1e400", "nan", "[B, -1]", "[]", "[[]]", "[None]", "dims", "f32",
    "'" + "z" * 5000 + "'", "[1, 2, 3, 4, 5, 6, 7, 8]", "[-1, -1]", "[0, 0]", "[B*S, S*H]", "(1, 2)", "{}",
)
_JUNK = list('{}()[],:=%^-+*/"\'\\#@$!<>.;?&|~`\t\r\n ') + [
    "\x00", "\x01", "\x1b", "\x7f", "\ufffd", "\ufeff", "\u2028", "\u2029", "\u200b", "\u202e", "\ud800",
    "\U0001f600", "\u0301", "//", "// -----", "->", "/*", "*/", "\r\n", "\\n", "{{", "}}", "^(", "%", "%0", "\t\t",
    *UNICODE_DIGITS, *UNICODE_SPACES,
]
_KEYWORDS = ("graph", "module", "param", "buffer", "return", "yield", "fused", "call", "None", "true", "false",
             "f32", "i64", "bool", "B", "S", "%0", "zz", "%zz", "->", ":", "=", "^")


def _ops() -> tuple[str, ...]:
    from graphsynth.dialects import gs

    return tuple(sorted(gs.OPS))


# -- line level -----------------------------------------------------------------------------------

def _lines(text: str) -> list[str]:
    return text.split("\n")


def delete_line(text: str, rnd: random.Random, donor: str) -> str:
    lines = _lines(text)
    del lines[rnd.randrange(len(lines))]
    return "\n".join(lines)


def duplicate_line(text: str, rnd: random.Random, donor: str) -> str:
    lines = _lines(text)
    lines.insert(rnd.randrange(len(lines) + 1), lines[rnd.randrange(len(lines))])
    return "\n".join(lines)


def swap_lines(text: str, rnd: random.Random, donor: str) -> str:
    lines = _lines(text)
    i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def delete_block(text: str, rnd: random.Random, donor: str) -> str:
    lines = _lines(text)
    i = rnd.randrange(len(lines))
    del lines[i:i + rnd.randint(2, 12)]
    return "\n".join(lines)


def repeat_line(text: str, rnd: random.Random, donor: str) -> str:
    """One line many times (duplicate names, long modules, thousands of params)."""
    lines = _lines(text)
    i = rnd.randrange(len(lines))
    lines[i:i + 1] = [lines[i]] * rnd.choice((2, 10, 100, 1000))
    return "\n".join(lines)


def repeat_graph(text: str, rnd: random.Random, donor: str) -> str:
    """The whole text again, n times (many graphs; duplicate graph names)."""
    n = rnd.choice((2, 3, 20, 200))
    if rnd.random() < 0.5:
        return "\n".join([text] * n)
    parts = []
    for k in range(n):
        parts.append(re.sub(r"^graph (\w+)", lambda m, k=k: f"graph {m.group(1)}_{k}", text, flags=re.M))
    return "\n".join(parts)


def nest_lines(text: str, rnd: random.Random, donor: str) -> str:
    """Wrap a run of lines in module blocks, n deep."""
    lines = _lines(text)
    i = rnd.randrange(len(lines))
    j = min(len(lines), i + rnd.randint(1, 4))
    depth = rnd.choice((1, 2, 5, 31, 32, 33, 200))
    path = rnd.choice(("m", "a.b", "0", "graph", "x"))
    opening = [f"module {path}{'' if rnd.random() < 0.5 else k} : M{k} {{" for k in range(depth)]
    lines[i:j] = opening + lines[i:j] + ["}"] * depth
    return "\n".join(lines)


def splice(text: str, rnd: random.Random, donor: str) -> str:
    """Crossover: the start of this text and the end of another, cut at line boundaries."""
    a, b = _lines(text), _lines(donor)
    return "\n".join(a[:rnd.randrange(len(a) + 1)] + b[rnd.randrange(len(b) + 1):])


def truncate(text: str, rnd: random.Random, donor: str) -> str:
    return text[: rnd.randrange(len(text) + 1)]


# -- token level ----------------------------------------------------------------------------------

def _replace_match(text: str, matches: Sequence[re.Match], rnd: random.Random, pool: Sequence[str], group: int = 0) -> str:
    if not matches:
        return text
    m = rnd.choice(matches)
    return text[: m.start(group)] + rnd.choice(pool) + text[m.end(group):]


def number(text: str, rnd: random.Random, donor: str) -> str:
    return _replace_match(text, list(_NUMBER.finditer(text)), rnd, INTERESTING_NUMBERS)


def name(text: str, rnd: random.Random, donor: str) -> str:
    """A word becomes another word of the text, a keyword or a hostile name (with or without %)."""
    found = list(_WORD.finditer(text))
    if not found:
        return text
    m = rnd.choice(found)
    r = rnd.random()
    if r < 0.4:
        new = rnd.choice(found).group()
    elif r < 0.6:
        new = rnd.choice(_KEYWORDS)
    else:
        new = rnd.choice(HOSTILE_NAMES)
        if m.group().startswith("%") and rnd.random() < 0.7:
            new = "%" + new
    return text[: m.start()] + new + text[m.end():]


def rename_everywhere(text: str, rnd: random.Random, donor: str) -> str:
    """One name replaced at every use (a consistent rename, so the result may still verify)."""
    found = sorted({m.group() for m in _WORD.finditer(text) if "." in m.group() or m.group().startswith("%")})
    if not found:
        return text
    old = rnd.choice(found)
    new = rnd.choice(HOSTILE_NAMES)
    new = ("%" + new) if old.startswith("%") else new
    return re.sub(r"(?<![\w.%])" + re.escape(old) + r"(?![\w.])", lambda m: new, text)


def dim(text: str, rnd: random.Random, donor: str) -> str:
    """One dim of a type or of a shape attribute becomes a hostile dim, or a dim of the text."""
    found = list(_DIMS.finditer(text))
    if not found:
        return text
    m = rnd.choice(found)
    parts = m.group(1).split(",")
    k = rnd.randrange(len(parts))
    if rnd.random() < 0.7:
        parts[k] = rnd.choice(HOSTILE_DIMS)
    else:
        other = [p for mm in found for p in mm.group(1).split(",")]
        parts[k] = rnd.choice(other)
        if rnd.random() < 0.5:
            parts.insert(k, rnd.choice(other))
    return text[: m.start(1)] + ",".join(parts) + text[m.end(1):]


def op(text: str, rnd: random.Random, donor: str) -> str:
    """An op name becomes another op of the dialect (or a near miss)."""
    found = list(_CALL.finditer(text))
    if not found:
        return text
    pool = _ops()
    new = rnd.choice(pool) if rnd.random() < 0.9 else rnd.choice(("gs.relu", "Relu", "relu_", "fused", "call", "graph"))
    return _replace_match(text, found, rnd, [new], group=1)


def attribute(text: str, rnd: random.Random, donor: str) -> str:
    """The value of an ``attr=`` becomes a hostile value, or an attribute is added to a call."""
    found = list(_ATTR.finditer(text))
    if found and rnd.random() < 0.7:
        m = rnd.choice(found)
        end = m.end()
        depth, i = 0, end
        while i < len(text) and text[i] != "\n":  # the value ends at a comma or ')' outside brackets
            ch = text[i]
            if ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            i += 1
        return text[:end] + rnd.choice(HOSTILE_ATTRS) + text[i:]
    calls = [m for m in re.finditer(r"\)\s*$", text, re.M)]
    if not calls:
        return text
    m = rnd.choice(calls)
    extra = f", {rnd.choice(('dim', 'shape', 'p', 'approximate', 'x', 'value', 'callee', 'dims', 'zz'))}={rnd.choice(HOSTILE_ATTRS)}"
    return text[: m.start()] + extra + text[m.start():]


def dtype(text: str, rnd: random.Random, donor: str) -> str:
    pool = ("f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool", "f8", "F32", "i128", "c64", "")
    return _replace_match(text, list(_DTYPE.finditer(text)), rnd, pool, group=1)


def bracket(text: str, rnd: random.Random, donor: str) -> str:
    """Insert, delete or repeat a bracket (unbalanced or deeply nested text)."""
    found = [i for i, ch in enumerate(text) if ch in "()[]{}"]
    r = rnd.random()
    if found and r < 0.4:
        i = rnd.choice(found)
        return text[:i] + text[i + 1:]
    pos = rnd.randrange(len(text) + 1)
    ch = rnd.choice("()[]{}")
    return text[:pos] + ch * (1 if r < 0.8 else rnd.choice((40, 1000, 100000))) + text[pos:]


def keyword(text: str, rnd: random.Random, donor: str) -> str:
    pos = rnd.randrange(len(text) + 1)
    return text[:pos] + rnd.choice(_KEYWORDS) + (" " if rnd.random() < 0.5 else "") + text[pos:]


# -- character level ------------------------------------------------------------------------------

def insert_char(text: str, rnd: random.Random, donor: str) -> str:
    pos = rnd.randrange(len(text) + 1)
    return text[:pos] + rnd.choice(_JUNK) + text[pos:]


def delete_chars(text: str, rnd: random.Random, donor: str) -> str:
    if not text:
        return text
    pos = rnd.randrange(len(text))
    return text[:pos] + text[pos + rnd.choice((1, 1, 1, 2, 5, 20)):]


def replace_char(text: str, rnd: random.Random, donor: str) -> str:
    if not text:
        return text
    pos = rnd.randrange(len(text))
    return text[:pos] + rnd.choice(_JUNK) + text[pos + 1:]


def random_chars(text: str, rnd: random.Random, donor: str) -> str:
    """A few code points anywhere below U+0250 (Latin letters, controls, digits of other scripts)."""
    pos = rnd.randrange(len(text) + 1)
    junk = "".join(chr(rnd.randrange(0, 0x250)) for _ in range(rnd.randint(1, 4)))
    return text[:pos] + junk + text[pos:]


def swap_chars(text: str, rnd: random.Random, donor: str) -> str:
    if len(text) < 2:
        return text
    i = rnd.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def line_endings(text: str, rnd: random.Random, donor: str) -> str:
    return rnd.choice((text.replace("\n", "\r\n"), text.replace("\n", "\r"), text.replace("\n", "\n\n"),
                       text.replace("  ", "\t"), text.replace("\n", " \n")))


# -- byte level -----------------------------------------------------------------------------------

def _encode(text: Text) -> bytes:
    return text if isinstance(text, bytes) else _to_bytes(text)


_SURROGATES = re.compile("([\ud800-\udfff]+)")


def _to_bytes(text: str) -> bytes:
    """UTF-8 bytes of ``text``; escaped bytes (U+DC80..U+DCFF from decoding with
    ``surrogateescape``) become those bytes again, other lone surrogates their 3-byte form."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        pass
    out = []
    for k, part in enumerate(_SURROGATES.split(text)):
        if k % 2 == 0:
            out.append(part.encode("utf-8"))
        else:
            out.extend(ch.encode("utf-8", "surrogateescape" if 0xDC80 <= ord(ch) <= 0xDCFF else "surrogatepass") for ch in part)
    return b"".join(out)


def flip_bit(text: Text, rnd: random.Random, donor: str) -> bytes:
    data = bytearray(_encode(text))
    if data:
        i = rnd.randrange(len(data))
        data[i] ^= 1 << rnd.randrange(8)
    return bytes(data)


def insert_bytes(text: Text, rnd: random.Random, donor: str) -> bytes:
    data = _encode(text)
    pos = rnd.randrange(len(data) + 1)
    junk = rnd.choice((b"\x00", b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82",
                       b"\xf4\x90\x80\x80", b"\x80", bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))))
    return data[:pos] + junk + data[pos:]


def delete_bytes(text: Text, rnd: random.Random, donor: str) -> bytes:
    """Cut bytes anywhere, also inside a multi-byte character."""
    data = _encode(text)
    if not data:
        return data
    pos = rnd.randrange(len(data))
    return data[:pos] + data[pos + rnd.randint(1, 3):]


LINE_KINDS: dict[str, Callable] = {
    "delete_line": delete_line, "duplicate_line": duplicate_line, "swap_lines": swap_lines,
    "delete_block": delete_block, "repeat_line": repeat_line, "repeat_graph": repeat_graph,
    "nest_lines": nest_lines, "splice": splice, "truncate": truncate,
}
TOKEN_KINDS: dict[str, Callable] = {
    "number": number, "name": name, "rename_everywhere": rename_everywhere, "dim": dim, "op": op,
    "attribute": attribute, "dtype": dtype, "bracket": bracket, "keyword": keyword,
}
CHAR_KINDS: dict[str, Callable] = {
    "insert_char": insert_char, "delete_chars": delete_chars, "replace_char": replace_char,
    "random_chars": random_chars, "swap_chars": swap_chars, "line_endings": line_endings,
}
BYTE_KINDS: dict[str, Callable] = {"flip_bit": flip_bit, "insert_bytes": insert_bytes, "delete_bytes": delete_bytes}
KINDS: dict[str, Callable] = {**LINE_KINDS, **TOKEN_KINDS, **CHAR_KINDS, **BYTE_KINDS}
# How often each level is drawn: most mutants keep the text readable enough to reach the
# verifier and beyond; byte-level damage mostly stops at the decoder.
_LEVELS = ((LINE_KINDS, 0.25), (TOKEN_KINDS, 0.45), (CHAR_KINDS, 0.2), (BYTE_KINDS, 0.1))


def mutate_once(text: Text, kind: str, rnd: random.Random, donor: str = "") -> Text:
    """One mutation of ``kind`` (a key of :data:`KINDS`); text mutations of bytes decode them
    first (undecodable bytes kept as surrogate escapes, so the damage survives)."""
    fn = KINDS[kind]
    if kind in BYTE_KINDS:
        return fn(text, rnd, donor)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
        out = fn(text, rnd, donor or text)
        return _to_bytes(out)
    return fn(text, rnd, donor or text)


def pick_kind(rnd: random.Random) -> str:
    r = rnd.random()
    for kinds, weight in _LEVELS:
        if r < weight:
            return rnd.choice(list(kinds))
        r -= weight
    return rnd.choice(list(KINDS))


def mutate(text: Text, rnd: random.Random, count: int = 1, donors: Sequence[str] = ()) -> tuple[Text, list[str]]:
    """``count`` mutations of drawn kinds; returns the mutant and the kinds applied."""
    kinds = []
    for _ in range(count):
        kind = pick_kind(rnd)
        donor = rnd.choice(donors) if donors else ""
        text = mutate_once(text, kind, rnd, donor)
        kinds.append(kind)
    return text, kinds


# -- JSON lines (transcripts) ---------------------------------------------------------------------

_JSON_VALUES = (None, True, 0, -1, 1 << 70, 1e308, "", "x" * 100, [], {}, ["a"], {"kind": "attempt"}, "nan", 3.5)


def _mutate_value(value: object, rnd: random.Random, donors: Sequence[str]) -> object:
    if isinstance(value, str) and value and rnd.random() < 0.8:
        out, _ = mutate(value, rnd, rnd.randint(1, 3), donors)
        return out.decode("utf-8", "replace") if isinstance(out, bytes) else out
    return rnd.choice(_JSON_VALUES)


def mutate_json_lines(text: str, rnd: random.Random, donors: Sequence[str] = ()) -> Text:
    """One structural change of a JSON-lines text (a value anywhere in one record, a record
    dropped, duplicated or moved, a field removed), or a plain text mutation of the lines."""
    if rnd.random() < 0.25:
        return mutate(text, rnd, rnd.randint(1, 2), donors)[0]
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return text
    i = rnd.randrange(len(lines))
    r = rnd.random()
    if r < 0.1:
        del lines[i]
    elif r < 0.15:
        lines.insert(rnd.randrange(len(lines) + 1), lines[i])
    else:
        try:
            record = json.loads(lines[i])
        except ValueError:
            return mutate(text, rnd, 1, donors)[0]
        paths: list[tuple[list[object], object]] = []

        def walk(node: object, path: list[object]) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    paths.append((path + [k], v))
                    walk(v, path + [k])
            elif isinstance(node, list):
                for k, v in enumerate(node):
                    paths.append((path + [k], v))
                    walk(v, path + [k])

        walk(record, [])
        if not paths:
            return text
        # String values hold the replies and the IR: draw them more often than the rest.
        strings = [p for p in paths if isinstance(p[1], str) and len(p[1]) > 20]
        path, value = rnd.choice(strings) if strings and rnd.random() < 0.6 else rnd.choice(paths)
        parent: object = record
        for k in path[:-1]:
            parent = parent[k]  # type: ignore[index]
        if isinstance(parent, dict) and rnd.random() < 0.1:
            del parent[path[-1]]
        else:
            parent[path[-1]] = _mutate_value(value, rnd, donors)  # type: ignore[index]
        lines[i] = json.dumps(record, sort_keys=True, ensure_ascii=rnd.random() < 0.5)
    return "\n".join(lines) + "\n"
