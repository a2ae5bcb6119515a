"""Delivery from a delivering namespace: TAKE due messages, ACK, NACK or EXTEND each delivery,
PEEK at one message, list the dead letters (DEAD) and bring them back (KICK)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.commands.declaration import NO_KEYS, declare
from protocol.commands.options import MAX_PRIORITY, TAKE_OPTIONS, int_of, ns_of, options
from protocol.errors import CommandError
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import keyword, parse_duration, parse_ttl, parse_uint

__all__ = [
    "MAX_LIST_COUNT", "MAX_TAKE_COUNT", "Ack", "Dead", "DeliveryId", "Extend", "Inflight", "Kick", "Nack", "Peek",
    "Scheduled", "Take",
]  # fmt: skip

DeliveryId = tuple[int, int]  # (shard, id within the shard), written "3-1042"

MAX_TAKE_COUNT = 10_000  # messages one TAKE may hand out
MAX_LIST_COUNT = 10_000  # entries one DEAD page (or one KICK COUNT) may cover
DEFAULT_LIST_COUNT = 10  # as SCAN's


@frozen
class Take(Command):
    """``TAKE [FROM ns [ns ...]] [COUNT n] [BLOCK ms] [LEASE d]``: due messages, each leased to this
    consumer; from several namespaces, by priority then deadline."""

    name: ClassVar[str] = "take"
    ns: str | None = None
    count: int = 1
    block_ms: int | None = None  # None: answer at once; 0: wait as long as it takes
    lease_ms: int | None = None  # None: the namespace's lease
    more_namespaces: tuple[str, ...] = ()  # FROM ns1 ns2 ...: the ones after the first


@frozen
class Ack(Command):
    """``ACK ns id [id ...]``: these deliveries are done with; the messages go."""

    name: ClassVar[str] = "ack"
    ns: str
    ids: tuple[DeliveryId, ...]


@frozen
class Nack(Command):
    """``NACK ns id [DELAY d] [PRIORITY n] [REASON text]``: hand a delivery back, due again after
    the delay (``now``: at once; none: the namespace's retry backoff)."""

    name: ClassVar[str] = "nack"
    ns: str
    id: DeliveryId
    delay_ms: int | None = None
    priority: int | None = None
    reason: str | None = None


@frozen
class Extend(Command):
    """``EXTEND ns id [LEASE d]``: the lease of a delivery held goes on, until now + d."""

    name: ClassVar[str] = "extend"
    ns: str
    id: DeliveryId
    lease_ms: int | None = None  # None: the namespace's lease


@frozen
class Peek(Command):
    """``PEEK ns id`` or ``PEEK ns KEY key``: one message, wherever it is."""

    name: ClassVar[str] = "peek"
    ns: str
    id: DeliveryId | None = None
    key: bytes | None = None


@frozen
class Dead(Command):
    """``DEAD ns [COUNT n] [AFTER id]``: the messages given up on in ``ns``, with their history."""

    name: ClassVar[str] = "dead"
    ns: str
    count: int = DEFAULT_LIST_COUNT
    after: DeliveryId | None = None


@frozen
class Scheduled(Command):
    """``SCHEDULED ns [COUNT n] [AFTER cursor]``: keys with a deadline, earliest first, a page."""

    name: ClassVar[str] = "scheduled"
    ns: str
    count: int = DEFAULT_LIST_COUNT
    after: bytes | None = None  # a position in the expiry index (the cursor a page answered)


@frozen
class Inflight(Command):
    """``INFLIGHT ns [COUNT n] [AFTER cursor]``: messages in flight, by id, a page."""

    name: ClassVar[str] = "inflight"
    ns: str
    count: int = DEFAULT_LIST_COUNT
    after: DeliveryId | None = None


@frozen
class Kick(Command):
    """``KICK ns [COUNT n | ID id]``: dead letters of ``ns`` due again there, attempts afresh."""

    name: ClassVar[str] = "kick"
    ns: str
    count: int | None = None  # None (and no id): all of them
    id: DeliveryId | None = None


def _delivery_id(token: bytes) -> DeliveryId:
    shard, _, number = token.partition(b"-")
    parsed = parse_uint(shard), parse_uint(number)
    if None in parsed:
        raise errors.invalid_delivery_id(token)
    return parsed  # type: ignore[return-value]


@declare("take", -1, ("write", "fast"), NO_KEYS, "generic",
         "Takes due messages of delivering namespaces (FROM ns1 ns2 ... for several), each leased until ACK, NACK or the lease ends.",
         "TAKE [FROM ns] [COUNT n] [BLOCK ms] [LEASE duration]",
         forms=(Take,))  # fmt: skip
def _take(name: str, request: Request) -> Take:
    args, more = _more_namespaces(request.args[1:])
    found = options(name, args, TAKE_OPTIONS)
    count = int_of(found, "count") or 1
    if count > MAX_TAKE_COUNT:
        raise CommandError("ERR", f"TAKE COUNT is at most {MAX_TAKE_COUNT}")
    first = ns_of(found)
    others = tuple(dict.fromkeys(ns for ns in more if ns != first))
    return Take(first, count, int_of(found, "block"), int_of(found, "lease"), others)


def _more_namespaces(args: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """TAKE's arguments without the namespaces after FROM's first (up to the next option word), and
    those namespaces."""
    words = [keyword(arg) for arg in args]
    if "from" not in words:
        return args, ()
    start = words.index("from") + 2
    end = start
    while end < len(args) and words[end] not in TAKE_OPTIONS:
        end += 1
    return args[:start] + args[end:], tuple(namespace(arg) for arg in args[start:end])


@declare("ack", -3, ("write", "fast"), NO_KEYS, "generic",
         "Acknowledges deliveries: their messages are removed.",
         "ACK ns id [id ...]",
         forms=(Ack,))  # fmt: skip
def _ack(name: str, request: Request) -> Ack:
    args = request.args
    return Ack(namespace(args[1]), tuple(_delivery_id(token) for token in args[2:]))


def _words(args: tuple[bytes, ...], allowed: frozenset[str]) -> dict[str, bytes]:
    """``args`` as keyword-value pairs from ``allowed``, any order, each once."""
    found: dict[str, bytes] = {}
    if len(args) % 2:
        raise errors.syntax_error()
    for word, value in zip(args[::2], args[1::2], strict=True):
        option = keyword(word)
        if option not in allowed or option in found:
            raise errors.syntax_error()
        found[option] = value
    return found


def _priority(token: bytes) -> int:
    priority = parse_uint(token)
    if priority is None or priority > MAX_PRIORITY:
        raise errors.invalid_priority()
    return priority


def _list_count(token: bytes) -> int:
    count = parse_uint(token)
    if count is None or not 0 < count <= MAX_LIST_COUNT:
        raise CommandError("ERR", f"COUNT must be a whole number from 1 to {MAX_LIST_COUNT}")
    return count


@declare("nack", -3, ("write", "fast"), NO_KEYS, "generic",
         "Hands a delivery back: due again after DELAY (now: at once), else after the namespace's retry backoff.",
         "NACK ns id [DELAY duration|now] [PRIORITY n] [REASON text]",
         forms=(Nack,))  # fmt: skip
def _nack(name: str, request: Request) -> Nack:
    args = request.args
    found = _words(args[3:], frozenset({"delay", "priority", "reason"}))
    delay = None if "delay" not in found else parse_ttl(found["delay"])
    priority = None if "priority" not in found else _priority(found["priority"])
    reason = None if "reason" not in found else found["reason"].decode("utf-8", "replace")
    return Nack(namespace(args[1]), _delivery_id(args[2]), delay, priority, reason)


@declare("extend", -3, ("write", "fast"), NO_KEYS, "generic",
         "Extends the lease of a delivery held: until now + LEASE (default: the namespace's lease).",
         "EXTEND ns id [LEASE duration]",
         forms=(Extend,))  # fmt: skip
def _extend(name: str, request: Request) -> Extend:
    args = request.args
    found = _words(args[3:], frozenset({"lease"}))
    lease = None if "lease" not in found else parse_duration(found["lease"])
    return Extend(namespace(args[1]), _delivery_id(args[2]), lease)


@declare("peek", -3, ("readonly",), NO_KEYS, "generic",
         "Shows one message of a delivering namespace: its state, attempts, deadline, lease and last failure.",
         "PEEK ns id | PEEK ns KEY key",
         forms=(Peek,))  # fmt: skip
def _peek(name: str, request: Request) -> Peek:
    args = request.args
    if len(args) == 3:
        return Peek(namespace(args[1]), id=_delivery_id(args[2]))
    if len(args) == 4 and keyword(args[2]) == "key":
        return Peek(namespace(args[1]), key=bytes(args[3]))
    raise errors.syntax_error()


@declare("dead", -2, ("readonly",), NO_KEYS, "generic",
         "Lists the messages given up on in a namespace (kept in its dead_letter), with their history.",
         "DEAD ns [COUNT n] [AFTER id]",
         forms=(Dead,))  # fmt: skip
def _dead(name: str, request: Request) -> Dead:
    return Dead(*_page(request.args, _delivery_id))


@declare("kick", -2, ("write",), NO_KEYS, "generic",
         "Brings dead letters back: due now in the namespace they died in, with a fresh attempt count.",
         "KICK ns [COUNT n | ID id]",
         forms=(Kick,))  # fmt: skip
def _kick(name: str, request: Request) -> Kick:
    args = request.args
    found = _words(args[2:], frozenset({"count", "id"}))
    if len(found) > 1:
        raise errors.syntax_error()
    count = None if "count" not in found else _list_count(found["count"])
    message_id = None if "id" not in found else _delivery_id(found["id"])
    return Kick(namespace(args[1]), count, message_id)


def _page(args: tuple[bytes, ...], after: Callable[[bytes], Any]) -> tuple[str, int, Any]:
    """A listing's ``ns [COUNT n] [AFTER cursor]``: the namespace, the count, and the cursor
    read by ``after`` (None: from the start)."""
    found = _words(args[2:], frozenset({"count", "after"}))
    count = DEFAULT_LIST_COUNT if "count" not in found else _list_count(found["count"])
    return namespace(args[1]), count, None if "after" not in found else after(found["after"])


def _cursor(token: bytes) -> bytes | None:
    """A SCHEDULED cursor: hex of an index position, or 0 (the start)."""
    if token == b"0":
        return None
    try:
        return bytes.fromhex(token.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise CommandError("ERR", "invalid cursor (use 0, or the cursor the last page answered)") from None


@declare("scheduled", -2, ("readonly",), NO_KEYS, "generic",
         "Lists the keys of a namespace with a deadline, earliest first, a page at a time.",
         "SCHEDULED ns [COUNT n] [AFTER cursor]",
         forms=(Scheduled,))  # fmt: skip
def _scheduled(name: str, request: Request) -> Scheduled:
    return Scheduled(*_page(request.args, _cursor))


@declare("inflight", -2, ("readonly",), NO_KEYS, "generic",
         "Lists the messages of a namespace in flight (or waiting for a retry), by id, a page at a time.",
         "INFLIGHT ns [COUNT n] [AFTER cursor]",
         forms=(Inflight,))  # fmt: skip
def _inflight(name: str, request: Request) -> Inflight:
    return Inflight(*_page(request.args, lambda token: None if token == b"0" else _delivery_id(token)))
