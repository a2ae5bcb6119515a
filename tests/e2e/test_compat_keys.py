"""Redis's key and namespace commands that existing code calls (issue 19): EXPIREAT, PEXPIREAT,
TOUCH, RANDOMKEY, OBJECT, SCAN ... TYPE, FLUSHDB, FLUSHALL, driven by redis-py."""

from __future__ import annotations

import functools
import time

import pytest
import redis
import trio
from attrs import evolve

from mi.core.server import serve
from mi.policy.auth import hash_password
from mi.settings.config import UserConfig
from protocol.replies import SimpleString
from support import RawClient, ThreadedRedis, make_config

OK = SimpleString("OK")


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


# --- EXPIREAT, PEXPIREAT ------------------------------------------------------------------------


async def test_expireat_sets_a_deadline_as_a_unix_time(r2):
    await r2.set("k", "v")
    deadline = int(time.time()) + 100
    assert await r2.expireat("k", deadline) is True
    assert await r2.expiretime("k") == deadline
    assert await r2.pexpireat("k", deadline * 1000 + 500) is True
    assert await r2.pexpiretime("k") == deadline * 1000 + 500
    assert await r2.expireat("missing", deadline) is False


async def test_expireat_in_the_past_deletes_the_key(r2):
    await r2.set("k", "v")
    assert await r2.expireat("k", int(time.time()) - 10) is True
    assert await r2.exists("k") == 0


async def test_expireat_conditions_are_expires(r2):
    """NX, XX, GT, LT as EXPIRE has them (no TTL counts as infinite)."""
    await r2.set("k", "v")
    soon, later = int(time.time()) + 100, int(time.time()) + 200
    assert await r2.expireat("k", later, xx=True) is False
    assert await r2.expireat("k", later, nx=True) is True
    assert await r2.expireat("k", soon, gt=True) is False
    assert await r2.expireat("k", soon, lt=True) is True
    assert await r2.expiretime("k") == soon


async def test_expireat_errors(r2):
    assert "not an integer" in await _error(r2.execute_command("EXPIREAT", "k", "soon"))
    assert await _error(r2.execute_command("EXPIREAT", "k", str(2**62))) == "invalid expire time in 'expireat' command"
    assert await _error(r2.execute_command("EXPIREAT", "k", "1", "NX", "XX")) == "syntax error"
    assert "wrong number of arguments" in await _error(r2.execute_command("PEXPIREAT", "k"))


# --- TOUCH, RANDOMKEY ---------------------------------------------------------------------------


async def test_touch_counts_the_keys_that_exist(r2):
    await r2.set("a", "1")
    await r2.set("b", "2")
    assert await r2.touch("a", "b", "c", "a") == 3
    assert await r2.execute_command("TOUCH", "a", "FROM", "other") == 0


async def test_randomkey_answers_a_key_of_the_namespace(r2):
    """Any key, over time every one of them (4 shards); nil in an empty namespace."""
    assert await r2.randomkey() is None
    keys = {f"k{i}".encode() for i in range(8)}
    await r2.mset({key: "v" for key in keys})
    seen = set()
    with trio.fail_after(10):
        while seen != keys:
            key = await r2.randomkey()
            assert key in keys
            seen.add(key)
    assert await r2.execute_command("RANDOMKEY", "FROM", "other") is None


# --- OBJECT -------------------------------------------------------------------------------------


async def test_object_encoding_names_what_redis_would_use(r2):
    """int / embstr (up to 44 bytes) / raw; listpack or hashtable for hashes, listpack or
    quicklist for lists, by Redis's default thresholds."""
    await r2.set("n", 12)
    await r2.set("short", "hello")
    await r2.set("long", "x" * 45)
    await r2.set("flag", "true")
    await r2.hset("small", mapping={"a": 1, "b": "two"})
    await r2.hset("wide", mapping={f"f{i}": i for i in range(129)})
    await r2.hset("fat", "f", "v" * 65)
    await r2.rpush("list", "a", "b")
    await r2.rpush("biglist", *["x" * 100] * 100)
    expected = {
        "n": b"int", "short": b"embstr", "long": b"raw", "flag": b"embstr", "small": b"listpack",
        "wide": b"hashtable", "fat": b"hashtable", "list": b"listpack", "biglist": b"quicklist",
    }  # fmt: skip
    for key, encoding in expected.items():
        assert await r2.object("encoding", key) == encoding, key
    assert await r2.object("encoding", "missing") is None


async def test_object_idletime_refcount_and_freq(r2):
    """IDLETIME 0 (mi keeps no access times), REFCOUNT 1, FREQ Redis's error without an LFU
    policy; nil for a missing key."""
    await r2.set("k", "v")
    assert await r2.object("idletime", "k") == 0
    assert await r2.object("refcount", "k") == 1
    assert (await _error(r2.object("freq", "k"))).startswith("An LFU maxmemory policy is not selected")
    assert await r2.object("freq", "missing") is None
    assert await r2.execute_command("OBJECT", "ENCODING", "k", "FROM", "other") is None


async def test_object_help_and_bad_subcommands(raw):
    help_lines = await raw.command("OBJECT", "HELP")
    assert help_lines[0].text.startswith("OBJECT <subcommand>")
    assert any(line.text.startswith("ENCODING") for line in help_lines)
    error = await raw.command("OBJECT", "NOPE", "k")
    assert error.message.startswith("unknown subcommand 'NOPE'")
    assert "wrong number of arguments" in (await raw.command("OBJECT", "ENCODING")).message


# --- SCAN ... TYPE ------------------------------------------------------------------------------


async def test_scan_type_keeps_only_keys_of_that_type(r2):
    """The names TYPE answers; an unknown name matches nothing (as Redis 7)."""
    await r2.set("s", "text")
    await r2.set("n", 5)
    await r2.hset("h", "f", "1")
    await r2.rpush("l", "a")
    assert sorted([key async for key in _scan(r2, _type="string")]) == [b"s"]
    assert sorted([key async for key in _scan(r2, _type="integer")]) == [b"n"]
    assert sorted([key async for key in _scan(r2, _type="JSON")]) == [b"h"]
    assert sorted([key async for key in _scan(r2, _type="list", match="l*")]) == [b"l"]
    assert [key async for key in _scan(r2, _type="zset")] == []
    assert await _error(r2.execute_command("SCAN", "0", "TYPE", "list", "TYPE", "json")) == "syntax error"
    assert await _error(r2.execute_command("SCAN", "0", "TYPE")) == "syntax error"


async def _scan(client, **options):
    cursor = 0
    while True:
        cursor, keys = await client.scan(cursor, count=2, **options)
        for key in keys:
            yield key
        if cursor == 0:
            return


# --- FLUSHDB, FLUSHALL --------------------------------------------------------------------------


async def test_flushdb_empties_only_the_current_namespace(r2, raw):
    await r2.set("a", "1")
    await raw.command("SET", "b", "2", "FROM", "other")
    assert await r2.flushdb() is True
    assert await r2.dbsize() == 0
    assert await raw.command("GET", "b", "FROM", "other") == b"2"
    assert await r2.flushdb(asynchronous=True) is True
    assert await raw.command("FLUSHDB", "SYNC") == OK
    assert await raw.command("FLUSHDB", "FROM", "other") == OK
    assert await raw.command("GET", "b", "FROM", "other") is None
    assert (await raw.command("FLUSHDB", "LATER")).message == "syntax error"


async def test_flushdb_follows_select(port):
    """redis-py's db=3 is namespace db3: FLUSHDB there leaves db0 alone."""
    zero, three = ThreadedRedis(port, protocol=2), ThreadedRedis(port, protocol=2, db=3)
    await zero.set("k", "0")
    await three.set("k", "3")
    assert await three.flushdb() is True
    assert await three.get("k") is None
    assert await zero.get("k") == b"0"


async def test_flushall_empties_every_namespace(r2, raw):
    await r2.set("a", "1")
    await raw.command("SET", "b", "2", "FROM", "other", "TTL", "1h")
    assert await r2.flushall() is True
    assert await r2.dbsize() == 0
    assert await raw.command("DBSIZE", "FROM", "other") == 0
    assert await raw.command("FLUSHALL", "ASYNC") == OK
    assert (await raw.command("FLUSHALL", "FROM", "x")).message == "syntax error"


async def test_flush_commands_in_a_transaction(r2, raw):
    """All or nothing with the writes around them."""
    await r2.set("old", "1")
    await raw.command("MULTI")
    for command in (("SET", "a", "1"), ("FLUSHDB",), ("SET", "b", "2"), ("SET", "c", "3", "FROM", "x"),
                    ("FLUSHALL",), ("SET", "d", "4")):  # fmt: skip
        assert await raw.command(*command) == SimpleString("QUEUED")
    assert await raw.command("EXEC") == [OK] * 6
    assert await r2.keys("*") == [b"d"]


async def test_flushall_needs_write_on_every_namespace(nursery, tmp_path):
    """A user who may write some namespaces cannot empty the others: FLUSHALL is refused, FLUSHDB
    empties only a namespace it may write."""
    config = make_config(tmp_path / "data")
    users = {"some": UserConfig(password=hash_password("pw"), read=["*"], write=["mine"])}
    config = evolve(config, auth=evolve(config.auth, users=users))
    server = await nursery.start(functools.partial(serve, config))
    client = await RawClient.connect(server.state.port)
    assert await client.command("AUTH", "some", "pw") == OK
    assert await client.command("SET", "k", "v", "FROM", "mine") == OK
    refusal = await client.command("FLUSHALL")
    assert refusal.prefix == "NOPERM" and "writes every namespace" in refusal.message
    assert (await client.command("FLUSHDB")).prefix == "NOPERM", "the current namespace is default"
    assert await client.command("FLUSHDB", "FROM", "mine") == OK
    await client.aclose()


async def test_copy_db_n_copies_into_that_database(r2, raw):
    """redis-py's copy(destination_db=n) sends Redis's DB n: the namespace SELECT n reaches."""
    await r2.set("a", "v")
    assert await r2.copy("a", "b", destination_db=3) is True
    assert await raw.command("SELECT", "3") == OK
    assert await raw.command("GET", "b") == b"v"
