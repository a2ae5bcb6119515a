"""Transactions across shards: all or nothing, intents, and their redo after a crash."""

from __future__ import annotations

import pytest
from shard_helpers import get, put

from storage import Store
from storage.changes import Change, ChangeOp, IntentDamaged, decode_intent, encode_intent
from storage.errors import DataDirError
from storage.multishard import recover_intents, run_across, run_batch_across


class Boom(Exception):
    pass


def _open(tmp_path, shards=2) -> Store:
    return Store.open(tmp_path / "data", shards=shards, max_db_size=32 * 1024**2)


def test_body_that_raises_leaves_every_shard_unchanged(tmp_path):
    """A failure after writing to two shards writes nothing anywhere."""
    with _open(tmp_path) as store:
        put(store.shards[0], "ns", b"a", b"old")

        def body(txns):
            txns[0].put("ns", b"a", b"new", 0)
            txns[1].put("ns", b"b", b"new", 0)
            raise Boom

        with pytest.raises(Boom):
            run_across(store.shards, body)
        assert get(store.shards[0], "ns", b"a").value == b"old"
        assert get(store.shards[1], "ns", b"b") is None


def test_changes_on_two_shards_all_commit_and_leave_no_intent(tmp_path):
    """Both shards hold their writes afterwards, and the intent is gone."""
    with _open(tmp_path) as store:
        result = run_across(
            store.shards,
            lambda txns: [txns[0].put("ns", b"a", 1, 0), txns[1].put("ns", b"b", 2, 0)] and "done",
        )
        assert result == "done"
        assert get(store.shards[0], "ns", b"a").value == 1
        assert get(store.shards[1], "ns", b"b").value == 2
        assert store.shards[0].intents() == []


def test_window_closes_around_the_commits_of_a_multi_shard_change(tmp_path):
    """Readers are held back only while shards can disagree."""
    events = []

    class Window:
        def close(self):
            events.append("close")

        def open(self):
            events.append("open")

    with _open(tmp_path) as store:
        run_across(store.shards, lambda txns: txns[0].put("ns", b"a", 1, 0), Window())
        assert events == []  # one shard changed: one atomic commit, nothing to hold back
        run_across(
            store.shards,
            lambda txns: (txns[0].put("ns", b"a", 2, 0), txns[1].put("ns", b"b", 2, 0)),
            Window(),
        )
        assert events == ["close", "open"]


def test_intent_left_by_a_crash_is_redone_on_the_other_shards(tmp_path):
    """The coordinator committed with its intent, the other shard did not: reopening redoes it."""
    with _open(tmp_path) as store:
        # What the crashed transaction would have committed on shard 1, built on shard 1 itself.
        txn = store.shards[1].begin()
        txn.ops.put("ns", b"b", b"moved", 0)
        changes = list(txn.state.log)
        txn.abort()
        coordinator = store.shards[0].begin()
        coordinator.ops.put("ns", b"a", b"moved", 0)
        coordinator.put_intent(encode_intent((1, change) for change in changes))
        coordinator.commit()
        assert get(store.shards[1], "ns", b"b") is None
    with _open(tmp_path) as store:
        assert store.recovered_intents == 1
        assert get(store.shards[0], "ns", b"a").value == b"moved"
        assert get(store.shards[1], "ns", b"b").value == b"moved"
        assert store.shards[0].intents() == []


def test_redo_twice_writes_the_same_state(tmp_path):
    """Redo is idempotent: a crash during recovery is recovered the same way."""
    with _open(tmp_path) as store:
        put(store.shards[1], "ns", b"gone", b"x", 5_000)
        txn = store.shards[1].begin()
        txn.ops.put("ns", b"b", b"v", 9_000)
        txn.ops.delete("ns", b"gone")
        changes = list(txn.state.log)
        txn.abort()
        for _ in range(2):
            store.shards[1].redo(changes)
        record = get(store.shards[1], "ns", b"b")
        assert (record.value, record.expires_at) == (b"v", 9_000)
        assert get(store.shards[1], "ns", b"gone") is None
        with store.shards[1].read() as read:
            assert [key for _deadline, _ns, key in read.deadlines()] == [b"b"]


def test_drop_namespace_empties_records_and_their_deadlines(tmp_path):
    """FLUSHNS's storage step: the namespace is empty and the index holds no entry for it."""
    with _open(tmp_path, shards=1) as store:
        shard = store.shards[0]
        put(shard, "ns", b"a", b"1", 5_000)
        put(shard, "ns", b"b", b"2")
        put(shard, "other", b"c", b"3", 6_000)
        txn = shard.begin()
        assert txn.ops.drop_namespace("ns") == 2
        txn.commit()
        with shard.read() as read:
            assert read.count("ns") == 0
            assert [ns for _deadline, ns, _key in read.deadlines()] == ["other"]


def test_intent_round_trips_and_detects_damage():
    """Every change survives encoding; a flipped byte is refused."""
    changes = [
        (0, Change(ChangeOp.PUT, "ns", b"k", b"record")),
        (3, Change(ChangeOp.DELETE, "ns", b"k2")),
        (1, Change(ChangeOp.DROP, "other")),
    ]
    blob = encode_intent(changes)
    assert decode_intent(blob) == changes
    damaged = bytearray(blob)
    damaged[-1] ^= 1
    with pytest.raises(IntentDamaged):
        decode_intent(bytes(damaged))


def test_damaged_intent_stops_the_store_from_opening(tmp_path):
    """Recovery never guesses: a damaged intent is a data dir error naming the shard."""
    with _open(tmp_path) as store:
        txn = store.shards[0].begin()
        txn.put_intent(b"\0\0\0\0garbage")
        txn.commit()
        with pytest.raises(DataDirError, match="shard 0"):
            recover_intents(store.shards)


def _journal(shard):
    return [(entry.label, [change.key for change in entry.changes]) for entry in shard.journal(0)]


def test_a_batch_commits_every_body_once_with_an_entry_each(tmp_path):
    """Group commit across shards: each body's results, its own journal entries, one commit."""
    with _open(tmp_path) as store:
        bodies = [
            lambda txns: (txns[0].put("ns", b"a", 1, 0), txns[1].put("ns", b"b", 1, 0)) and "first",
            lambda txns: txns[1].put("ns", b"c", 2, 0) and "second",
            lambda txns: (txns[0].put("ns", b"a", 3, 0), txns[1].put("ns", b"b", 3, 0)) and "third",
        ]
        assert run_batch_across(store.shards, bodies, labels=["EXEC", "SET", "MSET"]) == ["first", "second", "third"]
        assert (get(store.shards[0], "ns", b"a").value, get(store.shards[1], "ns", b"b").value) == (3, 3)
        assert _journal(store.shards[0]) == [("EXEC", [b"a"]), ("MSET", [b"a"])]
        assert _journal(store.shards[1]) == [("EXEC", [b"b"]), ("SET", [b"c"]), ("MSET", [b"b"])]
        assert store.shards[0].intents() == []


def test_a_body_that_fails_after_writing_is_rolled_back_alone(tmp_path):
    """The others commit as if it had never run; its error is its outcome."""
    with _open(tmp_path) as store:
        put(store.shards[0], "ns", b"a", b"old")

        def failing(txns):
            txns[0].put("ns", b"a", b"lost", 0)
            txns[1].put("ns", b"lost", b"lost", 0)
            raise Boom

        bodies = [
            lambda txns: txns[1].put("ns", b"b", b"kept", 0) and "before",
            failing,
            lambda txns: (txns[0].get("ns", b"a", 0).value, txns[1].put("ns", b"c", b"kept", 0))[0],
        ]
        before, error, seen = run_batch_across(store.shards, bodies)
        assert before == "before" and isinstance(error, Boom)
        assert seen == b"old", "the body after it never saw the failed body's write"
        assert get(store.shards[0], "ns", b"a").value == b"old"
        assert get(store.shards[1], "ns", b"lost") is None
        assert (get(store.shards[1], "ns", b"b").value, get(store.shards[1], "ns", b"c").value) == (b"kept", b"kept")
        assert [label for label, _keys in _journal(store.shards[1])] == ["write", "write"]


def test_run_across_raises_what_its_body_raised(tmp_path):
    """The one-body form keeps its contract: the exception, not an outcome."""
    with _open(tmp_path) as store, pytest.raises(Boom):
        run_across(store.shards, lambda txns: (_ for _ in ()).throw(Boom()))


@pytest.mark.xfail(
    strict=True,
    reason="known gap (issue 20 note): an intent carries only record changes, so a redo misses what the "
    "crashed transaction did to the other shards' delivery databases (here a DEL's cancel of a due message)",
)
def test_an_intent_redoes_a_cancel_of_a_due_message_on_another_shard(tmp_path):
    """A cross-shard DEL that cancelled a due message on shard 1 crashed after the coordinator's
    commit: after the redo the message must stay cancelled, never delivered."""
    with _open(tmp_path) as store:
        shard = store.shards[1]
        txn = shard.begin()
        txn.ops.put("jobs", b"b", b"job", 1000)
        txn.commit()
        txn = shard.begin()
        assert txn.ops.reap_due(1000, 100, {"jobs"}.__contains__) == [("jobs", b"b")]  # due now
        txn.commit()
        txn = shard.begin()  # what the crashed DEL would have committed on shard 1
        assert txn.ops.delivery.cancel("jobs", b"b", 2000)
        changes = list(txn.state.log)
        txn.abort()
        coordinator = store.shards[0].begin()
        coordinator.ops.put("jobs", b"a", b"gone", 0)
        coordinator.put_intent(encode_intent((1, change) for change in changes))
        coordinator.commit()
    with _open(tmp_path) as store:
        assert store.recovered_intents == 1
        with store.shards[1].read() as read:
            assert read.delivery.counts("jobs")[0] == 0, "the cancelled message is still due"
