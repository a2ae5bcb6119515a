"""Per-connection limits: idle timeout, clients that do not read their replies, reply buffers."""

from __future__ import annotations

import socket

import pytest
import trio
from attrs import evolve

from protocol.replies import SimpleString
from support import IO_TIMEOUT, RawClient, make_config

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    config = make_config(tmp_path / "data")
    limits = evolve(config.limits, idle_timeout=0.3, reply_timeout=0.5, max_reply_buffer=4 * 1024**2)
    return evolve(config, limits=limits)


async def test_an_idle_connection_is_closed_and_a_busy_one_is_not(port, raw):
    quiet = await RawClient.connect(port)
    for _ in range(5):  # well past the idle timeout in all, but never silent that long
        assert await raw.command("PING") == SimpleString("PONG")
        await trio.sleep(0.1)
    assert await quiet.is_closed()
    assert await raw.command("PING") == SimpleString("PONG")
    await quiet.aclose()


async def test_a_client_that_does_not_read_its_replies_is_disconnected(port, raw):
    assert await raw.command("SET", "big", "x" * 1_000_000) == OK
    lazy = socket.create_connection(("127.0.0.1", port))
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lazy.sendall(b"GET big\r\n" * 3)  # 3 MB of replies that nobody reads: more than the sockets hold
    with trio.fail_after(IO_TIMEOUT):
        while True:  # once disconnected, reading what was sent ends (or the peer reset it)
            try:
                data = await trio.to_thread.run_sync(lazy.recv, 1 << 20)
            except ConnectionResetError:
                break
            if not data:
                break
            await trio.sleep(0.6)  # read slower than the server's patience
    lazy.close()
    fresh = await RawClient.connect(port)  # (raw has been idle longer than the idle timeout)
    assert await fresh.command("GET", "big") == b"x" * 1_000_000, "the others are served"
    await fresh.aclose()


async def test_a_batch_of_replies_over_the_buffer_limit_closes_the_connection(port, raw):
    assert await raw.command("SET", "big", "x" * 1_000_000) == OK
    greedy = await RawClient.connect(port)
    await greedy.send(b"GET big\r\n" * 5)  # 5 MB of replies at once, over the 4 MB limit
    assert await greedy.is_closed()
    await greedy.aclose()
    fresh = await RawClient.connect(port)
    assert await fresh.command("PING") == SimpleString("PONG")
    await fresh.aclose()
