"""Delivery on the server side: who waits for due messages, and what happens to one handed back.

The storage moves (``storage.delivery``) happen in shard write transactions; this module decides
where a message goes when a delivery fails (back to the due queue, to the dead-letter namespace,
or away) and wakes the consumers blocked in TAKE when something falls due.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import trio
from attrs import define, field

from mi.settings.config import NamespaceSettings
from mi.observability.logs import get_logger
from mi.core.writer import ShardWriter
from storage import Store, WriteTxn
from storage.delivery import Delivery
from storage.quarantine import Quarantined

__all__ = ["DueSignals", "log_quarantined", "settle", "take_available"]

log = get_logger("mi.delivery")


def log_quarantined(shard: int, items: Sequence[Quarantined]) -> None:
    """One structured event per item set aside (``storage.quarantine``)."""
    for item in items:
        log.error(
            "storage.quarantined", shard=shard, area=item.area, ns=item.namespace,
            key=item.key.decode("utf-8", "backslashreplace")[:200], reason=item.reason, id=item.id,
        )


@define
class DueSignals:
    """One event per namespace, set (and replaced) when messages fall due there.

    A consumer takes the event *before* it looks at the queue, so a message that falls due
    between its look and its wait still wakes it.
    """

    _events: dict[str, trio.Event] = field(factory=dict)

    def event(self, ns: str) -> trio.Event:
        event = self._events.get(ns)
        if event is None:
            event = self._events[ns] = trio.Event()
        return event

    def notify(self, namespaces: set[str]) -> None:
        for ns in namespaces:
            event = self._events.pop(ns, None)
            if event is not None:
                event.set()

    def wake_all(self) -> None:
        """Wake every waiting consumer (the server is shutting down)."""
        self.notify(set(self._events))


def settle(txn: WriteTxn, delivery: Delivery, settings: NamespaceSettings) -> str:
    """A delivery that failed (NACK, or its lease ran out): ``"requeued"``, ``"dead-lettered"``
    (stored in the dead-letter namespace without a TTL, under the same key) or ``"dropped"``."""
    if settings.max_attempts is None or delivery.attempts < settings.max_attempts:
        txn.delivery.requeue(delivery)
        return "requeued"
    if settings.dead_letter is not None:
        txn.put(settings.dead_letter, delivery.key, delivery.record.value, 0, priority=delivery.record.priority)
        outcome = "dead-lettered"
    else:
        outcome = "dropped"
    log.warning(
        "delivery.given_up",
        ns=delivery.namespace,
        key=delivery.key.decode("utf-8", "backslashreplace"),
        attempts=delivery.attempts,
        outcome=outcome,
        dead_letter=settings.dead_letter,
    )
    return outcome


async def take_available(
    store: Store, writers: Sequence[ShardWriter], ns: str, count: int, now_ms: int, lease_ms: int
) -> list[tuple[int, Delivery]]:
    """Up to ``count`` due messages of ``ns``, most urgent first, each as ``(shard, delivery)``,
    now leased.

    Each shard's queue is in order; the most urgent ``count`` across shards decide how many to
    take from each, and each shard's take is one durable commit. A damaged message met on the way
    is quarantined by storage (and logged here); the next good one is taken instead.
    """
    candidates = []
    for shard in store.shards:
        with shard.read() as txn:
            candidates += [(first, shard.index) for first in txn.delivery.peek(ns, count)]
    wanted = Counter(index for _first, index in sorted(candidates)[:count])
    taken: list[tuple[int, Delivery]] = []
    for index, how_many in wanted.items():
        outcome = await writers[index].write(_take(ns, now_ms, lease_ms, how_many), "TAKE")
        if isinstance(outcome, Exception):
            raise outcome
        deliveries, quarantined = outcome
        log_quarantined(index, quarantined)
        taken += [(index, delivery) for delivery in deliveries]
    return sorted(taken, key=lambda item: (item[1].priority, item[1].record.expires_at))


def _take(ns: str, now_ms: int, lease_ms: int, count: int) -> Callable[[WriteTxn], Any]:
    return lambda txn: (txn.delivery.take(ns, now_ms, lease_ms, count), txn.quarantined)


def wait_seconds(deadline_ms: float, now_ms: int) -> float:
    """Seconds from ``now_ms`` to ``deadline_ms`` (infinite for an infinite deadline)."""
    return math.inf if deadline_ms == math.inf else max(deadline_ms - now_ms, 0) / 1000
