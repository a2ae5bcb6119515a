"""Commands on keys whatever they hold: DEL, EXISTS, TOUCH, TYPE, TTL, EXPIRE, EXPIREAT, PERSIST,
RENAME, COPY, OBJECT, and the listings of a namespace (SCAN, KEYS, DBSIZE, RANDOMKEY)."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command, Keyed
from protocol.commands.declaration import KEY_ONE, KEYS_ALL, NO_KEYS, declare, declare_container
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
    "Copy", "Dbsize", "Del", "Exists", "Expire", "Expireat", "Expiretime", "Keys", "ObjectHelp", "ObjectInfo",
    "Persist", "Randomkey", "Rename", "Scan", "Ttl", "Type",
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
class Expireat(Keyed):
    """``EXPIREAT key unix-seconds`` / ``PEXPIREAT key unix-ms`` ``[NX | XX | GT | LT] [FROM ns]``.

    A deadline already past deletes the key, as in Redis.
    """

    name: ClassVar[str] = "expireat"
    key: bytes
    deadline_ms: int
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
    """``SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] [FROM ns]``."""

    name: ClassVar[str] = "scan"
    cursor: int
    match: bytes | None = None
    count: int = 10
    ns: str | None = None
    type: str | None = None  # a name as TYPE answers it: only keys of that type


@frozen
class Randomkey(Command):
    """``RANDOMKEY [FROM ns]``."""

    name: ClassVar[str] = "randomkey"
    ns: str | None = None


@frozen
class ObjectInfo(Keyed):
    """``OBJECT ENCODING | IDLETIME | FREQ | REFCOUNT key [FROM ns]``; ``part`` is the subcommand."""

    name: ClassVar[str] = "object"
    key: bytes
    part: str  # "encoding" | "idletime" | "freq" | "refcount"
    ns: str | None = None


@frozen
class ObjectHelp(Command):
    """``OBJECT HELP``."""

    name: ClassVar[str] = "object|help"


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
@declare("touch", -2, _READ, KEYS_ALL, "generic",
         "Counts how many of the given keys exist (mi keeps no access times to update).",
         "TOUCH key [key ...] [FROM ns]",
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


@declare("expireat", -3, _WRITE, KEY_ONE, "generic",
         "Sets a key's deadline as a Unix time in seconds; a time already past deletes the key.",
         "EXPIREAT key unix-time-seconds [NX | XX | GT | LT] [FROM ns]",
         forms=(Expireat,))  # fmt: skip
@declare("pexpireat", -3, _WRITE, KEY_ONE, "generic",
         "Sets a key's deadline as a Unix time in milliseconds; a time already past deletes the key.",
         "PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] [FROM ns]",
         forms=(Expireat,))  # fmt: skip
def _expireat(name: str, request: Request) -> Expireat:
    args = request.args
    found = options(name, args[3:], EXPIRE_OPTIONS)  # the flags first, as Redis reads them
    deadline_ms = parse_int(args[2]) * (1000 if name == "expireat" else 1)
    if not INT64_MIN <= deadline_ms <= INT64_MAX:
        raise errors.invalid_expire_time(name)
    return Expireat(args[1], deadline_ms, ns=ns_of(found), condition=str_of(found, "condition"))


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
         "COPY source destination [FROM ns] [TO ns | DB db-number] [REPLACE]",
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
        elif word in ("to", "db") and destination_ns is None and i + 1 < len(args):  # DB n: Redis's spelling
            destination_ns = namespace(args[i + 1])
            i += 2
        else:
            raise errors.syntax_error()
    return Copy(args[1], args[2], ns=ns, destination_ns=destination_ns, replace=replace)


@declare("scan", -2, ("readonly",), NO_KEYS, "generic",
         "Iterates over the keys of a namespace, a batch at a time, maybe of one type only.",
         "SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] [FROM ns]",
         forms=(Scan,))  # fmt: skip
def _scan(name: str, request: Request) -> Scan:
    args = request.args
    cursor = parse_uint(args[1])
    if cursor is None:
        raise errors.invalid_cursor()
    rest, type_name = _take_option(args[2:], "type")
    found = options(name, rest, SCAN_OPTIONS)
    match = found.get("match")
    count = found.get("count", 10)
    return Scan(
        cursor,
        match=match if isinstance(match, bytes) else None,
        count=count if isinstance(count, int) else 10,
        ns=ns_of(found),
        type=None if type_name is None else keyword(type_name),
    )


def _take_option(args: tuple[bytes, ...], word: str) -> tuple[tuple[bytes, ...], bytes | None]:
    """Take ``word value`` out of options that all come as ``word value`` pairs; what is left goes
    to ``options`` (which answers a syntax error for a repeat, an odd one out, an unknown word)."""
    rest: list[bytes] = []
    value = None
    for i in range(0, len(args) - 1, 2):
        if keyword(args[i]) == word and value is None:
            value = args[i + 1]
        else:
            rest += args[i : i + 2]
    if len(args) % 2:
        rest.append(args[-1])
    return tuple(rest), value


@declare("randomkey", -1, ("readonly",), NO_KEYS, "generic",
         "Returns a random key of a namespace (nil if it is empty).",
         "RANDOMKEY [FROM ns]",
         forms=(Randomkey,))  # fmt: skip
def _randomkey(name: str, request: Request) -> Randomkey:
    return Randomkey(ns=from_only(request.args[1:]))


@declare("object|encoding", -3, ("readonly",), (2, 2, 1), "generic",
         "Returns the encoding Redis would give a key's value (embstr, raw, int, listpack...).",
         "OBJECT ENCODING key [FROM ns]",
         forms=(ObjectInfo,))  # fmt: skip
@declare("object|idletime", -3, ("readonly",), (2, 2, 1), "generic",
         "Returns a key's idle time in seconds (mi keeps no access times: 0).",
         "OBJECT IDLETIME key [FROM ns]",
         forms=(ObjectInfo,))  # fmt: skip
@declare("object|freq", -3, ("readonly",), (2, 2, 1), "generic",
         "Returns a key's access frequency (only under an LFU policy, which mi has not: an error).",
         "OBJECT FREQ key [FROM ns]",
         forms=(ObjectInfo,))  # fmt: skip
@declare("object|refcount", -3, ("readonly",), (2, 2, 1), "generic",
         "Returns the number of references to a key's value (1 in mi).",
         "OBJECT REFCOUNT key [FROM ns]",
         forms=(ObjectInfo,))  # fmt: skip
def _object_info(name: str, request: Request) -> ObjectInfo:
    args = request.args
    return ObjectInfo(args[2], name.removeprefix("object|"), ns=from_only(args[3:]))


@declare("object|help", 2, ("loading", "stale"), NO_KEYS, "generic",
         "Shows what OBJECT's subcommands do.",
         "OBJECT HELP",
         forms=(ObjectHelp,))  # fmt: skip
def _object_help(name: str, request: Request) -> ObjectHelp:
    return ObjectHelp()


declare_container("object", (), "generic",
                  "A container for object introspection commands.",
                  "OBJECT subcommand [argument ...]")  # fmt: skip


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
