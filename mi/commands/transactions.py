"""MULTI, EXEC, DISCARD, WATCH, UNWATCH: transactions that apply all of their commands or none.

While a connection is in MULTI, its data commands are queued (``Transaction.add``); EXEC runs the
queue as one unit (``mi.core.execution``): every command sees the ones before it, no one else sees any
of it before all of it is committed, and if one command fails the whole unit is rolled back.
A queued PUBLISH is sent once the EXEC has committed, in order with the transaction's keyspace
events (``mi.core.notifications``); its reply in EXEC's is how many subscribers received it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

from mi.commands.base import REGISTRY, Entry, Kind, StepFailed, reply_of
from mi.core.execution import Unit, shards_of
from mi.core.keyspace import Keyspace
from mi.core.notifications import Published
from mi.core.watches import touched_by
from protocol import errors
from protocol.commands import Command, Discard, Exec, Multi, Publish, Quit, Reset, Unwatch, Watch
from protocol.errors import CommandError
from protocol.replies import NULL_ARRAY, SimpleString
from storage import shard_index

if TYPE_CHECKING:
    from mi.core.state import Connection

__all__ = ["RUN_IN_MULTI", "Transaction"]

OK = SimpleString("OK")
QUEUED = SimpleString("QUEUED")

# Commands a connection in MULTI runs at once instead of queueing (as Redis does).
RUN_IN_MULTI: frozenset[type[Command]] = frozenset({Multi, Exec, Discard, Watch, Quit, Reset})


@frozen
class Step:
    """One queued command; ``name`` is what the client typed (for the error naming it)."""

    name: str
    command: Command
    handler: Callable[[Keyspace, Any], Any]
    writes: bool
    shards: frozenset[int]


def _unwatch_step(keyspace: Keyspace, command: Unwatch) -> SimpleString:
    return OK  # EXEC forgets the watched keys anyway


def _publish_step(keyspace: Keyspace, command: Publish) -> Published:
    return keyspace.publish_later(command.channel, command.message)  # EXEC's reply: its count


@define(eq=False)
class Transaction:
    """A connection's MULTI: the queue, and whether a bad command has doomed it."""

    max_queued: int
    connection: Connection  # who queues: a task run as data (EVAL) needs its user and namespace
    steps: list[Step] = field(factory=list)
    poisoned: bool = False

    def add(self, name: str, command: Command, entry: Entry, shard_count: int) -> Any:
        """Queue a command; the reply is ``+QUEUED`` or the error that dooms the transaction."""
        if isinstance(command, Unwatch):
            step = Step(name, command, _unwatch_step, False, frozenset())
        elif isinstance(command, Publish):  # as Redis: queued, and published at EXEC
            step = Step(name, command, _publish_step, False, frozenset())
        elif entry.kind in (Kind.READ, Kind.WRITE):
            shards = shards_of((command,), shard_count)
            step = Step(name, command, entry.handler, entry.kind is Kind.WRITE, shards)
        elif entry.in_multi is not None:  # a task run as data: BLPOP as LPOP, EVAL's script
            try:
                handler = entry.in_multi(self.connection, command)
            except CommandError as error:  # EVALSHA of a script not loaded
                return self.reject(error)
            shards = shards_of((command,), shard_count) or frozenset(range(shard_count))  # no KEYS: all
            step = Step(name, command, handler, True, shards)
        else:
            return self.reject(errors.not_in_transaction(name))
        if len(self.steps) >= self.max_queued:
            return self.reject(errors.too_many_queued(self.max_queued))
        self.steps.append(step)
        return QUEUED

    def reject(self, error: Any) -> Any:
        """A command that cannot be queued: EXEC will answer EXECABORT."""
        self.poisoned = True
        return error


def _body(steps: list[Step], watched: dict[tuple[str, bytes], int | None]) -> Callable[[Keyspace], Any]:
    def run(keyspace: Keyspace) -> Any:
        for (ns, key), revision in watched.items():
            if keyspace.revision(ns, key) != revision:
                return NULL_ARRAY
        replies = []
        for index, step in enumerate(steps, 1):
            try:
                replies.append(step.handler(keyspace, step.command))
            except Exception as error:
                raise StepFailed(index, len(steps), step.name, error) from error
        return replies

    return run


@REGISTRY.task(Multi)
async def multi(session: Connection, command: Multi) -> Any:
    if session.transaction is not None:
        return errors.nested_multi()
    session.transaction = Transaction(session.server.config.limits.max_queued_commands, session)
    return OK


@REGISTRY.task(Discard)
async def discard(session: Connection, command: Discard) -> Any:
    if session.transaction is None:
        return errors.discard_without_multi()
    session.transaction = None
    session.unwatch()
    return OK


@REGISTRY.task(Exec)
async def exec_(session: Connection, command: Exec) -> Any:
    transaction, session.transaction = session.transaction, None
    if transaction is None:
        return errors.exec_without_multi()
    watched, broken = session.unwatch()
    if transaction.poisoned:
        return errors.exec_aborted()
    if broken:
        return NULL_ARRAY
    server = session.server
    steps = transaction.steps
    shard_count = len(server.writers)
    shards = frozenset().union(
        *(step.shards for step in steps), (shard_index(key, shard_count) for _ns, key in watched)
    )
    writes = any(step.writes for step in steps)
    ns = session.current_namespace
    for step in steps:
        if step.writes:
            server.watches.touch(touched_by(step.command, ns))
    publishes = any(isinstance(step.command, Publish) for step in steps)
    unit = Unit(_body(steps, watched), shards, writes, ns, "EXEC", publishes=publishes)
    started = await server.units.start(unit)
    replies = reply_of(await started.outcome(), server.reaper)
    if publishes and isinstance(replies, list):  # published once committed: now they have counts
        replies = [reply.received if isinstance(reply, Published) else reply for reply in replies]
    return replies


@REGISTRY.task(Watch)
async def watch(session: Connection, command: Watch) -> Any:
    if session.transaction is not None:
        return errors.watch_inside_multi()
    server = session.server
    ns = session.namespace(command.ns)
    keys = [(ns, key) for key in command.keys]

    def revisions(keyspace: Keyspace) -> list[int | None]:
        return [keyspace.revision(ns, key) for _ns, key in keys]

    await server.units.gate.wait_open()
    found, _deadlines = server.units.read(Unit(revisions, frozenset(), False, ns))
    for watched, revision in zip(keys, found, strict=True):
        if watched not in session.watched:  # the first WATCH of a key counts, as in Redis
            session.watched[watched] = revision
            server.watches.watch(session, watched)
    return OK


@REGISTRY.task(Unwatch)
async def unwatch(session: Connection, command: Unwatch) -> Any:
    session.unwatch()
    return OK
