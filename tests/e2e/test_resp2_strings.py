"""RESP2 reads answer bulk strings, as Redis clients expect; RESP3 and CLIENT TYPED ON keep types.

Every read that returns stored data is checked from redis-py in RESP2 (``r2``) and RESP3 (``r3``);
counters and other counts stay integers in both; TYPE keeps naming the stored type.
"""

from __future__ import annotations

import shutil

import pytest
import redis
import trio
from attrs import evolve

from mi.settings.config import NamespaceSettings
from protocol.replies import SimpleString
from support import IO_TIMEOUT, RawClient, ThreadedRedis, as_map, make_config, resp_command, wait_reaped


@pytest.fixture
def config(tmp_path):
    jobs = NamespaceSettings(on_expire="deliver", lease=10.0)
    return evolve(make_config(tmp_path / "data"), namespaces={"jobs": jobs})


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, port):
    """redis-py in RESP2, then in RESP3 (see ``either``)."""
    client = ThreadedRedis(port, protocol=request.param)
    yield client
    client.client.close()


def either(r: ThreadedRedis, resp2: object, resp3: object) -> object:
    """What ``r`` should read: ``resp2`` on a RESP2 connection, ``resp3`` on a RESP3 one."""
    return resp3 if r.client.get_connection_kwargs()["protocol"] == 3 else resp2


async def seed(r) -> None:
    """An integer, two booleans, a JSON object and a list, as a Redis user writes them."""
    await r.set("counter", "10")
    await r.set("flag", "true")
    await r.set("off", "false")
    await r.execute_command("HSET", "user", '{"name": "ada", "age": 36, "admin": false, "tags": ["a", 1]}')
    await r.execute_command("LSET", "items", '[1, "two", true, {"three": 3}, [4, 5], 1.5]')


# --- GET and its kin --------------------------------------------------------------------------


async def test_get_of_an_integer_is_its_decimal_in_resp2(r2):
    """r.set("counter", "10"); r.get("counter") is b"10", and .decode() works."""
    await seed(r2)
    assert await r2.get("counter") == b"10"
    assert (await r2.get("counter")).decode() == "10"


async def test_get_of_an_integer_is_an_integer_in_resp3(r3):
    await seed(r3)
    assert await r3.get("counter") == 10


async def test_get_of_a_boolean_is_true_or_false_in_resp2(r2):
    """SET flag true reads back "true", not :1."""
    await seed(r2)
    assert [await r2.get("flag"), await r2.get("off")] == [b"true", b"false"]


async def test_get_of_a_boolean_is_a_boolean_in_resp3(r3):
    await seed(r3)
    assert [await r3.get("flag"), await r3.get("off")] == [True, False]


async def test_get_of_an_object_is_compact_json_in_resp2(r2):
    await seed(r2)
    assert await r2.get("user") == b'{"name":"ada","age":36,"admin":false,"tags":["a",1]}'


async def test_get_of_a_list_is_an_array_of_bulk_strings_in_resp2(r2):
    """Scalars as their text, an object or a list inside as compact JSON."""
    await seed(r2)
    assert await r2.get("items") == [b"1", b"two", b"true", b'{"three":3}', b"[4,5]", b"1.5"]


async def test_get_of_a_list_is_native_in_resp3(r3):
    await seed(r3)
    assert await r3.get("items") == [1, b"two", True, {b"three": 3}, [4, 5], 1.5]


async def test_mget(r):
    await seed(r)
    assert await r.mget("counter", "flag", "missing") == either(r, [b"10", b"true", None], [10, True, None])


async def test_getdel(r):
    await seed(r)
    assert await r.getdel("counter") == either(r, b"10", 10)
    assert await r.exists("counter") == 0


async def test_getex(r):
    await seed(r)
    assert await r.getex("flag", ex=100) == either(r, b"true", True)
    assert 0 < await r.ttl("flag") <= 100


async def test_set_get_answers_the_old_value(r):
    await seed(r)
    assert await r.set("counter", "11", get=True) == either(r, b"10", 10)


# --- hashes and lists -------------------------------------------------------------------------


async def test_hash_reads(r):
    """HGET, HMGET, HGETALL and HVALS: a numeric, boolean or list field is one bulk string in
    RESP2 (a list's compact JSON), typed in RESP3."""
    await seed(r)
    age, admin, tags = either(r, (b"36", b"false", b'["a",1]'), (36, False, [b"a", 1]))
    assert await r.hget("user", "age") == age
    assert await r.hmget("user", ["age", "admin", "missing"]) == [age, admin, None]
    assert await r.hgetall("user") == {b"name": b"ada", b"age": age, b"admin": admin, b"tags": tags}
    assert await r.hvals("user") == [b"ada", age, admin, tags]


async def test_list_reads(r):
    """LRANGE, LINDEX, LPOP (one and a count), RPOP: elements are bulk strings in RESP2 (a list
    among them its compact JSON, as GET of the list says it), typed in RESP3."""
    await seed(r)
    whole = either(
        r,
        [b"1", b"two", b"true", b'{"three":3}', b"[4,5]", b"1.5"],
        [1, b"two", True, {b"three": 3}, [4, 5], 1.5],
    )
    assert await r.lrange("items", 0, -1) == whole
    assert await r.lindex("items", 2) == whole[2]
    assert await r.lpop("items") == whole[0]
    assert await r.lpop("items", 2) == whole[1:3]
    assert await r.rpop("items") == whole[-1]


# --- what stays an integer --------------------------------------------------------------------


async def test_counters_and_counts_stay_integers_in_resp2(r2):
    """INCR, DECR, INCRBY, DECRBY, HINCRBY, LLEN, HLEN, RPUSH's length, DEL's and EXISTS's counts."""
    await seed(r2)
    assert await r2.incr("counter") == 11
    assert await r2.decr("counter") == 10
    assert await r2.incrby("counter", 5) == 15
    assert await r2.decrby("counter", 3) == 12
    assert await r2.hincrby("user", "age", 1) == 37
    assert await r2.llen("items") == 6
    assert await r2.rpush("items", "x") == 7
    assert await r2.hlen("user") == 4
    assert await r2.exists("counter", "flag", "missing") == 2
    assert await r2.delete("counter", "flag", "missing") == 2


async def test_type_keeps_naming_the_stored_type(r2):
    """TYPE still says integer and boolean: only the reply of a read is text."""
    await seed(r2)
    assert [await r2.type(key) for key in ("counter", "flag", "user", "items")] == [
        b"integer", b"boolean", b"json", b"list"
    ]


async def test_an_incremented_counter_reads_back_as_text(r2):
    """INCR answers an integer; GET of the same key the decimal, as from Redis."""
    assert await r2.incr("hits") == 1
    assert await r2.get("hits") == b"1"


async def test_exec_replies_follow_the_same_rule(r2):
    """Inside EXEC: GET's value is text, INCR's count an integer."""
    with r2.client.pipeline(transaction=True) as pipe:
        pipe.set("n", "1").get("n").incr("n").get("n")
        replies = await trio.to_thread.run_sync(pipe.execute)
    assert replies == [True, b"1", 2, b"2"]


# --- TAKE -------------------------------------------------------------------------------------


async def test_take_answers_the_message_value_as_text_in_resp2(timed_server, client, clock):
    """A due message's value is text in RESP2 (typed in RESP3); its deadline, priority and
    attempts stay integers."""
    await client.command("SET", "n", "42", "FROM", "jobs", "TTL", "1s", "PRIORITY", "1")
    await client.command("SET", "m", "true", "FROM", "jobs", "TTL", "1s", "PRIORITY", "2")
    clock.jump(1)
    await wait_reaped(timed_server, 2)
    (message,) = [as_map(m) for m in await client.command("TAKE", "FROM", "jobs")]
    assert (message[b"key"], message[b"value"], message[b"type"]) == (b"n", b"42", b"integer")
    assert (message[b"priority"], message[b"attempts"]) == (1, 1)
    assert isinstance(message[b"deadline"], int)
    await client.command("HELLO", "3")
    (message,) = await client.command("TAKE", "FROM", "jobs")
    assert (message[b"key"], message[b"value"]) == (b"m", True)


# --- the opt-in: CLIENT TYPED ON ------------------------------------------------------------


async def test_client_typed_on_keeps_types_in_resp2(r2):
    """After CLIENT TYPED ON a RESP2 connection reads integers, :1/:0 and nested arrays; OFF
    goes back to text."""
    await seed(r2)
    replies = await r2.on_one_connection(
        ("CLIENT", "TYPED", "ON"),
        ("GET", "counter"),
        ("GET", "flag"),
        ("HGET", "user", "age"),
        ("LRANGE", "items", "0", "-1"),
        ("CLIENT", "TYPED", "OFF"),
        ("GET", "counter"),
    )
    assert replies == [
        b"OK", 10, 1, 36, [1, b"two", 1, b'{"three":3}', [4, 5], b"1.5"], b"OK", b"10"
    ]


async def test_client_typed_is_per_connection(port, r2):
    """One connection's opt-in leaves the others answering text."""
    await seed(r2)
    typed = await RawClient.connect(port)
    assert await typed.command("CLIENT", "TYPED", "on") == SimpleString("OK")
    assert await typed.command("GET", "counter") == 10
    assert await r2.get("counter") == b"10"
    await typed.aclose()


def _typed_on_connect(connection) -> None:
    """docs/protocol.md's recipe: every pooled redis-py connection opts in as it connects."""
    connection.on_connect()
    connection.send_command("CLIENT", "TYPED", "ON")
    connection.read_response()


async def test_redis_py_connect_func_opts_every_pooled_connection_in(port):
    """With redis_connect_func a RESP2 redis-py client reads typed values on every connection."""
    typed = ThreadedRedis(port, protocol=2, redis_connect_func=_typed_on_connect)
    await typed.set("counter", "10")
    assert await typed.get("counter") == 10
    typed.client.close()


async def test_client_typed_needs_on_or_off(r2):
    """Anything but ON or OFF is a syntax error."""
    with pytest.raises(redis.ResponseError, match="syntax error"):
        await r2.execute_command("CLIENT", "TYPED", "maybe")


async def test_client_typed_changes_nothing_in_resp3(r3):
    """RESP3 keeps the types whatever CLIENT TYPED says."""
    await seed(r3)
    replies = await r3.on_one_connection(("CLIENT", "TYPED", "OFF"), ("GET", "counter"), ("GET", "flag"))
    assert replies[1:] == [10, True]


# --- exact bytes ------------------------------------------------------------------------------


async def exact_bytes(client: RawClient, *requests: tuple[str, ...], length: int) -> bytes:
    """The first ``length`` bytes the server answers ``requests`` (sent in one write) with."""
    data = b""
    with trio.fail_after(IO_TIMEOUT):
        await client.send(b"".join(resp_command(*request) for request in requests))
        while len(data) < length:
            chunk = await client.stream.receive_some(65536)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
    return data


async def test_resp2_bytes_of_an_integer_a_boolean_and_a_list(raw, r2):
    """On the wire: $2 10 and $4 true, not :10 and :1; a list's elements bulk strings; INCR :11."""
    await seed(r2)
    expected = b"$2\r\n10\r\n$4\r\ntrue\r\n*2\r\n$1\r\n1\r\n$3\r\ntwo\r\n:11\r\n"
    requests = (("GET", "counter"), ("GET", "flag"), ("LRANGE", "items", "0", "1"), ("INCR", "counter"))
    assert await exact_bytes(raw, *requests, length=len(expected)) == expected


async def test_typed_resp2_bytes(raw, r2):
    """CLIENT TYPED ON: :10 and :1."""
    await seed(r2)
    expected = b"+OK\r\n:10\r\n:1\r\n"
    requests = (("CLIENT", "TYPED", "ON"), ("GET", "counter"), ("GET", "flag"))
    assert await exact_bytes(raw, *requests, length=len(expected)) == expected


async def test_resp3_bytes(raw, r2):
    """After HELLO 3: :10 and #t."""
    await seed(r2)
    await raw.command("HELLO", "3")
    expected = b":10\r\n#t\r\n"
    assert await exact_bytes(raw, ("GET", "counter"), ("GET", "flag"), length=len(expected)) == expected


# --- redis-cli --------------------------------------------------------------------------------

redis_cli = shutil.which("redis-cli")


async def _cli(port: int, *args: str) -> bytes:
    with trio.fail_after(IO_TIMEOUT):
        done = await trio.run_process([redis_cli, "-p", str(port), "--no-raw", *args], capture_stdout=True)
    return done.stdout.strip()


@pytest.mark.skipif(redis_cli is None, reason="redis-cli is not installed")
async def test_redis_cli_shows_strings_in_resp2_and_types_in_resp3(port, r2):
    """redis-cli GET attempts shows "3"; redis-cli -3 shows (integer) 3 and (true)."""
    await r2.set("attempts", "3")
    await r2.set("flag", "true")
    assert await _cli(port, "GET", "attempts") == b'"3"'
    assert await _cli(port, "INCR", "attempts") == b"(integer) 4"
    assert await _cli(port, "-3", "GET", "attempts") == b"(integer) 4"
    assert await _cli(port, "-3", "GET", "flag") == b"(true)"
