"""The request parser: bytes in, ``Request`` objects out. Sans-I/O and incremental.

Feed whatever the socket gave with ``receive_data``, then call ``next_request`` until it returns
``NEED_DATA``. A request that starts with ``*`` is a RESP array of bulk strings; anything else is
an inline line. Framing errors raise ``ProtocolError`` with Redis's texts, and the parser stays
broken afterwards: the byte stream can no longer be trusted.

Memory is bounded: a line is never longer than its limit, a bulk string never longer than
``max_bulk_len``, and the buffer is never rescanned from its start (newline searches resume where
they stopped).
"""

from __future__ import annotations

from attrs import frozen

from protocol.errors import ProtocolError
from protocol.inline import tokenize_inline
from protocol.request import Request

__all__ = ["MAX_HEADER_SIZE", "NEED_DATA", "Limits", "NeedData", "RequestParser"]

# A ``*N`` or ``$N`` header line longer than this is not a header (Redis: PROTO_INLINE_MAX_SIZE).
MAX_HEADER_SIZE = 64 * 1024
# Consumed bytes are dropped from the front of the buffer once there are this many.
_COMPACT_AFTER = 64 * 1024


class NeedData:
    """``next_request``: no complete request is buffered yet."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@frozen
class Limits:
    max_inline_size: int = 64 * 1024
    max_bulk_len: int = 32 * 1024 * 1024
    max_array_len: int = 1024 * 1024


def _header_int(digits: bytes | bytearray) -> int | None:
    """A RESP header number: optional ``-`` then ASCII digits, nothing else."""
    body = digits[1:] if digits[:1] == b"-" else digits
    if not body or len(body) > 19 or not body.isdigit():
        return None
    return int(digits)


class RequestParser:
    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._pos = 0  # start of the unparsed bytes
        self._scanned = 0  # the current line has no newline before this offset
        self._args: list[bytes] | None = None  # the array being received
        self._remaining = 0  # elements of that array still to come
        self._bulk_len = -1  # length of the bulk being received, -1 before its header
        self._error: ProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._buffer += data

    def next_request(self) -> Request | NeedData:
        if self._error is not None:
            raise self._error
        try:
            request = self._next()
        except ProtocolError as error:
            self._error = error
            raise
        if self._pos >= _COMPACT_AFTER or self._pos == len(self._buffer):
            del self._buffer[: self._pos]
            self._scanned = max(0, self._scanned - self._pos)
            self._pos = 0
        return request

    def _next(self) -> Request | NeedData:
        while self._args is None:
            if self._pos >= len(self._buffer):
                return NEED_DATA
            if self._buffer[self._pos] != 0x2A:  # not '*': an inline line
                line = self._line(self.limits.max_inline_size, "too big inline request")
                if line is None:
                    return NEED_DATA
                tokens, quoted = tokenize_inline(line)
                if tokens:
                    return Request(tokens, quoted)
                continue  # blank lines are ignored
            line = self._line(MAX_HEADER_SIZE, "too big mbulk count string")
            if line is None:
                return NEED_DATA
            count = _header_int(line[1:])
            if count is None or count > self.limits.max_array_len:
                raise ProtocolError("invalid multibulk length")
            if count > 0:  # *0 and negative counts are ignored, as in Redis
                self._args, self._remaining = [], count
        return self._array_elements()

    def _array_elements(self) -> Request | NeedData:
        buffer = self._buffer
        args = self._args
        assert args is not None
        while self._remaining:
            if self._bulk_len < 0:
                if self._pos >= len(buffer):
                    return NEED_DATA
                if buffer[self._pos] != 0x24:  # '$'
                    got = chr(buffer[self._pos])
                    raise ProtocolError(f"expected '$', got '{got}'")
                line = self._line(MAX_HEADER_SIZE, "too big bulk count string")
                if line is None:
                    return NEED_DATA
                length = _header_int(line[1:])
                if length is None or length < 0 or length > self.limits.max_bulk_len:
                    raise ProtocolError("invalid bulk length")
                self._bulk_len = length
            end = self._pos + self._bulk_len
            if len(buffer) < end + 2:
                return NEED_DATA
            if buffer[end : end + 2] != b"\r\n":
                raise ProtocolError("expected CRLF after bulk data")
            args.append(bytes(buffer[self._pos : end]))
            self._pos = self._scanned = end + 2
            self._bulk_len = -1
            self._remaining -= 1
        self._args = None
        return Request(tuple(args))

    def _line(self, limit: int, too_big: str) -> bytes | None:
        """The next line without its ending (``\\n`` or ``\\r\\n``), or None until it is complete."""
        buffer = self._buffer
        newline = buffer.find(b"\n", max(self._pos, self._scanned))
        if newline < 0:
            if len(buffer) - self._pos > limit:
                raise ProtocolError(too_big)
            self._scanned = len(buffer)
            return None
        end = newline - 1 if newline > self._pos and buffer[newline - 1] == 0x0D else newline
        if end - self._pos > limit:
            raise ProtocolError(too_big)
        line = bytes(buffer[self._pos : end])
        self._pos = self._scanned = newline + 1
        return line
