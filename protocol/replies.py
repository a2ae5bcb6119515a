"""Reply values: what command execution hands to the encoder.

Plain Python values encode by their type (see ``protocol.encoder``):

=====================  ============================  ==================================
value                  RESP3                         RESP2
=====================  ============================  ==================================
``bytes`` / ``str``    ``$`` bulk string             ``$`` bulk string
``int``                ``:`` integer                 ``:`` integer
``bool``               ``#t`` / ``#f``               ``:1`` / ``:0``
``float``              ``,`` double                  ``$`` bulk string
``None``               ``_`` null                    ``$-1`` null bulk
``list`` / ``tuple``   ``*`` array                   ``*`` array
``dict``               ``%`` map                     ``*`` flat array k1 v1 k2 v2
=====================  ============================  ==================================

The classes below cover what a plain value cannot say.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from protocol.errors import CommandError

__all__ = [
    "Frames",
    "NULL_ARRAY",
    "NullArray",
    "Pairs",
    "Push",
    "Reply",
    "SetReply",
    "SimpleString",
    "Stored",
    "Verbatim",
]


@frozen
class SimpleString:
    """A status reply such as ``+OK`` or ``+PONG``."""

    text: str


@frozen
class NullArray:
    """The "no array" reply: RESP2 ``*-1`` (e.g. an aborted EXEC), RESP3 ``_``."""


NULL_ARRAY = NullArray()


@frozen
class Verbatim:
    """Text meant for humans (INFO): RESP3 ``=`` with a format, RESP2 a bulk string."""

    text: str
    format: str = "txt"


@frozen
class SetReply:
    """An unordered collection: RESP3 ``~`` set, RESP2 array."""

    items: tuple[Any, ...]


@frozen
class Pairs:
    """Pairs that may repeat a first member (HRANDFIELD ... WITHVALUES with a negative count):
    RESP3 an array of two-element arrays, RESP2 one flat array, as Redis answers them."""

    items: tuple[tuple[Any, Any], ...]


@frozen
class Frames:
    """Several replies sent one after another as one command's answer (SUBSCRIBE a b confirms
    each channel in a frame of its own); ``before``: frames already encoded, sent first (the
    messages queued for a subscriber ahead of its (UN)SUBSCRIBE's confirmation)."""

    items: tuple[Any, ...]
    before: bytes = b""


@frozen
class Push:
    """Out-of-band data for RESP3 clients: ``>`` push frame (RESP2: an array)."""

    items: tuple[Any, ...]


@frozen
class Stored:
    """A stored message value, encoded so it keeps its type.

    ``value`` is what storage returns: ``bytes`` (string), ``int`` (integer), ``bool`` (boolean),
    ``dict`` (JSON object) or ``list`` (JSON array); nested JSON holds ``str``, ``int``, ``float``,
    ``bool``, ``None``, ``dict`` and ``list``. RESP3 sends it natively (objects as maps, lists as
    arrays, JSON numbers as integers or doubles, JSON null as ``_``). RESP2 answers a read as
    Redis clients expect: a scalar is a bulk string of its text (``"10"``, ``"true"``), a JSON
    object a bulk string of compact JSON, a list an array of bulk strings (an object or list
    inside it as compact JSON), JSON null a null. A RESP2 connection that opted in to types
    (``CLIENT TYPED ON``) gets integers, booleans as ``:1``/``:0`` and nested arrays instead.

    ``inner``: the value is a field of an object or an element of a list (HGET, LRANGE...), which
    plain RESP2 answers with one bulk string as Redis does, a list among them as compact JSON.
    """

    value: Any
    inner: bool = False


Reply = (
    bytes
    | str
    | int
    | bool
    | float
    | None
    | list
    | tuple
    | dict
    | SimpleString
    | NullArray
    | Verbatim
    | SetReply
    | Pairs
    | Push
    | Frames
    | Stored
    | CommandError
)
