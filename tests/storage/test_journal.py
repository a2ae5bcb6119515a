"""The operation journal: an entry per committed op, in the same transaction, checked and trimmed."""

from __future__ import annotations

import pytest
from shard_helpers import open_shard, put

from storage import Store
from storage.changes import ChangeOp
from storage.journal import JournalDamaged, decode_entry, encode_entry, entry_key
from storage.multishard import run_across


def entries(shard, since=0):
    with shard.read() as txn:
        return list(txn.journal(since))


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


def test_trim_keeps_the_newest_entries(shard):
    for i in range(10):
        put(shard, "ns", b"k%d" % i, i)
    shard.write_batch(
        [lambda txn: txn.trim_journal(keep_entries=3, keep_bytes=1 << 30, drop_before_ms=0, limit=100)]
    )
    assert [e.seq for e in entries(shard)] == [8, 9, 10]


def test_trim_by_age_and_in_bounded_batches(shard):
    for i in range(10):
        put(shard, "ns", b"k%d" % i, i)
    far_future = 2**62

    def trim(txn):
        return txn.trim_journal(keep_entries=100, keep_bytes=1 << 30, drop_before_ms=far_future, limit=4)

    assert shard.write_batch([trim]) == [4]
    assert len(entries(shard)) == 6


def test_trim_by_size(shard):
    for i in range(50):
        put(shard, "ns", b"k%d" % i, b"x" * 1000)
    shard.write_batch(
        [lambda txn: txn.trim_journal(keep_entries=1000, keep_bytes=8192, drop_before_ms=0, limit=1000)]
    )
    assert 0 < len(entries(shard)) < 10


def test_damaged_entry_is_detected():
    """A flipped byte, or an entry moved under another sequence number, fails the CRC."""
    blob = encode_entry(7, 1234, "SET", [])
    assert decode_entry(entry_key(7), blob).label == "SET"
    with pytest.raises(JournalDamaged):
        decode_entry(entry_key(8), blob)
    damaged = bytearray(blob)
    damaged[-1] ^= 1
    with pytest.raises(JournalDamaged):
        decode_entry(entry_key(7), bytes(damaged))


def test_trimming_keeps_the_newest_entry_so_numbers_are_never_reused(shard_path):
    """Even trimmed to nothing, the journal continues after a restart where it left off."""
    shard = open_shard(shard_path)
    for i in range(3):
        put(shard, "ns", b"k%d" % i, i)
    shard.write_batch([lambda txn: txn.trim_journal(keep_entries=0, keep_bytes=0, drop_before_ms=2**62, limit=100)])
    assert [e.seq for e in entries(shard)] == [3]
    shard.close()
    shard = open_shard(shard_path)
    put(shard, "ns", b"again", 1)
    assert [e.seq for e in entries(shard)] == [3, 4]
    shard.close()
