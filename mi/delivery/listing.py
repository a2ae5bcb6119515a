"""Listings page by page: SCHEDULED (by deadline) and INFLIGHT (by id), merged across shards.

Each page is one short read per shard, and no read outlives its call: the cursor says where the
next page starts. Both listings read data that holds every namespace together (the expiry index,
the messages in flight), so each shard examines at most ``EXAMINE`` entries a page; a page may
then be short, or empty, with a cursor that goes on, as SCAN's may. Other clients wait at most
one slice of a page's reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from attrs import frozen

from storage.delivery import Delivery

if TYPE_CHECKING:
    from storage import Store
    from storage.records import Record

__all__ = ["EXAMINE", "SLICE", "ScheduledEntry", "in_flight_page", "scheduled_page"]

EXAMINE = 10_000  # entries one shard examines for a page
SLICE = 250  # entries read between two looks at the event loop (about a millisecond)


@frozen
class ScheduledEntry:
    index_key: bytes  # its place in the expiry index: the cursor of the page it ends
    key: bytes
    record: Record


async def scheduled_page(
    store: Store, ns: str, count: int, after: bytes | None
) -> tuple[list[ScheduledEntry], bytes | None]:
    """Up to ``count`` keys of ``ns`` with a deadline, earliest first, after the index position
    ``after``; and where the next page starts (None: no more).

    First each shard's index is read for the page's candidates (cheap: the index key says the
    namespace, key and deadline), then only the records the page keeps are read. A shard that
    stops early (``count`` found, or ``EXAMINE`` examined) bounds the page: only what every shard
    has read up to there is answered, and the next page starts there. The work goes in slices of
    ``SLICE`` entries, each its own short read, with the event loop let go between them, so other
    clients wait a slice at most, not a page.
    """
    candidates: list[tuple[bytes, int, bytes, int]] = []  # (index key, deadline, key, shard)
    bound: bytes | None = None  # the least position a shard stopped at
    for shard in store.shards:
        mine, examined, position, done = 0, 0, after, False
        while not done:
            await trio.sleep(0)
            with shard.read() as txn:
                entries = txn.index_entries(position)
                try:
                    for sliced, (index_key, (deadline, namespace, key)) in enumerate(entries, 1):
                        examined += 1
                        position = index_key
                        if namespace == ns:
                            candidates.append((index_key, deadline, key, shard.index))
                            mine += 1
                        if mine == count or examined == EXAMINE:
                            bound = index_key if bound is None else min(bound, index_key)
                            done = True
                            break
                        if sliced == SLICE:
                            break
                    else:
                        done = True  # the index's end
                finally:
                    entries.close()  # the cursor, before the read ends
    candidates.sort()
    if bound is not None:
        candidates = [candidate for candidate in candidates if candidate[0] <= bound]
    chosen = candidates[:count]
    page: list[ScheduledEntry] = []
    for start in range(0, len(chosen), SLICE):
        await trio.sleep(0)
        sliced = chosen[start : start + SLICE]
        records = {}
        for index in {candidate[3] for candidate in sliced}:  # one read per shard a slice
            with store.shards[index].read() as txn:
                records.update((c[0], txn.get(ns, c[2], 0)) for c in sliced if c[3] == index)
        for index_key, deadline, key, _index in sliced:
            record = records[index_key]
            if record is not None and record.expires_at == deadline:  # else a stale entry: left out
                page.append(ScheduledEntry(index_key, key, record))
    if len(chosen) == count:
        return page, chosen[-1][0]
    return page, bound


def in_flight_page(
    store: Store, ns: str, count: int, after: tuple[int, int] | None
) -> tuple[list[tuple[int, Delivery]], tuple[int, int] | None]:
    """Up to ``count`` messages of ``ns`` in flight (waiting for a retry included), by shard then
    id, after the id ``after``; and the id the next page starts after (None: no more)."""
    first_shard, last_id = after if after is not None else (0, -1)
    page: list[tuple[int, Delivery]] = []
    for shard in store.shards[first_shard:]:
        start = last_id if shard.index == first_shard else -1
        with shard.read() as txn:
            deliveries, stopped_at = txn.delivery.in_flight(ns, start, count - len(page), EXAMINE)
        page += [(shard.index, delivery) for delivery in deliveries]
        if stopped_at is not None:  # COUNT found, or EXAMINE examined: go on from there
            return page, (shard.index, stopped_at)
    return page, None
