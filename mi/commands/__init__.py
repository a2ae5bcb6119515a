"""Command execution, one module per family; importing this package registers every handler."""

from mi.commands import (
    acl,
    admin,
    config,
    counters,
    delivery,
    hashes,
    keys,
    lists,
    namespaces,
    pubsub,
    scripting,
    server,
    strings,
    transactions,
)
from mi.commands.base import REGISTRY, Kind, as_command_error, reply_of

__all__ = [
    "REGISTRY",
    "acl",
    "admin",
    "config",
    "Kind",
    "as_command_error",
    "counters",
    "delivery",
    "hashes",
    "keys",
    "lists",
    "namespaces",
    "pubsub",
    "reply_of",
    "scripting",
    "server",
    "strings",
    "transactions",
]
