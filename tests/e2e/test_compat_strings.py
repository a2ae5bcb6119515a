"""Redis's string commands that existing code calls (issue 19): SETEX, PSETEX, SETNX, GETSET, MSETNX,
INCRBYFLOAT, APPEND, STRLEN, GETRANGE, SETRANGE, driven by redis-py against a real server."""

from __future__ import annotations

import pytest
import redis
import trio

from protocol.replies import SimpleString
from support import ServerOnPort

OK = SimpleString("OK")


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


async def _transaction(client, build) -> list:
    """Run a MULTI/EXEC built by ``build(pipe)`` (redis-py's pipeline, transaction=True)."""

    def run() -> list:
        pipe = client.client.pipeline(transaction=True)
        build(pipe)
        return pipe.execute(raise_on_error=False)

    return await trio.to_thread.run_sync(run)


# --- SETEX, PSETEX, SETNX, GETSET, MSETNX -------------------------------------------------------


async def test_setex_and_psetex_set_a_value_with_its_ttl(r2):
    """The value is typed as SET types it; the TTL is in seconds / milliseconds."""
    assert await r2.setex("a", 100, "42") is True
    assert await r2.get("a") == b"42"
    assert await r2.type("a") == b"integer"
    assert 99 <= await r2.ttl("a") <= 100
    assert await r2.psetex("b", 50_000, "hello") is True
    assert 49_000 < await r2.pttl("b") <= 50_000


async def test_setex_refuses_a_ttl_that_is_not_positive(r2):
    """Redis's texts, naming the command; nothing is written."""
    assert await _error(r2.execute_command("SETEX", "a", "0", "v")) == "invalid expire time in 'setex' command"
    assert await _error(r2.execute_command("PSETEX", "a", "-5", "v")) == "invalid expire time in 'psetex' command"
    assert "not an integer" in await _error(r2.execute_command("SETEX", "a", "x", "v"))
    assert "wrong number of arguments" in await _error(r2.execute_command("SETEX", "a", "5"))
    assert await r2.exists("a") == 0


async def test_setnx_sets_only_a_missing_key(r2):
    assert await r2.setnx("k", "first") is True
    assert await r2.setnx("k", "second") is False
    assert await r2.get("k") == b"first"


async def test_getset_answers_the_old_value_and_clears_the_ttl(r2):
    assert await r2.getset("k", "1") is None
    await r2.expire("k", 100)
    assert await r2.getset("k", "two") == b"1"
    assert await r2.get("k") == b"two"
    assert await r2.ttl("k") == -1


async def test_msetnx_sets_all_or_none(r2):
    assert await r2.msetnx({"a": "1", "b": "2"}) is True
    assert await r2.msetnx({"c": "3", "a": "x"}) is False
    assert await r2.mget("a", "b", "c") == [b"1", b"2", None]
    assert "wrong number of arguments" in await _error(r2.execute_command("MSETNX", "a", "1", "b"))


async def test_from_names_the_namespace(raw):
    """SETEX, SETNX, GETSET, APPEND, STRLEN... take FROM after their fixed arguments."""
    assert await raw.command("SETEX", "k", "100", "v", "FROM", "other") == OK
    assert await raw.command("SETNX", "k", "w", "FROM", "other") == 0
    assert await raw.command("GETSET", "k", "w", "FROM", "other") == b"v"
    assert await raw.command("APPEND", "k", "xy", "FROM", "other") == 3
    assert await raw.command("STRLEN", "k", "FROM", "other") == 3
    assert await raw.command("GETRANGE", "k", "1", "-1", "FROM", "other") == b"xy"
    assert await raw.command("SETRANGE", "k", "0", "W", "FROM", "other") == 3
    assert await raw.command("INCRBYFLOAT", "n", "1.5", "FROM", "other") == b"1.5"
    assert await raw.command("GET", "k", "FROM", "other") == b"Wxy"
    assert await raw.command("EXISTS", "k", "n") == 0, "nothing in the connection's namespace"


async def test_msetnx_reads_from_as_a_pair(r2):
    """MSETNX's trailing arguments are values: FROM there is a key."""
    assert await r2.execute_command("MSETNX", "k", "v", "FROM", "ns9") == 1
    assert await r2.get("FROM") == b"ns9"


# --- INCRBYFLOAT --------------------------------------------------------------------------------


async def test_incrbyfloat_answers_and_stores_redis_text(r2, raw):
    """Redis's examples: 10.50 + 0.1 = "10.6", then - 5 = "5.6"; 5.0e3 + 2.0e2 = "5200", stored as
    SET would store that text (an integer); the TTL stays."""
    await r2.set("mykey", "10.50")
    assert await r2.incrbyfloat("mykey", 0.1) == 10.6
    assert await raw.command("INCRBYFLOAT", "mykey", "-5") == b"5.6"
    assert await r2.type("mykey") == b"string"
    await r2.execute_command("SET", "big", "5.0e3", "EX", "100")
    assert await raw.command("INCRBYFLOAT", "big", "2.0e2") == b"5200"
    assert await r2.type("big") == b"integer"
    assert await r2.ttl("big") > 90
    assert await r2.incr("big") == 5201


async def test_incrbyfloat_counts_from_zero_and_adds_exactly(raw):
    """A missing key is 0; 0.1 + 0.2 is 0.3 (as Redis's long double prints it), not 0.30000000000000004."""
    assert await raw.command("INCRBYFLOAT", "n", "0.1") == b"0.1"
    assert await raw.command("INCRBYFLOAT", "n", "0.2") == b"0.3"
    await raw.command("SET", "i", "7")
    assert await raw.command("INCRBYFLOAT", "i", "-7") == b"0"
    assert await raw.command("INCRBYFLOAT", "i", "1e-20") == b"0", "17 decimals, as Redis prints them"


async def test_incrbyfloat_errors(r2):
    """Redis's texts: not a float (argument or stored text, a boolean too), an infinite result,
    a hash; the stored value is unchanged."""
    await r2.set("text", "hello")
    await r2.set("flag", "true")
    await r2.hset("h", "f", "1")
    await r2.set("n", "1")
    assert await _error(r2.execute_command("INCRBYFLOAT", "n", "abc")) == "value is not a valid float"
    assert await _error(r2.execute_command("INCRBYFLOAT", "n", " 1")) == "value is not a valid float"
    assert await _error(r2.execute_command("INCRBYFLOAT", "n", "nan")) == "value is not a valid float"
    assert await _error(r2.execute_command("INCRBYFLOAT", "text", "1")) == "value is not a valid float"
    assert await _error(r2.execute_command("INCRBYFLOAT", "flag", "1")) == "value is not a valid float"
    assert await _error(r2.execute_command("INCRBYFLOAT", "n", "inf")) == "increment would produce NaN or Infinity"
    assert (await _error(r2.execute_command("INCRBYFLOAT", "h", "1"))).startswith("WRONGTYPE")
    assert await r2.get("n") == b"1"


# --- APPEND, STRLEN, GETRANGE, SETRANGE ---------------------------------------------------------


async def test_append_creates_and_extends_keeping_the_ttl(r2):
    assert await r2.append("k", "Hello") == 5
    await r2.expire("k", 100)
    assert await r2.append("k", " World") == 11
    assert await r2.get("k") == b"Hello World"
    assert await r2.ttl("k") > 90


async def test_byte_commands_see_an_integer_or_boolean_as_its_text(r2):
    """An integer is its decimal and a boolean "true"/"false", as GET shows them in RESP2. Reads
    leave the type alone; APPEND makes text of it (INCR still counts it if it is digits)."""
    await r2.set("n", 10)
    await r2.set("flag", "true")
    assert await r2.strlen("n") == 2
    assert await r2.strlen("flag") == 4
    assert await r2.getrange("flag", 1, 2) == b"ru"
    assert await r2.type("n") == b"integer"
    assert await r2.append("n", "5") == 3
    assert await r2.type("n") == b"string"
    assert await r2.incr("n") == 106


async def test_strlen_and_getrange_of_a_missing_key(r2):
    assert await r2.strlen("nope") == 0
    assert await r2.getrange("nope", 0, -1) == b""


async def test_getrange_follows_redis_index_rules(r2):
    """Inclusive ends, negative ones from the end, clamped; empty when nothing is left."""
    await r2.set("k", "This is a string")
    assert await r2.getrange("k", 0, 3) == b"This"
    assert await r2.getrange("k", -3, -1) == b"ing"
    assert await r2.getrange("k", 0, -1) == b"This is a string"
    assert await r2.getrange("k", 10, 100) == b"string"
    assert await r2.getrange("k", 5, 3) == b""
    assert await r2.getrange("k", -1, -5) == b""
    assert await r2.getrange("k", -100, 1) == b"Th"
    assert "not an integer" in await _error(r2.execute_command("GETRANGE", "k", "a", "1"))


async def test_setrange_overwrites_and_pads_with_zero_bytes(r2):
    await r2.set("k", "Hello World")
    assert await r2.setrange("k", 6, "Redis") == 11
    assert await r2.get("k") == b"Hello Redis"
    assert await r2.setrange("pad", 5, "x") == 6
    assert await r2.get("pad") == b"\0\0\0\0\0x"
    assert await r2.setrange("k", 3, "") == 11, "an empty value changes nothing"
    assert await r2.setrange("empty", 3, "") == 0
    assert await r2.exists("empty") == 0, "nor creates the key"


async def test_setrange_errors(r2):
    """A negative offset, one past Redis's 512 MiB, one past the value size limit (before the
    string is built), a non-integer; a hash is the wrong type."""
    await r2.hset("h", "f", "1")
    assert await _error(r2.execute_command("SETRANGE", "k", "-1", "x")) == "offset is out of range"
    too_far = str(512 * 1024 * 1024)
    assert await _error(r2.execute_command("SETRANGE", "k", too_far, "x")) == (
        "string exceeds maximum allowed size (proto-max-bulk-len)"
    )
    assert "max_value_size" in await _error(r2.execute_command("SETRANGE", "k", str(400 * 1024 * 1024), "x"))
    assert "not an integer" in await _error(r2.execute_command("SETRANGE", "k", "x", "x"))
    assert (await _error(r2.setrange("h", 0, "x"))).startswith("WRONGTYPE")
    assert (await _error(r2.append("h", "x"))).startswith("WRONGTYPE")
    assert (await _error(r2.strlen("h"))).startswith("WRONGTYPE")
    assert (await _error(r2.getrange("h", 0, 1))).startswith("WRONGTYPE")
    assert await r2.exists("k") == 0


async def test_string_commands_in_a_transaction(r2):
    """Each sees the ones before it; a WRONGTYPE rolls the whole EXEC back (mi's rule)."""
    replies = await _transaction(r2, lambda pipe: (
        pipe.setnx("a", "x"), pipe.append("a", "yz"), pipe.strlen("a"), pipe.getrange("a", 1, 2),
        pipe.setrange("a", 0, "X"), pipe.incrbyfloat("f", 2.5), pipe.setex("t", 100, "v"), pipe.getset("a", "new"),
        pipe.msetnx({"m1": "1", "m2": "2"}),
    ))  # fmt: skip
    assert replies == [True, 3, 3, b"yz", 3, 2.5, True, b"Xyz", True]
    await r2.hset("h", "f", "1")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE EXEC rolled back, nothing applied: command 2 of 2"):
        await _transaction(r2, lambda pipe: (pipe.set("b", "1"), pipe.append("h", "x")))
    assert await r2.exists("b") == 0


async def test_resp3_keeps_the_reply_types_redis_has(raw):
    """INCRBYFLOAT and GETRANGE answer bulk strings in RESP3 too, APPEND and STRLEN integers."""
    await raw.command("HELLO", "3")
    assert await raw.command("INCRBYFLOAT", "f", "1.25") == b"1.25"
    assert await raw.command("APPEND", "s", "abc") == 3
    assert await raw.command("STRLEN", "s") == 3
    assert await raw.command("GETRANGE", "s", "0", "0") == b"a"


def test_appended_and_set_ranges_survive_kill_9(tmp_path):
    """APPEND and SETRANGE are acknowledged only once durable: kill -9 keeps them."""
    server = ServerOnPort(tmp_path / "data")
    client = redis.Redis(port=server.port)
    client.set("k", "abc")
    assert client.append("k", "def") == 6
    assert client.setrange("k", 0, "X") == 6
    assert client.incrbyfloat("f", 1.5) == 1.5
    client.close()
    server.kill()
    server.start()
    try:
        again = redis.Redis(port=server.port)
        assert again.get("k") == b"Xbcdef"
        assert again.get("f") == b"1.5"
        again.close()
    finally:
        server.kill()


async def test_substr_is_getrange(r2):
    await r2.set("a", "0123456789")
    assert await r2.substr("a", 3, 5) == b"345"
    assert await r2.substr("a", 3, -2) == b"345678"
