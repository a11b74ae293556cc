"""Hypothesis strategies for hostile text: dims, names and nesting as a model might write them.

:mod:`graphsynth.testing.strategies` builds modules that verify; this module builds *text* that
mostly should not, in the shapes that hurt a parser: products of sums that expand exponentially,
integers beyond int64 and beyond Python's 4,300-digit conversion limit, characters that Python
calls digits or spaces but the ASCII grammar does not (fullwidth, Arabic-Indic, superscript,
no-break space), parentheses, lists and module blocks nested past any stack, names that are
keywords, numbers, or not ASCII.  Every piece is drawn as a structure (an expression tree, a
nesting depth, a name made of parts), so hypothesis shrinks a failure to the smallest case.

    from hypothesis import given
    from graphsynth.testing.hostile import graph_texts

    @given(graph_texts())
    def test_no_tracebacks(text): ...   # parse_ir + verify: accepted, or located diagnostics

The texts put each drawn piece where it can go: graph input and result types, parameter types,
op result types, attribute values (``reshape(shape=[...])``), value, parameter and module names,
and nested module blocks and fused regions.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

__all__ = [
    "UNICODE_DIGITS",
    "UNICODE_SPACES",
    "dim_exprs",
    "dim_texts",
    "graph_texts",
    "huge_ints",
    "names",
    "nested_blocks",
    "nested_values",
]

# Characters for which str.isdigit() or str.isspace() is true but the grammar has no use.
UNICODE_DIGITS = ("\uff17", "\u0663", "\u00b2", "\u2460", "\U0001d7d5", "\u09ea", "\u00b9", "\u2089")
UNICODE_SPACES = ("\u00a0", "\u2003", "\u3000", "\u2028", "\u202f")
_SYMBOLS = ("B", "S", "H", "W", "a0", "b1", "n_2")


def huge_ints(min_digits: int = 19, max_digits: int = 6000) -> st.SearchStrategy[str]:
    """Decimal integers around and far beyond int64 (and Python's 4,300-digit limit)."""
    edges = [v for v in ("9223372036854775807", "9223372036854775808", "18446744073709551616", "0" * 30 + "7") if min_digits <= len(v) <= max_digits]
    built = st.builds(lambda n, d: d + "9" * (n - 1), st.integers(min_digits, max_digits), st.sampled_from("123456789"))
    return st.one_of(st.sampled_from(edges), built) if edges else built


@st.composite
def dim_exprs(draw: Callable, symbols: tuple[str, ...] = _SYMBOLS, max_leaves: int = 40) -> str:
    """Valid ASCII dim expressions as text, from a drawn expression tree: sums, products,
    floor divisions and remainders by ints or dims, negation and parentheses, small and huge
    integers.  Products of sums among them expand past any limit."""
    budget = [draw(st.integers(1, max_leaves))]

    def leaf() -> str:
        kind = draw(st.integers(0, 5))
        if kind <= 2:
            return draw(st.sampled_from(symbols))
        if kind <= 4:
            return str(draw(st.integers(0, 64)))
        return draw(huge_ints(18, 60))

    def expr() -> str:
        if budget[0] <= 1 or not draw(st.booleans()):
            budget[0] -= 1
            return leaf()
        form = draw(st.integers(0, 4))
        if form == 0:
            return f"{expr()}{draw(st.sampled_from(('+', '-', '*')))}{expr()}"
        if form == 1:
            return f"({expr()})*({expr()})"
        if form == 2:
            return f"({expr()}){draw(st.sampled_from(('//', '%')))}{draw(st.integers(1, 9))}"
        if form == 3:
            return f"({expr()})//({expr()})"
        return f"-({expr()})"

    return expr()


def _product_of_sums(n: int) -> str:
    return "*".join(f"(a{i}+b{i})" for i in range(n))


@st.composite
def dim_texts(draw: Callable) -> str:
    """A dim as a model might write it: a valid expression, or one of the hostile families --
    a long product of sums, a power written out, deep parentheses, a huge integer, a non-ASCII
    digit or space inside an otherwise valid dim."""
    kind = draw(st.sampled_from(("expr", "product", "power", "parens", "int", "unicode", "space", "long_sum")))
    if kind == "expr":
        return draw(dim_exprs())
    if kind == "product":
        return _product_of_sums(draw(st.integers(1, 40)))
    if kind == "power":
        base = draw(st.sampled_from(("B", "(B+1)", "(2*S+3)", "(B//2)")))
        return "*".join([base] * draw(st.integers(1, 300)))
    if kind == "parens":
        n = draw(st.integers(1, 300))
        return "(" * n + draw(st.sampled_from(_SYMBOLS)) + ")" * n
    if kind == "int":
        return draw(huge_ints(1, 6000))
    if kind == "long_sum":
        return "+".join(f"s{i}" for i in range(draw(st.integers(1, 400))))
    base = draw(dim_exprs(max_leaves=4))
    pos = draw(st.integers(0, len(base)))
    junk = draw(st.sampled_from(UNICODE_DIGITS if kind == "unicode" else UNICODE_SPACES))
    return base[:pos] + junk + base[pos:]


@st.composite
def names(draw: Callable, prefix: str = "") -> str:
    """A name: valid forms (dotted state_dict keys, digit-led segments of nn.Sequential),
    words the grammar gives another meaning (None, true, inf, nan, graph, f32), long names,
    and names with non-ASCII letters or digits."""
    kind = draw(st.sampled_from(("plain", "dotted", "sequential", "keyword", "long", "unicode")))
    if kind == "plain":
        word = draw(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True))
    elif kind == "dotted":
        word = ".".join(draw(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,4}", fullmatch=True), min_size=2, max_size=4)))
    elif kind == "sequential":
        word = ".".join(str(i) for i in draw(st.lists(st.integers(0, 12), min_size=1, max_size=3))) + ".weight"
    elif kind == "keyword":
        word = draw(st.sampled_from(("None", "true", "false", "inf", "nan", "graph", "module", "param", "return", "f32", "info", "nan.x")))
    elif kind == "long":
        word = "n" * draw(st.integers(100, 20000))
    else:
        base = draw(st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True))
        pos = draw(st.integers(0, len(base)))
        word = base[:pos] + draw(st.sampled_from(("\u00e9", "\uff58", "\u0430", *UNICODE_DIGITS))) + base[pos:]
    return prefix + word


def nested_values(max_depth: int = 200) -> st.SearchStrategy[str]:
    """An attribute value nesting lists and parentheses ``depth`` deep."""
    return st.builds(
        lambda depth, kind, leaf: ("[" * depth + leaf + "]" * depth) if kind == "list" else ("[" + "(" * depth + leaf + ")" * depth + "]"),
        st.integers(0, max_depth),
        st.sampled_from(("list", "parens")),
        st.sampled_from(("B", "4", "-1", "S+1")),
    )


@st.composite
def nested_blocks(draw: Callable, max_depth: int = 120) -> tuple[str, str]:
    """Module blocks (and a fused region at the bottom) nested ``depth`` deep around one op
    that reads the graph input ``x: f32[B, 4]`` and defines ``%inner``: (opening lines,
    closing lines)."""
    depth = draw(st.integers(0, max_depth))
    same_path = draw(st.booleans())
    opening = "".join(f"module {'m' if same_path else f'm{i}'} : M{i % 3} {{\n" for i in range(depth))
    closing = "}\n" * depth
    if draw(st.booleans()):
        levels = draw(st.integers(1, 60))
        body = []
        for level in range(1, levels + 1):
            src = "x" if level == 1 else f"%a{level - 1}"
            dst = "%inner" if level == 1 else f"%b{level - 1}"
            body += [f"{dst}: f32[B, 4] = fused({src}) {{", f"^(%a{level}: f32[B, 4])"]
        body.append(f"%b{levels}: f32[B, 4] = relu(%a{levels})")
        for level in range(levels, 0, -1):
            body += [f"yield %b{level}", "}"]
        return opening, "\n".join(body) + "\n" + closing
    return opening, "  %inner: f32[B, 4] = relu(x)\n" + closing


@st.composite
def graph_texts(draw: Callable) -> str:
    """A graph whose types, attribute values, names and nesting come from the strategies above,
    each in a slot where the grammar allows it (the rest is ordinary, valid text)."""
    slot = draw(st.sampled_from(("input", "param", "result", "attribute", "names", "nesting", "value")))
    dim = draw(dim_texts())
    name = draw(names())
    pname = draw(names())
    lines = [f"graph G(x: f32[B, 4]{', y: f32[' + dim + ']' if slot == 'input' else ''}) -> f32[B, 4] {{"]
    if slot == "param":
        lines.append(f"  param {pname}: f32[{dim}, 4]")
    elif slot == "names":
        lines.append(f"  param {pname}: f32[4, 4]")
    if slot == "result":
        lines.append(f"  %0: f32[{dim}] = relu(x)")
        lines.append("  %1: f32[B, 4] = relu(x)")
    elif slot == "attribute":
        lines.append(f"  %0: f32[B, 4] = reshape(x, shape=[B, {dim}])")
        lines.append("  %1: f32[B, 4] = relu(%0)")
    elif slot == "value":
        lines.append(f"  %0: f32[B, 4] = reshape(x, shape={draw(nested_values())})")
        lines.append("  %1: f32[B, 4] = relu(%0)")
    elif slot == "names":
        lines.append(f"  module {name} : {draw(names())} {{")
        lines.append(f"    %{draw(st.from_regex(r'[A-Za-z0-9_.$-]{1,12}', fullmatch=True))}: f32[B, 4] = linear(x, {pname})")
        lines.append("  }")
        lines.append("  %1: f32[B, 4] = relu(x)")
    elif slot == "nesting":
        opening, closing = draw(nested_blocks())
        lines.append(opening.rstrip("\n") if opening else "")
        lines.append(closing.rstrip("\n"))
        lines.append("  %1: f32[B, 4] = relu(%inner)")
    else:
        lines.append("  %1: f32[B, 4] = relu(x)")
    lines.append("  return %1")
    lines.append("}")
    return "\n".join(line for line in lines if line) + "\n"
