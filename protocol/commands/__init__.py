"""Typed commands and their declarations, one module per family (as ``mi.commands`` has).

``protocol.grammar.parse_command`` turns a ``Request`` into one of the frozen forms exported here;
the server dispatches on the form's class. Keys and raw strings stay ``bytes``. ``ns=None`` on a
keyed command means "the connection's current namespace" (no ``FROM`` clause was given).

Each family module holds its commands whole: the typed forms, their parse functions and their
declarations (``protocol.commands.declaration``: name, arity, flags, key positions, docs).
Importing this package declares them all, in ``DECLARATIONS`` (top-level commands, by name) and
``ALL_DECLARATIONS`` (subcommands too, by Redis's ``container|sub`` name). Shared pieces: the
base classes (``base``) and the option loop (``options``). README.md, "Adding a command", says
how to add one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from protocol.commands.base import Command, JsonScalar, Keyed
from protocol.commands.declaration import DECLARATIONS, Declaration, every_declaration
from protocol.commands.strings import (
    Get,
    Getdel,
    Getex,
    Hset,
    Lset,
    Mget,
    Mset,
    Set,
)
from protocol.commands.keys import (
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
from protocol.commands.hashes import (
    Hdel,
    Hexists,
    Hget,
    Hincrby,
    Hmget,
    Hread,
    HsetFields,
)
from protocol.commands.lists import (
    Lindex,
    Llen,
    Lrange,
    Lrem,
    LsetIndex,
    Ltrim,
    Pop,
    Push,
)
from protocol.commands.counters import (
    Incrby,
)
from protocol.commands.namespaces import (
    Flushns,
    NamespaceConfigGet,
    NamespaceConfigSet,
    NamespaceInfo,
    Namespaces,
    Select,
)
from protocol.commands.transactions import (
    Discard,
    Exec,
    Multi,
    Unwatch,
    Watch,
)
from protocol.commands.delivery import (
    Ack,
    DeliveryId,
    MAX_TAKE_COUNT,
    Nack,
    Take,
)
from protocol.commands.connection import (
    Auth,
    ClientGetname,
    ClientId,
    ClientInfo,
    ClientKill,
    ClientList,
    ClientNoEvict,
    ClientSetinfo,
    ClientSetname,
    ClientTyped,
    Echo,
    Hello,
    Ping,
    Quit,
)
from protocol.commands.server import (
    CommandCount,
    CommandDocs,
    CommandGetkeys,
    CommandInfo,
    CommandList,
    ConfigGet,
    Info,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
)
from protocol.commands.admin import (
    Journal,
    MAX_JOURNAL_COUNT,
    Monitor,
    Snapshot,
    SnapshotStatus,
)

__all__ = [
    "ALL_DECLARATIONS",
    "Ack",
    "Auth",
    "ClientGetname",
    "ClientId",
    "ClientInfo",
    "ClientKill",
    "ClientList",
    "ClientNoEvict",
    "ClientSetinfo",
    "ClientSetname",
    "ClientTyped",
    "Command",
    "CommandCount",
    "CommandDocs",
    "CommandGetkeys",
    "CommandInfo",
    "CommandList",
    "ConfigGet",
    "Copy",
    "DECLARATIONS",
    "Dbsize",
    "Declaration",
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
    "MAX_JOURNAL_COUNT",
    "MAX_TAKE_COUNT",
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

ALL_DECLARATIONS: Mapping[str, Declaration] = MappingProxyType({d.name: d for d in every_declaration()})
"""Every command and subcommand by its full lowercase name (``get``, ``client|setname``)."""
