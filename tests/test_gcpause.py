"""The collector pause around big reads and checks: what a pause made is not scanned when it
ends, yet cyclic garbage made in pauses is still freed, and someone else's freeze stands."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import graphsynth.gcpause as gcpause
from graphsynth.gcpause import cyclic_gc_paused


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations of the collections that run meanwhile (fresh module state, the
    collector on)."""
    ran: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            ran.append(info["generation"])

    gc.collect()
    saved = (gcpause._promoted, gcpause._largest, gcpause._old_size)
    gcpause._promoted, gcpause._largest, gcpause._old_size = 0, 0, len(gc.get_objects())
    was_enabled = gc.isenabled()
    gc.enable()
    gc.callbacks.append(record)
    try:
        yield ran
    finally:
        gc.callbacks.remove(record)
        gcpause._promoted, gcpause._largest, gcpause._old_size = saved
        if not was_enabled:
            gc.disable()


def _cycles(n: int) -> None:
    for _ in range(n):
        a: list = []
        a.append(a)


def test_what_a_pause_made_is_promoted_unscanned(collections: list[int]) -> None:
    with cyclic_gc_paused():
        assert not gc.isenabled()
        kept = [[i] for i in range(300_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 100, "the young generation should be empty after the pause"
    assert collections == [], f"collections ran at the end of the pause: {collections}"
    assert len(kept) == 300_000


def test_what_a_small_pause_made_stays_young(collections: list[int]) -> None:
    """A small read's objects (a --split-input-file chunk) are left to the young collection,
    which frees its garbage at once, rather than promoted towards a full collection."""
    before = gcpause._promoted
    with cyclic_gc_paused():
        _cycles(1000)  # past the young generation's threshold (700): collected once allowed
    _cycles(1)
    assert gcpause._promoted == before
    assert collections and 2 not in collections, collections


def test_nested_pauses_leave_the_collector_off() -> None:
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_cyclic_garbage_made_in_pauses_is_freed(collections: list[int]) -> None:
    """A loop of pauses that each leave cyclic garbage (a rejected edit's partial IR) stays
    bounded: a full collection runs once enough has been promoted."""
    start = len(gc.get_objects())
    for _ in range(50):
        with cyclic_gc_paused():
            _cycles(60_000)  # 3 million garbage lists in all
    assert 2 in collections, "no full collection ran"
    grown = len(gc.get_objects()) - start
    # What may wait for the next full collection: the floor, or a quarter of a big process.
    bound = max(gcpause._PROMOTED_FLOOR, start // 4) + 500_000
    assert grown < bound, f"{grown} objects left behind by 3,000,000 of garbage (bound {bound})"


def test_a_freeze_made_elsewhere_stands(collections: list[int]) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with cyclic_gc_paused():
            _cycles(10)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
