"""Hashes are mi's JSON objects: HSET field value, HSETNX, HGET, HMGET, HGETALL, HDEL, HEXISTS,
HLEN, HKEYS, HVALS, HINCRBY, HSTRLEN, HRANDFIELD, HSCAN. Writes keep the key's TTL; an object whose
last field goes is deleted, as a Redis hash is. Keyspace events as Redis's: ``hset`` (HSET, HMSET,
HSETNX), ``hdel`` (then ``del`` when the object goes), ``hincrby``."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from mi.commands.base import REGISTRY
from mi.commands.counters import float_sum
from mi.commands.keys import inner_text
from mi.core.glob import compile_glob
from mi.core.keyspace import Keyspace
from protocol.event_classes import GENERIC, HASH
from protocol import errors
from protocol.commands import (
    Hdel,
    Hexists,
    Hget,
    Hincrby,
    Hincrbyfloat,
    Hmget,
    Hrandfield,
    Hread,
    Hscan,
    HsetFields,
    Hsetnx,
    Hstrlen,
)
from protocol.commands.counters import parse_float
from protocol.errors import CommandError
from protocol.replies import Pairs, Stored
from protocol.values import INT64_MAX, INT64_MIN, json_scalar
from storage import Kind


def read_object(keyspace: Keyspace, ns: str, key: bytes) -> tuple[dict[str, Any], int]:
    """The object at ``key`` (empty if missing) and its deadline; WRONGTYPE for other values."""
    record = keyspace.get(ns, key)
    if record is None:
        return {}, 0
    if record.kind is not Kind.JSON:
        raise errors.wrong_type()
    return record.value, record.expires_at


def _store(keyspace: Keyspace, ns: str, key: bytes, value: dict[str, Any], expires_at: int, event: bytes) -> None:
    """Write the object back after ``event``; with no field left, the key goes (then a ``del``)."""
    if value:
        keyspace.put(ns, key, value, expires_at)
    else:
        keyspace.delete(ns, key)
    keyspace.notify(HASH, event, ns, key)
    if not value:
        keyspace.notify(GENERIC, b"del", ns, key)


@REGISTRY.write(HsetFields)
def hset(keyspace: Keyspace, command: HsetFields) -> int:
    """How many fields are new."""
    ns, key = keyspace.ns(command.ns), command.key
    value, expires_at = read_object(keyspace, ns, key)
    added = 0
    for name, item in command.fields:
        added += name not in value
        value[name] = item
    keyspace.put(ns, key, value, expires_at)
    keyspace.notify(HASH, b"hset", ns, key)  # one event for every field, as in Redis
    return added


@REGISTRY.read(Hget)
def hget(keyspace: Keyspace, command: Hget) -> Stored | None:
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    return Stored(value[command.field], inner=True) if command.field in value else None


@REGISTRY.read(Hmget)
def hmget(keyspace: Keyspace, command: Hmget) -> list[Stored | None]:
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    return [Stored(value[name], inner=True) if name in value else None for name in command.fields]


@REGISTRY.read(Hexists)
def hexists(keyspace: Keyspace, command: Hexists) -> int:
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    return int(command.field in value)


@REGISTRY.read(Hread)
def hread(keyspace: Keyspace, command: Hread) -> Any:
    """HGETALL (a map; RESP2 a flat array), HKEYS, HVALS, HLEN."""
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    match command.part:
        case "hkeys":
            return list(value)
        case "hvals":
            return [Stored(item, inner=True) for item in value.values()]
        case "hlen":
            return len(value)
    return {name: Stored(item, inner=True) for name, item in value.items()}


@REGISTRY.write(Hdel)
def hdel(keyspace: Keyspace, command: Hdel) -> int:
    """How many of the fields were there."""
    ns, key = keyspace.ns(command.ns), command.key
    value, expires_at = read_object(keyspace, ns, key)
    removed = sum(value.pop(name, _MISSING) is not _MISSING for name in set(command.fields))
    if removed:
        _store(keyspace, ns, key, value, expires_at, b"hdel")
    return removed


@REGISTRY.write(Hincrby)
def hincrby(keyspace: Keyspace, command: Hincrby) -> int:
    ns, key = keyspace.ns(command.ns), command.key
    value, expires_at = read_object(keyspace, ns, key)
    current = value.get(command.field, 0)
    if type(current) is not int:  # a bool is no counter, nor a float or a string
        raise errors.hash_value_not_integer()
    result = current + command.amount
    if not INT64_MIN <= result <= INT64_MAX:
        raise errors.increment_overflow()
    value[command.field] = result
    keyspace.put(ns, key, value, expires_at)
    keyspace.notify(HASH, b"hincrby", ns, key)
    return result


@REGISTRY.write(Hincrbyfloat)
def hincrbyfloat(keyspace: Keyspace, command: Hincrbyfloat) -> bytes:
    """The new value as text (a bulk string, as Redis answers), stored as HSET would store that
    text: ``"3"`` an integer, ``"3.2"`` a number. A missing field counts as 0."""
    ns, key = keyspace.ns(command.ns), command.key
    value, expires_at = read_object(keyspace, ns, key)
    current = value.get(command.field, 0)
    if type(current) in (int, float):  # a bool is no number
        number = Decimal(repr(current))
    elif isinstance(current, str):
        try:
            number = parse_float(current.encode())
        except CommandError:
            raise errors.hash_value_not_float() from None
    else:
        raise errors.hash_value_not_float()
    text = float_sum(number, command.amount)
    value[command.field] = json_scalar(text, False)
    keyspace.put(ns, key, value, expires_at)
    keyspace.notify(HASH, b"hincrbyfloat", ns, key)
    return text


@REGISTRY.write(Hsetnx)
def hsetnx(keyspace: Keyspace, command: Hsetnx) -> int:
    """1 if the field was set, 0 if the object already had it (nothing changes)."""
    ns, key = keyspace.ns(command.ns), command.key
    value, expires_at = read_object(keyspace, ns, key)
    if command.field in value:
        return 0
    value[command.field] = command.value
    keyspace.put(ns, key, value, expires_at)
    keyspace.notify(HASH, b"hset", ns, key)
    return 1


@REGISTRY.read(Hstrlen)
def hstrlen(keyspace: Keyspace, command: Hstrlen) -> int:
    """The length of the field's value as a plain RESP2 HGET answers it ("36", "true", JSON)."""
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    return len(inner_text(value[command.field])) if command.field in value else 0


@REGISTRY.read(Hrandfield)
def hrandfield(keyspace: Keyspace, command: Hrandfield) -> Any:
    """No count: one field, or nil. A positive count: that many distinct fields at most, in
    random order; a negative one: exactly -count, maybe repeated. WITHVALUES pairs each with its
    value (RESP2 one flat array, RESP3 an array of pairs)."""
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    names = list(value)
    if command.count is None:
        return random.choice(names) if names else None
    if not names or command.count == 0:
        return []
    if command.count > 0:
        chosen = random.sample(names, min(command.count, len(names)))
    else:
        chosen = random.choices(names, k=-command.count)
    if command.with_values:
        return Pairs(tuple((name, Stored(value[name], inner=True)) for name in chosen))
    return chosen


@REGISTRY.read(Hscan)
def hscan(keyspace: Keyspace, command: Hscan) -> list:
    """Every matching field in one reply, cursor 0, whatever the cursor and COUNT: an object is one
    record, as Redis answers a small (listpack) hash."""
    value, _ = read_object(keyspace, keyspace.ns(command.ns), command.key)
    matches = compile_glob(command.match) if command.match else None
    found: list[Any] = []
    for name, item in value.items():
        if matches is None or matches(name.encode()):
            found.extend((name,) if command.no_values else (name, Stored(item, inner=True)))
    return [b"0", found]


_MISSING = object()
