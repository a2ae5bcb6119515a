"""MULTI/EXEC/WATCH: all or nothing, isolated, optimistic locking, over raw sockets and redis-py."""

from __future__ import annotations

import pytest
import redis
import trio
from attrs import evolve

from mi.core.server import serve
from protocol import NULL_ARRAY, CommandError, SimpleString
from storage import MAX_KEY_SIZE, shard_index
from support import RawClient, ThreadedRedis, make_config

OK, QUEUED = SimpleString("OK"), SimpleString("QUEUED")
SHARDS = 4  # make_config's shard count
TOO_LONG_KEY = b"x" * (MAX_KEY_SIZE + 1)  # refused when the command runs, not when it is queued


def keys_on(shard: int, count: int, prefix: str = "k") -> list[str]:
    """``count`` key names that live on ``shard``."""
    found = []
    i = 0
    while len(found) < count:
        name = f"{prefix}{i}"
        if shard_index(name.encode(), SHARDS) == shard:
            found.append(name)
        i += 1
    return found


ONE_SHARD = keys_on(0, 2)
TWO_SHARDS = [keys_on(0, 1)[0], keys_on(1, 1)[0]]


async def test_exec_replies_with_each_command_seeing_the_ones_before(raw):
    """Queued commands answer QUEUED; EXEC answers all their replies in order."""
    assert await raw.command("MULTI") == OK
    assert await raw.command("SET", "k", "1") == QUEUED
    assert await raw.command("GET", "k") == QUEUED
    assert await raw.command("DEL", "k") == QUEUED
    assert await raw.command("EXEC") == [OK, b"1", 1]  # GET's value, DEL's count
    assert await raw.command("GET", "k") is None


@pytest.mark.parametrize("keys", [ONE_SHARD, TWO_SHARDS], ids=["one-shard", "two-shards"])
async def test_runtime_error_rolls_back_the_whole_transaction(raw, keys):
    """A command failing inside EXEC leaves the data as it was, and the error names it."""
    a, b = keys
    await raw.command("SET", a, "before")
    await raw.command("MULTI")
    await raw.command("SET", a, "after")
    await raw.command("SET", b, "new")
    await raw.command("SET", TOO_LONG_KEY, "v")
    reply = await raw.command("EXEC")
    assert isinstance(reply, CommandError)
    assert "rolled back" in reply.message and "command 3 of 3 (SET)" in reply.message
    assert await raw.command("GET", a) == b"before"
    assert await raw.command("GET", b) is None


async def test_queueing_error_aborts_exec_and_applies_nothing(raw):
    """An unknown command or a wrong arity while queueing: EXEC answers EXECABORT."""
    await raw.command("MULTI")
    await raw.command("SET", "k", "v")
    assert isinstance(await raw.command("NOSUCHCOMMAND"), CommandError)
    assert isinstance(await raw.command("GET"), CommandError)
    reply = await raw.command("EXEC")
    assert reply == CommandError("EXECABORT", "Transaction discarded because of previous errors.")
    assert await raw.command("GET", "k") is None


async def test_connection_commands_cannot_be_queued(raw):
    """SELECT inside MULTI is refused and dooms the transaction (its effect would not wait)."""
    await raw.command("MULTI")
    reply = await raw.command("SELECT", "other")
    assert reply == CommandError("ERR", "SELECT is not allowed inside MULTI")
    assert (await raw.command("EXEC")).prefix == "EXECABORT"


async def test_discard_drops_the_queue(raw):
    """After DISCARD nothing queued is applied, and the connection is out of MULTI."""
    await raw.command("MULTI")
    await raw.command("SET", "k", "v")
    assert await raw.command("DISCARD") == OK
    assert await raw.command("GET", "k") is None
    assert await raw.command("EXEC") == CommandError("ERR", "EXEC without MULTI")


async def test_misplaced_transaction_commands_are_errors(raw):
    """Nested MULTI, EXEC/DISCARD without MULTI, WATCH inside MULTI: Redis's errors."""
    assert await raw.command("EXEC") == CommandError("ERR", "EXEC without MULTI")
    assert await raw.command("DISCARD") == CommandError("ERR", "DISCARD without MULTI")
    await raw.command("MULTI")
    assert await raw.command("MULTI") == CommandError("ERR", "MULTI calls can not be nested")
    assert await raw.command("WATCH", "k") == CommandError("ERR", "WATCH inside MULTI is not allowed")
    await raw.command("SET", "k", "v")
    assert await raw.command("EXEC") == [OK]  # neither error doomed the transaction


async def test_exec_of_an_empty_transaction_is_an_empty_array(raw):
    await raw.command("MULTI")
    assert await raw.command("EXEC") == []


async def test_queue_is_capped(nursery, tmp_path):
    """Past max_queued_commands the transaction is refused."""
    config = make_config(tmp_path / "data")
    config = evolve(config, limits=evolve(config.limits, max_queued_commands=2))
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    await client.command("MULTI")
    assert await client.command("SET", "a", "1") == QUEUED
    assert await client.command("SET", "b", "1") == QUEUED
    reply = await client.command("SET", "c", "1")
    assert "max_queued_commands is 2" in reply.message
    assert (await client.command("EXEC")).prefix == "EXECABORT"
    assert await client.command("EXISTS", "a", "b", "c") == 0
    await client.aclose()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_watched_key_written_by_another_client_makes_exec_nil(port, protocol):
    """WATCH, another client SETs the key, EXEC: nil (RESP2 *-1, RESP3 _) and nothing applied."""
    watcher, other = await RawClient.connect(port), await RawClient.connect(port)
    if protocol == 3:
        await watcher.command("HELLO", "3")
    await watcher.command("WATCH", "k")
    await other.command("SET", "k", "theirs")
    await watcher.command("MULTI")
    await watcher.command("SET", "k", "mine")
    await watcher.send(b"*1\r\n$4\r\nEXEC\r\n")
    raw_reply = await watcher.stream.receive_some(100)
    assert raw_reply == (b"*-1\r\n" if protocol == 2 else b"_\r\n")
    assert await other.command("GET", "k") == b"theirs"
    await watcher.aclose()
    await other.aclose()


async def test_watch_sees_a_key_created_and_deleted_meanwhile(port):
    """Absent, then SET and DEL by another client: still a change, EXEC answers nil."""
    watcher, other = await RawClient.connect(port), await RawClient.connect(port)
    await watcher.command("WATCH", "k")
    await other.command("SET", "k", "v")
    await other.command("DEL", "k")
    await watcher.command("MULTI")
    await watcher.command("SET", "k", "mine")
    assert await watcher.command("EXEC") == NULL_ARRAY
    await watcher.aclose()
    await other.aclose()


async def test_watched_key_that_expires_makes_exec_nil(client, clock):
    """Expiry is a change too, though no command announced it."""
    await client.command("SET", "k", "v", "TTL", "1s")
    await client.command("WATCH", "k")
    clock.jump(2)
    await client.command("MULTI")
    await client.command("SET", "other", "v")
    assert await client.command("EXEC") == NULL_ARRAY
    assert await client.command("GET", "other") is None


async def test_unchanged_watch_lets_exec_run_and_unwatch_forgets(port):
    """A watch nobody broke lets EXEC apply; after UNWATCH a change no longer matters."""
    watcher, other = await RawClient.connect(port), await RawClient.connect(port)
    await watcher.command("WATCH", "a", "b", "FROM", "ns")
    await other.command("SET", "a", "elsewhere")  # another namespace: not watched
    await watcher.command("MULTI")
    await watcher.command("SET", "a", "1", "FROM", "ns")
    assert await watcher.command("EXEC") == [OK]
    await watcher.command("WATCH", "a", "FROM", "ns")
    assert await watcher.command("UNWATCH") == OK
    await other.command("SET", "a", "2", "FROM", "ns")
    await watcher.command("MULTI")
    await watcher.command("GET", "a", "FROM", "ns")
    assert await watcher.command("EXEC") == [b"2"]
    await watcher.aclose()
    await other.aclose()


async def test_redis_py_watch_flow_raises_watch_error(r2, port):
    """redis-py's pipeline()/watch()/WatchError works unchanged."""
    other = redis.Redis(port=port)  # used on the worker thread below only

    def conflicting_update() -> None:
        with r2.client.pipeline() as pipe:
            pipe.watch("balance")
            current = int(pipe.get("balance") or 0)
            other.set("balance", 100)
            pipe.multi()
            pipe.set("balance", current + 1)
            pipe.execute()

    with pytest.raises(redis.WatchError):
        await trio.to_thread.run_sync(conflicting_update)
    assert await r2.get("balance") == b"100"
    other.close()


async def test_concurrent_optimistic_increments_end_with_the_exact_total(port):
    """8 clients doing WATCH/GET/MULTI/SET/EXEC with retries never lose an increment."""
    clients, rounds = 8, 25

    def increment_many() -> None:
        client = redis.Redis(port=port, socket_timeout=10)
        for _ in range(rounds):
            while True:
                with client.pipeline() as pipe:
                    try:
                        pipe.watch("counter")
                        value = int(pipe.get("counter") or 0)
                        pipe.multi()
                        pipe.set("counter", value + 1)
                        pipe.execute()
                        break
                    except redis.WatchError:
                        continue
        client.close()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for _ in range(clients):
                nursery.start_soon(trio.to_thread.run_sync, increment_many)
    assert int(await ThreadedRedis(port).get("counter")) == clients * rounds


async def test_readers_never_see_half_a_transfer_across_shards(port):
    """Writers move amounts between keys on different shards; MULTI/GET/EXEC sums stay constant."""
    accounts = [keys_on(shard, 1, "acct")[0] for shard in range(SHARDS)]
    total = 1000 * len(accounts)
    client = ThreadedRedis(port)
    for account in accounts:
        await client.set(account, 1000)
    done = trio.Event()
    sums: list[int] = []

    def transfer(worker: int) -> None:
        client = redis.Redis(port=port, socket_timeout=10)
        for step in range(60):
            source, target = accounts[(worker + step) % 4], accounts[(worker + step + 1) % 4]
            with client.pipeline() as pipe:
                try:
                    pipe.watch(source, target)
                    have, has = int(pipe.get(source)), int(pipe.get(target))
                    pipe.multi()
                    pipe.set(source, have - 7)
                    pipe.set(target, has + 7)
                    pipe.execute()
                except redis.WatchError:
                    pass
        client.close()

    def audit() -> None:
        client = redis.Redis(port=port, socket_timeout=10)
        while not done.is_set():
            pipe = client.pipeline(transaction=True)
            for account in accounts:
                pipe.get(account)
            sums.append(sum(int(value) for value in pipe.execute()))
        client.close()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, audit)
            async with trio.open_nursery() as writers:
                for worker in range(3):
                    writers.start_soon(trio.to_thread.run_sync, transfer, worker)
            done.set()
    assert sums and set(sums) == {total}
    assert sum([int(await client.get(account)) for account in accounts]) == total


async def test_multi_key_commands_across_shards_are_atomic(r2):
    """DEL over keys on every shard is one transaction too: it removes all of them."""
    keys = [keys_on(shard, 1, "del")[0] for shard in range(SHARDS)]
    for key in keys:
        await r2.set(key, "v")
    assert await r2.delete(*keys) == SHARDS
    assert await r2.exists(*keys) == 0


async def test_read_gate_reopens_after_each_cross_shard_commit(server, r2):
    """After many cross-shard transactions, plain reads still answer (the gate never sticks)."""
    a, b = TWO_SHARDS
    for i in range(20):
        assert await r2.on_one_connection(("MULTI",), ("SET", a, i), ("SET", b, i), ("EXEC",)) == [
            b"OK", b"QUEUED", b"QUEUED", [b"OK", b"OK"],
        ]
    assert await r2.get(a) == b"19"
    assert await r2.get(b) == b"19"


async def test_closing_a_connection_forgets_its_watches(server, port):
    """WATCH state is per connection: it goes when the connection does."""
    client = await RawClient.connect(port)
    await client.command("WATCH", "a", "b")
    assert len(server.state.watches) == 2
    await client.aclose()
    with trio.fail_after(5):
        while len(server.state.watches):
            await trio.sleep(0.01)


async def test_concurrent_cross_shard_transactions_share_commits_and_fail_alone(port):
    """Many clients' EXECs over two shards run in batches: each applied exactly once, and one
    failing in a batch leaves nothing and takes nothing of the others with it."""
    clients, rounds = 12, 15
    first, second = keys_on(0, clients * rounds, "x"), keys_on(1, clients * rounds, "y")

    def run(worker: int) -> list[bool]:
        client = redis.Redis(port=port, socket_timeout=10)
        applied = []
        for step in range(rounds):
            slot = worker * rounds + step
            fails = slot % 3 == 0
            with client.pipeline() as pipe:
                pipe.incrby(first[slot], slot)  # not idempotent: a transaction applied twice shows
                pipe.incrby(second[slot], slot)
                if fails:
                    pipe.set(TOO_LONG_KEY, "v")
                try:
                    pipe.execute()
                    applied.append(True)
                except redis.ResponseError as error:
                    assert "rolled back" in str(error)
                    applied.append(False)
        client.close()
        return applied

    outcomes: dict[int, list[bool]] = {}

    async def worker(index: int) -> None:
        outcomes[index] = await trio.to_thread.run_sync(run, index)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for index in range(clients):
                nursery.start_soon(worker, index)
    reader = ThreadedRedis(port)
    for index, applied in outcomes.items():
        for step, ok in enumerate(applied):
            slot = index * rounds + step
            assert ok == (slot % 3 != 0)
            expected = slot if ok else None  # mi stores an integer as one
            assert (await reader.get(first[slot]), await reader.get(second[slot])) == (expected, expected)
