"""mi.client end to end, against a real server process: typed values, TTLs, transactions with
retries, consumers, typed errors, pool exhaustion, a server restart mid-use, and asyncio."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from mi.policy.auth import hash_password
from mi.client import (
    AsyncClient,
    AuthenticationFailed,
    AuthenticationRequired,
    Client,
    CommandFailed,
    PermissionDenied,
    PoolExhausted,
    RateLimited,
    TransactionAborted,
    TransactionConflict,
    WrongType,
)
from support import ServerOnPort


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerOnPort]:
    running = ServerOnPort(tmp_path_factory.mktemp("client") / "data")
    yield running
    running.stop()


@pytest.fixture
def client(server, request) -> Iterator[Client]:
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[-60:]
    with Client(port=server.port, ns=name) as client:  # a namespace per test
        yield client


@pytest.mark.parametrize(
    "value", ["hello", "007", "", 42, -1, True, False, {"item": "book", "qty": 2, "tags": ["a"], "gift": None},
              ["x", 2, True, {"k": 1.5}]],
    ids=["str", "digits-as-str", "empty", "int", "negative", "true", "false", "dict", "list"],
)
def test_values_come_back_as_the_type_they_were_stored_as(client, value):
    """str, int, bool, dict and list round-trip exactly; a string of digits stays a string."""
    client.set("k", value)
    assert client.get("k") == value and type(client.get("k")) is type(value)


def test_ttl_expire_delete_and_a_missing_key(client):
    """TTLs in seconds, timedelta or duration text; delete counts; a missing key reads None."""
    client.set("k", "v", ttl="10m")
    assert 599 < client.ttl("k") <= 600
    assert client.expire("k", 30) is True and 29 < client.ttl("k") <= 30
    client.set("p", 1)
    assert client.ttl("p") is None, "no TTL"
    assert client.expire("nope", 5) is False
    assert client.delete("k", "p", "nope") == 2
    assert client.get("k") is None and client.ttl("k") is None
    with pytest.raises(TypeError):
        client.set("k", 1.5)


def test_namespaces_keep_keys_apart(client):
    client.set("k", "here")
    client.set("k", "there", ns="elsewhere-client-test")
    assert (client.get("k"), client.get("k", ns="elsewhere-client-test")) == ("here", "there")


def test_transaction_is_all_or_nothing(client):
    """A failing command leaves nothing of the transaction; a good one applies every write."""
    with pytest.raises(TransactionAborted, match="rolled back"):
        with client.transaction() as tx:
            tx.set("a", 1)
            tx.set("b" * 600, 1)  # a key over the size limit fails when EXEC runs it
    assert client.get("a") is None
    with client.transaction() as tx:
        tx.set("a", 1)
        tx.set("b", {"x": 1})
        tx.delete("gone")
    assert (client.get("a"), client.get("b")) == (1, {"x": 1})
    assert len(tx.results) == 3 and tx.results[-1] == 0, "EXEC's replies (DEL of nothing: 0), as docs/client.md reads them"


def test_watched_transaction_retries_when_another_client_wrote(client, server):
    """A conflict re-runs the block with fresh reads; the final value counts both writers."""
    client.set("balance", 100)
    other = redis.Redis(port=server.port)
    attempts = 0
    for attempt in client.transaction("balance"):
        with attempt as tx:
            attempts += 1
            balance = tx.get("balance")
            if attempts == 1:  # someone else pays in between our read and our write
                other.execute_command("SET", "balance", balance + 50, "FROM", client.ns)
            tx.set("balance", balance - 10)
    other.close()
    assert attempts == 2 and client.get("balance") == 140


def test_watched_transaction_gives_up_after_its_retries(client, server):
    """Every attempt conflicting: TransactionConflict, and the key keeps the other writer's value."""
    client.set("hot", 0)
    other = redis.Redis(port=server.port)
    with pytest.raises(TransactionConflict):
        for attempt in client.transaction("hot", retries=2):
            with attempt as tx:
                value = tx.get("hot")
                other.execute_command("SET", "hot", value + 1, "FROM", client.ns)
                tx.set("hot", -1)
    other.close()
    assert client.get("hot") == 3, "three attempts, each beaten by the other client"


def test_error_replies_become_typed_errors(client, server):
    client.set("s", "text")
    with pytest.raises(WrongType):
        client.execute("HGET", "s", "field", "FROM", client.ns)
    with pytest.raises(CommandFailed):
        client.execute("NOSUCHCOMMAND")
    client.execute("NAMESPACE", "CONFIG", client.ns, "SET", "rate", "1")
    client.execute("NAMESPACE", "CONFIG", client.ns, "SET", "burst", "1")
    with pytest.raises(RateLimited) as limited:
        for n in range(3):  # one a second, and a burst of one more
            client.set(f"k{n}", n)
    assert n == 2 and 0 < limited.value.retry_after <= 1
    client.execute("NAMESPACE", "CONFIG", client.ns, "SET", "rate", "none")


def test_authentication_and_permission_errors(tmp_path):
    """No password: AuthenticationRequired; a wrong one: AuthenticationFailed; a user writing
    outside its namespaces: PermissionDenied; the right password works."""
    users = {"alice": {"password": hash_password("alice-pw"), "read": ["orders"], "write": ["orders"]}}
    secured = ServerOnPort(tmp_path / "data", "--requirepass", "s3cret", env={"MI_AUTH_USERS": json.dumps(users)})
    try:
        with Client(port=secured.port) as anonymous, pytest.raises(AuthenticationRequired):
            anonymous.get("k")
        with Client(port=secured.port, password="wrong") as wrong, pytest.raises(AuthenticationFailed):
            wrong.get("k")
        with Client(port=secured.port, username="alice", password="alice-pw", ns="orders") as alice:
            alice.set("k", 1)
            with pytest.raises(PermissionDenied):
                alice.set("k", 1, ns="billing")
        with Client(port=secured.port, password="s3cret") as right:
            right.set("k", 1)
            assert right.get("k") == 1
    finally:
        secured.stop()


def test_consumer_acknowledges_handled_messages_and_gives_back_a_failed_one(client):
    """The message whose handling raised comes again at once, with its attempt counted."""
    client.execute("NAMESPACE", "CONFIG", client.ns, "SET", "on_expire", "deliver")
    client.set("job:1", {"n": 1}, ttl="20ms")
    client.set("job:2", {"n": 2}, ttl="40ms")
    with pytest.raises(RuntimeError), client.consume(lease="30s") as messages:
        for message in messages:
            raise RuntimeError(f"could not handle {message.key}")
    handled = []
    with client.consume(lease="30s") as messages:
        for message in messages:
            handled.append((message.key, message.value, message.attempts))
            if len(handled) == 2:
                break
    assert sorted(handled) == [("job:1", {"n": 1}, 2), ("job:2", {"n": 2}, 1)]
    info = client.execute("NAMESPACE", "INFO", client.ns)  # a map in RESP3
    assert (info["due"], info["in_flight"]) == (0, 0), "both acknowledged: none due, none held"


def test_pool_exhaustion_waits_then_raises(server):
    """With every connection busy for longer than pool_timeout, a call fails with PoolExhausted."""
    with Client(port=server.port, ns="pool", max_connections=1, pool_timeout=0.3) as small:
        small.execute("NAMESPACE", "CONFIG", "pool", "SET", "on_expire", "deliver")
        busy = threading.Thread(target=small.execute, args=("TAKE", "FROM", "pool", "BLOCK", "1500"))
        busy.start()
        with redis.Redis(port=server.port) as observer:  # the TAKE holds the only connection
            deadline = time.monotonic() + 5
            while observer.info("clients")["blocked_clients"] == 0:
                assert time.monotonic() < deadline, "the TAKE never blocked"
        started = time.monotonic()
        with pytest.raises(PoolExhausted):
            small.get("k")
        assert time.monotonic() - started >= 0.3
        busy.join()
        assert small.get("k") is None, "the connection is back in the pool"


def test_a_server_restart_mid_use_costs_a_pause_not_an_error(tmp_path):
    """The pooled connection dies with the server; the next call reconnects and finds the data."""
    restarting = ServerOnPort(tmp_path / "data")
    comeback = threading.Timer(0.3, restarting.start)  # back a moment later, on the same port
    try:
        with Client(port=restarting.port, ns="durable", retries=10) as client:
            client.set("k", {"kept": True})
            restarting.stop()
            comeback.start()
            assert client.get("k") == {"kept": True}
    finally:
        if comeback.ident is not None:
            comeback.join()
        restarting.stop()


def test_async_client_stores_reads_and_consumes(server):
    async def main() -> tuple:
        async with AsyncClient(port=server.port, ns="async-client") as client:
            await client.execute("NAMESPACE", "CONFIG", "async-client", "SET", "on_expire", "deliver")
            await client.set("k", ["a", 1])
            value = await client.get("k")
            await client.set("job", "payload", ttl="20ms", priority=3)
            async with client.consume(lease="30s") as messages:
                async for message in messages:
                    got = (message.key, message.value, message.priority)
                    break
            return value, got, await client.delete("k")

    assert asyncio.run(main()) == (["a", 1], ("job", "payload", 3), 1)


def test_async_transaction_retries_on_conflict(server):
    """The asyncio flavour of a watched transaction: re-run once after another client's write."""
    async def main() -> tuple[int, int]:
        async with AsyncClient(port=server.port, ns="async-tx") as client, AsyncClient(port=server.port, ns="async-tx") as other:
            await client.set("n", 1)
            attempts = 0
            async for attempt in client.transaction("n"):
                async with attempt as tx:
                    attempts += 1
                    n = await tx.get("n")
                    if attempts == 1:
                        await other.set("n", n + 100)
                    tx.set("n", n + 1)
            return attempts, await client.get("n")

    assert asyncio.run(main()) == (2, 102)
