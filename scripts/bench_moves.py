"""What one delivered message costs the storage, in CPU µs: the reaper's move into the due queue,
TAKE's move into flight, and ACK, each in synced commits of 100 as the server batches them.

Run through ``scripts/bench-moves [--messages N] [--rounds R]``. Storage
alone (no network, no Trio): the floor under ``scripts/bench-delay``'s delivery rate. Prints each
round and the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from storage import Store

NS = "bench"
BATCH = 100


def one_round(messages: int) -> tuple[float, float, float]:
    """CPU µs per message of reaping, taking and acknowledging ``messages`` overdue messages."""
    with tempfile.TemporaryDirectory(prefix="mi-bench-moves-") as data_dir:
        store = Store.open(data_dir, durable=True)
        shard = store.shards[0]
        now = time.time_ns() // 1_000_000
        for start in range(0, messages, 1000):

            def schedule(txn, start=start):
                for i in range(start, min(start + 1000, messages)):
                    txn.put(NS, b"m%d" % i, b"x", now - 10_000 + i % 1000)

            shard.write_batch([schedule])
        started = time.process_time()
        while len(shard.write_batch([lambda txn: txn.reap_due(now, BATCH, lambda ns: True)])[0]) == BATCH:
            pass
        reaped = time.process_time()
        batches = []
        while taken := shard.write_batch([lambda txn: txn.delivery.take(NS, now, 600_000, BATCH, "bench")])[0]:
            batches.append([delivery.id for delivery in taken])
        took = time.process_time()
        for ids in batches:
            shard.write_batch([lambda txn, ids=ids: [txn.delivery.ack(NS, i) for i in ids]])
        acked = time.process_time()
        store.close()
    per = 1e6 / messages
    return (reaped - started) * per, (took - reaped) * per, (acked - took) * per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    for number in range(1, args.rounds + 1):
        reap, take, ack = one_round(args.messages)
        rounds.append((reap, take, ack))
        print(f"round {number}: reap {reap:5.1f}  take {take:5.1f}  ack {ack:5.1f}  total {reap + take + ack:6.1f} µs/message")
    reap, take, ack = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(f"median:  reap {reap:5.1f}  take {take:5.1f}  ack {ack:5.1f}  total {reap + take + ack:6.1f} µs/message"
          f" ({args.messages:,} messages, commits of {BATCH})")


if __name__ == "__main__":
    main()
