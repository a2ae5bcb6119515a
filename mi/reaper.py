"""The TTL reaper: deletes expired messages on time, through the same write path as clients.

Reads never serve an expired value (they compare the deadline with the clock), so the reaper is
about space, not correctness. It sleeps until the earliest deadline in the expiry index and is
woken early when a write sets a sooner one. Deadlines live on disk, so after a restart the first
pass removes whatever fell due while the server was down.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import trio
from attrs import define, field

from mi.logs import get_logger
from mi.writer import ShardWriter
from storage import Store

__all__ = ["Reaper"]

log = get_logger("mi.reaper")

RETRY_AFTER_FAILURE = 1.0  # seconds


@define(eq=False)
class Reaper:
    store: Store
    writers: Sequence[ShardWriter]
    now_ms: Callable[[], int]
    batch_size: int = 1000
    reaped: int = 0
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
            next_deadline = self.store.next_deadline()
            self._next_wake_ms = math.inf if next_deadline is None else next_deadline
            delay = (self._next_wake_ms - self.now_ms()) / 1000
            if failed:  # do not spin on a deadline that cannot be reaped; the error is logged
                delay = max(delay, RETRY_AFTER_FAILURE)
            with trio.move_on_after(max(delay, 0)):
                await self._wakeup.wait()

    async def reap_due(self) -> int | None:
        """Delete everything due now, in bounded batches per shard; how many, None on failure."""
        now = self.now_ms()
        total = 0
        for writer in self.writers:
            while True:
                outcome = await writer.write(lambda txn: txn.reap_due(now, self.batch_size), "reap")
                if isinstance(outcome, Exception):
                    log.error("reaper.failed", shard=writer.shard.index, error=repr(outcome))
                    return None
                total += len(outcome)
                if len(outcome) < self.batch_size:
                    break
        if total:
            self.reaped += total
            log.debug("reaper.reaped", count=total)
        return total
