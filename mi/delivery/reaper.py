"""The TTL reaper: removes expired messages on time, through the same write path as clients.

An expired message is deleted, or in a namespace that delivers, moved to its due queue (and the
consumers blocked in TAKE are woken). Deliveries whose lease ran out are handed back the same way
(``mi.delivery.pull.settle``: they wait for their retry backoff, then are due again).
Reads never serve an expired value (they compare the deadline with the clock). The reaper sleeps
until the earliest deadline or lease end and is woken early when a write sets a sooner one.
Deadlines live on disk, so after a restart the first pass handles whatever fell due meanwhile.
Each message a pass removed is announced once that pass has committed, as Redis's ``expired``
keyspace event (``mi.core.notifications``), when the ``x`` class is on.

One entry the reaper cannot handle never stops it: storage quarantines what it recognises as
damaged or undeliverable, and when a pass fails for another reason the reaper finds the entry that
fails on its own and sets it aside (``storage.quarantine``), logging ``storage.quarantined``, then
goes on with the rest. Only a failure that is not one entry's (a full disk) makes it wait and retry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import trio
from attrs import define, field, frozen

from mi.settings.config import NamespaceSettings
from mi.delivery.pull import DueSignals, log_quarantined, settle
from mi.observability.logs import get_logger
from protocol.event_classes import EXPIRED
from mi.core.pubsub import PubSub
from mi.core.writer import ShardWriter
from storage import StorageFull, Store, WriteTxn
from storage.quarantine import Quarantined

NO_SETTINGS = NamespaceSettings()

__all__ = ["Reaper"]

log = get_logger("mi.reaper")

RETRY_AFTER_FAILURE = 1.0  # seconds


@frozen
class _Pass:
    """What one reaping transaction did."""

    removed: list[tuple[str, bytes]]  # records expired: (namespace, key)
    returned: list[tuple[str, str]]  # deliveries whose lease ran out: (namespace, what became of it)
    quarantined: list[Quarantined]


@define(eq=False)
class Reaper:
    store: Store
    writers: Sequence[ShardWriter]
    now_ms: Callable[[], int]
    batch_size: int = 1000
    settings: Callable[[str], NamespaceSettings] = lambda ns: NO_SETTINGS
    signals: DueSignals = field(factory=DueSignals)
    pubsub: PubSub = field(factory=PubSub)  # the server's (wired at startup): where "expired" goes
    reaped: int = 0
    returned: int = 0  # deliveries whose lease ran out
    quarantined: int = 0  # entries set aside since the start (storage.quarantine)
    _wakeup: trio.Event = field(factory=trio.Event)
    _next_wake_ms: float = math.inf

    def note_deadline(self, deadline_ms: int) -> None:
        """A write set ``deadline_ms``: wake up early if it comes before the planned wake-up."""
        if deadline_ms < self._next_wake_ms:
            self._wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            # A fresh event first: a deadline noted from here on wakes the sleep below.
            self._wakeup = trio.Event()
            self._next_wake_ms = -math.inf  # until we know, every note wakes us
            failed = await self.reap_due() is None
            wakes = [self.store.next_deadline(), self.store.next_lease_expiry()]
            self._next_wake_ms = min((when for when in wakes if when is not None), default=math.inf)
            delay = (self._next_wake_ms - self.now_ms()) / 1000
            if failed:  # do not spin on a deadline that cannot be reaped; the error is logged
                delay = max(delay, RETRY_AFTER_FAILURE)
            with trio.move_on_after(max(delay, 0)):
                await self._wakeup.wait()

    def _delivers(self, ns: str) -> bool:
        return self.settings(ns).on_expire == "deliver"

    def _reap(self, now: int, expiring: int, leases: int) -> Callable[[WriteTxn], _Pass]:
        """One pass: up to ``expiring`` records due, up to ``leases`` leases run out."""

        def reap(txn: WriteTxn) -> _Pass:
            removed = txn.reap_due(now, expiring, self._delivers) if expiring else []
            expired = txn.delivery.expired_leases(now, leases) if leases else []
            returned = [(d.namespace, settle(txn, d, self.settings(d.namespace), now_ms=now)) for d in expired]
            return _Pass(removed, returned, txn.quarantined)

        return reap

    async def reap_due(self) -> int | None:
        """Handle everything due now, in bounded batches per shard; how many messages expired,
        None on failure."""
        now = self.now_ms()
        batch = self.batch_size
        total = 0
        due_now: set[str] = set()
        failed = False
        for writer in self.writers:
            while True:
                outcome = await writer.write(self._reap(now, batch, batch), "reap")
                if isinstance(outcome, Exception):
                    if await self._set_aside(writer, now, outcome, due_now):
                        continue  # the entry that failed is out of the way: go on with the rest
                    log.error("reaper.failed", shard=writer.shard.index, error=repr(outcome))
                    failed = True
                    break
                self._note(writer, outcome, due_now)
                total += len(outcome.removed)
                if len(outcome.removed) < batch and len(outcome.returned) < batch:
                    break
        self.signals.notify(due_now)
        if total:
            self.reaped += total
            log.debug("reaper.reaped", count=total)
        return None if failed else total

    def _note(self, writer: ShardWriter, outcome: _Pass, due_now: set[str]) -> None:
        """Count and log a committed pass and announce what expired; the namespaces it made
        messages due in join ``due_now``."""
        if outcome.removed and self.pubsub.notify_flags & EXPIRED:
            self.pubsub.announce([(b"expired", ns, key) for ns, key in outcome.removed])
        due_now |= {ns for ns, _key in outcome.removed if self._delivers(ns)}
        due_now |= {ns for ns, what in outcome.returned if what == "requeued"}
        self.returned += len(outcome.returned)
        self.quarantined += len(outcome.quarantined)
        log_quarantined(writer.shard.index, outcome.quarantined)

    async def _set_aside(self, writer: ShardWriter, now: int, error: Exception, due_now: set[str]) -> bool:
        """After a failed pass: find the one entry that fails on its own and quarantine it. True
        if something was reaped or set aside (so the next pass makes progress)."""
        if isinstance(error, StorageFull):  # not one entry's fault: setting aside would not help
            return False
        reason = f"the reaper failed on it: {error}"
        steps: list[tuple[Callable[[WriteTxn], Any], Callable[[WriteTxn], Any]]] = [
            (self._reap(now, 1, 0), lambda txn: (txn.set_aside_due(now, reason), txn.quarantined)),
            (self._reap(now, 0, 1), lambda txn: (txn.delivery.set_aside_lease(now, reason), txn.quarantined)),
        ]
        progress = False
        for alone, set_aside in steps:
            outcome = await writer.write(alone, "reap")
            if not isinstance(outcome, Exception):
                self._note(writer, outcome, due_now)
                self.reaped += len(outcome.removed)
                progress |= bool(outcome.removed or outcome.returned or outcome.quarantined)
                continue
            if isinstance(outcome, StorageFull):
                return False
            aside = await writer.write(set_aside, "reap")
            if isinstance(aside, Exception):
                return False
            done, items = aside
            self.quarantined += len(items)
            log_quarantined(writer.shard.index, items)
            progress |= done
        return progress
