"""Queue counts kept by the commits (storage.queue_counts) agree with a count of what is on disk,
and a transaction that does not commit changes none of them."""

from __future__ import annotations

import random

import pytest
from shard_helpers import open_shard, write

from storage import Shard
from storage.queue_counts import COUNTERS, FIELDS, GAUGES, QueueCounts

DELIVERS = {"jobs"}.__contains__
LEASE = 1000


def kept(shard: Shard) -> dict[str, list[int]]:
    """The gauges the shard keeps, without the namespaces at zero."""
    rows = shard.queue_counts.snapshot()
    return {ns: row[: len(GAUGES)] for ns, row in rows.items() if any(row[: len(GAUGES)])}


def counted(shard: Shard) -> dict[str, list[int]]:
    """The gauges counted afresh from the databases."""
    with shard.read() as txn:
        raw, dbs = txn._txn, shard._delivery_dbs  # noqa: SLF001 - the count the shard makes at open
        counts = QueueCounts.count(raw, shard._expiry_db, dbs.due, dbs.inflight, shard._meta_db)  # noqa: SLF001
    return {ns: row[: len(GAUGES)] for ns, row in counts.snapshot().items() if any(row[: len(GAUGES)])}


def test_every_move_keeps_the_counts_equal_to_a_fresh_count(shard):
    """Puts with and without TTLs, deletes, reaps, takes, acks, waits, requeues, dead letters and
    kicks, in a random order: after each commit the counts are what a scan finds."""
    rng = random.Random(20)
    now = 1_000

    def step(txn) -> None:
        choice = rng.randrange(9)
        key = b"k%d" % rng.randrange(30)
        if choice == 0:
            txn.put(rng.choice(["jobs", "cache"]), key, b"v", rng.choice([0, now + rng.randrange(1, 50)]))
        elif choice == 1:
            txn.delete(rng.choice(["jobs", "cache"]), key)
        elif choice == 2:
            txn.reap_due(now, 10, DELIVERS)
        elif choice == 3:
            txn.delivery.take("jobs", now, LEASE, rng.randrange(1, 4))
        elif choice == 4:
            txn.delivery.cancel("jobs", key, now)
        elif choice in (5, 6):
            for delivery in txn.delivery.expired_leases(now, 5):
                if choice == 5:
                    txn.delivery.wait(delivery, now + 5, "again")
                elif delivery.attempts > 2:
                    record = txn.put("dead", delivery.key, delivery.record.value, 0)
                    txn.delivery.bury(delivery, "dead", record.revision, now, "too many")
                else:
                    txn.delivery.requeue(delivery)
        elif choice == 7:
            for dead in list(txn.delivery.dead_letters("jobs"))[:1]:
                txn.delivery.forget_dead("jobs", dead.id)
                txn.delivery.reschedule("jobs", dead.key, txn.get("dead", dead.key, now), now)
        else:
            txn.set_expiry("jobs", key, rng.choice([0, now + 10]), now_ms=now)

    seen = [0] * len(GAUGES)
    for _ in range(400):
        now += rng.randrange(0, 400)
        write(shard, step)
        assert kept(shard) == counted(shard)
        for row in kept(shard).values():
            seen = [max(a, b) for a, b in zip(seen, row, strict=True)]
    assert all(seen), f"every gauge moved in the run: {seen}"
    assert shard.queue_counts.snapshot()["jobs"][FIELDS.index("kicked")] > 0


def test_an_op_that_fails_after_writing_changes_no_count(shard):
    """The batch is run again without it: only the other op's messages count."""

    def fails(txn):
        txn.put("jobs", b"a", b"v", 5_000)
        raise ValueError("after writing")

    outcomes = shard.write_batch([fails, lambda txn: txn.put("jobs", b"b", b"v", 5_000)])
    assert isinstance(outcomes[0], ValueError)
    assert kept(shard) == {"jobs": [1, 0, 0, 0]}


def test_counts_are_counted_again_at_open_and_counters_start_from_zero(shard_path):
    shard = open_shard(shard_path)
    write(shard, lambda txn: [txn.put("jobs", b"k%d" % i, b"v", 100 + i) for i in range(5)])
    write(shard, lambda txn: txn.reap_due(102, 10, DELIVERS))
    write(shard, lambda txn: txn.delivery.take("jobs", 102, LEASE, 1))
    before = shard.queue_counts.snapshot()["jobs"]
    assert before[: len(GAUGES)] == [2, 2, 1, 0] and before[FIELDS.index("delivered")] == 1
    shard.close()
    shard = open_shard(shard_path)
    after = shard.queue_counts.snapshot()["jobs"]
    assert after == [2, 2, 1, 0] + [0] * len(COUNTERS)
    shard.close()


def test_a_damaged_entry_in_flight_set_aside_leaves_the_counts_right(shard):
    write(shard, lambda txn: txn.put("jobs", b"a", b"v", 100))
    write(shard, lambda txn: txn.reap_due(100, 10, DELIVERS))
    write(shard, lambda txn: txn.delivery.take("jobs", 100, LEASE, 1))
    assert kept(shard) == {"jobs": [0, 0, 1, 0]}
    assert write(shard, lambda txn: txn.delivery.set_aside_lease(100 + LEASE, "a test"))
    assert kept(shard) == {} == counted(shard)


@pytest.mark.parametrize("priorities", [[5], [0, 7, 3], [2**32 - 1, 0]])
def test_the_oldest_due_message_is_the_earliest_of_every_priority(shard, priorities):
    """The queue is in priority order: the oldest due message need not be the first."""
    deadlines = {priority: 1_000 - 10 * index for index, priority in enumerate(priorities)}
    for priority, deadline in deadlines.items():
        write(shard, lambda txn, p=priority, d=deadline: txn.put("jobs", b"p%d" % p, b"v", d, priority=p))
    write(shard, lambda txn: txn.reap_due(1_000, 10, DELIVERS))
    assert shard.oldest_due("jobs") == min(deadlines.values())
    assert shard.oldest_due("other") is None
