"""The reply reader: RESP2/RESP3 reply bytes into values. The client side of the protocol.

Tests use it to check exact replies over raw sockets; a command-line client can use it too.
Mapping: ``+`` SimpleString, ``-``/``!`` CommandError, ``:``/``(`` int, ``$`` bytes (``$-1``
None), ``*`` list (``*-1`` NULL_ARRAY), ``_`` None, ``#`` bool, ``,`` float, ``%`` dict,
``~`` SetReply, ``=`` Verbatim, ``>`` Push. A ``|`` attribute map is read and dropped: it only
annotates the reply that follows. Map keys are made hashable (lists become tuples).

Incremental like the request parser: finished elements of a partly received aggregate are kept
on a stack, so a large reply arriving in many reads is not parsed again from its start.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field

from protocol.errors import CommandError, ProtocolError
from protocol.parser import NEED_DATA, NeedData
from protocol.replies import NULL_ARRAY, Push, SetReply, SimpleString, Verbatim

__all__ = ["ReplyReader"]

_COMPACT_AFTER = 64 * 1024
_AGGREGATES = frozenset(b"*~>%|")
_BLOBS = frozenset(b"$=!")
_MAX_DIGITS = 20  # a count or length; big numbers (``(``) are not limited
_DOUBLE_CHARS = frozenset(b"0123456789.eE+-")
_DOUBLE_WORDS = {b"inf": float("inf"), b"-inf": float("-inf"), b"nan": float("nan")}
_NOTHING = object()  # no reply yet: a parent awaits more, or an attribute map was dropped


@define
class _Frame:
    """An aggregate whose elements are still arriving."""

    marker: int
    remaining: int
    items: list[Any] = field(factory=list)


def _strict_int(line: bytes, max_digits: int | None = _MAX_DIGITS) -> int | None:
    """``-``? digits and nothing else (int() would also take ``+``, spaces and ``_``)."""
    body = line[1:] if line[:1] == b"-" else line
    if not body.isdigit() or (max_digits is not None and len(body) > max_digits):
        return None
    return int(line)


def _error(text: bytes) -> CommandError:
    prefix, _, message = text.decode("utf-8", "replace").partition(" ")
    return CommandError(prefix, message)


def _hashable(value: Any) -> Any:
    """A map key as a hashable value: lists become tuples, maps tuples of pairs."""
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple((key, _hashable(item)) for key, item in value.items())
    if isinstance(value, SetReply | Push):
        return type(value)(tuple(_hashable(item) for item in value.items))
    return value


class ReplyReader:
    """Incremental parser of server replies, RESP2 and RESP3 alike."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the unparsed bytes
        self._scan = 0  # the line at _pos has no CRLF ending before this offset
        self._stack: list[_Frame] = []
        self._error: ProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the server."""
        if self._error is not None:
            raise self._error
        pos = self._pos
        if pos and (pos >= _COMPACT_AFTER or pos == len(self._buf)):
            del self._buf[:pos]
            self._scan = max(0, self._scan - pos)
            self._pos = 0
        self._buf += data

    def next_reply(self) -> Any | NeedData:
        """The next complete reply, or ``NEED_DATA``; raises ``ProtocolError`` on bad bytes."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except ProtocolError as error:
            self._error = error
            raise

    def _next(self) -> Any | NeedData:
        stack = self._stack
        while (value := self._value()) is not NEED_DATA:
            if isinstance(value, _Frame):
                stack.append(value)
                continue
            # A finished value may finish its parent aggregate, and that one its own parent.
            while stack and value is not _NOTHING:
                frame = stack[-1]
                frame.items.append(value)
                frame.remaining -= 1
                if frame.remaining:
                    value = _NOTHING
                    break
                stack.pop()
                value = _aggregate(frame.marker, frame.items)
            if value is not _NOTHING:  # only with the stack empty: a whole reply
                return value
        return NEED_DATA

    def _value(self) -> Any:
        """The value at ``_pos`` (advancing past it), a new ``_Frame``, or ``NEED_DATA``."""
        buf, pos = self._buf, self._pos
        newline = buf.find(b"\n", max(pos, self._scan))
        if newline < 0:
            self._scan = len(buf)
            return NEED_DATA
        if newline == pos or buf[newline - 1] != 0x0D:
            msg = f"reply line not ended by CRLF: {bytes(buf[pos : newline + 1])[:64]!r}"
            raise ProtocolError(msg)
        marker = buf[pos]
        line = bytes(buf[pos + 1 : newline - 1])
        after = newline + 1
        if marker in _BLOBS:
            length = _strict_int(line)
            if length is None or length < (-1 if marker == 0x24 else 0):  # only $-1 is null
                raise ProtocolError(f"bad {chr(marker)!r} length {line[:64]!r}")
            if length == -1:
                value: Any = None
            else:
                if len(buf) < after + length + 2:
                    return NEED_DATA  # the header is read again then: it is short
                if buf[after + length : after + length + 2] != b"\r\n":
                    raise ProtocolError("blob reply not followed by CRLF")
                value = _blob(marker, bytes(buf[after : after + length]))
                after += length + 2
        elif marker in _AGGREGATES:
            count = _strict_int(line)
            if count is None or count < (-1 if marker == 0x2A else 0):  # only *-1 is null
                raise ProtocolError(f"bad {chr(marker)!r} count {line[:64]!r}")
            if count == -1:
                value = NULL_ARRAY
            elif count == 0:
                value = _aggregate(marker, [])
            else:
                value = _Frame(marker, 2 * count if marker in b"%|" else count)
        else:
            value = _simple(marker, line)
        self._pos = self._scan = after
        return value


def _blob(marker: int, data: bytes) -> Any:
    if marker == 0x24:  # $
        return data
    if marker == 0x21:  # !
        return _error(data)
    if len(data) < 4 or data[3] != 0x3A:  # = needs "fmt:" first
        raise ProtocolError(f"verbatim string without a format: {data[:64]!r}")
    return Verbatim(data[4:].decode("utf-8", "replace"), data[:3].decode("utf-8", "replace"))


def _simple(marker: int, line: bytes) -> Any:
    if marker == 0x2B:  # +
        return SimpleString(line.decode("utf-8", "replace"))
    if marker == 0x2D:  # -
        return _error(line)
    if marker in b":(":
        number = _strict_int(line, None if marker == 0x28 else _MAX_DIGITS)
        if number is None:
            raise ProtocolError(f"bad integer {line[:64]!r}")
        return number
    if marker == 0x5F and not line:  # _
        return None
    if marker == 0x23 and line in (b"t", b"f"):  # #
        return line == b"t"
    if marker == 0x2C:  # ,
        return _double(line)
    raise ProtocolError(f"bad reply line {bytes([marker]) + line[:64]!r}")


def _double(line: bytes) -> float:
    word = _DOUBLE_WORDS.get(line.lower())
    if word is not None:
        return word
    if line and all(char in _DOUBLE_CHARS for char in line):
        try:
            return float(line)
        except ValueError:
            pass
    raise ProtocolError(f"bad double {line[:64]!r}")


def _aggregate(marker: int, items: list[Any]) -> Any:
    if marker == 0x2A:  # *
        return items
    if marker == 0x25:  # %
        return {_hashable(key): value for key, value in zip(items[::2], items[1::2], strict=True)}
    if marker == 0x7E:  # ~
        return SetReply(tuple(items))
    if marker == 0x3E:  # >
        return Push(tuple(items))
    return _NOTHING  # | attributes annotate the next reply; this reader drops them
