"""The store: data dir creation, the manifest, reopening, routing and whole-store queries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from shard_helpers import get, put

from storage import DataDirError, StorageConfigError, Store, shard_index
from storage.store import MIN_SHARD_MAP_SIZE

SIZE = 64 * 1024**2


def open_store(path, **options):
    options.setdefault("max_db_size", SIZE)
    return Store.open(path, **options)


def test_new_data_dir_gets_manifest_and_default_shards(tmp_path):
    """A first open creates the dir, a format-1 manifest and one shard directory (the default)."""
    path = tmp_path / "new" / "data"
    with open_store(path) as store:
        assert len(store.shards) == 1
    manifest = json.loads((path / "manifest.json").read_text())
    assert (manifest["format"], manifest["shards"]) == (1, 1)
    assert sorted(p.name for p in path.glob("shard-*")) == ["shard-000"]


def test_reopen_uses_the_manifest_shard_count(tmp_path):
    """Opened again without shards=, the store has the count it was created with."""
    open_store(tmp_path / "d", shards=3).close()
    with open_store(tmp_path / "d") as store:
        assert [s.index for s in store.shards] == [0, 1, 2]


def test_shard_count_mismatch_says_how_to_fix_it(tmp_path):
    """An explicit different shard count is refused with a message naming both counts and the fix."""
    open_store(tmp_path / "d", shards=4).close()
    with pytest.raises(DataDirError) as caught:
        open_store(tmp_path / "d", shards=8)
    assert str(caught.value) == (
        f"data dir {tmp_path / 'd'} was created with 4 shards; --shards 8 cannot open it"
        " (omit --shards or use 4)"
    )


def test_reopen_keeps_data_deadlines_and_revisions(tmp_path):
    """Records, their deadlines and the revision counters survive close and reopen."""
    with open_store(tmp_path / "d", shards=2) as store:
        for i in range(20):
            put(store.shard_for(b"k%d" % i), "default", b"k%d" % i, i, expires_at=10_000 + i)
        revisions = [s.revision for s in store.shards]
    with open_store(tmp_path / "d") as store:
        keys = [b"k%d" % i for i in range(20)]
        assert [get(store.shard_for(k), "default", k).value for k in keys] == list(range(20))
        assert store.next_deadline() == 10_000
        assert [s.revision for s in store.shards] == revisions
        shard = store.shard_for(b"new")
        assert put(shard, "default", b"new", 1).revision > revisions[shard.index]


def test_relaxed_durability_keeps_data_after_sync_and_reopen(tmp_path):
    """With durable=False, committed writes are readable after sync() and a reopen."""
    with open_store(tmp_path / "d", durable=False) as store:
        put(store.shard_for(b"k"), "default", b"k", b"v")
        store.sync()
    with open_store(tmp_path / "d") as store:
        assert get(store.shard_for(b"k"), "default", b"k").value == b"v"


def test_shard_for_routes_by_shard_index(store):
    """shard_for picks the shard shard_index names, and {tag} keys share one shard."""
    for key in (b"a", b"b", b"user:1", b"zzz"):
        assert store.shard_for(key) is store.shards[shard_index(key, 4)]
    assert store.shard_for(b"{u1}:name") is store.shard_for(b"{u1}:mail")


def test_namespaces_is_the_sorted_union(store):
    """namespaces() lists each namespace once, sorted, whichever shards hold it."""
    for i, ns in enumerate(["zeta", "alpha", "zeta", "mid"] * 3):
        put(store.shard_for(b"k%d" % i), ns, b"k%d" % i, i)
    assert store.namespaces() == ["alpha", "mid", "zeta"]


def test_next_deadline_is_the_minimum_over_shards(store):
    """The store's next deadline is the earliest of all shards'."""
    deadlines = {}
    for i in range(12):
        key = b"k%d" % i
        put(store.shard_for(key), "default", key, i, expires_at=5000 - i)
        deadlines[store.shard_for(key).index] = 5000 - i
    assert len(deadlines) > 1
    assert store.next_deadline() == 5000 - 11


def test_each_shard_maps_its_share_of_max_db_size(tmp_path):
    """max_db_size is the total: each shard's ceiling is an equal share."""
    with open_store(tmp_path / "d", shards=4, max_db_size=SIZE) as store:
        assert {s.stats().map_size for s in store.shards} == {SIZE // 4}


def test_too_small_max_db_size_is_a_config_error(tmp_path):
    """A share below the minimum shard map size is refused before anything opens."""
    with pytest.raises(StorageConfigError):
        open_store(tmp_path / "d", shards=4, max_db_size=4 * MIN_SHARD_MAP_SIZE - 1)


def test_second_open_of_the_same_dir_is_refused(tmp_path):
    """While a store has the dir open, another open fails with DataDirError."""
    with open_store(tmp_path / "d"), pytest.raises(DataDirError, match="in use"):
        open_store(tmp_path / "d")


def test_dir_can_be_reopened_after_close(tmp_path):
    """Closing releases the dir lock, so a later open succeeds."""
    open_store(tmp_path / "d").close()
    open_store(tmp_path / "d").close()


def test_invalid_manifest_json_is_refused(tmp_path):
    """A manifest that is not JSON is a DataDirError naming the file."""
    open_store(tmp_path / "d").close()
    (tmp_path / "d" / "manifest.json").write_text("{not json")
    with pytest.raises(DataDirError, match="manifest.json is not valid JSON"):
        open_store(tmp_path / "d")


def test_unknown_manifest_format_is_refused(tmp_path):
    """A manifest of another format version is refused, saying which versions are involved."""
    open_store(tmp_path / "d").close()
    (tmp_path / "d" / "manifest.json").write_text('{"format": 2, "shards": 4}')
    with pytest.raises(DataDirError, match="format 2, but this version of mi reads format 1"):
        open_store(tmp_path / "d")


def test_non_empty_dir_without_manifest_is_refused(tmp_path):
    """A directory holding other files is not taken over as a data dir."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(DataDirError, match="has no manifest.json but is not empty"):
        open_store(tmp_path / "d")


def test_missing_shard_dir_is_refused(tmp_path):
    """If some shard directories are gone, opening fails instead of starting empty shards."""
    open_store(tmp_path / "d", shards=2).close()
    for name in ("data.mdb", "lock.mdb"):
        (tmp_path / "d" / "shard-001" / name).unlink()
    with pytest.raises(DataDirError, match="lacks shard-001"):
        open_store(tmp_path / "d")


def test_unopenable_shard_is_a_data_dir_error(tmp_path):
    """A shard file that is not LMDB is reported as DataDirError, not an lmdb exception."""
    open_store(tmp_path / "d", shards=1).close()
    (tmp_path / "d" / "shard-000" / "data.mdb").write_bytes(b"garbage" * 1000)
    with pytest.raises(DataDirError, match="shard 0"):
        open_store(tmp_path / "d")


@pytest.mark.parametrize("shards", [0, -1, 257])
def test_out_of_range_shard_count_is_refused(tmp_path, shards):
    """A shard count outside 1..MAX_SHARDS is a config error."""
    with pytest.raises(StorageConfigError):
        open_store(tmp_path / "d", shards=shards)


def test_reader_slots_of_a_killed_process_are_cleared(tmp_path):
    """A tool killed while reading (kill -9 mid-snapshot, say) leaves a slot; reader_check frees it."""
    with open_store(tmp_path / "d", shards=1) as store:
        code = (
            "import sys, time; sys.path.insert(0, '.')\n"
            "from storage import Store\n"
            f"store = Store.open({str(tmp_path / 'd')!r}, readonly=True)\n"
            "txn = store.shards[0].begin_read()\n"
            "print('reading', flush=True)\n"
            "time.sleep(60)\n"
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline() == "reading\n"
        finally:
            child.kill()
            child.wait(timeout=30)
        assert store.reader_check() >= 1
        assert store.reader_check() == 0
