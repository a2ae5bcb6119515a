"""The expiry index: its key codec, ordering, upkeep on every write, and reaping."""

from __future__ import annotations

import pytest

from shard_helpers import get, open_shard, put, raw_update, write
from storage.delivery import encode_due_key
from storage.expiry import decode_index_key, encode_index_key
from storage.limits import LMDB_MAX_KEY_SIZE, MAX_KEY_SIZE
from storage.names import MAX_NAMESPACE_LENGTH


def deadlines(shard):
    with shard.read() as txn:
        return list(txn.deadlines())


def test_index_key_round_trips():
    """An index key decodes to its deadline, namespace and key."""
    assert decode_index_key(encode_index_key(1234, "ns", b"k\x00ey")) == (1234, "ns", b"k\x00ey")


def test_index_keys_sort_by_deadline_first():
    """Bytewise order of index keys is deadline order, whatever the namespace and key."""
    entries = [(300, "a", b"z"), (2**40, "a", b"a"), (299, "zzzz", b"\xff" * 10), (1, "b" * 64, b"a")]
    ordered = sorted(encode_index_key(*e) for e in entries)
    assert [decode_index_key(k)[0] for k in ordered] == [1, 299, 300, 2**40]


def test_max_key_size_leaves_room_for_every_index_built_from_a_key():
    """The longest key a write accepts, in the longest namespace, fits the expiry index and the
    due queue (the larger: length byte, priority, deadline), and one byte more would not."""
    namespace, key = "n" * MAX_NAMESPACE_LENGTH, b"k" * MAX_KEY_SIZE
    assert MAX_KEY_SIZE == 511 - 1 - 4 - 8 - 64 == 434
    sizes = [len(encode_index_key(2**64 - 1, namespace, key)), len(encode_due_key(namespace, 2**32 - 1, 2**64 - 1, key))]
    assert max(sizes) == LMDB_MAX_KEY_SIZE


def test_malformed_index_key_raises_value_error():
    """A truncated index key is a ValueError, for the reaper to drop it."""
    with pytest.raises(ValueError, match="truncated"):
        decode_index_key(encode_index_key(1, "namespace", b"k")[:12])


def test_next_deadline_is_the_earliest_across_namespaces(shard):
    """next_deadline is the first index entry, in whichever namespace it is."""
    put(shard, "a", b"late", 1, expires_at=9000)
    put(shard, "b", b"early", 1, expires_at=3000)
    put(shard, "a", b"never", 1)
    assert shard.next_deadline() == 3000
    assert deadlines(shard) == [(3000, "b", b"early"), (9000, "a", b"late")]


def test_next_deadline_is_none_without_deadlines(shard):
    """With no record carrying a deadline there is no next deadline."""
    put(shard, "a", b"k", 1)
    assert shard.next_deadline() is None


def test_overwrite_moves_the_index_entry(shard):
    """Overwriting with another deadline replaces the old entry."""
    put(shard, "a", b"k", 1, expires_at=5000)
    put(shard, "a", b"k", 2, expires_at=7000)
    assert deadlines(shard) == [(7000, "a", b"k")]


def test_overwrite_without_deadline_removes_the_entry(shard):
    """Overwriting without a TTL leaves no index entry."""
    put(shard, "a", b"k", 1, expires_at=5000)
    put(shard, "a", b"k", 2)
    assert deadlines(shard) == []


def test_persist_removes_the_entry(shard):
    """set_expiry(..., 0) makes the record permanent and drops its entry."""
    put(shard, "a", b"k", 1, expires_at=5000)
    write(shard, lambda txn: txn.set_expiry("a", b"k", 0, now_ms=0))
    assert deadlines(shard) == []
    assert get(shard, "a", b"k", now_ms=10_000).expires_at == 0


def test_set_expiry_adds_an_entry(shard):
    """Giving a permanent record a deadline indexes it."""
    put(shard, "a", b"k", 1)
    write(shard, lambda txn: txn.set_expiry("a", b"k", 4000, now_ms=0))
    assert deadlines(shard) == [(4000, "a", b"k")]


def test_delete_removes_the_entry(shard):
    """Deleting a record drops its index entry."""
    put(shard, "a", b"k", 1, expires_at=5000)
    write(shard, lambda txn: txn.delete("a", b"k"))
    assert deadlines(shard) == []


def test_reap_due_removes_due_records_in_deadline_order(shard):
    """reap_due deletes exactly the records due by now, earliest first, and returns them."""
    put(shard, "a", b"third", 1, expires_at=3000)
    put(shard, "b", b"first", 1, expires_at=1000)
    put(shard, "a", b"second", 1, expires_at=2000)
    put(shard, "a", b"later", 1, expires_at=9000)
    put(shard, "a", b"forever", 1)
    reaped = write(shard, lambda txn: txn.reap_due(3000, 100))
    assert reaped == [("b", b"first"), ("a", b"second"), ("a", b"third")]
    with shard.read() as txn:
        assert (txn.count("a"), txn.count("b")) == (2, 0)
    assert deadlines(shard) == [(9000, "a", b"later")]


def test_reap_due_is_bounded_by_limit(shard):
    """reap_due removes at most limit records per call, earliest first."""
    for i in range(5):
        put(shard, "a", b"k%d" % i, 1, expires_at=1000 + i)
    assert write(shard, lambda txn: txn.reap_due(5000, 2)) == [("a", b"k0"), ("a", b"k1")]
    assert shard.next_deadline() == 1002


def test_reap_due_drops_an_entry_whose_record_is_gone(shard_path):
    """An index entry without its record is dropped and nothing is reported removed."""
    shard = open_shard(shard_path)
    put(shard, "a", b"k", 1, expires_at=1000)
    shard.close()
    raw_update(shard_path, b"ns/a", lambda txn, db: txn.delete(b"k", db=db))
    shard = open_shard(shard_path)
    try:
        assert write(shard, lambda txn: txn.reap_due(5000, 10)) == []
        assert shard.next_deadline() is None
    finally:
        shard.close()


def test_reap_due_keeps_a_record_with_another_deadline(shard_path):
    """An entry whose record now carries a different deadline is dropped; the record stays."""
    shard = open_shard(shard_path)
    put(shard, "a", b"k", 1, expires_at=9000)
    shard.close()
    stale = encode_index_key(1000, "a", b"k")
    raw_update(shard_path, b"mi/expiry", lambda txn, db: txn.put(stale, b"", db=db))
    shard = open_shard(shard_path)
    try:
        assert write(shard, lambda txn: txn.reap_due(5000, 10)) == []
        assert get(shard, "a", b"k", now_ms=5000).value == 1
        assert deadlines(shard) == [(9000, "a", b"k")]
    finally:
        shard.close()


def test_deadlines_survive_reopen(shard_path):
    """The index is on disk: after a reopen the next deadline is still known."""
    shard = open_shard(shard_path)
    put(shard, "a", b"k", 1, expires_at=4242)
    shard.close()
    shard = open_shard(shard_path)
    try:
        assert shard.next_deadline() == 4242
    finally:
        shard.close()
