"""The reply encoder: reply values (see ``protocol.replies``) into RESP2 or RESP3 bytes.

``encode_into`` appends to a caller's ``bytearray`` so that a pipeline's replies go out in one
write. Dispatch is on the exact type, most common replies first (``+OK``, bulk strings, integers,
nulls); subclasses of ``int``, ``str`` and ``bytes`` are handled at the end.

Stored message values (``Stored``) are where the protocols differ most: RESP3 keeps their types;
RESP2 answers them as Redis clients expect a read to, as bulk strings (``"10"``, ``"true"``), unless
the connection opted in to typed RESP2 (``typed``, from ``CLIENT TYPED ON``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from protocol.errors import CommandError
from protocol.replies import Frames, NullArray, Pairs, Push, SetReply, SimpleString, Stored, Verbatim

__all__ = ["encode", "encode_into", "encode_request"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
_NULL_ARRAY = {2: b"*-1\r\n", 3: b"_\r\n"}
_TRUE = {2: b":1\r\n", 3: b"#t\r\n"}
_FALSE = {2: b":0\r\n", 3: b"#f\r\n"}
_MAP = {2: b"*%d\r\n", 3: b"%%%d\r\n"}  # RESP2: a flat array of keys and values
_SET = {2: b"*%d\r\n", 3: b"~%d\r\n"}
_PUSH = {2: b"*%d\r\n", 3: b">%d\r\n"}
# Encoded simple strings by text: a server sends the same few (OK, PONG, QUEUED, type names).
_SIMPLE_CACHE: dict[str, bytes] = {}
_SIMPLE_CACHE_MAX = 256


def encode_request(*args: bytes | str | int) -> bytes:
    """A request as clients send it: a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def encode(reply: Any, resp: int, typed: bool = False) -> bytes:
    """``reply`` as RESP ``resp`` (2 or 3) bytes; ``typed``: see ``encode_into``."""
    out = bytearray()
    encode_into(out, reply, resp, typed)
    return bytes(out)


def encode_into(out: bytearray, reply: Any, resp: int, typed: bool = False) -> None:
    """Append ``reply`` to ``out`` in protocol ``resp`` (2 or 3). ``typed`` matters to RESP2 only:
    stored values keep their types (integers, ``:1``/``:0`` booleans) instead of being text."""
    kind = type(reply)
    if kind is SimpleString:
        encoded = _SIMPLE_CACHE.get(reply.text)
        if encoded is None:
            encoded = b"+%s\r\n" % _one_line(reply.text)
            if len(_SIMPLE_CACHE) < _SIMPLE_CACHE_MAX:
                _SIMPLE_CACHE[reply.text] = encoded
        out += encoded
    elif kind is bytes:
        out += b"$%d\r\n%s\r\n" % (len(reply), reply)
    elif kind is int:  # exact type, so bool (a subclass of int) is not taken here
        if _INT64_MIN <= reply <= _INT64_MAX:
            out += b":%d\r\n" % reply
        else:
            _big_number(out, reply, resp)
    elif reply is None:
        out += _NULL[resp]
    elif kind is str:
        _bulk(out, reply.encode())
    elif kind is bool:
        out += _TRUE[resp] if reply else _FALSE[resp]
    elif kind is list or kind is tuple:
        out += b"*%d\r\n" % len(reply)
        for item in reply:
            encode_into(out, item, resp, typed)
    elif kind is Stored:
        if resp == 2 and not typed:
            _stored_text(out, reply.value, reply.inner)
        else:
            _stored(out, reply.value, resp)
    elif isinstance(reply, CommandError):
        out += b"-%s %s\r\n" % (_one_line(reply.prefix), _one_line(reply.message))
    elif kind is dict:
        out += _MAP[resp] % (len(reply) if resp == 3 else 2 * len(reply))
        for key, value in reply.items():
            encode_into(out, key, resp, typed)
            encode_into(out, value, resp, typed)
    elif kind is float:
        _double(out, reply, resp)
    elif kind is NullArray:
        out += _NULL_ARRAY[resp]
    elif kind is Verbatim:
        _verbatim(out, reply, resp)
    elif kind is SetReply or kind is Push:
        out += (_SET if kind is SetReply else _PUSH)[resp] % len(reply.items)
        for item in reply.items:
            encode_into(out, item, resp, typed)
    elif kind is Pairs:
        out += b"*%d\r\n" % (len(reply.items) * (1 if resp == 3 else 2))
        for first, second in reply.items:
            if resp == 3:
                out += b"*2\r\n"
            encode_into(out, first, resp, typed)
            encode_into(out, second, resp, typed)
    elif kind is Frames:
        out += reply.before
        for item in reply.items:
            encode_into(out, item, resp, typed)
    elif isinstance(reply, int):  # IntEnum and friends are integers (bool was taken above)
        encode_into(out, int(reply), resp, typed)
    elif isinstance(reply, str):
        _bulk(out, str(reply).encode())
    elif isinstance(reply, bytes | bytearray | memoryview):
        _bulk(out, bytes(reply))
    else:
        msg = f"cannot encode a reply of type {kind.__name__}: {reply!r}"
        raise TypeError(msg)


def _one_line(text: str) -> bytes:
    """Simple strings and errors cannot hold line breaks: Redis turns them into spaces."""
    return text.replace("\r", " ").replace("\n", " ").encode()


def _bulk(out: bytearray, data: bytes) -> None:
    out += b"$%d\r\n%s\r\n" % (len(data), data)


def _big_number(out: bytearray, value: int, resp: int) -> None:
    """An integer outside signed 64 bits: RESP3 big number, RESP2 its decimal as a bulk string."""
    if resp == 3:
        out += b"(%d\r\n" % value
    else:
        _bulk(out, b"%d" % value)


def _double_text(value: float) -> bytes:
    """The shortest text that reads back as ``value`` (``repr``); ``inf``/``-inf``/``nan``."""
    if math.isfinite(value):
        return repr(value).encode()
    if math.isnan(value):
        return b"nan"
    return b"inf" if value > 0 else b"-inf"


def _double(out: bytearray, value: float, resp: int) -> None:
    if resp == 3:
        out += b",%s\r\n" % _double_text(value)
    else:
        _bulk(out, _double_text(value))


def _verbatim(out: bytearray, reply: Verbatim, resp: int) -> None:
    text = reply.text.encode()
    if resp == 2:
        _bulk(out, text)
        return
    fmt = reply.format.encode()
    if len(fmt) != 3:  # the length below counts exactly three format bytes and a colon
        msg = f"a verbatim string format is three bytes, not {reply.format!r}"
        raise ValueError(msg)
    out += b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text)


def _json_text(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _stored_text(out: bytearray, value: Any, inner: bool) -> None:
    """A stored value in plain RESP2, as Redis clients expect a read to answer: a key's list an
    array of bulk strings, anything else (a field's or an element's list too) one bulk string
    (see ``_text``)."""
    if type(value) is list and not inner:
        out += b"*%d\r\n" % len(value)
        for item in value:
            _text(out, item)
    else:
        _text(out, value)


def _text(out: bytearray, value: Any) -> None:
    """A string as it is, an integer in decimal, a boolean ``true``/``false`` (what SET reads back
    as a boolean), a double its shortest text, a JSON object (or a list inside a list) its compact
    JSON; JSON null is a null bulk string."""
    kind = type(value)
    if kind is bytes:
        _bulk(out, value)
    elif kind is str:
        _bulk(out, value.encode())
    elif value is None:
        out += _NULL[2]
    elif kind is bool:
        _bulk(out, b"true" if value else b"false")
    elif kind is int:
        _bulk(out, b"%d" % value)
    elif kind is float:
        _bulk(out, _double_text(value))
    else:
        _bulk(out, _json_text(value))


def _stored(out: bytearray, value: Any, resp: int) -> None:
    """A stored message value keeping its type (RESP3, or RESP2 opted in to types): natively in
    RESP3; in RESP2 a JSON object is compact JSON text, a list an array whose elements follow this
    same rule, a boolean ``:1``/``:0``, a double its text."""
    kind = type(value)
    if kind is dict:
        if resp == 2:
            _bulk(out, _json_text(value))
            return
        out += b"%%%d\r\n" % len(value)
        for key, item in value.items():
            encode_into(out, key, resp)  # JSON keys are str: bulk strings
            _stored(out, item, resp)
    elif kind is list:
        out += b"*%d\r\n" % len(value)
        for item in value:
            _stored(out, item, resp)
    else:  # bytes, str, int, bool, float, None: the plain rules already say it
        encode_into(out, value, resp)
