"""The request parser: bytes in, ``Request`` objects out. Sans-I/O and incremental.

Feed whatever the socket gave with ``receive_data``, then call ``next_request`` until it returns
``NEED_DATA``. A request that starts with ``*`` is a RESP array of bulk strings; anything else is
an inline line (see ``protocol.inline``). Framing errors raise ``ProtocolError`` with Redis's
texts, and the parser stays broken afterwards: the byte stream can no longer be trusted.

Buffering, with speed and bounded work in mind:

* The bytes being parsed are an immutable ``bytes`` object: a read that starts on a request
  boundary (the usual case) is parsed in place without a copy, and slicing out an argument is a
  single copy (a ``bytearray`` needs two).
* While a request is incomplete, new reads are only queued. They are joined to the unparsed tail
  once the parse can move on: the awaited bulk string has fully arrived, a newline has arrived for
  an awaited line, or a line has outgrown its limit. So a 32 MiB value sent in 64 KiB reads is
  copied once, not 512 times, and a line dribbled one byte at a time is not rescanned either
  (newline searches also resume where they stopped).
* A header or inline line never grows past its limit without a newline, and a bulk string never
  past ``max_bulk_len``: a partial request holds at most its declared size plus a header.
"""

from __future__ import annotations

from attrs import frozen

from protocol.errors import ProtocolError
from protocol.inline import tokenize_inline
from protocol.request import Request

__all__ = ["MAX_HEADER_SIZE", "NEED_DATA", "Limits", "NeedData", "RequestParser"]

# A ``*N`` or ``$N`` header longer than this without its CRLF is not a header (Redis:
# PROTO_INLINE_MAX_SIZE).
MAX_HEADER_SIZE = 64 * 1024
# More digits than this cannot be a valid count or length (and int() of long strings is slow).
_MAX_DIGITS = 19
_STAR, _DOLLAR, _CR, _LF = 0x2A, 0x24, 0x0D, 0x0A
_NOT_QUOTED: frozenset[int] = frozenset()
# Whole header lines of common sizes, looked up instead of validated and converted digit by digit.
_ARRAY_HEADERS = {b"*%d\r\n" % n: n for n in range(1024)}
_BULK_HEADERS = {b"$%d\r\n" % n: n for n in range(1024)}


class NeedData:
    """The type of ``NEED_DATA``: no complete request (or reply) is buffered yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@frozen
class Limits:
    """Framing limits; a request over any of them is a protocol error."""

    max_inline_size: int = 64 * 1024
    max_bulk_len: int = 32 * 1024 * 1024
    max_array_len: int = 1024 * 1024


def _header_int(line: bytes) -> int | None:
    """The number of a header line (``*`` or ``$`` first, CRLF last): ``-``? digits, or None."""
    digits = line[1:-2]
    if not line.endswith(b"\r\n") or len(digits) > _MAX_DIGITS + 1:
        return None
    body = digits[1:] if digits[:1] == b"-" else digits
    # isdigit() is ASCII-only on bytes and False for b"", so "+1", " 1", "1_0" and "-" fail.
    return int(digits) if body.isdigit() else None


class RequestParser:
    """Incremental parser of client requests (RESP arrays and inline lines)."""

    __slots__ = (
        "_args",
        "_buf",
        "_bulk_len",
        "_chunks",
        "_error",
        "_need",
        "_newline_arrived",
        "_pos",
        "_queued",
        "_remaining",
        "_scan",
        "_want_newline",
        "limits",
    )

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._buf = b""  # the bytes being parsed
        self._pos = 0  # start of the unparsed bytes in _buf
        self._scan = 0  # the line at _pos has no newline in _buf before this offset
        self._chunks: list[bytes] = []  # reads queued while the request at _pos is incomplete
        self._queued = 0  # their total size
        # What the last NEED_DATA waited for (see _wait). Reset whenever _buf is replaced, as
        # offsets into the old buffer mean nothing: then the next read is joined at once.
        self._need = 0  # join the queue once len(_buf) + _queued reaches this...
        self._want_newline = False  # ...or, while a line is awaited,
        self._newline_arrived = False  # once a queued read holds a newline
        self._args: list[bytes] | None = None  # the array being received
        self._remaining = 0  # elements of that array still to come
        self._bulk_len = -1  # length of the bulk being received, -1 before its header
        self._error: ProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes read from the client."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        if self._pos >= len(self._buf) and not self._chunks:
            self._buf = bytes(data)  # no copy when data is already bytes
            self._pos = self._scan = self._need = 0
            self._want_newline = False
            return
        self._chunks.append(bytes(data))
        self._queued += len(data)
        if self._want_newline and b"\n" in data:
            self._newline_arrived = True

    @property
    def buffered_bytes(self) -> int:
        """The size of the buffer being parsed: past one read's size only when a request
        spanned several reads (a big one)."""
        return len(self._buf)

    def next_request(self) -> Request | NeedData:
        """The next complete request, or ``NEED_DATA``; raises ``ProtocolError`` on bad framing."""
        if self._error is not None:
            raise self._error
        try:
            if self._chunks and self._ready():
                self._join()
            request = self._start() if self._args is None else self._elements()
        except ProtocolError as error:
            self._error = error
            raise
        return request

    def _ready(self) -> bool:
        """Whether the queued reads let the parse move on (see ``_wait``)."""
        return self._newline_arrived or len(self._buf) + self._queued >= self._need

    def _join(self) -> None:
        """Append the queued reads to the unparsed tail."""
        pos = self._pos
        self._buf = b"".join([self._buf[pos:], *self._chunks])
        self._scan = max(0, self._scan - pos)
        self._pos = 0
        self._chunks = []
        self._queued = self._need = 0
        self._want_newline = self._newline_arrived = False

    def _wait(self, need: int, newline: bool) -> NeedData:
        """Record what the parse waits for: ``need`` bytes in all, or (if ``newline``) a newline.

        Queued reads, if any, hold neither (else they would have been joined), so the parse
        cannot move on until a read that does arrives.
        """
        self._need = need
        self._want_newline = newline
        return NEED_DATA

    def _start(self) -> Request | NeedData:
        """The request that starts at ``_pos``: an inline line or a RESP array."""
        buf = self._buf
        while True:
            pos = self._pos
            if pos >= len(buf):
                return self._wait(pos + 1, newline=False)
            if buf[pos] != _STAR:
                limit = self.limits.max_inline_size
                newline = self._newline(limit, "too big inline request")
                if newline < 0:
                    return self._wait(pos + limit + 1, newline=True)
                self._pos = newline + 1
                end = newline - 1 if newline > pos and buf[newline - 1] == _CR else newline
                tokens, quoted = tokenize_inline(buf[pos:end])
                if tokens:
                    return Request(tokens, quoted)
                continue  # blank lines are skipped, as in Redis
            newline = buf.find(b"\n", self._scan if self._scan > pos else pos)
            count = _ARRAY_HEADERS.get(buf[pos : newline + 1]) if newline >= 0 else None
            if count is None or count > self.limits.max_array_len:  # the slow path
                newline = self._newline(MAX_HEADER_SIZE, "too big mbulk count string")
                if newline < 0:
                    return self._wait(pos + MAX_HEADER_SIZE + 1, newline=True)
                count = _header_int(buf[pos : newline + 1])
                if count is None or count > self.limits.max_array_len:
                    raise ProtocolError("invalid multibulk length")
            self._pos = newline + 1
            if count > 0:  # *0 and negative counts are skipped, as in Redis
                self._args = []
                self._remaining = count
                return self._elements()

    def _elements(self) -> Request | NeedData:
        """Bulk strings of the array being received; the request once all have arrived."""
        buf = self._buf
        size = len(buf)
        args = self._args
        assert args is not None
        max_bulk_len = self.limits.max_bulk_len
        pos = self._pos
        scan = self._scan
        remaining = self._remaining
        length = self._bulk_len
        while remaining:
            if length < 0:  # a "$N\r\n" header comes first
                if pos >= size:
                    break
                newline = buf.find(b"\n", scan if scan > pos else pos)
                length = _BULK_HEADERS.get(buf[pos : newline + 1], -1) if newline >= 0 else -1
                if not 0 <= length <= max_bulk_len:
                    length = self._bulk_header(pos, newline)
                    if length < 0:
                        break
                pos = newline + 1
            end = pos + length
            if end + 2 > size:
                break
            if buf[end] != _CR or buf[end + 1] != _LF:
                raise ProtocolError("expected CRLF after bulk data")
            args.append(buf[pos:end])
            pos = end + 2
            length = -1
            remaining -= 1
        self._pos = pos
        self._bulk_len = length
        self._remaining = remaining
        if remaining:
            if length < 0:  # a header is awaited
                return self._wait(pos + MAX_HEADER_SIZE + 1, newline=True)
            return self._wait(pos + length + 2, newline=False)
        self._args = None
        return Request(tuple(args), _NOT_QUOTED)

    def _bulk_header(self, pos: int, newline: int) -> int:
        """The slow path for the ``$N`` header at ``pos`` ending at ``newline`` (-1 if it has not
        arrived): its length, or -1 until it is complete. Every header error is found here."""
        buf = self._buf
        if buf[pos] != _DOLLAR:
            # Redis sends the byte as is, with CR and LF made spaces (one line).
            got = " " if buf[pos] in b"\r\n" else chr(buf[pos])
            msg = f"expected '$', got '{got}'"
            raise ProtocolError(msg)
        if (newline if newline >= 0 else len(buf)) - pos > MAX_HEADER_SIZE:
            raise ProtocolError("too big bulk count string")
        if newline < 0:
            self._scan = len(buf)
            return -1
        length = _header_int(buf[pos : newline + 1])
        if length is None or not 0 <= length <= self.limits.max_bulk_len:
            raise ProtocolError("invalid bulk length")
        return length

    def _newline(self, limit: int, too_big: str) -> int:
        """Offset of the ``\\n`` ending the line at ``_pos``, or -1 while it has not arrived."""
        buf, pos = self._buf, self._pos
        newline = buf.find(b"\n", self._scan if self._scan > pos else pos)
        if newline < 0:
            if len(buf) - pos > limit:
                raise ProtocolError(too_big)
            self._scan = len(buf)
        elif newline - pos > limit:  # the same verdict however the bytes were split
            raise ProtocolError(too_big)
        return newline
