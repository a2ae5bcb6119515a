"""Typed commands, and the table that describes every command a client can type.

``protocol.grammar.parse_command`` turns a ``Request`` into one of the frozen classes below; the
server dispatches on the class. Keys and raw strings stay ``bytes``. ``ns=None`` on a keyed command
means "the connection's current namespace" (no ``FROM`` clause was given).

The commands on counters, hashes and lists live in ``protocol.commands_types``, those for delivery
and operators in ``protocol.commands_admin``, and the base classes in ``protocol.command_base``;
all are re-exported here, so every command class is importable from this module.

``COMMAND_SPECS`` (defined in ``protocol.command_specs``, re-exported here) is the single
description of the command set: the grammar checks arity against it, and the server builds
``COMMAND``, ``COMMAND COUNT`` and ``COMMAND DOCS`` replies from it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import field, frozen

from protocol.command_base import Command, Keyed, as_json, typed
from protocol.command_specs import COMMAND_SPECS, CommandSpec
from protocol.commands_admin import (
    Ack,
    ClientKill,
    ClientList,
    ClientNoEvict,
    ClientTyped,
    DeliveryId,
    Journal,
    Monitor,
    Nack,
    NamespaceConfigGet,
    NamespaceConfigSet,
    NamespaceInfo,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
    Snapshot,
    SnapshotStatus,
    Take,
)
from protocol.commands_types import (
    Copy,
    Expiretime,
    Flushns,
    Getdel,
    Getex,
    Hdel,
    Hexists,
    Hget,
    Hincrby,
    Hmget,
    Hread,
    HsetFields,
    Incrby,
    JsonScalar,
    Lindex,
    Llen,
    Lrange,
    Lrem,
    LsetIndex,
    Ltrim,
    Mget,
    Mset,
    Pop,
    Push,
    Rename,
)

__all__ = [
    "COMMAND_SPECS",
    "Ack",
    "Auth",
    "ClientGetname",
    "ClientId",
    "ClientInfo",
    "ClientKill",
    "ClientList",
    "ClientNoEvict",
    "ClientTyped",
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
    "DeliveryId",
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
    "Journal",
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
    "Monitor",
    "Mset",
    "Multi",
    "Nack",
    "NamespaceConfigGet",
    "NamespaceConfigSet",
    "NamespaceInfo",
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
    "SlowlogGet",
    "SlowlogLen",
    "SlowlogReset",
    "Snapshot",
    "SnapshotStatus",
    "Take",
    "Ttl",
    "Type",
    "Unwatch",
    "Watch",
]


# --- keys and values --------------------------------------------------------------------------


@frozen
class Set(Keyed):
    """``SET key value [FROM ns] [TTL d | EX s | PX ms | EXAT s | PXAT ms | KEEPTTL] [NX | XX] [GET]
    [AS kind] [PRIORITY n]``."""

    name: ClassVar[str] = "set"
    key: bytes
    value: bytes | int | bool = field(eq=typed)
    ns: str | None = None
    ttl_ms: int | None = None
    keep_ttl: bool = False
    condition: str | None = None  # "NX" | "XX"
    get: bool = False  # reply with the old value
    expire_at_ms: int | None = None  # EXAT / PXAT: an absolute deadline
    priority: int | None = None  # for delivery: 0 most urgent; None: the default


@frozen
class Hset(Keyed):
    """``HSET key {json object} [FROM ns] [TTL d | EX s | PX ms] [PRIORITY n]``."""

    name: ClassVar[str] = "hset"
    key: bytes
    value: dict[str, Any] = field(eq=as_json)
    ns: str | None = None
    ttl_ms: int | None = None
    priority: int | None = None


@frozen
class Lset(Keyed):
    """``LSET key [json array] [FROM ns] [TTL d | EX s | PX ms] [PRIORITY n]``."""

    name: ClassVar[str] = "lset"
    key: bytes
    value: list[Any] = field(eq=as_json)
    ns: str | None = None
    ttl_ms: int | None = None
    priority: int | None = None


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
    """``SELECT ns``: the namespace later commands use when they have no ``FROM`` (``SELECT 0`` is
    ``default``, ``SELECT n`` is ``dbn``: see ``protocol.grammar_names``)."""

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
class Auth(Command):
    """``AUTH [username] password`` (no username: the default user)."""

    name: ClassVar[str] = "auth"
    username: bytes | None
    password: bytes = field(repr=False)


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
