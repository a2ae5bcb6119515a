"""Group commit: one writer task per shard.

Writes queue on a bounded channel. The writer takes everything queued, runs it as one LMDB write
transaction (begin, apply and commit on the same OS thread, as LMDB requires) and only then wakes
the waiting commands, so no write is answered before it is durable. Writes that arrive while a
commit is syncing wait for the next one: under load one fsync carries many.

Where the commit runs: with strict durability it syncs the log, so it runs on a worker thread and
the event loop serves other clients meanwhile. With relaxed durability nothing in it waits for the
disk (the log is synced on an interval, off the loop), so a batch of *light* writes (one client
command of an ordinary size) commits right here on the event loop: the hop to a thread and back
cost more than the commit (same-run A/B, SET at 50 clients: 12-20% less CPU a request;
docs/benchmarks.md). Anything else in the batch (a request of over a MiB, an EXEC, the reaper's
work) sends it to a thread, as does a commit that would wait for the disk after all (a new log
segment, a full map's checkpoint: ``storage.WouldWait``), so no long commit holds the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
from attrs import define, field

from storage import Shard, WouldWait, WriteTxn

__all__ = ["PendingWrite", "ShardWriter", "WriteOp"]

WriteOp = Callable[[WriteTxn], Any]


@define(eq=False)
class PendingWrite:
    """One op on its way to disk; ``outcome`` is its result or the exception it raised."""

    op: WriteOp
    label: str = "write"  # names the op in the journal (SET, EXEC, reap...)
    light: bool = False  # one ordinary client command: in relaxed durability, may commit on the loop
    # Called with the outcome once committed, before the write is woken, in the batch's order
    # (keyspace notifications: ``UnitRunner.announce``); None for nearly every write.
    announce: Callable[[Any], None] | None = None
    done: trio.Event = field(factory=trio.Event)
    outcome: Any = None

    async def wait(self) -> Any:
        await self.done.wait()
        return self.outcome


@define(eq=False)
class ShardWriter:
    shard: Shard
    batch_size: int = 1024
    commits: int = 0
    writes: int = 0  # ops committed (commits carry many: group commit)
    # Held while committing; a transaction across shards holds it too, so no one else writes
    # the shard under it (see mi.core.execution).
    lock: trio.Lock = field(factory=trio.Lock)
    _send: trio.MemorySendChannel[PendingWrite] = field(init=False)
    _receive: trio.MemoryReceiveChannel[PendingWrite] = field(init=False)

    def __attrs_post_init__(self) -> None:
        # Bounded: when the disk falls behind, submitters wait instead of queueing without end.
        self._send, self._receive = trio.open_memory_channel(self.batch_size * 4)

    async def submit(
        self, op: WriteOp, label: str = "write", light: bool = False, announce: Callable[[Any], None] | None = None
    ) -> PendingWrite:
        """Queue ``op`` for the next commit; await the returned write's ``wait()`` for its outcome.
        ``announce`` gets the outcome of a commit that succeeded, before the write is woken."""
        write = PendingWrite(op, label, light, announce)
        try:
            self._send.send_nowait(write)  # the common case: no trip through the scheduler
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            # The queue is full (the disk is behind): wait for room. Or the writer has stopped:
            # send raises as before, or Cancelled first when this task is being cancelled too.
            await self._send.send(write)
        return write

    async def write(self, op: WriteOp, label: str = "write") -> Any:
        """Run ``op`` in a commit and return its outcome (an exception is returned, not raised)."""
        write = await self.submit(op, label)
        return await write.wait()

    def close(self) -> None:
        """No more writes: the writer commits what is queued, then its ``run`` returns."""
        self._send.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with self._receive:
            async for first in self._receive:
                batch = [first]
                while len(batch) < self.batch_size:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._commit(batch)

    async def _commit(self, batch: list[PendingWrite]) -> None:
        try:
            async with self.lock:
                ops, labels = [w.op for w in batch], [w.label for w in batch]
                outcomes = None
                if not self.shard.durable and all(w.light for w in batch):
                    try:
                        outcomes = self.shard.write_batch(ops, labels, may_wait=False)
                    except WouldWait:
                        pass  # on a thread, then
                if outcomes is None:
                    # Not cancellable: a commit that started finishes, so shutdown never half-applies.
                    outcomes = await trio.to_thread.run_sync(self.shard.write_batch, ops, labels)
        except Exception as error:  # the commit itself failed (disk error): every write failed
            outcomes = [error] * len(batch)
        self.commits += 1
        self.writes += len(batch)
        for write, outcome in zip(batch, outcomes, strict=True):
            if write.announce is not None and not isinstance(outcome, BaseException):
                write.announce(outcome)
            write.outcome = outcome
            write.done.set()

    def statistics(self) -> dict[str, Any]:
        stats = self._send.statistics()
        return {"queued": stats.current_buffer_used, "commits": self.commits}

