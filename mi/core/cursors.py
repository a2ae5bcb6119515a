"""SCAN cursors.

LMDB walks keys in order, so the natural resume point is the last key a page reached. That does
not fit in the integer cursor clients expect, so the server keeps the positions and hands out a
number for each. The table is bounded: a cursor unused for long may be forgotten, and then SCAN
answers "invalid cursor" (the client starts again from 0).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from attrs import define, field

__all__ = ["ScanCursors"]

MAX_SCAN_CURSORS = 10_000


@define
class ScanCursors:
    limit: int = MAX_SCAN_CURSORS
    _positions: OrderedDict[int, tuple[str, int, bytes | None]] = field(factory=OrderedDict)

    def save(self, namespace: str, shard_index: int, after: bytes | None) -> int:
        cursor = secrets.randbits(63) or 1  # never 0, which means "start" and "done"
        self._positions[cursor] = (namespace, shard_index, after)
        while len(self._positions) > self.limit:
            self._positions.popitem(last=False)
        return cursor

    def resume(self, cursor: int, namespace: str) -> tuple[int, bytes | None] | None:
        """Where ``cursor`` left off in ``namespace``; None if unknown."""
        if cursor == 0:
            return 0, None
        position = self._positions.get(cursor)
        if position is None or position[0] != namespace:
            return None
        self._positions.move_to_end(cursor)
        return position[1], position[2]
