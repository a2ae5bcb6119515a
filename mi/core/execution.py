"""Running data commands on the right shards: a read, a write, or a whole transaction.

A *unit* is what must happen atomically: one command, or the queue of an EXEC. Where it runs
depends on what it touches:

- only reads: on the event loop, in read transactions (instant, consistent: see the gate below);
- writes on one shard: as one op in that shard's group commit (an op that raises is rolled back
  alone, so a failing EXEC leaves nothing);
- writes on several shards: in a batch of such units, which ``storage.multishard.run_batch_across``
  runs on a worker thread and commits once across the union of their shards (group commit again:
  a multi-shard commit costs several syncs), holding the writer lock of each of those shards so
  nothing else writes them meanwhile. One batch runs at a time; units arriving meanwhile wait
  for the next.

The read gate: a multi-shard write commits shard by shard. While it does, readers on the event
loop wait, so no one sees one shard changed and another not yet.

Keyspace notifications: a unit's keyspace records its events (``mi.core.notifications``) only
while some are on (``PubSub.notify_flags``, read once a unit); they are published once its commit
has succeeded (the shard writer announces each write of a batch in order, before waking it), and
never for a unit that raised. A unit that ``publishes`` (an EXEC with PUBLISHes) is announced too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack, ExitStack
from typing import TYPE_CHECKING, Any

import trio
from attrs import define, field, frozen

from mi.core.keyspace import Keyspace
from mi.core.pubsub import PubSub
from mi.observability.logs import get_logger
from protocol.commands import Command, Keyed
from storage import shard_index
from storage.multishard import run_batch_across

if TYPE_CHECKING:
    from mi.core.writer import PendingWrite, ShardWriter
    from mi.settings.namespace_settings import NamespaceSettingsTable
    from storage import Store

__all__ = ["Committing", "Done", "ReadGate", "Unit", "UnitRunner", "shards_of"]

log = get_logger("mi.execution")


@frozen
class Unit:
    """Data commands to run as one: ``body(keyspace)`` runs them and returns the reply."""

    body: Callable[[Keyspace], Any]
    shards: frozenset[int]
    writes: bool
    default_ns: str
    label: str = "write"  # the command as typed (SET, EXEC...): names it in the journal
    light: bool = False  # one client command of ordinary size (``mi.core.writer``: where it commits)
    publishes: bool = False  # queues PUBLISHes (``Keyspace.publish_later``): announced even with notifications off


def shards_of(commands: Iterable[Command], shard_count: int) -> frozenset[int]:
    """The shards these commands touch: their keys' shards, or all for namespace-wide commands."""
    shards: set[int] = set()
    for command in commands:
        if not isinstance(command, Keyed):
            return frozenset(range(shard_count))
        shards.update(shard_index(key, shard_count) for key in command.keys)
    return frozenset(shards)


@define(eq=False)
class ReadGate:
    """Closed while shards may disagree (a multi-shard commit in progress); readers wait."""

    _closed: int = 0
    _reopened: trio.Event = field(factory=trio.Event)

    def close(self) -> None:
        if not self._closed:
            self._reopened = trio.Event()
        self._closed += 1

    def open(self) -> None:
        self._closed -= 1
        if not self._closed:
            self._reopened.set()

    @property
    def closed(self) -> bool:
        return self._closed > 0

    async def wait_open(self) -> None:
        while self._closed:
            await self._reopened.wait()


@define(eq=False)
class _ThreadWindow:
    """The gate, driven from the worker thread that commits (``storage.multishard.CommitWindow``)."""

    gate: ReadGate

    def close(self) -> None:
        trio.from_thread.run_sync(self.gate.close)

    def open(self) -> None:
        trio.from_thread.run_sync(self.gate.open)


@frozen
class Done:
    """A unit's outcome, known now (a read, or a multi-shard write already committed)."""

    value: Any

    async def outcome(self) -> Any:
        return self.value


@frozen
class Committing:
    """A unit's outcome, known once its op is committed by the shard writer."""

    write: PendingWrite

    async def outcome(self) -> Any:
        return await self.write.wait()


@define(eq=False)
class UnitRunner:
    store: Store
    writers: list[ShardWriter]
    namespace_settings: NamespaceSettingsTable
    now_ms: Callable[[], int]
    gate: ReadGate = field(factory=ReadGate)
    pubsub: PubSub = field(factory=PubSub)  # the server's (wired at startup): where committed events go
    _across_turn: trio.Lock = field(factory=trio.Lock)
    _across_pending: list[_AcrossShards] = field(factory=list)

    async def start(self, unit: Unit) -> Done | Committing:
        """Start ``unit``; its outcome is ``(reply, deadlines)``, or the exception it raised.

        A single-shard write is only queued here (the caller may start more before waiting, and
        they share a commit); anything else is finished when this returns.
        """
        if not unit.writes:
            await self.gate.wait_open()
            return Done(_capture(lambda: self.read(unit)))
        if len(unit.shards) == 1:
            (index,) = unit.shards
            count, now, ns = len(self.writers), self.now_ms(), unit.default_ns
            notify = self.pubsub.notify_flags  # 0 unless keyspace notifications are on

            def op(txn: Any) -> tuple[Any, list[int]]:
                keyspace = Keyspace.writing(
                    {index: txn}, count, now, ns, self.namespace_settings.of, self.count_elsewhere, notify
                )
                return unit.body(keyspace), keyspace.deadlines

            announce = self.announce if notify or unit.publishes else None
            return Committing(await self.writers[index].submit(op, unit.label, unit.light, announce))
        return Done(await self._across(unit))

    def announce(self, outcome: tuple[Any, Any]) -> None:
        """Publish what a committed unit recorded (its outcome: reply and deadlines). A failure
        here is logged: the write is committed and its client must get its reply."""
        events = getattr(outcome[1], "events", None)
        if not events:
            return
        try:
            self.pubsub.announce(events)
        except Exception as error:  # noqa: BLE001 - our bug; never the writer's end
            log.error("notifications.failed", exc_info=error)

    async def read_on_thread(self, body: Callable[[Keyspace], Any], default_ns: str) -> Any:
        """Run a long read-only ``body`` (KEYS, an MGET of 100k keys) on a worker thread, over a
        read transaction of every shard, all begun while no multi-shard commit is half done; other
        clients are served meanwhile. (py-lmdb opens LMDB with MDB_NOTLS, so a read transaction
        may move to another thread, used by one at a time.)"""
        await self.gate.wait_open()
        now = self.now_ms()
        with ExitStack() as stack:  # no await from the gate to the last begin: one instant
            txns = [stack.enter_context(shard.read()) for shard in self.store.shards]
            keyspace = Keyspace(dict(enumerate(txns)), None, len(txns), now, default_ns)
            return await trio.to_thread.run_sync(body, keyspace)

    def count_elsewhere(self, ns: str, skip: set[int]) -> int:
        """Records of ``ns`` on the shards not in ``skip``, as last committed (any thread)."""
        total = 0
        for shard in self.store.shards:
            if shard.index not in skip:
                with shard.read() as txn:
                    total += txn.count(ns)
        return total

    def read(self, unit: Unit) -> tuple[Any, list[int]]:
        """Run a read-only unit on the event loop, now (the caller has passed the gate); the
        PUBLISHes it queued (an EXEC of reads and PUBLISH) go out as it ends."""
        keyspace = Keyspace.reading(self.store.shards, self.now_ms(), unit.default_ns)
        try:
            reply = unit.body(keyspace)
        finally:
            keyspace.close()
        if unit.publishes:
            self.announce((reply, keyspace.deadlines))
        return reply, []

    async def _across(self, unit: Unit) -> Any:
        """Run a unit that writes several shards, in the next batch of such units: one group
        commit across the shards of all of them (``storage.multishard.run_batch_across``)."""
        waiting = _AcrossShards(unit)
        self._across_pending.append(waiting)
        try:
            async with self._across_turn:  # one batch at a time, in order of arrival
                if not waiting.done:
                    await self._run_across_batch()
        except BaseException:
            if waiting in self._across_pending:  # cancelled before its batch ran: it never will
                self._across_pending.remove(waiting)
            raise
        return waiting.outcome

    async def _run_across_batch(self) -> None:
        batch, self._across_pending = self._across_pending, []
        indexes = sorted(set().union(*(waiting.unit.shards for waiting in batch)))
        shards = [self.store.shards[index] for index in indexes]
        count, now, notify = len(self.writers), self.now_ms(), self.pubsub.notify_flags

        def body_of(unit: Unit) -> Callable[[Any], tuple[Any, list[int]]]:
            def body(txns: Any) -> tuple[Any, list[int]]:
                keyspace = Keyspace.writing(
                    {index: txns[index] for index in unit.shards}, count, now, unit.default_ns,
                    self.namespace_settings.of, self.count_elsewhere, notify,
                )
                return unit.body(keyspace), keyspace.deadlines

            return body

        try:
            async with AsyncExitStack() as locks:
                for index in indexes:  # in index order: two batches can never wait on each other
                    await locks.enter_async_context(self.writers[index].lock)
                outcomes = await trio.to_thread.run_sync(
                    run_batch_across, shards, [body_of(w.unit) for w in batch], _ThreadWindow(self.gate),
                    [w.unit.label for w in batch],
                )
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if (notify or waiting.unit.publishes) and not isinstance(outcome, BaseException):
                    self.announce(outcome)
                waiting.outcome = outcome
                waiting.done = True
        finally:  # cancelled while waiting for the locks: the next batch takes these along
            self._across_pending[:0] = [waiting for waiting in batch if not waiting.done]


@define(eq=False)
class _AcrossShards:
    """A unit waiting for its batch of multi-shard writes."""

    unit: Unit
    done: bool = False
    outcome: Any = None


def _capture(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except Exception as error:  # noqa: BLE001 - the outcome, as for a writer's op
        return error

