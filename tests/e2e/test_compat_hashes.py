"""Redis's hash commands that existing code calls (issue 19): HSETNX, HSTRLEN, HRANDFIELD, HSCAN,
on mi's JSON objects, driven by redis-py."""

from __future__ import annotations

import pytest
import redis
import trio

from protocol.replies import SimpleString


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


async def test_hsetnx_sets_a_missing_field_only(r2):
    """Typed as HSET types a value; the TTL stays."""
    assert await r2.hsetnx("h", "a", "1") == 1
    await r2.expire("h", 100)
    assert await r2.hsetnx("h", "a", "2") == 0
    assert await r2.hsetnx("h", "b", "true") == 1
    assert await r2.hgetall("h") == {b"a": b"1", b"b": b"true"}
    assert await r2.ttl("h") > 90
    assert await r2.execute_command("HSETNX", "h", "c", "x", "FROM", "other") == 1
    assert await r2.hexists("h", "c") is False


async def test_hstrlen_is_the_length_of_the_value_as_text(r2, raw):
    await r2.hset("h", mapping={"s": "hello", "n": 36, "flag": "true"})
    await raw.command("HSET", "j", '{"f": 1.5, "o": {"a": [1, 2]}}')
    assert await r2.hstrlen("h", "s") == 5
    assert await r2.hstrlen("h", "n") == 2
    assert await r2.hstrlen("h", "flag") == 4
    assert await r2.hstrlen("j", "f") == 3
    assert await r2.hstrlen("j", "o") == len('{"a":[1,2]}')
    assert await r2.hstrlen("h", "missing") == 0
    assert await r2.hstrlen("nokey", "f") == 0


async def test_hrandfield_without_count_answers_one_field(r2):
    assert await r2.hrandfield("nokey") is None
    await r2.hset("h", mapping={"a": 1, "b": 2})
    with trio.fail_after(10):
        seen = set()
        while seen != {b"a", b"b"}:
            seen.add(await r2.hrandfield("h"))


async def test_hrandfield_counts(r2):
    """A positive count: distinct fields, at most all; negative: exactly that many, repeats
    allowed; 0 or a missing key: empty."""
    await r2.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    two = await r2.hrandfield("h", 2)
    assert len(two) == 2 and len(set(two)) == 2 and set(two) <= {b"a", b"b", b"c"}
    assert sorted(await r2.hrandfield("h", 10)) == [b"a", b"b", b"c"]
    many = await r2.hrandfield("h", -10)
    assert len(many) == 10 and set(many) <= {b"a", b"b", b"c"}
    assert await r2.hrandfield("h", 0) == []
    assert await r2.hrandfield("nokey", 5) == []


async def test_hrandfield_withvalues_flat_in_resp2_pairs_in_resp3(raw):
    """As Redis: RESP2 one flat array, RESP3 an array of [field, value] (values typed)."""
    await raw.command("HSET", "h", "a", "1")
    assert await raw.command("HRANDFIELD", "h", "-2", "WITHVALUES") == [b"a", b"1", b"a", b"1"]
    await raw.command("HELLO", "3")
    assert await raw.command("HRANDFIELD", "h", "2", "WITHVALUES") == [[b"a", 1]]


async def test_hrandfield_withvalues_through_redis_py(r2):
    await r2.hset("h", mapping={"a": "x", "b": "y"})
    pairs = await r2.hrandfield("h", 2, withvalues=True)
    flat = pairs if not pairs or not isinstance(pairs[0], list) else [part for pair in pairs for part in pair]
    assert dict(zip(flat[::2], flat[1::2])) == {b"a": b"x", b"b": b"y"}


async def test_hrandfield_errors(r2):
    await r2.set("s", "text")
    assert (await _error(r2.hrandfield("s"))).startswith("WRONGTYPE")
    assert "not an integer" in await _error(r2.execute_command("HRANDFIELD", "h", "x"))
    assert await _error(r2.execute_command("HRANDFIELD", "h", "1", "WITHVALUES", "more")) == "syntax error"
    assert await _error(r2.execute_command("HRANDFIELD", "h", str(2**62), "WITHVALUES")) == "value is out of range"


async def test_hscan_answers_every_field_at_once(r2):
    """Cursor 0 in one call, as Redis for a small hash; MATCH filters fields; NOVALUES leaves the
    values out; FROM names the namespace."""
    await r2.hset("h", mapping={"a1": 1, "a2": "two", "b": "true"})
    assert await r2.hscan("h", 0) == (0, {b"a1": b"1", b"a2": b"two", b"b": b"true"})
    assert await r2.hscan("h", 0, match="a*", count=1) == (0, {b"a1": b"1", b"a2": b"two"})
    assert await r2.hscan("h", 0, no_values=True) == (0, [b"a1", b"a2", b"b"])
    assert [item async for item in _hscan_iter(r2, "h")] == [(b"a1", b"1"), (b"a2", b"two"), (b"b", b"true")]
    assert await r2.hscan("nokey", 0) == (0, {})
    assert await r2.execute_command("HSCAN", "h", "0", "NOVALUES", "FROM", "other") == (0, {})


async def _hscan_iter(client, key):
    cursor = None
    while cursor != 0:
        cursor, fields = await client.hscan(key, cursor or 0)
        for item in fields.items():
            yield item


async def test_hscan_errors(r2):
    await r2.set("s", "text")
    assert (await _error(r2.hscan("s", 0))).startswith("WRONGTYPE")
    assert await _error(r2.execute_command("HSCAN", "h", "x")) == "invalid cursor"
    assert await _error(r2.execute_command("HSCAN", "h", "0", "COUNT", "0")) == "syntax error"
    assert await _error(r2.execute_command("HSCAN", "h", "0", "MATCH")) == "syntax error"


async def test_hash_commands_in_a_transaction(raw):
    await raw.command("MULTI")
    for command in (("HSETNX", "h", "a", "1"), ("HSETNX", "h", "a", "2"), ("HSTRLEN", "h", "a"),
                    ("HRANDFIELD", "h"), ("HSCAN", "h", "0")):  # fmt: skip
        assert await raw.command(*command) == SimpleString("QUEUED")
    assert await raw.command("EXEC") == [1, 0, 1, b"a", [b"0", [b"a", b"1"]]]


async def test_hincrbyfloat_adds_exactly_and_answers_text(r2):
    assert await r2.hincrbyfloat("h", "f") == 1.0  # a missing field counts as 0
    assert await r2.hincrbyfloat("h", "f", 1.2) == 2.2
    assert await r2.hincrbyfloat("h", "f", 0.1) == 2.3
    assert await r2.hget("h", "f") == b"2.3"  # exact, as Redis prints it (not 2.3000000000000003)
    assert await r2.hincrbyfloat("h", "f", -0.3) == 2.0
    assert await r2.hget("h", "f") == b"2"
    await r2.hset("h", "word", "abc")
    with pytest.raises(redis.ResponseError, match="hash value is not a float"):
        await r2.hincrbyfloat("h", "word", 1)
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        await r2.execute_command("HINCRBYFLOAT", "h", "f", "lots")
