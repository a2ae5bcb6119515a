"""The write-ahead log and its checkpoints: what a crash or a power cut leaves is recovered whole.

A power cut is simulated on the files themselves: the data file at the last checkpoint's sync is
what surely reached the disk; each page written since may or may not have (the kernel writes dirty
pages back in any order), so the image takes each page at random from one or the other. The log is
the same but per 4 KiB page of its unsynced tail.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import lmdb
import pytest
from shard_helpers import get, put, write

import storage.wal
from storage import DiskFull, StorageCorrupted, StorageError, StorageFull, Store, WouldWait
from storage.store import CLEAN_SHUTDOWN_NAME

MAX_DB_SIZE = 16 * 1024**2
PAGE = 4096


def open_store(path: Path, **options) -> Store:
    return Store.open(path, max_db_size=MAX_DB_SIZE, **options)


def image_of(data_dir: Path, into: Path) -> Path:
    """The files as a process killed now leaves them (all written bytes are in the page cache)."""
    shutil.copytree(data_dir, into, ignore=shutil.ignore_patterns("lock.mdb", "mi.lock"))
    (into / CLEAN_SHUTDOWN_NAME).unlink(missing_ok=True)
    return into


def mix(durable: bytes, latest: bytes, rng: random.Random) -> bytes:
    """Each page from ``latest`` or from ``durable`` at random (beyond ``durable``: latest or zeros)."""
    out = bytearray()
    for offset in range(0, len(latest), PAGE):
        new = latest[offset : offset + PAGE]
        old = durable[offset : offset + PAGE].ljust(len(new), b"\0")
        out += new if rng.random() < 0.5 else old
    return bytes(out)


def dump(path: Path) -> dict[bytes, dict[bytes, bytes]]:
    """Every named database of an LMDB environment and its contents, but the log counters."""
    env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=64)
    try:
        with env.begin() as txn:
            names = [bytes(name) for name, _ in txn.cursor()]
            found = {}
            for name in names:
                db = env.open_db(name, txn=txn, create=False)
                found[name] = {bytes(k): bytes(v) for k, v in txn.cursor(db=db)}
    finally:
        env.close()
    found.get(b"mi/meta", {}).pop(b"log/applied", None)
    return found


def test_a_killed_process_loses_nothing_acknowledged(tmp_path):
    with open_store(tmp_path / "data") as store:
        shard = store.shards[0]
        for i in range(50):
            put(shard, "ns", b"k%d" % i, i)
            if i == 20:
                shard.checkpoint()
        image = image_of(tmp_path / "data", tmp_path / "image")
    with open_store(image) as store:
        assert [get(store.shards[0], "ns", b"k%d" % i).value for i in range(50)] == list(range(50))
        assert store.replayed[0].records == 29  # those after the checkpoint, replayed


@pytest.mark.parametrize("seed", range(4))
def test_a_power_cut_loses_nothing_acknowledged_and_damages_nothing(tmp_path, seed):
    """Strict durability: every write acknowledged is there, whatever pages reached the disk."""
    rng = random.Random(seed)
    data = tmp_path / "data"
    expected: dict[bytes, int] = {}
    with open_store(data) as store:
        shard = store.shards[0]
        for round_ in range(3):  # several checkpoints: each one's pages are kept until the next
            for i in range(rng.randrange(50, 300)):
                key = b"k%d" % rng.randrange(400)
                if rng.random() < 0.2:
                    write(shard, lambda txn, key=key: txn.delete("ns", key))
                    expected.pop(key, None)
                else:
                    put(shard, "ns", key, b"v%d-%d" % (round_, i) + b"x" * rng.randrange(3000))
                    expected[key] = round_ * 1000 + i
            if round_ < 2:
                shard.checkpoint()
                durable_data = (data / "shard-000" / "data.mdb").read_bytes()
        image = image_of(data, tmp_path / "image")
    data_file = image / "shard-000" / "data.mdb"
    data_file.write_bytes(mix(durable_data, data_file.read_bytes(), rng))
    with open_store(image) as store:
        shard = store.shards[0]
        with shard.read() as txn:
            found = {key: txn.get("ns", key, 0).value for key in txn.iter_keys("ns", 0)} if "ns" in shard.namespaces() else {}
        assert set(found) == set(expected)
        for key, stamp in expected.items():
            assert found[key].startswith(b"v%d-%d" % divmod(stamp, 1000))
    from storage.verify import verify_data_dir

    assert verify_data_dir(image).ok


def test_relaxed_durability_after_a_power_cut_keeps_a_prefix_of_its_writes(tmp_path):
    """Relaxed: the log is synced on an interval; a cut keeps everything up to the last sync, and
    of the rest, an unbroken run of the oldest writes or none: never a later write without an
    earlier one, never damage."""
    rng = random.Random(7)
    data = tmp_path / "data"
    with open_store(data, durable=False) as store:
        shard = store.shards[0]
        for i in range(200):
            put(shard, "ns", b"k%03d" % i, b"v" * 500)
        shard.checkpoint()
        durable_data = (data / "shard-000" / "data.mdb").read_bytes()
        segment = shard.log.segments[-1].path
        synced_log = segment.read_bytes()
        for i in range(200, 400):
            put(shard, "ns", b"k%03d" % i, b"v" * 500)
        image = image_of(data, tmp_path / "image")
    data_file, log_file = image / "shard-000" / "data.mdb", image / "shard-000" / "log" / segment.name
    data_file.write_bytes(mix(durable_data, data_file.read_bytes(), rng))
    log_file.write_bytes(mix(synced_log, log_file.read_bytes(), rng)[: len(log_file.read_bytes())])
    with open_store(image) as store:
        shard = store.shards[0]
        present = [get(shard, "ns", b"k%03d" % i) is not None for i in range(400)]
    assert all(present[:200])
    assert present == sorted(present, reverse=True)  # True... then False...


def test_replaying_the_whole_log_rebuilds_every_database(tmp_path):
    """The log holds every write a commit made: replayed onto an empty environment, it gives
    the same databases, indexes and queues included."""
    data = tmp_path / "data"
    with open_store(data) as store:
        shard = store.shards[0]
        put(shard, "a", b"brief", b"1", 5_000)
        put(shard, "a", b"long", b"2", 90_000)
        put(shard, "b", b"x", {"json": [1, 2]})
        write(shard, lambda txn: txn.set_expiry("a", b"long", 80_000, now_ms=0))
        write(shard, lambda txn: txn.put_setting("ns/b/max_value_size", b"100"))
        write(shard, lambda txn: txn.reap_due(6_000, 100, delivers=lambda ns: ns == "a"))
        write(shard, lambda txn: txn.delivery.take("a", 6_000, 30_000, 10))
        put(shard, "c", b"gone", 3)
        write(shard, lambda txn: txn.drop_namespace("c"))
        write(shard, lambda txn: txn.delete("b", b"x"))
        put(shard, "b", b"y", 4)
    before = dump(data / "shard-000")
    empty = tmp_path / "replayed"
    (empty / "shard-000").mkdir(parents=True)
    shutil.copy(data / "manifest.json", empty)
    shutil.copytree(data / "shard-000" / "log", empty / "shard-000" / "log")
    shutil.copy(tmp_path / "data" / "shard-000" / "data.mdb", empty / "shard-000")
    os.truncate(empty / "shard-000" / "data.mdb", 0)
    (empty / "shard-000" / "data.mdb").unlink()
    with Store.open(empty, max_db_size=MAX_DB_SIZE, check_after_crash=False) as store:
        assert store.replayed[0].records > 5
    assert dump(empty / "shard-000") == before


def test_a_torn_tail_is_cut_off_and_what_came_before_replays(tmp_path):
    with open_store(tmp_path / "data") as store:
        for i in range(10):
            put(store.shards[0], "ns", b"k%d" % i, i)
        image = image_of(tmp_path / "data", tmp_path / "image")
    segment = sorted((image / "shard-000" / "log").glob("*.log"))[-1]
    whole = segment.stat().st_size
    with segment.open("ab") as file:
        file.write(b"\x00\x00\x01\x00torn")  # a record that was being written
    with open_store(image) as store:
        assert [get(store.shards[0], "ns", b"k%d" % i).value for i in range(10)] == list(range(10))
        put(store.shards[0], "ns", b"after", 1)
    assert segment.stat().st_size > whole  # cut, then appended after the intact records
    with open_store(image) as store:
        assert get(store.shards[0], "ns", b"after").value == 1


def test_damage_before_the_newest_segment_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", 1024)
    with open_store(tmp_path / "data") as store:
        for i in range(20):
            put(store.shards[0], "ns", b"k%d" % i, b"x" * 300)
        image = image_of(tmp_path / "data", tmp_path / "image")
    oldest = sorted((image / "shard-000" / "log").glob("*.log"))[0]
    damaged = bytearray(oldest.read_bytes())
    damaged[-5] ^= 0xFF
    oldest.write_bytes(bytes(damaged))
    with pytest.raises(StorageCorrupted, match="log"):
        open_store(image)


def test_a_write_the_log_cannot_take_is_not_applied(tmp_path, monkeypatch):
    """A full disk under the log: the write fails, nothing of it is applied or left in the log."""
    with open_store(tmp_path / "data") as store:
        shard = store.shards[0]
        put(shard, "ns", b"before", 1)

        def no_space(*args):
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(storage.wal.os, "pwrite", no_space)
            with pytest.raises(StorageError, match="disk full"):
                put(shard, "ns", b"refused", 2)
        assert get(shard, "ns", b"refused") is None
        put(shard, "ns", b"after", 3)
    with open_store(tmp_path / "data") as store:
        logged = [change.key for entry in store.shards[0].journal() for change in entry.changes]
        assert b"refused" not in logged and logged[-1] == b"after"
        assert get(store.shards[0], "ns", b"after").value == 3 and get(store.shards[0], "ns", b"refused") is None


def test_one_key_overwritten_many_times_never_fills_the_store(tmp_path):
    """The journal lives in the log, not under max_db_size: a 16 MiB store takes 5,000
    overwrites of one key (an older mi said "storage is full" after about 2,000)."""
    with open_store(tmp_path / "data", durable=False) as store:
        shard = store.shards[0]
        for i in range(5_000):
            put(shard, "ns", b"counter", b"%d" % i + b"x" * 1000)
        assert get(shard, "ns", b"counter").value.startswith(b"4999")


def fill(shard, value_size: int, full: type[Exception]) -> int:
    """Store ``k000000``, ``k000001``... until a store raises ``full``; how many fit."""
    stored = 0
    with pytest.raises(full):
        while True:
            put(shard, "ns", b"k%06d" % stored, b"x" * value_size)
            stored += 1
    return stored


def test_a_full_store_refuses_stores_but_a_100_key_delete_goes_through(tmp_path):
    """Stores leave a reserve of the map free, so deletes, which are how space comes back,
    always fit; afterwards stores fit again."""
    with open_store(tmp_path / "data", durable=False) as store:
        shard = store.shards[0]
        stored = fill(shard, 2000, StorageFull)
        assert stored > 1000
        doomed = [b"k%06d" % i for i in range(0, stored, max(1, stored // 100))][:100]
        deleted = write(shard, lambda txn: sum(txn.delete("ns", key) for key in doomed))
        assert deleted == 100
        put(shard, "ns", b"fits again", b"x" * 2000)


@pytest.fixture
def small_disk(tmp_path):
    """A real 6 MiB filesystem (tmpfs), so a full disk answers ENOSPC as it does in production."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_refuses_stores_but_deletes_go_through_and_stores_resume(small_disk):
    with Store.open(small_disk / "data", max_db_size=64 * 1024**2, durable=False) as store:
        shard = store.shards[0]
        stored = fill(shard, 4000, DiskFull)
        assert stored > 100
        assert get(shard, "ns", b"k000000").value == b"x" * 4000  # reads work
        deleted = write(shard, lambda txn: sum(txn.delete("ns", b"k%06d" % i) for i in range(100)))
        assert deleted == 100
        put(shard, "ns", b"fits again", b"x" * 4000)
    with Store.open(small_disk / "data", max_db_size=64 * 1024**2) as store:
        shard = store.shards[0]
        assert get(shard, "ns", b"fits again") is not None and get(shard, "ns", b"k000000") is None
        assert get(shard, "ns", b"k%06d" % (stored - 1)) is not None


def test_a_commit_that_may_not_wait_for_the_disk_refuses_to_and_applies_nothing(tmp_path, monkeypatch):
    """Relaxed writers commit on the server's event loop with ``may_wait=False``: where the commit
    would wait for the disk (a new log segment is synced and created; a full map's checkpoint
    syncs the file), it raises WouldWait with nothing applied, and the same batch then commits
    where waiting is fine."""
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", 4096)
    with open_store(tmp_path / "data", durable=False) as store:
        shard = store.shards[0]
        light = lambda txn: txn.put("ns", b"light", b"x", 0)  # noqa: E731
        assert shard.write_batch([light], may_wait=False)[0].value == b"x"
        while not shard.log.segment_full():
            put(shard, "ns", b"filler", b"y" * 500)
        lsn = shard.log.next_lsn
        with pytest.raises(WouldWait):
            shard.write_batch([lambda txn: txn.put("ns", b"late", b"z", 0)], may_wait=False)
        assert shard.log.next_lsn == lsn and get(shard, "ns", b"late") is None
        shard.write_batch([lambda txn: txn.put("ns", b"late", b"z", 0)])
        assert get(shard, "ns", b"late").value == b"z"

    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", 16 * 1024**2)
    with open_store(tmp_path / "full", durable=False) as store:
        shard = store.shards[0]
        stored = fill(shard, 2000, StorageFull)
        doomed = [b"k%06d" % i for i in range(0, stored, max(1, stored // 100))][:100]
        write(shard, lambda txn: sum(txn.delete("ns", key) for key in doomed))  # room for a few
        stores = [lambda txn, i=i: txn.put("ns", b"more%d" % i, b"x" * 2000, 0) for i in range(50)]
        with pytest.raises(WouldWait):  # a batch that fills the map: its ops then run one by one
            shard.write_batch(stores, may_wait=False)
        assert get(shard, "ns", b"more0") is None
        shard.write_batch(stores)  # where it may wait: a checkpoint makes room, the batch is run again
        assert get(shard, "ns", b"more0").value == b"x" * 2000
