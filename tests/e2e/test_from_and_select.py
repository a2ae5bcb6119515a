"""FROM and SELECT as a Redis user meets them: values that say "from" stay values, numbered
databases map onto namespaces, and an HSET/LSET of a non-JSON value says what it expects.

Values here are strings, so the assertions hold whichever way RESP2 answers stored scalars.
"""

from __future__ import annotations

import shutil

import pytest
import redis
import trio

from support import IO_TIMEOUT, ThreadedRedis


async def _namespaces(client: ThreadedRedis) -> set[bytes]:
    return set(await client.execute_command("NAMESPACES"))


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


# --- values that contain "from" -------------------------------------------------------------------


async def test_rpush_of_words_with_from_pushes_every_word(r2):
    """r.rpush("words", "go", "from", "home") pushes three words into the connection's namespace."""
    assert await r2.rpush("words", "go", "from", "home") == 3
    assert await r2.lrange("words", 0, -1) == [b"go", b"from", b"home"]
    assert b"home" not in await _namespaces(r2)


async def test_lpush_of_words_with_from_pushes_every_word(r2):
    """LPUSH likewise, upper case FROM included."""
    assert await r2.lpush("words", "go", "FROM", "home") == 3
    assert await r2.lrange("words", 0, -1) == [b"home", b"FROM", b"go"]
    assert b"home" not in await _namespaces(r2)


async def test_hset_mapping_with_a_from_field_sets_the_field(r2):
    """r.hset("h", mapping={"a": "1", "FROM": "x"}) sets two fields, in no namespace x."""
    assert await r2.hset("h", mapping={"a": "one", "FROM": "x"}) == 2
    assert await r2.hget("h", "FROM") == b"x"
    assert await r2.hget("h", "a") == b"one"
    assert b"x" not in await _namespaces(r2)


async def test_hset_of_a_from_field_in_the_redis_form(r2):
    """HSET h from x (a pair alone) and HMSET with a FROM pair set fields too."""
    assert await r2.hset("h", "from", "x") == 1
    assert await r2.execute_command("HMSET", "h", "b", "two", "FROM", "ns") is True
    assert await r2.hmget("h", "from", "b", "FROM") == [b"x", b"two", b"ns"]
    assert b"ns" not in await _namespaces(r2)


async def test_hmget_of_fields_named_from(r2):
    """HMGET h a FROM ns asks for three fields."""
    await r2.hset("h", mapping={"a": "one", "FROM": "two", "ns": "three"})
    assert await r2.hmget("h", "a", "FROM", "ns") == [b"one", b"two", b"three"]


async def test_hdel_of_fields_named_from(r2):
    """HDEL h a FROM ns deletes three fields of h, in the connection's namespace."""
    await r2.hset("h", mapping={"a": "1", "FROM": "2", "ns": "3", "keep": "4"})
    assert await r2.hdel("h", "a", "FROM", "ns") == 3
    assert await r2.hkeys("h") == [b"keep"]


async def test_mset_with_a_from_key_sets_the_key(r2):
    """r.mset({"k1": "v", "FROM": "ns9"}) sets the keys k1 and FROM and creates no ns9."""
    assert await r2.mset({"k1": "v", "FROM": "ns9"}) is True
    assert await r2.mget("k1", "FROM") == [b"v", b"ns9"]
    assert b"ns9" not in await _namespaces(r2)


async def test_lrem_of_the_element_from(r2):
    """LREM k 0 from removes the element "from"."""
    await r2.rpush("l", "from", "x", "from")
    assert await r2.lrem("l", 0, "from") == 2
    assert await r2.lrange("l", 0, -1) == [b"x"]


async def test_lset_index_form_of_the_element_from(r2):
    """LSET k 0 FROM sets the element "FROM"."""
    await r2.rpush("l", "a")
    assert await r2.lset("l", 0, "FROM") is True
    assert await r2.lrange("l", 0, -1) == [b"FROM"]


async def test_select_is_where_variadic_writes_go(r2):
    """To push into another namespace, SELECT it: the write and the read both go there."""
    replies = await r2.on_one_connection(
        ("SELECT", "inbox"), ("RPUSH", "l", "a", "from", "b"), ("LRANGE", "l", 0, -1), ("SELECT", "default")
    )
    assert replies[1:3] == [3, [b"a", b"from", b"b"]]
    assert await r2.execute_command("LRANGE", "l", 0, -1, "FROM", "inbox") == [b"a", b"from", b"b"]
    assert await r2.exists("l") == 0


# --- the seed's FROM forms --------------------------------------------------------------------


async def test_seed_from_forms_still_name_the_namespace(r2):
    """SET/HSET {json}/LSET [..]/GET/DEL/MGET/EXISTS ... FROM ns work on namespace ns."""
    assert await r2.execute_command("SET", "s", "v", "FROM", "shop") is True
    assert await r2.execute_command("HSET", "h", '{"a": "x"}', "FROM", "shop") == b"OK"  # no callback for +OK
    assert await r2.execute_command("LSET", "l", '["p", "q"]', "FROM", "shop") is True
    assert await r2.execute_command("GET", "s", "FROM", "shop") == b"v"
    assert await r2.execute_command("HGET", "h", "a", "FROM", "shop") == b"x"
    assert await r2.execute_command("MGET", "s", "nope", "FROM", "shop") == [b"v", None]
    assert await r2.execute_command("EXISTS", "s", "h", "l", "FROM", "shop") == 3
    assert await r2.exists("s", "h", "l") == 0, "nothing went to default"
    assert await r2.execute_command("DEL", "s", "h", "FROM", "shop") == 2
    assert await r2.execute_command("EXISTS", "s", "h", "l", "FROM", "shop") == 1


# --- numbered databases -------------------------------------------------------------------------


async def test_select_0_is_the_default_namespace(raw):
    """SELECT 0 goes back to default, where a connection starts."""
    assert await raw.command("SET", "k", "home") is not None
    await raw.command("SELECT", "elsewhere")
    assert await raw.command("GET", "k") is None
    await raw.command("SELECT", "0")
    assert await raw.command("GET", "k") == b"home"
    assert b"0" not in set(await raw.command("NAMESPACES"))


async def test_redis_py_db_0_uses_default(port, r2):
    """redis-py with db=0 reads and writes the default namespace."""
    client = ThreadedRedis(port, protocol=2, db=0)
    try:
        await client.set("k", "v0")
        assert await r2.execute_command("GET", "k", "FROM", "default") == b"v0"
    finally:
        client.client.close()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_db_3_uses_namespace_db3(port, r2, protocol):
    """redis-py with db=3 writes namespace db3 (not "3"), which FROM 3 and FROM db3 both name."""
    client = ThreadedRedis(port, protocol=protocol, db=3)
    try:
        await client.set("k", "v3")
        assert await client.get("k") == b"v3"
    finally:
        client.client.close()
    assert await r2.execute_command("GET", "k", "FROM", "db3") == b"v3"
    assert await r2.execute_command("GET", "k", "FROM", "3") == b"v3"
    assert await r2.get("k") is None
    names = await _namespaces(r2)
    assert b"db3" in names
    assert b"3" not in names


async def test_select_past_a_c_int_is_refused(r2):
    """A database number Redis could not read answers Redis's error."""
    assert await _error(r2.execute_command("SELECT", "99999999999")) == "DB index is out of range"


redis_cli = shutil.which("redis-cli")


@pytest.mark.skipif(redis_cli is None, reason="redis-cli is not installed")
async def test_redis_cli_n_uses_namespace_db_n(port, r2):
    """redis-cli -n 3 writes namespace db3; -n 0 the default namespace."""
    with trio.fail_after(IO_TIMEOUT):
        three = await trio.run_process(
            [redis_cli, "-p", str(port), "-n", "3", "SET", "k", "cli3"], capture_stdout=True, capture_stderr=True
        )
        zero = await trio.run_process(
            [redis_cli, "-p", str(port), "-n", "0", "SET", "k", "cli0"], capture_stdout=True, capture_stderr=True
        )
    assert three.stdout.strip() == b"OK", three.stderr
    assert zero.stdout.strip() == b"OK", zero.stderr
    assert await r2.execute_command("GET", "k", "FROM", "db3") == b"cli3"
    assert await r2.get("k") == b"cli0"
    assert b"3" not in await _namespaces(r2)


# --- HSET / LSET of a value that is no JSON -----------------------------------------------------


@pytest.mark.parametrize("value", ["[1]", "notjson", "42"])
async def test_hset_of_one_non_object_says_an_object_is_expected(r2, value):
    """HSET k '[1]', HSET k notjson, HSET k 42: the error names what HSET expects."""
    error = await _error(r2.execute_command("HSET", "k", value))
    assert error == 'HSET value must be a JSON object, e.g. {"a": 1}'


async def test_hset_of_a_non_object_with_options_says_so_too(r2):
    """HSET k 42 FROM ns TTL 5: still the JSON form, still the helpful error."""
    error = await _error(r2.execute_command("HSET", "k", "42", "FROM", "ns", "TTL", "5"))
    assert error == 'HSET value must be a JSON object, e.g. {"a": 1}'


@pytest.mark.parametrize("value", ['{"a": 1}', "notjson", "42"])
async def test_lset_of_one_non_array_says_an_array_is_expected(r2, value):
    """LSET k '{"a": 1}', LSET k notjson, LSET k 42: the error names what LSET expects."""
    error = await _error(r2.execute_command("LSET", "k", value))
    assert error == "LSET value must be a JSON array, e.g. [1, 2]"


async def test_hset_field_value_form_still_sets_a_field(r2):
    """HSET k f v is the Redis form: a field."""
    assert await r2.hset("k", "f", "v") == 1
    assert await r2.hget("k", "f") == b"v"


async def test_hset_with_a_missing_value_is_a_wrong_arity(r2):
    """HSET k a b c is a field-value form short of a value, as Redis says."""
    error = await _error(r2.execute_command("HSET", "k", "a", "b", "c"))
    assert error == "wrong number of arguments for 'hset' command"
