"""Storing and reading whole messages: SET, HSET {json}, LSET [list], GET."""

from __future__ import annotations

from typing import Any

from mi.commands.base import REGISTRY
from mi.keyspace import Keyspace
from protocol.commands import Get, Hset, Lset, Set
from protocol.replies import SimpleString, Stored
from storage import CorruptRecord

OK = SimpleString("OK")


def store_message(
    keyspace: Keyspace,
    ns: str,
    key: bytes,
    value: Any,
    ttl_ms: int | None,
    *,
    keep_ttl: bool = False,
    condition: str | None = None,
) -> SimpleString | None:
    """Write ``value`` at ``key``; a write without a TTL clears any old one, as in Redis."""
    try:
        old = keyspace.get(ns, key)
        exists = old is not None
    except CorruptRecord:  # a damaged record still occupies the key; overwriting repairs it
        old, exists = None, True
    if (condition == "NX" and exists) or (condition == "XX" and not exists):
        return None
    if keep_ttl:
        expires_at = old.expires_at if old else 0
    else:
        expires_at = keyspace.now_ms + ttl_ms if ttl_ms else 0
    keyspace.put(ns, key, value, expires_at)
    return OK


@REGISTRY.write(Set)
def set_(keyspace: Keyspace, command: Set) -> SimpleString | None:
    return store_message(
        keyspace,
        keyspace.ns(command.ns),
        command.key,
        command.value,
        command.ttl_ms,
        keep_ttl=command.keep_ttl,
        condition=command.condition,
    )


@REGISTRY.write(Hset)
def hset(keyspace: Keyspace, command: Hset) -> SimpleString | None:
    return store_message(keyspace, keyspace.ns(command.ns), command.key, command.value, command.ttl_ms)


@REGISTRY.write(Lset)
def lset(keyspace: Keyspace, command: Lset) -> SimpleString | None:
    return store_message(keyspace, keyspace.ns(command.ns), command.key, command.value, command.ttl_ms)


@REGISTRY.read(Get)
def get(keyspace: Keyspace, command: Get) -> Stored | None:
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    return None if record is None else Stored(record.value)
