"""A memo table bounded by the total weight of what it holds.

Symbolic arithmetic, dim parsing and range proofs memoise their results (the same few dims
recur on every line of a graph); hostile input can make single entries huge, so each table is
bounded by weight rather than by its number of entries.
"""

from __future__ import annotations


class BoundedMemo(dict):
    """A memo table bounded by the total weight of what it holds (sizes of dims, lengths of
    texts), not by its number of entries: a few huge hostile dims must not hold gigabytes.
    Cleared when full; the hot path is a plain ``dict.get``."""

    def __init__(self, max_weight: int):
        super().__init__()
        self.max_weight = max_weight
        self.weight = 0

    def put(self, key: object, value: object, weight: int) -> None:
        if weight > self.max_weight >> 4:
            return  # not worth holding: rare and large
        if self.weight + weight > self.max_weight:
            self.clear()
        self.weight += weight
        self[key] = value

    def clear(self) -> None:
        super().clear()
        self.weight = 0
