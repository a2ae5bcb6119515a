"""Commands on keys whatever their type: DEL, EXISTS, TYPE, TTL, EXPIRE, PERSIST, DBSIZE, KEYS, SCAN."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import trio

from mi.commands.base import REGISTRY, Write, as_command_error, read_record
from mi.glob import compile_glob
from protocol import errors
from protocol.commands import Dbsize, Del, Exists, Expire, Keys, Persist, Scan, Ttl, Type
from protocol.replies import SimpleString
from storage import StorageError, WriteTxn

if TYPE_CHECKING:
    from mi.session import Session


def _by_shard(session: Session, keys: tuple[bytes, ...]) -> dict[int, list[bytes]]:
    groups: dict[int, list[bytes]] = defaultdict(list)
    for key in keys:
        groups[session.server.shard_index(key)].append(key)
    return groups


@REGISTRY.write(Del)
def delete(session: Session, command: Del) -> Write:
    ns = session.namespace(command.ns)
    now = session.server.now_ms()

    def op_for(keys: list[bytes]):
        # An expired record is deleted too, but it does not count: it was already gone.
        return lambda txn: sum(txn.delete(ns, key, now_ms=now) for key in keys)

    ops = [(index, op_for(keys)) for index, keys in _by_shard(session, command.keys).items()]
    return Write(ops, sum)


@REGISTRY.read(Exists)
def exists(session: Session, command: Exists) -> int:
    ns = session.namespace(command.ns)
    return sum(read_record(session, ns, key) is not None for key in command.keys)


@REGISTRY.read(Type)
def type_(session: Session, command: Type) -> SimpleString:
    record = read_record(session, session.namespace(command.ns), command.key)
    return SimpleString("none" if record is None else record.kind.type_name)


@REGISTRY.read(Ttl)
def ttl(session: Session, command: Ttl) -> int:
    record = read_record(session, session.namespace(command.ns), command.key)
    if record is None:
        return -2
    if not record.expires_at:
        return -1
    remaining_ms = record.expires_at - session.server.now_ms()
    return remaining_ms if command.milliseconds else (remaining_ms + 500) // 1000


def _expiry_allowed(condition: str | None, current: int, new: int) -> bool:
    """Redis's EXPIRE NX|XX|GT|LT, where no expiry counts as an infinite TTL."""
    match condition:
        case "NX":
            return not current
        case "XX":
            return bool(current)
        case "GT":
            return bool(current) and new > current
        case "LT":
            return not current or new < current
    return True


@REGISTRY.write(Expire)
def expire(session: Session, command: Expire) -> Write:
    ns, key = session.namespace(command.ns), command.key
    server = session.server
    now = server.now_ms()
    deadline = now + command.ttl_ms

    def op(txn: WriteTxn) -> int:
        record = txn.get(ns, key, now)
        if record is None or not _expiry_allowed(command.condition, record.expires_at, deadline):
            return 0
        if deadline <= now:  # a TTL in the past deletes, as in Redis
            txn.delete(ns, key)
        else:
            txn.set_expiry(ns, key, deadline, now_ms=now)
        return 1

    def reply(outcomes: list[int]) -> int:
        if outcomes[0] and deadline > now:  # committed: the reaper can find it now
            server.reaper.note_deadline(deadline)
        return outcomes[0]

    return Write([(server.shard_index(key), op)], reply)


@REGISTRY.write(Persist)
def persist(session: Session, command: Persist) -> Write:
    ns, key = session.namespace(command.ns), command.key
    now = session.server.now_ms()

    def op(txn: WriteTxn) -> int:
        record = txn.get(ns, key, now)
        if record is None or not record.expires_at:
            return 0
        txn.set_expiry(ns, key, 0, now_ms=now)
        return 1

    return Write([(session.server.shard_index(key), op)], lambda outcomes: outcomes[0])


@REGISTRY.read(Dbsize)
def dbsize(session: Session, command: Dbsize) -> int:
    ns = session.namespace(command.ns)
    total = 0
    for shard in session.server.store.shards:
        with shard.read() as txn:
            total += txn.count(ns)
    return total


@REGISTRY.task(Keys)
async def keys(session: Session, command: Keys) -> list[bytes]:
    ns = session.namespace(command.ns)
    matches = compile_glob(command.pattern)
    now = session.server.now_ms()

    def scan_all() -> list[bytes]:
        found = []
        for shard in session.server.store.shards:
            with shard.read() as txn:
                found.extend(key for key in txn.iter_keys(ns, now) if matches(key))
        return found

    try:
        # A full scan can take long on a big namespace: keep the event loop free meanwhile.
        return await trio.to_thread.run_sync(scan_all)
    except StorageError as error:
        raise as_command_error(error) from None


@REGISTRY.read(Scan)
def scan(session: Session, command: Scan) -> list:
    ns = session.namespace(command.ns)
    cursors = session.server.scan_cursors
    position = cursors.resume(command.cursor, ns)
    if position is None:
        raise errors.invalid_cursor()
    shard_index, after = position
    matches = compile_glob(command.match) if command.match else None
    now = session.server.now_ms()
    shards = session.server.store.shards
    found: list[bytes] = []
    # Each step examines at most COUNT records of one shard; a page that stops short of the end
    # of its shard ends the call, an exhausted shard hands over to the next.
    while shard_index < len(shards) and len(found) < command.count:
        with shards[shard_index].read() as txn:
            keys, after = txn.scan(ns, after, command.count, now)
        found.extend(key for key in keys if matches is None or matches(key))
        if after is not None:
            break
        shard_index += 1
    next_cursor = 0 if shard_index >= len(shards) else cursors.save(ns, shard_index, after)
    return [str(next_cursor).encode(), found]
