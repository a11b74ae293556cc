"""Run-time checks at the entry of a lowered module: the symbols bound from the inputs' sizes.

A graph may declare what its symbols are (``symbol S: [400, 4000] step 8``); the verifier
proved the graph's shapes under those facts, so the lowered ``forward`` must refuse inputs that
break them, or it would compute on sizes nothing was proved for.  Likewise a symbol solved from
a dim such as ``8*k`` (``k = size // 8``) is only right when the size is a multiple of 8.  Each
check is one comparison per call of ``forward``, generated into its code as a call of the
functions below; a failure raises :class:`SymbolBindingError` with a GS610 diagnostic that names
the symbol, the input dim it came from, its value and the declared range.
"""

from __future__ import annotations

from graphsynth.diagnostics import GraphsynthError, error


class SymbolBindingError(GraphsynthError, ValueError):
    """An input size binds a symbol to a value the graph does not allow (GS610), or an op's
    result defines an unbacked symbol outside its declared range (GS611)."""


def check_symbol(value: int, name: str, where: str, low: int, high: int | None, step: int) -> None:
    """Refuse ``value`` for symbol ``name`` unless it is a multiple of ``step`` in [low, high]."""
    if value >= low and (high is None or value <= high) and value % step == 0:
        return
    bounds = f"[{low}, {'inf' if high is None else high}]" + (f" step {step}" if step != 1 else "")
    why = "is not a multiple of " + str(step) if value % step else "is outside"
    message = (f"symbol {name} = {value} (from {where}) {why} its declared range {bounds}" if value % step == 0
               else f"symbol {name} = {value} (from {where}) {why}: the graph declares {name}: {bounds}")
    raise SymbolBindingError([error("GS610", message, value=name, expected=bounds, got=str(value),
                                    fix=f"give an input whose {where} allows {name} in {bounds}")])


def check_multiple(size: int, name: str, where: str, coeff: int, const: int) -> None:
    """Refuse a size from which ``name`` is solved as ``(size - const) // coeff`` when the
    division is not exact (the input's type says the size is ``coeff*name + const``)."""
    if (size - const) % coeff == 0 and (size - const) // coeff >= 1:
        return
    form = f"{coeff}*{name}" + (f"{const:+d}" if const else "")
    raise SymbolBindingError([error("GS610", f"{where} is {size}, which is not {form} for any positive integer {name}",
                                    value=name, expected=form, got=str(size),
                                    fix=f"give an input whose {where} is {form} for some {name} >= 1")])


def check_unbacked(value: int, name: str, where: str, low: int, high: int | None, step: int) -> None:
    """Refuse the run-time count ``value`` that an op's result gives the unbacked symbol
    ``name`` unless it lies in the declared range: the shapes after it were proved for that
    range only."""
    if value >= low and (high is None or value <= high) and value % step == 0:
        return
    bounds = f"[{low}, {'inf' if high is None else high}]" + (f" step {step}" if step != 1 else "")
    raise SymbolBindingError([error("GS611", f"unbacked symbol {name} = {value} (from {where}) is outside its declared range {bounds}",
                                    value=name, expected=bounds, got=str(value),
                                    fix=f"widen the declaration 'symbol {name}: ... unbacked', or give inputs whose data keep {name} in {bounds}")])
