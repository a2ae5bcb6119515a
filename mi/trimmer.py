"""The journal trimmer: keeps each shard's journal within its configured bounds.

Entries go oldest first, in bounded batches, through the shard writers (so trimming is serialized
with every other write and never holds a long transaction). A pass with nothing to trim commits
nothing, so an idle server does not touch the disk.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio
from attrs import define

from mi.config import JournalConfig
from mi.logs import get_logger
from mi.state import wall_clock_ms
from mi.writer import ShardWriter

__all__ = ["JournalTrimmer"]

log = get_logger("mi.trimmer")


@define(eq=False)
class JournalTrimmer:
    writers: Sequence[ShardWriter]
    config: JournalConfig
    trimmed: int = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.trim()
            await trio.sleep(self.config.trim_interval)

    async def trim(self) -> int:
        """One pass over every shard; how many entries went."""
        config = self.config
        # Journal timestamps are wall-clock time, written by the shards.
        cutoff_ms = wall_clock_ms() - int(config.max_age * 1000)

        def trim_some(txn):
            return txn.trim_journal(
                keep_entries=config.max_entries,
                keep_bytes=config.max_bytes,
                drop_before_ms=cutoff_ms,
                limit=config.trim_batch,
            )

        total = 0
        for writer in self.writers:
            while True:
                outcome = await writer.write(trim_some, "trim")
                if isinstance(outcome, Exception):
                    log.error("journal.trim_failed", shard=writer.shard.index, error=repr(outcome))
                    break
                total += outcome
                if outcome < config.trim_batch:
                    break
        if total:
            self.trimmed += total
            log.debug("journal.trimmed", count=total)
        return total
