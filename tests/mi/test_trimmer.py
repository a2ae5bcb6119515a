"""The journal trimmer: whole old log segments go, each bound kept to within one segment, and
never a segment the shard's checkpoint does not hold yet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import evolve

import storage.wal
from mi.settings.config import JournalConfig
from mi.core.state import wall_clock_ms
from mi.upkeep.trimmer import JournalTrimmer
from mi.core.writer import ShardWriter
from storage import Shard
from storage.log_format import HEADER_SIZE

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shard]:
    """A shard whose log rolls to a new segment after every record."""
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", HEADER_SIZE + 1)
    opened = Shard.open(tmp_path / "shard", 0, map_size=8 * 1024**2)
    yield opened
    opened.close()


def write_entries(shard: Shard, count: int) -> None:
    for i in range(count):
        shard.write_batch([lambda txn, i=i: txn.put("ns", b"key%d" % i, b"value", 0)])


def trimmer(shard: Shard, **bounds) -> JournalTrimmer:
    return JournalTrimmer([ShardWriter(shard)], evolve(JournalConfig(), **bounds))


def seqs(shard: Shard) -> list[int]:
    return [entry.seq for entry in shard.journal()]


def sizes(shard: Shard) -> list[int]:
    return [segment.path.stat().st_size for segment in shard.log.segments]


async def test_max_entries_keeps_the_newest_entries(shard):
    """With max_entries = 3 and one entry per segment, exactly the 3 newest entries stay."""
    write_entries(shard, 10)
    shard.checkpoint()
    assert await trimmer(shard, max_entries=3).trim() > 0
    assert seqs(shard) == [8, 9, 10]


async def test_nothing_goes_that_the_checkpoint_does_not_hold(shard):
    """Records after the checkpoint are needed by the next start's replay: kept, whatever the bounds."""
    write_entries(shard, 4)
    shard.checkpoint()
    write_entries(shard, 6)
    await trimmer(shard, max_entries=1).trim()
    assert seqs(shard) == [5, 6, 7, 8, 9, 10]


async def test_max_bytes_is_kept_to_within_one_segment(shard):
    """The segments hold at most max_bytes plus the oldest one, and the rest alone stay under it."""
    write_entries(shard, 12)
    shard.checkpoint()
    limit = sum(sizes(shard)) // 3
    await trimmer(shard, max_bytes=limit).trim()
    kept = sizes(shard)
    assert sum(kept) - kept[0] < limit <= sum(kept)


async def test_max_age_removes_all_but_the_newest_segment(shard):
    """Ten days on, with a seven-day max_age, every entry is too old; only the newest segment,
    which the log always keeps, is left. Today, nothing goes."""
    write_entries(shard, 5)
    shard.checkpoint()
    trim = trimmer(shard)
    assert await trim.trim(now_ms=wall_clock_ms()) == 0
    assert seqs(shard) == [1, 2, 3, 4, 5]
    assert await trim.trim(now_ms=wall_clock_ms() + 10 * DAY_MS) > 0
    assert seqs(shard) == [5]


async def test_a_pass_within_the_bounds_deletes_nothing(shard):
    """Within every bound, a pass deletes no segment, however often it runs."""
    write_entries(shard, 5)
    shard.checkpoint()
    before = shard.log.segments
    trim = trimmer(shard, max_entries=5)
    assert await trim.trim() == 0
    assert await trim.trim() == 0
    assert shard.log.segments == before and trim.trimmed == 0


async def test_the_log_counts_against_the_shards_share_of_max_db_size(tmp_path, monkeypatch):
    """With a journal bound far above the store's size, the log is still kept within what the
    data leaves of the shard's map: a full log never outgrows max_db_size."""
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", 64 * 1024)
    small = Shard.open(tmp_path / "small", 0, map_size=2 * 1024**2)
    try:
        for i in range(800):
            small.write_batch([lambda txn, i=i: txn.put("ns", b"k%d" % (i % 10), b"x" * 4000, 0)])
        small.checkpoint()
        assert small.log.size() > 3 * 1024**2  # far over the map: 800 records of 4 KB
        await trimmer(small, max_bytes=1024**3).trim()
        stats = small.stats()
        room = stats.map_size - stats.used_pages * stats.page_size
        assert small.log.size() <= room + 64 * 1024 + 8192  # within a segment of the room left
    finally:
        small.close()
