"""Hostile input over real TCP: fuzzed frames, protocol.tcl's bad framings, floods, slow senders.

Through all of it a canary client keeps writing and reading: it never sees an error, and the
server never dies.
"""

from __future__ import annotations

import resource
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import CommandError
from protocol.replies import SimpleString
from support import IO_TIMEOUT, RawClient, ServerOnPort, resp_command

pytestmark = pytest.mark.slow

OK = SimpleString("OK")

VALID_FRAMES = [
    resp_command("SET", "k", "v", "FROM", "fuzz"),
    resp_command("GET", "k", "FROM", "fuzz"),
    resp_command("HSET", "h", '{"a": [1, 2]}', "FROM", "fuzz", "TTL", "5m"),
    resp_command("MULTI"),
    resp_command("EXEC"),
    resp_command("TAKE", "FROM", "fuzz", "COUNT", "3"),
    b"SET k2 {\"x\": 1} FROM fuzz\r\n",
    b"PING\r\n",
]


def mutated(frame: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """``frame`` with bytes replaced, dropped or duplicated at positions given by ``edits``."""
    data = bytearray(frame)
    for kind, position, value in edits:
        if not data:
            break
        i = position % len(data)
        if kind == 0:
            data[i] = value
        elif kind == 1:
            del data[i]
        else:
            data[i:i] = bytes((value,)) * (1 + value % 7)
    return bytes(data)


edits = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 255)), max_size=6)
payloads = st.one_of(
    st.binary(max_size=400),
    st.builds(mutated, st.sampled_from(VALID_FRAMES), edits),
    st.lists(st.builds(mutated, st.sampled_from(VALID_FRAMES), edits), max_size=5).map(b"".join),
)


async def canary_round(canary: RawClient, n: int) -> None:
    assert await canary.command("SET", "canary", f"v{n}", "FROM", "canary") == OK
    assert await canary.command("GET", "canary", "FROM", "canary") == f"v{n}".encode()


@pytest.fixture(scope="module")
def server_process(tmp_path_factory) -> Iterator[tuple[subprocess.Popen, int]]:
    """A real ``mi serve`` for the fuzz test (hypothesis runs its examples outside Trio)."""
    server = ServerOnPort(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        yield server.proc, server.port
    finally:
        server.kill()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def canary(port: int, n: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(resp_command("SET", "canary", f"v{n}", "FROM", "canary") + resp_command("GET", "canary", "FROM", "canary"))
        expected = b"+OK\r\n$%d\r\nv%d\r\n" % (len(f"v{n}"), n)
        received = b""
        while len(received) < len(expected):
            chunk = sock.recv(4096)
            assert chunk, f"the canary's connection closed after {received!r}"
            received += chunk
        assert received == expected


def send_and_drain(port: int, chunks: list[bytes]) -> None:
    """Send the chunks (each its own write); read whatever comes back until quiet or closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
            sock.settimeout(0.05)  # a reply, a protocol error, or nothing: any is fine
            while sock.recv(65536):
                pass
        except (TimeoutError, ConnectionError):
            pass  # quiet, or the server closed a connection that sent garbage: what it should do


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads, cuts=st.lists(st.integers(0, 400), max_size=4))
def test_fuzzed_frames_never_hurt_the_server_or_a_canary(server_process, payload, cuts):
    proc, port = server_process
    positions = sorted({c % (len(payload) + 1) for c in cuts} | {0, len(payload)})
    send_and_drain(port, [payload[a:b] for a, b in zip(positions, positions[1:], strict=False) if b > a])
    canary(port, len(payload))
    assert proc.poll() is None, "the server died"
    assert rss_mb(proc.pid) < 300, "memory stays bounded"


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"*3000000000\r\n", "invalid multibulk length"),  # out of range
        (b"*20000000\r\n", "invalid multibulk length"),  # a huge count, no data behind it
        (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "invalid bulk length"),  # a negative length
        (b"*1\r\n$3000000000\r\n", "invalid bulk length"),  # out of range
        (b"*1\r\n$3\r\nfooXX", "expected"),  # no CRLF after the data
        (b"*1\r\nfoo\r\n", "expected '$'"),
    ],
)
async def test_protocol_tcl_bad_framings_answer_an_error_and_close(port, raw, frame, error):
    bad = await RawClient.connect(port)
    await bad.send(frame)
    reply = await bad.read_reply()
    assert isinstance(reply, CommandError) and "Protocol error" in reply.message and error in reply.message
    assert await bad.is_closed()
    await canary_round(raw, 1)


async def test_a_negative_count_is_an_empty_request_as_in_redis(raw):
    await raw.send(b"*-10\r\n")
    assert await raw.command("PING") == SimpleString("PONG")


async def test_ten_megabytes_without_a_newline_are_refused_early(port, raw):
    flood = await trio.open_tcp_stream("127.0.0.1", port)
    received = b""
    try:
        for _ in range(160):  # 10 MB in 64 kB writes; the server stops reading after its inline limit
            await flood.send_all(b"a" * 65536)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    with trio.fail_after(IO_TIMEOUT):
        try:
            while chunk := await flood.receive_some(65536):
                received += chunk
        except trio.BrokenResourceError:
            pass
    await flood.aclose()
    assert received.startswith(b"-ERR Protocol error: too big inline request")
    await canary_round(raw, 2)


async def test_slow_senders_do_not_slow_the_others(port, raw):
    """Fifty slowloris connections trickle a command a byte at a time; the canary is unaffected."""
    command = resp_command("SET", "slow", "x" * 100)

    async def trickle(stream: trio.SocketStream) -> None:
        for i in range(len(command) - 1):  # never the last byte
            await stream.send_all(command[i : i + 1])
            await trio.sleep(0.02)

    streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(50)]
    async with trio.open_nursery() as nursery:
        for stream in streams:
            nursery.start_soon(trickle, stream)
        for n in range(100):
            await canary_round(raw, n)
        nursery.cancel_scope.cancel()
    for stream in streams:
        await stream.aclose()
    assert await raw.command("GET", "slow") is None, "no trickled command was ever complete"


async def test_a_thousand_connections_at_once(server, port, raw):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2200:
        pytest.skip(f"needs 2200 file descriptors (client and server share this process), hard limit {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2200), hard))
    answered = 0
    release = trio.Event()

    async def one() -> None:
        nonlocal answered
        client = await RawClient.connect(port)
        try:
            assert await client.command("PING") == SimpleString("PONG")
            answered += 1
            await release.wait()  # every connection stays open until all are answered
        finally:
            await client.aclose()

    try:
        async with trio.open_nursery() as nursery:
            for _ in range(1000):
                nursery.start_soon(one)
            with trio.fail_after(IO_TIMEOUT * 3):
                while answered < 1000:
                    await trio.sleep(0.01)
            assert len(server.state.sessions) == 1001  # and raw
            await canary_round(raw, 3)
            release.set()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
