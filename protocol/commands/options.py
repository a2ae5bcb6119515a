"""What the grammar of several families shares: the option loop, FROM clauses, times to live.

After a command's positional arguments, options come in any order, each at most once
(``options``). Options that exclude each other (``TTL``/``EX``/``PX``/``KEEPTTL``; ``NX``/``XX``...)
fill the same slot, so a second one is a syntax error just like a repeated one. Commands whose
trailing arguments are values, fields or field-value pairs (HSET, HMGET, HDEL, LPUSH, RPUSH, MSET)
take no ``FROM``; those with a fixed number of arguments take ``FROM ns`` after them
(``from_only``), and those whose trailing arguments are keys a final ``FROM ns`` after at least
one key (``keys_and_ns``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from attrs import frozen

from protocol import errors
from protocol.grammar_names import namespace
from protocol.values import (
    MAX_TTL_MS,
    SCALAR_KINDS,
    keyword,
    parse_duration,
    parse_int,
    parse_ttl,
    parse_uint,
    text,
)

__all__ = [
    "EXPIRE_OPTIONS",
    "FROM",
    "JSON_OPTIONS",
    "MAX_PRIORITY",
    "SCAN_OPTIONS",
    "SET_OPTIONS",
    "TAKE_OPTIONS",
    "TTL_SYNTAX",
    "absolute_deadline",
    "expire_at_of",
    "field_name",
    "from_only",
    "int_of",
    "keys_and_ns",
    "ns_of",
    "options",
    "relative_ttl",
    "str_of",
    "ttl_of",
]

MAX_PRIORITY = 2**32 - 1

TTL_SYNTAX = "[TTL duration | EX seconds | PX milliseconds"
"""How declarations' syntax lines open the TTL options; each closes the bracket its own way."""

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


def _scalar_kind(command: str, token: bytes) -> str:
    kind = keyword(token).upper()
    if kind not in SCALAR_KINDS:
        raise errors.syntax_error()
    return kind


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


def _milliseconds(token: bytes) -> int:
    value = parse_uint(token)
    if value is None or value > MAX_TTL_MS:
        raise errors.invalid_timeout()
    return value


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

FROM = frozenset({"from"})
SET_OPTIONS = frozenset({"from", "ttl", "ex", "px", "exat", "pxat", "keepttl", "nx", "xx", "get", "as", "priority"})
JSON_OPTIONS = frozenset({"from", "ttl", "ex", "px", "priority"})
EXPIRE_OPTIONS = frozenset({"from", "nx", "xx", "gt", "lt"})
SCAN_OPTIONS = frozenset({"from", "match", "count"})
TAKE_OPTIONS = frozenset({"from", "count", "block", "lease"})


def options(command: str, args: tuple[bytes, ...], allowed: frozenset[str]) -> dict[str, object]:
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


def ttl_of(found: Mapping[str, object]) -> int | None:
    """The relative TTL the options gave (TTL, EX, PX), in milliseconds."""
    ttl = found.get("ttl")
    return ttl if isinstance(ttl, int) else None


def expire_at_of(found: Mapping[str, object]) -> int | None:
    """The absolute deadline the options gave (EXAT, PXAT), in Unix milliseconds."""
    at = found.get("ttl")
    return at.ms if isinstance(at, _At) else None


def str_of(found: Mapping[str, object], slot: str) -> str | None:
    value = found.get(slot)
    return value if isinstance(value, str) else None


def int_of(found: Mapping[str, object], slot: str) -> int | None:
    value = found.get(slot)
    return value if isinstance(value, int) else None


def ns_of(found: Mapping[str, object]) -> str | None:
    return str_of(found, "ns")


def from_only(args: tuple[bytes, ...]) -> str | None:
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


def field_name(token: bytes) -> str:
    """A hash field name: text."""
    return text(token, "field name")
