"""Storing and reading whole messages: SET, HSET {json}, LSET [list], GET, MSET, MSETNX, MGET, GETDEL,
GETEX, SETNX; and the byte-string commands APPEND, STRLEN, GETRANGE, SETRANGE, which work on a
value's Redis string form (an integer's decimal, ``true``/``false``), as a RESP2 GET shows it.

Keyspace events as Redis's: ``set`` (and ``expire`` when the write gives a deadline), per key for
MSET; mi's whole-value forms ``HSET key {json}`` and ``LSET key [list]`` are ``hset`` and ``lset``.
"""

from __future__ import annotations

from typing import Any

from mi.commands.base import REGISTRY
from mi.core.keyspace import Keyspace
from protocol.event_classes import GENERIC, HASH, LIST, STRING
from protocol import errors
from protocol.commands import (
    Append,
    Get,
    Getdel,
    Getex,
    Getrange,
    Hset,
    Lset,
    Mget,
    Mset,
    Msetnx,
    Set,
    Setnx,
    Setrange,
    Strlen,
)
from protocol.commands.strings import MAX_STRING_LENGTH
from protocol.replies import SimpleString, Stored
from storage import CorruptRecord, Kind, Record
from storage.txn import KEEP

OK = SimpleString("OK")


def store_message(
    keyspace: Keyspace,
    ns: str,
    key: bytes,
    value: Any,
    ttl_ms: int | None,
    *,
    expire_at_ms: int | None = None,
    keep_ttl: bool = False,
    condition: str | None = None,
    priority: int | None = None,
    want_old: bool = False,
    event: tuple[int, bytes] = (STRING, b"set"),
) -> tuple[bool, Record | None]:
    """Write ``value`` at ``key``; a write without a TTL clears any old one, as in Redis, or
    takes the namespace's ``default_ttl``. ``priority`` orders delivery (None: the default).
    A deadline already past (``TTL now``, EXAT/PXAT in the past) deletes the key, as in Redis,
    but in a delivering namespace the message falls due now: it is delivered at once.

    Returns whether it was written (NX/XX may refuse), and the live record it replaced (read
    only when NX, XX, KEEPTTL or ``want_old`` needs it: decoding it is a good part of a SET).
    ``event``: the keyspace event a write is (class, name); a deadline it sets adds ``expire``, and
    one already past only a ``del`` of a key that was there, as Redis's SET.
    """
    old, exists = None, False
    if condition or keep_ttl or want_old:
        try:
            old = keyspace.get(ns, key)
            exists = old is not None
        except CorruptRecord:  # a damaged record still occupies the key; overwriting repairs it
            old, exists = None, True
    if (condition == "NX" and exists) or (condition == "XX" and not exists):
        return False, old
    if keep_ttl:
        expires_at = old.expires_at if old else 0
    elif expire_at_ms is not None:
        expires_at = expire_at_ms
    else:
        ttl_ms = keyspace.default_ttl_ms(ns) if ttl_ms is None else ttl_ms  # 0: TTL now
        expires_at = 0 if ttl_ms is None else keyspace.now_ms + ttl_ms
    if expires_at and expires_at <= keyspace.now_ms:  # a deadline already past
        if not keyspace.delivers(ns):
            if keyspace.delete(ns, key):  # set and gone at once, as in Redis
                keyspace.notify(GENERIC, b"del", ns, key)
            return True, old
        expires_at = keyspace.now_ms  # due now: the reaper hands it over at once
    keep_priority = keep_ttl and priority is None  # the same schedule, the same urgency
    keyspace.put(ns, key, value, expires_at, KEEP if keep_priority else priority)
    keyspace.notify(event[0], event[1], ns, key)
    if expires_at and not keep_ttl:
        keyspace.notify(GENERIC, b"expire", ns, key)
    return True, old


@REGISTRY.write(Set)
def set_(keyspace: Keyspace, command: Set) -> SimpleString | Stored | None:
    written, old = store_message(
        keyspace,
        keyspace.ns(command.ns),
        command.key,
        command.value,
        command.ttl_ms,
        expire_at_ms=command.expire_at_ms,
        keep_ttl=command.keep_ttl,
        condition=command.condition,
        priority=command.priority,
        want_old=command.get,
    )
    if command.get:  # SET ... GET answers the old value, written or not
        return None if old is None else Stored(old.value)
    return OK if written else None


_HSET = (HASH, b"hset")  # a whole JSON object written: what Redis's HSET reports
_LSET = (LIST, b"lset")  # a whole list written: Redis's nearest list write that is not a push


@REGISTRY.write(Hset)
def hset(keyspace: Keyspace, command: Hset) -> SimpleString:
    ns = keyspace.ns(command.ns)
    store_message(keyspace, ns, command.key, command.value, command.ttl_ms, priority=command.priority, event=_HSET)
    return OK


@REGISTRY.write(Lset)
def lset(keyspace: Keyspace, command: Lset) -> SimpleString:
    ns = keyspace.ns(command.ns)
    store_message(keyspace, ns, command.key, command.value, command.ttl_ms, priority=command.priority, event=_LSET)
    return OK


@REGISTRY.write(Mset)
def mset(keyspace: Keyspace, command: Mset) -> SimpleString:
    """All keys at once, on whatever shards: one transaction."""
    ns = keyspace.ns(command.ns)
    for key, value in command.pairs:
        store_message(keyspace, ns, key, value, None)
    return OK


@REGISTRY.read(Get)
def get(keyspace: Keyspace, command: Get) -> Stored | None:
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    return None if record is None else Stored(record.value)


@REGISTRY.read(Mget)
def mget(keyspace: Keyspace, command: Mget) -> list[Stored | None]:
    ns = keyspace.ns(command.ns)
    return [None if (record := keyspace.get(ns, key)) is None else Stored(record.value) for key in command.keys]


@REGISTRY.write(Getdel)
def getdel(keyspace: Keyspace, command: Getdel) -> Stored | None:
    """The value removed: a live one, or in a delivering namespace that of a message due and not
    yet taken (GETDEL takes it back, as DEL does)."""
    ns = keyspace.ns(command.ns)
    record = keyspace.take_back(ns, command.key)
    if record is None:
        return None
    keyspace.notify(GENERIC, b"del", ns, command.key)
    return Stored(record.value)


@REGISTRY.write(Getex)
def getex(keyspace: Keyspace, command: Getex) -> Stored | None:
    """The value, after setting (or with PERSIST clearing) the key's TTL."""
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    if record is None:
        return None
    if command.persist:
        if record.expires_at:
            keyspace.set_expiry(ns, key, 0)
            keyspace.notify(GENERIC, b"persist", ns, key)
    elif command.ttl_ms is not None or command.expire_at_ms is not None:
        deadline = command.expire_at_ms or keyspace.now_ms + (command.ttl_ms or 0)
        if deadline <= keyspace.now_ms:  # deletes, or where messages are delivered, delivers now
            gone = keyspace.expire_now(ns, key)
            keyspace.notify(GENERIC, b"del" if gone else b"expire", ns, key)
        else:
            keyspace.set_expiry(ns, key, deadline)
            keyspace.notify(GENERIC, b"expire", ns, key)
    return Stored(record.value)


@REGISTRY.write(Setnx)
def setnx(keyspace: Keyspace, command: Setnx) -> int:
    written, _old = store_message(keyspace, keyspace.ns(command.ns), command.key, command.value, None, condition="NX")
    return int(written)


@REGISTRY.write(Msetnx)
def msetnx(keyspace: Keyspace, command: Msetnx) -> int:
    """1 if every key was free and all are set; 0 (nothing set) if any exists."""
    ns = keyspace.ns(command.ns)
    if any(_occupied(keyspace, ns, key) for key, _value in command.pairs):
        return 0
    for key, value in command.pairs:
        store_message(keyspace, ns, key, value, None)
    return 1


def _occupied(keyspace: Keyspace, ns: str, key: bytes) -> bool:
    try:
        return keyspace.get(ns, key) is not None
    except CorruptRecord:  # a damaged record still occupies its key
        return True


# --- the string form: APPEND, STRLEN, GETRANGE, SETRANGE ---------------------------------------


def string_form(record: Record | None) -> bytes:
    """A scalar's Redis string form (what a RESP2 GET answers); empty if no key. A JSON object or
    list is another type: WRONGTYPE, as a Redis hash or list would be."""
    if record is None:
        return b""
    match record.kind:
        case Kind.STRING:
            return record.value
        case Kind.INTEGER:
            return b"%d" % record.value
        case Kind.BOOLEAN:
            return b"true" if record.value else b"false"
    raise errors.wrong_type()


@REGISTRY.write(Append)
def append(keyspace: Keyspace, command: Append) -> int:
    """The new length. The result is a string (an integer appended to is text now); the TTL stays."""
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    current = string_form(record)
    if len(current) + len(command.value) > MAX_STRING_LENGTH:
        raise errors.string_too_long()
    value = current + command.value
    keyspace.put(ns, key, value, record.expires_at if record else 0)
    keyspace.notify(STRING, b"append", ns, key)
    return len(value)


@REGISTRY.read(Strlen)
def strlen(keyspace: Keyspace, command: Strlen) -> int:
    return len(string_form(keyspace.get(keyspace.ns(command.ns), command.key)))


@REGISTRY.read(Getrange)
def getrange(keyspace: Keyspace, command: Getrange) -> bytes:
    """Redis's rules: both ends inclusive, negative ones count from the end, clamped to the
    string; an empty string when nothing is left (or no key)."""
    value = string_form(keyspace.get(keyspace.ns(command.ns), command.key))
    start, end, size = command.start, command.end, len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    start = max(start + size if start < 0 else start, 0)
    end = min(max(end + size if end < 0 else end, 0), size - 1)
    return b"" if start > end or not size else value[start : end + 1]


@REGISTRY.write(Setrange)
def setrange(keyspace: Keyspace, command: Setrange) -> int:
    """The new length; past the end the string is padded with zero bytes. An empty value changes
    nothing (a missing key stays missing). The result is a string; the TTL stays."""
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    current = string_form(record)
    if not command.value:
        return len(current)
    end = command.offset + len(command.value)
    limit = keyspace.max_value_size(ns, key)
    if end > limit:  # before building it: SETRANGE k 400000000 x must not allocate 400 MB first
        raise errors.value_too_large(end, limit)
    padded = current.ljust(command.offset, b"\0")
    value = padded[: command.offset] + command.value + padded[end:]
    keyspace.put(ns, key, value, record.expires_at if record else 0)
    keyspace.notify(STRING, b"setrange", ns, key)
    return len(value)
