"""Running a server from a client, as Redis's operators do: CONFIG SET and RESETSTAT, CLIENT
PAUSE and UNPAUSE, RESET, LATENCY, SHUTDOWN, and what CLIENT LIST shows of a connection."""

from __future__ import annotations

import pytest
import redis
import trio

from protocol import CommandError
from protocol.replies import NULL_ARRAY, SimpleString
from support import IO_TIMEOUT, RawClient, as_map, wait_blocked

OK = SimpleString("OK")


def info_of(text: bytes | str) -> dict[str, str]:
    lines = (text.decode() if isinstance(text, bytes) else text).splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


# --- CONFIG SET, CONFIG RESETSTAT ---------------------------------------------------------------


async def test_config_set_changes_the_running_server(r2, raw):
    """redis-py's config_set: the new value shows in CONFIG GET and takes effect at once."""
    assert await r2.config_set("slowlog-log-slower-than", 0) is True
    assert (await r2.config_get("slowlog-log-slower-than")) == {"slowlog-log-slower-than": "0"}
    await r2.slowlog_reset()
    await raw.command("PING")
    assert await r2.slowlog_len() >= 1  # every command is slow now
    await r2.config_set("slowlog-log-slower-than", -1)  # off
    await r2.slowlog_reset()
    await raw.command("PING")
    assert await r2.slowlog_len() == 0


async def test_a_smaller_bulk_limit_applies_to_open_connections(raw, port):
    other = await RawClient.connect(port)
    assert await other.command("PING") == SimpleString("PONG")
    assert await raw.command("CONFIG", "SET", "proto-max-bulk-len", "1mb") == OK
    assert await raw.command("CONFIG", "GET", "proto-max-bulk-len") == [b"proto-max-bulk-len", b"1048576"]
    await other.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2097152\r\n")  # a 2 MiB value announced
    reply = await other.read_reply()
    assert isinstance(reply, CommandError) and "bulk length" in reply.message
    assert await other.is_closed()  # a framing error ends the connection, as in Redis
    await other.aclose()


async def test_config_set_timeout_closes_idle_connections(raw, port):
    idle = await RawClient.connect(port)
    assert await idle.command("PING") == SimpleString("PONG")
    assert await raw.command("CONFIG", "SET", "timeout", "1") == OK
    assert await idle.is_closed()  # within IO_TIMEOUT: the timeout is enforced within a quarter of a second


async def test_config_set_is_all_or_nothing(raw):
    before = await raw.command("CONFIG", "GET", "maxclients")
    reply = await raw.command("CONFIG", "SET", "maxclients", "5", "slowlog-max-len", "many")
    assert reply == CommandError(
        "ERR", "CONFIG SET failed (possibly related to argument 'slowlog-max-len') - argument couldn't be parsed into an integer"
    )
    assert await raw.command("CONFIG", "GET", "maxclients") == before
    assert await raw.command("CONFIG", "SET", "maxclients", "5", "slowlog-max-len", "7") == OK
    assert await raw.command("CONFIG", "GET", "maxclients") == [b"maxclients", b"5"]


async def test_config_set_refuses_unknown_and_restart_only_parameters(raw):
    assert await raw.command("CONFIG", "SET", "no-such-thing", "1") == CommandError(
        "ERR", "Unknown option or number of arguments for CONFIG SET - 'no-such-thing'"
    )
    assert await raw.command("CONFIG", "SET", "port", "1") == CommandError(
        "ERR", "CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    )
    reply = await raw.command("CONFIG", "SET", "maxclients", "0")
    assert reply == CommandError(
        "ERR", "CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and"
        " 9223372036854775807 inclusive"
    )
    reply = await raw.command("CONFIG", "SET", "proto-max-bulk-len", "lots")
    assert isinstance(reply, CommandError) and reply.message.endswith("argument must be a memory value")


async def test_maxclients_set_at_run_time_turns_new_connections_away(raw, port):
    assert await raw.command("CONFIG", "SET", "maxclients", "1") == OK
    extra = await RawClient.connect(port)
    reply = await extra.command("PING")
    assert isinstance(reply, CommandError) and "max number of clients" in reply.message
    await extra.aclose()
    assert await raw.command("CONFIG", "SET", "maxclients", "100") == OK


async def test_resetstat_starts_the_counters_again(r2):
    for _ in range(3):
        await r2.set("k", "v")
    before = await r2.info("all")
    assert before["cmdstat_set"]["calls"] == 3 and before["total_commands_processed"] >= 3
    await r2.config_set("slowlog-log-slower-than", 0)
    assert await r2.config_resetstat() is True
    after = await r2.info("all")
    assert "cmdstat_set" not in after
    assert after["total_commands_processed"] <= 2  # CONFIG RESETSTAT and INFO themselves at most
    assert await r2.slowlog_len() > 0  # the slow log is not a statistic: SLOWLOG RESET clears it


# --- CLIENT PAUSE, CLIENT UNPAUSE ---------------------------------------------------------------


async def test_pause_write_holds_writes_and_lets_reads_through(server, raw, port):
    assert await raw.command("SET", "k", "before") == OK
    assert await raw.command("CLIENT", "PAUSE", "60000", "WRITE") == OK
    writer = await RawClient.connect(port)
    async with trio.open_nursery() as nursery:
        answers: list = []

        async def write() -> None:
            answers.append(await writer.command("SET", "k", "after"))

        nursery.start_soon(write)
        await wait_blocked(server, 1)
        assert await raw.command("GET", "k") == b"before"  # reads go on; the write waits
        assert answers == []
        assert await raw.command("CLIENT", "UNPAUSE") == OK
    assert answers == [OK]
    assert await raw.command("GET", "k") == b"after"
    await writer.aclose()


async def test_pause_all_holds_reads_too_but_never_unpause(server, raw, port):
    assert await raw.command("CLIENT", "PAUSE", "60000") == OK
    reader = await RawClient.connect(port)
    async with trio.open_nursery() as nursery:
        answers: list = []

        async def read() -> None:
            answers.append(await reader.command("PING"))

        nursery.start_soon(read)
        await wait_blocked(server, 1)
        operator = await RawClient.connect(port)
        assert await operator.command("CLIENT", "UNPAUSE") == OK  # the pausing command is never held
        await operator.aclose()
    assert answers == [SimpleString("PONG")]
    await reader.aclose()


async def test_a_write_pause_lets_read_only_scripts_through(raw, port):
    assert await raw.command("CLIENT", "PAUSE", "60000", "WRITE") == OK
    other = await RawClient.connect(port)
    assert await other.command("EVAL_RO", "return 7", "0") == 7  # a read, as in Redis: not held
    assert await raw.command("CLIENT", "UNPAUSE") == OK
    await other.aclose()


async def test_a_pause_ends_by_itself_at_its_deadline(raw, port):
    assert await raw.command("CLIENT", "PAUSE", "300") == OK
    started = trio.current_time()
    other = await RawClient.connect(port)
    assert await other.command("PING") == SimpleString("PONG")
    assert trio.current_time() - started >= 0.3  # held until the deadline, no longer than the guard
    await other.aclose()


async def test_client_kill_ends_a_paused_connection(server, raw, port):
    assert await raw.command("CLIENT", "PAUSE", "60000", "WRITE") == OK
    victim = await RawClient.connect(port)
    await victim.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
    await wait_blocked(server, 1)
    held = next(s for s in server.state.sessions.values() if s.blocked)
    assert await raw.command("CLIENT", "KILL", "ID", str(held.client_id)) == 1
    assert await victim.is_closed()
    assert await raw.command("CLIENT", "UNPAUSE") == OK
    assert await raw.command("GET", "k") is None  # the held write never ran


async def test_queued_commands_of_a_transaction_wait_only_at_exec(server, raw, port):
    assert await raw.command("CLIENT", "PAUSE", "60000", "WRITE") == OK
    client = await RawClient.connect(port)
    assert await client.command("MULTI") == OK
    assert await client.command("SET", "k", "v") == SimpleString("QUEUED")  # queuing is not writing
    async with trio.open_nursery() as nursery:
        answers: list = []

        async def exec_() -> None:
            answers.append(await client.command("EXEC"))

        nursery.start_soon(exec_)
        await wait_blocked(server, 1)
        assert await raw.command("GET", "k") is None
        assert await raw.command("CLIENT", "UNPAUSE") == OK
    assert answers == [[OK]]
    await client.aclose()


async def test_an_exec_that_only_publishes_waits_out_a_write_pause(server, raw, port):
    assert await raw.command("CLIENT", "PAUSE", "60000", "WRITE") == OK
    client = await RawClient.connect(port)
    assert await client.command("MULTI") == OK
    assert await client.command("PUBLISH", "news", "hi") == SimpleString("QUEUED")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.command, "EXEC")
        await wait_blocked(server, 1)
        assert await raw.command("CLIENT", "UNPAUSE") == OK
    await client.aclose()


# --- RESET ------------------------------------------------------------------------------------


async def test_reset_makes_the_connection_new(raw, r2):
    assert await raw.command("SELECT", "orders") == OK
    assert await raw.command("HELLO", "3") is not None
    assert await raw.command("CLIENT", "SETNAME", "worker") == OK
    assert await raw.command("WATCH", "w") == OK
    assert await raw.command("MULTI") == OK
    assert await raw.command("RESET") == SimpleString("RESET")
    assert await raw.command("EXEC") == CommandError("ERR", "EXEC without MULTI")
    assert await raw.command("SET", "k", "v") == OK
    assert await r2.get("k") == b"v"  # the default namespace again
    hello = await raw.command("HELLO")
    assert isinstance(hello, list)  # RESP2: a map is a flat array
    assert as_map(hello)[b"proto"] == 2
    assert await raw.command("CLIENT", "GETNAME") == b"worker"  # as in Redis, the name stays


async def test_reset_leaves_every_subscription(raw, r2):
    assert (await raw.command("SUBSCRIBE", "news"))[0] == b"subscribe"
    assert await raw.command("RESET") == SimpleString("RESET")
    assert await r2.pubsub_numsub("news") == [(b"news", 0)]
    assert await raw.command("GET", "k") is None  # out of subscribed mode


# --- LATENCY ----------------------------------------------------------------------------------

BUSY_SCRIPT = "local n = 0 for i = 1, 3000000 do n = n + i end return n"


async def test_latency_monitor_keeps_spikes_over_the_threshold(raw):
    assert await raw.command("LATENCY", "LATEST") == []  # off by default
    await raw.command("EVAL", BUSY_SCRIPT, "0")
    assert await raw.command("LATENCY", "LATEST") == []
    assert await raw.command("CONFIG", "SET", "latency-monitor-threshold", "1") == OK
    await raw.command("EVAL", BUSY_SCRIPT, "0")  # several ms of work, on any machine
    latest = {entry[0]: entry[1:] for entry in await raw.command("LATENCY", "LATEST")}
    when, last_ms, worst_ms = latest[b"command"]
    assert last_ms >= 1 and worst_ms >= last_ms and when > 1_700_000_000
    history = await raw.command("LATENCY", "HISTORY", "command")
    assert history and history[-1][1] == last_ms
    assert await raw.command("LATENCY", "HISTORY", "no-such-event") == []
    assert await raw.command("LATENCY", "RESET", "command", "command", "nothing") == 1
    assert b"command" not in {entry[0] for entry in await raw.command("LATENCY", "LATEST")}


# --- SHUTDOWN ---------------------------------------------------------------------------------


async def test_shutdown_stops_the_server_and_answers_nothing(server, port):
    client = redis.Redis(port=port, socket_timeout=IO_TIMEOUT)
    await trio.to_thread.run_sync(client.set, "k", "v")
    await trio.to_thread.run_sync(client.shutdown)  # redis-py: success is the connection closing
    with trio.fail_after(IO_TIMEOUT):
        while True:  # the listener closes once the connections are answered
            try:
                stream = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                break
            await stream.aclose()
            await trio.sleep(0.01)
    assert server.shutdown_requested
    client.close()


async def test_shutdown_save_takes_a_snapshot_first(server, raw, tmp_path):
    assert await raw.command("SET", "k", "v") == OK
    before = set(tmp_path.iterdir())
    await raw.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n")
    assert await raw.is_closed()
    made = set(tmp_path.iterdir()) - before
    assert made and all(path.name != "data" for path in made)  # the snapshot, beside the data dir


async def test_shutdown_refusals(raw):
    assert await raw.command("SHUTDOWN", "ABORT") == CommandError("ERR", "No shutdown in progress.")
    assert await raw.command("SHUTDOWN", "SAVE", "NOSAVE") == CommandError("ERR", "syntax error")
    assert await raw.command("MULTI") == OK
    reply = await raw.command("SHUTDOWN")
    assert isinstance(reply, CommandError)
    assert await raw.command("DISCARD") == OK
    assert await raw.command("PING") == SimpleString("PONG")  # still up


# --- CLIENT LIST ------------------------------------------------------------------------------


async def test_client_list_shows_subscriptions_transactions_and_watches(raw, port, r2):
    subscriber = await RawClient.connect(port)
    await subscriber.command("SUBSCRIBE", "a", "b")
    await subscriber.read_reply()  # the second confirmation
    await subscriber.command("PSUBSCRIBE", "n*")
    assert await raw.command("WATCH", "x", "y") == OK
    assert await raw.command("MULTI") == OK
    assert await raw.command("SET", "k", "v") == SimpleString("QUEUED")
    clients = {c["id"]: c for c in await r2.client_list()}
    by_sub = [c for c in clients.values() if c["sub"] == "2"]
    assert len(by_sub) == 1 and by_sub[0]["psub"] == "1" and by_sub[0]["multi"] == "-1"
    in_multi = [c for c in clients.values() if c["multi"] == "1"]
    assert len(in_multi) == 1 and in_multi[0]["watch"] == "2" and in_multi[0]["sub"] == "0"
    await subscriber.aclose()


async def test_notify_keyspace_events_is_set_and_refused_as_in_redis(r2):
    assert await r2.config_set("notify-keyspace-events", "KEA") is True
    shown = (await r2.config_get("notify-keyspace-events"))["notify-keyspace-events"]
    assert set(shown) >= set("KE") and await r2.config_set("notify-keyspace-events", shown) is True
    with pytest.raises(redis.ResponseError, match="possibly related to argument 'notify-keyspace-events'"):
        await r2.config_set("notify-keyspace-events", "Kq")
    assert (await r2.config_get("notify-keyspace-events"))["notify-keyspace-events"] == shown


async def test_client_list_filters_and_fields_as_redis_py_reads_them(r2, port):
    subscriber = await RawClient.connect(port)
    await subscriber.command("SUBSCRIBE", "news")
    await r2.ping()
    everyone = await r2.client_list()
    assert all({"laddr", "cmd"} <= set(c) for c in everyone)
    assert {c["laddr"] for c in everyone} == {f"127.0.0.1:{port}"}
    assert "subscribe" in {c["cmd"] for c in everyone}
    assert [c["sub"] for c in await r2.client_list(_type="pubsub")] == ["1"]
    assert "1" not in {c["sub"] for c in await r2.client_list(_type="normal")}
    own = await r2.client_id()
    assert [c["id"] for c in await r2.client_list(client_id=[own])] == [str(own)]
    with pytest.raises(redis.ResponseError, match="Unknown client type"):
        await r2.execute_command("CLIENT", "LIST", "TYPE", "robots")
    await subscriber.aclose()


async def test_client_kill_filters_must_all_match_and_skip_the_asker(raw, port, r2):
    victims = [await RawClient.connect(port) for _ in range(2)]
    for victim in victims:
        await victim.command("PING")
    await victims[0].command("SUBSCRIBE", "news")
    me = await raw.command("CLIENT", "ID")
    assert await raw.command("CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "yes") == 1
    assert await victims[0].is_closed() and not await _closed_now(victims[1])
    laddr = f"127.0.0.1:{port}"
    killed = await r2.client_kill_filter(laddr=laddr, skipme=True)  # everyone but redis-py's own
    assert killed >= 2 and await victims[1].is_closed() and await raw.is_closed()
    assert all(c["id"] != str(me) for c in await r2.client_list())


async def _closed_now(client: RawClient) -> bool:
    """Whether the server has closed ``client`` (a PING answered says no)."""
    try:
        return await client.command("PING") != SimpleString("PONG")
    except (EOFError, trio.BrokenResourceError):
        return True


async def test_client_unblock_ends_a_blocked_pop_as_a_timeout_or_an_error(server, raw, port, r2):
    blocked = await RawClient.connect(port)
    blocked_id = await blocked.command("CLIENT", "ID")
    assert await raw.command("CLIENT", "UNBLOCK", str(blocked_id)) == 0  # not blocked
    for reason, expected in (("TIMEOUT", None), ("ERROR", CommandError("UNBLOCKED", "client unblocked via CLIENT UNBLOCK"))):
        await blocked.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        await wait_blocked(server, 1)
        assert await raw.command("CLIENT", "UNBLOCK", str(blocked_id), reason) == 1
        reply = await blocked.read_reply()
        assert reply == (NULL_ARRAY if expected is None else expected)
    await r2.rpush("q", "x")
    assert await r2.lrange("q", 0, -1) == [b"x"]  # the unblocked pops took nothing
    assert await r2.client_no_touch("ON") == b"OK"
    await blocked.aclose()
