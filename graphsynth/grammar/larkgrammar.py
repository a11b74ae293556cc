"""The Lark parsers of the gs grammar, built once.

The grammar file and the dtype table meet here, so that the whole-text reader (``_LARK``), the
fast reader built from its terminals (``_FAST``) and the statement-run parser of incremental
re-parsing (:func:`fragment_parser`) all read one grammar, and its LALR tables are built (or
loaded from Lark's cache) in one place.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lark import Lark

from graphsynth.dialects.dtypes import DTYPE_PATTERN
from graphsynth.grammar.fastpath import FastReader

# The type words of the grammar come from the dtype table (one place for the dtypes).
_GRAMMAR = (Path(__file__).parent / "gs.lark").read_text().replace("@DTYPES@", DTYPE_PATTERN)
# cache=True keeps the built LALR tables in the temp dir (keyed by grammar and Lark version):
# building them costs ~50 ms of every start, loading them ~4 ms.
_LARK = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False, cache=True)
_FAST = FastReader(_LARK)


def fragment_parser() -> Lark:
    """A Lark parser of this grammar that also parses a run of statements (start symbol
    ``body``), with positions: what re-parsing only the edited lines of a text needs.  Built on
    first use (the start-up path never needs it)."""
    global _FRAGMENT_LARK
    with _FRAGMENT_LOCK:
        if _FRAGMENT_LARK is None:
            _FRAGMENT_LARK = Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False,
                                  start=["start", "body"])
        return _FRAGMENT_LARK


_FRAGMENT_LARK: Lark | None = None
_FRAGMENT_LOCK = threading.Lock()
