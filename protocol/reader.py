"""The reply reader: RESP2/RESP3 reply bytes into values. The client side of the protocol.

Tests use it to check exact replies over raw sockets; a command-line client can use it too.
Mapping: ``+`` SimpleString, ``-``/``!`` CommandError, ``:``/``(`` int, ``$`` bytes (``$-1`` None),
``*`` list (``*-1`` NULL_ARRAY), ``_`` None, ``#`` bool, ``,`` float, ``%`` dict, ``~`` SetReply,
``=`` Verbatim, ``>`` Push.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import CommandError, ProtocolError
from protocol.parser import NEED_DATA, NeedData
from protocol.replies import NULL_ARRAY, Push, SetReply, SimpleString, Verbatim

__all__ = ["ReplyReader"]


class _Incomplete(Exception):
    """Internal: the buffered bytes end inside the reply."""


class ReplyReader:
    def __init__(self) -> None:
        self._buffer = bytearray()

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_reply(self) -> Any | NeedData:
        """The next complete reply, or NEED_DATA. Re-parses a partial reply when more arrives,
        which is fine for a test and CLI client (servers use the request parser)."""
        try:
            reply, end = self._value(0)
        except _Incomplete:
            return NEED_DATA
        del self._buffer[:end]
        return reply

    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buffer.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        return bytes(self._buffer[pos:end]), end + 2

    def _blob(self, length: int, pos: int) -> tuple[bytes, int]:
        if len(self._buffer) < pos + length + 2:
            raise _Incomplete
        if self._buffer[pos + length : pos + length + 2] != b"\r\n":
            raise ProtocolError("blob not followed by CRLF")
        return bytes(self._buffer[pos : pos + length]), pos + length + 2

    def _items(self, count: int, pos: int) -> tuple[list[Any], int]:
        items = []
        for _ in range(count):
            item, pos = self._value(pos)
            items.append(item)
        return items, pos

    def _value(self, pos: int) -> tuple[Any, int]:
        if pos >= len(self._buffer):
            raise _Incomplete
        marker = chr(self._buffer[pos])
        line, pos = self._line(pos + 1)
        text = line.decode("utf-8", "replace")
        try:
            if marker == "+":
                return SimpleString(text), pos
            if marker == "-":
                return _error(text), pos
            if marker in ":(":
                return int(line), pos
            if marker == "_":
                return None, pos
            if marker == "#":
                return {b"t": True, b"f": False}[line], pos
            if marker == ",":
                return float(line), pos
            length = int(line)
        except (ValueError, KeyError):
            raise ProtocolError(f"bad {marker!r} reply line {line!r}") from None
        if marker in "$=!":
            if length < 0:
                return None, pos
            blob, pos = self._blob(length, pos)
            if marker == "$":
                return blob, pos
            if marker == "!":
                return _error(blob.decode("utf-8", "replace")), pos
            return Verbatim(blob[4:].decode("utf-8", "replace"), blob[:3].decode()), pos
        if marker in "*~>":
            if length < 0:
                return NULL_ARRAY, pos
            items, pos = self._items(length, pos)
            if marker == "~":
                return SetReply(tuple(items)), pos
            return (Push(tuple(items)) if marker == ">" else items), pos
        if marker == "%":
            flat, pos = self._items(2 * length, pos)
            return {_hashable(k): v for k, v in zip(flat[::2], flat[1::2])}, pos
        raise ProtocolError(f"unknown reply type {marker!r}")


def _error(text: str) -> CommandError:
    prefix, _, message = text.partition(" ")
    return CommandError(prefix, message)


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key
