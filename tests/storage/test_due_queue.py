"""The due queue and deliveries in flight: moved by the reaper, taken, acknowledged, given back."""

from __future__ import annotations

from pathlib import Path

import pytest
from shard_helpers import open_shard, write

from storage import Shard
from storage.delivery import DEFAULT_PRIORITY

DELIVERS = {"jobs"}.__contains__
LEASE = 30_000


def put(shard: Shard, key: bytes, value: bytes, deadline: int, priority: int | None = None, ns: str = "jobs") -> None:
    write(shard, lambda txn: txn.put(ns, key, value, deadline, priority=priority))


def reap(shard: Shard, now: int) -> list:
    return write(shard, lambda txn: txn.reap_due(now, 100, DELIVERS))


def take(shard: Shard, now: int, limit: int = 10, ns: str = "jobs") -> list:
    return write(shard, lambda txn: txn.delivery.take(ns, now, LEASE, limit))


def counts(shard: Shard, ns: str = "jobs") -> tuple:
    with shard.read() as txn:
        return txn.delivery.counts(ns)


def test_the_reaper_moves_a_due_message_to_the_queue_with_its_value(shard):
    put(shard, b"a", b"hello", 1000)
    assert counts(shard) == (0, 0, None)
    assert reap(shard, 999) == []
    assert reap(shard, 1000) == [("jobs", b"a")]
    with shard.read() as txn:
        assert txn.get("jobs", b"a", 0) is None, "it left the namespace"
    assert counts(shard) == (1, 0, 1000)
    (delivery,) = take(shard, now=1500)
    assert (delivery.key, delivery.record.value, delivery.attempts) == (b"a", b"hello", 1)
    assert (delivery.record.expires_at, delivery.priority, delivery.lease_until) == (1000, DEFAULT_PRIORITY, 1500 + LEASE)
    assert counts(shard) == (0, 1, None)
    assert take(shard, now=1500) == [], "handed out once"


def test_a_namespace_that_does_not_deliver_just_loses_its_expired_messages(shard):
    put(shard, b"a", b"x", 1000, ns="cache")
    assert reap(shard, 2000) == [("cache", b"a")]
    assert counts(shard, "cache") == (0, 0, None)


def test_priority_first_then_deadline(shard):
    put(shard, b"late-urgent", b"1", 3000, priority=0)
    put(shard, b"early", b"2", 1000)
    put(shard, b"later", b"3", 2000)
    put(shard, b"early-lazy", b"4", 500, priority=5000)
    reap(shard, 5000)
    with shard.read() as txn:
        assert txn.delivery.peek("jobs", 2) == [(0, 3000), (DEFAULT_PRIORITY, 1000)]
    order = [d.key for d in take(shard, now=5000)]
    assert order == [b"late-urgent", b"early", b"later", b"early-lazy"]


def test_ack_removes_and_only_once(shard):
    put(shard, b"a", b"x", 1000)
    reap(shard, 1000)
    (delivery,) = take(shard, 1000)
    assert write(shard, lambda txn: txn.delivery.ack("jobs", delivery.id)) is True
    assert write(shard, lambda txn: txn.delivery.ack("jobs", delivery.id)) is False
    assert write(shard, lambda txn: txn.delivery.ack("other", delivery.id + 1)) is False
    assert counts(shard) == (0, 0, None)


def test_an_ack_names_the_namespace_of_the_delivery(shard):
    put(shard, b"a", b"x", 1000)
    reap(shard, 1000)
    (delivery,) = take(shard, 1000)
    assert write(shard, lambda txn: txn.delivery.ack("other", delivery.id)) is False
    assert counts(shard) == (0, 1, None)


def test_given_back_it_is_due_again_with_its_attempts_counted(shard):
    put(shard, b"a", b"x", 1000)
    reap(shard, 1000)
    (first,) = take(shard, 1000)

    def nack(txn):
        delivery = txn.delivery.give_back("jobs", first.id)
        txn.delivery.requeue(delivery)

    write(shard, nack)
    (second,) = take(shard, 2000)
    assert second.attempts == 2 and second.id == first.id and second.record.value == b"x", "the same message, its id kept"


def test_a_lease_that_runs_out_returns_the_message(shard):
    put(shard, b"a", b"x", 1000)
    reap(shard, 1000)
    (first,) = take(shard, 1000)
    with shard.read() as txn:
        assert txn.delivery.next_lease_expiry() == 1000 + LEASE
    assert write(shard, lambda txn: txn.delivery.expired_leases(1000 + LEASE - 1, 10)) == []
    (expired,) = write(shard, lambda txn: txn.delivery.expired_leases(1000 + LEASE, 10))
    assert expired.id == first.id
    with shard.read() as txn:
        assert txn.delivery.next_lease_expiry() is None


def test_extend_moves_the_lease(shard):
    put(shard, b"a", b"x", 1000)
    reap(shard, 1000)
    (first,) = take(shard, 1000)
    write(shard, lambda txn: txn.delivery.extend("jobs", first.id, 99_000))
    with shard.read() as txn:
        assert txn.delivery.next_lease_expiry() == 99_000
    assert write(shard, lambda txn: txn.delivery.expired_leases(98_999, 10)) == []


def test_queue_and_flight_survive_a_reopen(shard_path: Path):
    shard = open_shard(shard_path)
    for key in (b"a", b"b"):
        put(shard, key, b"v-" + key, 1000)
    reap(shard, 1000)
    (taken,) = take(shard, 1000, limit=1)
    shard.close()
    shard = open_shard(shard_path)
    try:
        assert counts(shard) == (1, 1, 1000)
        assert write(shard, lambda txn: txn.delivery.ack("jobs", taken.id)) is True
        (rest,) = take(shard, 2000)
        assert rest.key == b"b" and rest.id > taken.id, "delivery ids are never reused"
    finally:
        shard.close()


def test_a_scheduled_message_updated_or_deleted_before_its_deadline(shard):
    put(shard, b"a", b"old", 1000)
    put(shard, b"a", b"new", 3000)  # rescheduled
    put(shard, b"b", b"x", 1000)
    write(shard, lambda txn: txn.delete("jobs", b"b"))  # cancelled
    assert reap(shard, 2000) == []
    reap(shard, 3000)
    (delivery,) = take(shard, 3000)
    assert (delivery.key, delivery.record.value) == (b"a", b"new")


def test_priority_is_kept_by_in_place_changes(shard):
    put(shard, b"a", b"x", 5000, priority=7)
    write(shard, lambda txn: txn.put("jobs", b"a", b"y", 6000))  # KEEP by default
    with shard.read() as txn:
        assert txn.get("jobs", b"a", 0).priority == 7
    write(shard, lambda txn: txn.put("jobs", b"a", b"z", 6000, priority=None))
    with shard.read() as txn:
        assert txn.get("jobs", b"a", 0).priority is None


@pytest.mark.parametrize("priority", [-1, 2**32])
def test_a_priority_out_of_range_is_refused(shard, priority):
    with pytest.raises(ValueError, match="priority"):
        put(shard, b"a", b"x", 1000, priority=priority)


def test_two_messages_of_a_key_due_at_the_same_moment_are_both_delivered(shard):
    put(shard, b"a", b"first", 1000)
    reap(shard, 1000)
    put(shard, b"a", b"second", 1000)  # written again, due at the same millisecond and priority
    reap(shard, 1000)
    assert counts(shard)[0] == 2
    first, second = take(shard, now=1500)
    assert (first.record.value, second.record.value) == (b"first", b"second")
    assert (first.due_at, second.due_at) == (1000, 1001), "the second waits a millisecond behind the first"
    assert first.id != second.id


def test_del_cancels_both_messages_of_a_key_due_at_the_same_moment(shard):
    for value in (b"first", b"second"):
        put(shard, b"a", value, 1000)
        reap(shard, 1000)
    cancelled = write(shard, lambda txn: txn.delivery.cancel("jobs", b"a", 1500))
    assert sorted(record.value for record in cancelled) == [b"first", b"second"]
    assert counts(shard) == (0, 0, None)
