"""Commands on keys whatever they hold: DEL, EXISTS, TYPE, TTL, EXPIRE, PERSIST, RENAME, COPY,
and the listings of a namespace (SCAN, KEYS, DBSIZE)."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command, Keyed
from protocol.commands.declaration import KEY_ONE, KEYS_ALL, NO_KEYS, declare
from protocol.commands.options import (
    EXPIRE_OPTIONS,
    FROM,
    SCAN_OPTIONS,
    from_only,
    keys_and_ns,
    ns_of,
    options,
    str_of,
)
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import INT64_MAX, INT64_MIN, MAX_TTL_MS, keyword, parse_int, parse_uint

__all__ = [
    "Copy", "Dbsize", "Del", "Exists", "Expire", "Expiretime", "Keys", "Persist", "Rename", "Scan", "Ttl", "Type",
]  # fmt: skip


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


_READ = ("readonly", "fast")
_WRITE = ("write", "fast")


@declare("del", -2, ("write",), KEYS_ALL, "generic",
         "Deletes one or more keys and returns how many were removed.",
         "DEL key [key ...] [FROM ns]",
         forms=(Del,))  # fmt: skip
@declare("unlink", -2, _WRITE, KEYS_ALL, "generic",
         "Deletes one or more keys and returns how many were removed (same as DEL).",
         "UNLINK key [key ...] [FROM ns]",
         forms=(Del,))  # fmt: skip
def _del(name: str, request: Request) -> Del:
    keys, ns = keys_and_ns(request.args[1:])
    return Del(keys, ns=ns)


@declare("exists", -2, _READ, KEYS_ALL, "generic",
         "Counts how many of the given keys exist.",
         "EXISTS key [key ...] [FROM ns]",
         forms=(Exists,))  # fmt: skip
def _exists(name: str, request: Request) -> Exists:
    keys, ns = keys_and_ns(request.args[1:])
    return Exists(keys, ns=ns)


@declare("type", -2, _READ, KEY_ONE, "generic",
         "Returns the type of the value stored at a key.",
         "TYPE key [FROM ns]",
         forms=(Type,))  # fmt: skip
def _type(name: str, request: Request) -> Type:
    return Type(request.args[1], ns=ns_of(options(name, request.args[2:], FROM)))


@declare("ttl", -2, _READ, KEY_ONE, "generic",
         "Returns a key's remaining time to live in seconds (-1 none, -2 no such key).",
         "TTL key [FROM ns]",
         forms=(Ttl,))  # fmt: skip
@declare("pttl", -2, _READ, KEY_ONE, "generic",
         "Returns a key's remaining time to live in milliseconds (-1 none, -2 no such key).",
         "PTTL key [FROM ns]",
         forms=(Ttl,))  # fmt: skip
def _ttl(name: str, request: Request) -> Ttl:
    found = options(name, request.args[2:], FROM)
    return Ttl(request.args[1], ns=ns_of(found), milliseconds=name == "pttl")


@declare("expire", -3, _WRITE, KEY_ONE, "generic",
         "Sets a key's time to live in seconds; zero or less deletes the key.",
         "EXPIRE key seconds [NX | XX | GT | LT] [FROM ns]",
         forms=(Expire,))  # fmt: skip
@declare("pexpire", -3, _WRITE, KEY_ONE, "generic",
         "Sets a key's time to live in milliseconds; zero or less deletes the key.",
         "PEXPIRE key milliseconds [NX | XX | GT | LT] [FROM ns]",
         forms=(Expire,))  # fmt: skip
def _expire(name: str, request: Request) -> Expire:
    args = request.args
    # Redis reads the flags before the time, so a bad flag wins over a bad number.
    found = options(name, args[3:], EXPIRE_OPTIONS)
    amount = parse_int(args[2])
    ttl_ms = amount * 1000 if name == "expire" else amount
    if not INT64_MIN <= ttl_ms <= INT64_MAX or ttl_ms > MAX_TTL_MS:
        raise errors.invalid_expire_time(name)
    return Expire(args[1], ttl_ms, ns=ns_of(found), condition=str_of(found, "condition"))


@declare("persist", -2, _WRITE, KEY_ONE, "generic",
         "Removes a key's time to live.",
         "PERSIST key [FROM ns]",
         forms=(Persist,))  # fmt: skip
def _persist(name: str, request: Request) -> Persist:
    return Persist(request.args[1], ns=ns_of(options(name, request.args[2:], FROM)))


@declare("expiretime", -2, _READ, KEY_ONE, "generic",
         "Returns a key's deadline as a Unix time in seconds (-1 none, -2 no such key).",
         "EXPIRETIME key [FROM ns]",
         forms=(Expiretime,))  # fmt: skip
@declare("pexpiretime", -2, _READ, KEY_ONE, "generic",
         "Returns a key's deadline as a Unix time in milliseconds (-1 none, -2 no such key).",
         "PEXPIRETIME key [FROM ns]",
         forms=(Expiretime,))  # fmt: skip
def _expiretime(name: str, request: Request) -> Expiretime:
    return Expiretime(request.args[1], ns=from_only(request.args[2:]), milliseconds=name == "pexpiretime")


@declare("rename", -3, ("write",), (1, 2, 1), "generic",
         "Renames a key, replacing any key of the new name.",
         "RENAME key newkey [FROM ns]",
         forms=(Rename,))  # fmt: skip
@declare("renamenx", -3, _WRITE, (1, 2, 1), "generic",
         "Renames a key only if the new name is free.",
         "RENAMENX key newkey [FROM ns]",
         forms=(Rename,))  # fmt: skip
def _rename(name: str, request: Request) -> Rename:
    args = request.args
    return Rename(args[1], args[2], ns=from_only(args[3:]), nx=name == "renamenx")


@declare("copy", -3, ("write", "denyoom"), (1, 2, 1), "generic",
         "Copies a key's value and time to live to another key, maybe in another namespace.",
         "COPY source destination [FROM ns] [TO ns] [REPLACE]",
         forms=(Copy,))  # fmt: skip
def _copy(name: str, request: Request) -> Copy:
    args = request.args
    ns = destination_ns = None
    replace = False
    i = 3
    while i < len(args):
        word = keyword(args[i])
        if word == "replace" and not replace:
            replace = True
            i += 1
        elif word == "from" and ns is None and i + 1 < len(args):
            ns = namespace(args[i + 1])
            i += 2
        elif word == "to" and destination_ns is None and i + 1 < len(args):
            destination_ns = namespace(args[i + 1])
            i += 2
        else:
            raise errors.syntax_error()
    return Copy(args[1], args[2], ns=ns, destination_ns=destination_ns, replace=replace)


@declare("scan", -2, ("readonly",), NO_KEYS, "generic",
         "Iterates over the keys of a namespace, a batch at a time.",
         "SCAN cursor [MATCH pattern] [COUNT count] [FROM ns]",
         forms=(Scan,))  # fmt: skip
def _scan(name: str, request: Request) -> Scan:
    args = request.args
    cursor = parse_uint(args[1])
    if cursor is None:
        raise errors.invalid_cursor()
    found = options(name, args[2:], SCAN_OPTIONS)
    match = found.get("match")
    count = found.get("count", 10)
    return Scan(
        cursor,
        match=match if isinstance(match, bytes) else None,
        count=count if isinstance(count, int) else 10,
        ns=ns_of(found),
    )


@declare("keys", -2, ("readonly",), NO_KEYS, "generic",
         "Returns every key of a namespace that matches a glob pattern.",
         "KEYS pattern [FROM ns]",
         forms=(Keys,))  # fmt: skip
def _keys(name: str, request: Request) -> Keys:
    return Keys(request.args[1], ns=ns_of(options(name, request.args[2:], FROM)))


@declare("dbsize", -1, _READ, NO_KEYS, "server",
         "Returns the number of keys in a namespace.",
         "DBSIZE [FROM ns]",
         forms=(Dbsize,))  # fmt: skip
def _dbsize(name: str, request: Request) -> Dbsize:
    return Dbsize(ns=ns_of(options(name, request.args[1:], FROM)))
