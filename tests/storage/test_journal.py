"""The operation journal: an entry per committed op, in the write-ahead log, checked and trimmed."""

from __future__ import annotations

import lmdb
from shard_helpers import SHARD_MAP_SIZE, open_shard, put

import storage.wal
from storage import Store
from storage.changes import ChangeOp
from storage.journal import encode_entry, entry_key
from storage.log_format import decode_record, encode_record, record_at
from storage.multishard import run_across


def entries(shard, since=0):
    return list(shard.journal(since))


def test_each_op_that_changes_something_gets_one_labelled_entry(shard):
    """Labels name the ops; an op that changed nothing leaves no entry."""
    shard.write_batch(
        [
            lambda txn: txn.put("ns", b"a", b"1", 0),
            lambda txn: txn.get("ns", b"a", 0),  # a read: nothing to journal
            lambda txn: (txn.put("ns", b"b", 2, 9_000), txn.delete("ns", b"a")),
        ],
        ["SET", "GET", "EXEC"],
    )
    found = entries(shard)
    assert [(e.seq, e.label) for e in found] == [(1, "SET"), (2, "EXEC")]
    assert [(c.op, c.key) for c in found[1].changes] == [(ChangeOp.PUT, b"b"), (ChangeOp.DELETE, b"a")]
    assert found[1].to_json(0)["changes"][0] == {
        "op": "put", "ns": "ns", "key": "b", "type": "integer", "value": 2, "expires_at": 9_000,
    }  # fmt: skip


def test_a_failed_op_leaves_no_entry_and_no_gap(shard):
    """The op rolled back alone is not journaled; sequence numbers stay consecutive."""

    def fails_after_writing(txn):
        txn.put("ns", b"x", b"v", 0)
        raise ValueError("boom")

    shard.write_batch([lambda txn: txn.put("ns", b"a", b"1", 0), fails_after_writing], ["SET", "BAD"])
    put(shard, "ns", b"c", b"3")
    assert [(e.seq, e.label) for e in entries(shard)] == [(1, "SET"), (2, "write")]


def test_sequence_continues_after_reopening(shard_path):
    shard = open_shard(shard_path)
    put(shard, "ns", b"a", b"1")
    shard.close()
    shard = open_shard(shard_path)
    assert shard.journal_last == 1
    put(shard, "ns", b"b", b"2")
    assert [e.seq for e in entries(shard)] == [1, 2]
    assert [e.seq for e in entries(shard, since=1)] == [2]
    shard.close()


def test_reaped_records_are_journaled(shard):
    put(shard, "ns", b"brief", b"v", 1_000)
    shard.write_batch([lambda txn: txn.reap_due(5_000, 100)], ["reap"])
    last = entries(shard)[-1]
    assert (last.label, [(c.op, c.key) for c in last.changes]) == ("reap", [(ChangeOp.DELETE, b"brief")])


def test_a_cross_shard_transaction_is_one_entry_per_shard(tmp_path):
    with Store.open(tmp_path / "data", shards=2, max_db_size=32 * 1024**2) as store:
        run_across(
            store.shards,
            lambda txns: (txns[0].put("ns", b"a", 1, 0), txns[1].put("ns", b"b", 2, 0)),
            label="MSET",
        )
        for shard in store.shards:
            assert [e.label for e in entries(shard)] == ["MSET"]


def test_the_journal_is_read_from_the_log_after_a_restart(shard_path):
    """Entries live in the log's segments: a reopened shard reads the same ones."""
    shard = open_shard(shard_path)
    for i in range(3):
        put(shard, "ns", b"k%d" % i, i)
    before = entries(shard)
    shard.close()
    assert list((shard_path / "log").glob("*.log"))
    shard = open_shard(shard_path)
    assert entries(shard) == before
    shard.close()


def test_old_segments_go_whole_and_numbers_are_never_reused(shard_path, monkeypatch):
    """Trimming deletes whole segments before the checkpoint; a restart continues the numbering."""
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", 512)
    shard = open_shard(shard_path)
    for i in range(20):
        put(shard, "ns", b"k%d" % i, b"x" * 100)
    shard.checkpoint()
    assert len(shard.log.segments) > 3
    removed = shard.log.trim(shard.checkpoint_lsn + 1, lambda segment, following: False)
    assert removed > 2 and len(shard.log.segments) == 1  # all but the newest
    kept = [e.seq for e in entries(shard)]
    assert kept and kept[-1] == 20 and kept == list(range(kept[0], 21))
    shard.close()
    shard = open_shard(shard_path)
    put(shard, "ns", b"again", 1)
    assert entries(shard)[-1].seq == 21
    shard.close()


def test_trim_keeps_what_the_checkpoint_does_not_hold(shard_path, monkeypatch):
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", 512)
    shard = open_shard(shard_path)
    put(shard, "ns", b"first", b"x" * 600)
    checkpointed = shard.checkpoint_lsn
    for i in range(10):
        put(shard, "ns", b"k%d" % i, b"x" * 600)
    shard.log.trim(checkpointed + 1, lambda segment, following: False)
    assert shard.log.segments[0].first_lsn <= checkpointed + 1
    shard.close()


def test_a_flipped_byte_in_the_log_ends_what_can_be_read():
    record = encode_record(7, 3, 1234, [("SET", [])], [])
    view = memoryview(record)
    body, end = record_at(view, 0)
    assert decode_record(body).lsn == 7 and end == len(record)
    damaged = bytearray(record)
    damaged[-1] ^= 1
    assert record_at(memoryview(bytes(damaged)), 0) is None


def test_the_journal_of_an_older_data_dir_moves_into_the_log(shard_path):
    """Older versions kept entries in the mi/journal DB: the first open copies them into the log,
    deletes the DB, and goes on numbering after them."""
    shard_path.mkdir()
    env = lmdb.open(str(shard_path), map_size=SHARD_MAP_SIZE, max_dbs=40)
    with env.begin(write=True) as txn:
        journal = env.open_db(b"mi/journal", txn=txn)
        for seq in (4, 5):
            txn.put(entry_key(seq), encode_entry(seq, 1000 + seq, "SET", []), db=journal)
    env.close()
    shard = open_shard(shard_path)
    assert [(e.seq, e.label, e.timestamp_ms) for e in entries(shard)] == [(4, "SET", 1004), (5, "SET", 1005)]
    put(shard, "ns", b"a", 1)
    assert [e.seq for e in entries(shard)] == [4, 5, 6]
    shard.close()
    env = lmdb.open(str(shard_path), map_size=SHARD_MAP_SIZE, max_dbs=40)
    with env.begin() as txn:
        assert txn.get(b"mi/journal") is None
    env.close()
