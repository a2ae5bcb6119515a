"""Delayed delivery as a new user meets it (issue 16): a deadline already past delivers at once,
DEL takes back a due message, every namespace option resets, and one duration grammar everywhere.

A mock clock that runs at real speed and can jump drives the server's time (see test_delivery.py).
"""

from __future__ import annotations


import pytest
import trio
from attrs import evolve

from mi.settings.config import NamespaceSettings, load_config
from protocol import CommandError
from protocol.replies import SimpleString
from support import IO_TIMEOUT, RawClient, as_map, make_config
from test_webhooks import receiver  # noqa: F401 - the fixture: an HTTP server that records the POSTs

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    jobs = NamespaceSettings(on_expire="deliver", lease=10.0)
    return evolve(make_config(tmp_path / "data"), namespaces={"jobs": jobs})


async def take(client: RawClient, ns: str = "jobs", *options) -> list[dict]:
    return [as_map(message) for message in await client.command("TAKE", "FROM", ns, *options)]


async def settings(client: RawClient, ns: str = "jobs") -> dict:
    return as_map(await client.command("NAMESPACE", "CONFIG", ns, "GET"))


async def info(client: RawClient, ns: str = "jobs") -> dict:
    return as_map(await client.command("NAMESPACE", "INFO", ns))


# --- every option resets; none where it means something --------------------------------------


async def test_reset_lease_goes_back_to_the_files_value(raw):
    """docs/delayed.md's own example: RESET lease after a SET lease at run time."""
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "lease", "5m") == OK
    assert (await settings(raw))[b"lease"] == b"300s"
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "RESET", "lease") == OK
    assert (await settings(raw))[b"lease"] == b"10s", "the file's lease again"


@pytest.mark.parametrize("option", ["on_expire", "default_ttl", "max_value_size", "max_keys", "rate", "burst",
                                    "lease", "max_attempts", "dead_letter", "webhook", "retry_backoff",
                                    "retry_backoff_max"])
async def test_every_option_resets_to_the_default(raw, option):
    """RESET answers OK for every option, set or not, and the default holds again."""
    before = await settings(raw, "fresh")
    assert await raw.command("NAMESPACE", "CONFIG", "fresh", "RESET", option) == OK, "never set: still fine"
    value = {"on_expire": "deliver", "dead_letter": "dead", "webhook": "http://127.0.0.1:9/x", "rate": "5"}.get(option, "7")
    assert await raw.command("NAMESPACE", "CONFIG", "fresh", "SET", option, value) == OK
    assert await settings(raw, "fresh") != before
    assert await raw.command("NAMESPACE", "CONFIG", "fresh", "RESET", option) == OK
    assert await settings(raw, "fresh") == before


async def test_reset_on_expire_stops_delivering(raw):
    """A namespace switched to deliver at run time goes back to dropping with RESET on_expire."""
    assert await raw.command("NAMESPACE", "CONFIG", "q", "SET", "on_expire", "deliver") == OK
    assert await take(raw, "q") == []
    assert await raw.command("NAMESPACE", "CONFIG", "q", "RESET", "on_expire") == OK
    reply = await raw.command("TAKE", "FROM", "q")
    assert isinstance(reply, CommandError) and "does not deliver" in reply.message


@pytest.mark.parametrize("option", ["lease", "retry_backoff", "retry_backoff_max", "on_expire"])
async def test_none_is_refused_where_it_means_nothing_and_names_reset(raw, option):
    """lease, retry_backoff and on_expire always have a value: none says to use RESET."""
    reply = await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", option, "none")
    assert isinstance(reply, CommandError)
    assert reply.message == f"{option} cannot be none (RESET {option} goes back to the file's value or the default)"


# --- one duration grammar: the wire, NAMESPACE CONFIG, the config file, the environment -------


async def test_days_work_in_namespace_config_as_in_commands(raw):
    """lease 1d is accepted at run time, as TAKE LEASE 1d and TTL 7d are on the wire."""
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "lease", "1d") == OK
    assert (await settings(raw))[b"lease"] == b"86400s"
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "retry_backoff", "1.5m") == OK
    assert (await settings(raw))[b"retry_backoff"] == b"90s"
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "default_ttl", "30d") == OK
    assert (await settings(raw))[b"default_ttl"] == b"2592000s", "seconds, never 2.592e+06s"
    assert await raw.command("SET", "k", "v", "FROM", "jobs", "TTL", "1.5h") == OK, "decimals on the wire too"
    assert 5395 <= await raw.command("TTL", "k", "FROM", "jobs") <= 5400
    assert await take(raw, "jobs", "LEASE", "1d") == []


def test_days_work_in_the_config_file_and_the_environment(tmp_path):
    """lease = "2d" in mi.toml and MI_..._LEASE=1d are read like the wire's durations."""
    file = tmp_path / "mi.toml"
    file.write_text('[namespaces.jobs]\non_expire = "deliver"\nlease = "2d"\nretry_backoff = "0.5s"\n')
    config = load_config(file, environ={})
    assert (config.namespaces["jobs"].lease, config.namespaces["jobs"].retry_backoff) == (172800.0, 0.5)
    config = load_config(file, environ={"MI_LIMITS_IDLE_TIMEOUT": "1d"})
    assert config.limits.idle_timeout == 86400.0


# --- a deadline already past delivers at once ------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("SET", "k", "v", "FROM", "jobs", "PXAT", "1"),
        ("SET", "k", "v", "FROM", "jobs", "EXAT", "1000000000"),
        ("SET", "k", "v", "FROM", "jobs", "TTL", "now"),
        ("HSET", "k", '{"n": 1}', "FROM", "jobs", "TTL", "NOW"),
    ],
)
async def test_a_set_with_a_past_deadline_is_delivered_at_once(r2, args):
    """SET ... PXAT 1 in a delivering namespace: TAKE gets it (it used to vanish)."""
    await r2.execute_command(*args)
    (message,) = await take_with(r2)
    assert message[b"key"] == b"k"
    assert await r2.execute_command("GET", "k", "FROM", "jobs") is None, "it left the namespace"


@pytest.mark.parametrize(
    "expire",
    [("EXPIRE", "k", "0"), ("PEXPIRE", "k", "-5"), ("GETEX", "k", "PXAT", "1"), ("GETEX", "k", "EXAT", "1"),
     ("GETEX", "k", "TTL", "now")],
)
async def test_expiring_a_message_in_the_past_delivers_it_now(r2, expire):
    """EXPIRE k 0 (or negative) and GETEX ... PXAT in the past make it due now."""
    await r2.execute_command("SET", "k", "v", "FROM", "jobs", "TTL", "1h")
    assert await r2.execute_command(*expire, "FROM", "jobs") in (1, b"v")
    (message,) = await take_with(r2)
    assert (message[b"key"], message[b"value"]) == (b"k", b"v")


async def test_a_blocked_consumer_gets_a_message_set_to_fall_due_now(raw, port):
    """TAKE ... BLOCK 0 waiting when SET ... TTL now arrives is woken with it."""
    consumer = await RawClient.connect(port)
    got: list = []

    async def consume() -> None:
        got.extend(await take(consumer, "jobs", "BLOCK", "0"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.sleep(0.05)  # let it block (a message arriving first is taken just the same)
        with trio.fail_after(IO_TIMEOUT):
            assert await raw.command("SET", "k", "v", "FROM", "jobs", "TTL", "now") == OK
            while not got:
                await trio.sleep(0.01)
    assert got[0][b"key"] == b"k"


async def test_in_a_dropping_namespace_a_past_deadline_deletes_as_in_redis(r2):
    """Elsewhere Redis's rule holds: SET ... PXAT 1, EXPIRE k 0 and TTL now leave no key."""
    await r2.execute_command("SET", "a", "v", "PXAT", "1")
    await r2.execute_command("SET", "b", "v")
    assert await r2.execute_command("EXPIRE", "b", "0") == 1
    await r2.execute_command("SET", "c", "v", "TTL", "now")
    assert await r2.execute_command("EXISTS", "a", "b", "c") == 0
    assert await r2.execute_command("DBSIZE") == 0


async def test_a_webhook_namespace_posts_a_message_due_now(raw, receiver):
    """SET ... TTL now in a webhook namespace is POSTed at once."""
    assert await raw.command("NAMESPACE", "CONFIG", "hooks", "SET", "on_expire", "deliver") == OK
    assert await raw.command("NAMESPACE", "CONFIG", "hooks", "SET", "webhook", receiver.url) == OK
    assert await raw.command("SET", "invoice:9", "12", "FROM", "hooks", "PXAT", "1") == OK
    with trio.fail_after(IO_TIMEOUT):
        while not receiver.bodies:
            await trio.sleep(0.01)
    assert receiver.bodies[0]["key"] == "invoice:9"


# --- DEL takes back a message due and not yet taken -------------------------------------------


async def test_del_cancels_a_due_message_not_yet_taken(r2):
    """DEL answers 1 and the message is never delivered (it answered 0 and was delivered)."""
    await r2.execute_command("SET", "order:1", "v", "FROM", "jobs", "TTL", "now")
    await r2.execute_command("SET", "order:2", "v", "FROM", "jobs", "TTL", "now")
    await wait_due(r2, 2)
    assert await r2.execute_command("DEL", "order:1", "nothing", "FROM", "jobs") == 1
    assert await r2.execute_command("DEL", "order:1", "FROM", "jobs") == 0, "once"
    assert [m[b"key"] for m in await take_with(r2, "COUNT", "10")] == [b"order:2"]


async def test_del_cancels_a_message_whose_deadline_just_passed(timed_server, client, clock):
    """Due a moment ago, moved to the due queue or not yet: DEL counts it and it is not delivered."""
    await client.command("SET", "k", "v", "FROM", "jobs", "TTL", "1h")
    clock.jump(3601)
    assert await client.command("DEL", "k", "FROM", "jobs") == 1
    assert await take(client) == []


async def test_getdel_takes_back_a_due_message_and_answers_its_value(r3):
    """GETDEL of a due message answers its value and cancels it."""
    await r3.execute_command("SET", "k", "payload", "FROM", "jobs", "TTL", "now")
    await wait_due(r3, 1)
    assert await r3.execute_command("GETDEL", "k", "FROM", "jobs") == b"payload"
    assert await r3.execute_command("GETDEL", "k", "FROM", "jobs") is None
    assert await r3.execute_command("TAKE", "FROM", "jobs") == []


async def test_a_write_to_the_key_replaces_its_due_message(r2):
    """The key is the handle until a consumer takes it: SET again reschedules, it is not sent twice."""
    await r2.execute_command("SET", "k", "first", "FROM", "jobs", "TTL", "now")
    await wait_due(r2, 1)
    await r2.execute_command("SET", "k", "second", "FROM", "jobs", "TTL", "1h")
    assert await take_with(r2) == [], "the due one was replaced"
    assert await r2.execute_command("GET", "k", "FROM", "jobs") == b"second"
    await r2.execute_command("SET", "k", "third", "FROM", "jobs", "TTL", "now")
    assert [m[b"value"] for m in await take_with(r2, "COUNT", "10")] == [b"third"]


async def test_del_leaves_a_message_in_flight_to_ack_and_nack(r2):
    """A taken message is the consumer's: DEL answers 0, ACK still answers 1."""
    await r2.execute_command("SET", "k", "v", "FROM", "jobs", "TTL", "now")
    (message,) = await take_with(r2)
    assert await r2.execute_command("DEL", "k", "FROM", "jobs") == 0
    assert await r2.execute_command("ACK", "jobs", message[b"id"]) == 1


async def test_flushns_forgets_due_messages_and_del_then_finds_none(r2):
    """After FLUSHNS, a key written again and DELeted counts only its live record."""
    await r2.execute_command("SET", "k", "v", "FROM", "jobs", "TTL", "now")
    await wait_due(r2, 1)
    await r2.execute_command("FLUSHNS", "jobs")
    assert await r2.execute_command("DEL", "k", "FROM", "jobs") == 0
    assert (await info_of(r2))[b"due"] == 0


# --- helpers ----------------------------------------------------------------------------------


async def take_with(client, *options) -> list[dict]:
    return [as_map(m) for m in await client.execute_command("TAKE", "FROM", "jobs", *options)]


async def info_of(client) -> dict:
    return as_map(await client.execute_command("NAMESPACE", "INFO", "jobs"))


async def wait_due(client, count: int) -> None:
    """Until ``count`` messages sit in the due queue (moved there by the reaper)."""
    with trio.fail_after(IO_TIMEOUT):
        while (await info_of(client))[b"due"] < count:
            await trio.sleep(0.01)


