"""Keyspace notifications (issue 19): Redis's ``notify-keyspace-events`` on mi's namespaces.

The server here starts with ``server.notify_keyspace_events = "KEA"`` (the config option); tests
that need other flags change the live setting. A listener (a raw RESP2 connection) takes its
events up to a marker published after the commands under test were answered: events are published
in commit order, so everything those commands fired arrives before the marker, and anything they
must not fire would arrive before it too. Nothing sleeps and hopes.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio
import trio
from attrs import evolve

from mi.settings.config import KeyspaceEventClasses
from protocol import CommandError
from protocol.replies import NULL_ARRAY, SimpleString
from support import IO_TIMEOUT, RawClient, make_config, resp_command

OK = SimpleString("OK")
MARKER = b"test:marker"


@pytest.fixture
def config(tmp_path):
    """Every event class on from the start, as `notify_keyspace_events = "KEA"` in mi.toml."""
    config = make_config(tmp_path / "data")
    return evolve(config, server=evolve(config.server, notify_keyspace_events=KeyspaceEventClasses("KEA")))


class Listener:
    """A connection subscribed to keyspace channels (patterns) and to the marker channel."""

    def __init__(self, client: RawClient, publisher: RawClient) -> None:
        self.client, self.publisher = client, publisher

    @classmethod
    async def open(cls, port: int, *patterns: str) -> Listener:
        client = await RawClient.connect(port)
        await client.send(resp_command("PSUBSCRIBE", *patterns) + resp_command("SUBSCRIBE", MARKER))
        for _ in range(len(patterns) + 1):
            assert (await client.read_reply())[0] in (b"psubscribe", b"subscribe")
        return cls(client, await RawClient.connect(port))

    async def received(self) -> list[tuple[bytes, bytes]]:
        """(channel, message) of everything published before a marker published now."""
        assert await self.publisher.command("PUBLISH", MARKER, "") == 1
        got = []
        while (reply := await self.client.read_reply())[:2] != [b"message", MARKER]:
            got.append((reply[-2], reply[-1]))
        return got

    async def events(self) -> list[tuple[str, str]]:
        """As ``received``, for key-event channels: (event, key) in the order they happened."""
        return [(channel.split(b"__:", 1)[1].decode(), key.decode()) for channel, key in await self.received()]

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.publisher.aclose()


@pytest.fixture
async def events(port):
    """A listener of every key-event channel of every namespace."""
    listener = await Listener.open(port, "__keyevent@*__:*")
    yield listener
    await listener.aclose()


async def test_a_write_is_told_on_both_channels_of_its_namespace(port, raw):
    """K: __keyspace@<ns>__:<key> carries the event; E: __keyevent@<ns>__:<event> the key. The
    namespace stands where Redis has the database number."""
    listener = await Listener.open(port, "__key*__:*")
    try:
        assert await raw.command("SET", "k", "v", "FROM", "shop") == OK
        assert await listener.received() == [(b"__keyspace@shop__:k", b"set"), (b"__keyevent@shop__:set", b"k")]
    finally:
        await listener.aclose()


# (what runs first, the command, the events it fires as (event, key), in order)
CASES = {
    "set": ([], ["SET", "k", "v"], [("set", "k")]),
    "set with a TTL": ([], ["SET", "k", "v", "EX", "100"], [("set", "k"), ("expire", "k")]),
    "setex": ([], ["SETEX", "k", "100", "v"], [("set", "k"), ("expire", "k")]),
    "set keepttl": ([["SET", "k", "v", "EX", "100"]], ["SET", "k", "w", "KEEPTTL"], [("set", "k")]),
    "set nx refused": ([["SET", "k", "v"]], ["SET", "k", "w", "NX"], []),
    "set typed": ([], ["SET", "k", "7", "AS", "INT"], [("set", "k")]),
    "mset": ([], ["MSET", "a", "1", "b", "2"], [("set", "a"), ("set", "b")]),
    "msetnx refused": ([["SET", "b", "x"]], ["MSETNX", "a", "1", "b", "2"], []),
    "del of a key there and one missing": ([["SET", "a", "1"]], ["DEL", "a", "missing"], [("del", "a")]),
    "incr": ([], ["INCR", "n"], [("incrby", "n")]),
    "decrby": ([["SET", "n", "5"]], ["DECRBY", "n", "2"], [("incrby", "n")]),
    "incrbyfloat": ([], ["INCRBYFLOAT", "n", "1.5"], [("incrbyfloat", "n")]),
    "append": ([], ["APPEND", "s", "x"], [("append", "s")]),
    "setrange": ([["SET", "s", "hello"]], ["SETRANGE", "s", "0", "J"], [("setrange", "s")]),
    "expire": ([["SET", "k", "v"]], ["EXPIRE", "k", "100"], [("expire", "k")]),
    "expireat in the past deletes": ([["SET", "k", "v"]], ["EXPIREAT", "k", "1"], [("del", "k")]),
    "expire of a missing key": ([], ["EXPIRE", "k", "100"], []),
    "persist": ([["SET", "k", "v", "EX", "100"]], ["PERSIST", "k"], [("persist", "k")]),
    "persist without a TTL": ([["SET", "k", "v"]], ["PERSIST", "k"], []),
    "rename": ([["SET", "a", "1"]], ["RENAME", "a", "b"], [("rename_from", "a"), ("rename_to", "b")]),
    "copy": ([["SET", "a", "1"]], ["COPY", "a", "b"], [("copy_to", "b")]),
    "getdel": ([["SET", "k", "v"]], ["GETDEL", "k"], [("del", "k")]),
    "getex persist": ([["SET", "k", "v", "EX", "100"]], ["GETEX", "k", "PERSIST"], [("persist", "k")]),
    "getex ex": ([["SET", "k", "v"]], ["GETEX", "k", "EX", "100"], [("expire", "k")]),
    "hset fields": ([], ["HSET", "h", "f", "1", "g", "2"], [("hset", "h")]),
    "hset a whole object": ([], ["HSET", "o", '{"a": 1}'], [("hset", "o")]),
    "hsetnx of a field there": ([["HSET", "h", "f", "1"]], ["HSETNX", "h", "f", "2"], []),
    "hdel of the last field": ([["HSET", "h", "f", "1"]], ["HDEL", "h", "f"], [("hdel", "h"), ("del", "h")]),
    "hdel of a missing field": ([["HSET", "h", "f", "1"]], ["HDEL", "h", "nope"], []),
    "hincrby": ([], ["HINCRBY", "h", "f", "2"], [("hincrby", "h")]),
    "lset a whole list": ([], ["LSET", "l", '["a", "b"]'], [("lset", "l")]),
    "lpush of several": ([], ["LPUSH", "l", "a", "b"], [("lpush", "l")]),
    "rpush": ([], ["RPUSH", "l", "a"], [("rpush", "l")]),
    "lpop": ([["RPUSH", "l", "a", "b"]], ["LPOP", "l"], [("lpop", "l")]),
    "rpop of the last": ([["RPUSH", "l", "a"]], ["RPOP", "l"], [("rpop", "l"), ("del", "l")]),
    "linsert": ([["RPUSH", "l", "a"]], ["LINSERT", "l", "BEFORE", "a", "z"], [("linsert", "l")]),
    "lset an index": ([["RPUSH", "l", "a"]], ["LSET", "l", "0", "z"], [("lset", "l")]),
    "lrem": ([["RPUSH", "l", "a", "b", "a"]], ["LREM", "l", "0", "a"], [("lrem", "l")]),
    "ltrim": ([["RPUSH", "l", "a", "b", "c"]], ["LTRIM", "l", "0", "0"], [("ltrim", "l")]),
    "ltrim that keeps all": ([["RPUSH", "l", "a"]], ["LTRIM", "l", "0", "-1"], []),
    "lmove": ([["RPUSH", "a", "x", "y"]], ["LMOVE", "a", "b", "LEFT", "RIGHT"], [("lpop", "a"), ("rpush", "b")]),
    "rpoplpush that empties": ([["RPUSH", "a", "x"]], ["RPOPLPUSH", "a", "b"],
                               [("rpop", "a"), ("lpush", "b"), ("del", "a")]),
    "blpop": ([["RPUSH", "l", "a", "b"]], ["BLPOP", "l", "1"], [("lpop", "l")]),
    "a write that fails": ([["SET", "s", "v"]], ["LPUSH", "s", "x"], []),
}  # fmt: skip


@pytest.mark.parametrize(("setup", "command", "expected"), CASES.values(), ids=CASES.keys())
async def test_each_command_fires_redis_events(events, raw, setup, command, expected):
    for step in setup:
        assert not isinstance(await raw.command(*step), CommandError)
    await events.events()  # the setup's
    await raw.command(*command)
    assert await events.events() == expected


async def test_exec_fires_its_events_in_order_after_the_commit(events, raw):
    """Keys on different shards, one EXEC: its events in the order its commands ran."""
    for command in (["MULTI"], ["SET", "a", "1"], ["RPUSH", "b", "x"], ["DEL", "a"], ["INCR", "c"]):
        await raw.command(*command)
    assert await raw.command("EXEC") == [OK, 1, 1, 1]
    assert await events.events() == [("set", "a"), ("rpush", "b"), ("del", "a"), ("incrby", "c")]


async def test_a_failed_exec_fires_nothing(events, raw):
    """mi rolls a transaction back when a command fails: nothing it did happened, nothing is told."""
    await raw.command("SET", "s", "text")
    await events.events()
    for command in (["MULTI"], ["SET", "a", "1"], ["INCR", "s"]):
        await raw.command(*command)
    assert isinstance(await raw.command("EXEC"), CommandError)
    assert await events.events() == []


async def test_an_aborted_or_discarded_transaction_fires_nothing(events, raw, port):
    """EXECABORT (a bad command queued), a WATCH broken (EXEC answers null), DISCARD."""
    await raw.command("MULTI")
    await raw.command("SET", "a", "1")
    await raw.command("NOSUCHCOMMAND")
    assert isinstance(await raw.command("EXEC"), CommandError)
    await raw.command("WATCH", "w")
    other = await RawClient.connect(port)
    await other.command("SET", "w", "changed")
    await other.aclose()
    for command in (["MULTI"], ["SET", "a", "1"]):
        await raw.command(*command)
    assert await raw.command("EXEC") == NULL_ARRAY
    for command in (["MULTI"], ["SET", "a", "1"], ["DISCARD"]):
        await raw.command(*command)
    assert await events.events() == [("set", "w")]  # the other client's write alone


async def test_a_script_fires_the_events_of_its_calls(events, r2):
    script = "redis.call('SET', KEYS[1], 'v'); redis.call('RPUSH', KEYS[2], 'x'); redis.call('DEL', KEYS[1]); return 1"
    assert await r2.eval(script, 2, "a", "b") == 1
    assert await events.events() == [("set", "a"), ("rpush", "b"), ("del", "a")]


async def test_expired_fires_once_when_the_reaper_removes_the_message(timed_server, clock):
    port = timed_server.state.port
    listener = await Listener.open(port, "__keyevent@*__:expired")
    client = await RawClient.connect(port)
    try:
        assert await client.command("SET", "k", "v", "PX", "1500", "FROM", "jobs") == OK
        clock.jump(2)
        with trio.fail_after(IO_TIMEOUT):
            assert await listener.client.read_reply() == [b"pmessage", b"__keyevent@*__:expired",
                                                          b"__keyevent@jobs__:expired", b"k"]  # fmt: skip
        assert await client.command("EXISTS", "k", "FROM", "jobs") == 0
        assert await listener.received() == []  # once
    finally:
        await client.aclose()
        await listener.aclose()


async def test_new_fires_before_the_write_of_a_key_that_was_not_there(server, events, raw):
    """n (not part of A): ``new`` when a write creates a key, first; not when it replaces one."""
    server.state.pubsub.set_keyspace_events("KEAn")
    await raw.command("SET", "k", "v")
    await raw.command("SET", "k", "w")
    assert await events.events() == [("new", "k"), ("set", "k"), ("set", "k")]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("Kg$", [(b"__keyspace@default__:k", b"set"), (b"__keyspace@default__:k", b"del")]),
        ("El", []),  # lists only: the string write and DEL are other classes
        ("Eg", [(b"__keyevent@default__:del", b"k")]),
        ("A", []),  # classes but neither K nor E: nothing is sent, as in Redis
        ("KEszt", []),  # classes mi has no type for are accepted and never fire
        ("", []),
    ],
)
async def test_only_the_classes_and_channels_set_fire(server, port, raw, flags, expected):
    listener = await Listener.open(port, "__key*__:*")
    try:
        server.state.pubsub.set_keyspace_events(flags)
        await raw.command("SET", "k", "v")
        await raw.command("DEL", "k")
        assert await listener.received() == expected
    finally:
        await listener.aclose()


async def test_invalid_letters_are_refused_and_change_nothing(server):
    pubsub = server.state.pubsub
    with pytest.raises(CommandError) as refused:
        pubsub.set_keyspace_events("KEQ")
    assert str(refused.value) == "ERR Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    assert pubsub.keyspace_events == "AKE"  # the start value, in Redis's canonical form


async def test_message_frame_is_redis_s(port, raw):
    """The exact RESP2 frame of a keyspace message, as Redis sends it."""
    await raw.command("SUBSCRIBE", "__keyspace@default__:k")
    writer = await RawClient.connect(port)
    await writer.command("SET", "k", "v")
    await writer.aclose()
    expected = b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyspace@default__:k\r\n$3\r\nset\r\n"
    data = b""
    with trio.fail_after(IO_TIMEOUT):
        while len(data) < len(expected):
            data += await raw.stream.receive_some(65536)
    assert data == expected


async def test_redis_py_sync_reads_keyspace_events(port):
    def run() -> dict:
        client = redis.Redis(port=port, socket_timeout=IO_TIMEOUT)
        with client, client.pubsub() as pubsub:
            pubsub.psubscribe("__keyspace@default__:*")
            assert pubsub.get_message(timeout=IO_TIMEOUT)["type"] == "psubscribe"
            client.lpush("queue", "job")
            message = pubsub.get_message(timeout=IO_TIMEOUT)
            assert message is not None
            return message

    message = await trio.to_thread.run_sync(run)
    assert message == {"type": "pmessage", "pattern": b"__keyspace@default__:*",
                       "channel": b"__keyspace@default__:queue", "data": b"lpush"}  # fmt: skip


async def test_redis_asyncio_resp3_reads_keyevent_pushes(port):
    async def main() -> dict:
        client = redis.asyncio.Redis(port=port, protocol=3)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe("__keyevent@default__:hset")
            assert (await pubsub.get_message(timeout=IO_TIMEOUT))["type"] == "subscribe"
            await client.hset("user:1", mapping={"name": "ada"})
            message = await pubsub.get_message(timeout=IO_TIMEOUT)
            assert message is not None
            return message
        finally:
            await pubsub.aclose()
            await client.aclose()

    message = await trio.to_thread.run_sync(asyncio.run, main())
    assert message == {"type": "message", "pattern": None, "channel": b"__keyevent@default__:hset", "data": b"user:1"}


async def test_config_set_changes_the_events_live(r2, port, raw):
    """CONFIG SET notify-keyspace-events, as redis-py sends it; CONFIG GET answers Redis's form."""
    listener = await Listener.open(port, "__key*__:*")
    try:
        assert await r2.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
        assert await r2.config_set("notify-keyspace-events", "") is True
        await raw.command("SET", "k", "v")
        assert await listener.received() == []
        assert await r2.config_set("notify-keyspace-events", "lK") is True
        assert await r2.config_get("notify-keyspace-events") == {"notify-keyspace-events": "lK"}
        await raw.command("SET", "k", "v")
        await raw.command("DEL", "k")
        await raw.command("RPUSH", "l", "x")
        assert await listener.received() == [(b"__keyspace@default__:l", b"rpush")]
    finally:
        await listener.aclose()


async def test_config_set_refuses_a_letter_that_names_no_class(r2):
    with pytest.raises(redis.ResponseError) as refused:
        await r2.config_set("notify-keyspace-events", "KEQ")
    assert str(refused.value) == (
        "CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    )
    assert await r2.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
