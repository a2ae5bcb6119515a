"""What the server tells operators: INFO figures moving as commands run, SLOWLOG, CLIENT, MONITOR."""

from __future__ import annotations

import time

import pytest
import trio
from attrs import evolve
from structlog.testing import capture_logs

from mi.policy.auth import hash_password
from mi.settings.config import AuthConfig, UserConfig
from mi.core.server import serve
from protocol import CommandError
from protocol.replies import SimpleString
from storage import Shard
from support import RawClient, make_config, resp_command

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    config = make_config(tmp_path / "data")
    return evolve(config, slowlog=evolve(config.slowlog, threshold=0.0, max_len=3))  # everything is slow


def fields(text: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line and not line.startswith("#"))


async def test_commandstats_latencystats_and_errorstats_count_what_ran(raw):
    before = fields(await raw.command("INFO", "all"))
    for i in range(5):
        assert await raw.command("SET", f"k{i}", "v") == OK
    await raw.command("GET", "k1")
    assert isinstance(await raw.command("GET"), CommandError)  # wrong arity: a failed call
    assert isinstance(await raw.command("NOSUCH"), CommandError)
    after = fields(await raw.command("INFO", "all"))
    set_stats = dict(part.split("=") for part in after["cmdstat_set"].split(","))
    assert set_stats["calls"] == "5" and int(set_stats["usec"]) > 0 and set_stats["failed_calls"] == "0"
    assert "calls=2" in after["cmdstat_get"] and "failed_calls=1" in after["cmdstat_get"]
    assert "cmdstat_nosuch" not in after, "unknown names get no table of their own"
    assert int(after["errorstat_ERR"].split("=")[1]) >= 2
    latency = dict(part.split("=") for part in after["latency_percentiles_usec_set"].split(","))
    assert 0 < float(latency["p50"]) <= float(latency["p99"]) <= float(latency["p99.9"])
    counted = int(after["total_commands_processed"]) - int(before["total_commands_processed"])
    assert counted == 9, "the 8 commands, and the first INFO (counted once it had answered)"
    assert int(after["shard0_commits"]) + int(after["shard1_commits"]) + int(after["shard2_commits"]) + int(after["shard3_commits"]) >= 5


async def test_default_info_leaves_out_the_per_command_sections(raw):
    text = (await raw.command("INFO")).decode()
    assert "# Persistence" in text and "# Memory" in text and "durability:strict" in text
    assert "# Commandstats" not in text and "# Latencystats" not in text
    memory = fields(await raw.command("INFO", "memory"))
    assert int(memory["used_memory_rss"]) > 0 and int(memory["shard0_map_size"]) > 0


async def test_slowlog_keeps_the_newest_slow_commands(raw):
    assert await raw.command("SLOWLOG", "RESET") == OK
    for i in range(5):
        await raw.command("SET", f"key{i}", "x" * 300)
    entries = await raw.command("SLOWLOG", "GET", "-1")  # newest first; at most max_len kept
    assert [entry[3][1] for entry in entries] == [b"key4", b"key3", b"key2"]
    entry_id, timestamp, usec, args, peer, name = entries[0]
    assert args[0] == b"SET" and args[2].endswith(b"... (172 more bytes)")
    assert usec >= 0 and timestamp > 0 and peer.startswith(b"127.0.0.1:")
    assert [entry[0] for entry in entries] == sorted((e[0] for e in entries), reverse=True)
    assert len(await raw.command("SLOWLOG", "GET", "1")) == 1
    assert await raw.command("SLOWLOG", "LEN") == 3
    assert await raw.command("SLOWLOG", "RESET") == OK
    assert await raw.command("SLOWLOG", "LEN") == 1, "the RESET itself was slow"


async def test_client_list_and_kill(port, raw):
    other = await RawClient.connect(port)
    assert await other.command("CLIENT", "SETNAME", "victim") == OK
    lines = (await raw.command("CLIENT", "LIST")).decode().splitlines()
    assert len(lines) == 2 and any("name=victim" in line and "user=default" in line for line in lines)
    victim = await other.command("CLIENT", "ID")
    assert await raw.command("CLIENT", "KILL", "ID", victim) == 1
    assert await other.is_closed()
    await other.aclose()
    assert await raw.command("CLIENT", "KILL", "ID", 9999) == 0
    assert isinstance(await raw.command("CLIENT", "KILL", "10.0.0.1:1"), CommandError)
    assert await raw.command("CLIENT", "NO-EVICT", "on") == OK
    assert len((await raw.command("CLIENT", "LIST")).decode().splitlines()) == 1


async def test_monitor_streams_every_command_of_the_others(port, raw):
    watcher = await RawClient.connect(port)
    await watcher.send(resp_command("MONITOR"))
    assert await watcher.read_reply() == OK
    await raw.command("SET", "k", 'say "hi"', "FROM", "orders")
    await raw.command("GET", "k", "FROM", "orders")
    first, second = (await watcher.read_reply()).text, (await watcher.read_reply()).text
    assert first.split(" ", 1)[1].startswith("[0 127.0.0.1:")  # default is database 0, as Redis shows it
    assert first.endswith('] "SET" "k" "say \\"hi\\"" "FROM" "orders"')
    assert second.endswith('"GET" "k" "FROM" "orders"')
    await raw.command("SELECT", "orders")
    await raw.command("PING")
    await watcher.read_reply()  # the SELECT
    assert (await watcher.read_reply()).text.split(" ", 1)[1].startswith("[orders 127.0.0.1:")  # a name has no number
    await watcher.aclose()
    assert await raw.command("PING") == SimpleString("PONG")


async def test_monitor_can_leave_the_values_out(nursery, tmp_path):
    config = make_config(tmp_path / "data")
    config = evolve(config, server=evolve(config.server, monitor_values=False))
    port = (await nursery.start(serve, config)).state.port
    watcher, writer = await RawClient.connect(port), await RawClient.connect(port)
    await watcher.send(resp_command("MONITOR"))
    assert await watcher.read_reply() == OK
    await writer.command("SET", "card", "4111-1111-1111-1111", "FROM", "payments")
    line = (await watcher.read_reply()).text
    assert line.endswith('"SET" "card" "..."') and "4111" not in line
    await watcher.aclose()
    await writer.aclose()


async def test_a_write_waiting_on_a_slow_disk_counts_in_its_latency_not_the_slowlog(tmp_path, nursery, monkeypatch):
    """Under load every write waits for a group commit; logging each as slow would flood the log."""
    original = Shard.write_batch

    def slow_disk(self, *args, **kwargs):
        time.sleep(0.06)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Shard, "write_batch", slow_disk)
    config = make_config(tmp_path / "data")
    config = evolve(config, slowlog=evolve(config.slowlog, threshold=0.03))
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    assert await client.command("SET", "k", "v") == OK
    latency = fields(await client.command("INFO", "latencystats"))["latency_percentiles_usec_set"]
    assert float(dict(part.split("=") for part in latency.split(","))["p50"]) >= 60_000
    assert await client.command("SLOWLOG", "LEN") == 0
    await client.aclose()


@pytest.fixture
def quiet_config(tmp_path):
    """The default slow log threshold (10 ms), and a user whose password is checked by scrypt."""
    config = make_config(tmp_path / "data")
    users = {"alice": UserConfig(password=hash_password("alice-pw"), admin=True)}
    return evolve(config, auth=AuthConfig(requirepass="pw", users=users))


async def test_an_idle_consumer_and_a_named_users_auth_are_not_slow(nursery, quiet_config):
    """TAKE ... BLOCK waits, it does not work; AUTH's scrypt is slow on purpose: neither floods the log."""
    port = (await nursery.start(serve, quiet_config)).state.port
    client = await RawClient.connect(port)
    with capture_logs() as logs:
        assert await client.command("AUTH", "alice", "alice-pw") == OK
        assert await client.command("NAMESPACE", "CONFIG", "jobs", "SET", "on_expire", "deliver") == OK
        assert await client.command("TAKE", "FROM", "jobs", "BLOCK", "150") == []
        info = fields(await client.command("INFO", "commandstats"))
        assert await client.command("SLOWLOG", "LEN") == 0
    assert [entry for entry in logs if entry["event"] == "command.slow"] == []
    take = dict(part.split("=") for part in info["cmdstat_take"].split(","))
    assert int(take["usec"]) < 100_000, "the 150 ms waited is not the command's time"
    await client.aclose()


async def test_a_monitor_going_away_is_a_closed_connection_not_a_failure(port, raw):
    """A MONITOR whose client disconnects: connection.closed at info level, no error, no traceback."""
    watcher = await RawClient.connect(port)
    await watcher.send(resp_command("MONITOR"))
    assert await watcher.read_reply() == OK
    with capture_logs() as logs:
        await watcher.aclose()
        with trio.fail_after(5):
            while not any(entry["event"] == "connection.closed" for entry in logs):
                await raw.command("PING")  # each line sent to the gone monitor; one of them fails
    closed = next(entry for entry in logs if entry["event"] == "connection.closed")
    assert closed["log_level"] == "info" and closed["reason"] == "connection lost"
    assert [entry for entry in logs if entry["log_level"] == "error"] == []
