"""Storage faults as a client sees them: damaged records, a full store, reaping after downtime."""

import lmdb
import trio
from structlog.testing import capture_logs

from mi.core.server import Server
from mi.core.state import wall_clock_ms
from protocol.errors import CommandError
from protocol.replies import SimpleString
from storage import Store, shard_index
from storage.store import shard_dir_name
from support import RawClient, make_config, wait_reaped


async def run_server(config, script):
    """Start a server, run ``script(client)``, stop the server gracefully."""
    server = Server(config)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        client = await RawClient.connect(port)
        try:
            return await script(client)
        finally:
            await client.aclose()
            server.request_shutdown()


def damage(data_dir, namespace: str, key: bytes) -> None:
    """Flip one byte of a stored record while the server is down."""
    with Store.open(data_dir) as store:  # the shard count comes from the manifest
        shards = len(store.shards)
    path = data_dir / shard_dir_name(shard_index(key, shards))
    env = lmdb.open(str(path), max_dbs=16, map_size=1 << 30)
    try:
        with env.begin(write=True) as txn:
            db = env.open_db(b"ns/" + namespace.encode(), txn=txn, create=False)
            record = bytearray(txn.get(key, db=db))
            record[-1] ^= 0xFF
            txn.put(key, bytes(record), db=db)
    finally:
        env.close()


async def test_damaged_record_answers_an_error_and_others_still_read(tmp_path):
    """A CRC failure answers -ERR naming the key; other keys and the server carry on."""
    config = make_config(tmp_path / "data")

    async def write(client):
        await client.command("SET", "victim", "precious", "FROM", "ns")
        await client.command("SET", "bystander", "fine", "FROM", "ns")

    await run_server(config, write)
    damage(tmp_path / "data", "ns", b"victim")

    async def read(client):
        return [await client.command("GET", k, "FROM", "ns") for k in ("victim", "bystander")]

    with capture_logs() as logs:
        victim, bystander = await run_server(config, read)
    assert {"event": "record.corrupt", "ns": "ns", "key": "victim", "log_level": "error"}.items() <= next(
        e for e in logs if e["event"] == "record.corrupt"
    ).items()
    assert victim == CommandError(
        "ERR", "record 'victim' in namespace 'ns' failed its CRC check (data damaged)"
    )
    assert bystander == b"fine"


async def test_overwriting_a_damaged_record_repairs_it(tmp_path):
    """SET on a damaged key replaces it, so the key is usable again."""
    config = make_config(tmp_path / "data")

    async def write(client):
        await client.command("SET", "k", "old")

    await run_server(config, write)
    damage(tmp_path / "data", "default", b"k")

    async def repair(client):
        return [await client.command("SET", "k", "new"), await client.command("GET", "k")]

    assert await run_server(config, repair) == [SimpleString("OK"), b"new"]


async def test_full_store_refuses_writes_but_serves_reads(tmp_path):
    """At max_db_size writes answer an error; reads and deletes keep working."""
    config = make_config(tmp_path / "data", shards=1, max_db_size=256 * 1024)

    async def fill(client):
        await client.command("SET", "first", "still here")
        reply = None
        for i in range(1000):
            reply = await client.command("SET", f"filler{i}", "x" * 4096)
            if isinstance(reply, CommandError):
                break
        return [
            reply,
            await client.command("GET", "first"),
            await client.command("DEL", "filler0"),
            await client.command("PING"),
        ]

    full, read, deleted, ping = await run_server(config, fill)
    assert isinstance(full, CommandError) and "storage is full" in full.message
    assert read == b"still here"
    assert deleted == 1
    assert ping == SimpleString("PONG")


async def test_messages_due_during_downtime_are_reaped_at_startup(tmp_path):
    """Deadlines that passed while the server was down are reaped by the first pass."""
    config = make_config(tmp_path / "data")

    async def write(client):
        await client.command("SET", "brief", "v", "PX", "50", "FROM", "jobs")
        await client.command("SET", "lasting", "v", "FROM", "jobs")

    await run_server(config, write)
    with Store.open(tmp_path / "data") as store:  # the deadline is on disk
        assert store.next_deadline() is not None

    an_hour_later = lambda: wall_clock_ms() + 3_600_000  # noqa: E731 - the server was down an hour
    server = Server(config, now_ms=an_hour_later)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        await wait_reaped(server, 1)
        client = await RawClient.connect(port)
        assert await client.command("DBSIZE", "FROM", "jobs") == 1
        await client.aclose()
        server.request_shutdown()
