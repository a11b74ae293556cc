"""Where an op stands in the text its diagnostics refer to.

Every check that reports on an op (the verifier, passes, backends, the rewrite driver) turns
the op's xDSL location into a diagnostic :class:`Location` through this one function.
"""

from __future__ import annotations

from xdsl.dialects.builtin import (
    FileLineColLoc,
)
from xdsl.ir import Operation

from graphsynth.diagnostics import Location


def location(op: Operation) -> Location | None:
    loc = getattr(op, "location", None)
    if isinstance(loc, FileLineColLoc):
        return Location(loc.filename.data, loc.line.data, loc.column.data)
    return None
