"""Counters, hashes, lists and the extra key commands, driven by redis-py's own helpers."""

from __future__ import annotations

import time

import pytest
import redis

from support import RawClient


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


# --- counters ---------------------------------------------------------------------------------


async def test_counters_start_at_zero_and_count(r2):
    """INCR on a missing key gives 1; INCRBY, DECR, DECRBY move it (integer replies); GET reads
    the decimal, as from Redis, and TYPE says integer."""
    assert await r2.incr("c") == 1
    assert await r2.incrby("c", 10) == 11
    assert await r2.decr("c") == 10
    assert await r2.decrby("c", 4) == 6
    assert await r2.get("c") == b"6"
    assert await r2.type("c") == b"integer"


async def test_counter_keeps_its_ttl(r2):
    """An increment is not a new message: the deadline stays."""
    await r2.execute_command("SET", "c", "1", "TTL", "1h")
    await r2.incr("c")
    assert 3500 < await r2.ttl("c") <= 3600


async def test_counter_on_text_or_structures_is_refused(r2):
    """Text: not an integer; a hash or list: WRONGTYPE. The value is unchanged."""
    await r2.set("text", "hello")
    await r2.hset("obj", "f", "v")
    assert "not an integer" in await _error(r2.incr("text"))
    assert (await _error(r2.incr("obj"))).startswith("WRONGTYPE Operation against a key holding the wrong kind")
    assert await r2.get("text") == b"hello"


async def test_counter_overflow_is_an_error(r2):
    await r2.set("c", 2**63 - 1)
    assert "overflow" in await _error(r2.incr("c"))
    assert await r2.get("c") == b"9223372036854775807"


async def test_quoted_digits_still_count(raw):
    """A string written as an integer (SET ... AS STRING) increments like Redis's strings do."""
    await raw.command("SET", "c", "41", "AS", "STRING")
    assert await raw.command("INCR", "c") == 42


# --- hashes -----------------------------------------------------------------------------------


async def test_hash_helpers_work_on_json_objects(r2):
    """hset/hget/hmget/hgetall/hkeys/hvals/hlen/hexists/hdel as redis-py calls them."""
    assert await r2.hset("user", "name", "alice") == 1
    assert await r2.hset("user", mapping={"age": 30, "name": "bob"}) == 1  # one new field
    assert await r2.hget("user", "name") == b"bob"
    assert await r2.hget("user", "age") == b"30"  # stored as an integer, read as Redis's text
    assert await r2.hmget("user", ["name", "missing"]) == [b"bob", None]
    assert await r2.hgetall("user") == {b"name": b"bob", b"age": b"30"}
    assert await r2.hkeys("user") == [b"name", b"age"]
    assert await r2.hvals("user") == [b"bob", b"30"]
    assert await r2.hlen("user") == 2
    assert await r2.hexists("user", "age") is True
    assert await r2.hdel("user", "age", "nope") == 1
    assert await r2.get("user") == b'{"name":"bob"}'  # still the JSON object GET returns


async def test_hset_field_form_extends_an_object_stored_as_json(r2):
    """HSET k {json} and HSET k field value act on the same object."""
    await r2.execute_command("HSET", "k", '{"a": {"deep": true}}')
    await r2.hset("k", "b", "2")
    assert await r2.hgetall("k") == {b"a": b'{"deep":true}', b"b": b"2"}


async def test_hgetall_is_a_map_in_resp3(r3):
    await r3.hset("h", mapping={"a": 1, "b": "x"})
    assert await r3.hgetall("h") == {b"a": 1, b"b": b"x"}


async def test_deleting_the_last_field_deletes_the_key(r2):
    await r2.hset("h", "only", "1")
    assert await r2.hdel("h", "only") == 1
    assert await r2.exists("h") == 0


async def test_hincrby_counts_fields(r2):
    assert await r2.hincrby("h", "n", 5) == 5
    assert await r2.hincrby("h", "n", -2) == 3
    await r2.hset("h", "s", "text")
    assert await _error(r2.hincrby("h", "s", 1)) == "hash value is not an integer"


async def test_hash_commands_on_a_string_are_wrongtype(r2):
    await r2.set("s", "v")
    assert (await _error(r2.hget("s", "f"))).startswith("WRONGTYPE ")
    assert (await _error(r2.hset("s", "f", "v"))).startswith("WRONGTYPE ")


async def test_hset_field_form_reads_no_from_clause(r2):
    """Redis form: a trailing FROM ns is one more field-value pair, in the connection's namespace."""
    assert await r2.execute_command("HSET", "k", "a", "1", "FROM", "ns") == 2
    assert await r2.hget("k", "FROM") == b"ns"
    assert await r2.execute_command("EXISTS", "k", "FROM", "ns") == 0


# --- lists ------------------------------------------------------------------------------------


async def test_list_helpers_work_on_json_arrays(r2):
    """Push, pop, range, index, length, set, remove, trim with Redis's index rules."""
    assert await r2.rpush("l", "a", "b", "c") == 3
    assert await r2.lpush("l", "y", "z") == 5  # z first, as Redis does
    assert await r2.lrange("l", 0, -1) == [b"z", b"y", b"a", b"b", b"c"]
    assert await r2.lrange("l", -2, 100) == [b"b", b"c"]
    assert await r2.lindex("l", -1) == b"c"
    assert await r2.lindex("l", 9) is None
    assert await r2.llen("l") == 5
    assert await r2.lset("l", 1, "Y") is True
    assert await r2.lpop("l") == b"z"
    assert await r2.rpop("l", 2) == [b"c", b"b"]
    assert await r2.lrange("l", 0, -1) == [b"Y", b"a"]
    assert await r2.get("l") == [b"Y", b"a"]  # the same JSON array GET returns


async def test_lrem_counts_from_either_end(r2):
    await r2.rpush("l", "x", "a", "x", "b", "x")
    assert await r2.lrem("l", -2, "x") == 2
    assert await r2.lrange("l", 0, -1) == [b"x", b"a", b"b"]
    assert await r2.lrem("l", 0, "x") == 1


async def test_lrem_compares_types(r2, r3):
    """1 (an integer element) is not "1" quoted as a string, nor true."""
    await r2.execute_command("LSET", "l", '[1, "1", true]')
    assert await r2.lrem("l", 0, "1") == 1  # redis-py sends bare 1: the integer
    assert await r3.get("l") == [b"1", True]  # RESP3 tells the boolean apart


async def test_ltrim_keeps_a_range_and_empties_delete(r2):
    await r2.rpush("l", *"abcdef")
    assert await r2.ltrim("l", 1, -2) is True
    assert await r2.lrange("l", 0, -1) == [b"b", b"c", b"d", b"e"]
    await r2.ltrim("l", 5, 10)
    assert await r2.exists("l") == 0


async def test_pop_missing_key_is_nil(r2):
    assert await r2.lpop("nothing") is None
    assert await r2.rpop("nothing", 3) is None


async def test_lset_errors(r2):
    assert await _error(r2.lset("missing", 0, "x")) == "no such key"
    await r2.rpush("l", "a")
    assert await _error(r2.lset("l", 5, "x")) == "index out of range"


async def test_list_commands_on_a_hash_are_wrongtype(r2):
    await r2.hset("h", "f", "v")
    assert (await _error(r2.lpush("h", "x"))).startswith("WRONGTYPE ")
    assert (await _error(r2.lrange("h", 0, -1))).startswith("WRONGTYPE ")


async def test_push_keeps_the_ttl(r2):
    await r2.execute_command("LSET", "l", "[1]", "TTL", "1h")
    await r2.rpush("l", 2)
    assert await r2.ttl("l") > 3500


# --- more on keys -----------------------------------------------------------------------------


async def test_mset_and_mget(r2):
    assert await r2.mset({"a": "1", "b": "two"}) is True
    assert await r2.mget("a", "b", "c") == [b"1", b"two", None]
    await r2.on_one_connection(("SELECT", "ns"), ("MSET", "a", "x"), ("SELECT", "default"))
    assert await r2.execute_command("MGET", "a", "FROM", "ns") == [b"x"]


async def test_getdel_and_getex(r2):
    await r2.set("k", "v")
    assert await r2.getdel("k") == b"v"
    assert await r2.exists("k") == 0
    await r2.set("k", "v")
    assert await r2.getex("k", ex=100) == b"v"
    assert 95 < await r2.ttl("k") <= 100
    assert await r2.getex("k", persist=True) == b"v"
    assert await r2.ttl("k") == -1


async def test_set_get_exat_pxat(r2):
    """SET ... GET answers the old value; EXAT/PXAT set an absolute deadline."""
    await r2.set("k", "old")
    assert await r2.set("k", "new", get=True) == b"old"
    assert await r2.expiretime("k") == -1
    at = int(time.time()) + 500
    await r2.set("k", "v", exat=at)
    assert await r2.expiretime("k") == at
    await r2.set("k", "v", pxat=at * 1000 + 5)
    assert await r2.pexpiretime("k") == at * 1000 + 5
    await r2.set("gone", "v", exat=1)  # in the past: set and expired at once
    assert await r2.exists("gone") == 0


async def test_rename_and_copy_keep_value_and_ttl(r2):
    await r2.execute_command("SET", "a", "v", "TTL", "1h")
    assert await r2.rename("a", "b") is True
    assert await r2.exists("a") == 0
    assert await r2.get("b") == b"v" and await r2.ttl("b") > 3500
    assert await r2.copy("b", "c") is True
    assert await r2.copy("b", "c") is False  # taken, no REPLACE
    assert await r2.execute_command("COPY", "b", "c", "TO", "other") == 1
    assert await r2.execute_command("GET", "c", "FROM", "other") == b"v"
    assert await _error(r2.rename("missing", "x")) == "no such key"
    assert await r2.renamenx("b", "c") is False


async def test_flushns_empties_one_namespace(r2):
    for i in range(10):
        await r2.execute_command("SET", f"k{i}", "v", "FROM", "gone", "TTL", "1h")
    await r2.execute_command("SET", "k", "v", "FROM", "kept")
    assert await r2.execute_command("FLUSHNS", "gone") == b"OK"
    assert await r2.execute_command("DBSIZE", "FROM", "gone") == 0
    assert await r2.execute_command("DBSIZE", "FROM", "kept") == 1


async def test_incr_on_a_string_inside_exec_rolls_back(port):
    """The issue's example: INCR on a string fails, and the SET before it is undone."""
    client = await RawClient.connect(port)
    await client.command("SET", "text", "hello")
    await client.command("MULTI")
    await client.command("SET", "a", "1")
    await client.command("INCR", "text")
    reply = await client.command("EXEC")
    assert "command 2 of 2 (INCR)" in reply.message
    assert await client.command("EXISTS", "a") == 0
    await client.aclose()
