"""Listings page by page: SCHEDULED (by deadline) and INFLIGHT (by id), merged across shards.

Each page is one short read per shard, and no read outlives its call: the cursor says where the
next page starts. Both listings read data that holds every namespace together (the expiry index,
the messages in flight), so each shard examines at most ``EXAMINE`` entries a page; a page may
then be short, or empty, with a cursor that goes on, as SCAN's may. Other clients wait at most
one page's reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

from storage.delivery import Delivery

if TYPE_CHECKING:
    from storage import Store
    from storage.records import Record

__all__ = ["EXAMINE", "ScheduledEntry", "in_flight_page", "scheduled_page"]

EXAMINE = 10_000  # entries one shard examines for a page


@frozen
class ScheduledEntry:
    index_key: bytes  # its place in the expiry index: the cursor of the page it ends
    key: bytes
    record: Record


def scheduled_page(store: Store, ns: str, count: int, after: bytes | None) -> tuple[list[ScheduledEntry], bytes | None]:
    """Up to ``count`` keys of ``ns`` with a deadline, earliest first, after the index position
    ``after``; and where the next page starts (None: no more).

    A shard that stops early (``count`` found, or ``EXAMINE`` examined) bounds the page: only what
    every shard has read up to there is answered, and the next page starts there.
    """
    found: list[ScheduledEntry] = []
    bound: bytes | None = None  # the least position a shard stopped at
    for shard in store.shards:
        with shard.read() as txn:
            mine, examined, last = 0, 0, None
            entries = txn.index_entries(after)
            try:
                for index_key, (deadline, namespace, key) in entries:
                    examined += 1
                    last = index_key
                    if namespace == ns:
                        record = txn.get(ns, key, 0)
                        if record is not None and record.expires_at == deadline:  # else a stale entry
                            found.append(ScheduledEntry(index_key, key, record))
                            mine += 1
                    if mine == count or examined == EXAMINE:
                        bound = last if bound is None else min(bound, last)
                        break
            finally:
                entries.close()  # the cursor, before the read ends
    found.sort(key=lambda entry: entry.index_key)
    if bound is not None:
        found = [entry for entry in found if entry.index_key <= bound]
    page = found[:count]
    if len(page) == count:
        return page, page[-1].index_key
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
