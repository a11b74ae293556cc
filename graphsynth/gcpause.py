"""Pausing Python's cyclic garbage collector while a large IR is built or walked.

Reading or verifying a big module allocates hundreds of thousands of small objects that stay
alive; each time the allocation count crosses the collector's threshold it scans all of them
again (half the parse time at 10k ops before the parser paused it; parse, verify and print of
4000 small graphs 2.22 -> 2.0 s with the verifier pausing it too).  Almost nothing made
meanwhile is cyclic garbage (reference counting frees the rest), so what the phase made is
then moved to the oldest generation without the scan that would only find it alive.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Objects moved to the oldest generation unscanned (see cyclic_gc_paused) since the last full
# collection this module ran, the most one pause moved, and how many objects were tracked after
# that collection.  CPython collects its oldest generation when what was added since is a quarter
# of what it held; the same rule here, with two floors: a million objects (some 130 MB of small
# ones), and twice the largest pause, so that one big read and check is never scanned while a
# loop of reads still frees its cyclic garbage in amortised linear time.
_PROMOTED_FLOOR = 1_000_000
# A pause that made fewer objects than this leaves them young: the next young collection is
# cheap, and frees the garbage of small reads (a --split-input-file chunk) at once.
_PROMOTED_MIN = 50_000
_promoted = 0
_largest = 0
_old_size = 0


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The collector off for the block, then as it was (a nested pause leaves it off).

    What the block made is then moved to the oldest generation (``gc.freeze`` then
    ``gc.unfreeze``, as documented: the frozen objects go back to the oldest generation) rather
    than left young, where the next collection would scan all of it once only to find it alive
    (a tenth of parse, verify and print of 4000 small graphs); a small block's objects stay
    young, where collecting them is cheap.  A full collection runs instead
    when enough has been moved so (see above), so cyclic garbage made in paused blocks (a
    rejected edit's partial IR) is still freed.  Where someone else keeps objects frozen (a
    pre-fork server), their freeze stands and the young collection runs as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _promote_young()
            gc.enable()


def _promote_young() -> None:
    global _promoted, _largest, _old_size
    if gc.get_freeze_count():
        return
    young = gc.get_count()[0]  # tracked objects made (net) since the last young collection
    if young < _PROMOTED_MIN:
        return
    _promoted += young
    _largest = max(_largest, young)
    if _promoted > max(_PROMOTED_FLOOR, 2 * _largest, _old_size // 4):
        gc.collect()
        _promoted, _largest, _old_size = 0, 0, len(gc.get_objects())
    else:
        gc.freeze()
        gc.unfreeze()
