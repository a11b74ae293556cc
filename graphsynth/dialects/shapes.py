"""Symbolic dimensions: parse, print, arithmetic and comparison.

A dim is a plain ``int`` or a :class:`SymDim`, a polynomial with integer
coefficients over positive-integer symbols (``B``, ``S``) and floor-division
atoms (``(H-3)//2``).  Every ``SymDim`` is kept in a canonical form, so two
dims are equal exactly when their canonical forms are equal: comparing costs a
tuple comparison, not a call into sympy.  ``import sympy`` alone takes about
0.6 s and ``expand(a - b) == 0`` about 10 µs per check; this module is the fast
path and :func:`to_sympy` keeps sympy as the reference (see the property tests).

Plain-int dims never leave the int fast path: arithmetic on two ints is Python
arithmetic, and only an expression that mentions a symbol builds a ``SymDim``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Union

Dim = Union[int, "SymDim"]
Shape = tuple[Dim, ...]

# A monomial is a sorted tuple of (atom, exponent); an atom is a symbol name or
# a FloorDiv.  A polynomial is a sorted tuple of (monomial, coefficient).
Monomial = tuple[tuple[object, int], ...]


class FloorDiv:
    """The atom ``num // den`` where ``num`` has no part divisible by ``den``."""

    __slots__ = ("num", "den", "_key")

    def __init__(self, num: Dim, den: Dim):
        self.num = num
        self.den = den
        self._key = f"{_wrap(num)}//{_wrap(den)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FloorDiv) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self._key

    def symbols(self) -> set[str]:
        return free_symbols(self.num) | free_symbols(self.den)


def _atom_key(atom: object) -> str:
    return atom if isinstance(atom, str) else "~" + str(atom)


class SymDim:
    """A canonical integer polynomial over symbols and floor-division atoms."""

    __slots__ = ("terms", "_hash", "_str")

    def __init__(self, terms: tuple[tuple[Monomial, int], ...]):
        self.terms = terms
        self._hash = hash(terms)
        self._str: str | None = None

    # -- construction -----------------------------------------------------
    @staticmethod
    def symbol(name: str) -> SymDim:
        return SymDim((((((name, 1),), 1)),))

    @staticmethod
    def _from_dict(terms: dict[Monomial, int]) -> Dim:
        items = [(m, c) for m, c in terms.items() if c != 0]
        if not items:
            return 0
        if len(items) == 1 and items[0][0] == ():
            return items[0][1]
        items.sort(key=_term_sort_key)
        return SymDim(tuple(items))

    def _as_dict(self) -> dict[Monomial, int]:
        return dict(self.terms)

    # -- arithmetic --------------------------------------------------------
    def __add__(self, other: Dim) -> Dim:
        return add(self, other)

    __radd__ = __add__

    def __sub__(self, other: Dim) -> Dim:
        return add(self, mul(other, -1))

    def __rsub__(self, other: Dim) -> Dim:
        return add(other, mul(self, -1))

    def __mul__(self, other: Dim) -> Dim:
        return mul(self, other)

    __rmul__ = __mul__

    def __neg__(self) -> Dim:
        return mul(self, -1)

    def __floordiv__(self, other: Dim) -> Dim:
        return floordiv(self, other)

    def __rfloordiv__(self, other: Dim) -> Dim:
        return floordiv(other, self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymDim) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        if self._str is None:
            self._str = _format_poly(self.terms)
        return self._str

    __repr__ = __str__

    def constant(self) -> int:
        for mono, coeff in self.terms:
            if mono == ():
                return coeff
        return 0


def _term_sort_key(term: tuple[Monomial, int]) -> tuple:
    mono, _ = term
    degree = sum(e for _, e in mono)
    return (-degree, [(_atom_key(a), -e) for a, e in mono])


def _poly(d: Dim) -> dict[Monomial, int]:
    if isinstance(d, int):
        return {(): d} if d else {}
    return d._as_dict()


# Symbolic arithmetic is pure and the same few dims recur on every line of a graph (B*S, 2*S,
# S+1 ...): results are memoised, so a 100k-op graph pays for each distinct sum, product,
# quotient and comparison once.  Bounded: cleared when it grows past _MEMO_MAX entries.
_MEMO: dict[tuple, object] = {}
_MEMO_MAX = 1 << 18


def _remember(key: tuple, value: object) -> None:
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = value


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    key = ("+", a, b)
    r = _MEMO.get(key)
    if r is None:
        terms = _poly(a)
        for m, c in _poly(b).items():
            terms[m] = terms.get(m, 0) + c
        r = SymDim._from_dict(terms)
        _remember(key, r)
    return r  # type: ignore[return-value]


def sub(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    return add(a, mul(b, -1))


def _mono_mul(m1: Monomial, m2: Monomial) -> Monomial:
    if not m1:
        return m2
    if not m2:
        return m1
    exps: dict[object, int] = dict(m1)
    for atom, e in m2:
        exps[atom] = exps.get(atom, 0) + e
    return tuple(sorted(exps.items(), key=lambda ae: _atom_key(ae[0])))


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int):
        if isinstance(b, int):
            return a * b
        if a == 1:
            return b
    elif isinstance(b, int) and b == 1:
        return a
    key = ("*", a, b)
    r = _MEMO.get(key)
    if r is None:
        terms: dict[Monomial, int] = {}
        for m1, c1 in _poly(a).items():
            for m2, c2 in _poly(b).items():
                m = _mono_mul(m1, m2)
                terms[m] = terms.get(m, 0) + c1 * c2
        r = SymDim._from_dict(terms)
        _remember(key, r)
    return r  # type: ignore[return-value]


def floordiv(a: Dim, b: Dim) -> Dim:
    """``a // b`` in canonical form: the part of ``a`` divisible by an int ``b``
    is divided out exactly, so ``(2*S+3)//2`` becomes ``S+1``."""
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            raise ZeroDivisionError("dim divided by zero")
        return a // b
    key = ("//", a, b)
    r = _MEMO.get(key)
    if r is None:
        r = _floordiv(a, b)
        _remember(key, r)
    return r  # type: ignore[return-value]


def _floordiv(a: Dim, b: Dim) -> Dim:
    if isinstance(b, int):
        if b == 0:
            raise ZeroDivisionError("dim divided by zero")
        if isinstance(a, int):
            return a // b
        if b == 1:
            return a
        nested = _nested_floordiv(a, b)
        if nested is not None:
            return nested
        quotient: dict[Monomial, int] = {}
        rest: dict[Monomial, int] = {}
        for m, c in a.terms:
            q, r = divmod(c, b)
            if m == ():
                rest[m] = c
            else:
                if q:
                    quotient[m] = q
                if r:
                    rest[m] = r
        rest_dim = SymDim._from_dict(rest)
        if isinstance(rest_dim, int):
            tail: Dim = rest_dim // b
        else:
            # Keep the constant inside the atom only when it changes the floor.
            c = rest.pop((), 0) if () in rest else 0
            q, r = divmod(c, b)
            rest_sym = SymDim._from_dict({**rest, (): r} if r else rest)
            # The rest may itself be one floor atom plus a constant, (B//3)//2 is B//6: nest it
            # here too, or the same dim would have two canonical forms (the text form reads
            # "B//3//2" back as B//6).
            nested_rest = _nested_floordiv(rest_sym, b) if isinstance(rest_sym, SymDim) else None
            atom = nested_rest if nested_rest is not None else SymDim(((((FloorDiv(rest_sym, b), 1),), 1),))
            tail = add(atom, q)
        return add(SymDim._from_dict(quotient), tail)
    if isinstance(a, SymDim) and a == b:
        return 1
    exact = _divide_exactly(a, b)
    if exact is not None:
        return exact
    return SymDim(((((FloorDiv(a, b), 1),), 1),))


def _divide_exactly(a: Dim, b: SymDim) -> Dim | None:
    """``a / b`` when the polynomial ``b`` divides ``a`` exactly with integer coefficients, so
    ``(2*B*S+2*B)//B`` is ``2*S+2`` and ``(4*S+4)//(S+1)`` is 4 (a reshape's -1 next to symbolic
    dims); None otherwise.  Multivariate long division in graded lex order: for one divisor the
    remainder is 0 exactly when ``b`` divides ``a``.  Floor atoms count as opaque variables."""
    pa, pb = _poly(a), _poly(b)
    atoms = sorted({x for m in list(pa) + list(pb) for x, _ in m}, key=_atom_key)

    def order(m: Monomial) -> tuple:
        exps = dict(m)
        vec = tuple(exps.get(x, 0) for x in atoms)
        return (sum(vec), vec)

    lead_b = max(pb, key=order)
    coeff_b = pb[lead_b]
    need = dict(lead_b)
    rest = dict(pa)
    quotient: dict[Monomial, int] = {}
    for _ in range(_MAX_DIVISION_STEPS):
        if not rest:
            return SymDim._from_dict(quotient)
        lead = max(rest, key=order)
        c = rest[lead]
        if c % coeff_b:
            return None
        exps = dict(lead)
        for atom, e in need.items():
            if exps.get(atom, 0) < e:
                return None
            exps[atom] -= e
        q_mono = tuple(sorted(((x, e) for x, e in exps.items() if e), key=lambda ae: _atom_key(ae[0])))
        q_coeff = c // coeff_b
        quotient[q_mono] = quotient.get(q_mono, 0) + q_coeff
        for m, cb in pb.items():
            t = _mono_mul(q_mono, m)
            v = rest.get(t, 0) - q_coeff * cb
            if v:
                rest[t] = v
            else:
                rest.pop(t, None)
    return None


_MAX_DIVISION_STEPS = 256


def _nested_floordiv(a: SymDim, b: int) -> Dim | None:
    """``(x//m + c)//b`` is ``(x + c*m)//(m*b)`` for positive ints m, b (nested floor
    division), so strided convolutions and pools stacked on a symbolic size keep one floor
    atom: ``((H+1)//2+1)//2`` is ``(H+3)//4``, the form torch.export writes."""
    if b < 0:
        return None
    atom_term = None
    c = 0
    for mono, coeff in a.terms:
        if mono == ():
            c = coeff
        elif atom_term is None and coeff == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], FloorDiv):
            atom_term = mono[0][0]
        else:
            return None
    if atom_term is None or not isinstance(atom_term.den, int) or atom_term.den <= 0:
        return None
    return floordiv(add(atom_term.num, c * atom_term.den), atom_term.den * b)


def mod(a: Dim, b: Dim) -> Dim:
    return sub(a, mul(b, floordiv(a, b)))


def free_symbols(d: Dim) -> set[str]:
    if isinstance(d, int):
        return set()
    out: set[str] = set()
    for mono, _ in d.terms:
        for atom, _ in mono:
            if isinstance(atom, str):
                out.add(atom)
            else:
                out |= atom.symbols()
    return out


def _wrap(d: Dim) -> str:
    s = str(d)
    if isinstance(d, int) and d >= 0:
        return s
    if isinstance(d, SymDim) and len(d.terms) == 1 and d.terms[0][1] == 1:
        mono = d.terms[0][0]
        if len(mono) == 1 and mono[0][1] == 1:
            return s
    return f"({s})"


def _format_mono(mono: Monomial, coeff: int) -> str:
    parts = []
    for atom, e in mono:
        parts.extend([atom if isinstance(atom, str) else str(atom)] * e)
    if len(parts) > 1 or coeff != 1:
        # A floor atom inside a product needs parentheses: 2*(H//2), not 2*H//2.
        parts = [f"({p})" if "//" in p else p for p in parts]
    body = "*".join(parts)
    return body if coeff == 1 else f"{coeff}*{body}"


def _format_poly(terms: tuple[tuple[Monomial, int], ...]) -> str:
    out = []
    for i, (mono, c) in enumerate(terms):
        body = str(abs(c)) if mono == () else _format_mono(mono, abs(c))
        if c == -1 and i == 0 and len(mono) == 1 and mono[0][1] == 1 and not isinstance(mono[0][0], str):
            # A leading minus binds tighter than //: "-B//2" would read back as (-B)//2.
            body = f"({body})"
        if c < 0:
            out.append("-" + body)
        else:
            out.append(body if i == 0 else "+" + body)
    return "".join(out)


# -- comparison -------------------------------------------------------------


def compare(a: Dim, b: Dim) -> bool | None:
    """True when ``a == b`` for every binding of the symbols, False when they
    differ for every binding, None when neither can be proved."""
    if a is b:
        return True
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    key = ("==", a, b)
    r = _MEMO.get(key, _MISSING)
    if r is _MISSING:
        d = sub(a, b)
        r = d == 0 if isinstance(d, int) else (False if _never_zero(d) else None)
        _remember(key, r)
    return r  # type: ignore[return-value]


_MISSING = object()


def _never_zero(d: SymDim) -> bool:
    """A polynomial whose terms all have one sign is never zero for positive symbols, when
    one term is a plain monomial (>= 1) and every floor atom is known to be >= 0 (a term with
    one may be 0, never of the other sign).  A floor atom of unknown sign, such as
    ``(S-5)//B``, makes the sign of its terms unknown: then nothing is proved."""
    signs = set()
    has_pure = False
    for mono, c in d.terms:
        if all(isinstance(atom, str) for atom, _ in mono):
            has_pure = True
        elif not all(isinstance(atom, str) or _nonneg_atom(atom) for atom, _ in mono):
            return False
        signs.add(c > 0)
    return has_pure and len(signs) == 1


def _nonneg_atom(atom: FloorDiv) -> bool:
    """``num // den`` >= 0 for every binding: both sides of one sign, as the int-divisor
    canonical form always leaves them (its remainder terms lie in [0, den))."""
    num, den = atom.num, atom.den
    return _same_sign(num, 1) and _same_sign(den, 1, strict=True) or _same_sign(num, -1) and _same_sign(den, -1, strict=True)


def _same_sign(d: Dim, sign: int, strict: bool = False) -> bool:
    """Every term of ``d`` has the sign ``sign`` (and its floor atoms are >= 0), so ``d`` has
    that sign or is 0; ``strict`` also rules out 0 (a nonzero constant or plain monomial)."""
    if isinstance(d, int):
        return d * sign > 0 if strict else d * sign >= 0
    nonzero = False
    for mono, c in d.terms:
        if c * sign <= 0:
            return False
        if not all(isinstance(atom, str) or _nonneg_atom(atom) for atom, _ in mono):
            return False
        nonzero = nonzero or all(isinstance(atom, str) for atom, _ in mono)
    return nonzero or not strict


def is_positive_known(d: Dim) -> bool:
    if isinstance(d, int):
        return d > 0
    return all(c > 0 for _, c in d.terms)


# -- parsing ---------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*%()]))")


class DimSyntaxError(ValueError):
    """A dim expression that does not parse; ``column`` is 0-based."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


@lru_cache(maxsize=65536)
def parse_dim(text: str) -> Dim:
    """Parse ``"2*S+1"``-style text into a canonical dim (memoised: dims repeat)."""
    if text.isdigit():
        return int(text)
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    text_stripped = text.rstrip()
    while pos < len(text_stripped):
        m = _TOKEN.match(text_stripped, pos)
        if not m:
            raise DimSyntaxError(f"unexpected character {text_stripped[pos]!r} in dim '{text}'", pos)
        kind = "int" if m.group(1) else "name" if m.group(2) else "op"
        tokens.append((kind, m.group(m.lastindex), m.start(m.lastindex)))
        pos = m.end()
    parser = _DimParser(tokens, text)
    value = parser.expr()
    if parser.i != len(tokens):
        raise DimSyntaxError(f"unexpected '{tokens[parser.i][1]}' in dim '{text}'", tokens[parser.i][2])
    return value


class _DimParser:
    def __init__(self, tokens: list[tuple[str, str, int]], text: str):
        self.tokens = tokens
        self.text = text
        self.i = 0

    def _peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def expr(self) -> Dim:
        value = self.term()
        while self._peek() in ("+", "-"):
            op = self.tokens[self.i][1]
            self.i += 1
            rhs = self.term()
            value = add(value, rhs) if op == "+" else sub(value, rhs)
        return value

    def term(self) -> Dim:
        value = self.factor()
        while self._peek() in ("*", "//", "%"):
            op = self.tokens[self.i][1]
            self.i += 1
            rhs = self.factor()
            if op == "*":
                value = mul(value, rhs)
            else:
                if rhs == 0:
                    raise DimSyntaxError(f"division by zero in dim '{self.text}'", 0)
                value = floordiv(value, rhs) if op == "//" else mod(value, rhs)
        return value

    def factor(self) -> Dim:
        if self.i >= len(self.tokens):
            raise DimSyntaxError(f"dim '{self.text}' ends early", len(self.text))
        kind, tok, col = self.tokens[self.i]
        self.i += 1
        if kind == "int":
            return int(tok)
        if kind == "name":
            return SymDim.symbol(tok)
        if tok == "-":
            return mul(self.factor(), -1)
        if tok == "(":
            value = self.expr()
            if self._peek() != ")":
                raise DimSyntaxError(f"missing ')' in dim '{self.text}'", len(self.text))
            self.i += 1
            return value
        raise DimSyntaxError(f"unexpected '{tok}' in dim '{self.text}'", col)


def format_dim(d: Dim) -> str:
    return str(d)


def format_shape(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# -- helpers shared by shape rules -------------------------------------------


def numel(shape: Shape) -> Dim:
    n: Dim = 1
    for d in shape:
        n = mul(n, d)
    return n


def evaluate(d: Dim, bindings: dict[str, int]) -> int:
    """The value of ``d`` for concrete symbol values (floor division exact)."""
    if isinstance(d, int):
        return d
    total = 0
    for mono, c in d.terms:
        v = c
        for atom, e in mono:
            if isinstance(atom, str):
                if atom not in bindings:
                    raise KeyError(atom)
                base = bindings[atom]
            else:
                base = evaluate(atom.num, bindings) // evaluate(atom.den, bindings)
            v *= base**e
        total += v
    return total


def to_sympy(d: Dim):  # pragma: no cover - exercised by the reference tests
    """The same dim as a sympy expression over positive-integer symbols."""
    import sympy

    if isinstance(d, int):
        return sympy.Integer(d)
    total = sympy.Integer(0)
    for mono, c in d.terms:
        v = sympy.Integer(c)
        for atom, e in mono:
            if isinstance(atom, str):
                base = sympy.Symbol(atom, positive=True, integer=True)
            else:
                base = sympy.floor(to_sympy(atom.num) / to_sympy(atom.den))
            v = v * base**e
        total = total + v
    return total
