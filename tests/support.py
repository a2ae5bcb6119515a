"""Test helpers: a server config on a temp dir, a raw RESP client, redis-py from Trio."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis
import trio
from attrs import evolve

from mi.settings.config import Config, load_config
from protocol.encoder import encode_request
from protocol.parser import NEED_DATA
from protocol.reader import ReplyReader
from protocol.replies import SimpleString
from storage import shard_index

IO_TIMEOUT = 10  # seconds: a guard against hangs, never a timing assumption


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerOnPort:
    """`mi serve` as a process, on a port chosen here (so a restart keeps it), its logs discarded:
    for tests whose client is not Trio (Hypothesis, blocking clients)."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data_dir, self.extra, self.port = data_dir, extra, free_port()
        self.env = {**os.environ, **(env or {})}
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mi.tools.cli", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--log-level", "warning", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env,
        )
        give_up = time.monotonic() + IO_TIMEOUT * 3
        while True:  # until it listens (a guard, not a timing assumption)
            assert self.proc.poll() is None, "the server exited before listening"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < give_up, "the server never listened"
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown."""
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def make_config(data_dir: Path, **storage: Any) -> Config:
    """Defaults, on a temp data dir, any free port, small map so tests stay light, and 4 shards
    (not the default 1) so that everything runs across shards."""
    config = load_config(Path(__file__).parent.parent / "conf" / "mi.toml", environ={})
    config = evolve(config, server=evolve(config.server, port=0))
    # SNAPSHOT TO writes only inside the snapshot dir: the test's own temp dir, beside the data.
    config = evolve(config, snapshots=evolve(config.snapshots, dir=str(data_dir.parent)))
    return evolve(
        config,
        storage=evolve(config.storage, data_dir=str(data_dir), **{"max_db_size": 1 << 30, "shards": 4, **storage}),
    )


def keys_on_every_shard(shards: int) -> list[str]:
    """One key per shard, in shard order (for transactions that must span them all)."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < shards:
        found.setdefault(shard_index(f"gen{i}".encode(), shards), f"gen{i}")
        i += 1
    return [found[shard] for shard in range(shards)]


async def wait_reaped(server: Any, count: int) -> None:
    """Until the server's reaper has deleted ``count`` records in all (polled under a guard)."""
    with trio.fail_after(IO_TIMEOUT):
        while server.state.reaper.reaped < count:
            await trio.sleep(0.01)


async def wait_blocked(server: Any, count: int) -> None:
    """Until exactly ``count`` clients are blocked (INFO's blocked_clients: a blocking pop, TAKE ...
    BLOCK or a CLIENT PAUSE hold), polled under a guard."""
    with trio.fail_after(IO_TIMEOUT):
        while server.state.blocked_clients != count:
            await trio.sleep(0.005)


resp_command = encode_request  # a request as a RESP array of bulk strings, as clients send it


class RawClient:
    """A raw TCP client: send exact bytes, read decoded replies."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.reader = ReplyReader()

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def read_reply(self) -> Any:
        with trio.fail_after(IO_TIMEOUT):
            while (reply := self.reader.next_reply()) is NEED_DATA:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError("server closed the connection")
                self.reader.receive_data(data)
            return reply

    async def command(self, *args: bytes | str | int) -> Any:
        await self.send(resp_command(*args))
        return await self.read_reply()

    async def inline(self, line: bytes) -> Any:
        await self.send(line + b"\r\n")
        return await self.read_reply()

    async def is_closed(self) -> bool:
        """True when the server has closed its side (reads reach end of stream)."""
        with trio.fail_after(IO_TIMEOUT):
            return await self.stream.receive_some(65536) == b""

    async def aclose(self) -> None:
        await self.stream.aclose()


class ThreadedRedis:
    """redis-py, a real third-party client, called from Trio through worker threads."""

    def __init__(self, port: int, **options: Any) -> None:
        self.client = redis.Redis(
            host="127.0.0.1", port=port, socket_timeout=IO_TIMEOUT, **options
        )

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await trio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

        return call

    async def on_one_connection(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Run ``commands`` in order on a single pooled connection (for connection state)."""

        def run() -> list[Any]:
            pool = self.client.connection_pool
            connection = pool.get_connection()
            try:
                replies = []
                for command in commands:
                    connection.send_command(*command)
                    replies.append(connection.read_response())
                return replies
            finally:
                pool.release(connection)

        return await trio.to_thread.run_sync(run)


def as_map(reply: Any) -> dict:
    """A map reply: a dict in RESP3, a flat list of keys and values in RESP2."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


class Canary:
    """Another client, pinging the server over its own connection while a test does something
    hostile: ``worst`` is the longest time between two of its replies, so a request that stalls
    every client shows (in an in-process server too, where a blocked event loop stops both)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.rounds = 0


@contextlib.asynccontextmanager
async def canary(port: int, interval: float = 0.01) -> AsyncIterator[Canary]:
    """Ping ``port`` every ``interval`` until the block ends; the block asserts on ``worst``."""
    stats = Canary()
    client = await RawClient.connect(port)

    async def ping_forever() -> None:
        last = time.perf_counter()
        while True:
            assert await client.command("PING") == SimpleString("PONG")
            now = time.perf_counter()
            stats.worst, last = max(stats.worst, now - last), now
            stats.rounds += 1
            await trio.sleep(interval)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ping_forever)
            yield stats
            nursery.cancel_scope.cancel()
    finally:
        await client.aclose()
