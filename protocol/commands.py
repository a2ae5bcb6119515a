"""Typed commands, and the table that describes every command a client can type.

``protocol.grammar.parse_command`` turns a ``Request`` into one of the frozen classes below; the
server dispatches on the class. Keys and raw strings stay ``bytes``. ``ns=None`` on a keyed command
means "the connection's current namespace" (no ``FROM`` clause was given).

``COMMAND_SPECS`` (defined in ``protocol.command_specs``, re-exported here) is the single
description of the command set: the grammar checks arity against it, and the server builds
``COMMAND``, ``COMMAND COUNT`` and ``COMMAND DOCS`` replies from it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from attrs import field, frozen

from protocol.command_specs import COMMAND_SPECS, CommandSpec

__all__ = [
    "COMMAND_SPECS",
    "ClientGetname",
    "ClientId",
    "ClientInfo",
    "ClientSetinfo",
    "ClientSetname",
    "Command",
    "CommandCount",
    "CommandDocs",
    "CommandInfo",
    "CommandList",
    "CommandSpec",
    "ConfigGet",
    "Copy",
    "Dbsize",
    "Del",
    "Discard",
    "Echo",
    "Exec",
    "Exists",
    "Expire",
    "Expiretime",
    "Flushns",
    "Get",
    "Getdel",
    "Getex",
    "Hdel",
    "Hello",
    "Hexists",
    "Hget",
    "Hincrby",
    "Hmget",
    "Hread",
    "Hset",
    "HsetFields",
    "Incrby",
    "Info",
    "JsonScalar",
    "Keyed",
    "Keys",
    "Lindex",
    "Llen",
    "Lrange",
    "Lrem",
    "Lset",
    "LsetIndex",
    "Ltrim",
    "Mget",
    "Mset",
    "Multi",
    "Namespaces",
    "Persist",
    "Ping",
    "Pop",
    "Push",
    "Quit",
    "Rename",
    "Scan",
    "Select",
    "Set",
    "Ttl",
    "Type",
    "Unwatch",
    "Watch",
]


def _typed(value: object) -> tuple[type, object]:
    # attrs compares fields with ==, and True == 1 in Python; a stored boolean and a stored
    # integer are different values, so compare the type too.
    return (type(value), value)


def _as_json(value: object) -> str:
    # Same reason as _typed, for nested values ({"a": true} != {"a": 1}); also makes them hashable.
    return json.dumps(value, sort_keys=True, default=repr)


@frozen
class Command:
    """Base of every command; ``name`` is the lowercase name users type (``client|id`` for
    subcommands, as Redis names them in errors and statistics)."""

    name: ClassVar[str]


@frozen
class Keyed(Command):
    """A command on keys; ``keys`` are all the keys it touches, in order (its shards follow)."""

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.key,)  # type: ignore[attr-defined] - single-key commands; others override


# --- keys and values --------------------------------------------------------------------------


@frozen
class Set(Keyed):
    """``SET key value [FROM ns] [TTL d | EX s | PX ms | EXAT s | PXAT ms | KEEPTTL] [NX | XX] [GET]
    [AS kind]``."""

    name: ClassVar[str] = "set"
    key: bytes
    value: bytes | int | bool = field(eq=_typed)
    ns: str | None = None
    ttl_ms: int | None = None
    keep_ttl: bool = False
    condition: str | None = None  # "NX" | "XX"
    get: bool = False  # reply with the old value
    expire_at_ms: int | None = None  # EXAT / PXAT: an absolute deadline


@frozen
class Hset(Keyed):
    """``HSET key {json object} [FROM ns] [TTL d | EX s | PX ms]``."""

    name: ClassVar[str] = "hset"
    key: bytes
    value: dict[str, Any] = field(eq=_as_json)
    ns: str | None = None
    ttl_ms: int | None = None


@frozen
class Lset(Keyed):
    """``LSET key [json array] [FROM ns] [TTL d | EX s | PX ms]``."""

    name: ClassVar[str] = "lset"
    key: bytes
    value: list[Any] = field(eq=_as_json)
    ns: str | None = None
    ttl_ms: int | None = None


@frozen
class Get(Keyed):
    """``GET key [FROM ns]``."""

    name: ClassVar[str] = "get"
    key: bytes
    ns: str | None = None


@frozen
class Del(Keyed):
    """``DEL key [key ...] [FROM ns]`` (also ``UNLINK``)."""

    name: ClassVar[str] = "del"
    keys: tuple[bytes, ...]
    ns: str | None = None


@frozen
class Exists(Keyed):
    """``EXISTS key [key ...] [FROM ns]``."""

    name: ClassVar[str] = "exists"
    keys: tuple[bytes, ...]
    ns: str | None = None


@frozen
class Type(Keyed):
    """``TYPE key [FROM ns]``."""

    name: ClassVar[str] = "type"
    key: bytes
    ns: str | None = None


@frozen
class Ttl(Keyed):
    """``TTL key [FROM ns]``, or ``PTTL`` when ``milliseconds``."""

    name: ClassVar[str] = "ttl"
    key: bytes
    ns: str | None = None
    milliseconds: bool = False


@frozen
class Expire(Keyed):
    """``EXPIRE key seconds`` / ``PEXPIRE key ms`` ``[NX | XX | GT | LT] [FROM ns]``.

    ``ttl_ms`` may be zero or negative: the key is deleted, as in Redis.
    """

    name: ClassVar[str] = "expire"
    key: bytes
    ttl_ms: int
    ns: str | None = None
    condition: str | None = None  # "NX" | "XX" | "GT" | "LT"


@frozen
class Persist(Keyed):
    """``PERSIST key [FROM ns]``."""

    name: ClassVar[str] = "persist"
    key: bytes
    ns: str | None = None


@frozen
class Select(Command):
    """``SELECT ns``: the namespace later commands use when they have no ``FROM``."""

    name: ClassVar[str] = "select"
    ns: str


@frozen
class Namespaces(Command):
    """``NAMESPACES``: list the namespaces that hold keys."""

    name: ClassVar[str] = "namespaces"


@frozen
class Dbsize(Command):
    """``DBSIZE [FROM ns]``."""

    name: ClassVar[str] = "dbsize"
    ns: str | None = None


@frozen
class Scan(Command):
    """``SCAN cursor [MATCH pattern] [COUNT count] [FROM ns]``."""

    name: ClassVar[str] = "scan"
    cursor: int
    match: bytes | None = None
    count: int = 10
    ns: str | None = None


@frozen
class Keys(Command):
    """``KEYS pattern [FROM ns]``."""

    name: ClassVar[str] = "keys"
    pattern: bytes
    ns: str | None = None


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
    """``HSET key field value [field value ...] [FROM ns]`` (also ``HMSET``): set object fields."""

    name: ClassVar[str] = "hset"
    key: bytes
    fields: tuple[tuple[str, JsonScalar], ...] = field(eq=_as_json)
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
    """``HMGET key field [field ...] [FROM ns]``."""

    name: ClassVar[str] = "hmget"
    key: bytes
    fields: tuple[str, ...]
    ns: str | None = None


@frozen
class Hdel(Keyed):
    """``HDEL key field [field ...] [FROM ns]``."""

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
    element: JsonScalar = field(eq=_typed)
    ns: str | None = None


@frozen
class Push(Keyed):
    """``LPUSH``/``RPUSH key element [element ...] [FROM ns]``."""

    name: ClassVar[str] = "lpush"
    key: bytes
    elements: tuple[JsonScalar, ...] = field(eq=_as_json)
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
    element: JsonScalar = field(eq=_typed)
    ns: str | None = None


# --- more on keys ---------------------------------------------------------------------------------


@frozen
class Mset(Keyed):
    """``MSET key value [key value ...] [FROM ns]``."""

    name: ClassVar[str] = "mset"
    pairs: tuple[tuple[bytes, bytes | int | bool], ...] = field(eq=_as_json)
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


# --- transactions -----------------------------------------------------------------------------


@frozen
class Multi(Command):
    """``MULTI``: queue the following commands until EXEC."""

    name: ClassVar[str] = "multi"


@frozen
class Exec(Command):
    """``EXEC``: run the queued commands as one transaction."""

    name: ClassVar[str] = "exec"


@frozen
class Discard(Command):
    """``DISCARD``: drop the queued commands."""

    name: ClassVar[str] = "discard"


@frozen
class Watch(Keyed):
    """``WATCH key [key ...] [FROM ns]``: EXEC applies nothing if one of them changes first."""

    name: ClassVar[str] = "watch"
    keys: tuple[bytes, ...]
    ns: str | None = None


@frozen
class Unwatch(Command):
    """``UNWATCH``: forget every watched key."""

    name: ClassVar[str] = "unwatch"


# --- connection and server --------------------------------------------------------------------


@frozen
class Hello(Command):
    """``HELLO [protover [AUTH username password] [SETNAME clientname]]``.

    Any integer ``protover`` parses; the server answers ``NOPROTO`` for versions other than 2, 3.
    """

    name: ClassVar[str] = "hello"
    protover: int | None = None
    username: bytes | None = None
    password: bytes | None = field(default=None, repr=False)
    client_name: bytes | None = None


@frozen
class ClientSetinfo(Command):
    """``CLIENT SETINFO LIB-NAME|LIB-VER value``; ``attribute`` is ``lib-name`` or ``lib-ver``."""

    name: ClassVar[str] = "client|setinfo"
    attribute: str
    value: bytes


@frozen
class ClientSetname(Command):
    """``CLIENT SETNAME name`` (an empty name clears it)."""

    name: ClassVar[str] = "client|setname"
    client_name: bytes


@frozen
class ClientGetname(Command):
    """``CLIENT GETNAME``."""

    name: ClassVar[str] = "client|getname"


@frozen
class ClientId(Command):
    """``CLIENT ID``."""

    name: ClassVar[str] = "client|id"


@frozen
class ClientInfo(Command):
    """``CLIENT INFO``."""

    name: ClassVar[str] = "client|info"


@frozen
class CommandList(Command):
    """``COMMAND`` with no subcommand: details of every command."""

    name: ClassVar[str] = "command"


@frozen
class CommandCount(Command):
    """``COMMAND COUNT``."""

    name: ClassVar[str] = "command|count"


@frozen
class CommandDocs(Command):
    """``COMMAND DOCS [name ...]``; no names means every command."""

    name: ClassVar[str] = "command|docs"
    names: tuple[str, ...] = ()


@frozen
class CommandInfo(Command):
    """``COMMAND INFO [name ...]``; no names means every command."""

    name: ClassVar[str] = "command|info"
    names: tuple[str, ...] = ()


@frozen
class ConfigGet(Command):
    """``CONFIG GET pattern [pattern ...]``."""

    name: ClassVar[str] = "config|get"
    patterns: tuple[bytes, ...]


@frozen
class Info(Command):
    """``INFO [section ...]``; sections lowercased, none means the default set."""

    name: ClassVar[str] = "info"
    sections: tuple[str, ...] = ()


@frozen
class Ping(Command):
    """``PING [message]``."""

    name: ClassVar[str] = "ping"
    message: bytes | None = None


@frozen
class Echo(Command):
    """``ECHO message``."""

    name: ClassVar[str] = "echo"
    message: bytes


@frozen
class Quit(Command):
    """``QUIT``: reply ``+OK``, then close."""

    name: ClassVar[str] = "quit"
