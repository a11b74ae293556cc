"""Symbolic sizes from torch.export, as graphsynth dims.

torch.export names every dynamic size ``s0``, ``s77``... and writes derived sizes as sympy
expressions over them (with its own ``FloorDiv``/``Mod`` classes).  The importer maps each of
those symbols to the name the user gave (``B``, ``S``) through the placeholders, and converts
every expression into a canonical :mod:`graphsynth.dialects.shapes` dim, so that ``s70*s72``
prints as ``B*S`` and compares in microseconds without sympy.
"""

from __future__ import annotations

from typing import Any

from graphsynth.dialects.symdim import Dim, SymDim, add, floordiv, mod, mul


class SymbolError(ValueError):
    """A size expression graphsynth cannot express as a dim (e.g. ``Max``, a data-dependent
    size, a non-integer)."""


def _fn_name(expr: Any) -> str:
    return type(expr).__name__


def sympy_to_dim(expr: Any, names: dict[str, str]) -> Dim:
    """Convert torch's sympy size expression to a dim; ``names`` maps torch's symbol names
    (``s77``) to ours (``S``)."""
    import sympy

    if isinstance(expr, (int,)) and not isinstance(expr, bool):
        return expr
    if isinstance(expr, sympy.Integer):
        return int(expr)
    if isinstance(expr, sympy.Symbol):
        name = names.get(expr.name)
        if name is None:
            if expr.name.startswith("u"):
                raise SymbolError(f"size {expr.name} depends on tensor data (it is unbacked)")
            raise SymbolError(f"size symbol {expr.name} is not one of the dynamic dims")
        return SymDim.symbol(name)
    if isinstance(expr, sympy.Add):
        total: Dim = 0
        for a in expr.args:
            total = add(total, sympy_to_dim(a, names))
        return total
    if isinstance(expr, sympy.Mul):
        prod: Dim = 1
        for a in expr.args:
            prod = mul(prod, sympy_to_dim(a, names))
        return prod
    if isinstance(expr, sympy.Pow) or _fn_name(expr) == "PowByNatural":
        base, exp = expr.args
        if isinstance(exp, sympy.Integer) and int(exp) >= 0:
            out: Dim = 1
            b = sympy_to_dim(base, names)
            for _ in range(int(exp)):
                out = mul(out, b)
            return out
        raise SymbolError(f"size {expr} has a non-integer power")
    fn = _fn_name(expr)
    if fn == "Identity" and len(expr.args) == 1:
        return sympy_to_dim(expr.args[0], names)
    if fn in ("FloorDiv", "CleanDiv") and len(expr.args) == 2:
        a, b = (sympy_to_dim(x, names) for x in expr.args)
        return floordiv(a, b)
    if fn in ("Mod", "PythonMod") and len(expr.args) == 2:
        a, b = (sympy_to_dim(x, names) for x in expr.args)
        return mod(a, b)
    if fn == "ModularIndexing" and len(expr.args) == 3:
        a, b, m = (sympy_to_dim(x, names) for x in expr.args)
        return mod(floordiv(a, b), m)
    if fn == "CeilDiv" and len(expr.args) == 2:
        a, b = (sympy_to_dim(x, names) for x in expr.args)
        return mul(floordiv(mul(a, -1), b), -1)
    raise SymbolError(f"size expression {expr} ({fn}) has no graphsynth form")


def value_to_dim(v: Any, names: dict[str, str]) -> Dim:
    """An int or a torch.SymInt as a dim."""
    import torch

    if isinstance(v, bool):
        raise SymbolError(f"expected a size, got the bool {v}")
    if isinstance(v, int):
        return v
    if isinstance(v, torch.SymInt):
        return sympy_to_dim(v.node.expr, names)
    raise SymbolError(f"expected a size, got {type(v).__name__} {v!r}")


def format_relation(expr: Any, names: dict[str, str]) -> str:
    """A guard (``Eq(Mod(s27, 4), 0)``) in the user's names and Python syntax (``F % 4 == 0``)."""
    import sympy

    ops = {
        "Equality": "==",
        "Unequality": "!=",
        "GreaterThan": ">=",
        "StrictGreaterThan": ">",
        "LessThan": "<=",
        "StrictLessThan": "<",
    }
    kind = type(expr).__name__
    if kind in ops and len(expr.args) == 2:
        return f"{format_expr(expr.args[0], names)} {ops[kind]} {format_expr(expr.args[1], names)}"
    if isinstance(expr, sympy.And):
        return " and ".join(format_relation(a, names) for a in expr.args)
    if isinstance(expr, sympy.Or):
        return " or ".join(format_relation(a, names) for a in expr.args)
    if isinstance(expr, sympy.Not):
        return f"not ({format_relation(expr.args[0], names)})"
    return format_expr(expr, names)


def format_expr(expr: Any, names: dict[str, str]) -> str:
    import sympy

    fn = _fn_name(expr)
    if fn in ("Mod", "PythonMod") and len(expr.args) == 2:
        return f"{_paren(expr.args[0], names)} % {_paren(expr.args[1], names)}"
    if fn in ("FloorDiv",) and len(expr.args) == 2:
        return f"{_paren(expr.args[0], names)} // {_paren(expr.args[1], names)}"
    try:
        return str(sympy_to_dim(expr, names))
    except SymbolError:
        pass
    if isinstance(expr, sympy.Symbol):
        return names.get(expr.name, expr.name)
    return str(expr.xreplace({s: sympy.Symbol(names[s.name]) for s in expr.free_symbols if s.name in names}))


def _paren(expr: Any, names: dict[str, str]) -> str:
    import sympy

    s = format_expr(expr, names)
    if isinstance(expr, (sympy.Symbol, sympy.Integer)):
        return s
    return f"({s})"
