"""Queue counts per namespace, kept in memory so that looking at them never scans.

Gauges (what is there now): ``scheduled`` (keys with a deadline, until the reaper moves them, and
messages waiting for a retry), ``due``, ``in_flight`` (held by a consumer) and ``dead`` (dead
letters' histories, under the namespace they died in). Counters (what happened since the start,
or since ``reset_counters``): ``delivered`` (handed out by TAKE or a webhook), ``acked`` (ACK, a
webhook's 2xx), ``nacked`` (NACK, a webhook's failed POST), ``lease_expired`` (a consumer's lease
ran out), ``expired`` (dropped at its deadline in a namespace that does not deliver),
``dead_lettered``, ``dropped`` (given up on without a dead-letter namespace) and ``kicked``.

Each shard counts its databases once when it opens (``QueueCounts.count``, after its log's
replay); from then on every write transaction records what it changed in a ``QueueDelta``
(``TxnState.queue``: a list increment per message moved), applied by the shard only after the
commit succeeds, so a transaction that aborts changes no count. Commits apply on the writer's
thread while the event loop and the metrics thread read: a lock keeps each look whole.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import lmdb

from storage.dead_letters import PREFIX as DEAD_PREFIX
from storage.delivery_entries import inflight_place
from storage.expiry import index_namespace

__all__ = [
    "ACKED", "COUNTERS", "DEAD", "DEAD_LETTERED", "DELIVERED", "DROPPED", "DUE", "EXPIRED", "FIELDS",
    "GAUGES", "IN_FLIGHT", "KICKED", "LEASE_EXPIRED", "NACKED", "SCHEDULED", "QueueCounts", "QueueDelta",
]  # fmt: skip

GAUGES = ("scheduled", "due", "in_flight", "dead")
COUNTERS = ("delivered", "acked", "nacked", "lease_expired", "expired", "dead_lettered", "dropped", "kicked")
FIELDS = GAUGES + COUNTERS
SCHEDULED, DUE, IN_FLIGHT, DEAD = range(len(GAUGES))
DELIVERED, ACKED, NACKED, LEASE_EXPIRED, EXPIRED, DEAD_LETTERED, DROPPED, KICKED = range(len(GAUGES), len(FIELDS))
_DEAD_KEY_SIZE = 8  # the message id after the namespace (storage.dead_letters)


def scheduled_or_in_flight(waiting: bool) -> int:
    """Where an entry of mi/inflight counts: waiting for its retry is scheduled, else in flight."""
    return SCHEDULED if waiting else IN_FLIGHT


class QueueDelta:
    """What one write transaction changed, by namespace (a row of ``FIELDS`` each)."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}

    def add(self, namespace: str, field: int, amount: int = 1) -> None:
        row = self.rows.get(namespace)
        if row is None:
            row = self.rows[namespace] = [0] * len(FIELDS)
        row[field] += amount


class QueueCounts:
    """One shard's counts, by namespace."""

    def __init__(self, rows: dict[str, list[int]]) -> None:
        self._rows = rows
        self._lock = threading.Lock()

    @classmethod
    def count(cls, txn: lmdb.Transaction, expiry_db: Any, due_db: Any, inflight_db: Any, meta_db: Any) -> QueueCounts:
        """Count the gauges of a shard's databases as ``txn`` sees them (the counters start at 0):
        one pass over the expiry index, the due queue and the messages in flight, and over the
        dead letters' histories in mi/meta."""
        delta = QueueDelta()
        scheduled: Counter[bytes] = Counter()
        with txn.cursor(db=expiry_db) as cursor:
            for index_key in cursor.iternext(values=False):
                scheduled[index_namespace(index_key)] += 1
        for name, count in scheduled.items():
            delta.add(name.decode("ascii", "replace"), SCHEDULED, count)
        due: Counter[bytes] = Counter()
        with txn.cursor(db=due_db) as cursor:
            for due_key in cursor.iternext(values=False):
                due[bytes(due_key[1 : 1 + due_key[0]])] += 1
        for name, count in due.items():
            delta.add(name.decode("ascii", "replace"), DUE, count)
        with txn.cursor(db=inflight_db) as cursor:
            for value in cursor.iternext(keys=False):
                namespace, waiting = inflight_place(value)
                delta.add(namespace, scheduled_or_in_flight(waiting))
        with txn.cursor(db=meta_db) as cursor:
            found = cursor.set_range(DEAD_PREFIX)
            while found:
                entry = cursor.key()
                if bytes(entry[: len(DEAD_PREFIX)]) != DEAD_PREFIX:
                    break
                length = entry[len(DEAD_PREFIX)]
                start = len(DEAD_PREFIX) + 1
                if len(entry) == start + length + _DEAD_KEY_SIZE:  # as DeadLetters.listed reads them
                    delta.add(bytes(entry[start : start + length]).decode("ascii", "replace"), DEAD)
                found = cursor.next()
        return cls(delta.rows)

    def apply(self, delta: QueueDelta) -> None:
        """Add what a committed transaction changed."""
        with self._lock:
            for namespace, change in delta.rows.items():
                row = self._rows.get(namespace)
                if row is None:
                    self._rows[namespace] = list(change)
                else:
                    for field, amount in enumerate(change):
                        row[field] += amount

    def snapshot(self) -> dict[str, list[int]]:
        """A copy of every namespace's row (``FIELDS`` in order)."""
        with self._lock:
            return {namespace: list(row) for namespace, row in self._rows.items()}

    def reset_counters(self) -> None:
        """The counters from zero (CONFIG RESETSTAT); the gauges stay."""
        with self._lock:
            for row in self._rows.values():
                row[len(GAUGES) :] = [0] * len(COUNTERS)
