"""The journal trimmer: keeps each shard's journal within its configured bounds.

The journal is the shard's write-ahead log (``storage.wal``), so trimming deletes whole old log
segments (``ShardLog.trim``): never the newest, and never one holding a record after the shard's
last checkpoint (startup replays from there). Bounds are therefore kept to within one segment
(``storage.wal.SEGMENT_BYTES``, 16 MiB): the oldest segment goes only when the segments after it
still reach ``max_entries`` or ``max_bytes`` on their own, or when all of its entries are older
than ``max_age``. So the journal holds at most one segment more than a bound allows, and never
less than the bound because of trimming.

Deleting files needs no write transaction: each shard's pass runs on a worker thread, beside its
writer. A pass with nothing to delete writes nothing, so an idle server does not touch the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

import trio
from attrs import define, evolve, field, frozen

from mi.settings.config import JournalConfig
from mi.observability.logs import get_logger
from mi.core.state import wall_clock_ms
from mi.core.writer import ShardWriter
from storage import Shard, StorageError
from storage.log_format import LogDamaged
from storage.wal import Segment, read_records

__all__ = ["JournalTrimmer", "RetentionBounds", "first_record_ms", "segments_to_trim"]

log = get_logger("mi.trimmer")


@frozen
class RetentionBounds:
    max_entries: int
    max_bytes: int
    cutoff_ms: int  # entries older than this (Unix ms) are past max_age


@define(eq=False)
class JournalTrimmer:
    writers: Sequence[ShardWriter]
    config: JournalConfig
    trimmed: int = 0  # segments deleted so far
    # A segment's first record never changes once written: its timestamp is read once.
    _first_ms: dict[int, dict[Path, int]] = field(factory=dict)  # shard -> segment -> ms

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.trim()
            await trio.sleep(self.config.trim_interval)

    async def trim(self, now_ms: int | None = None) -> int:
        """One pass over every shard; how many segments went. ``now_ms``: the time for max_age."""
        config = self.config
        # Journal timestamps are wall-clock time, written by the shards.
        now_ms = wall_clock_ms() if now_ms is None else now_ms
        bounds = RetentionBounds(config.max_entries, config.max_bytes, now_ms - int(config.max_age * 1000))
        total = 0
        for writer in self.writers:
            shard = writer.shard
            try:
                removed = await trio.to_thread.run_sync(self._trim_shard, shard, bounds)
            except (OSError, LogDamaged, StorageError) as error:
                log.error("journal.trim_failed", shard=shard.index, error=str(error))
                continue
            if removed:
                log.debug("journal.trimmed", shard=shard.index, segments=removed)
            total += removed
        self.trimmed += total
        return total

    def _trim_shard(self, shard: Shard, bounds: RetentionBounds) -> int:
        """Delete the segments of ``shard`` that the bounds let go (on a worker thread).

        The log counts against the shard's share of ``max_db_size``: its bytes bound is at most
        what the shard's data leaves of that share.
        """
        stats = shard.stats()
        room = max(0, stats.map_size - stats.used_pages * stats.page_size)
        bounds = evolve(bounds, max_bytes=min(bounds.max_bytes, room))
        shard_log = shard.log
        seen = self._first_ms.setdefault(shard.index, {})

        def first_ms(segment: Segment) -> int | None:
            if segment.path not in seen:
                found = first_record_ms(segment)
                if found is None:
                    return None  # no record yet: ask again next pass
                seen[segment.path] = found
            return seen[segment.path]

        doomed = segments_to_trim(shard_log.segments, shard.journal_last, bounds, first_ms)
        doomed_paths = {segment.path for segment in doomed}
        removed = 0
        if doomed:
            # The log itself keeps every segment the checkpoint does not cover yet.
            keep_from = shard.checkpoint_lsn + 1
            removed = shard_log.trim(keep_from, lambda oldest, _following: oldest.path not in doomed_paths)
        for path in set(seen).difference(segment.path for segment in shard_log.segments):
            del seen[path]
        return removed


def segments_to_trim(
    segments: Sequence[Segment],
    journal_last: int,
    bounds: RetentionBounds,
    first_ms: Callable[[Segment], int | None],
) -> list[Segment]:
    """The oldest segments the bounds let go, oldest first; never the newest.

    A segment may go when the segments after it still hold ``max_entries`` entries or
    ``max_bytes`` bytes, or when the record after it (``first_ms`` of the next segment, None if
    it has none) is older than the cutoff, so every entry of the segment is older still.
    ``journal_last``: the newest entry's sequence number.
    """
    sizes = [_size(segment.path) for segment in segments]
    rest_bytes = sum(sizes)
    doomed = []
    for index in range(len(segments) - 1):
        following = segments[index + 1]
        rest_bytes -= sizes[index]
        rest_entries = journal_last - following.first_seq + 1
        if rest_entries < bounds.max_entries and rest_bytes < bounds.max_bytes:
            newest_ms = first_ms(following)  # at least as new as this segment's newest entry
            if newest_ms is None or newest_ms >= bounds.cutoff_ms:
                break
        doomed.append(segments[index])
    return doomed


def first_record_ms(segment: Segment) -> int | None:
    """The timestamp of the segment's first record; None if it has none yet."""
    with closing(read_records([segment])) as records:
        for record in records:
            return record.timestamp_ms
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # trimmed meanwhile
        return 0
