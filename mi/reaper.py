"""The TTL reaper: removes expired messages on time, through the same write path as clients.

An expired message is deleted, or in a namespace that delivers, moved to its due queue (and the
consumers blocked in TAKE are woken). Deliveries whose lease ran out are handed back the same way.
Reads never serve an expired value (they compare the deadline with the clock). The reaper sleeps
until the earliest deadline or lease end and is woken early when a write sets a sooner one.
Deadlines live on disk, so after a restart the first pass handles whatever fell due meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import trio
from attrs import define, field

from mi.config import NamespaceSettings
from mi.delivery import DueSignals, settle
from mi.logs import get_logger
from mi.writer import ShardWriter
from storage import Store, WriteTxn

NO_SETTINGS = NamespaceSettings()

__all__ = ["Reaper"]

log = get_logger("mi.reaper")

RETRY_AFTER_FAILURE = 1.0  # seconds


@define(eq=False)
class Reaper:
    store: Store
    writers: Sequence[ShardWriter]
    now_ms: Callable[[], int]
    batch_size: int = 1000
    settings: Callable[[str], NamespaceSettings] = lambda ns: NO_SETTINGS
    signals: DueSignals = field(factory=DueSignals)
    reaped: int = 0
    returned: int = 0  # deliveries whose lease ran out
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

    async def reap_due(self) -> int | None:
        """Handle everything due now, in bounded batches per shard; how many messages expired,
        None on failure."""
        now = self.now_ms()
        batch = self.batch_size

        def reap(txn: WriteTxn) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
            removed = txn.reap_due(now, batch, self._delivers)
            expired = txn.delivery.expired_leases(now, batch)
            return removed, [(d.namespace, settle(txn, d, self.settings(d.namespace))) for d in expired]

        total = 0
        due_now: set[str] = set()
        for writer in self.writers:
            while True:
                outcome = await writer.write(reap, "reap")
                if isinstance(outcome, Exception):
                    log.error("reaper.failed", shard=writer.shard.index, error=repr(outcome))
                    return None
                removed, returned = outcome
                total += len(removed)
                self.returned += len(returned)
                due_now |= {ns for ns, _key in removed if self._delivers(ns)}
                due_now |= {ns for ns, what in returned if what == "requeued"}
                if len(removed) < batch and len(returned) < batch:
                    break
        self.signals.notify(due_now)
        if total:
            self.reaped += total
            log.debug("reaper.reaped", count=total)
        return total
