"""Hashes are mi's JSON objects: HSET field value, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN,
HKEYS, HVALS, HINCRBY. Writes keep the key's TTL; an object whose last field goes is deleted, as
a Redis hash is."""

from __future__ import annotations

from typing import Any

from mi.commands.base import REGISTRY
from mi.core.keyspace import Keyspace
from protocol import errors
from protocol.commands import Hdel, Hexists, Hget, Hincrby, Hmget, Hread, HsetFields
from protocol.replies import Stored
from protocol.values import INT64_MAX, INT64_MIN
from storage import Kind


def read_object(keyspace: Keyspace, ns: str, key: bytes) -> tuple[dict[str, Any], int]:
    """The object at ``key`` (empty if missing) and its deadline; WRONGTYPE for other values."""
    record = keyspace.get(ns, key)
    if record is None:
        return {}, 0
    if record.kind is not Kind.JSON:
        raise errors.wrong_type()
    return record.value, record.expires_at


def _store(keyspace: Keyspace, ns: str, key: bytes, value: dict[str, Any], expires_at: int) -> None:
    if value:
        keyspace.put(ns, key, value, expires_at)
    else:
        keyspace.delete(ns, key)


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
        _store(keyspace, ns, key, value, expires_at)
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
    return result


_MISSING = object()
