"""Delayed delivery seen by clients: due messages taken with their value, leases, NACK, dead letters.

A mock clock that runs at real speed and can jump drives the server's time (see test_ttl.py).
"""

from __future__ import annotations

import pytest
import trio
from attrs import evolve

from mi.settings.config import NamespaceSettings
from protocol import CommandError
from protocol.replies import SimpleString
from storage import shard_index
from support import IO_TIMEOUT, RawClient, as_map, make_config, resp_command, wait_blocked, wait_reaped

OK = SimpleString("OK")
SHARDS = 4


@pytest.fixture
def config(tmp_path):
    jobs = NamespaceSettings(on_expire="deliver", lease=10.0, max_attempts=3, dead_letter="jobs-dead")
    return evolve(make_config(tmp_path / "data"), namespaces={"jobs": jobs})



async def take(client: RawClient, *options) -> list[dict]:
    return [as_map(message) for message in await client.command("TAKE", "FROM", "jobs", *options)]


async def info(client: RawClient) -> dict:
    return as_map(await client.command("NAMESPACE", "INFO", "jobs"))


async def wait_returned(server, count: int) -> None:
    """Until the reaper has handed back ``count`` deliveries whose lease ran out."""
    with trio.fail_after(IO_TIMEOUT):
        while server.state.reaper.returned < count:
            await trio.sleep(0.01)


async def test_a_message_is_handed_over_at_its_deadline_value_and_all(timed_server, client, clock):
    assert await client.command("HSET", "order:1", '{"total": 12}', "FROM", "jobs", "TTL", "2s", "PRIORITY", "5") == OK
    assert await take(client) == [], "not due yet"
    assert (await info(client))[b"scheduled"] == 1
    clock.jump(2)
    await wait_reaped(timed_server, 1)
    assert await client.command("GET", "order:1", "FROM", "jobs") is None, "it left the namespace"
    status = await info(client)
    assert (status[b"keys"], status[b"due"], status[b"in_flight"]) == (0, 1, 0)
    (message,) = await take(client)
    assert message[b"key"] == b"order:1"
    assert message[b"value"] == b'{"total":12}' and message[b"type"] == b"json"  # RESP2: JSON text
    assert (message[b"priority"], message[b"attempts"]) == (5, 1)
    assert message[b"id"].startswith(f"{shard_index(b'order:1', SHARDS)}-".encode())
    assert (await info(client))[b"in_flight"] == 1
    assert await client.command("ACK", "jobs", message[b"id"]) == 1
    assert await client.command("ACK", "jobs", message[b"id"]) == 0, "once"
    status = await info(client)
    assert (status[b"due"], status[b"in_flight"]) == (0, 0)


async def test_resp3_gets_the_value_typed(timed_server, client, clock):
    await client.command("HELLO", "3")
    await client.command("LSET", "l", "[1, true]", "FROM", "jobs", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    (message,) = await take(client)
    assert message[b"value"] == [1, True]


async def test_a_blocked_consumer_is_woken_when_a_message_falls_due(timed_server, client, clock):
    consumer = await RawClient.connect(timed_server.state.port)
    got: list = []

    async def consume() -> None:
        got.extend(await take(consumer, "BLOCK", "0"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        await client.command("SET", "job", "run me", "FROM", "jobs", "TTL", "3s")
        clock.jump(3)
    await consumer.aclose()
    assert [(m[b"key"], m[b"value"]) for m in got] == [(b"job", b"run me")]


async def test_block_gives_up_with_an_empty_answer(timed_server, client, clock):
    async with trio.open_nursery() as nursery:
        result: list = []

        async def consume() -> None:
            result.append(await take(client, "BLOCK", "500"))

        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        clock.jump(0.5)
    assert result == [[]]


async def test_most_urgent_first_across_shards(timed_server, client, clock):
    keys = [f"k{i}" for i in range(12)]  # spread over the shards
    for i, key in enumerate(keys):
        await client.command("SET", key, i, "FROM", "jobs", "TTL", "1s", "PRIORITY", (i * 7) % 12)
    clock.jump(1)
    await wait_reaped(timed_server, len(keys))
    first = await take(client, "COUNT", "5")
    rest = await take(client, "COUNT", "100")
    priorities = [m[b"priority"] for m in first + rest]
    assert priorities == sorted(priorities) == list(range(12))


async def test_an_unacknowledged_lease_runs_out_and_the_message_comes_again(timed_server, client, clock):
    """After the lease, the retry backoff (1 s at most for a first failure), then the same message."""
    await client.command("SET", "job", "x", "FROM", "jobs", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    (first,) = await take(client, "LEASE", "2s")
    clock.jump(2)
    await wait_returned(timed_server, 1)
    assert await take(client) == [], "it waits for its retry"
    clock.jump(1)
    await wait_returned(timed_server, 2)
    (second,) = await take(client)
    assert second[b"attempts"] == 2 and second[b"id"] == first[b"id"], "the same message, the same id"
    assert await client.command("ACK", "jobs", second[b"id"]) == 1
    assert await client.command("ACK", "jobs", first[b"id"]) == 0, "once"


async def test_nack_now_later_or_after_the_backoff(timed_server, client, clock):
    await client.command("SET", "job", "x", "FROM", "jobs", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    (first,) = await take(client)
    assert await client.command("NACK", "jobs", first[b"id"], "DELAY", "now") == 1
    (second,) = await take(client)
    assert second[b"attempts"] == 2
    assert await client.command("NACK", "jobs", second[b"id"], "DELAY", "5s") == 1
    assert await take(client) == [], "not before the delay"
    clock.jump(5)
    await wait_returned(timed_server, 1)
    (third,) = await take(client)
    assert third[b"attempts"] == 3
    assert third[b"id"] == first[b"id"]


async def test_after_max_attempts_the_message_goes_to_the_dead_letter_namespace(timed_server, client, clock):
    await client.command("SET", "job", "poison", "FROM", "jobs", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    for attempt in (1, 2, 3):
        (message,) = await take(client)
        assert message[b"attempts"] == attempt
        assert await client.command("NACK", "jobs", message[b"id"], "DELAY", "now") == 1
    assert await take(client) == []
    assert await client.command("GET", "job", "FROM", "jobs-dead") == b"poison"
    assert await client.command("TTL", "job", "FROM", "jobs-dead") == -1


async def test_rescheduling_and_cancelling_before_the_deadline(timed_server, client, clock):
    await client.command("SET", "a", "v1", "FROM", "jobs", "TTL", "10s")
    await client.command("SET", "a", "v2", "FROM", "jobs", "TTL", "1s")  # the key is the handle
    await client.command("SET", "b", "x", "FROM", "jobs", "TTL", "1s")
    await client.command("DEL", "b", "FROM", "jobs")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    assert [(m[b"key"], m[b"value"]) for m in await take(client, "COUNT", "10")] == [(b"a", b"v2")]


async def test_commands_on_other_namespaces_and_ids_no_take_gave(timed_server, client):
    reply = await client.command("TAKE", "FROM", "plain")
    assert isinstance(reply, CommandError) and "does not deliver" in reply.message
    assert await client.command("ACK", "jobs", "99-1", "0-12345") == 0
    assert await client.command("NACK", "jobs", "0-12345") == 0
    reply = await client.command("ACK", "jobs", "nonsense")
    assert isinstance(reply, CommandError) and "invalid delivery id" in reply.message
    assert await client.command("NAMESPACE", "CONFIG", "plain", "SET", "on_expire", "deliver") == OK
    assert await client.command("TAKE", "FROM", "plain") == []


async def test_a_blocked_take_does_not_hold_up_shutdown(timed_server, client):
    """Shutdown allows 10 s for commands under way; a TAKE BLOCK 0 answers at once instead."""
    got: list = []

    async def consume() -> None:
        got.append(await take(client, "BLOCK", "0"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        timed_server.request_shutdown()
        with trio.fail_after(5):  # well inside the 10 s grace period
            while not got:
                await trio.sleep(0.01)
    assert got == [[]]


async def test_client_kill_ends_a_blocked_take_at_once(timed_server, client):
    """A consumer waiting in TAKE BLOCK 0 holds nothing: CLIENT KILL closes it without waiting."""
    victim = await RawClient.connect(timed_server.state.port)
    victim_id = await victim.command("CLIENT", "ID")
    await victim.send(resp_command("TAKE", "FROM", "jobs", "BLOCK", "0"))
    with trio.fail_after(IO_TIMEOUT):
        while timed_server.state.blocked_clients == 0:
            await trio.sleep(0.01)
    assert await client.command("CLIENT", "KILL", "ID", victim_id) == 1
    assert await victim.is_closed()
    assert timed_server.state.blocked_clients == 0
    await victim.aclose()


async def test_flushns_forgets_messages_due_and_in_flight(timed_server, client, clock):
    for key in ("a", "b"):
        await client.command("SET", key, "x", "FROM", "jobs", "TTL", "1s")
    await client.command("SET", "later", "x", "FROM", "jobs", "TTL", "1h")
    clock.jump(1)
    await wait_reaped(timed_server, 2)
    (taken,) = await take(client)
    assert await client.command("FLUSHNS", "jobs") == OK
    status = await info(client)
    assert (status[b"keys"], status[b"scheduled"], status[b"due"], status[b"in_flight"]) == (0, 0, 0, 0)
    assert await client.command("ACK", "jobs", taken[b"id"]) == 0


async def test_a_consumer_that_hangs_up_while_blocked_takes_nothing(server, raw, port):
    """TAKE ... BLOCK from a consumer that then closes: the message that falls due is not leased
    to the dead connection (where it would wait out its lease), the next consumer gets it."""
    gone = await RawClient.connect(port)
    await gone.send(resp_command("TAKE", "FROM", "jobs", "BLOCK", "0"))
    await wait_blocked(server, 1)
    await gone.aclose()
    await wait_blocked(server, 0)
    assert await raw.command("SET", "job", "x", "FROM", "jobs", "PX", "1") == OK
    with trio.fail_after(IO_TIMEOUT):
        while not (taken := await take(raw)):
            await trio.sleep(0.01)
    assert taken[0][b"key"] == b"job" and taken[0][b"attempts"] == 1
