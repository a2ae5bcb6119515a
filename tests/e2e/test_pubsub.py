"""Publish/subscribe (issue 19): SUBSCRIBE, PSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH and PUBSUB,
driven by redis-py (sync, threaded and asyncio, RESP2 and RESP3) and by raw sockets where the exact
frames matter. Nothing here sleeps and hopes: a test waits for a reply, or polls PUBSUB NUMSUB
under a guard."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis
import redis.asyncio
import trio
from attrs import evolve

from mi.core.server import serve
from mi.policy.auth import hash_password
from mi.settings.config import AuthConfig, UserConfig
from protocol import CommandError
from protocol.replies import NULL_ARRAY, Push, SimpleString
from support import IO_TIMEOUT, RawClient, make_config, resp_command

OK = SimpleString("OK")
QUEUED = SimpleString("QUEUED")


def _pubsub(port: int, protocol: int = 2) -> tuple[redis.Redis, redis.client.PubSub]:
    client = redis.Redis(port=port, protocol=protocol, socket_timeout=IO_TIMEOUT)
    return client, client.pubsub()


def _next(pubsub: redis.client.PubSub) -> dict:
    """The next message or confirmation, waiting for it (under the socket timeout)."""
    message = pubsub.get_message(timeout=IO_TIMEOUT)
    assert message is not None, "no message within the guard"
    return message


async def _subscribers(port: int, channel: str, count: int) -> None:
    """Until ``channel`` has ``count`` subscribers (PUBSUB NUMSUB, polled under a guard)."""
    probe = await RawClient.connect(port)
    try:
        with trio.fail_after(IO_TIMEOUT):
            while (await probe.command("PUBSUB", "NUMSUB", channel))[1] != count:
                await trio.sleep(0.01)
    finally:
        await probe.aclose()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_subscribe_get_message_and_unsubscribe(port, protocol):
    """Confirmation, message, PUBLISH's count, and UNSUBSCRIBE, in both protocols."""

    def run() -> list:
        client, pubsub = _pubsub(port, protocol)
        with client, pubsub:
            pubsub.subscribe("news")
            seen = [_next(pubsub)]
            seen.append(client.publish("news", "hello"))
            seen.append(_next(pubsub))
            pubsub.unsubscribe("news")
            seen.append(_next(pubsub))
            seen.append(client.publish("news", "nobody"))
            return seen

    confirm, count, message, left, after = await trio.to_thread.run_sync(run)
    assert confirm == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert count == 1
    assert message == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert left == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 0}
    assert after == 0


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_py_psubscribe_and_listen(port, protocol):
    """A pattern's pmessage names the pattern and the channel; listen() yields them in order."""

    def run() -> list:
        client, pubsub = _pubsub(port, protocol)
        with client, pubsub:
            pubsub.psubscribe("orders.*")
            assert _next(pubsub)["type"] == "psubscribe"
            assert client.publish("orders.eu", "1") == 1
            assert client.publish("other", "x") == 0
            assert client.publish("orders.us", "2") == 1
            got = []
            for message in pubsub.listen():
                got.append(message)
                if len(got) == 2:
                    return got
        return got

    got = await trio.to_thread.run_sync(run)
    assert [(m["type"], m["pattern"], m["channel"], m["data"]) for m in got] == [
        ("pmessage", b"orders.*", b"orders.eu", b"1"),
        ("pmessage", b"orders.*", b"orders.us", b"2"),
    ]


async def test_unsubscribe_from_everything_leaves_subscribed_mode(raw, port):
    """UNSUBSCRIBE and PUNSUBSCRIBE with no argument leave every channel and pattern; counts fall
    to 0 and, in RESP2, ordinary commands work again."""
    await raw.send(resp_command("SUBSCRIBE", "a", "b") + resp_command("PSUBSCRIBE", "p*"))
    assert [await raw.read_reply() for _ in range(3)] == [[b"subscribe", b"a", 1], [b"subscribe", b"b", 2],
                                                            [b"psubscribe", b"p*", 3]]  # fmt: skip
    await raw.send(resp_command("UNSUBSCRIBE"))
    left = [await raw.read_reply() for _ in range(2)]  # in the order they were subscribed
    assert left == [[b"unsubscribe", b"a", 2], [b"unsubscribe", b"b", 1]]
    assert await raw.command("PUNSUBSCRIBE") == [b"punsubscribe", b"p*", 0]
    assert await raw.command("UNSUBSCRIBE") == [b"unsubscribe", None, 0]  # nothing left: a null channel
    assert await raw.command("SET", "k", "v") == OK
    publisher = await RawClient.connect(port)
    assert await publisher.command("PUBLISH", "a", "m") == 0
    await publisher.aclose()


async def test_unsubscribe_without_subscribing_is_confirmed(raw):
    assert await raw.command("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    assert await raw.command("PUNSUBSCRIBE", "x*") == [b"punsubscribe", b"x*", 0]


async def test_resp2_subscribed_mode_refuses_other_commands(raw):
    """RESP2 with subscriptions: only (P)(UN)SUBSCRIBE, PING (as an array), QUIT; Redis's error."""
    assert await raw.command("SUBSCRIBE", "ch") == [b"subscribe", b"ch", 1]
    reply = await raw.command("GET", "k")
    assert reply == CommandError(
        "ERR",
        "Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
    )
    assert await raw.command("PING") == [b"pong", b""]
    assert await raw.command("PING", "hi") == [b"pong", b"hi"]
    assert await raw.command("QUIT") == OK
    assert await raw.is_closed()


async def test_resp3_subscriber_runs_any_command_between_pushes(raw, port):
    """RESP3: confirmations and messages are push frames, and other commands answer normally."""
    await raw.command("HELLO", "3")
    assert await raw.command("SUBSCRIBE", "ch") == Push((b"subscribe", b"ch", 1))
    assert await raw.command("SET", "k", "v") == OK
    assert await raw.command("GET", "k") == b"v"
    assert await raw.command("PING") == SimpleString("PONG")
    publisher = await RawClient.connect(port)
    assert await publisher.command("PUBLISH", "ch", "m") == 1
    assert await raw.read_reply() == Push((b"message", b"ch", b"m"))
    assert await raw.command("GET", "k") == b"v"
    await publisher.aclose()


async def test_resp3_subscriber_publishing_to_itself(raw):
    """A RESP3 connection's own PUBLISH: its reply and its push both arrive, the confirmation first."""
    await raw.command("HELLO", "3")
    await raw.send(resp_command("SUBSCRIBE", "self") + resp_command("PUBLISH", "self", "echo"))
    assert await raw.read_reply() == Push((b"subscribe", b"self", 1))
    rest = [await raw.read_reply() for _ in range(2)]
    assert sorted(rest, key=repr) == sorted([1, Push((b"message", b"self", b"echo"))], key=repr)


async def test_publish_counts_every_receiver(port):
    """A client listening on the channel and on a matching pattern counts twice, as in Redis."""
    first, second = await RawClient.connect(port), await RawClient.connect(port)
    try:
        await first.command("SUBSCRIBE", "jobs")
        await first.command("PSUBSCRIBE", "j*")
        await second.command("SUBSCRIBE", "jobs")
        publisher = await RawClient.connect(port)
        assert await publisher.command("PUBLISH", "jobs", "x") == 3
        assert await publisher.command("PUBLISH", "jam", "y") == 1
        assert await publisher.command("PUBLISH", "none", "z") == 0
        await publisher.aclose()
        assert {repr(await first.read_reply()) for _ in range(3)} == {
            repr([b"message", b"jobs", b"x"]), repr([b"pmessage", b"j*", b"jobs", b"x"]),
            repr([b"pmessage", b"j*", b"jam", b"y"]),
        }  # fmt: skip
        assert await second.read_reply() == [b"message", b"jobs", b"x"]
    finally:
        await first.aclose()
        await second.aclose()


async def test_pubsub_channels_numsub_numpat(r2, port):
    listener = await RawClient.connect(port)
    other = await RawClient.connect(port)
    try:
        await listener.command("SUBSCRIBE", "news.eu", "news.us", "weather")
        await other.command("SUBSCRIBE", "news.eu")
        await listener.command("PSUBSCRIBE", "news.*", "w*")
        await other.command("PSUBSCRIBE", "news.*")
        assert sorted(await r2.pubsub_channels()) == [b"news.eu", b"news.us", b"weather"]
        assert sorted(await r2.pubsub_channels("news.*")) == [b"news.eu", b"news.us"]
        assert await r2.pubsub_numsub("news.eu", "weather", "nobody") == [(b"news.eu", 2), (b"weather", 1),
                                                                           (b"nobody", 0)]  # fmt: skip
        assert await r2.pubsub_numpat() == 2  # unique patterns
        await other.aclose()
        await _subscribers(port, "news.eu", 1)
        assert await r2.pubsub_numpat() == 2
    finally:
        await listener.aclose()
    await _subscribers(port, "weather", 0)
    assert await r2.pubsub_channels() == []
    assert await r2.pubsub_numpat() == 0


async def test_pubsub_numsub_in_resp3(r3, port):
    listener = await RawClient.connect(port)
    await listener.command("SUBSCRIBE", "c")
    assert await r3.pubsub_numsub("c") == [(b"c", 1)]
    assert await r3.pubsub_numpat() == 0
    await listener.aclose()


async def test_confirmation_arrives_before_any_message(port):
    """While another client publishes without pause, a new subscriber's first frame is always its
    confirmation, and every later frame a message of that channel."""
    publisher = await RawClient.connect(port)

    async def publish_forever() -> None:
        while True:
            await publisher.command("PUBLISH", "busy", "tick")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publish_forever)
        for _ in range(20):
            subscriber = await RawClient.connect(port)
            await subscriber.send(resp_command("SUBSCRIBE", "busy"))
            assert await subscriber.read_reply() == [b"subscribe", b"busy", 1]
            assert await subscriber.read_reply() == [b"message", b"busy", b"tick"]
            await subscriber.aclose()
        nursery.cancel_scope.cancel()
    await publisher.aclose()


async def test_messages_queued_before_unsubscribe_precede_its_confirmation(port):
    """In RESP2, nothing of a channel arrives after the confirmation that left it: the next
    command's reply follows the confirmation directly."""
    subscriber, publisher = await RawClient.connect(port), await RawClient.connect(port)
    await subscriber.command("SUBSCRIBE", "ch")
    for i in range(200):
        assert await publisher.command("PUBLISH", "ch", f"m{i}") == 1
    await subscriber.send(resp_command("UNSUBSCRIBE", "ch") + resp_command("SET", "k", "v"))
    for i in range(200):
        assert await subscriber.read_reply() == [b"message", b"ch", f"m{i}".encode()]
    assert await subscriber.read_reply() == [b"unsubscribe", b"ch", 0]
    assert await subscriber.read_reply() == OK
    await subscriber.aclose()
    await publisher.aclose()


async def test_many_channels_and_patterns(port):
    """300 channels and 50 patterns on one connection; each publish reaches it once per match."""
    listener, publisher = await RawClient.connect(port), await RawClient.connect(port)
    channels = [f"c{i}" for i in range(300)]
    patterns = [f"c{i}*" for i in range(1, 51)]  # c1* matches c1, c10..c19, c100..c199
    await listener.send(resp_command("SUBSCRIBE", *channels) + resp_command("PSUBSCRIBE", *patterns))
    for i in range(350):
        assert (await listener.read_reply())[2] == i + 1
    expected = 0
    for channel in channels:
        matching = sum(channel.startswith(p[:-1]) for p in patterns)
        assert await publisher.command("PUBLISH", channel, "x") == 1 + matching
        expected += 1 + matching
    for _ in range(expected):
        assert (await listener.read_reply())[0] in (b"message", b"pmessage")
    await listener.aclose()
    await publisher.aclose()


async def test_subscriber_that_never_reads_is_dropped_past_its_buffer(nursery, tmp_path):
    """limits.max_pubsub_buffer: a subscriber that stops reading is disconnected once its queued
    messages pass it, and other clients are served meanwhile."""
    config = make_config(tmp_path / "data")
    config = evolve(config, limits=evolve(config.limits, max_pubsub_buffer=256 * 1024))
    server = await nursery.start(serve, config)
    port = server.state.port
    stalled = await RawClient.connect(port)
    assert await stalled.command("SUBSCRIBE", "firehose") == [b"subscribe", b"firehose", 1]
    healthy = await RawClient.connect(port)
    assert await healthy.command("SUBSCRIBE", "firehose") == [b"subscribe", b"firehose", 1]
    publisher = await RawClient.connect(port)
    payload = b"x" * 64 * 1024
    with trio.fail_after(IO_TIMEOUT * 3):
        sent = 0
        while (await publisher.command("PUBSUB", "NUMSUB", "firehose"))[1] == 2:
            await publisher.command("PUBLISH", "firehose", payload)
            sent += 1
            assert (await healthy.read_reply())[2] == payload  # the reader keeps up and is served
            assert await publisher.command("PING") == SimpleString("PONG")
    assert sent > 1
    with trio.fail_after(IO_TIMEOUT):  # what the kernel held is readable, then the end
        while await stalled.stream.receive_some(1 << 20):
            pass
    assert await publisher.command("PUBLISH", "firehose", "still here") == 1
    assert await healthy.read_reply() == [b"message", b"firehose", b"still here"]
    for client in (stalled, healthy, publisher):
        await client.aclose()


async def test_run_in_thread_calls_the_handler(port):
    """PubSub.run_in_thread with a channel handler, as redis-py users write it."""
    received = threading.Event()
    got = []

    def handler(message: dict) -> None:
        got.append(message["data"])
        received.set()

    def run() -> None:
        client, pubsub = _pubsub(port)
        with client, pubsub:
            pubsub.subscribe(**{"alerts": handler})
            worker = pubsub.run_in_thread(sleep_time=0.01)
            try:
                deadline = IO_TIMEOUT
                while client.pubsub_numsub("alerts")[0][1] != 1:
                    assert deadline > 0
                    deadline -= 0.01
                    received.wait(0.01)
                client.publish("alerts", "fire")
                assert received.wait(IO_TIMEOUT)
            finally:
                worker.stop()
                worker.join(IO_TIMEOUT)

    await trio.to_thread.run_sync(run)
    assert got == [b"fire"]


@pytest.mark.parametrize("protocol", [2, 3])
async def test_redis_asyncio_pubsub(port, protocol):
    """redis.asyncio's PubSub, in a thread of its own: subscribe, psubscribe, messages, unsubscribe."""

    async def main() -> list:
        client = redis.asyncio.Redis(port=port, protocol=protocol)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe("a")
            await pubsub.psubscribe("b*")
            seen = []
            while len(seen) < 2:
                message = await pubsub.get_message(timeout=IO_TIMEOUT)
                assert message is not None
                seen.append(message["type"])
            assert await client.publish("a", "1") == 1
            assert await client.publish("bee", "2") == 1
            while len(seen) < 4:
                message = await pubsub.get_message(timeout=IO_TIMEOUT)
                assert message is not None
                seen.append((message["type"], message["channel"], message["data"]))
            await pubsub.unsubscribe()
            await pubsub.punsubscribe()
            left = set()
            while left != {"unsubscribe", "punsubscribe"}:  # sent, not yet done: wait for both
                message = await pubsub.get_message(timeout=IO_TIMEOUT)
                assert message is not None
                left.add(message["type"])
            assert await client.publish("a", "3") == 0
            return seen
        finally:
            await pubsub.aclose()
            await client.aclose()

    seen = await trio.to_thread.run_sync(asyncio.run, main())
    assert seen == ["subscribe", "psubscribe", ("message", b"a", b"1"), ("pmessage", b"bee", b"2")]


async def test_publish_in_multi_is_queued_and_sent_at_exec(raw, port):
    """As Redis: PUBLISH in MULTI is QUEUED, its message goes out when EXEC runs (in order with the
    transaction's others), and EXEC answers each PUBLISH's count of receivers."""
    listener, other = await RawClient.connect(port), await RawClient.connect(port)
    try:
        await listener.command("SUBSCRIBE", "ch")
        assert await raw.command("MULTI") == OK
        for command in (["PUBLISH", "ch", "first"], ["SET", "k", "v"], ["PUBLISH", "ch", "second"],
                        ["PUBLISH", "nobody", "x"]):  # fmt: skip
            assert await raw.command(*command) == QUEUED
        assert await other.command("PUBLISH", "ch", "direct") == 1  # answered before EXEC is sent
        assert await raw.command("EXEC") == [1, OK, 1, 0]
        assert [await listener.read_reply() for _ in range(3)] == [
            [b"message", b"ch", b"direct"], [b"message", b"ch", b"first"], [b"message", b"ch", b"second"],
        ]  # fmt: skip
    finally:
        await listener.aclose()
        await other.aclose()


@pytest.mark.parametrize("ending", ["discard", "failed exec", "watch broken"])
async def test_publish_of_a_transaction_that_does_not_commit_is_never_sent(raw, port, ending):
    """DISCARD, an EXEC rolled back by a failing command, an EXEC a broken WATCH stops: the
    queued message never reaches anyone (the next message the listener gets is a later one)."""
    listener, other = await RawClient.connect(port), await RawClient.connect(port)
    try:
        await listener.command("SUBSCRIBE", "ch")
        await raw.command("SET", "text", "not a number")
        if ending == "watch broken":
            await raw.command("WATCH", "w")
            await other.command("SET", "w", "changed")
        await raw.command("MULTI")
        await raw.command("PUBLISH", "ch", "never")
        if ending == "discard":
            assert await raw.command("DISCARD") == OK
        elif ending == "failed exec":
            await raw.command("INCR", "text")
            assert isinstance(await raw.command("EXEC"), CommandError)
        else:
            assert await raw.command("EXEC") == NULL_ARRAY
        assert await other.command("PUBLISH", "ch", "after") == 1
        assert await listener.read_reply() == [b"message", b"ch", b"after"]
    finally:
        await listener.aclose()
        await other.aclose()


async def test_redis_py_transaction_pipeline_publishes(port):
    """redis-py's pipeline (MULTI/EXEC) with PUBLISH among reads: the counts in its results."""

    def run() -> tuple[list, dict]:
        client, pubsub = _pubsub(port)
        with client, pubsub:
            pubsub.subscribe("events")
            assert _next(pubsub)["type"] == "subscribe"
            with client.pipeline(transaction=True) as pipe:
                results = pipe.publish("events", "hello").get("missing").publish("elsewhere", "x").execute()
            return results, _next(pubsub)

    results, message = await trio.to_thread.run_sync(run)
    assert results == [1, None, 0]
    assert message == {"type": "message", "pattern": None, "channel": b"events", "data": b"hello"}


async def test_info_stats_counts_channels_and_patterns(r2, port):
    """INFO stats: pubsub_channels and pubsub_patterns (with a subscriber), pubsubshard_channels 0."""
    listener = await RawClient.connect(port)
    try:
        await listener.command("SUBSCRIBE", "a", "b")
        await listener.command("PSUBSCRIBE", "p*")
        stats = await r2.info("stats")
        assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (2, 1, 0)
    finally:
        await listener.aclose()
    await _subscribers(port, "a", 0)
    stats = await r2.info("stats")
    assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == (0, 0)


async def test_restricted_user_needs_every_namespace_for_channels(nursery, tmp_path):
    """Channels are global: listening needs read on every namespace, PUBLISH write on every one;
    a user confined to some namespaces is refused both (UNSUBSCRIBE is always allowed)."""
    users = {
        "tenant": UserConfig(password=hash_password("t-pw"), read=["shop*"], write=["shop*"]),
        "reader": UserConfig(password=hash_password("r-pw"), read=["*"], write=["shop*"]),
    }
    config = evolve(make_config(tmp_path / "data"), auth=AuthConfig(requirepass="root-pw", users=users))
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    assert await client.command("AUTH", "tenant", "t-pw") == OK
    for args in (("SUBSCRIBE", "c"), ("PSUBSCRIBE", "*"), ("PUBLISH", "c", "m"), ("PUBSUB", "CHANNELS")):
        reply = await client.command(*args)
        assert isinstance(reply, CommandError) and reply.prefix == "NOPERM", args
        assert "pub/sub channels are global" in reply.message
    assert await client.command("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    assert await client.command("AUTH", "reader", "r-pw") == OK
    assert await client.command("SUBSCRIBE", "c") == [b"subscribe", b"c", 1]
    await client.aclose()


async def test_graceful_shutdown_ends_subscribers(nursery, tmp_path):
    """A shutdown closes an idle subscriber's connection (its pusher task ends with it)."""
    server = await nursery.start(serve, make_config(tmp_path / "data"))
    subscriber = await RawClient.connect(server.state.port)
    await subscriber.command("SUBSCRIBE", "ch")
    await subscriber.command("PSUBSCRIBE", "c*")
    server.request_shutdown()
    assert await subscriber.is_closed()
    await subscriber.aclose()
