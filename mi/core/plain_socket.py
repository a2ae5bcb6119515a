"""A plain TCP connection driven with Trio's low-level primitives (``PlainSocketStream``).

Trio's ``SocketStream`` spends, on every ``send_all`` and ``receive_some``, a conflict check, a
cancellation check, a schedule point and its socket wrapper's own layers; the bare Trio servers
measure the low-level way 25-50% cheaper a request (docs/benchmarks.md). Here each call tries the
socket at once and waits (``wait_readable`` / ``wait_writable``, which are checkpoints) only when
it would block. So that a client that always has bytes ready cannot hold the event loop, or a
cancellation wait, every ``YIELD_EVERY``-th call that did not wait is a checkpoint anyway.

Only one task may send and one receive at a time, as with any Trio stream (mi's session is the
only one). TLS connections keep Trio's ``SSLStream``.
"""

from __future__ import annotations

import socket

import trio

__all__ = ["PlainSocketStream"]

YIELD_EVERY = 8


class PlainSocketStream(trio.abc.Stream):
    """Takes over ``stream``'s socket (the stream is left detached: closing it does nothing)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._sock = socket.socket(fileno=stream.socket.detach())
        self._sock.setblocking(False)  # Trio made the fd non-blocking; the new object must know
        self._unyielded = 0

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        sock = self._sock
        while True:
            try:
                data = sock.recv(max_bytes or 65536)
            except BlockingIOError:
                self._unyielded = 0
                await trio.lowlevel.wait_readable(sock)
                continue
            except OSError as error:
                raise _broken(sock, error) from None
            await self._now_and_then()
            return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        sock = self._sock
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                self._unyielded = 0
                await trio.lowlevel.wait_writable(sock)
            except OSError as error:
                raise _broken(sock, error) from None
        await self._now_and_then()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.wait_writable(self._sock)

    async def aclose(self) -> None:
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)  # wakes a task waiting on it, with ClosedResourceError
            self._sock.close()
        await trio.lowlevel.checkpoint()

    async def _now_and_then(self) -> None:
        """A checkpoint every ``YIELD_EVERY`` calls that did not wait."""
        self._unyielded += 1
        if self._unyielded >= YIELD_EVERY:
            self._unyielded = 0
            await trio.lowlevel.checkpoint()


def _broken(sock: socket.socket, error: OSError) -> Exception:
    if sock.fileno() == -1:
        return trio.ClosedResourceError("the connection was closed")
    return trio.BrokenResourceError(f"the connection broke: {error.strerror or error}")
