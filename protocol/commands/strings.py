"""Whole messages: SET (and SETEX, PSETEX, SETNX, GETSET), GET, MSET, MSETNX, MGET, GETDEL, GETEX,
the byte-string commands (APPEND, STRLEN, GETRANGE, SETRANGE), and the JSON forms of HSET and LSET.

``HSET key {json}`` and ``LSET key [json]`` store a whole message as SET does (their handlers are
in ``mi.commands.strings``); ``protocol.commands.hashes`` and ``protocol.commands.lists`` declare
those names and hand the JSON form over here (``wants_json``, ``json_hset``, ``json_lset``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import Keyed, as_json, typed
from protocol.commands.declaration import KEY_ONE, KEYS_ALL, declare
from protocol.commands.options import (
    FROM,
    JSON_OPTIONS,
    SET_OPTIONS,
    TTL_SYNTAX,
    absolute_deadline,
    expire_at_of,
    from_only,
    int_of,
    keys_and_ns,
    ns_of,
    options,
    relative_ttl,
    str_of,
    ttl_of,
)
from protocol.errors import CommandError
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import (
    coerce_scalar,
    infer_scalar,
    keyword,
    parse_int,
    parse_json_array,
    parse_json_object,
    parse_ttl,
)

__all__ = [
    "Append", "Get", "Getdel", "Getex", "Getrange", "Hset", "Lset", "Mget", "Mset", "Msetnx", "Set", "Setnx",
    "Setrange", "Strlen", "json_hset", "json_lset", "wants_json",
]  # fmt: skip


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
class Setnx(Keyed):
    """``SETNX key value [FROM ns]``: SET ... NX answering 1 (set) or 0."""

    name: ClassVar[str] = "setnx"
    key: bytes
    value: bytes | int | bool = field(eq=typed)
    ns: str | None = None


@frozen
class Msetnx(Mset):
    """``MSETNX key value [key value ...]`` (no FROM: values are values): all or none."""

    name: ClassVar[str] = "msetnx"


@frozen
class Append(Keyed):
    """``APPEND key value [FROM ns]``: the value's bytes after the stored string form."""

    name: ClassVar[str] = "append"
    key: bytes
    value: bytes
    ns: str | None = None


@frozen
class Strlen(Keyed):
    """``STRLEN key [FROM ns]``."""

    name: ClassVar[str] = "strlen"
    key: bytes
    ns: str | None = None


@frozen
class Getrange(Keyed):
    """``GETRANGE key start end [FROM ns]`` (inclusive, negative counts from the end)."""

    name: ClassVar[str] = "getrange"
    key: bytes
    start: int
    end: int
    ns: str | None = None


@frozen
class Setrange(Keyed):
    """``SETRANGE key offset value [FROM ns]``: overwrite from ``offset``, padding with zero bytes."""

    name: ClassVar[str] = "setrange"
    key: bytes
    offset: int
    value: bytes
    ns: str | None = None


_WRITE = ("write", "denyoom")
MAX_STRING_LENGTH = 512 * 1024 * 1024  # Redis's proto-max-bulk-len: SETRANGE/APPEND stop there


@declare("set", -3, _WRITE, KEY_ONE, "string",
         "Sets a key to a string, integer or boolean value, with an optional time to live.",
         f"SET key value [FROM ns] {TTL_SYNTAX} | EXAT unix-time-seconds | PXAT unix-time-milliseconds"
         " | KEEPTTL] [NX | XX] [GET] [AS STRING | INT | BOOL]",
         forms=(Set,))  # fmt: skip
def _set(name: str, request: Request) -> Set:
    args = request.args
    found = options(name, args[3:], SET_OPTIONS)
    kind = str_of(found, "as")
    value = coerce_scalar(args[2], kind) if kind else infer_scalar(args[2], 2 in request.quoted)
    return Set(
        args[1],
        value,
        ns=ns_of(found),
        ttl_ms=ttl_of(found),
        keep_ttl=found.get("ttl") == "KEEPTTL",
        condition=str_of(found, "condition"),
        get="get" in found,
        expire_at_ms=expire_at_of(found),
        priority=int_of(found, "priority"),
    )


@declare("setex", -4, _WRITE, KEY_ONE, "string",
         "Sets a key's value and its time to live in seconds.",
         "SETEX key seconds value [FROM ns]",
         forms=(Set,))  # fmt: skip
@declare("psetex", -4, _WRITE, KEY_ONE, "string",
         "Sets a key's value and its time to live in milliseconds.",
         "PSETEX key milliseconds value [FROM ns]",
         forms=(Set,))  # fmt: skip
def _setex(name: str, request: Request) -> Set:
    args = request.args
    ns = from_only(args[4:])
    ttl_ms = relative_ttl(name, args[2], 1000 if name == "setex" else 1)
    return Set(args[1], infer_scalar(args[3], 3 in request.quoted), ns=ns, ttl_ms=ttl_ms)


@declare("setnx", -3, ("write", "denyoom", "fast"), KEY_ONE, "string",
         "Sets a key only if it does not exist; 1 if it was set, else 0.",
         "SETNX key value [FROM ns]",
         forms=(Setnx,))  # fmt: skip
def _setnx(name: str, request: Request) -> Setnx:
    args = request.args
    return Setnx(args[1], infer_scalar(args[2], 2 in request.quoted), ns=from_only(args[3:]))


@declare("getset", -3, ("write", "denyoom", "fast"), KEY_ONE, "string",
         "Sets a key's value and returns the old one (as SET key value GET).",
         "GETSET key value [FROM ns]",
         forms=(Set,))  # fmt: skip
def _getset(name: str, request: Request) -> Set:
    args = request.args
    return Set(args[1], infer_scalar(args[2], 2 in request.quoted), ns=from_only(args[3:]), get=True)


@declare("get", -2, ("readonly", "fast"), KEY_ONE, "string",
         "Returns the value of a key, keeping its type.",
         "GET key [FROM ns]",
         forms=(Get,))  # fmt: skip
def _get(name: str, request: Request) -> Get:
    return Get(request.args[1], ns=ns_of(options(name, request.args[2:], FROM)))


@declare("mset", -3, _WRITE, (1, -1, 2), "string",
         "Sets several keys at once, atomically.",
         "MSET key value [key value ...]",
         forms=(Mset,))  # fmt: skip
def _mset(name: str, request: Request) -> Mset:
    """``MSET key value [key value ...]``: pairs only, no FROM (a pair may be ``FROM ns9``)."""
    args = request.args
    if (len(args) - 1) % 2:
        raise errors.wrong_arity(name)
    pairs = tuple((args[i], infer_scalar(args[i + 1], i + 1 in request.quoted)) for i in range(1, len(args), 2))
    return Mset(pairs)


@declare("msetnx", -3, _WRITE, (1, -1, 2), "string",
         "Sets several keys at once only if none of them exists; 1 if they were set, else 0.",
         "MSETNX key value [key value ...]",
         forms=(Msetnx,))  # fmt: skip
def _msetnx(name: str, request: Request) -> Msetnx:
    return Msetnx(_mset(name, request).pairs)


@declare("mget", -2, ("readonly", "fast"), KEYS_ALL, "string",
         "Returns the values of several keys.",
         "MGET key [key ...] [FROM ns]",
         forms=(Mget,))  # fmt: skip
def _mget(name: str, request: Request) -> Mget:
    keys, ns = keys_and_ns(request.args[1:])
    return Mget(keys, ns=ns)


@declare("getdel", -2, ("write", "fast"), KEY_ONE, "string",
         "Returns the value of a key and deletes it.",
         "GETDEL key [FROM ns]",
         forms=(Getdel,))  # fmt: skip
def _getdel(name: str, request: Request) -> Getdel:
    return Getdel(request.args[1], ns=from_only(request.args[2:]))


@declare("getex", -2, ("write", "fast"), KEY_ONE, "string",
         "Returns the value of a key and changes its time to live.",
         f"GETEX key [FROM ns] {TTL_SYNTAX} | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
         forms=(Getex,))  # fmt: skip
def _getex(name: str, request: Request) -> Getex:
    args = request.args
    ns = ttl_ms = expire_at_ms = None
    persist = False
    expiry_given = False
    i = 2
    while i < len(args):
        word = keyword(args[i])
        has_value = i + 1 < len(args)
        if word == "from" and has_value and ns is None:
            ns = namespace(args[i + 1])
        elif word == "persist" and not expiry_given:
            persist = expiry_given = True
            i += 1
            continue
        elif word in ("ex", "px", "ttl", "exat", "pxat") and has_value and not expiry_given:
            expiry_given = True
            token = args[i + 1]
            if word == "ttl":
                ttl_ms = parse_ttl(token)  # or now
            elif word in ("ex", "px"):
                ttl_ms = relative_ttl(name, token, 1000 if word == "ex" else 1)
            else:
                expire_at_ms = absolute_deadline(name, token, 1000 if word == "exat" else 1)
        else:
            raise errors.syntax_error()
        i += 2
    return Getex(args[1], ns=ns, ttl_ms=ttl_ms, expire_at_ms=expire_at_ms, persist=persist)


# --- byte strings: APPEND, STRLEN, GETRANGE, SETRANGE -------------------------------------------


@declare("append", -3, _WRITE, KEY_ONE, "string",
         "Appends to a key's string form and returns the new length.",
         "APPEND key value [FROM ns]",
         forms=(Append,))  # fmt: skip
def _append(name: str, request: Request) -> Append:
    args = request.args
    return Append(args[1], args[2], ns=from_only(args[3:]))


@declare("strlen", -2, ("readonly", "fast"), KEY_ONE, "string",
         "Returns the length of a key's string form (0 if no key).",
         "STRLEN key [FROM ns]",
         forms=(Strlen,))  # fmt: skip
def _strlen(name: str, request: Request) -> Strlen:
    return Strlen(request.args[1], ns=from_only(request.args[2:]))


@declare("substr", -4, ("readonly",), KEY_ONE, "string",
         "Returns part of a string (GETRANGE's old name).",
         "SUBSTR key start end [FROM ns]",
         forms=(Getrange,))  # fmt: skip
@declare("getrange", -4, ("readonly",), KEY_ONE, "string",
         "Returns a substring of a key's string form (inclusive; negative counts from the end).",
         "GETRANGE key start end [FROM ns]",
         forms=(Getrange,))  # fmt: skip
def _getrange(name: str, request: Request) -> Getrange:
    args = request.args
    return Getrange(args[1], parse_int(args[2]), parse_int(args[3]), ns=from_only(args[4:]))


@declare("setrange", -4, _WRITE, KEY_ONE, "string",
         "Overwrites part of a key's string form from an offset and returns the new length.",
         "SETRANGE key offset value [FROM ns]",
         forms=(Setrange,))  # fmt: skip
def _setrange(name: str, request: Request) -> Setrange:
    args = request.args
    offset = parse_int(args[2])
    if offset < 0:
        raise errors.offset_out_of_range()
    if args[3] and offset + len(args[3]) > MAX_STRING_LENGTH:  # an empty value changes nothing
        raise errors.string_too_long()
    return Setrange(args[1], offset, args[3], ns=from_only(args[4:]))


# --- the JSON forms of HSET and LSET ----------------------------------------------------------


def wants_json(name: str, args: tuple[bytes, ...], opening: bytes, *, redis_form_fits: bool) -> bool:
    """Whether an HSET/LSET is its JSON form: its value starts like JSON (``{`` or ``[``), or the
    Redis field/index form does not fit and it reads as one value, maybe with JSON options.

    The second case lets a value that is not JSON answer "must be a JSON object" (``HSET k 42``)
    rather than the arity error it would get as a field/index form.
    """
    if args[2].lstrip(b" \t\r\n").startswith(opening):
        return True
    if redis_form_fits:
        return False
    if len(args) == 3:
        return True
    try:
        options(name, args[3:], JSON_OPTIONS)
    except CommandError:
        return False
    return True


def json_hset(name: str, request: Request) -> Hset:
    """``HSET key {json object} [FROM ns] [TTL d | EX s | PX ms] [PRIORITY n]``."""
    args = request.args
    value = parse_json_object(args[2], name)
    found = options(name, args[3:], JSON_OPTIONS)
    return Hset(args[1], value, ns=ns_of(found), ttl_ms=ttl_of(found), priority=int_of(found, "priority"))


def json_lset(name: str, request: Request) -> Lset:
    """``LSET key [json array] [FROM ns] [TTL d | EX s | PX ms] [PRIORITY n]``."""
    args = request.args
    value = parse_json_array(args[2], name)
    found = options(name, args[3:], JSON_OPTIONS)
    return Lset(args[1], value, ns=ns_of(found), ttl_ms=ttl_of(found), priority=int_of(found, "priority"))
