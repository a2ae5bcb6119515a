"""Hashes, which are mi's JSON objects: HSET, HMSET, HGET, HMGET, HDEL, HEXISTS, HINCRBY, HGETALL...

Field values are typed as SET types its value (``json_scalar``). No value is ever read as a
namespace: HSET's field form, HMSET, HMGET and HDEL take no ``FROM`` (the connection's namespace
applies, from SELECT); the others take ``FROM ns`` after their fixed arguments. ``HSET key {json}``
is the whole-message form (``protocol.commands.strings``).
"""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import JsonScalar, Keyed, as_json
from protocol.commands.declaration import KEY_ONE, declare
from protocol.commands.options import TTL_SYNTAX, field_name, from_only
from protocol.commands.strings import Hset, json_hset, wants_json
from protocol.request import Request
from protocol.values import json_scalar, parse_int

__all__ = ["Hdel", "Hexists", "Hget", "Hincrby", "Hmget", "Hread", "HsetFields"]


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


_READ = ("readonly", "fast")


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
