"""Delayed delivery as an operator runs it (issue 20): stable ids, PEEK, EXTEND, NACK's options,
retry backoff, dead letters with their history and KICK, NAMESPACE PAUSE and RESUME.

A mock clock that runs at real speed and can jump drives the server's time (see test_delivery.py).
"""

from __future__ import annotations

import pytest
import trio
from attrs import evolve

from mi.delivery.pull import retry_delay_ms
from mi.settings.config import NamespaceSettings
from protocol import CommandError
from protocol.replies import SimpleString
from support import IO_TIMEOUT, RawClient, ThreadedRedis, as_map, make_config, resp_command, wait_reaped

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    jobs = NamespaceSettings(on_expire="deliver", lease=10.0, max_attempts=3, dead_letter="jobs-dead")
    return evolve(make_config(tmp_path / "data"), namespaces={"jobs": jobs})


async def take(client: RawClient, *options) -> list[dict]:
    return [as_map(message) for message in await client.command("TAKE", "FROM", "jobs", *options)]


async def peek(client: RawClient, *what) -> dict | None:
    reply = await client.command("PEEK", "jobs", *what)
    return None if reply is None else as_map(reply)


async def due_now(server, client: RawClient, *keys: str) -> None:
    """Schedule ``keys`` in jobs, due at once, and wait until the reaper moved them."""
    for key in keys:
        await client.command("SET", key, f"value of {key}", "FROM", "jobs", "TTL", "now")
    await wait_reaped(server, len(keys))


async def wait_returned(server, count: int) -> None:
    with trio.fail_after(IO_TIMEOUT):
        while server.state.reaper.returned < count:
            await trio.sleep(0.01)


async def fail_three_times(client: RawClient, clock, reason: str) -> str:
    """Take and NACK the one due message until it dies (max_attempts 3); its id."""
    for _attempt in range(3):
        (message,) = await take(client)
        assert await client.command("NACK", "jobs", message[b"id"], "DELAY", "now", "REASON", reason) == 1
    return message[b"id"].decode()


# -- stable ids ------------------------------------------------------------------------------------


async def test_a_key_scheduled_again_after_delivery_gets_a_new_id(timed_server, client):
    await due_now(timed_server, client, "job")
    (first,) = await take(client)
    assert await client.command("ACK", "jobs", first[b"id"]) == 1
    await client.command("SET", "job", "again", "FROM", "jobs", "TTL", "now")
    await wait_reaped(timed_server, 2)
    (second,) = await take(client)
    assert second[b"id"] != first[b"id"] and second[b"attempts"] == 1


async def test_an_id_stays_across_nacks_and_can_be_acked_by_it(timed_server, client):
    await due_now(timed_server, client, "job")
    ids = []
    for _ in range(2):
        (message,) = await take(client)
        ids.append(message[b"id"])
        assert await client.command("NACK", "jobs", message[b"id"], "DELAY", "now") == 1
    (message,) = await take(client)
    assert ids == [message[b"id"]] * 2 and message[b"attempts"] == 3
    assert await client.command("ACK", "jobs", ids[0]) == 1


# -- PEEK ------------------------------------------------------------------------------------------


async def test_peek_follows_a_message_from_scheduled_to_in_flight(timed_server, client, clock):
    await client.command("SET", "job", "work", "FROM", "jobs", "TTL", "5s", "PRIORITY", "7")
    scheduled = await peek(client, "KEY", "job")
    assert scheduled[b"state"] == b"scheduled" and scheduled[b"id"] is None, "no id before it falls due"
    assert (scheduled[b"value"], scheduled[b"priority"], scheduled[b"attempts"]) == (b"work", 7, 0)
    clock.jump(5)
    await wait_reaped(timed_server, 1)
    due = await peek(client, "KEY", "job")
    assert due[b"state"] == b"due" and due[b"deadline"] == scheduled[b"deadline"]
    assert await peek(client, due[b"id"]) == due, "the same by id"
    client_id = await client.command("CLIENT", "ID")
    (taken,) = await take(client, "LEASE", "30s")
    assert taken[b"id"] == due[b"id"]
    flying = await peek(client, taken[b"id"])
    assert flying[b"state"] == b"in flight" and flying[b"attempts"] == 1
    assert flying[b"lease_holder"].startswith(f"id={client_id} addr=127.0.0.1:".encode())
    assert 30_000 <= flying[b"lease_until"] - due[b"deadline"] < 30_000 + 5_000
    assert await peek(client, "KEY", "job") == flying
    assert await client.command("ACK", "jobs", taken[b"id"]) == 1
    assert await peek(client, taken[b"id"]) is None and await peek(client, "KEY", "job") is None


async def test_peek_shows_a_nacked_message_waiting_with_its_reason_and_new_priority(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    (taken,) = await take(client)
    now = await client.command("NACK", "jobs", taken[b"id"], "DELAY", "1m", "PRIORITY", "3", "REASON", "db down")
    assert now == 1
    waiting = await peek(client, taken[b"id"])
    assert waiting[b"state"] == b"scheduled", "waiting for its retry"
    assert (waiting[b"reason"], waiting[b"priority"], waiting[b"lease_holder"]) == (b"db down", 3, None)
    assert waiting[b"deadline"] > taken[b"deadline"] + 50_000
    clock.jump(60)
    await wait_returned(timed_server, 1)
    (again,) = await take(client)
    assert (again[b"id"], again[b"priority"], again[b"attempts"]) == (taken[b"id"], 3, 2)
    assert (await peek(client, again[b"id"]))[b"reason"] == b"db down", "kept until the next failure"


async def test_peek_of_nothing_is_nil_and_a_bad_id_an_error(timed_server, client):
    assert await peek(client, "0-99999") is None
    assert await peek(client, "99-1") is None, "no such shard"
    assert await peek(client, "KEY", "nothing") is None
    reply = await client.command("PEEK", "jobs", "banana")
    assert isinstance(reply, CommandError) and "invalid delivery id" in reply.message
    reply = await client.command("PEEK", "jobs", "KEY")
    assert isinstance(reply, CommandError)


async def test_peek_answers_a_map_in_resp3_over_a_raw_socket(timed_server, client):
    await due_now(timed_server, client, "job")
    await client.command("HELLO", "3")
    reply = await client.command("PEEK", "jobs", "KEY", "job")
    assert isinstance(reply, dict) and reply[b"state"] == b"due" and reply[b"lease_holder"] is None
    await client.send(resp_command("PEEK", "jobs", "KEY", "nothing"))
    assert await client.read_reply() is None


# -- EXTEND ----------------------------------------------------------------------------------------


async def test_extend_keeps_the_lease_from_running_out(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    (taken,) = await take(client, "LEASE", "2s")
    clock.jump(1)
    lease_until = await client.command("EXTEND", "jobs", taken[b"id"], "LEASE", "1m")
    flying = await peek(client, taken[b"id"])
    assert flying[b"lease_until"] == lease_until and flying[b"state"] == b"in flight"
    clock.jump(5)  # past the first lease
    await timed_server.state.reaper.reap_due()  # a pass now, rather than hope one ran
    assert timed_server.state.reaper.returned == 0 and await take(client) == []
    assert await client.command("ACK", "jobs", taken[b"id"]) == 1


async def test_extend_without_lease_gives_the_namespaces_lease_and_refuses_what_is_not_held(timed_server, client, now_ms):
    await due_now(timed_server, client, "job")
    (taken,) = await take(client, "LEASE", "1s")
    before = now_ms()
    lease_until = await client.command("EXTEND", "jobs", taken[b"id"])
    assert before + 10_000 <= lease_until <= now_ms() + 10_000, "the namespace's 10 s lease, from now"
    assert await client.command("NACK", "jobs", taken[b"id"], "DELAY", "1h") == 1
    reply = await client.command("EXTEND", "jobs", taken[b"id"])
    assert isinstance(reply, CommandError) and reply.message.startswith(f"no message {taken[b'id'].decode()} is held")
    reply = await client.command("EXTEND", "jobs", "0-424242", "LEASE", "5s")
    assert isinstance(reply, CommandError) and reply.prefix == "ERR"


# -- retry backoff ---------------------------------------------------------------------------------


def test_the_backoff_doubles_with_each_attempt_up_to_the_cap_with_equal_jitter():
    settings = NamespaceSettings(retry_backoff=1.0)
    assert [retry_delay_ms(settings, n, lambda: 1.0) for n in (1, 2, 3, 4)] == [1000, 2000, 4000, 8000]
    assert [retry_delay_ms(settings, n, lambda: 0.0) for n in (1, 2, 3)] == [500, 1000, 2000], "half at least"
    assert retry_delay_ms(settings, 40, lambda: 1.0) == 300_000  # retry_backoff_max's default, 5 minutes
    assert retry_delay_ms(settings, 10_000, lambda: 1.0) == 300_000, "no overflow"
    capped = NamespaceSettings(retry_backoff=1.0, retry_backoff_max=5.0)
    assert [retry_delay_ms(capped, n, lambda: 1.0) for n in (3, 4, 5)] == [4000, 5000, 5000], "retry_backoff_max"


async def test_a_nack_without_delay_waits_for_the_backoff(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    (first,) = await take(client)
    assert await client.command("NACK", "jobs", first[b"id"]) == 1
    assert await take(client) == [], "not at once"
    waiting = await peek(client, first[b"id"])
    assert waiting[b"reason"] == b"nacked"
    clock.jump(1)  # a first failure waits 0.5 to 1 s
    await wait_returned(timed_server, 1)
    (second,) = await take(client)
    assert await client.command("NACK", "jobs", second[b"id"]) == 1
    clock.jump(0.9)  # a second one waits at least 1 s
    await timed_server.state.reaper.reap_due()
    assert await take(client) == []
    clock.jump(1.1)  # and at most 2 s
    await wait_returned(timed_server, 2)
    assert [m[b"attempts"] for m in await take(client)] == [3]


async def test_a_lease_that_runs_out_is_the_reason_shown(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    (taken,) = await take(client, "LEASE", "1s")
    clock.jump(1)
    await wait_returned(timed_server, 1)
    assert (await peek(client, taken[b"id"]))[b"reason"] == b"the lease ran out"


# -- dead letters ----------------------------------------------------------------------------------


async def test_a_dead_letter_keeps_its_history_and_dead_lists_it(timed_server, client, clock):
    await client.command("SET", "poison", "pill", "FROM", "jobs", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    message_id = await fail_three_times(client, clock, "bad input")
    assert await client.command("GET", "poison", "FROM", "jobs-dead") == b"pill", "kept as before"
    (dead,) = [as_map(entry) for entry in await client.command("DEAD", "jobs")]
    assert (dead[b"id"], dead[b"key"], dead[b"value"]) == (message_id.encode(), b"poison", b"pill")
    assert (dead[b"attempts"], dead[b"reason"], dead[b"dead_letter"]) == (3, b"bad input", b"jobs-dead")
    assert dead[b"first_deadline"] <= dead[b"deadline"] <= dead[b"died_at"]
    assert (await peek(client, message_id))[b"state"] == b"dead"
    assert (await peek(client, "KEY", "poison"))[b"id"] == message_id.encode()


async def test_kick_brings_dead_letters_back_with_a_fresh_attempt_count(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    dead_id = await fail_three_times(client, clock, "oops")
    assert await client.command("KICK", "jobs") == 1
    assert await client.command("GET", "job", "FROM", "jobs-dead") is None, "it left the dead letters"
    assert await client.command("DEAD", "jobs") == []
    (again,) = await take(client)
    assert (again[b"key"], again[b"value"], again[b"attempts"]) == (b"job", b"value of job", 1)
    assert again[b"id"] != dead_id.encode(), "a new scheduling"
    assert await client.command("KICK", "jobs") == 0


async def test_kick_by_id_or_count_and_dead_pages_after_an_id(timed_server, client, clock):
    keys = [f"k{i}" for i in range(5)]
    await due_now(timed_server, client, *keys)
    for _attempt in range(3):
        for message in await take(client, "COUNT", "10"):
            await client.command("NACK", "jobs", message[b"id"], "DELAY", "now")
    listed = [as_map(entry) for entry in await client.command("DEAD", "jobs", "COUNT", "100")]
    assert sorted(entry[b"key"] for entry in listed) == [key.encode() for key in keys]
    first_page = [as_map(entry) for entry in await client.command("DEAD", "jobs", "COUNT", "2")]
    rest = [as_map(e) for e in await client.command("DEAD", "jobs", "COUNT", "100", "AFTER", first_page[-1][b"id"])]
    assert [e[b"id"] for e in first_page + rest] == [e[b"id"] for e in listed], "pages in order, none twice"
    assert await client.command("KICK", "jobs", "ID", listed[0][b"id"]) == 1
    assert await client.command("KICK", "jobs", "ID", listed[0][b"id"]) == 0
    assert await client.command("KICK", "jobs", "COUNT", "2") == 2
    assert len(await client.command("DEAD", "jobs")) == 2
    assert len(await take(client, "COUNT", "10")) == 3


async def test_a_dead_letter_deleted_by_hand_is_not_listed_or_kicked(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    await fail_three_times(client, clock, "x")
    assert await client.command("DEL", "job", "FROM", "jobs-dead") == 1
    assert await client.command("DEAD", "jobs") == []
    assert await client.command("KICK", "jobs") == 0


async def test_kick_and_dead_refuse_bad_arguments(timed_server, client):
    reply = await client.command("KICK", "plain")
    assert isinstance(reply, CommandError) and "does not deliver" in reply.message
    for args in (("KICK", "jobs", "COUNT", "1", "ID", "0-1"), ("DEAD", "jobs", "COUNT", "0"), ("DEAD", "jobs", "AFTER")):
        assert isinstance(await client.command(*args), CommandError), args


# -- NAMESPACE PAUSE / RESUME ------------------------------------------------------------------------


async def test_a_paused_namespace_keeps_its_due_messages_until_resumed(timed_server, client, clock):
    assert await client.command("NAMESPACE", "PAUSE", "jobs") == OK
    await client.command("SET", "job", "x", "FROM", "jobs", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    assert await take(client) == [], "paused: none handed out"
    status = as_map(await client.command("NAMESPACE", "INFO", "jobs"))
    assert (status[b"due"], status[b"paused"]) == (1, 1), "the reaper still moved it; nothing dropped"
    assert await client.command("NAMESPACE", "RESUME", "jobs") == OK
    assert as_map(await client.command("NAMESPACE", "INFO", "jobs"))[b"paused"] == 0
    assert [m[b"key"] for m in await take(client)] == [b"job"]


async def test_a_blocked_take_waits_out_a_pause_and_is_woken_by_resume(timed_server, client):
    await client.command("NAMESPACE", "PAUSE", "jobs")
    await due_now(timed_server, client, "job")
    consumer = await RawClient.connect(timed_server.state.port)
    await consumer.send(resp_command("TAKE", "FROM", "jobs", "BLOCK", "0"))
    with trio.fail_after(IO_TIMEOUT):
        while timed_server.state.blocked_clients == 0:
            await trio.sleep(0.01)
    await client.command("NAMESPACE", "RESUME", "jobs")
    with trio.fail_after(IO_TIMEOUT):
        (message,) = await consumer.read_reply()
    assert as_map(message)[b"key"] == b"job"
    await consumer.aclose()


async def test_redis_py_pauses_peeks_and_extends(timed_server, clock):
    """The commands through a stock client, RESP2 and RESP3."""
    for protocol in (2, 3):
        r = ThreadedRedis(timed_server.state.port, protocol=protocol, decode_responses=True)
        try:
            key = f"job{protocol}"
            await r.execute_command("SET", key, "v", "FROM", "jobs", "TTL", "now")
            await wait_reaped(timed_server, protocol - 1)
            assert await r.execute_command("NAMESPACE", "PAUSE", "jobs") in (True, "OK")
            assert await r.execute_command("TAKE", "FROM", "jobs") == []
            await r.execute_command("NAMESPACE", "RESUME", "jobs")
            (message,) = [as_map(m) for m in await r.execute_command("TAKE", "FROM", "jobs")]
            peeked = as_map(await r.execute_command("PEEK", "jobs", message["id"]))
            assert (peeked["state"], peeked["key"]) == ("in flight", key)
            assert await r.execute_command("EXTEND", "jobs", message["id"], "LEASE", "1m") > peeked["lease_until"]
            assert await r.execute_command("ACK", "jobs", message["id"]) == 1
        finally:
            r.client.close()


# -- SCHEDULED and INFLIGHT ------------------------------------------------------------------------


async def scheduled_pages(client: RawClient, count: int, ns: str = "jobs") -> list[list[dict]]:
    pages, cursor = [], "0"
    while True:
        cursor, entries = await client.command("SCHEDULED", ns, "COUNT", count, "AFTER", cursor)
        pages.append([as_map(entry) for entry in entries])
        if cursor == b"0":
            return pages


async def test_scheduled_pages_through_the_keys_by_deadline_across_shards(timed_server, client):
    deadlines = {f"k{i}": 10_000 + (i * 7919) % 100 * 1000 for i in range(40)}  # spread over the shards
    for key, deadline_s in deadlines.items():
        await client.command("SET", key, "v", "FROM", "jobs", "EX", deadline_s, "PRIORITY", "9")
        await client.command("SET", key, "v", "FROM", "other", "EX", 5)  # another namespace: not listed
    await client.command("SET", "forever", "v", "FROM", "jobs")
    pages = await scheduled_pages(client, 7)
    listed = [entry for page in pages for entry in page]
    assert [e[b"key"] for e in listed] == sorted((k.encode() for k in deadlines), key=lambda k: (deadlines[k.decode()], k))
    assert all(len(page) <= 7 for page in pages) and len(pages) >= 40 // 7
    assert [e[b"deadline"] for e in listed] == sorted(e[b"deadline"] for e in listed)
    assert {(e[b"priority"], e[b"type"]) for e in listed} == {(9, b"string")}


async def test_scheduled_examines_a_bounded_slice_of_a_shared_index_and_misses_nothing(timed_server, client, monkeypatch):
    """Each shard examines at most EXAMINE index entries a page (here 3, among other namespaces'
    keys): pages may be short or empty, and together they hold every key once."""
    import mi.delivery.listing

    monkeypatch.setattr(mi.delivery.listing, "EXAMINE", 3)
    for i in range(30):
        await client.command("SET", f"noise{i}", "v", "FROM", "other", "EX", 100 + i)
    for i in range(10):
        await client.command("SET", f"job{i}", "v", "FROM", "jobs", "EX", 200 + 20 * i)
    pages = await scheduled_pages(client, 4)
    assert [e[b"key"] for page in pages for e in page] == [f"job{i}".encode() for i in range(10)]
    assert any(page == [] for page in pages), "the noise made some pages empty"


async def test_scheduled_refuses_a_bad_cursor(timed_server, client):
    reply = await client.command("SCHEDULED", "jobs", "AFTER", "xyz")
    assert isinstance(reply, CommandError) and "invalid cursor" in reply.message
    assert await client.command("SCHEDULED", "nothing-here") == [b"0", []]


async def test_inflight_lists_held_and_waiting_messages_page_by_page(timed_server, client):
    keys = [f"k{i}" for i in range(9)]
    await due_now(timed_server, client, *keys)
    taken = await take(client, "COUNT", "9")
    assert await client.command("NACK", "jobs", taken[0][b"id"], "DELAY", "1h") == 1
    await client.command("ACK", "jobs", taken[1][b"id"])
    pages, cursor = [], b"0"
    while True:
        cursor, entries = await client.command("INFLIGHT", "jobs", "COUNT", "2", "AFTER", cursor)
        pages.append([as_map(entry) for entry in entries])
        if cursor == b"0":
            break
    listed = {e[b"id"]: e for page in pages for e in page}
    assert len(listed) == sum(len(page) for page in pages) == 8, "each once, the ACKed one gone"
    assert set(listed) == {m[b"id"] for m in taken[1:]} - {taken[1][b"id"]} | {taken[0][b"id"]}
    assert listed[taken[0][b"id"]][b"state"] == b"scheduled" and listed[taken[2][b"id"]][b"state"] == b"in flight"
    assert listed[taken[2][b"id"]][b"lease_holder"] is not None


# -- TAKE FROM several namespaces --------------------------------------------------------------------


async def test_take_from_several_namespaces_by_priority_then_deadline(timed_server, client, clock):
    await client.command("NAMESPACE", "CONFIG", "mail", "SET", "on_expire", "deliver")
    await client.command("SET", "a", "1", "FROM", "jobs", "TTL", "1s", "PRIORITY", "5")
    await client.command("SET", "b", "2", "FROM", "mail", "TTL", "2s", "PRIORITY", "5")
    await client.command("SET", "c", "3", "FROM", "mail", "TTL", "3s", "PRIORITY", "1")
    await client.command("SET", "d", "4", "FROM", "jobs", "TTL", "3s", "PRIORITY", "9")
    clock.jump(3)
    await wait_reaped(timed_server, 4)
    reply = await client.command("TAKE", "FROM", "jobs", "mail", "COUNT", "3")
    assert [as_map(m)[b"key"] for m in reply] == [b"c", b"a", b"b"]
    (rest,) = [as_map(m) for m in await client.command("TAKE", "FROM", "mail", "jobs", "COUNT", "3")]
    assert rest[b"key"] == b"d"
    assert await client.command("ACK", "mail", as_map(reply[0])[b"id"]) == 1


async def test_take_from_several_waits_on_all_and_skips_a_paused_one(timed_server, client):
    await client.command("NAMESPACE", "CONFIG", "mail", "SET", "on_expire", "deliver")
    await client.command("NAMESPACE", "PAUSE", "jobs")
    await due_now(timed_server, client, "held-back")
    consumer = await RawClient.connect(timed_server.state.port)
    await consumer.send(resp_command("TAKE", "FROM", "jobs", "mail", "BLOCK", "0"))
    with trio.fail_after(IO_TIMEOUT):
        while timed_server.state.blocked_clients == 0:
            await trio.sleep(0.01)
    await client.command("SET", "letter", "x", "FROM", "mail", "TTL", "now")
    with trio.fail_after(IO_TIMEOUT):
        (message,) = await consumer.read_reply()
    assert as_map(message)[b"key"] == b"letter", "woken by the second namespace; the paused one gave none"
    await consumer.aclose()
    reply = await client.command("TAKE", "FROM", "jobs", "plain")
    assert isinstance(reply, CommandError) and "'plain' does not deliver" in reply.message
