"""Symbolic dimensions: the canonical polynomial form and its arithmetic.

A dim is a plain ``int`` or a :class:`SymDim`, a polynomial with integer
coefficients over positive-integer symbols (``B``, ``S``) and floor-division
atoms (``(H-3)//2``).  Every ``SymDim`` is kept in a canonical form, so two
dims are equal exactly when their canonical forms are equal: comparing costs a
tuple comparison, not a call into sympy.  ``import sympy`` alone takes about
0.6 s and ``expand(a - b) == 0`` about 10 µs per check; this module is the fast
path and :func:`to_sympy` keeps sympy as the reference (see the property tests).

Plain-int dims never leave the int fast path: arithmetic on two ints is Python
arithmetic, and only an expression that mentions a symbol builds a ``SymDim``.

Size stays polynomial in the input.  The canonical form is the expanded polynomial, so a product
of sums expands: ``(a0+b0)*(a1+b1)*...*(a19+b19)`` has 2**20 terms.  Rather than a factored
form (equality of factored polynomials needs the expansion anyway, or a factorisation, which is
no cheaper), every ``SymDim`` carries its *size* (``graphsynth.dialects.limits``: the symbols and
floor atoms its expanded form writes, plus one per term) and the depth of its floor atoms, and
arithmetic refuses, with :class:`LimitError` (GS307, GS109), any result beyond
``MAX_DIM_SIZE``/``MAX_NESTING_DEPTH``; a product is refused *before* it is expanded when its
expansion would be too large; the integers inside a dim are int64 (so its text reads back), and
plain integers computed from dims (a numel) stay below ``2**MAX_ARITH_BITS``.  So no operation does
more than about ``MAX_DIM_SIZE`` steps and every dim prints in bounded space, wherever it comes
from: the text form, MLIR input, a model's reply, or a shape rule multiplying dims.  The memo
tables are bounded by the total size they hold, not by their number of entries.
"""

from __future__ import annotations

from typing import Union

from graphsynth.dialects.limits import (
    MAX_ARITH_BITS,
    MAX_DIM_SIZE,
    MAX_INT,
    MAX_NESTING_DEPTH,
    LimitError,
    show_int,
)
from graphsynth.dialects.memo import BoundedMemo

Dim = Union[int, "SymDim"]
Shape = tuple[Dim, ...]

# A monomial is a sorted tuple of (atom, exponent); an atom is a symbol name or
# a FloorDiv.  A polynomial is a sorted tuple of (monomial, coefficient).
Monomial = tuple[tuple[object, int], ...]


class FloorDiv:
    """The atom ``num // den`` where ``num`` has no part divisible by ``den``."""

    __slots__ = ("num", "den", "_key", "size", "depth")

    def __init__(self, num: Dim, den: Dim):
        self.num = num
        self.den = den
        self.size = 1 + _size(num) + _size(den)
        self.depth = 1 + max(_depth(num), _depth(den))
        for part in (num, den):
            if isinstance(part, int) and not -MAX_INT <= part <= MAX_INT:
                raise _coefficient_too_large(part)
        if self.depth > MAX_NESTING_DEPTH:
            raise LimitError(f"dim nests floor divisions more than {MAX_NESTING_DEPTH} deep", "GS109")
        if self.size > MAX_DIM_SIZE:
            raise _too_large("a floor division", self.size)
        self._key = f"{_wrap(num)}//{_wrap(den, floor_ok=False)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FloorDiv) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    # Atoms order: symbol names first, then floor atoms by their text; so monomials sort with
    # plain sorted(), no key function.
    def __lt__(self, other: object) -> bool:
        return isinstance(other, FloorDiv) and self._key < other._key

    def __gt__(self, other: object) -> bool:
        return not isinstance(other, FloorDiv) or self._key > other._key

    def __str__(self) -> str:
        return self._key

    def symbols(self) -> set[str]:
        return free_symbols(self.num) | free_symbols(self.den)


def _size(d: Dim) -> int:
    return 1 if isinstance(d, int) else d.size


def _depth(d: Dim) -> int:
    return 0 if isinstance(d, int) else d.depth


def _too_large(what: str, size: int) -> LimitError:
    return LimitError(
        f"symbolic expression too large: {what} would have size {size}, over the limit of {MAX_DIM_SIZE} "
        "(symbols and floor divisions in its expanded form)",
        "GS307",
    )


_MAX_COEFF = 1 << MAX_ARITH_BITS


def _coefficient_too_large(c: int) -> LimitError:
    # Every integer inside a dim is one the text form can read back: int64.
    return LimitError(f"symbolic expression too large: the coefficient {show_int(c)} is out of range (-{MAX_INT}..{MAX_INT})", "GS307")


def _check_int(v: int) -> int:
    if -_MAX_COEFF < v < _MAX_COEFF:
        return v
    raise LimitError(f"integer too large in dim arithmetic: {v.bit_length()} bits, over the limit of {MAX_ARITH_BITS}", "GS307")


class SymDim:
    """A canonical integer polynomial over symbols and floor-division atoms.

    ``size`` is the number of symbols and floor atoms its expanded form writes plus one per term
    (a floor atom counts with its own size), ``depth`` the nesting of its floor atoms; both are
    bounded (see the module docstring), and every integer inside is within int64, so the text
    form reads back whatever it prints."""

    __slots__ = ("terms", "_hash", "_str", "size", "depth")

    def __init__(self, terms: tuple[tuple[Monomial, int], ...]):
        size = len(terms)
        depth = 0
        for mono, c in terms:
            for atom, e in mono:
                if isinstance(atom, str):
                    size += e
                else:
                    size += e * atom.size
                    if atom.depth > depth:
                        depth = atom.depth
            if not -MAX_INT <= c <= MAX_INT:
                raise _coefficient_too_large(c)
        if size > MAX_DIM_SIZE:
            raise _too_large("a dim", size)
        self.terms = terms
        self.size = size
        self.depth = depth
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
    mono = term[0]
    return (-sum(e for _, e in mono), [(a, -e) for a, e in mono])


def _poly(d: Dim) -> dict[Monomial, int]:
    if isinstance(d, int):
        return {(): d} if d else {}
    return d._as_dict()

# Symbolic arithmetic is pure and the same few dims recur on every line of a graph (B*S, 2*S,
# S+1 ...): results are memoised, so a 100k-op graph pays for each distinct sum, product,
# quotient and comparison once.
_MEMO = BoundedMemo(1 << 21)


def _remember(key: tuple, value: object) -> None:
    _MEMO.put(key, value, 1 + _size(key[1]) + _size(key[2]) + (_size(value) if isinstance(value, (int, SymDim)) else 1))


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
    get = exps.get
    for atom, e in m2:
        exps[atom] = get(atom, 0) + e
    return tuple(sorted(exps.items()))


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int):
        if isinstance(b, int):
            r = a * b
            return r if -_MAX_COEFF < r < _MAX_COEFF else _check_int(r)
        if a == 1:
            return b
    elif isinstance(b, int) and b == 1:
        return a
    key = ("*", a, b)
    r = _MEMO.get(key)
    if r is None:
        if not isinstance(a, int) and not isinstance(b, int):
            # Refuse before expanding: the expansion has len(a)*len(b) terms, each as large as
            # the two it multiplies.
            la, lb = len(a.terms), len(b.terms)
            naive = la * lb + lb * (a.size - la) + la * (b.size - lb)
            if naive > MAX_DIM_SIZE:
                raise _too_large(f"the product of two dims of size {a.size} and {b.size}", naive)
        terms: dict[Monomial, int] = {}
        get = terms.get
        ta = (((), a),) if isinstance(a, int) else a.terms
        tb = (((), b),) if isinstance(b, int) else b.terms
        for m1, c1 in ta:
            for m2, c2 in tb:
                m = _mono_mul(m1, m2)
                terms[m] = get(m, 0) + c1 * c2
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
    remainder is 0 exactly when ``b`` divides ``a``.  Floor atoms count as opaque variables.

    Bounded: the division gives up (None: the quotient stays a floor atom, which is exact, only
    not simplified) once it has touched ``_DIVISION_WORK`` terms."""
    pa, pb = _poly(a), _poly(b)
    atoms = sorted({x for m in list(pa) + list(pb) for x, _ in m})
    keys: dict[Monomial, tuple] = {}

    def order(m: Monomial) -> tuple:
        k = keys.get(m)
        if k is None:
            exps = dict(m)
            vec = tuple(exps.get(x, 0) for x in atoms)
            k = keys[m] = (sum(vec), vec)
        return k

    lead_b = max(pb, key=order)
    coeff_b = pb[lead_b]
    need = dict(lead_b)
    rest = dict(pa)
    quotient: dict[Monomial, int] = {}
    work = 0
    while work <= _DIVISION_WORK:
        if not rest:
            return SymDim._from_dict(quotient)
        work += len(rest) + len(pb)
        lead = max(rest, key=order)
        c = rest[lead]
        if c % coeff_b:
            return None
        exps = dict(lead)
        for atom, e in need.items():
            if exps.get(atom, 0) < e:
                return None
            exps[atom] -= e
        q_mono = tuple(sorted((x, e) for x, e in exps.items() if e))
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


_DIVISION_WORK = 16 * MAX_DIM_SIZE


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


def _wrap(d: Dim, floor_ok: bool = True) -> str:
    """``d`` as an operand of ``//``: bare when it is an int, a symbol or (``floor_ok``, on the
    left, since ``//`` reads left to right) a floor atom; else in parentheses."""
    s = str(d)
    if isinstance(d, int) and d >= 0:
        return s
    if isinstance(d, SymDim) and len(d.terms) == 1 and d.terms[0][1] == 1:
        mono = d.terms[0][0]
        if len(mono) == 1 and mono[0][1] == 1 and (floor_ok or isinstance(mono[0][0], str)):
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
