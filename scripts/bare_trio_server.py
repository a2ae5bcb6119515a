"""The ceiling of mi's stack: a Trio server that parses requests with mi's parser and answers
without storage. scripts/bench measures it next to mi so the table shows how much of mi's cost is
storage and command execution.

Canned replies: SET -> +OK, GET -> nil, PING -> +PONG, anything else -> empty array; and enough
of a transaction for scripts/loadgen.py's ``multi`` workload: MULTI -> +OK, then every command up
to EXEC -> +QUEUED, and EXEC -> an array of the replies the queued commands would have had.

Two ways to drive a connection, one Trio task each either way:

* default: ``trio.SocketStream`` (``receive_some`` / ``send_all``), as mi does;
* ``--lowlevel``: the accepted socket is taken over and driven with ``recv`` / ``send`` and
  ``trio.lowlevel.wait_readable`` / ``wait_writable``, which skips the stream layer's per-call
  overhead (its conflict detector, checkpoints and memoryview juggling). The gap between the two
  is what that layer costs.

Usage: bare_trio_server.py [--lowlevel] PORT   (listens on 127.0.0.1 until killed)
"""

from __future__ import annotations

import argparse
import socket
from functools import partial

import trio

from protocol.errors import ProtocolError
from protocol.parser import NEED_DATA, RequestParser
from protocol.request import Request

REPLIES = {b"SET": b"+OK\r\n", b"GET": b"$-1\r\n", b"PING": b"+PONG\r\n"}
_OK = b"+OK\r\n"
_QUEUED = b"+QUEUED\r\n"


class Session:
    """One connection's parser and transaction state: the replies queued since MULTI."""

    __slots__ = ("parser", "queued")

    def __init__(self) -> None:
        self.parser = RequestParser()
        self.queued: list[bytes] | None = None  # None: not in a transaction

    def answer(self, data: bytes) -> bytearray:
        """The replies to every request ``data`` completes, as one buffer (one send)."""
        self.parser.receive_data(data)
        out = bytearray()
        while (request := self.parser.next_request()) is not NEED_DATA:
            out += self.reply(request)
        return out

    def reply(self, request: Request) -> bytes:
        name = request.args[0].upper()
        queued = self.queued
        if queued is None:
            if name == b"MULTI":
                self.queued = []
                return _OK
            if name == b"EXEC":
                return b"-ERR EXEC without MULTI\r\n"
            return REPLIES.get(name, b"*0\r\n")
        if name == b"EXEC":
            self.queued = None
            return b"*%d\r\n%s" % (len(queued), b"".join(queued))
        if name == b"DISCARD":
            self.queued = None
            return _OK
        if name == b"MULTI":
            return b"-ERR MULTI calls can not be nested\r\n"
        queued.append(REPLIES.get(name, b"*0\r\n"))
        return _QUEUED


async def handle_stream(stream: trio.SocketStream) -> None:
    session = Session()
    try:
        while data := await stream.receive_some(65536):
            if out := session.answer(data):
                await stream.send_all(out)
    except (trio.BrokenResourceError, ProtocolError):
        pass  # a broken byte stream ends the connection, not the server


async def handle_lowlevel(stream: trio.SocketStream) -> None:
    # Take the fd over: the stream is left detached, and closing it afterwards (serve_tcp does)
    # is a no-op.
    sock = socket.socket(fileno=stream.socket.detach())
    sock.setblocking(False)  # Trio made the fd non-blocking; say so to the Python object too
    session = Session()
    try:
        while True:
            await trio.lowlevel.wait_readable(sock)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue  # readiness was spurious
            if not data:
                return
            out = memoryview(session.answer(data))
            while out:
                try:
                    out = out[sock.send(out):]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(sock)
    except (OSError, ProtocolError):
        pass  # a reset or broken byte stream ends the connection, not the server
    finally:
        trio.lowlevel.notify_closing(sock)
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--lowlevel", action="store_true",
                        help="drive sockets with trio.lowlevel.wait_readable/wait_writable, "
                             "not SocketStream")
    args = parser.parse_args()
    handler = handle_lowlevel if args.lowlevel else handle_stream
    trio.run(partial(trio.serve_tcp, handler, args.port, host="127.0.0.1"))


if __name__ == "__main__":
    main()
