"""The server's life cycle: start, graceful shutdown, restart on the same data."""

import trio

from mi.core.server import Server
from protocol.replies import SimpleString
from support import RawClient, make_config, resp_command


async def test_graceful_shutdown_answers_what_was_received(tmp_path):
    """Commands already received when shutdown starts are committed and answered."""
    config = make_config(tmp_path / "data")
    server = Server(config)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        client = await RawClient.connect(port)
        await client.send(b"".join(resp_command("SET", f"k{i}", "v") for i in range(100)))
        first = await client.read_reply()
        server.request_shutdown()
        replies = [first] + [await client.read_reply() for _ in range(99)]
        assert replies == [SimpleString("OK")] * 100
        assert await client.is_closed()
    # run() has returned: the store is closed. Reopen it and find every write.
    server = Server(config)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        client = await RawClient.connect(port)
        assert await client.command("DBSIZE") == 100
        server.request_shutdown()


async def test_idle_connections_are_closed_on_shutdown(tmp_path):
    """A connection waiting for input is closed when the server stops, so shutdown is prompt."""
    server = Server(make_config(tmp_path / "data"))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        idle = await RawClient.connect(port)
        assert await idle.command("PING") == SimpleString("PONG")
        server.request_shutdown()
        assert await idle.is_closed()


async def test_new_connections_are_refused_after_shutdown(tmp_path):
    """Once stopped, the port no longer accepts connections."""
    server = Server(make_config(tmp_path / "data"))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        server.request_shutdown()
    try:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
    except OSError:
        return
    await stream.aclose()
    raise AssertionError("connection accepted after shutdown")
