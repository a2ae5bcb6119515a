"""The reply encoder: reply values (see ``protocol.replies``) into RESP2 or RESP3 bytes."""

from __future__ import annotations

import json
import math
from typing import Any

from protocol.errors import CommandError
from protocol.replies import NullArray, Push, SetReply, SimpleString, Stored, Verbatim

__all__ = ["encode", "encode_into"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
_NULL_ARRAY = {2: b"*-1\r\n", 3: b"_\r\n"}
_BOOLEAN = {(2, True): b":1\r\n", (2, False): b":0\r\n", (3, True): b"#t\r\n", (3, False): b"#f\r\n"}
_SET_PREFIX = {2: b"*", 3: b"~"}
_PUSH_PREFIX = {2: b"*", 3: b">"}


def encode(reply: Any, resp: int) -> bytes:
    out = bytearray()
    encode_into(out, reply, resp)
    return bytes(out)


def encode_into(out: bytearray, reply: Any, resp: int) -> None:
    """Append ``reply`` to ``out`` in protocol ``resp`` (2 or 3)."""
    kind = type(reply)
    if kind is SimpleString:
        out += b"+%s\r\n" % _one_line(reply.text)
    elif kind is bytes or kind is bytearray:
        out += b"$%d\r\n%s\r\n" % (len(reply), reply)
    elif kind is str:
        _bulk(out, reply.encode())
    elif kind is bool:
        out += _BOOLEAN[resp, reply]
    elif kind is int:
        _integer(out, reply, resp)
    elif reply is None:
        out += _NULL[resp]
    elif kind is list or kind is tuple:
        out += b"*%d\r\n" % len(reply)
        for item in reply:
            encode_into(out, item, resp)
    elif kind is Stored:
        _stored(out, reply.value, resp)
    elif isinstance(reply, CommandError):
        out += b"-%s %s\r\n" % (_one_line(reply.prefix), _one_line(reply.message))
    elif kind is dict:
        out += b"%%%d\r\n" % len(reply) if resp == 3 else b"*%d\r\n" % (2 * len(reply))
        for key, value in reply.items():
            encode_into(out, key, resp)
            encode_into(out, value, resp)
    elif kind is float:
        _double(out, reply, resp)
    elif kind is NullArray:
        out += _NULL_ARRAY[resp]
    elif kind is Verbatim:
        text = reply.text.encode()
        if resp == 3:
            out += b"=%d\r\n%s:%s\r\n" % (len(text) + 4, reply.format.encode()[:3], text)
        else:
            _bulk(out, text)
    elif kind is SetReply or kind is Push:
        prefix = _SET_PREFIX if kind is SetReply else _PUSH_PREFIX
        out += b"%s%d\r\n" % (prefix[resp], len(reply.items))
        for item in reply.items:
            encode_into(out, item, resp)
    elif isinstance(reply, int):  # int subclasses (enums, sizes) are still integers
        encode_into(out, bool(reply) if isinstance(reply, bool) else int(reply), resp)
    else:
        msg = f"cannot encode reply of type {kind.__name__}: {reply!r}"
        raise TypeError(msg)


def _one_line(text: str) -> bytes:
    """Simple strings and errors cannot carry line breaks."""
    return text.replace("\r", " ").replace("\n", " ").encode()


def _bulk(out: bytearray, data: bytes) -> None:
    out += b"$%d\r\n%s\r\n" % (len(data), data)


def _integer(out: bytearray, value: int, resp: int) -> None:
    if _INT64_MIN <= value <= _INT64_MAX:
        out += b":%d\r\n" % value
    elif resp == 3:
        out += b"(%d\r\n" % value  # RESP3 big number
    else:
        _bulk(out, b"%d" % value)


def _double_text(value: float) -> bytes:
    if math.isnan(value):
        return b"nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return repr(value).encode()


def _double(out: bytearray, value: float, resp: int) -> None:
    if resp == 3:
        out += b",%s\r\n" % _double_text(value)
    else:
        _bulk(out, _double_text(value))


def _stored(out: bytearray, value: Any, resp: int) -> None:
    """A stored message value: natively in RESP3; in RESP2 objects become compact JSON."""
    kind = type(value)
    if kind is dict:
        if resp == 2:
            _bulk(out, json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
            return
        out += b"%%%d\r\n" % len(value)
        for key, item in value.items():
            _bulk(out, key.encode())
            _stored(out, item, resp)
    elif kind is list:
        out += b"*%d\r\n" % len(value)
        for item in value:
            _stored(out, item, resp)
    else:
        encode_into(out, value, resp)
