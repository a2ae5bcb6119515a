"""Commands on keys whatever their type: DEL, EXISTS, TYPE, TTL, EXPIRE, PERSIST, EXPIRETIME,
RENAME, COPY, DBSIZE, KEYS, SCAN."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mi.commands.base import REGISTRY
from mi.core.glob import compile_glob
from mi.core.keyspace import Keyspace
from protocol import errors
from protocol.commands import (
    Copy,
    Dbsize,
    Del,
    Exists,
    Expire,
    Expiretime,
    Keys,
    Persist,
    Rename,
    Scan,
    Ttl,
    Type,
)
from protocol.replies import SimpleString

if TYPE_CHECKING:
    from mi.core.state import Connection


@REGISTRY.write(Del)
def delete(keyspace: Keyspace, command: Del) -> int:
    """How many keys held a message: a live one, or in a delivering namespace one due and not
    yet taken (DEL takes it back). An expired record elsewhere is deleted but does not count."""
    ns = keyspace.ns(command.ns)
    return sum(keyspace.cancel(ns, key) for key in command.keys)


@REGISTRY.read(Exists)
def exists(keyspace: Keyspace, command: Exists) -> int:
    ns = keyspace.ns(command.ns)
    return sum(keyspace.get(ns, key) is not None for key in command.keys)


@REGISTRY.read(Type)
def type_(keyspace: Keyspace, command: Type) -> SimpleString:
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    return SimpleString("none" if record is None else record.kind.type_name)


@REGISTRY.read(Ttl)
def ttl(keyspace: Keyspace, command: Ttl) -> int:
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    if record is None:
        return -2
    if not record.expires_at:
        return -1
    remaining_ms = record.expires_at - keyspace.now_ms
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
def expire(keyspace: Keyspace, command: Expire) -> int:
    ns, key = keyspace.ns(command.ns), command.key
    deadline = keyspace.now_ms + command.ttl_ms
    record = keyspace.get(ns, key)
    if record is None or not _expiry_allowed(command.condition, record.expires_at, deadline):
        return 0
    if deadline <= keyspace.now_ms:  # deletes, as in Redis; delivers at once where messages are delivered
        keyspace.expire_now(ns, key)
    else:
        keyspace.set_expiry(ns, key, deadline)
    return 1


@REGISTRY.write(Persist)
def persist(keyspace: Keyspace, command: Persist) -> int:
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    if record is None or not record.expires_at:
        return 0
    keyspace.set_expiry(ns, key, 0)
    return 1


@REGISTRY.read(Expiretime)
def expiretime(keyspace: Keyspace, command: Expiretime) -> int:
    """The deadline as a Unix time (-2 no such key, -1 no TTL)."""
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    if record is None:
        return -2
    if not record.expires_at:
        return -1
    return record.expires_at if command.milliseconds else record.expires_at // 1000


@REGISTRY.write(Rename)
def rename(keyspace: Keyspace, command: Rename) -> SimpleString | int:
    """Move value and TTL to the new name (on any shard: one transaction)."""
    ns = keyspace.ns(command.ns)
    record = keyspace.get(ns, command.source)
    if record is None:
        raise errors.no_such_key()
    if command.nx and keyspace.get(ns, command.destination) is not None:
        return 0
    if command.source != command.destination:
        keyspace.delete(ns, command.source)
        keyspace.put(ns, command.destination, record.value, record.expires_at, record.priority)
    return 1 if command.nx else SimpleString("OK")


@REGISTRY.write(Copy)
def copy(keyspace: Keyspace, command: Copy) -> int:
    """Copy value and TTL, maybe to another namespace; 0 if the source is missing or the
    destination taken (without REPLACE)."""
    ns = keyspace.ns(command.ns)
    destination_ns = command.destination_ns or ns
    record = keyspace.get(ns, command.source)
    if record is None or (ns, command.source) == (destination_ns, command.destination):
        return 0
    if not command.replace and keyspace.get(destination_ns, command.destination) is not None:
        return 0
    keyspace.put(destination_ns, command.destination, record.value, record.expires_at, record.priority)
    return 1


@REGISTRY.read(Dbsize)
def dbsize(keyspace: Keyspace, command: Dbsize) -> int:
    ns = keyspace.ns(command.ns)
    return sum(txn.count(ns) for txn in keyspace.shards())


@REGISTRY.task(Keys)
async def keys(session: Connection, command: Keys) -> list[bytes]:
    """A full scan can take long on a big namespace: it runs off the event loop, over every shard
    at one instant."""
    ns = session.namespace(command.ns)
    matches = compile_glob(command.pattern)

    def matching(keyspace: Keyspace) -> list[bytes]:
        return [key for txn in keyspace.shards() for key in txn.iter_keys(ns, keyspace.now_ms) if matches(key)]

    return await session.server.units.read_on_thread(matching, ns)


@REGISTRY.task(Scan)
async def scan(session: Connection, command: Scan) -> list:
    await session.server.units.gate.wait_open()  # from here on one instant: no await below
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
