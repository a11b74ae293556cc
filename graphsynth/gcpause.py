"""Pausing Python's cyclic garbage collector while a large IR is built or walked.

Reading or verifying a big module allocates hundreds of thousands of small objects that stay
alive; each time the allocation count crosses the collector's threshold it scans all of them
again (half the parse time at 10k ops before the parser paused it; parse, verify and print of
4000 small graphs 2.22 -> 2.0 s with the verifier pausing it too).  Almost nothing made
meanwhile is cyclic garbage (reference counting frees the rest); the collector runs again once
the phase ends, its first scan then covering what the phase made.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The collector off for the block, then as it was (a nested pause leaves it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
