"""mi's own stream for plain TCP connections: what Trio's SocketStream promised, kept."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from mi.core.plain_socket import YIELD_EVERY, PlainSocketStream


def connected_pair() -> tuple[PlainSocketStream, socket.socket]:
    """mi's side as a PlainSocketStream, the peer as a blocking stdlib socket."""
    ours, theirs = socket.socketpair()
    return PlainSocketStream(trio.SocketStream(trio.socket.from_stdlib_socket(ours))), theirs


async def test_bytes_both_ways_and_end_of_stream():
    stream, peer = connected_pair()
    peer.sendall(b"PING\r\n")
    assert await stream.receive_some(100) == b"PING\r\n"
    await stream.send_all(b"+PONG\r\n")
    assert peer.recv(100) == b"+PONG\r\n"
    peer.close()
    assert await stream.receive_some(100) == b""
    await stream.aclose()


async def test_a_big_reply_waits_for_a_slow_reader():
    """More than the socket buffers hold: send_all waits until the peer has read it all."""
    stream, peer = connected_pair()
    payload = b"x" * (8 * 1024**2)
    received = bytearray()

    def read_all() -> None:
        while len(received) < len(payload):
            received.extend(peer.recv(1 << 16))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, read_all)
        await stream.send_all(payload)
    assert bytes(received) == payload
    await stream.aclose()
    peer.close()


async def test_a_peer_that_resets_breaks_the_stream():
    stream, peer = connected_pair()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # with SO_LINGER 0: a reset
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(100):  # the first send may still be accepted by the kernel
            await stream.send_all(b"x" * 65536)
    await stream.aclose()


async def test_closing_wakes_a_task_waiting_to_receive():
    stream, peer = connected_pair()

    async def close_soon() -> None:
        await trio.testing.wait_all_tasks_blocked()
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(close_soon)
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some(100)
    peer.close()


async def test_a_client_that_always_has_bytes_ready_still_lets_others_run():
    """Calls that need not wait are checkpoints now and then, so one busy connection cannot
    hold the event loop (and a cancellation reaches it)."""
    stream, peer = connected_pair()
    peer.sendall(b"x" * 64 * YIELD_EVERY * 4)
    others_ran = 0

    async def other() -> None:
        nonlocal others_ran
        while True:
            others_ran += 1
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        await trio.sleep(0)
        before = others_ran
        for _ in range(YIELD_EVERY * 3):
            await stream.receive_some(64)
        assert others_ran > before
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                for _ in range(YIELD_EVERY):
                    await stream.receive_some(64)
        nursery.cancel_scope.cancel()
    await stream.aclose()
    peer.close()
