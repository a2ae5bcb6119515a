"""Hot snapshots over TCP: SNAPSHOT while clients write, SNAPSHOT STATUS, retention, periodic runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import trio
from attrs import evolve

from mi.core.server import serve
from mi.upkeep.snapshotter import SnapshotRun
from protocol import CommandError
from protocol.replies import SimpleString
from storage import Store
from storage.snapshot import check_snapshot, restore_snapshot
from support import IO_TIMEOUT, RawClient, as_map, keys_on_every_shard, make_config

SHARDS = 4
OK = SimpleString("OK")
SNAPSHOTS = 10


def read_all(data_dir: Path, ns: str, keys: list[str]) -> list:
    with Store.open(data_dir) as store:
        values = []
        for key in keys:
            with store.shard_for(key.encode()).read() as txn:
                record = txn.get(ns, key.encode(), 0)
            values.append(None if record is None else record.value)
        return values


async def test_snapshots_taken_under_cross_shard_writes_are_each_one_instant(raw, port, tmp_path):
    """Writers keep going during the copies; every MSET across all shards is wholly in or out."""
    keys = keys_on_every_shard(SHARDS)
    generation = 0

    async def write_generations(client: RawClient) -> None:
        nonlocal generation
        await client.command("SELECT", "gen")  # MSET's arguments are all pairs: it takes no FROM
        while True:
            args = [part for key in keys for part in (key, generation + 1)]
            assert await client.command("MSET", *args) == OK
            generation += 1

    async def generation_passes(target: int) -> None:
        with trio.fail_after(IO_TIMEOUT):
            while generation < target:
                await trio.sleep(0.001)

    writer = await RawClient.connect(port)
    snapshots = [tmp_path / f"snap{i}" for i in range(SNAPSHOTS)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(write_generations, writer)
        await generation_passes(1)
        for path in snapshots:
            assert await raw.command("SNAPSHOT", "TO", str(path)) == str(path).encode()
        await generation_passes(generation + 2)  # the server still takes writes after them
        nursery.cancel_scope.cancel()
    await writer.aclose()

    seen = []
    for path in snapshots:
        restored = path.with_name(path.name + "-restored")
        restore_snapshot(path, restored)
        values = read_all(restored, "gen", keys)
        assert len(set(values)) == 1, f"a cross-shard MSET was torn by {path.name}: {values}"
        seen.append(values[0])
    assert seen == sorted(seen) and seen[-1] <= generation


async def test_status_reports_the_last_snapshot_and_busy_is_refused(raw, server, tmp_path):
    status = as_map(await raw.command("SNAPSHOT", "STATUS"))
    assert status[b"last_status"] == b"none" and status[b"in_progress"] == 0
    await raw.command("SET", "k", "v")
    await raw.command("SNAPSHOT", "TO", str(tmp_path / "s1"))
    status = as_map(await raw.command("SNAPSHOT", "STATUS"))
    assert status[b"last_status"] == b"ok"
    assert status[b"last_path"] == str(tmp_path / "s1").encode()
    shard_files = (tmp_path / "s1").glob("shard-*/data.mdb")
    assert status[b"last_bytes"] == sum(path.stat().st_size for path in shard_files) > 0

    server.state.snapshotter.running = SnapshotRun(tmp_path / "other")  # one under way
    reply = await raw.command("SNAPSHOT", "TO", str(tmp_path / "s2"))
    assert isinstance(reply, CommandError)
    assert "already being taken" in reply.message
    assert not (tmp_path / "s2").exists()


async def test_a_snapshot_into_an_existing_dir_is_an_error_and_the_server_goes_on(raw, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    reply = await raw.command("SNAPSHOT", "TO", str(tmp_path / "taken"))
    assert isinstance(reply, CommandError)
    assert "already exists" in reply.message
    assert await raw.command("SET", "k", "v") == OK
    assert not list(tmp_path.glob(".*tmp*"))


async def test_snapshot_without_a_dir_keeps_the_newest_in_the_snapshot_dir(nursery, tmp_path):
    config = make_config(tmp_path / "data")
    config = evolve(config, snapshots=evolve(config.snapshots, dir=str(tmp_path / "snaps"), keep=2))
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    taken = []
    for i in range(3):
        await client.command("SET", "k", i)
        taken.append(Path((await client.command("SNAPSHOT")).decode()))
    await client.aclose()
    assert len(set(taken)) == 3
    assert sorted((tmp_path / "snaps").iterdir()) == sorted(taken[1:]), "the oldest went"
    restore_snapshot(taken[-1], tmp_path / "restored")
    assert read_all(tmp_path / "restored", "default", ["k"]) == [2]


async def test_periodic_snapshots_are_taken_and_pruned(nursery, tmp_path):
    config = make_config(tmp_path / "data")
    config = evolve(config, snapshots=evolve(config.snapshots, dir=str(tmp_path / "snaps"), interval=0.05, keep=2))
    server = await nursery.start(serve, config)
    snapshotter = server.state.snapshotter
    with trio.fail_after(IO_TIMEOUT * 3):
        while snapshotter.taken < 3 or snapshotter.running is not None:  # between two runs
            await trio.sleep(0.01)
    complete = [path for path in (tmp_path / "snaps").iterdir() if (path / "snapshot.json").exists()]
    assert len(complete) == 2, "pruned to keep=2"
    for path in complete:
        check_snapshot(path)


async def test_a_copier_killed_mid_copy_leaves_a_reader_slot_the_server_clears(raw, server, config, tmp_path):
    """kill -9 of a snapshot process holding read transactions: the server serves on and frees its slots."""
    await raw.command("SET", "k", "v")
    copier = await trio.lowlevel.open_process(
        [sys.executable, "-m", "mi.upkeep.snapshot_copier", config.storage.data_dir, str(tmp_path / "snap")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    with trio.fail_after(IO_TIMEOUT):
        assert b'"ready"' in await copier.stdout.receive_some()
        await copier.stdin.send_all(b"begin\n")
        assert b'"begun"' in await copier.stdout.receive_some()
    copier.kill()  # SIGKILL while it holds a read transaction on every shard
    await copier.wait()
    assert await raw.command("SET", "k", "after") == OK
    assert await raw.command("GET", "k") == b"after"
    assert server.state.store.reader_check() >= SHARDS  # what the server runs every minute
    assert server.state.store.reader_check() == 0
    assert not (tmp_path / "snap").exists()
