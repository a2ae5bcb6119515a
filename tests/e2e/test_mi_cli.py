"""`mi cli` as a user runs it: one command from the shell, or lines typed (here, piped) in."""

from __future__ import annotations

import sys

import trio
from attrs import evolve

from mi.config import AuthConfig
from mi.server import serve
from mi.top import frame, parse_info
from support import RawClient, make_config

MI = [sys.executable, "-m", "mi.cli", "cli"]


async def mi_cli(port: int, *words: str, stdin: bytes = b"") -> tuple[int, str]:
    done = await trio.run_process([*MI, "--port", str(port), *words], stdin=stdin, capture_stdout=True,
                                  capture_stderr=True, check=False)
    return done.returncode, done.stdout.decode()


async def test_one_command_prints_its_reply_readably(port):
    assert await mi_cli(port, "HSET", "order", '{"total": 12, "items": ["a"]}', "FROM", "shop") == (0, "OK\n")
    status, out = await mi_cli(port, "GET", "order", "FROM", "shop")
    assert status == 0 and out == '{\n  "total": 12,\n  "items": [\n    "a"\n  ]\n}\n'
    await mi_cli(port, "LSET", "l", '[1, "two", true]')
    assert await mi_cli(port, "LRANGE", "l", "0", "-1") == (0, '1) (integer) 1\n2) "two"\n3) (true)\n')
    assert await mi_cli(port, "GET", "missing") == (0, "(nil)\n")


async def test_an_error_reply_exits_1(port):
    status, out = await mi_cli(port, "GET")
    assert status == 1 and out.startswith("(error) ERR wrong number of arguments for 'get' command")


async def test_lines_on_stdin_use_the_inline_syntax(port):
    lines = b'SET q "123"\nTYPE q\nSET r 123\nTYPE r\nHSET h {"k": "v w"}\nGET h\n'
    status, out = await mi_cli(port, stdin=lines)
    assert status == 0
    assert out.splitlines() == ["OK", "string", "OK", "integer", "OK", "{", '  "k": "v w"', "}"]


async def test_a_password_for_a_server_with_auth(nursery, tmp_path):
    config = evolve(make_config(tmp_path / "data"), auth=AuthConfig(requirepass="pw"))
    port = (await nursery.start(serve, config)).state.port
    assert (await mi_cli(port, "PING"))[1] == "PONG\n", "PING needs no password"
    assert (await mi_cli(port, "GET", "k"))[1].startswith("(error) NOAUTH")
    assert await mi_cli(port, "--password", "pw", "GET", "k") == (0, "(nil)\n")
    assert (await mi_cli(port, "--password", "bad", "GET", "k"))[0] == 1


async def test_mi_top_shows_the_busiest_commands_and_the_namespaces(port):
    async def load() -> None:  # until mi top has seen an interval
        client = await RawClient.connect(port)
        i = 0
        while True:
            await client.command("SET", f"k{i % 5}", "v", "FROM", "orders")
            i += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(load)
        done = await trio.run_process(
            [sys.executable, "-m", "mi.cli", "top", "--port", str(port), "--once", "--interval", "0.5"],
            capture_stdout=True, check=False,
        )
        nursery.cancel_scope.cancel()
    assert done.returncode == 0
    view = done.stdout.decode()
    assert view.startswith(f"mi 127.0.0.1:{port}  up ") and "ops/s" in view
    rows = {line.split()[0]: line.split() for line in view.splitlines() if line and line.split()[0] in ("set", "orders")}
    assert float(rows["set"][1].replace(",", "")) > 0, "SETs ran during the interval"
    assert rows["orders"][1] == "5"


def test_mi_top_shows_latency_over_the_interval_not_since_start():
    """1000 slow GETs before the interval, 100 fast ones in it: the interval's p50 and p99 are the fast ones'."""
    before = parse_info("cmdstat_get:calls=1000,usec=50000000,failed_calls=0\r\n"
                        "latency_histogram_usec_get:calls=1000,53817.0=1000\r\n")
    after = parse_info("cmdstat_get:calls=1100,usec=50000950,failed_calls=0\r\n"
                       "latency_histogram_usec_get:calls=1100,9.5=100,53817.0=1000\r\n")
    row = next(line.split() for line in frame("here", before, after, 1.0).splitlines() if line.startswith("get "))
    assert row[:4] == ["get", "100", "0.01", "0.01"]


async def test_info_all_has_each_commands_latency_histogram(raw):
    """The calls per latency bucket that mi top takes the difference of."""
    for _ in range(3):
        await raw.command("PING")
    text = (await raw.command("INFO", "all")).decode()
    line = next(line for line in text.splitlines() if line.startswith("latency_histogram_usec_ping:"))
    buckets = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
    assert buckets.pop("calls") == "3" and sum(int(count) for count in buckets.values()) == 3
