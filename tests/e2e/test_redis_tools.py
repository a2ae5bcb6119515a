"""Redis's own tools read mi (issue 19 part 2): redis-cli --stat, --bigkeys, --memkeys, --scan and
its interactive hints, redis-py's INFO parsing, COMMAND DOCS, redis-benchmark; and TIME, LASTSAVE.

One server (a process, as the tools see it) holds a known dataset for the whole module; the
tools only read it, and redis-benchmark writes in a namespace of its own (``--dbnum 9``).
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from storage.records import HEADER
from support import IO_TIMEOUT, ServerOnPort

pytestmark = pytest.mark.skipif(not shutil.which("redis-cli"), reason="needs redis-cli (apt: redis-tools)")

BIG = b"x" * 3000
DATASET = {  # namespace -> the keys written there (redis-py, RESP2)
    "default": ["greeting", "big", "count", "flag", "order:1", "tags", "queue"],
    "shop": ["cart:1", "cart:2"],
    "db3": ["k"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerOnPort]:
    root = tmp_path_factory.mktemp("tools")
    server = ServerOnPort(root / "data", "--durability", "relaxed", env={"MI_SNAPSHOTS_DIR": str(root / "snaps")})
    client = redis.Redis(port=server.port, socket_timeout=IO_TIMEOUT)
    client.set("greeting", "hello")
    client.set("big", BIG)
    client.execute_command("SET", "count", "12", "TTL", "1h")
    client.execute_command("SET", "flag", "true", "AS", "BOOL")
    client.execute_command("HSET", "order:1", '{"item": "book", "qty": 2}')
    client.execute_command("LSET", "tags", '["new", "sale", "gift"]')
    client.rpush("queue", "a", "b")
    client.execute_command("SET", "cart:1", "x", "FROM", "shop", "EX", "100")
    client.execute_command("SET", "cart:2", "y", "FROM", "shop")
    client.execute_command("SET", "k", "v", "FROM", "3")
    client.close()
    yield server
    server.stop()


@pytest.fixture
def r(server: ServerOnPort) -> Iterator[redis.Redis]:
    client = redis.Redis(port=server.port, socket_timeout=IO_TIMEOUT)
    yield client
    client.close()


def cli(server: ServerOnPort, *args: str) -> str:
    done = subprocess.run(["redis-cli", "-p", str(server.port), *args], capture_output=True, text=True,
                          timeout=IO_TIMEOUT, check=True)  # fmt: skip
    return done.stdout


def on_terminal(argv: list[str], wanted: bytes, typed: bytes = b"") -> re.Match[bytes]:
    """Run ``argv`` on a terminal (200 columns), type ``typed`` once its prompt shows, and read its
    screen until ``wanted`` (a regex) shows; then stop it. For what redis-cli only does on a
    terminal, or forever (``--stat``), and prints line by line there."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of known width, then the tool
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.execvp(argv[0], argv)
    screen, give_up = b"", time.monotonic() + IO_TIMEOUT
    try:
        while not (found := re.search(wanted, screen)):
            assert time.monotonic() < give_up, f"never showed {wanted!r}: {screen[-500:]!r}"
            if select.select([fd], [], [], 0.1)[0]:
                screen += os.read(fd, 65536)
            if typed and screen.endswith(b"> "):  # the prompt: redis-cli reads keys from now on
                os.write(fd, typed)
                typed = b""
        return found
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


# --- redis-cli's modes ----------------------------------------------------------------------------


def test_stat_shows_every_namespaces_keys_and_the_memory_used(server):
    """--stat's first row: the keys of all namespaces, used_memory in human units, our client."""
    row = on_terminal(["redis-cli", "-p", str(server.port), "--stat", "-i", "0.2"],
                      rb"\n(\d+) +([\d.]+)([BKMG]) +(\d+) +(\d+) +(\d+) \(\+\d+\) +(\d+)")  # fmt: skip
    keys, memory, unit, clients, blocked = int(row[1]), float(row[2]), row[3], int(row[4]), int(row[5])
    assert keys == sum(len(names) for names in DATASET.values())
    assert unit in (b"M", b"G") and memory > 1, "a Python process's heap is megabytes"
    assert clients >= 1 and blocked == 0


def test_bigkeys_finds_the_biggest_string_and_list_and_counts_each_type(server):
    """--bigkeys sizes strings (STRLEN), lists (LLEN), hashes (HLEN); mi's own types are counted."""
    out = cli(server, "--bigkeys")
    assert f"Sampled {len(DATASET['default'])} keys in the keyspace!" in out
    assert "Biggest string found '\"big\"' has 3000 bytes" in out
    assert "Biggest   list found '\"tags\"' has 3 items" in out
    assert "2 strings with 3005 bytes" in out  # greeting (5) + big (3000)
    assert "2 lists with 5 items" in out  # tags (3) + queue (2)
    assert "1 jsons with" in out and "1 integers with" in out and "1 booleans with" in out


def test_memkeys_gives_every_key_its_stored_bytes(server, r):
    """--memkeys asks MEMORY USAGE of every key, mi's own types included."""
    out = cli(server, "--memkeys")
    usage = {name: r.memory_usage(name) for name in DATASET["default"]}
    assert f"Biggest string found '\"big\"' has {usage['big']} bytes" in out
    assert f"Biggest   json found '\"order:1\"' has {usage['order:1']} bytes" in out
    assert f"2 strings with {usage['greeting'] + usage['big']} bytes" in out


def test_scan_lists_the_namespaces_keys_and_matches_a_pattern(server):
    """--scan walks SCAN to the end; -n picks the namespace as it picks a Redis database."""
    assert sorted(cli(server, "--scan").split()) == sorted(DATASET["default"])
    assert cli(server, "--scan", "--pattern", "order:*").split() == ["order:1"]
    assert cli(server, "-n", "3", "--scan").split() == ["k"]


def test_interactive_redis_cli_shows_argument_hints_from_command_docs(server):
    """Typing SET k v shows the rest of SET's syntax, read from COMMAND DOCS."""
    hint = on_terminal(["redis-cli", "-p", str(server.port)], rb"SET k v \x1b\[[0-9;]*m(.*?)\x1b\[0m", b"SET k v ")
    assert hint[1].decode() == (
        "[FROM ns] [TTL duration|EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds"
        "|KEEPTTL] [NX|XX] [GET] [AS STRING|INT|BOOL]"
    )


# --- what redis-py reads --------------------------------------------------------------------------


def test_redis_py_parses_every_info_line_and_the_keyspace_into_dicts(r):
    """INFO's fields parse; each namespace is a dbN line whose ns= names it (default is db0)."""
    info = r.info()
    assert "__raw__" not in info, "every line parsed"
    assert info["used_memory"] > 0 and info["used_memory_human"].endswith(("K", "M", "G"))
    assert info["used_memory_rss"] >= info["used_memory"] and info["used_memory_dataset"] > len(BIG)
    assert info["maxmemory"] == 0 and info["maxmemory_policy"] == "noeviction"
    keyspace = r.info("keyspace")
    assert set(keyspace) == {"db0", "db1", "db3"}
    assert keyspace["db0"] == {"keys": 7, "expires": 1, "avg_ttl": keyspace["db0"]["avg_ttl"], "ns": "default"}
    assert 0 < keyspace["db0"]["avg_ttl"] <= 3_600_000, "milliseconds left, as Redis"
    assert (keyspace["db1"]["ns"], keyspace["db1"]["keys"], keyspace["db1"]["expires"]) == ("shop", 2, 1)
    assert keyspace["db3"]["ns"] == "db3", "SELECT 3 reaches what db3 shows"


def test_command_docs_gives_set_its_arguments_in_redis_7s_shape(r):
    """Names, types, tokens, flags and nested choices, as redis-cli and client generators read them."""
    arguments = {arg[b"name"]: arg for arg in command_docs(r, "set")[b"set"][b"arguments"]}
    assert arguments[b"key"][b"type"] == b"key"
    assert arguments[b"ns"] == {b"name": b"ns", b"type": b"string", b"display_text": b"ns", b"token": b"FROM",
                                b"flags": [b"optional"]}  # fmt: skip
    ttl = next(arg for arg in arguments.values() if arg[b"type"] == b"oneof" and arg[b"name"].startswith(b"ttl"))
    assert [sub[b"token"] for sub in ttl[b"arguments"]] == [b"TTL", b"EX", b"PX", b"EXAT", b"PXAT", b"KEEPTTL"]
    assert [sub[b"type"] for sub in ttl[b"arguments"]][:2] == [b"string", b"integer"]


def test_command_docs_lists_a_containers_subcommands(r):
    """CLIENT's docs hold each subcommand's, as Redis 7's do."""
    client = command_docs(r, "client")[b"client"]
    pause = client[b"subcommands"][b"client|pause"]
    timeout, choice = pause[b"arguments"]
    assert timeout[b"name"] == b"timeout"
    assert [sub[b"token"] for sub in choice[b"arguments"]] == [b"WRITE", b"ALL"]


def command_docs(r: redis.Redis, *names: str) -> dict:
    """COMMAND DOCS as sent (redis-py would read it as COMMAND's reply), RESP2 lists made dicts."""
    connection = redis.Connection(port=r.connection_pool.connection_kwargs["port"], socket_timeout=IO_TIMEOUT)
    try:
        connection.send_command("COMMAND", "DOCS", *names)
        return _as_maps(connection.read_response())
    finally:
        connection.disconnect()


def _as_maps(reply):
    """RESP2's flat [name, value, ...] lists as dicts, all the way down (flags stay a list)."""
    if isinstance(reply, list) and len(reply) % 2 == 0 and all(isinstance(k, bytes) for k in reply[::2]) and reply:
        if reply[0] in (b"optional", b"multiple"):
            return reply
        return {key: _as_maps(value) for key, value in zip(reply[::2], reply[1::2], strict=True)}
    if isinstance(reply, dict):
        return {key: _as_maps(value) for key, value in reply.items()}
    if isinstance(reply, list):
        return [_as_maps(item) for item in reply]
    return reply


# --- MEMORY USAGE, TIME, LASTSAVE -----------------------------------------------------------------


def test_memory_usage_is_the_key_and_its_record_as_stored(r):
    """The key's bytes, the record's header and its value; nil for no key; FROM and SAMPLES read."""
    assert r.memory_usage("big") == len(b"big") + HEADER.size + len(BIG)
    assert r.memory_usage("big", samples=0) == r.memory_usage("big")
    assert r.execute_command("MEMORY", "USAGE", "cart:2", "FROM", "shop") == len(b"cart:2") + HEADER.size + 1
    assert r.memory_usage("missing") is None
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("MEMORY", "USAGE", "big", "SAMPLES", "-1")


def test_time_is_the_servers_clock_in_seconds_and_microseconds(r):
    """TIME: between the clock read just before and just after (same machine)."""
    before = time.time_ns() // 1000
    seconds, micros = r.time()
    after = time.time_ns() // 1000
    assert 0 <= micros < 1_000_000 and before <= seconds * 1_000_000 + micros <= after


def test_lastsave_is_the_start_then_the_last_snapshots_end(server, r):
    """LASTSAVE: the server's start before any snapshot, then when the snapshot finished."""
    started = int(r.lastsave().timestamp())
    start_from_uptime = time.time() - r.info("server")["uptime_in_seconds"]  # whole seconds, so within 2
    assert abs(started - start_from_uptime) <= 2, "the server's start, not a snapshot's end"
    r.execute_command("SNAPSHOT")
    saved = int(r.lastsave().timestamp())
    persistence = r.info("persistence")
    assert saved >= started and saved == persistence["last_snapshot_time"]
    assert persistence["rdb_last_save_time"] == saved and persistence["rdb_bgsave_in_progress"] == 0


def test_lastsave_stays_at_the_last_good_snapshot_after_one_fails(server, r):
    """A snapshot that fails (its target exists) leaves LASTSAVE at the last one that worked."""
    r.execute_command("SNAPSHOT")
    saved = int(r.lastsave().timestamp())
    taken = server.data_dir.parent / "snaps" / "taken"
    taken.mkdir(parents=True)
    (taken / "file").write_text("x")
    with pytest.raises(redis.ResponseError, match="already exists"):
        r.execute_command("SNAPSHOT", "TO", str(taken))
    assert r.info("persistence")["last_snapshot_status"] == "failed"
    assert int(r.lastsave().timestamp()) == saved


def test_save_and_bgsave_take_snapshots_redis_py_can_wait_for(server, r):
    """SAVE answers once the snapshot is complete; BGSAVE at once, and LASTSAVE moves when it is."""
    snapshots = server.data_dir.parent / "snaps"
    before = {path.name for path in snapshots.iterdir()}
    assert r.save() is True
    assert len({path.name for path in snapshots.iterdir()} - before) == 1
    saved = r.lastsave()
    while time.time() < saved.timestamp() + 1:  # LASTSAVE counts whole seconds: show a later one
        time.sleep(0.05)
    assert r.bgsave() is True
    deadline = time.monotonic() + IO_TIMEOUT
    while r.lastsave() == saved or r.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.monotonic() < deadline, "the background snapshot never finished"
        time.sleep(0.05)
    assert r.info("persistence")["last_snapshot_status"] == "ok"
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("BGSAVE", "NOW")


def test_wait_answers_no_replicas_at_once(r):
    assert r.wait(1, 0) == 0  # Redis would block: mi has no replicas to wait for
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.execute_command("WAIT", "0", "-1")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.execute_command("WAIT", "x", "0")


# --- redis-benchmark ------------------------------------------------------------------------------

needs_benchmark = pytest.mark.skipif(not shutil.which("redis-benchmark"), reason="needs redis-benchmark")
# What mi has of redis-benchmark's default suite: all but SADD, SPOP, ZADD, ZPOPMIN and XADD.
MI_TESTS = "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,hset,lrange_100,lrange_300,lrange_500,lrange_600,mset"


def benchmark(server: ServerOnPort, *args: str) -> tuple[int, list[str], str]:
    """Exit status, the test names of the rows printed, and what went to stderr."""
    done = subprocess.run(["redis-benchmark", "-p", str(server.port), "--dbnum", "9", "-n", "100", "-q", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    rows = re.findall(r"(?:^|\r|\n) *([A-Z_0-9]+(?: \(first 100 elements\)| \([^)]*\))?): [\d.]+ requests per second",
                      done.stdout)  # fmt: skip
    return done.returncode, [row.split()[0] for row in rows], done.stderr


@needs_benchmark
def test_benchmark_runs_every_test_of_its_suite_that_mi_has(server):
    """The strings, lists and hashes of the default suite, chosen with -t, all complete."""
    status, rows, stderr = benchmark(server, "-t", MI_TESTS)
    assert status == 0, stderr
    assert rows == ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "HSET",
                    "LPUSH", "LRANGE_100", "LRANGE_300", "LRANGE_500", "LRANGE_600", "MSET"]  # fmt: skip


@needs_benchmark
def test_the_default_suite_runs_until_its_first_set_command(server):
    """redis-benchmark exits at the first error reply: the default run ends at SADD, clearly."""
    status, rows, stderr = benchmark(server)
    assert rows == ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP"]
    assert status == 1 and "unknown command 'SADD'" in stderr
