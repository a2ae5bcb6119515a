"""Queue metrics per namespace (issue 20 part 7): NAMESPACE INFO, INFO queues, /metrics and mi top
show each queue's scheduled, due, in flight and dead messages, whether it is paused, how long its
oldest due message has waited, and what happened to its messages since the start.

A mock clock that runs at real speed and can jump drives the server's time (see test_delivery.py).
"""

from __future__ import annotations

import httpx
import pytest
import trio
from attrs import evolve

from mi.core.server import serve
from mi.settings.config import NamespaceSettings
from mi.tools.top import frame, parse_info
from protocol import CommandError
from protocol.replies import SimpleString
from storage import shard_index
from storage.limits import MAX_KEY_SIZE
from support import IO_TIMEOUT, RawClient, as_map, make_config, wait_reaped
from test_process import ServerProcess, _wait_until

OK = SimpleString("OK")
SHARDS = 4  # make_config's
GAUGES = ("scheduled", "due", "in_flight", "dead")


@pytest.fixture
def config(tmp_path):
    jobs = NamespaceSettings(on_expire="deliver", lease=10.0, max_attempts=2, dead_letter="jobs-dead")
    config = make_config(tmp_path / "data")
    return evolve(config, namespaces={"jobs": jobs}, server=evolve(config.server, metrics_port=0))


async def queues(client: RawClient) -> dict[str, dict[str, int]]:
    """INFO queues, parsed: each ``queue_<ns>:field=n,...`` line as ``{ns: {field: n}}``."""
    text = (await client.command("INFO", "queues")).decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("queue_"):
            name, _, fields = line.partition(":")
            found[name.removeprefix("queue_").replace("%3A", ":")] = {
                field: int(value) for field, value in (part.split("=") for part in fields.split(","))
            }
    return found


async def queue(client: RawClient, ns: str = "jobs") -> dict[str, int]:
    return (await queues(client))[ns]


async def gauges(client: RawClient, ns: str = "jobs") -> tuple[int, ...]:
    figures = await queue(client, ns)
    return tuple(figures[name] for name in GAUGES)


async def take(client: RawClient, *options) -> list[dict]:
    return [as_map(message) for message in await client.command("TAKE", "FROM", "jobs", *options)]


async def wait_returned(server, count: int) -> None:
    """Until the reaper has handed back ``count`` deliveries (leases or retry waits that ended)."""
    with trio.fail_after(IO_TIMEOUT):
        while server.state.reaper.returned < count:
            await trio.sleep(0.01)


async def due_now(server, client: RawClient, *keys: str) -> None:
    for key in keys:
        await client.command("SET", key, f"value of {key}", "FROM", "jobs", "TTL", "now")
    await wait_reaped(server, len(keys))


# -- the counts follow each move ------------------------------------------------------------------


async def test_a_message_counts_scheduled_then_due_then_in_flight_then_acked(timed_server, client, clock):
    for key in ("a", "b"):
        assert await client.command("SET", key, "v", "FROM", "jobs", "TTL", "1s") == OK
    assert await gauges(client) == (2, 0, 0, 0)
    clock.jump(1)
    await wait_reaped(timed_server, 2)
    assert await gauges(client) == (0, 2, 0, 0)
    taken = await take(client, "COUNT", "2")
    assert await gauges(client) == (0, 0, 2, 0)
    assert await client.command("ACK", "jobs", *(message[b"id"] for message in taken)) == 2
    figures = await queue(client)
    assert tuple(figures[name] for name in GAUGES) == (0, 0, 0, 0)
    assert (figures["delivered"], figures["acked"], figures["nacked"]) == (2, 2, 0)


async def test_a_nacked_message_counts_scheduled_while_it_waits_then_due(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    (message,) = await take(client)
    assert await client.command("NACK", "jobs", message[b"id"]) == 1  # waits the retry backoff
    figures = await queue(client)
    assert tuple(figures[name] for name in GAUGES) == (1, 0, 0, 0), "waiting for its retry: scheduled"
    assert (figures["nacked"], figures["lease_expired"]) == (1, 0)
    clock.jump(2)  # past the first retry's wait (at most retry_backoff, 1 s)
    await wait_returned(timed_server, 1)
    figures = await queue(client)
    assert tuple(figures[name] for name in GAUGES) == (0, 1, 0, 0)
    assert figures["lease_expired"] == 0, "the end of a wait for a retry is no lease running out"


async def test_a_lease_that_runs_out_past_max_attempts_counts_dead_and_kick_brings_it_back(timed_server, client, clock):
    await due_now(timed_server, client, "job")
    (first,) = await take(client)
    assert await client.command("NACK", "jobs", first[b"id"], "DELAY", "now") == 1
    await take(client)  # its second and last attempt (max_attempts 2)
    clock.jump(10)  # the lease runs out
    await wait_returned(timed_server, 1)
    figures = await queue(client)
    assert tuple(figures[name] for name in GAUGES) == (0, 0, 0, 1)
    assert (figures["delivered"], figures["nacked"], figures["lease_expired"], figures["dead_lettered"]) == (2, 1, 1, 1)
    assert "jobs-dead" not in await queues(client), "a dead letter counts where it died"
    assert await client.command("KICK", "jobs") == 1
    figures = await queue(client)
    assert tuple(figures[name] for name in GAUGES) == (0, 1, 0, 0)
    assert figures["kicked"] == 1


async def test_a_message_given_up_on_without_a_dead_letter_namespace_counts_dropped(tmp_path, nursery):
    jobs = NamespaceSettings(on_expire="deliver", max_attempts=1)
    server = await nursery.start(serve, evolve(make_config(tmp_path / "data"), namespaces={"jobs": jobs}))
    client = await RawClient.connect(server.state.port)
    await due_now(server, client, "job")
    (message,) = await take(client)
    assert await client.command("NACK", "jobs", message[b"id"]) == 1
    figures = await queue(client)
    assert (figures["dropped"], figures["dead_lettered"], figures["dead"]) == (1, 0, 0)
    await client.aclose()


async def test_del_and_getdel_take_back_what_is_scheduled_and_due(timed_server, client):
    await client.command("SET", "later", "v", "FROM", "jobs", "TTL", "1h")
    await due_now(timed_server, client, "now")
    assert await gauges(client) == (1, 1, 0, 0)
    assert await client.command("DEL", "later", "now", "FROM", "jobs") == 2
    assert await gauges(client) == (0, 0, 0, 0)


async def test_a_key_that_expires_in_a_namespace_that_drops_counts_expired(timed_server, client, clock):
    await client.command("SET", "session", "v", "FROM", "cache", "TTL", "1s")
    assert (await queue(client, "cache"))["scheduled"] == 1
    await client.command("PERSIST", "session", "FROM", "cache")
    assert "cache" not in await queues(client), "no deadline, no count: a namespace that drops is not listed"
    await client.command("EXPIRE", "session", "1", "FROM", "cache")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    figures = await queue(client, "cache")
    assert (figures["scheduled"], figures["due"], figures["expired"]) == (0, 0, 1)


async def test_pause_and_the_oldest_due_messages_lag_show(timed_server, client, clock):
    await client.command("SET", "urgent", "v", "FROM", "jobs", "TTL", "3s", "PRIORITY", "0")
    await client.command("SET", "old", "v", "FROM", "jobs", "TTL", "1s", "PRIORITY", "9")
    clock.jump(3)
    await wait_reaped(timed_server, 2)
    assert await client.command("NAMESPACE", "PAUSE", "jobs") == OK
    clock.jump(5)
    figures = await queue(client)
    assert figures["paused"] == 1
    # The first in the queue is the most urgent; the oldest is the other, due 2 s before it.
    assert 7000 <= figures["oldest_due_lag_ms"] < 7000 + IO_TIMEOUT * 1000
    status = as_map(await client.command("NAMESPACE", "INFO", "jobs"))
    assert 7000 <= status[b"oldest_due_ms"] < 7000 + IO_TIMEOUT * 1000
    assert await client.command("NAMESPACE", "RESUME", "jobs") == OK
    assert (await queue(client))["paused"] == 0


async def test_namespace_info_shows_the_same_counts(timed_server, client):
    await due_now(timed_server, client, "a", "b")
    (message,) = await take(client)
    await client.command("SET", "later", "v", "FROM", "jobs", "TTL", "1h")
    status = as_map(await client.command("NAMESPACE", "INFO", "jobs"))
    figures = await queue(client)
    assert (status[b"scheduled"], status[b"due"], status[b"in_flight"], status[b"dead"]) == (1, 1, 1, 0)
    assert all(status[name.encode()] == figures[name] for name in ("delivered", "acked", "nacked", "kicked"))
    assert status[b"keys"] == 1 and status[b"delivered"] == 1


# -- a write that fails changes no count ----------------------------------------------------------


def _keys_on(*shards: int) -> list[str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < len(shards):
        index = shard_index(f"k{i}".encode(), SHARDS)
        if index in shards:
            found.setdefault(index, f"k{i}")
        i += 1
    return [found[shard] for shard in shards]


@pytest.mark.parametrize("shards", [(0,), (0, 1)], ids=["one-shard", "two-shards"])
async def test_a_transaction_rolled_back_changes_no_count(timed_server, client, shards):
    """EXEC fails at its last command: the messages it scheduled before are not counted."""
    await client.command("SET", "kept", "v", "FROM", "jobs", "TTL", "1h")
    assert await client.command("MULTI") == OK
    for key in _keys_on(*shards):
        await client.command("SET", key, "v", "FROM", "jobs", "TTL", "1h")
    await client.command("SET", "x" * (MAX_KEY_SIZE + 1), "v", "FROM", "jobs", "TTL", "1h")
    reply = await client.command("EXEC")
    assert isinstance(reply, CommandError) and "rolled back" in reply.message
    assert await gauges(client) == (1, 0, 0, 0)


async def test_an_ack_of_an_unknown_id_and_a_refused_write_change_no_count(timed_server, client):
    await due_now(timed_server, client, "job")
    assert await client.command("ACK", "jobs", "0-99999") == 0
    refused = await client.command("SET", "x" * (MAX_KEY_SIZE + 1), "v", "FROM", "jobs", "TTL", "1h")
    assert isinstance(refused, CommandError)
    figures = await queue(client)
    assert (figures["due"], figures["acked"], figures["scheduled"]) == (1, 0, 0)


async def test_resetstat_zeroes_the_counters_not_the_gauges(timed_server, client):
    await due_now(timed_server, client, "a", "b")
    (message,) = await take(client)
    assert await client.command("CONFIG", "RESETSTAT") == OK
    figures = await queue(client)
    assert tuple(figures[name] for name in GAUGES) == (0, 1, 1, 0)
    assert figures["delivered"] == 0
    assert await client.command("ACK", "jobs", message[b"id"]) == 1
    assert (await queue(client))["acked"] == 1


# -- where they show -----------------------------------------------------------------------------


async def test_info_queues_is_left_out_of_the_default_info_and_in_info_all(server, r2):
    await r2.execute_command("SET", "a", "v", "FROM", "jobs", "TTL", "1h")
    default, everything = await r2.info(), await r2.info("all")
    parsed = await r2.info("queues")  # redis-py's own parser
    assert "queue_jobs" not in default and "queue_jobs" in everything
    assert parsed["queue_jobs"]["scheduled"] == 1 and parsed["queue_jobs"]["paused"] == 0


async def test_a_namespace_with_a_colon_in_its_name_has_one_info_field(server, raw):
    await raw.command("SET", "a", "v", "FROM", "team:jobs", "TTL", "1h")
    text = (await raw.command("INFO", "queues")).decode()
    assert any(line.startswith("queue_team%3Ajobs:scheduled=1,") for line in text.splitlines())


async def test_metrics_shows_each_queue(server, raw):
    await raw.command("SET", "a", "v", "FROM", "jobs", "TTL", "now")
    await wait_reaped(server, 1)
    (message,) = await take(raw)
    await raw.command("SET", "b", "v", "FROM", "jobs", "TTL", "1h")
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{server.state.metrics_port}/metrics")).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("mi_queue_"))
    assert float(samples['mi_queue_scheduled{namespace="jobs"}']) == 1
    assert float(samples['mi_queue_in_flight{namespace="jobs"}']) == 1
    assert float(samples['mi_queue_due{namespace="jobs"}']) == 0
    assert float(samples['mi_queue_paused{namespace="jobs"}']) == 0
    assert float(samples['mi_queue_delivered_total{namespace="jobs"}']) == 1
    assert 'mi_queue_oldest_due_lag_seconds{namespace="jobs"}' in samples
    assert message[b"key"] == b"a"


def test_mi_top_shows_the_queues_gauges_and_their_rates_over_the_interval():
    before = parse_info("queue_jobs:scheduled=5,due=2,in_flight=1,dead=0,paused=0,oldest_due_lag_ms=0,"
                        "delivered=100,acked=90,nacked=0,lease_expired=0,expired=0,dead_lettered=0,dropped=0,kicked=0\r\n")
    after = parse_info("queue_jobs:scheduled=7,due=3,in_flight=4,dead=1,paused=1,oldest_due_lag_ms=2500,"
                       "delivered=300,acked=250,nacked=4,lease_expired=0,expired=0,dead_lettered=1,dropped=0,kicked=0\r\n"
                       "queue_a%3Ab:scheduled=1,due=0,in_flight=0,dead=0,paused=0,oldest_due_lag_ms=0\r\n")
    lines = frame("here", before, after, 2.0).splitlines()
    heading = next(line for line in lines if line.startswith("queue "))
    assert heading.split()[:6] == ["queue", "scheduled", "due", "in", "flight", "dead"]
    row = next(line.split() for line in lines if line.startswith("jobs "))
    assert row == ["jobs", "(paused)", "7", "3", "4", "1", "2.5", "100", "80", "2", "0", "0", "0", "0", "0"]
    assert next(line.split() for line in lines if line.startswith("a:b "))[:2] == ["a:b", "1"]


# -- restarts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", ["sigterm", "kill -9"])
def test_the_counts_are_right_after_a_restart(tmp_path, stop):
    """The gauges are counted again when the store opens (after a kill -9 too: the log replayed);
    the counters start from zero, as Redis's statistics do."""
    conf = tmp_path / "mi.toml"
    conf.write_text('[namespaces.jobs]\non_expire = "deliver"\nlease = "1h"\nmax_attempts = 1\ndead_letter = "jobs-dead"\n')
    server = ServerProcess(tmp_path / "data", "--config", str(conf))
    client = server.client()

    def figures() -> dict:
        return client.info("queues").get("queue_jobs", {})

    for key in ("a", "b", "c"):
        client.execute_command("SET", key, "v", "FROM", "jobs", "TTL", "now")
    client.execute_command("SET", "later", "v", "FROM", "jobs", "TTL", "1h")
    _wait_until(lambda: figures().get("due") == 3)
    first, _second = (as_map(m) for m in client.execute_command("TAKE", "FROM", "jobs", "COUNT", 2))
    assert client.execute_command("NACK", "jobs", first[b"id"]) == 1  # max_attempts 1: a dead letter
    before = {name: figures()[name] for name in GAUGES}
    assert before == {"scheduled": 1, "due": 1, "in_flight": 1, "dead": 1}
    if stop == "kill -9":
        server.kill()
    else:
        server.stop(15)
    server = ServerProcess(tmp_path / "data", "--config", str(conf))
    client = server.client()
    after = figures()
    assert {name: after[name] for name in GAUGES} == before
    assert after["delivered"] == after["dead_lettered"] == 0, "counters start again"
    server.kill()
