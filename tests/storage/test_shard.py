"""One shard: reads, writes, batches with failing ops, limits, damage and a full map."""

from __future__ import annotations

import threading

import lmdb
import pytest

from shard_helpers import get, open_shard, put, raw_update, write
from storage import (
    MAX_KEY_SIZE,
    CorruptRecord,
    InvalidKey,
    InvalidNamespace,
    Kind,
    KeyTooLarge,
    StorageError,
    StorageFull,
    TooManyNamespaces,
    ValueTooLarge,
)


class Boom(Exception):
    pass


def raise_after_put(txn):
    txn.put("default", b"doomed", b"never", 5000)
    txn.delete("default", b"keep")
    raise Boom


def test_put_then_get_returns_the_record(shard):
    """A committed put is read back with its kind, value, deadline and revision."""
    written = put(shard, "default", b"k", {"a": 1}, expires_at=5000)
    assert get(shard, "default", b"k", now_ms=1000) == written
    assert (written.kind, written.value, written.expires_at) == (Kind.JSON, {"a": 1}, 5000)


def test_missing_key_reads_none(shard):
    """A key never written reads as None, in a namespace that exists and in one that does not."""
    put(shard, "default", b"k", b"v")
    assert (get(shard, "default", b"other"), get(shard, "nowhere", b"k")) == (None, None)


def test_expired_record_reads_none_but_is_counted(shard):
    """At its deadline a record reads as None; count() still includes it until it is reaped."""
    put(shard, "default", b"k", b"v", expires_at=1000)
    assert get(shard, "default", b"k", now_ms=999) is not None
    assert get(shard, "default", b"k", now_ms=1000) is None
    with shard.read() as txn:
        assert txn.count("default") == 1


def test_batch_returns_outcomes_in_order(shard):
    """write_batch returns one outcome per op, in the order of the ops."""
    outcomes = shard.write_batch([
        lambda txn: txn.put("default", b"a", 1, 0).value,
        lambda txn: "plain result",
        lambda txn: txn.put("default", b"b", 2, 0).value,
        lambda txn: txn.get("default", b"a", 0).value,
    ])
    assert outcomes == [1, "plain result", 2, 1]


def test_raising_op_leaves_no_trace_and_others_commit(shard):
    """An op that wrote and then raised is rolled back; the ops around it commit."""
    put(shard, "default", b"keep", b"kept")
    outcomes = shard.write_batch([
        lambda txn: txn.put("default", b"before", b"1", 0),
        raise_after_put,
        lambda txn: txn.put("default", b"after", b"2", 0),
    ])
    assert isinstance(outcomes[1], Boom)
    assert get(shard, "default", b"doomed") is None
    assert get(shard, "default", b"keep").value == b"kept"
    assert (get(shard, "default", b"before").value, get(shard, "default", b"after").value) == (b"1", b"2")
    with shard.read() as txn:
        assert list(txn.deadlines()) == []


def test_ops_after_a_rolled_back_op_see_the_state_without_it(shard):
    """A later op reads the database as if the failed op had never run."""
    outcomes = shard.write_batch([raise_after_put, lambda txn: txn.get("default", b"doomed", 0)])
    assert outcomes[1] is None


def test_op_raising_before_writing_does_not_disturb_the_batch(shard):
    """A validation error is returned as the op's outcome and the other ops commit."""
    outcomes = shard.write_batch([
        lambda txn: txn.put("default", b"a", b"1", 0),
        lambda txn: txn.put("default", b"", b"x", 0),
        lambda txn: txn.put("default", b"b", b"2", 0),
    ])
    assert isinstance(outcomes[1], InvalidKey)
    with shard.read() as txn:
        assert txn.count("default") == 2


def test_new_namespace_is_created_mid_batch(shard):
    """A put into a namespace new to the shard creates it; later ops in the batch see the write."""
    outcomes = shard.write_batch([
        lambda txn: txn.put("default", b"a", b"1", 0).value,
        lambda txn: txn.put("fresh", b"a", b"2", 0).value,
        lambda txn: txn.get("fresh", b"a", 0).value,
    ])
    assert outcomes == [b"1", b"2", b"2"]
    assert shard.namespaces() == {"default", "fresh"}


def test_namespace_created_by_a_rolled_back_op_does_not_exist(shard):
    """A namespace whose only write was rolled back is not created; the batch's others are."""
    def failing(txn):
        txn.put("ghost", b"k", b"v", 0)
        raise Boom

    outcomes = shard.write_batch([failing, lambda txn: txn.put("real", b"k", b"v", 0).value])
    assert isinstance(outcomes[0], Boom) and outcomes[1] == b"v"
    assert shard.namespaces() == {"real"}
    assert get(shard, "ghost", b"k") is None


def test_reads_on_another_thread_see_new_namespaces_safely(shard):
    """While batches create namespaces, a reader thread never fails and sees each one committed."""
    done = threading.Event()
    problems = []

    def reader():
        while not done.is_set():
            try:
                for ns in shard.namespaces():
                    if get(shard, ns, b"k") is None:
                        problems.append(f"{ns} listed before its record was readable")
            except Exception as error:  # noqa: BLE001 - collect for the assertion below
                problems.append(repr(error))
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(100):
            shard.write_batch([lambda txn, i=i: txn.put(f"ns{i}", b"k", i, 0)])
    finally:
        done.set()
        thread.join()
    assert problems == []
    assert len(shard.namespaces()) == 100


def test_namespaces_are_isolated(shard):
    """The same key holds independent records in two namespaces."""
    put(shard, "one", b"k", b"first")
    put(shard, "two", b"k", b"second")
    write(shard, lambda txn: txn.delete("one", b"k"))
    assert (get(shard, "one", b"k"), get(shard, "two", b"k").value) == (None, b"second")


def test_invalid_namespace_name_is_rejected(shard):
    """A namespace name with '/' (or otherwise outside the rule) raises InvalidNamespace."""
    for name in ["a/b", "", "x" * 65, "sp ace", "é"]:
        with pytest.raises(InvalidNamespace):
            put(shard, name, b"k", b"v")
    assert shard.namespaces() == set()


@pytest.mark.parametrize(
    ("key", "error"), [(b"", InvalidKey), (b"k" * (MAX_KEY_SIZE + 1), KeyTooLarge)]
)
def test_bad_key_is_rejected_before_writing(shard, key, error):
    """An empty or too long key raises before anything is written (no namespace, no revision)."""
    with pytest.raises(error):
        put(shard, "default", key, b"v", expires_at=10)
    assert (shard.namespaces(), shard.revision) == (set(), 0)


def test_key_of_max_size_with_a_deadline_is_stored(shard):
    """A key of exactly MAX_KEY_SIZE bytes fits, with its expiry index entry, in the longest namespace."""
    namespace = "n" * 64
    put(shard, namespace, b"k" * MAX_KEY_SIZE, b"v", expires_at=10)
    assert get(shard, namespace, b"k" * MAX_KEY_SIZE).value == b"v"


def test_value_too_large_is_rejected_before_writing(shard_path):
    """A payload over max_value_size raises ValueTooLarge and writes nothing; one at the limit fits."""
    shard = open_shard(shard_path, max_value_size=100)
    try:
        with pytest.raises(ValueTooLarge) as caught:
            put(shard, "default", b"k", b"x" * 101)
        assert (caught.value.size, caught.value.limit) == (101, 100)
        assert shard.revision == 0
        assert put(shard, "default", b"k", b"x" * 100).value == b"x" * 100
    finally:
        shard.close()


def test_revisions_strictly_increase_across_batches(shard):
    """Each write takes a revision above every earlier one."""
    revisions = [put(shard, "default", b"k%d" % i, i).revision for i in range(5)]
    revisions += [r.revision for r in shard.write_batch(
        [lambda txn: txn.put("default", b"x", 1, 0), lambda txn: txn.put("default", b"y", 1, 0)])]
    assert revisions == sorted(set(revisions))


def test_revisions_do_not_go_back_after_a_rollback(shard):
    """A write after a rolled-back op gets a revision above any the rolled-back op took."""
    first = put(shard, "default", b"a", 1).revision
    taken_by_failed = []

    def failing(txn):
        taken_by_failed.append(txn.put("default", b"b", 1, 0).revision)
        raise Boom

    shard.write_batch([failing])
    assert put(shard, "default", b"c", 1).revision > max(first, *taken_by_failed)


def test_revisions_survive_reopen(shard_path):
    """After a reopen, new revisions continue above the old ones."""
    shard = open_shard(shard_path)
    last = put(shard, "default", b"a", 1).revision
    shard.close()
    shard = open_shard(shard_path)
    try:
        assert put(shard, "default", b"b", 1).revision > last
    finally:
        shard.close()


def test_delete_reports_whether_a_record_was_there(shard):
    """delete() is True for an existing key, False for a missing one and a missing namespace."""
    put(shard, "default", b"k", b"v")
    outcomes = shard.write_batch([
        lambda txn: txn.delete("default", b"k"),
        lambda txn: txn.delete("default", b"k"),
        lambda txn: txn.delete("nowhere", b"k"),
    ])
    assert outcomes == [True, False, False]


def test_delete_of_an_expired_record_removes_it_but_reports_absent(shard):
    """With now_ms, an expired record counts as absent, yet it is removed."""
    put(shard, "default", b"k", b"v", expires_at=1000)
    assert write(shard, lambda txn: txn.delete("default", b"k", now_ms=2000)) is False
    with shard.read() as txn:
        assert txn.count("default") == 0


def test_set_expiry_changes_deadline_and_revision(shard):
    """set_expiry keeps the value, sets the deadline and takes a new revision."""
    before = put(shard, "default", b"k", [1, 2])
    after = write(shard, lambda txn: txn.set_expiry("default", b"k", 9000, now_ms=0))
    assert (after.value, after.expires_at) == ([1, 2], 9000)
    assert after.revision > before.revision
    assert get(shard, "default", b"k") == after


def test_set_expiry_of_missing_or_expired_key_is_none(shard):
    """set_expiry returns None, changing nothing, for a missing key and an expired one."""
    put(shard, "default", b"old", b"v", expires_at=1000)
    outcomes = shard.write_batch([
        lambda txn: txn.set_expiry("default", b"missing", 0, now_ms=0),
        lambda txn: txn.set_expiry("default", b"old", 0, now_ms=1000),
    ])
    assert outcomes == [None, None]
    assert get(shard, "default", b"old", now_ms=999).expires_at == 1000


def test_scan_pages_through_live_keys_in_order(shard):
    """scan returns live keys after the cursor, examining at most limit records per page."""
    for i in range(7):
        put(shard, "default", b"k%d" % i, i, expires_at=500 if i in (2, 3) else 0)
    pages, after = [], None
    while True:
        keys, after = _scan(shard, after, limit=3, now_ms=1000)
        pages.append(keys)
        if after is None:
            break
    assert pages == [[b"k0", b"k1"], [b"k4", b"k5"], [b"k6"]]


def test_scan_starts_strictly_after_the_given_key(shard):
    """The key passed as after is not returned; a key between entries works too."""
    for key in (b"a", b"b", b"c"):
        put(shard, "default", key, 1)
    assert _scan(shard, b"a", 10, 0) == ([b"b", b"c"], None)
    assert _scan(shard, b"bb", 10, 0) == ([b"c"], None)


def _scan(shard, after, limit, now_ms):
    with shard.read() as txn:
        return txn.scan("default", after, limit, now_ms)


def test_iter_keys_yields_only_live_keys(shard):
    """iter_keys lists every live key in order and skips expired ones."""
    put(shard, "default", b"b", 1)
    put(shard, "default", b"a", 1, expires_at=100)
    put(shard, "default", b"c", 1, expires_at=5000)
    with shard.read() as txn:
        assert list(txn.iter_keys("default", now_ms=1000)) == [b"b", b"c"]


def test_count_expiring_counts_one_namespace(shard):
    """count_expiring counts records with a deadline in that namespace only."""
    put(shard, "a", b"x", 1, expires_at=10)
    put(shard, "a", b"y", 1)
    put(shard, "b", b"x", 1, expires_at=10)
    with shard.read() as txn:
        assert (txn.count_expiring("a"), txn.count_expiring("b"), txn.count_expiring("c")) == (1, 1, 0)


def test_stats_count_entries_per_namespace(shard):
    """stats() reports records per namespace, index entries and pages in use."""
    put(shard, "a", b"x", 1, expires_at=10)
    put(shard, "a", b"y", 1)
    put(shard, "b", b"x", 1)
    stats = shard.stats()
    assert (stats.entries, stats.expiring, stats.map_size) == ({"a": 2, "b": 1}, 1, 8 * 1024**2)
    assert 0 < stats.used_pages <= stats.high_water_pages


def test_too_many_namespaces_is_an_error_for_that_op_only(shard_path):
    """Past max_namespaces, creating one more fails; writes to existing namespaces still work."""
    shard = open_shard(shard_path, max_namespaces=2)
    try:
        outcomes = shard.write_batch([
            lambda txn: txn.put("a", b"k", 1, 0).value,
            lambda txn: txn.put("b", b"k", 2, 0).value,
            lambda txn: txn.put("c", b"k", 3, 0).value,
            lambda txn: txn.put("a", b"j", 4, 0).value,
        ])
        assert outcomes[:2] + outcomes[3:] == [1, 2, 4]
        assert isinstance(outcomes[2], TooManyNamespaces)
    finally:
        shard.close()


def test_namespaces_are_found_again_after_reopen(shard_path):
    """Namespaces created earlier are opened at startup."""
    shard = open_shard(shard_path)
    put(shard, "alpha", b"k", b"v")
    put(shard, "beta", b"k", b"v")
    shard.close()
    shard = open_shard(shard_path)
    try:
        assert shard.namespaces() == {"alpha", "beta"}
        assert get(shard, "beta", b"k").value == b"v"
    finally:
        shard.close()


def test_flipped_byte_on_disk_is_corrupt_and_other_keys_still_read(shard_path):
    """A record damaged on disk raises CorruptRecord naming it; its neighbours read fine."""
    shard = open_shard(shard_path)
    put(shard, "default", b"bad", b"some value")
    put(shard, "default", b"good", b"fine")
    shard.close()

    def flip(txn, db):
        data = bytearray(txn.get(b"bad", db=db))
        data[-1] ^= 0x20
        txn.put(b"bad", bytes(data), db=db)

    raw_update(shard_path, b"ns/default", flip)
    shard = open_shard(shard_path)
    try:
        with pytest.raises(CorruptRecord) as caught:
            get(shard, "default", b"bad")
        assert (caught.value.namespace, caught.value.key) == ("default", b"bad")
        assert get(shard, "default", b"good").value == b"fine"
    finally:
        shard.close()


def test_record_copied_to_another_key_on_disk_is_corrupt(shard_path):
    """A valid record placed under another key fails its CRC there."""
    shard = open_shard(shard_path)
    put(shard, "default", b"source", b"value")
    shard.close()
    raw_update(shard_path, b"ns/default", lambda txn, db: txn.put(b"copy", txn.get(b"source", db=db), db=db))
    shard = open_shard(shard_path)
    try:
        with pytest.raises(CorruptRecord):
            get(shard, "default", b"copy")
        assert get(shard, "default", b"source").value == b"value"
    finally:
        shard.close()


def test_corrupt_record_can_be_overwritten(shard_path):
    """A put over a damaged record replaces it."""
    shard = open_shard(shard_path)
    put(shard, "default", b"k", b"v", expires_at=5000)
    shard.close()
    raw_update(shard_path, b"ns/default", lambda txn, db: txn.put(b"k", b"junk", db=db))
    shard = open_shard(shard_path)
    try:
        put(shard, "default", b"k", b"new")
        assert get(shard, "default", b"k").value == b"new"
    finally:
        shard.close()


TINY_MAP_SIZE = 512 * 1024  # room for some records and their journal entries


def fill(shard, size=2000):
    """Write until the map is full; return the keys written and the StorageFull raised."""
    keys = []
    for i in range(10_000):
        key = b"fill%05d" % i
        (outcome,) = shard.write_batch([lambda txn, key=key: txn.put("default", key, b"x" * size, 0)])
        if isinstance(outcome, StorageFull):
            return keys, outcome
        keys.append(key)
    pytest.fail("the map never filled up")


@pytest.fixture
def tiny_shard(shard_path):
    shard = open_shard(shard_path, map_size=TINY_MAP_SIZE)
    yield shard
    shard.close()


def test_full_map_answers_storage_full_and_reads_still_work(tiny_shard):
    """At the ceiling a put gets StorageFull; every committed record still reads back."""
    keys, full = fill(tiny_shard)
    assert keys
    assert (full.shard, full.map_size) == (0, TINY_MAP_SIZE)
    assert all(get(tiny_shard, "default", key).value == b"x" * 2000 for key in keys)


def test_delete_works_when_the_map_is_full(tiny_shard):
    """With the map full, a delete succeeds, and then there is room for a write again."""
    keys, _full = fill(tiny_shard)
    assert write(tiny_shard, lambda txn: txn.delete("default", keys[0])) is True
    assert put(tiny_shard, "default", b"again", b"x" * 2000).value == b"x" * 2000


def test_full_batch_fails_only_the_ops_that_do_not_fit(tiny_shard):
    """In a batch that overflows the map, the small ops and deletes commit; the big one is StorageFull."""
    put(tiny_shard, "default", b"old", b"v")
    outcomes = tiny_shard.write_batch([
        lambda txn: txn.put("default", b"small", b"s", 0).value,
        lambda txn: txn.put("default", b"huge", b"x" * 2 * TINY_MAP_SIZE, 0),
        lambda txn: txn.delete("default", b"old"),
    ])
    assert outcomes[0] == b"s" and outcomes[2] is True
    assert isinstance(outcomes[1], StorageFull)
    assert (get(tiny_shard, "default", b"small").value, get(tiny_shard, "default", b"huge")) == (b"s", None)


def test_closed_shard_raises_storage_error(shard_path):
    """Using a closed shard raises StorageError, never an lmdb exception."""
    shard = open_shard(shard_path)
    shard.close()
    with pytest.raises(StorageError):
        get(shard, "default", b"k")
    with pytest.raises(StorageError):
        shard.write_batch([lambda txn: None])


def test_lmdb_errors_are_wrapped(shard):
    """An LMDB failure inside an op reaches the caller as StorageError, not lmdb.Error."""
    put(shard, "default", b"k", b"v")
    with shard.read() as txn:
        txn._txn.abort()  # noqa: SLF001 - provoke an LMDB error on a dead transaction
        with pytest.raises(StorageError) as caught:
            txn.get("default", b"k", 0)
    assert not isinstance(caught.value, lmdb.Error)
