"""`mi cli` as a user runs it: one command from the shell, or lines typed (here, piped) in."""

from __future__ import annotations

import os
import pty
import sys

import trio
import trustme
from attrs import evolve

from mi.settings.config import AuthConfig, TlsConfig
from mi.core.server import serve
from mi.tools.top import frame, parse_info
from support import RawClient, make_config

MI = [sys.executable, "-m", "mi.tools.cli", "cli"]


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
            [sys.executable, "-m", "mi.tools.cli", "top", "--port", str(port), "--once", "--interval", "0.5"],
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


def test_mi_top_after_a_resetstat_counts_from_zero():
    """CONFIG RESETSTAT between two samples: the interval is what came after it, never negative."""
    before = parse_info("cmdstat_get:calls=1000,usec=50000000,failed_calls=0\r\n"
                        "latency_histogram_usec_get:calls=1000,53817.0=1000\r\n")
    after = parse_info("cmdstat_get:calls=40,usec=380,failed_calls=0\r\n"
                       "latency_histogram_usec_get:calls=40,9.5=40\r\n")
    row = next(line.split() for line in frame("here", before, after, 1.0).splitlines() if line.startswith("get "))
    assert row[:4] == ["get", "40", "0.01", "0.01"]


async def test_info_all_has_each_commands_latency_histogram(raw):
    """The calls per latency bucket that mi top takes the difference of."""
    for _ in range(3):
        await raw.command("PING")
    text = (await raw.command("INFO", "all")).decode()
    line = next(line for line in text.splitlines() if line.startswith("latency_histogram_usec_ping:"))
    buckets = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
    assert buckets.pop("calls") == "3" and sum(int(count) for count in buckets.values()) == 3


async def test_raw_prints_bare_values_one_a_line_for_scripts(port):
    await mi_cli(port, "HSET", "order", '{"total": 12}', "FROM", "shop")
    await mi_cli(port, "LSET", "l", '["a b", 2, true]', "FROM", "shop")
    assert await mi_cli(port, "--raw", "GET", "order", "FROM", "shop") == (0, '{"total": 12}\n')
    assert await mi_cli(port, "--raw", "LRANGE", "l", "0", "-1", "FROM", "shop") == (0, "a b\n2\ntrue\n")
    assert await mi_cli(port, "--raw", "GET", "missing") == (0, "\n")
    assert await mi_cli(port, "--raw", "DEL", "order", "FROM", "shop") == (0, "1\n")
    status, out = await mi_cli(port, "--raw", "GET")
    assert status == 1 and out.startswith("ERR wrong number of arguments")


async def test_help_lists_the_commands_and_shows_a_commands_syntax(port):
    status, out = await mi_cli(port, "help", "SET")
    assert status == 0 and out.splitlines()[0].startswith("SET key value")
    status, out = await mi_cli(port, stdin=b"help\nhelp take\n")
    assert status == 0 and "TAKE" in out and "TAKE [FROM ns]" in out


async def test_version_from_mi_and_python_m_mi():
    for command in ([*MI, "--version"], [sys.executable, "-m", "mi", "--version"]):
        done = await trio.run_process(command, capture_stdout=True)
        assert done.stdout.decode().startswith("mi ") and done.stdout.decode().strip()[-1].isdigit()


async def test_the_prompt_shows_the_selected_namespace(port, tmp_path):
    """In a terminal, as redis-cli shows `[3]` after SELECT 3."""
    controller, terminal = pty.openpty()
    os.set_blocking(controller, False)
    process = await trio.lowlevel.open_process(
        [*MI, "--port", str(port)], stdin=terminal, stdout=terminal, stderr=terminal,
        env={**os.environ, "HOME": str(tmp_path)},  # its history file
    )
    os.close(terminal)
    seen = bytearray()

    async def until(text: bytes) -> None:
        with trio.fail_after(10):
            while text not in seen:
                await trio.lowlevel.wait_readable(controller)
                seen.extend(os.read(controller, 4096))

    try:
        await until(f"127.0.0.1:{port}> ".encode())
        os.write(controller, b"SELECT orders\r")
        await until(f"127.0.0.1:{port}[orders]> ".encode())
        os.write(controller, b"quit\r")
        with trio.fail_after(10):
            assert await process.wait() == 0
    finally:
        process.kill()
        os.close(controller)


async def test_a_tls_port_without_tls_gets_a_message_not_a_traceback(nursery, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    tls = TlsConfig(cert=str(tmp_path / "server.crt"), key=str(tmp_path / "server.key"))
    port = (await nursery.start(serve, evolve(make_config(tmp_path / "data"), tls=tls))).state.port
    done = await trio.run_process([*MI, "--port", str(port), "PING"], capture_stdout=True, capture_stderr=True,
                                  check=False)
    error = done.stderr.decode()
    assert done.returncode == 1 and "--tls" in error and "Traceback" not in error
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    done = await trio.run_process([*MI, "--port", str(port), "--tls", "--cacert", str(tmp_path / "ca.pem"), "PING"],
                                  capture_stdout=True, check=False)
    assert (done.returncode, done.stdout) == (0, b"PONG\n")
