"""Grammar of the Redis-shaped commands on mi's types: counters, hashes, lists, and more on keys.

Hashes are mi's JSON objects and lists its JSON arrays, so field values and elements are typed
as SET types its value (``json_scalar``). No value is ever read as a namespace: commands whose
trailing arguments are values, fields or field-value pairs (HSET, HMGET, HDEL, LPUSH, RPUSH, MSET)
take no ``FROM`` (the connection's namespace applies, from SELECT), so ``RPUSH k go from home``
pushes three words. Commands with a fixed number of arguments take ``FROM ns`` after them
(``LREM k 0 x FROM ns``), and those whose trailing arguments are keys (MGET) a final ``FROM ns``
after at least one key, as DEL does. ``protocol.grammar``
merges ``TYPE_PARSERS`` into its table and hands HSET and LSET over here when their third
argument is not JSON (``hset_fields``, ``lset_index``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from protocol import errors
from protocol.commands import (
    Command,
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
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import (
    INT64_MIN,
    MAX_TTL_MS,
    infer_scalar,
    json_scalar,
    keyword,
    parse_ttl,
    parse_int,
    text,
)

__all__ = ["TYPE_PARSERS", "hset_fields", "keys_and_ns", "lset_index"]

Parser = Callable[[str, Request], Command]

_PARSERS: dict[str, Parser] = {}


def _parser(*names: str) -> Callable[[Parser], Parser]:
    def register(parse: Parser) -> Parser:
        for name in names:
            _PARSERS[name] = parse
        return parse

    return register


def _from_only(args: tuple[bytes, ...]) -> str | None:
    """Nothing, or exactly ``FROM ns``: the namespace."""
    if not args:
        return None
    if len(args) == 2 and keyword(args[0]) == "from":
        return namespace(args[1])
    raise errors.syntax_error()


def keys_and_ns(args: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], str | None]:
    """``key [key ...] [FROM ns]``: a trailing FROM clause counts only after at least one key."""
    if len(args) >= 3 and keyword(args[-2]) == "from":
        return args[:-2], namespace(args[-1])
    return args, None


def _field(token: bytes) -> str:
    return text(token, "field name")


# --- counters ---------------------------------------------------------------------------------


@_parser("incr", "decr")
def _incr(name: str, request: Request) -> Command:
    args = request.args
    return Incrby(args[1], 1 if name == "incr" else -1, ns=_from_only(args[2:]))


@_parser("incrby", "decrby")
def _incrby(name: str, request: Request) -> Command:
    args = request.args
    amount = parse_int(args[2])
    ns = _from_only(args[3:])
    if name == "decrby":
        if amount == INT64_MIN:
            raise errors.decrement_overflow()
        amount = -amount
    return Incrby(args[1], amount, ns=ns)


# --- hashes -----------------------------------------------------------------------------------


def hset_fields(name: str, request: Request) -> Command:
    """``HSET key field value [field value ...]`` (and HMSET): no FROM, a pair may be ``FROM x``."""
    args = request.args
    if len(args) % 2 or len(args) < 4:
        raise errors.wrong_arity(name)
    fields = tuple(
        (_field(args[i]), json_scalar(args[i + 1], i + 1 in request.quoted)) for i in range(2, len(args), 2)
    )
    return HsetFields(args[1], fields)


_parser("hmset")(hset_fields)


@_parser("hget", "hexists")
def _hget(name: str, request: Request) -> Command:
    args = request.args
    kind = Hget if name == "hget" else Hexists
    return kind(args[1], _field(args[2]), ns=_from_only(args[3:]))


@_parser("hmget", "hdel")
def _hfields(name: str, request: Request) -> Command:
    """``HMGET``/``HDEL key field [field ...]``: every argument after the key is a field."""
    args = request.args
    kind = Hmget if name == "hmget" else Hdel
    return kind(args[1], tuple(_field(token) for token in args[2:]))


@_parser("hincrby")
def _hincrby(name: str, request: Request) -> Command:
    args = request.args
    return Hincrby(args[1], _field(args[2]), parse_int(args[3]), ns=_from_only(args[4:]))


@_parser("hgetall", "hkeys", "hvals", "hlen")
def _hread(name: str, request: Request) -> Command:
    return Hread(request.args[1], name, ns=_from_only(request.args[2:]))


# --- lists ------------------------------------------------------------------------------------


def lset_index(name: str, request: Request) -> Command:
    """``LSET key index element [FROM ns]``."""
    args = request.args
    if len(args) not in (4, 6):
        raise errors.wrong_arity(name)
    return LsetIndex(
        args[1], parse_int(args[2]), json_scalar(args[3], 3 in request.quoted), ns=_from_only(args[4:])
    )


@_parser("lpush", "rpush")
def _push(name: str, request: Request) -> Command:
    """``LPUSH``/``RPUSH key element [element ...]``: every argument after the key is an element."""
    args = request.args
    elements = tuple(json_scalar(args[i], i in request.quoted) for i in range(2, len(args)))
    return Push(args[1], elements, left=name == "lpush")


@_parser("lpop", "rpop")
def _pop(name: str, request: Request) -> Command:
    args = request.args
    count = None
    rest = args[2:]
    if len(rest) in (1, 3):  # a count, then maybe FROM ns
        try:
            count = parse_int(rest[0])
        except errors.CommandError:
            raise errors.not_positive() from None
        if count < 0:
            raise errors.not_positive()
        rest = rest[1:]
    return Pop(args[1], count, left=name == "lpop", ns=_from_only(rest))


@_parser("lrange", "ltrim")
def _range(name: str, request: Request) -> Command:
    args = request.args
    kind = Lrange if name == "lrange" else Ltrim
    return kind(args[1], parse_int(args[2]), parse_int(args[3]), ns=_from_only(args[4:]))


@_parser("llen")
def _llen(name: str, request: Request) -> Command:
    return Llen(request.args[1], ns=_from_only(request.args[2:]))


@_parser("lindex")
def _lindex(name: str, request: Request) -> Command:
    args = request.args
    return Lindex(args[1], parse_int(args[2]), ns=_from_only(args[3:]))


@_parser("lrem")
def _lrem(name: str, request: Request) -> Command:
    args = request.args
    return Lrem(args[1], parse_int(args[2]), json_scalar(args[3], 3 in request.quoted), ns=_from_only(args[4:]))


# --- more on keys -----------------------------------------------------------------------------


@_parser("mset")
def _mset(name: str, request: Request) -> Command:
    """``MSET key value [key value ...]``: pairs only, no FROM (a pair may be ``FROM ns9``)."""
    args = request.args
    if (len(args) - 1) % 2:
        raise errors.wrong_arity(name)
    pairs = tuple((args[i], infer_scalar(args[i + 1], i + 1 in request.quoted)) for i in range(1, len(args), 2))
    return Mset(pairs)


@_parser("mget")
def _mget(name: str, request: Request) -> Command:
    keys, ns = keys_and_ns(request.args[1:])
    return Mget(keys, ns=ns)


@_parser("getdel")
def _getdel(name: str, request: Request) -> Command:
    return Getdel(request.args[1], ns=_from_only(request.args[2:]))


def absolute_deadline(command: str, token: bytes, unit_ms: int) -> int:
    """``EXAT``/``PXAT``: a positive Unix time, in milliseconds."""
    amount = parse_int(token)
    if amount <= 0 or amount * unit_ms > 2**63 - 1:
        raise errors.invalid_expire_time(command)
    return amount * unit_ms


def relative_ttl(command: str, token: bytes, unit_ms: int) -> int:
    """``EX``/``PX``: a positive amount, at most MAX_TTL_MS once in milliseconds."""
    amount = parse_int(token)
    if amount <= 0 or amount * unit_ms > MAX_TTL_MS:
        raise errors.invalid_expire_time(command)
    return amount * unit_ms


@_parser("getex")
def _getex(name: str, request: Request) -> Command:
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


@_parser("expiretime", "pexpiretime")
def _expiretime(name: str, request: Request) -> Command:
    return Expiretime(request.args[1], ns=_from_only(request.args[2:]), milliseconds=name == "pexpiretime")


@_parser("rename", "renamenx")
def _rename(name: str, request: Request) -> Command:
    args = request.args
    return Rename(args[1], args[2], ns=_from_only(args[3:]), nx=name == "renamenx")


@_parser("copy")
def _copy(name: str, request: Request) -> Command:
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


@_parser("flushns")
def _flushns(name: str, request: Request) -> Command:
    return Flushns(namespace(request.args[1]))


TYPE_PARSERS: Mapping[str, Parser] = MappingProxyType(_PARSERS)
