"""Snapshots: a point-in-time copy of every shard, checked by SHA-256, restored into a data dir."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storage import DataDirError, Store
from storage.snapshot import (
    SNAPSHOT_MANIFEST,
    SnapshotDamaged,
    begin_snapshot,
    check_snapshot,
    restore_snapshot,
    write_snapshot,
)

MAP = 64 * 1024**2
KEYS = [f"key-{i}".encode() for i in range(200)]


def fill(store: Store, keys: list[bytes], value: bytes = b"v") -> None:
    for shard in store.shards:
        ops = [
            lambda txn, key=key: txn.put("ns", key, value + key, 0)
            for key in keys if store.shard_for(key) is shard
        ]
        assert not any(isinstance(outcome, Exception) for outcome in shard.write_batch(ops))


def values(path: Path) -> dict[bytes, bytes]:
    with Store.open(path, max_db_size=MAP) as store:
        found = {}
        for key in KEYS + [b"later"]:
            with store.shard_for(key).read() as txn:
                record = txn.get("ns", key, 0)
            if record is not None:
                found[key] = record.value
        return found


def snapshot_of(data: Path, out: Path, **kwargs) -> None:
    with Store.open(data, max_db_size=MAP) as store:
        write_snapshot(begin_snapshot(store), out, **kwargs)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    with Store.open(path, shards=3, max_db_size=MAP) as store:
        fill(store, KEYS)
    return path


@pytest.fixture
def snapshot(data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "snap"
    snapshot_of(data, out)
    return out


def flip_byte(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(raw)


def test_a_restored_snapshot_holds_every_record(snapshot: Path, tmp_path: Path) -> None:
    restore_snapshot(snapshot, tmp_path / "restored")
    assert values(tmp_path / "restored") == {key: b"v" + key for key in KEYS}


def test_the_snapshot_is_the_instant_it_began_not_when_the_copy_ran(data: Path, tmp_path: Path) -> None:
    with Store.open(data, max_db_size=MAP) as store:
        point = begin_snapshot(store)
        fill(store, KEYS, value=b"changed")
        fill(store, [b"later"])
        info = write_snapshot(point, tmp_path / "snap")
        assert info.journal != tuple(shard.journal_last for shard in store.shards)
    restore_snapshot(tmp_path / "snap", tmp_path / "restored")
    assert values(tmp_path / "restored") == {key: b"v" + key for key in KEYS}


def test_the_manifest_lists_every_file_with_its_size_and_journal_position(data: Path, tmp_path: Path) -> None:
    with Store.open(data, max_db_size=MAP) as store:
        journal = tuple(shard.journal_last for shard in store.shards)
        done: list[int] = []
        info = write_snapshot(begin_snapshot(store), tmp_path / "snap", progress=done.append)
    body = json.loads((tmp_path / "snap" / SNAPSHOT_MANIFEST).read_text())
    assert body["shards"] == 3
    assert tuple(body["journal"]) == journal == info.journal
    assert all(seq > 0 for seq in journal)
    sizes = {file["path"]: file["size"] for file in body["files"]}
    assert set(sizes) == {"manifest.json", "shard-000/data.mdb", "shard-001/data.mdb", "shard-002/data.mdb"}
    for path, size in sizes.items():
        assert (tmp_path / "snap" / path).stat().st_size == size
    assert sum(done) == sum(size for path, size in sizes.items() if path.endswith("data.mdb"))
    assert not list(tmp_path.glob(".*tmp*")), "the temp dir was renamed into place"


def test_a_snapshot_never_goes_into_an_existing_directory(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "something").write_text("keep me")
    with pytest.raises(DataDirError, match="already exists"):
        snapshot_of(data, out)
    assert (out / "something").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    snapshot_of(data, empty)
    assert check_snapshot(empty).shards == 3


def test_check_accepts_an_intact_snapshot_and_counts_every_byte(snapshot: Path) -> None:
    done: list[int] = []
    info = check_snapshot(snapshot, progress=done.append)
    assert sum(done) == info.total_bytes


def test_a_flipped_byte_in_a_shard_file_is_refused(snapshot: Path, tmp_path: Path) -> None:
    flip_byte(snapshot / "shard-001" / "data.mdb", 5000)
    with pytest.raises(SnapshotDamaged, match="shard-001/data.mdb does not match its checksum"):
        check_snapshot(snapshot)
    with pytest.raises(SnapshotDamaged):
        restore_snapshot(snapshot, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    assert not list(tmp_path.glob(".*tmp*")), "the half-restored copy was removed"


def test_a_missing_file_or_manifest_is_an_incomplete_snapshot(snapshot: Path, tmp_path: Path) -> None:
    (snapshot / "shard-002" / "data.mdb").unlink()
    with pytest.raises(SnapshotDamaged, match="incomplete: shard-002/data.mdb is missing"):
        check_snapshot(snapshot)
    (snapshot / SNAPSHOT_MANIFEST).unlink()
    with pytest.raises(SnapshotDamaged, match="not a complete snapshot"):
        check_snapshot(snapshot)


def test_an_edited_manifest_is_refused(snapshot: Path) -> None:
    path = snapshot / SNAPSHOT_MANIFEST
    body = json.loads(path.read_text())
    body["journal"][0] += 1
    path.write_text(json.dumps(body))
    with pytest.raises(SnapshotDamaged, match="checksum does not match its contents"):
        check_snapshot(snapshot)


def test_restore_never_overwrites_a_data_dir_without_force(data: Path, snapshot: Path) -> None:
    with Store.open(data, max_db_size=MAP) as store:
        fill(store, [b"later"])
    with pytest.raises(DataDirError, match="pass --force"):
        restore_snapshot(snapshot, data)
    assert b"later" in values(data)
    restore_snapshot(snapshot, data, force=True)
    assert values(data) == {key: b"v" + key for key in KEYS}


def test_restore_with_force_swaps_the_data_dir_in_one_step(data: Path, snapshot: Path, monkeypatch) -> None:
    """Linux: the restored copy and the old data dir trade places atomically (renameat2), so no
    moment exists without a data dir; the old contents are gone afterwards."""
    with Store.open(data, max_db_size=MAP) as store:
        fill(store, [b"later"])
    renames: list[tuple[str, str]] = []
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: (renames.append((str(a), str(b))), real_rename(a, b))[1])
    restore_snapshot(snapshot, data, force=True)
    assert values(data) == {key: b"v" + key for key in KEYS}
    assert str(data) not in {source for source, _ in renames}, "the data dir was never moved aside"
    assert sorted(p.name for p in data.parent.iterdir() if p.name.startswith(".")) == []


def test_restore_refuses_a_data_dir_a_server_has_open(data: Path, snapshot: Path) -> None:
    with Store.open(data, max_db_size=MAP) as store:
        fill(store, [b"later"])
        with pytest.raises(DataDirError, match="in use"):
            restore_snapshot(snapshot, data, force=True)
    assert b"later" in values(data)


def test_restored_journal_continues_from_the_snapshot(snapshot: Path, tmp_path: Path) -> None:
    info = restore_snapshot(snapshot, tmp_path / "restored")
    with Store.open(tmp_path / "restored", max_db_size=MAP) as store:
        assert tuple(shard.journal_last for shard in store.shards) == info.journal
        fill(store, [b"later"])
        shard = store.shard_for(b"later")
        assert shard.journal_last == info.journal[shard.index] + 1
