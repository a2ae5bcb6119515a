"""Typed commands on mi's values in Redis shapes: counters, hashes (JSON objects), lists (JSON
arrays), and more on keys. Re-exported by ``protocol.commands``."""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from protocol.command_base import Command, Keyed, as_json, typed

__all__ = [
    "Copy",
    "Expiretime",
    "Flushns",
    "Getdel",
    "Getex",
    "Hdel",
    "Hexists",
    "Hget",
    "Hincrby",
    "Hmget",
    "Hread",
    "HsetFields",
    "Incrby",
    "JsonScalar",
    "Lindex",
    "Llen",
    "Lrange",
    "Lrem",
    "LsetIndex",
    "Ltrim",
    "Mget",
    "Mset",
    "Pop",
    "Push",
    "Rename",
]

# --- counters, hashes (JSON objects) and lists (JSON arrays) --------------------------------------

JsonScalar = str | int | bool


@frozen
class Incrby(Keyed):
    """``INCR``/``DECR``/``INCRBY``/``DECRBY key [n] [FROM ns]``: add ``amount`` to an integer."""

    name: ClassVar[str] = "incrby"
    key: bytes
    amount: int
    ns: str | None = None


@frozen
class HsetFields(Keyed):
    """``HSET key field value [field value ...]`` (also ``HMSET``; no FROM: values are values): set object fields."""

    name: ClassVar[str] = "hset"
    key: bytes
    fields: tuple[tuple[str, JsonScalar], ...] = field(eq=as_json)
    ns: str | None = None


@frozen
class Hget(Keyed):
    """``HGET key field [FROM ns]``."""

    name: ClassVar[str] = "hget"
    key: bytes
    field: str
    ns: str | None = None


@frozen
class Hmget(Keyed):
    """``HMGET key field [field ...]`` (no FROM: fields are fields)."""

    name: ClassVar[str] = "hmget"
    key: bytes
    fields: tuple[str, ...]
    ns: str | None = None


@frozen
class Hdel(Keyed):
    """``HDEL key field [field ...]`` (no FROM: fields are fields)."""

    name: ClassVar[str] = "hdel"
    key: bytes
    fields: tuple[str, ...]
    ns: str | None = None


@frozen
class Hexists(Keyed):
    """``HEXISTS key field [FROM ns]``."""

    name: ClassVar[str] = "hexists"
    key: bytes
    field: str
    ns: str | None = None


@frozen
class Hincrby(Keyed):
    """``HINCRBY key field n [FROM ns]``."""

    name: ClassVar[str] = "hincrby"
    key: bytes
    field: str
    amount: int
    ns: str | None = None


@frozen
class Hread(Keyed):
    """``HGETALL``/``HKEYS``/``HVALS``/``HLEN key [FROM ns]``; ``part`` is the command name."""

    name: ClassVar[str] = "hgetall"
    key: bytes
    part: str  # "hgetall" | "hkeys" | "hvals" | "hlen"
    ns: str | None = None


@frozen
class LsetIndex(Keyed):
    """``LSET key index element [FROM ns]``: replace one element (the Redis form)."""

    name: ClassVar[str] = "lset"
    key: bytes
    index: int
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


@frozen
class Push(Keyed):
    """``LPUSH``/``RPUSH key element [element ...]`` (no FROM: elements are values)."""

    name: ClassVar[str] = "lpush"
    key: bytes
    elements: tuple[JsonScalar, ...] = field(eq=as_json)
    left: bool = True
    ns: str | None = None


@frozen
class Pop(Keyed):
    """``LPOP``/``RPOP key [count] [FROM ns]``; ``count`` None pops one (a single reply)."""

    name: ClassVar[str] = "lpop"
    key: bytes
    count: int | None = None
    left: bool = True
    ns: str | None = None


@frozen
class Lrange(Keyed):
    """``LRANGE key start stop [FROM ns]``."""

    name: ClassVar[str] = "lrange"
    key: bytes
    start: int
    stop: int
    ns: str | None = None


@frozen
class Ltrim(Keyed):
    """``LTRIM key start stop [FROM ns]``."""

    name: ClassVar[str] = "ltrim"
    key: bytes
    start: int
    stop: int
    ns: str | None = None


@frozen
class Llen(Keyed):
    """``LLEN key [FROM ns]``."""

    name: ClassVar[str] = "llen"
    key: bytes
    ns: str | None = None


@frozen
class Lindex(Keyed):
    """``LINDEX key index [FROM ns]``."""

    name: ClassVar[str] = "lindex"
    key: bytes
    index: int
    ns: str | None = None


@frozen
class Lrem(Keyed):
    """``LREM key count element [FROM ns]``."""

    name: ClassVar[str] = "lrem"
    key: bytes
    count: int
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


# --- more on keys ---------------------------------------------------------------------------------


@frozen
class Mset(Keyed):
    """``MSET key value [key value ...]`` (no FROM: values are values)."""

    name: ClassVar[str] = "mset"
    pairs: tuple[tuple[bytes, bytes | int | bool], ...] = field(eq=as_json)
    ns: str | None = None

    @property
    def keys(self) -> tuple[bytes, ...]:
        return tuple(key for key, _value in self.pairs)


@frozen
class Mget(Keyed):
    """``MGET key [key ...] [FROM ns]``."""

    name: ClassVar[str] = "mget"
    keys: tuple[bytes, ...]
    ns: str | None = None


@frozen
class Getdel(Keyed):
    """``GETDEL key [FROM ns]``."""

    name: ClassVar[str] = "getdel"
    key: bytes
    ns: str | None = None


@frozen
class Getex(Keyed):
    """``GETEX key [FROM ns] [TTL d | EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]``."""

    name: ClassVar[str] = "getex"
    key: bytes
    ns: str | None = None
    ttl_ms: int | None = None
    expire_at_ms: int | None = None
    persist: bool = False


@frozen
class Expiretime(Keyed):
    """``EXPIRETIME``/``PEXPIRETIME key [FROM ns]``: the deadline as a Unix time."""

    name: ClassVar[str] = "expiretime"
    key: bytes
    ns: str | None = None
    milliseconds: bool = False


@frozen
class Rename(Keyed):
    """``RENAME``/``RENAMENX source destination [FROM ns]``."""

    name: ClassVar[str] = "rename"
    source: bytes
    destination: bytes
    ns: str | None = None
    nx: bool = False

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.source, self.destination)


@frozen
class Copy(Keyed):
    """``COPY source destination [FROM ns] [TO ns] [REPLACE]``."""

    name: ClassVar[str] = "copy"
    source: bytes
    destination: bytes
    ns: str | None = None
    destination_ns: str | None = None
    replace: bool = False

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.source, self.destination)


@frozen
class Flushns(Command):
    """``FLUSHNS ns``: delete every key of one namespace."""

    name: ClassVar[str] = "flushns"
    ns: str
