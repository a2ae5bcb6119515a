"""storage.due_keys: a key's due messages found without scanning the queue (DEL takes them back)."""

from __future__ import annotations

from shard_helpers import write

from storage import Shard

DELIVERS = {"jobs"}.__contains__
LEASE = 30_000


def put(shard: Shard, key: bytes, value: bytes, deadline: int, priority: int | None = None) -> None:
    write(shard, lambda txn: txn.put("jobs", key, value, deadline, priority=priority))


def reap(shard: Shard, now: int) -> None:
    write(shard, lambda txn: txn.reap_due(now, 100, DELIVERS))


def cancel(shard: Shard, key: bytes, now: int = 5000) -> list:
    return [record.value for record in write(shard, lambda txn: txn.delivery.cancel("jobs", key, now))]


def due(shard: Shard) -> int:
    with shard.read() as txn:
        return txn.delivery.counts("jobs")[0]


def test_cancel_takes_a_due_message_out_of_the_queue(shard):
    """The due message of a key comes back once, with its value; others stay."""
    put(shard, b"a", b"first", 1000)
    put(shard, b"ab", b"other", 1000, priority=3)
    reap(shard, 1000)
    assert cancel(shard, b"a") == [b"first"]
    assert cancel(shard, b"a") == [], "once"
    assert due(shard) == 1 and cancel(shard, b"ab") == [b"other"]


def test_a_taken_message_is_not_cancelled(shard):
    """Once taken (in flight) a message is ACK's and NACK's, not DEL's."""
    put(shard, b"a", b"v", 1000)
    reap(shard, 1000)
    (delivery,) = write(shard, lambda txn: txn.delivery.take("jobs", 2000, LEASE, 10))
    assert cancel(shard, b"a") == []
    assert write(shard, lambda txn: txn.delivery.ack("jobs", delivery.id))


def test_a_message_given_back_can_be_cancelled_again(shard):
    """NACK returns it to the due queue, where its key finds it again."""
    put(shard, b"a", b"v", 1000)
    reap(shard, 1000)
    (delivery,) = write(shard, lambda txn: txn.delivery.take("jobs", 2000, LEASE, 10))
    write(shard, lambda txn: txn.delivery.requeue(txn.delivery.give_back("jobs", delivery.id)))
    assert cancel(shard, b"a") == [b"v"] and due(shard) == 0


def test_every_due_message_of_a_key_is_cancelled(shard):
    """Two due messages of one key (written again after the first fell due) both go."""
    put(shard, b"a", b"one", 1000)
    reap(shard, 1000)
    put(shard, b"a", b"two", 2000)
    reap(shard, 2000)
    assert due(shard) == 2
    assert sorted(cancel(shard, b"a")) == [b"one", b"two"] and due(shard) == 0


def test_flushns_forgets_the_entries_too(shard):
    """After FLUSHNS a key's old due message is gone: nothing to cancel."""
    put(shard, b"a", b"v", 1000)
    reap(shard, 1000)
    write(shard, lambda txn: txn.drop_namespace("jobs"))
    assert cancel(shard, b"a") == []
