"""Delivery on the server side: who waits for due messages, and what happens to one handed back.

The storage moves (``storage.delivery``) happen in shard write transactions; this module decides
where a message goes when a delivery fails (after a wait for its retry, back to the due queue; past
its attempts, to the dead-letter namespace with its history, or away), brings dead letters back
(KICK), and wakes the consumers blocked in TAKE when something falls due.

Retries follow the namespace's ``retry_backoff``: the n-th failed delivery waits
``min(retry_backoff * 2**(n-1), retry_backoff_max)``, of which a random half to all ("equal
jitter"), so consumers that failed together do not come back together.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import trio
from attrs import define, field

from mi.settings.config import NamespaceSettings
from mi.observability.logs import get_logger
from mi.core.writer import ShardWriter
from storage import Store, WriteTxn
from storage.delivery import Delivery, reprioritised
from storage.errors import CorruptRecord
from storage.quarantine import Quarantined

__all__ = [
    "DueSignals", "kick", "log_quarantined", "retry_delay_ms", "settle", "take_available",
    "take_from", "wait_any",
]  # fmt: skip

LEASE_RAN_OUT = "the lease ran out"

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


def retry_delay_ms(settings: NamespaceSettings, attempts: int, rng: Callable[[], float] = random.random) -> int:
    """How long a message waits after its ``attempts``-th delivery failed: exponential, capped,
    with equal jitter (between half and all of it)."""
    base = min(settings.retry_backoff * 2 ** min(max(attempts - 1, 0), 64), settings.retry_backoff_max) * 1000
    return max(round(base / 2 + rng() * base / 2), 1)


def settle(
    txn: WriteTxn,
    delivery: Delivery,
    settings: NamespaceSettings,
    *,
    now_ms: int | None = None,
    delay_ms: int | None = None,
    reason: str | None = None,
    priority: int | None = None,
) -> str:
    """A delivery taken out of flight that failed (a NACK, a lease that ran out) or whose wait for
    its retry is over: ``"waiting"`` (kept aside until its retry: ``delay_ms`` after the failure,
    or the backoff), ``"requeued"`` (due again now), ``"dead-lettered"`` (stored in the
    dead-letter namespace without a TTL, under the same key, its history kept) or ``"dropped"``.

    ``now_ms`` is now (default: the end of its lease). It failed at the end of its lease, or now
    if that is sooner (a NACK), so after a restart a lease that ended long ago is retried at once.
    ``reason`` says why it failed (default: a lease that ran out); ``priority`` changes its priority.
    """
    now = delivery.lease_until if now_ms is None else now_ms
    failed_at = min(now, delivery.lease_until)
    if reason is None:
        reason = delivery.reason if delivery.waiting else LEASE_RAN_OUT
    if priority is not None:
        delivery = reprioritised(delivery, priority)
    if settings.max_attempts is not None and delivery.attempts >= settings.max_attempts:
        return _give_up(txn, delivery, settings, now, reason)
    if delay_ms is None:
        delay_ms = 0 if delivery.waiting else retry_delay_ms(settings, delivery.attempts)
    retry_at = failed_at + delay_ms
    if retry_at > now:
        txn.delivery.wait(delivery, retry_at, reason)
        return "waiting"
    txn.delivery.requeue(delivery, due_at=retry_at, reason=reason)
    return "requeued"


def _give_up(txn: WriteTxn, delivery: Delivery, settings: NamespaceSettings, now: int, reason: str) -> str:
    if settings.dead_letter is not None:
        record = txn.put(settings.dead_letter, delivery.key, delivery.record.value, 0, priority=delivery.record.priority)
        txn.delivery.bury(delivery, settings.dead_letter, record.revision, now, reason)
        outcome = "dead-lettered"
    else:
        txn.delivery.drop_given_up(delivery)  # counted (storage.queue_counts): it is gone
        outcome = "dropped"
    log.warning(
        "delivery.given_up",
        ns=delivery.namespace,
        key=delivery.key.decode("utf-8", "backslashreplace"),
        attempts=delivery.attempts,
        outcome=outcome,
        dead_letter=settings.dead_letter,
        reason=reason,
    )
    return outcome


def kick(txn: WriteTxn, ns: str, now_ms: int, limit: int, message_id: int | None = None) -> tuple[int, int]:
    """Bring back up to ``limit`` messages given up on in ``ns`` (or the one ``message_id``): each
    leaves its dead-letter namespace and is due now in ``ns``, a new message with no attempts.
    A history whose record was deleted or replaced since is forgotten. ``(how many came back,
    how many histories were looked at)``."""
    if message_id is None:
        dead_letters = txn.delivery.dead_letters(ns)
    else:
        found = txn.delivery.find(ns, message_id)
        dead_letters = iter([found[1]] if found is not None and found[0] == "dead" else [])
    kicked = 0
    histories = list(_first(dead_letters, limit))
    for dead in histories:
        txn.delivery.forget_dead(ns, dead.id)
        try:
            record = txn.get(dead.dead_letter, dead.key, now_ms)
        except CorruptRecord:  # damaged in the dead-letter namespace: left there for mi verify
            continue
        if record is None or record.revision != dead.revision:
            continue
        txn.delete(dead.dead_letter, dead.key)
        txn.delivery.reschedule(ns, dead.key, record, now_ms)
        kicked += 1
    return kicked, len(histories)


def _first(items: Any, limit: int) -> Any:
    for count, item in enumerate(items):
        if count >= limit:
            return
        yield item


async def take_available(
    store: Store,
    writers: Sequence[ShardWriter],
    ns: str,
    count: int,
    now_ms: int,
    lease_ms: int,
    holder: str = "webhook",
) -> list[tuple[int, Delivery]]:
    """Up to ``count`` due messages of ``ns``, most urgent first, each as ``(shard, delivery)``,
    now leased to ``holder`` (who takes them, as PEEK shows it).

    Each shard's queue is in order; the most urgent ``count`` across shards decide how many to
    take from each, and each shard's take is one durable commit. A damaged message met on the way
    is quarantined by storage (and logged here); the next good one is taken instead.
    """
    return await take_from(store, writers, {ns: lease_ms}, count, now_ms, holder)


async def take_from(
    store: Store, writers: Sequence[ShardWriter], leases: dict[str, int], count: int, now_ms: int, holder: str
) -> list[tuple[int, Delivery]]:
    """``take_available`` over several namespaces (``TAKE FROM ns1 ns2 ...``): up to ``count`` due
    messages of any of them, by priority then when they fell due, each under its namespace's lease
    (``leases``: ns -> ms). One durable commit per shard that gives some."""
    candidates = []
    for shard in store.shards:
        with shard.read() as txn:
            for ns in leases:
                candidates += [(first, ns, shard.index) for first in txn.delivery.peek(ns, count)]
    wanted: dict[int, Counter[str]] = {}
    for _first, ns, index in sorted(candidates)[:count]:
        wanted.setdefault(index, Counter())[ns] += 1
    taken: list[tuple[int, Delivery]] = []
    for index, per_ns in wanted.items():

        def take_each(txn: WriteTxn, per_ns: Counter[str] = per_ns) -> Any:
            taken = [d for ns, n in per_ns.items() for d in txn.delivery.take(ns, now_ms, leases[ns], n, holder)]
            return taken, txn.quarantined

        outcome = await writers[index].write(take_each, "TAKE")
        if isinstance(outcome, Exception):
            raise outcome
        deliveries, quarantined = outcome
        log_quarantined(index, quarantined)
        taken += [(index, delivery) for delivery in deliveries]
    return sorted(taken, key=lambda item: (item[1].priority, item[1].due_at))


async def wait_any(events: Sequence[trio.Event]) -> None:
    """Until one of ``events`` is set (a consumer of several namespaces, or of several lists)."""
    if len(events) == 1:
        await events[0].wait()
        return
    async with trio.open_nursery() as nursery:

        async def wait_one(event: trio.Event) -> None:
            await event.wait()
            nursery.cancel_scope.cancel()

        for event in events:
            nursery.start_soon(wait_one, event)


def wait_seconds(deadline_ms: float, now_ms: int) -> float:
    """Seconds from ``now_ms`` to ``deadline_ms`` (infinite for an infinite deadline)."""
    return math.inf if deadline_ms == math.inf else max(deadline_ms - now_ms, 0) / 1000
