"""Lists are mi's JSON arrays: LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN, LINDEX, LREM, LTRIM and
LSET index element. Writes keep the key's TTL; a list whose last element goes is deleted, as in
Redis. Indexes follow Redis: negative ones count from the end."""

from __future__ import annotations

from typing import Any

from mi.commands.base import REGISTRY
from mi.core.keyspace import Keyspace
from protocol import errors
from protocol.commands import Lindex, Llen, Lrange, Lrem, LsetIndex, Ltrim, Pop, Push
from protocol.replies import NULL_ARRAY, SimpleString, Stored
from storage import Kind

OK = SimpleString("OK")


def read_list(keyspace: Keyspace, ns: str, key: bytes) -> tuple[list[Any], int] | None:
    """The list at ``key`` and its deadline, None if missing; WRONGTYPE for other values."""
    record = keyspace.get(ns, key)
    if record is None:
        return None
    if record.kind is not Kind.LIST:
        raise errors.wrong_type()
    return record.value, record.expires_at


def _store(keyspace: Keyspace, ns: str, key: bytes, items: list[Any], expires_at: int) -> None:
    if items:
        keyspace.put(ns, key, items, expires_at)
    else:
        keyspace.delete(ns, key)


def _span(length: int, start: int, stop: int) -> range:
    """Redis's inclusive ``start..stop`` with negative indexes, clamped to the list."""
    if start < 0:
        start = max(length + start, 0)
    if stop < 0:
        stop += length
    return range(start, min(stop, length - 1) + 1)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # 1 and true are different elements


@REGISTRY.write(Push)
def push(keyspace: Keyspace, command: Push) -> int:
    """The new length. LPUSH a b c puts c first, as in Redis."""
    ns, key = keyspace.ns(command.ns), command.key
    items, expires_at = read_list(keyspace, ns, key) or ([], 0)
    if command.left:
        items[:0] = reversed(command.elements)
    else:
        items.extend(command.elements)
    keyspace.put(ns, key, items, expires_at)
    return len(items)


@REGISTRY.write(Pop)
def pop(keyspace: Keyspace, command: Pop) -> Any:
    """One element (no count), or a list of up to ``count``; nil when the key is missing."""
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        return None if command.count is None else NULL_ARRAY
    items, expires_at = found
    taken = min(1 if command.count is None else command.count, len(items))
    if command.left:
        popped, rest = items[:taken], items[taken:]
    else:
        popped, rest = items[len(items) - taken :][::-1], items[: len(items) - taken]
    if taken:
        _store(keyspace, ns, key, rest, expires_at)
    if command.count is None:
        return Stored(popped[0], inner=True)
    return [Stored(item, inner=True) for item in popped]


@REGISTRY.read(Lrange)
def lrange(keyspace: Keyspace, command: Lrange) -> list[Stored]:
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    return [Stored(items[i], inner=True) for i in _span(len(items), command.start, command.stop)]


@REGISTRY.read(Llen)
def llen(keyspace: Keyspace, command: Llen) -> int:
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    return len(items)


@REGISTRY.read(Lindex)
def lindex(keyspace: Keyspace, command: Lindex) -> Stored | None:
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    index = command.index + len(items) if command.index < 0 else command.index
    return Stored(items[index], inner=True) if 0 <= index < len(items) else None


@REGISTRY.write(LsetIndex)
def lset_index(keyspace: Keyspace, command: LsetIndex) -> SimpleString:
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        raise errors.no_such_key()
    items, expires_at = found
    index = command.index + len(items) if command.index < 0 else command.index
    if not 0 <= index < len(items):
        raise errors.index_out_of_range()
    items[index] = command.element
    keyspace.put(ns, key, items, expires_at)
    return OK


@REGISTRY.write(Lrem)
def lrem(keyspace: Keyspace, command: Lrem) -> int:
    """Removes up to ``count`` equal elements from the head (count > 0), the tail (< 0), or all (0)."""
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        return 0
    items, expires_at = found
    limit = abs(command.count) or len(items)
    order = range(len(items) - 1, -1, -1) if command.count < 0 else range(len(items))
    doomed = set()
    for i in order:
        if len(doomed) == limit:
            break
        if _same(items[i], command.element):
            doomed.add(i)
    if doomed:
        _store(keyspace, ns, key, [item for i, item in enumerate(items) if i not in doomed], expires_at)
    return len(doomed)


@REGISTRY.write(Ltrim)
def ltrim(keyspace: Keyspace, command: Ltrim) -> SimpleString:
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is not None:
        items, expires_at = found
        kept = [items[i] for i in _span(len(items), command.start, command.stop)]
        if len(kept) != len(items):
            _store(keyspace, ns, key, kept, expires_at)
    return OK
