"""Lists, which are mi's JSON arrays: LSET, LPUSH, RPUSH, LPOP, RPOP, LRANGE, LTRIM, LLEN, LINDEX, LREM.

Elements are typed as SET types its value (``json_scalar``). LPUSH and RPUSH take no ``FROM``
(``RPUSH k go from home`` pushes three words); the others take ``FROM ns`` after their fixed
arguments. ``LSET key [json]`` is the whole-message form (``protocol.commands.strings``).
"""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import JsonScalar, Keyed, as_json, typed
from protocol.commands.declaration import KEY_ONE, declare
from protocol.commands.options import TTL_SYNTAX, from_only
from protocol.commands.strings import Lset, json_lset, wants_json
from protocol.request import Request
from protocol.values import json_scalar, keyword, parse_int

__all__ = ["Lindex", "Llen", "Lrange", "Lrem", "LsetIndex", "Ltrim", "Pop", "Push"]


@frozen
class LsetIndex(Keyed):
    """``LSET key index element [FROM ns]``: replace one element (the Redis form)."""

    name: ClassVar[str] = "lset"
    key: bytes
    index: int
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


@frozen
class Push(Keyed):
    """``LPUSH``/``RPUSH key element [element ...]`` (no FROM: elements are values)."""

    name: ClassVar[str] = "lpush"
    key: bytes
    elements: tuple[JsonScalar, ...] = field(eq=as_json)
    left: bool = True
    ns: str | None = None


@frozen
class Pop(Keyed):
    """``LPOP``/``RPOP key [count] [FROM ns]``; ``count`` None pops one (a single reply)."""

    name: ClassVar[str] = "lpop"
    key: bytes
    count: int | None = None
    left: bool = True
    ns: str | None = None


@frozen
class Lrange(Keyed):
    """``LRANGE key start stop [FROM ns]``."""

    name: ClassVar[str] = "lrange"
    key: bytes
    start: int
    stop: int
    ns: str | None = None


@frozen
class Ltrim(Keyed):
    """``LTRIM key start stop [FROM ns]``."""

    name: ClassVar[str] = "ltrim"
    key: bytes
    start: int
    stop: int
    ns: str | None = None


@frozen
class Llen(Keyed):
    """``LLEN key [FROM ns]``."""

    name: ClassVar[str] = "llen"
    key: bytes
    ns: str | None = None


@frozen
class Lindex(Keyed):
    """``LINDEX key index [FROM ns]``."""

    name: ClassVar[str] = "lindex"
    key: bytes
    index: int
    ns: str | None = None


@frozen
class Lrem(Keyed):
    """``LREM key count element [FROM ns]``."""

    name: ClassVar[str] = "lrem"
    key: bytes
    count: int
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


@declare("lset", -3, ("write", "denyoom"), KEY_ONE, "list",
         "Sets a key to a JSON array (with an optional time to live), or one element of it.",
         f"LSET key json-array [FROM ns] {TTL_SYNTAX}] | LSET key index element [FROM ns]",
         forms=(Lset, LsetIndex))  # fmt: skip
def _lset(name: str, request: Request) -> Lset | LsetIndex:
    args = request.args
    index_form_fits = len(args) == 4 or (len(args) == 6 and keyword(args[4]) == "from")
    if wants_json(name, args, b"[", redis_form_fits=index_form_fits):
        return json_lset(name, request)
    if len(args) not in (4, 6):
        raise errors.wrong_arity(name)
    return LsetIndex(
        args[1], parse_int(args[2]), json_scalar(args[3], 3 in request.quoted), ns=from_only(args[4:])
    )


@declare("lpush", -3, ("write", "denyoom", "fast"), KEY_ONE, "list",
         "Prepends elements to a list, creating it if missing.",
         "LPUSH key element [element ...]",
         forms=(Push,))  # fmt: skip
@declare("rpush", -3, ("write", "denyoom", "fast"), KEY_ONE, "list",
         "Appends elements to a list, creating it if missing.",
         "RPUSH key element [element ...]",
         forms=(Push,))  # fmt: skip
def _push(name: str, request: Request) -> Push:
    """``LPUSH``/``RPUSH key element [element ...]``: every argument after the key is an element."""
    args = request.args
    elements = tuple(json_scalar(args[i], i in request.quoted) for i in range(2, len(args)))
    return Push(args[1], elements, left=name == "lpush")


@declare("lpop", -2, ("write", "fast"), KEY_ONE, "list",
         "Removes and returns the first elements of a list.",
         "LPOP key [count] [FROM ns]",
         forms=(Pop,))  # fmt: skip
@declare("rpop", -2, ("write", "fast"), KEY_ONE, "list",
         "Removes and returns the last elements of a list.",
         "RPOP key [count] [FROM ns]",
         forms=(Pop,))  # fmt: skip
def _pop(name: str, request: Request) -> Pop:
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
    return Pop(args[1], count, left=name == "lpop", ns=from_only(rest))


@declare("lrange", -4, ("readonly",), KEY_ONE, "list",
         "Returns a range of elements of a list.",
         "LRANGE key start stop [FROM ns]",
         forms=(Lrange,))  # fmt: skip
@declare("ltrim", -4, ("write",), KEY_ONE, "list",
         "Keeps only a range of elements of a list.",
         "LTRIM key start stop [FROM ns]",
         forms=(Ltrim,))  # fmt: skip
def _range(name: str, request: Request) -> Lrange | Ltrim:
    args = request.args
    kind = Lrange if name == "lrange" else Ltrim
    return kind(args[1], parse_int(args[2]), parse_int(args[3]), ns=from_only(args[4:]))


@declare("llen", -2, ("readonly", "fast"), KEY_ONE, "list",
         "Returns the length of a list.",
         "LLEN key [FROM ns]",
         forms=(Llen,))  # fmt: skip
def _llen(name: str, request: Request) -> Llen:
    return Llen(request.args[1], ns=from_only(request.args[2:]))


@declare("lindex", -3, ("readonly",), KEY_ONE, "list",
         "Returns an element of a list by its index.",
         "LINDEX key index [FROM ns]",
         forms=(Lindex,))  # fmt: skip
def _lindex(name: str, request: Request) -> Lindex:
    args = request.args
    return Lindex(args[1], parse_int(args[2]), ns=from_only(args[3:]))


@declare("lrem", -4, ("write",), KEY_ONE, "list",
         "Removes elements equal to a value from a list.",
         "LREM key count element [FROM ns]",
         forms=(Lrem,))  # fmt: skip
def _lrem(name: str, request: Request) -> Lrem:
    args = request.args
    return Lrem(args[1], parse_int(args[2]), json_scalar(args[3], 3 in request.quoted), ns=from_only(args[4:]))
