"""Hashes, which are mi's JSON objects: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HEXISTS, HINCRBY,
HGETALL, HSTRLEN, HRANDFIELD, HSCAN...

Field values are typed as SET types its value (``json_scalar``). No value is ever read as a
namespace: HSET's field form, HMSET, HMGET and HDEL take no ``FROM`` (the connection's namespace
applies, from SELECT); the others take ``FROM ns`` after their fixed arguments. ``HSET key {json}``
is the whole-message form (``protocol.commands.strings``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import JsonScalar, Keyed, as_json
from protocol.commands.counters import parse_float
from protocol.commands.declaration import KEY_ONE, declare
from protocol.commands.options import SCAN_OPTIONS, TTL_SYNTAX, field_name, from_only, ns_of, options
from protocol.commands.strings import Hset, json_hset, wants_json
from protocol.request import Request
from protocol.values import INT64_MAX, json_scalar, keyword, parse_int, parse_uint

__all__ = [
    "Hdel", "Hexists", "Hget", "Hincrby", "Hmget", "Hrandfield", "Hread", "Hscan", "HsetFields", "Hsetnx", "Hstrlen",
]  # fmt: skip


@frozen
class HsetFields(Keyed):
    """``HSET key field value [field value ...]`` (also ``HMSET``; no FROM: values are values): set object fields."""

    name: ClassVar[str] = "hset"
    key: bytes
    fields: tuple[tuple[str, JsonScalar], ...] = field(eq=as_json)
    ns: str | None = None


@frozen
class Hget(Keyed):
    """``HGET key field [FROM ns]``."""

    name: ClassVar[str] = "hget"
    key: bytes
    field: str
    ns: str | None = None


@frozen
class Hmget(Keyed):
    """``HMGET key field [field ...]`` (no FROM: fields are fields)."""

    name: ClassVar[str] = "hmget"
    key: bytes
    fields: tuple[str, ...]
    ns: str | None = None


@frozen
class Hdel(Keyed):
    """``HDEL key field [field ...]`` (no FROM: fields are fields)."""

    name: ClassVar[str] = "hdel"
    key: bytes
    fields: tuple[str, ...]
    ns: str | None = None


@frozen
class Hexists(Keyed):
    """``HEXISTS key field [FROM ns]``."""

    name: ClassVar[str] = "hexists"
    key: bytes
    field: str
    ns: str | None = None


@frozen
class Hincrbyfloat(Keyed):
    """``HINCRBYFLOAT key field increment [FROM ns]``; ``amount`` exact (as INCRBYFLOAT's)."""

    name: ClassVar[str] = "hincrbyfloat"
    key: bytes
    field: str
    amount: Decimal
    ns: str | None = None


@frozen
class Hincrby(Keyed):
    """``HINCRBY key field n [FROM ns]``."""

    name: ClassVar[str] = "hincrby"
    key: bytes
    field: str
    amount: int
    ns: str | None = None


@frozen
class Hread(Keyed):
    """``HGETALL``/``HKEYS``/``HVALS``/``HLEN key [FROM ns]``; ``part`` is the command name."""

    name: ClassVar[str] = "hgetall"
    key: bytes
    part: str  # "hgetall" | "hkeys" | "hvals" | "hlen"
    ns: str | None = None


@frozen
class Hsetnx(Keyed):
    """``HSETNX key field value [FROM ns]``: set a field only if the object lacks it."""

    name: ClassVar[str] = "hsetnx"
    key: bytes
    field: str
    value: JsonScalar = field(eq=as_json)
    ns: str | None = None


@frozen
class Hstrlen(Keyed):
    """``HSTRLEN key field [FROM ns]``: the length of a field's value as text."""

    name: ClassVar[str] = "hstrlen"
    key: bytes
    field: str
    ns: str | None = None


@frozen
class Hrandfield(Keyed):
    """``HRANDFIELD key [count [WITHVALUES]] [FROM ns]``; ``count`` None: one field, not an array."""

    name: ClassVar[str] = "hrandfield"
    key: bytes
    count: int | None = None
    with_values: bool = False
    ns: str | None = None


@frozen
class Hscan(Keyed):
    """``HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES] [FROM ns]``."""

    name: ClassVar[str] = "hscan"
    key: bytes
    cursor: int
    match: bytes | None = None
    no_values: bool = False
    ns: str | None = None


_READ = ("readonly", "fast")
MAX_RANDOM_REPEATS = 1_000_000  # HRANDFIELD's negative count builds its whole reply: bounded here


@declare("hset", -3, ("write", "denyoom"), KEY_ONE, "hash",
         "Sets a key to a JSON object (with an optional time to live), or sets fields of one.",
         f"HSET key json-object [FROM ns] {TTL_SYNTAX}] | HSET key field value [field value ...]",
         forms=(Hset, HsetFields))  # fmt: skip
def _hset(name: str, request: Request) -> Hset | HsetFields:
    args = request.args
    field_pairs_fit = len(args) % 2 == 0  # key, then field value [field value ...]
    if wants_json(name, args, b"{", redis_form_fits=field_pairs_fit):
        return json_hset(name, request)
    return _hset_fields(name, request)


@declare("hmset", -4, ("write", "denyoom", "fast"), KEY_ONE, "hash",
         "Sets fields of a JSON object (same as HSET key field value ...).",
         "HMSET key field value [field value ...]",
         forms=(HsetFields,))  # fmt: skip
def _hset_fields(name: str, request: Request) -> HsetFields:
    """``HSET key field value [field value ...]`` (and HMSET): no FROM, a pair may be ``FROM x``."""
    args = request.args
    if len(args) % 2 or len(args) < 4:
        raise errors.wrong_arity(name)
    fields = tuple(
        (field_name(args[i]), json_scalar(args[i + 1], i + 1 in request.quoted)) for i in range(2, len(args), 2)
    )
    return HsetFields(args[1], fields)


@declare("hget", -3, _READ, KEY_ONE, "hash",
         "Returns the value of a field of a JSON object.",
         "HGET key field [FROM ns]",
         forms=(Hget,))  # fmt: skip
@declare("hexists", -3, _READ, KEY_ONE, "hash",
         "Tells whether a JSON object has a field.",
         "HEXISTS key field [FROM ns]",
         forms=(Hexists,))  # fmt: skip
def _hget(name: str, request: Request) -> Hget | Hexists:
    args = request.args
    kind = Hget if name == "hget" else Hexists
    return kind(args[1], field_name(args[2]), ns=from_only(args[3:]))


@declare("hmget", -3, _READ, KEY_ONE, "hash",
         "Returns the values of fields of a JSON object.",
         "HMGET key field [field ...]",
         forms=(Hmget,))  # fmt: skip
@declare("hdel", -3, ("write", "fast"), KEY_ONE, "hash",
         "Deletes fields of a JSON object; the key goes when its last field does.",
         "HDEL key field [field ...]",
         forms=(Hdel,))  # fmt: skip
def _hfields(name: str, request: Request) -> Hmget | Hdel:
    """``HMGET``/``HDEL key field [field ...]``: every argument after the key is a field."""
    args = request.args
    kind = Hmget if name == "hmget" else Hdel
    return kind(args[1], tuple(field_name(token) for token in args[2:]))


@declare("hincrby", -4, ("write", "denyoom", "fast"), KEY_ONE, "hash",
         "Adds an amount to an integer field of a JSON object.",
         "HINCRBY key field increment [FROM ns]",
         forms=(Hincrby,))  # fmt: skip
def _hincrby(name: str, request: Request) -> Hincrby:
    args = request.args
    return Hincrby(args[1], field_name(args[2]), parse_int(args[3]), ns=from_only(args[4:]))


@declare("hincrbyfloat", -4, ("write", "denyoom", "fast"), KEY_ONE, "hash",
         "Adds a decimal amount to a numeric field of a JSON object.",
         "HINCRBYFLOAT key field increment [FROM ns]",
         forms=(Hincrbyfloat,))  # fmt: skip
def _hincrbyfloat(name: str, request: Request) -> Hincrbyfloat:
    args = request.args
    return Hincrbyfloat(args[1], field_name(args[2]), parse_float(args[3]), ns=from_only(args[4:]))


@declare("hgetall", -2, ("readonly",), KEY_ONE, "hash",
         "Returns every field and value of a JSON object.",
         "HGETALL key [FROM ns]",
         forms=(Hread,))  # fmt: skip
@declare("hlen", -2, _READ, KEY_ONE, "hash",
         "Returns the number of fields of a JSON object.",
         "HLEN key [FROM ns]",
         forms=(Hread,))  # fmt: skip
@declare("hkeys", -2, ("readonly",), KEY_ONE, "hash",
         "Returns the field names of a JSON object.",
         "HKEYS key [FROM ns]",
         forms=(Hread,))  # fmt: skip
@declare("hvals", -2, ("readonly",), KEY_ONE, "hash",
         "Returns the field values of a JSON object.",
         "HVALS key [FROM ns]",
         forms=(Hread,))  # fmt: skip
def _hread(name: str, request: Request) -> Hread:
    return Hread(request.args[1], name, ns=from_only(request.args[2:]))


@declare("hsetnx", -4, ("write", "denyoom", "fast"), KEY_ONE, "hash",
         "Sets a field of a JSON object only if it has no such field; 1 if set, else 0.",
         "HSETNX key field value [FROM ns]",
         forms=(Hsetnx,))  # fmt: skip
def _hsetnx(name: str, request: Request) -> Hsetnx:
    args = request.args
    value = json_scalar(args[3], 3 in request.quoted)
    return Hsetnx(args[1], field_name(args[2]), value, ns=from_only(args[4:]))


@declare("hstrlen", -3, _READ, KEY_ONE, "hash",
         "Returns the length of a field's value as text (0 if no such field).",
         "HSTRLEN key field [FROM ns]",
         forms=(Hstrlen,))  # fmt: skip
def _hstrlen(name: str, request: Request) -> Hstrlen:
    args = request.args
    return Hstrlen(args[1], field_name(args[2]), ns=from_only(args[3:]))


@declare("hrandfield", -2, ("readonly",), KEY_ONE, "hash",
         "Returns random fields of a JSON object (count < 0: they may repeat), maybe with values.",
         "HRANDFIELD key [count [WITHVALUES]] [FROM ns]",
         forms=(Hrandfield,))  # fmt: skip
def _hrandfield(name: str, request: Request) -> Hrandfield:
    args = request.args
    rest = args[2:]
    if not rest or keyword(rest[0]) == "from":
        return Hrandfield(args[1], ns=from_only(rest))
    count = parse_int(rest[0])
    with_values = len(rest) > 1 and keyword(rest[1]) == "withvalues"
    if with_values and not -(INT64_MAX // 2) <= count <= INT64_MAX // 2:  # Redis's bound: twice as many replies
        raise errors.value_out_of_range()
    if count < -MAX_RANDOM_REPEATS:  # Redis has no bound; a reply of 10**18 fields would never fit
        raise errors.value_out_of_range()
    return Hrandfield(args[1], count, with_values, ns=from_only(rest[1 + with_values :]))


@declare("hscan", -3, ("readonly",), KEY_ONE, "hash",
         "Iterates over the fields of a JSON object (mi answers them all at once, cursor 0).",
         "HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES] [FROM ns]",
         forms=(Hscan,))  # fmt: skip
def _hscan(name: str, request: Request) -> Hscan:
    args = request.args
    cursor = parse_uint(args[2])
    if cursor is None:
        raise errors.invalid_cursor()
    rest: list[bytes] = []
    no_values = False
    i = 3
    while i < len(args):  # NOVALUES is a lone word among options that take a value
        if keyword(args[i]) == "novalues" and not no_values:
            no_values = True
            i += 1
        else:
            rest += args[i : i + 2]
            i += 2
    found = options(name, tuple(rest), SCAN_OPTIONS)  # COUNT is checked, though all come at once
    match = found.get("match")
    return Hscan(args[1], cursor, match if isinstance(match, bytes) else None, no_values, ns=ns_of(found))
