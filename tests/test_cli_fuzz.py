"""Mutation fuzzing of the text form: delete, duplicate or swap lines, change numbers and names,
insert random bytes, cut the file short.  Whatever comes out, the tool either accepts it or
reports diagnostics that carry a location inside the file, and never raises anything else.
Accepted text must also survive print -> parse -> print unchanged and verify again.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsynth.cli import main as cli_main
from graphsynth.diagnostics import ParseError
from graphsynth.grammar.parser import parse_ir
from graphsynth.grammar.printer import print_ir
from graphsynth.verifier import verify

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [p.read_text() for p in sorted((ROOT / "examples").glob("*.gs"))] + [
    """graph Seq(input: f32[B, 4], mask: bool[B, 4]) -> f32[B, 2] {
  param 0.weight: f32[4, 4]
  param 2.0.weight: f32[2, 4]
  module 0 : Linear {
    %0: f32[B, 4] = linear(input, 0.weight)
  }
  %1: f32[B, 4] = where(mask, %0, -inf)
  %2: f32[B, 4] = fused(%1) {
    ^(%a: f32[B, 4])
    %b: f32[B, 4] = mul(%a, 0.5)
    %c: f32[B, 4] = relu(%b)
    yield %c
  }
  module 2 : Sequential {
    module 2.0 : Linear {
      %3: f32[B, 2] = linear(%2, 2.0.weight)
    }
  }
  %4: f32[B, 2] = reshape(%3, shape=[B, -1])
  return %4
}
"""
]
assert len(SEEDS) >= 3, "the examples are the fuzzing seeds"

NUMBER = re.compile(r"-?\d+(\.\d+)?")
NAME = re.compile(r"%?[A-Za-z_][A-Za-z0-9_.]*")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "name", "bytes", "truncate", "char"]))
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(j, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind in ("number", "name"):
            pattern = NUMBER if kind == "number" else NAME
            spots = list(pattern.finditer(lines[i]))
            if spots:
                m = draw(st.sampled_from(spots))
                if kind == "number":
                    new = draw(st.sampled_from(["0", "-1", "3", "65", "1.5", "99999999999999999999999", "S", "B+1"]))
                else:
                    new = draw(st.sampled_from(["%0", "%9", "x", "fc1.weight", "0.weight", "relu", "Q", "true", "inf", "%t0", "graph"]))
                lines[i] = lines[i][: m.start()] + new + lines[i][m.end() :]
        elif kind == "bytes":
            junk = draw(st.binary(min_size=1, max_size=6)).decode("latin-1")
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
        elif kind == "char":
            ch = draw(st.sampled_from(list("()[]{},:=%^/*+-<>\"'#@$\\\t\r") + ["//", "// -----", "\u00e9", "\ufeff", "\u2028"]))
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + ch + lines[i][pos:]
        text = "\n".join(lines)
        if kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
    return text


def check_located(diags: list, text: str) -> None:
    assert diags, "a rejected input has at least one diagnostic"
    n_lines = text.count("\n") + 2
    for d in diags:
        assert d.code and re.fullmatch(r"GS\d{3}", d.code), d
        assert d.loc is not None, f"no location: {d.render()}"
        assert 1 <= d.loc.line <= n_lines and d.loc.column >= 1, d.render()
        assert d.message, d


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_text_is_accepted_or_diagnosed(text: str) -> None:
    try:
        module = parse_ir(text, filename="fuzz.gs")
    except ParseError as e:
        check_located(e.diagnostics, text)
        return
    diags = verify(module)
    if diags:
        check_located(diags, text)
        return
    printed = print_ir(module)
    again = parse_ir(printed, filename="printed.gs")
    assert verify(again) == []
    assert print_ir(again) == printed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutated(), st.sampled_from([[], ["-p", "canonicalize,cse,dce"], ["--emit=mlir"], ["--split-input-file"], ["--diagnostics=json"]]))
def test_mutated_text_through_the_cli(tmp_path_factory, text: str, flags: list[str]) -> None:
    """The whole tool in-process: exit 0 or 1 and no exception, whatever the input and flags."""
    path = tmp_path_factory.mktemp("fuzz") / "in.gs"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(path), *flags])
    assert code in (0, 1), err.getvalue()
    if code == 1:
        assert re.search(r"in\.gs:\d+:\d+: error\[GS\d{3}\]|\"line\": \d+", err.getvalue()), err.getvalue()
