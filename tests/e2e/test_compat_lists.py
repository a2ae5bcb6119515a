"""Redis's list commands that existing code calls (issue 19): LPOS, LINSERT, LMOVE, RPOPLPUSH and
the blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, on mi's JSON arrays, driven by redis-py.

A test that pushes to wake a blocked client first waits until INFO counts it blocked, so nothing
here hopes that a sleep was long enough."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio
import trio

from protocol.replies import NULL_ARRAY, SimpleString
from support import IO_TIMEOUT, RawClient, ThreadedRedis, resp_command, wait_blocked


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


async def test_lpos_finds_indexes_by_rank_count_and_maxlen(r2):
    await r2.rpush("l", "a", "b", "c", "b", "d", "b")
    assert await r2.lpos("l", "b") == 1
    assert await r2.lpos("l", "b", rank=2) == 3
    assert await r2.lpos("l", "b", rank=-1) == 5
    assert await r2.lpos("l", "b", count=0) == [1, 3, 5]
    assert await r2.lpos("l", "b", rank=-1, count=2) == [5, 3]
    assert await r2.lpos("l", "b", rank=2, count=5) == [3, 5]
    assert await r2.lpos("l", "d", maxlen=4) is None
    assert await r2.lpos("l", "b", maxlen=2) == 1
    assert await r2.lpos("l", "zz") is None
    assert await r2.lpos("l", "zz", count=0) == []
    assert await r2.lpos("nokey", "a") is None
    assert await r2.execute_command("LPOS", "l", "c", "FROM", "default") == 2


async def test_lpos_compares_typed_elements(r2, raw):
    """``5`` pushed is an integer, ``"5"`` quoted inline a string: different elements."""
    await raw.command("RPUSH", "t", "x")
    await raw.inline(b'RPUSH t "5" 5')
    assert await r2.lpos("t", 5) == 2


async def test_lpos_errors(r2):
    await r2.rpush("l", "a")
    assert "RANK can't be zero" in await _error(r2.execute_command("LPOS", "l", "a", "RANK", "0"))
    assert await _error(r2.execute_command("LPOS", "l", "a", "COUNT", "-1")) == "COUNT can't be negative"
    assert await _error(r2.execute_command("LPOS", "l", "a", "MAXLEN", "-1")) == "MAXLEN can't be negative"
    assert await _error(r2.execute_command("LPOS", "l", "a", "RANK")) == "syntax error"
    assert await _error(r2.execute_command("LPOS", "l", "a", "BOGUS", "1")) == "syntax error"
    assert "not an integer" in await _error(r2.execute_command("LPOS", "l", "a", "RANK", "x"))


async def test_linsert_before_and_after_the_first_pivot(r2):
    await r2.rpush("l", "a", "b", "a")
    await r2.expire("l", 100)
    assert await r2.linsert("l", "BEFORE", "a", "x") == 4
    assert await r2.linsert("l", "after", "a", "y") == 5
    assert await r2.lrange("l", 0, -1) == [b"x", b"a", b"y", b"b", b"a"]
    assert await r2.linsert("l", "before", "zz", "q") == -1
    assert await r2.linsert("nokey", "before", "a", "q") == 0
    assert await r2.exists("nokey") == 0
    assert await r2.ttl("l") > 90
    assert await r2.execute_command("LINSERT", "l", "AFTER", "b", "from", "FROM", "default") == 6
    assert await r2.lindex("l", 4) == b"from"
    assert await _error(r2.execute_command("LINSERT", "l", "MIDDLE", "a", "b")) == "syntax error"


async def test_lmove_moves_between_ends(r2):
    await r2.rpush("src", "a", "b", "c")
    assert await r2.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert await r2.lmove("src", "dst", "RIGHT", "LEFT") == b"c"
    assert await r2.lrange("dst", 0, -1) == [b"c", b"a"]
    assert await r2.rpoplpush("src", "dst") == b"b"
    assert await r2.exists("src") == 0  # its last element went: the key goes, as in Redis
    assert await r2.lrange("dst", 0, -1) == [b"b", b"c", b"a"]
    assert await r2.lmove("nokey", "dst") is None
    assert await r2.rpoplpush("nokey", "dst") is None


async def test_lmove_onto_the_same_list_rotates_it(r2):
    await r2.rpush("l", "a", "b", "c")
    assert await r2.lmove("l", "l", "LEFT", "RIGHT") == b"a"
    assert await r2.rpoplpush("l", "l") == b"a"
    assert await r2.lrange("l", 0, -1) == [b"a", b"b", b"c"]


async def test_lmove_to_another_namespace(r2):
    """``FROM ns`` names the source's namespace, ``TO ns`` the destination's (as COPY)."""
    await r2.execute_command("SELECT", "1")
    await r2.rpush("q", "job")
    await r2.execute_command("SELECT", "0")
    assert await r2.execute_command("LMOVE", "q", "q", "LEFT", "LEFT", "FROM", "1", "TO", "done") == b"job"
    assert await r2.execute_command("LRANGE", "q", "0", "-1", "FROM", "done") == [b"job"]
    assert await r2.execute_command("LLEN", "q", "FROM", "1") == 0
    assert await _error(r2.execute_command("LMOVE", "a", "b", "UP", "LEFT")) == "syntax error"
    assert await _error(r2.execute_command("RPOPLPUSH", "a", "b", "TO")) == "syntax error"


async def test_wrong_types_answer_wrongtype(r2):
    """As Redis: a missing source moves nothing (nil) even onto a string; an existing one onto a
    string answers WRONGTYPE and keeps its element."""
    await r2.set("s", "text")
    await r2.rpush("l", "a")
    calls = [lambda: r2.lpos("s", "a"), lambda: r2.linsert("s", "before", "a", "b"), lambda: r2.lmove("s", "l"),
             lambda: r2.lmove("l", "s")]
    for call in calls:
        assert "WRONGTYPE" in await _error(call())
    assert await r2.lrange("l", 0, -1) == [b"a"]
    assert await r2.lmove("nokey", "s") is None


# -- blocking pops --------------------------------------------------------------------------------


async def _blocked_client(server, *command: str) -> RawClient:
    """A raw client that has sent ``command`` and is now blocked in it."""
    client = await RawClient.connect(server.state.port)
    waiting = server.state.blocked_clients
    await client.send(resp_command(*command))
    await wait_blocked(server, waiting + 1)
    return client


async def test_blpop_and_brpop_answer_at_once_when_a_list_has_elements(r2):
    await r2.rpush("b", "x", "y")
    assert await r2.blpop(["a", "b"], 1) == (b"b", b"x")
    assert await r2.brpop(["a", "b"], 0) == (b"b", b"y")
    assert await r2.exists("b") == 0


async def test_a_push_wakes_blocked_clients_in_the_order_they_blocked(server, r2):
    """Redis's fairness rule: the first to block gets the first element; one push of three
    elements serves three waiters."""
    waiters = [await _blocked_client(server, "BLPOP", "q", "0") for _ in range(3)]
    assert await r2.rpush("q", "a", "b", "c") == 3
    assert [await waiter.read_reply() for waiter in waiters] == [[b"q", b"a"], [b"q", b"b"], [b"q", b"c"]]
    assert await r2.exists("q") == 0
    assert server.state.blocked_clients == 0


async def test_one_element_serves_one_waiter_the_next_waits_on(server, r2):
    first = await _blocked_client(server, "BRPOP", "q", "0")
    second = await _blocked_client(server, "BRPOP", "q", "0")
    await r2.lpush("q", "one")
    assert await first.read_reply() == [b"q", b"one"]
    await wait_blocked(server, 1)  # the second looked, found nothing, and waits again
    await r2.lpush("q", "two")
    assert await second.read_reply() == [b"q", b"two"]


async def test_a_waiter_on_several_keys_takes_from_the_first_pushed(server, r2):
    waiter = await _blocked_client(server, "BLPOP", "a", "b", "c", "0")
    await r2.rpush("c", "z")
    assert await waiter.read_reply() == [b"c", b"z"]


async def test_a_timeout_answers_a_null_array(server, r2, r3):
    assert await r2.blpop(["nokey"], 0.1) is None
    assert await r3.brpop(["nokey"], 0.2) is None
    assert await r2.brpoplpush("nokey", "dst", 0.1) is None
    assert await r2.blmove("nokey", "dst", 0.1, "LEFT", "RIGHT") is None
    raw = await RawClient.connect(server.state.port)
    await raw.send(resp_command("BLPOP", "nokey", "0.05"))
    assert await raw.stream.receive_some(100) == b"*-1\r\n"
    assert server.state.blocked_clients == 0


async def test_timeout_errors(r2):
    assert await _error(r2.execute_command("BLPOP", "k", "soon")) == "timeout is not a float or out of range"
    assert await _error(r2.execute_command("BLPOP", "k", "-1")) == "timeout is negative"
    assert await _error(r2.execute_command("BLMOVE", "a", "b", "LEFT", "LEFT", "nan")) == (
        "timeout is not a float or out of range"
    )
    assert await _error(r2.execute_command("BLMOVE", "a", "b", "UP", "LEFT", "0")) == "syntax error"


async def test_blmove_waits_for_the_source_and_moves_into_the_destination(server, r2):
    waiter = await _blocked_client(server, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    other = await _blocked_client(server, "BRPOPLPUSH", "src", "dst", "0")
    await r2.rpush("src", "a", "b")
    assert await waiter.read_reply() == b"b"
    assert await other.read_reply() == b"a"
    assert await r2.lrange("dst", 0, -1) == [b"a", b"b"]


async def test_moves_and_whole_list_writes_wake_waiters_too(server, r2, raw):
    """Any write that leaves elements in the list wakes its waiters: LMOVE's destination, and
    ``LSET key [json]``."""
    waiter = await _blocked_client(server, "BLPOP", "dst", "0")
    await r2.rpush("src", "m")
    assert await r2.lmove("src", "dst") == b"m"
    assert await waiter.read_reply() == [b"dst", b"m"]
    waiter = await _blocked_client(server, "BRPOP", "whole", "0")
    assert await raw.command("LSET", "whole", "[1, 2]") == SimpleString("OK")
    assert await waiter.read_reply() == [b"whole", b"2"]


async def test_blocking_pops_name_their_namespace_with_from(server, r2):
    waiter = await _blocked_client(server, "BLPOP", "jobs", "1.5", "FROM", "work")
    await r2.rpush("jobs", "here")  # the default namespace: not the one it waits on
    await r2.execute_command("SELECT", "work")
    await r2.rpush("jobs", "there")
    assert await waiter.read_reply() == [b"jobs", b"there"]
    await r2.execute_command("SELECT", "0")
    assert await r2.lrange("jobs", 0, -1) == [b"here"]
    mover = await _blocked_client(server, "BLMOVE", "in", "out", "LEFT", "LEFT", "0", "FROM", "work", "TO", "done")
    await r2.execute_command("SELECT", "work")
    await r2.rpush("in", "j")
    assert await mover.read_reply() == b"j"
    assert await r2.execute_command("LRANGE", "out", "0", "-1", "FROM", "done") == [b"j"]


async def test_client_kill_ends_a_blocked_pop_without_taking(server, r2):
    victim = await RawClient.connect(server.state.port)
    victim_id = await victim.command("CLIENT", "ID")
    await victim.send(resp_command("BLPOP", "q", "0"))
    await wait_blocked(server, 1)
    assert await r2.execute_command("CLIENT", "KILL", "ID", victim_id) == 1
    assert await victim.is_closed()
    assert server.state.blocked_clients == 0
    await r2.rpush("q", "kept")
    assert await r2.lrange("q", 0, -1) == [b"kept"]
    await victim.aclose()


async def test_a_killed_waiter_lets_the_next_in_line_have_the_element(server, r2):
    victim = await RawClient.connect(server.state.port)
    victim_id = await victim.command("CLIENT", "ID")
    await victim.send(resp_command("BLPOP", "q", "0"))
    await wait_blocked(server, 1)
    patient = await _blocked_client(server, "BLPOP", "q", "0")
    assert await r2.execute_command("CLIENT", "KILL", "ID", victim_id) == 1
    await wait_blocked(server, 1)
    await r2.rpush("q", "x")
    assert await patient.read_reply() == [b"q", b"x"]


async def test_shutdown_answers_blocked_pops_null(server):
    waiter = await _blocked_client(server, "BLPOP", "q", "0")
    server.request_shutdown()
    assert await waiter.read_reply() == NULL_ARRAY


async def test_in_multi_blocking_pops_act_at_once(r2):
    """Inside MULTI nothing blocks, as in Redis: BLPOP answers what LPOP would (null if empty)."""
    await r2.rpush("l", "a")
    pipe = r2.client.pipeline(transaction=True)
    pipe.blpop(["l"], 0).blpop(["l"], 0).rpush("l", "b", "c").brpoplpush("l", "m", 0).blmove("none", "m", 0)
    assert await trio.to_thread.run_sync(pipe.execute) == [(b"l", b"a"), None, 2, b"c", None]
    assert await r2.lrange("m", 0, -1) == [b"c"]


async def test_wrong_types_in_blocking_pops(r2):
    await r2.set("s", "text")
    await r2.rpush("l", "a")
    assert "WRONGTYPE" in await _error(r2.blpop(["nokey", "s"], 0.1))
    assert "WRONGTYPE" in await _error(r2.blmove("l", "s", 0.1))
    assert await r2.blpop(["l", "s"], 0.1) == (b"l", b"a")  # a list before it answers first, as Redis


async def test_redis_py_asyncio_blpop_is_woken_by_another_connection(server, r2):
    """redis.asyncio, in a thread of its own: a BLPOP woken by a push from another connection."""
    port = server.state.port

    async def pop() -> object:
        client = redis.asyncio.Redis(port=port)
        try:
            return await client.blpop(["aq"], 5)
        finally:
            await client.aclose()

    got = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _collect(got, lambda: asyncio.run(pop())))
        await wait_blocked(server, 1)
        await r2.rpush("aq", "hello")
    assert got == [(b"aq", b"hello")]


async def _collect(into: list, run) -> None:
    into.append(await trio.to_thread.run_sync(run))


async def test_a_blocked_pop_whose_client_hung_up_takes_nothing(server, port, r2):
    """A client that closes while blocked in BRPOP is gone at once: the next push stays in the list
    (it once took the element and lost it: nobody was there to receive it)."""
    gone = await RawClient.connect(port)
    await gone.send(b"*3\r\n$5\r\nBRPOP\r\n$2\r\nq1\r\n$1\r\n0\r\n")
    await wait_blocked(server, 1)
    await gone.aclose()
    await wait_blocked(server, 0)  # the server sees the hang-up and drops the waiter
    assert await r2.lpush("q1", "job") == 1
    assert await r2.lrange("q1", 0, -1) == [b"job"]


async def test_a_request_sent_while_a_pop_is_blocked_runs_after_it(server, raw, r2):
    """What a blocked client sends meanwhile is read (to see a hang-up) and kept, not lost."""
    await raw.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    await wait_blocked(server, 1)
    await raw.send(b"*1\r\n$4\r\nPING\r\n")
    (blocked,) = [s for s in server.state.sessions.values() if s.blocked]
    with trio.fail_after(IO_TIMEOUT):  # read during the wait, not yet run
        while not blocked.parser.buffered_bytes:
            await trio.sleep(0.005)
    await r2.rpush("q", "x")
    assert await raw.read_reply() == [b"q", b"x"]
    assert await raw.read_reply() == SimpleString("PONG")


async def test_lpushx_and_rpushx_push_only_onto_an_existing_list(r2):
    assert await r2.lpushx("q", "a") == 0 and await r2.rpushx("q", "a") == 0
    assert await r2.exists("q") == 0  # a missing list stays missing
    await r2.rpush("q", "1")
    assert await r2.lpushx("q", "0") == 2 and await r2.rpushx("q", "2", "3") == 4
    assert await r2.lrange("q", 0, -1) == [b"0", b"1", b"2", b"3"]
    await r2.set("s", "text")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await r2.lpushx("s", "x")


async def test_lmpop_pops_up_to_count_from_the_first_non_empty_list(r2):
    await r2.rpush("foo", "1", "2", "3", "4", "5")
    assert await r2.lmpop("2", "bar", "foo", direction="LEFT", count=2) == [b"foo", [b"1", b"2"]]
    assert await r2.lmpop("2", "bar", "foo", direction="RIGHT", count=10) == [b"foo", [b"5", b"4", b"3"]]
    assert await r2.exists("foo") == 0  # emptied, so gone
    assert await r2.lmpop("2", "bar", "foo", direction="LEFT") is None
    with pytest.raises(redis.ResponseError, match="syntax error"):
        await r2.lmpop("2", "bar", "foo", direction="up")
    with pytest.raises(redis.ResponseError, match="numkeys should be greater than 0"):
        await r2.execute_command("LMPOP", "0", "k", "LEFT")


async def test_blmpop_waits_for_a_push_then_pops(server, r2, port):
    waiting = ThreadedRedis(port)
    async with trio.open_nursery() as nursery:
        answers: list = []

        async def blocked() -> None:
            answers.append(await waiting.blmpop(0, "2", "a", "b", direction="LEFT", count=2))

        nursery.start_soon(blocked)
        await wait_blocked(server, 1)
        await r2.rpush("b", "x", "y", "z")
    assert answers == [[b"b", [b"x", b"y"]]]
    assert await r2.lrange("b", 0, -1) == [b"z"]
    assert await r2.blmpop(0.05, "1", "none", direction="RIGHT") is None  # after the timeout
