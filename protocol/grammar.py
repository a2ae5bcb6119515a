"""The command grammar: a ``Request`` (argv) becomes a typed, frozen ``Command``, or a ``CommandError``.

``parse_command`` looks the name up in ``COMMAND_SPECS``, checks the arity there, then hands the
request to the one small parse function registered for that name. Keyed commands share one
option loop (``_options``): after the positional arguments, options come in any order, each at
most once. Options that exclude each other (``TTL``/``EX``/``PX``/``KEEPTTL``; ``NX``/``XX``...)
fill the same slot, so a second one is a syntax error just like a repeated one.

Connection and server commands (HELLO, CLIENT, COMMAND, CONFIG, INFO, PING...) live in
``protocol.grammar_server``; this module registers them with the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from attrs import frozen

from protocol import errors
from protocol.errors import CommandError
from protocol.commands import (
    COMMAND_SPECS,
    Ack,
    Command,
    Dbsize,
    Del,
    Discard,
    Exec,
    Exists,
    Expire,
    Get,
    Hset,
    Keys,
    Lset,
    Multi,
    Nack,
    Namespaces,
    Persist,
    Scan,
    Select,
    Set,
    Take,
    Ttl,
    Type,
    Unwatch,
    Watch,
)
from protocol.grammar_names import namespace
from protocol.grammar_server import SERVER_PARSERS, Parser
from protocol.grammar_types import (
    TYPE_PARSERS,
    absolute_deadline,
    hset_fields,
    keys_and_ns,
    lset_index,
    relative_ttl,
)
from protocol.request import Request
from protocol.values import (
    INT64_MAX,
    INT64_MIN,
    MAX_TTL_MS,
    SCALAR_KINDS,
    coerce_scalar,
    infer_scalar,
    keyword,
    parse_duration,
    parse_ttl,
    parse_int,
    parse_json_array,
    parse_json_object,
    parse_uint,
)

__all__ = ["PARSERS", "parse_command"]


def parse_command(request: Request) -> Command:
    """The command ``request`` asks for; raises ``CommandError`` with the Redis-style reply text."""
    args = request.args
    if not args:
        raise errors.unknown_command(b"", ())
    name = keyword(args[0])
    spec = COMMAND_SPECS.get(name)
    parser = PARSERS.get(name)
    if spec is None or parser is None:
        raise errors.unknown_command(args[0], args[1:])
    if not spec.accepts(len(args)):
        raise errors.wrong_arity(spec.name)
    return parser(name, request)


# --- options ----------------------------------------------------------------------------------

_Reader = Callable[[str, bytes], object]


@frozen
class _Option:
    """One option keyword. Options sharing a ``slot`` exclude each other.

    ``read`` turns the option's argument into a value, given the command name (for error texts);
    ``None`` marks a flag without argument (NX, KEEPTTL...), whose value is its name in capitals.
    """

    slot: str
    read: _Reader | None


@frozen
class _At:
    """``EXAT``/``PXAT``: an absolute deadline in the TTL slot."""

    ms: int


def _scalar_kind(command: str, token: bytes) -> str:
    kind = keyword(token).upper()
    if kind not in SCALAR_KINDS:
        raise errors.syntax_error()
    return kind


MAX_PRIORITY = 2**32 - 1


def _priority(command: str, token: bytes) -> int:
    priority = parse_uint(token)
    if priority is None or priority > MAX_PRIORITY:
        raise errors.invalid_priority()
    return priority


def _count(command: str, token: bytes) -> int:
    count = parse_int(token)
    if count < 1:
        raise errors.syntax_error()
    return count


_OPTIONS: dict[str, _Option] = {
    "from": _Option("ns", lambda command, token: namespace(token)),
    "ttl": _Option("ttl", lambda command, token: parse_ttl(token)),  # or now
    "ex": _Option("ttl", lambda command, token: relative_ttl(command, token, 1000)),
    "px": _Option("ttl", lambda command, token: relative_ttl(command, token, 1)),
    "exat": _Option("ttl", lambda command, token: _At(absolute_deadline(command, token, 1000))),
    "pxat": _Option("ttl", lambda command, token: _At(absolute_deadline(command, token, 1))),
    "keepttl": _Option("ttl", None),
    "get": _Option("get", None),
    "nx": _Option("condition", None),
    "xx": _Option("condition", None),
    "gt": _Option("condition", None),
    "lt": _Option("condition", None),
    "as": _Option("as", _scalar_kind),
    "match": _Option("match", lambda command, token: token),
    "count": _Option("count", _count),
    "priority": _Option("priority", _priority),
    "block": _Option("block", lambda command, token: _milliseconds(token)),
    "lease": _Option("lease", lambda command, token: parse_duration(token)),
    "delay": _Option("delay", lambda command, token: parse_duration(token)),
}


def _milliseconds(token: bytes) -> int:
    value = parse_uint(token)
    if value is None or value > MAX_TTL_MS:
        raise errors.invalid_timeout()
    return value


def _delivery_id(token: bytes) -> tuple[int, int]:
    shard, _, number = token.partition(b"-")
    parsed = parse_uint(shard), parse_uint(number)
    if None in parsed:
        raise errors.invalid_delivery_id(token)
    return parsed  # type: ignore[return-value]

_FROM = frozenset({"from"})
_SET_OPTIONS = frozenset(
    {"from", "ttl", "ex", "px", "exat", "pxat", "keepttl", "nx", "xx", "get", "as", "priority"}
)
_JSON_OPTIONS = frozenset({"from", "ttl", "ex", "px", "priority"})
_EXPIRE_OPTIONS = frozenset({"from", "nx", "xx", "gt", "lt"})
_SCAN_OPTIONS = frozenset({"from", "match", "count"})
_TAKE_OPTIONS = frozenset({"from", "count", "block", "lease"})


def _options(command: str, args: tuple[bytes, ...], allowed: frozenset[str]) -> dict[str, object]:
    """Read ``args`` as options from ``allowed``, any order; returns {slot: value}."""
    found: dict[str, object] = {}
    i = 0
    while i < len(args):
        word = keyword(args[i])
        option = _OPTIONS[word] if word in allowed else None
        if option is None or option.slot in found:
            raise errors.syntax_error()
        if option.read is None:
            found[option.slot] = word.upper()
            i += 1
        elif i + 1 < len(args):
            found[option.slot] = option.read(command, args[i + 1])
            i += 2
        else:
            raise errors.syntax_error()
    return found


def _ttl(found: Mapping[str, object]) -> int | None:
    ttl = found.get("ttl")
    return ttl if isinstance(ttl, int) else None


def _expire_at(found: Mapping[str, object]) -> int | None:
    at = found.get("ttl")
    return at.ms if isinstance(at, _At) else None


def _str(found: Mapping[str, object], slot: str) -> str | None:
    value = found.get(slot)
    return value if isinstance(value, str) else None


def _int(found: Mapping[str, object], slot: str) -> int | None:
    value = found.get(slot)
    return value if isinstance(value, int) else None


def _ns(found: Mapping[str, object]) -> str | None:
    return _str(found, "ns")


# --- parse functions, one per command ---------------------------------------------------------

_PARSERS: dict[str, Parser] = {}


def _parser(*names: str) -> Callable[[Parser], Parser]:
    def register(parse: Parser) -> Parser:
        for name in names:
            _PARSERS[name] = parse
        return parse

    return register


@_parser("set")
def _set(name: str, request: Request) -> Command:
    args = request.args
    found = _options(name, args[3:], _SET_OPTIONS)
    kind = _str(found, "as")
    value = coerce_scalar(args[2], kind) if kind else infer_scalar(args[2], 2 in request.quoted)
    return Set(
        args[1],
        value,
        ns=_ns(found),
        ttl_ms=_ttl(found),
        keep_ttl=found.get("ttl") == "KEEPTTL",
        condition=_str(found, "condition"),
        get="get" in found,
        expire_at_ms=_expire_at(found),
        priority=_int(found, "priority"),
    )


def _looks_like(token: bytes, opening: bytes) -> bool:
    """HSET/LSET take JSON when their value starts like it, else the Redis field/index form."""
    return token.lstrip(b" \t\r\n").startswith(opening)


def _meant_as_json(name: str, args: tuple[bytes, ...]) -> bool:
    """For an HSET/LSET whose Redis form does not fit: one value, maybe with JSON options, is
    the JSON form, so a value that is not JSON answers "must be a JSON object" (``HSET k 42``)
    rather than the arity error it would get as a field/index form."""
    if len(args) == 3:
        return True
    try:
        _options(name, args[3:], _JSON_OPTIONS)
    except CommandError:
        return False
    return True


@_parser("hset")
def _hset(name: str, request: Request) -> Command:
    args = request.args
    field_pairs_fit = len(args) % 2 == 0  # key, then field value [field value ...]
    if not _looks_like(args[2], b"{") and (field_pairs_fit or not _meant_as_json(name, args)):
        return hset_fields(name, request)
    value = parse_json_object(args[2], name)
    found = _options(name, args[3:], _JSON_OPTIONS)
    return Hset(args[1], value, ns=_ns(found), ttl_ms=_ttl(found), priority=_int(found, "priority"))


@_parser("lset")
def _lset(name: str, request: Request) -> Command:
    args = request.args
    index_form_fits = len(args) == 4 or (len(args) == 6 and keyword(args[4]) == "from")
    if not _looks_like(args[2], b"[") and (index_form_fits or not _meant_as_json(name, args)):
        return lset_index(name, request)
    value = parse_json_array(args[2], name)
    found = _options(name, args[3:], _JSON_OPTIONS)
    return Lset(args[1], value, ns=_ns(found), ttl_ms=_ttl(found), priority=_int(found, "priority"))


@_parser("get")
def _get(name: str, request: Request) -> Command:
    return Get(request.args[1], ns=_ns(_options(name, request.args[2:], _FROM)))


@_parser("type")
def _type(name: str, request: Request) -> Command:
    return Type(request.args[1], ns=_ns(_options(name, request.args[2:], _FROM)))


@_parser("persist")
def _persist(name: str, request: Request) -> Command:
    return Persist(request.args[1], ns=_ns(_options(name, request.args[2:], _FROM)))


@_parser("ttl", "pttl")
def _ttl_command(name: str, request: Request) -> Command:
    found = _options(name, request.args[2:], _FROM)
    return Ttl(request.args[1], ns=_ns(found), milliseconds=name == "pttl")


@_parser("del", "unlink")
def _del(name: str, request: Request) -> Command:
    keys, ns = keys_and_ns(request.args[1:])
    return Del(keys, ns=ns)


@_parser("exists")
def _exists(name: str, request: Request) -> Command:
    keys, ns = keys_and_ns(request.args[1:])
    return Exists(keys, ns=ns)


@_parser("expire", "pexpire")
def _expire(name: str, request: Request) -> Command:
    args = request.args
    # Redis reads the flags before the time, so a bad flag wins over a bad number.
    found = _options(name, args[3:], _EXPIRE_OPTIONS)
    amount = parse_int(args[2])
    ttl_ms = amount * 1000 if name == "expire" else amount
    if not INT64_MIN <= ttl_ms <= INT64_MAX or ttl_ms > MAX_TTL_MS:
        raise errors.invalid_expire_time(name)
    return Expire(args[1], ttl_ms, ns=_ns(found), condition=_str(found, "condition"))


@_parser("scan")
def _scan(name: str, request: Request) -> Command:
    args = request.args
    cursor = parse_uint(args[1])
    if cursor is None:
        raise errors.invalid_cursor()
    found = _options(name, args[2:], _SCAN_OPTIONS)
    match = found.get("match")
    count = found.get("count", 10)
    return Scan(
        cursor,
        match=match if isinstance(match, bytes) else None,
        count=count if isinstance(count, int) else 10,
        ns=_ns(found),
    )


@_parser("keys")
def _keys(name: str, request: Request) -> Command:
    return Keys(request.args[1], ns=_ns(_options(name, request.args[2:], _FROM)))


MAX_TAKE_COUNT = 10_000  # messages one TAKE may hand out


@_parser("take")
def _take(name: str, request: Request) -> Command:
    found = _options(name, request.args[1:], _TAKE_OPTIONS)
    count = _int(found, "count") or 1
    if count > MAX_TAKE_COUNT:
        raise CommandError("ERR", f"TAKE COUNT is at most {MAX_TAKE_COUNT}")
    return Take(_ns(found), count, _int(found, "block"), _int(found, "lease"))


@_parser("ack")
def _ack(name: str, request: Request) -> Command:
    args = request.args
    return Ack(namespace(args[1]), tuple(_delivery_id(token) for token in args[2:]))


@_parser("nack")
def _nack(name: str, request: Request) -> Command:
    args = request.args
    found = _options(name, args[3:], frozenset({"delay"}))
    return Nack(namespace(args[1]), _delivery_id(args[2]), _int(found, "delay"))


@_parser("dbsize")
def _dbsize(name: str, request: Request) -> Command:
    return Dbsize(ns=_ns(_options(name, request.args[1:], _FROM)))


@_parser("select")
def _select(name: str, request: Request) -> Command:
    return Select(namespace(request.args[1]))


@_parser("namespaces")
def _namespaces(name: str, request: Request) -> Command:
    return Namespaces()


@_parser("multi", "exec", "discard", "unwatch")
def _transaction_control(name: str, request: Request) -> Command:
    return {"multi": Multi, "exec": Exec, "discard": Discard, "unwatch": Unwatch}[name]()


@_parser("watch")
def _watch(name: str, request: Request) -> Command:
    keys, ns = keys_and_ns(request.args[1:])
    return Watch(keys, ns=ns)


PARSERS: Mapping[str, Parser] = MappingProxyType({**_PARSERS, **TYPE_PARSERS, **SERVER_PARSERS})
"""Every command name ``parse_command`` understands, with its parse function."""
