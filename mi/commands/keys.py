"""Commands on keys whatever their type: DEL, EXISTS (and TOUCH), TYPE, TTL, EXPIRE, EXPIREAT,
PERSIST, EXPIRETIME, RENAME, COPY, OBJECT, DBSIZE, KEYS, SCAN, RANDOMKEY.

Their keyspace events are Redis's generic ones: ``del``, ``expire`` (``del`` for a deadline already
past), ``persist``, ``rename_from``/``rename_to``, ``copy_to``."""

from __future__ import annotations

import itertools
import json
import random
from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from mi.core.glob import compile_glob
from mi.core.keyspace import Keyspace
from protocol.event_classes import GENERIC
from protocol import errors
from protocol.commands import (
    Copy,
    Dbsize,
    Del,
    Exists,
    Expire,
    Expireat,
    Expiretime,
    Keys,
    ObjectHelp,
    ObjectInfo,
    Persist,
    Randomkey,
    Rename,
    Scan,
    Ttl,
    Type,
)
from protocol.replies import SimpleString
from storage import Kind, Record

if TYPE_CHECKING:
    from mi.core.state import Connection


@REGISTRY.write(Del)
def delete(keyspace: Keyspace, command: Del) -> int:
    """How many keys held a message: a live one, or in a delivering namespace one due and not
    yet taken (DEL takes it back). An expired record elsewhere is deleted but does not count."""
    ns = keyspace.ns(command.ns)
    removed = 0
    for key in command.keys:
        if keyspace.cancel(ns, key):
            removed += 1
            keyspace.notify(GENERIC, b"del", ns, key)
    return removed


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


def _set_deadline(keyspace: Keyspace, ns: str, key: bytes, deadline: int) -> None:
    """EXPIRE's change of a live key: a deadline already past deletes it (Redis's ``del``), or
    where messages are delivered, makes it due at once; a later one is an ``expire``."""
    if deadline <= keyspace.now_ms:
        gone = keyspace.expire_now(ns, key)
        keyspace.notify(GENERIC, b"del" if gone else b"expire", ns, key)
    else:
        keyspace.set_expiry(ns, key, deadline)
        keyspace.notify(GENERIC, b"expire", ns, key)


@REGISTRY.write(Expire)
def expire(keyspace: Keyspace, command: Expire) -> int:
    ns, key = keyspace.ns(command.ns), command.key
    deadline = keyspace.now_ms + command.ttl_ms
    record = keyspace.get(ns, key)
    if record is None or not _expiry_allowed(command.condition, record.expires_at, deadline):
        return 0
    _set_deadline(keyspace, ns, key, deadline)  # a past one deletes, as in Redis
    return 1


@REGISTRY.write(Expireat)
def expireat(keyspace: Keyspace, command: Expireat) -> int:
    """As EXPIRE, with the deadline given as a Unix time."""
    ns, key = keyspace.ns(command.ns), command.key
    deadline = command.deadline_ms
    record = keyspace.get(ns, key)
    if record is None or not _expiry_allowed(command.condition, record.expires_at, deadline):
        return 0
    _set_deadline(keyspace, ns, key, deadline)
    return 1


@REGISTRY.write(Persist)
def persist(keyspace: Keyspace, command: Persist) -> int:
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    if record is None or not record.expires_at:
        return 0
    keyspace.set_expiry(ns, key, 0)
    keyspace.notify(GENERIC, b"persist", ns, key)
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
    if command.source != command.destination:  # the same name: nothing changes, nothing to tell
        keyspace.delete(ns, command.source)
        keyspace.put(ns, command.destination, record.value, record.expires_at, record.priority)
        keyspace.notify(GENERIC, b"rename_from", ns, command.source)
        keyspace.notify(GENERIC, b"rename_to", ns, command.destination)
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
    keyspace.notify(GENERIC, b"copy_to", destination_ns, command.destination)
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
            keys = [key for key in keys if matches is None or matches(key)]
            if command.type is not None:  # as Redis, after MATCH: a record read only if it matched
                keys = [key for key in keys if _type_name(txn.get(ns, key, now)) == command.type]
        found.extend(keys)
        if after is not None:
            break
        shard_index += 1
    next_cursor = 0 if shard_index >= len(shards) else cursors.save(ns, shard_index, after)
    return [str(next_cursor).encode(), found]


def _type_name(record: Record | None) -> str:
    return "none" if record is None else record.kind.type_name


@REGISTRY.read(Randomkey)
def randomkey(keyspace: Keyspace, command: Randomkey) -> bytes | None:
    """A key of a shard drawn by its share of the namespace, at a random place in it. LMDB counts
    records but cannot seek to the n-th, so this walks up to it: O(N), where Redis is O(1)."""
    ns = keyspace.ns(command.ns)
    txns = list(keyspace.shards())
    counts = [txn.count(ns) for txn in txns]
    if not any(counts):
        return None
    (txn,) = random.choices(txns, weights=counts)
    place = random.randrange(txn.count(ns))
    key = next(itertools.islice(txn.iter_keys(ns, keyspace.now_ms), place, None), None)
    if key is None:  # expired, unreaped records are counted but not walked: any live key will do
        key = next((key for txn in txns for key in txn.iter_keys(ns, keyspace.now_ms)), None)
    return key


# OBJECT ENCODING names what Redis would use for such a value at its default thresholds.
_EMBSTR_LIMIT = 44  # bytes: longer strings are "raw"
_LISTPACK_ENTRIES = 128  # hash-max-listpack-entries
_LISTPACK_VALUE = 64  # hash-max-listpack-value (bytes of a field or value)
_LIST_LISTPACK_BYTES = 8192  # list-max-listpack-size -2: a list that fits one 8 KiB node


@REGISTRY.read(ObjectInfo)
def object_info(keyspace: Keyspace, command: ObjectInfo) -> str | int | None:
    """Nil for a missing key; else ENCODING's name, IDLETIME 0 (mi keeps no access times), FREQ
    Redis's error without an LFU policy (mi has no eviction at all), REFCOUNT 1."""
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    if record is None:
        return None
    match command.part:
        case "encoding":
            return encoding_of(record)
        case "freq":
            raise errors.lfu_not_selected()
        case "refcount":
            return 1
    return 0


def encoding_of(record: Record) -> str:
    """What Redis would call the encoding of this value."""
    value = record.value
    match record.kind:
        case Kind.INTEGER:
            return "int"
        case Kind.STRING | Kind.BOOLEAN:
            size = len(value) if record.kind is Kind.STRING else len("true" if value else "false")
            return "embstr" if size <= _EMBSTR_LIMIT else "raw"
        case Kind.JSON:
            small = len(value) <= _LISTPACK_ENTRIES and all(
                len(name.encode()) <= _LISTPACK_VALUE and len(inner_text(item)) <= _LISTPACK_VALUE
                for name, item in value.items()
            )
            return "listpack" if small else "hashtable"
    # A listpack entry costs its bytes and about two bytes of header; the list's own header 7.
    size = 7 + sum(len(inner_text(item)) + 2 for item in value)
    return "listpack" if size <= _LIST_LISTPACK_BYTES else "quicklist"


def inner_text(value: Any) -> bytes:
    """A field's or element's text, as a plain RESP2 read answers it (HSTRLEN counts it)."""
    if isinstance(value, str):
        return value.encode()
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return repr(value).encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation Redis would use to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key> (not tracked: mi has no LFU policy).",
    "IDLETIME <key>",
    "    Return the idle time of the <key> (always 0: mi keeps no access times).",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key> (always 1).",
    "HELP",
    "    Print this help.",
]


@REGISTRY.read(ObjectHelp)
def object_help(keyspace: Keyspace, command: ObjectHelp) -> list[SimpleString]:
    return [SimpleString(line) for line in _OBJECT_HELP]
