"""Checkpoints each shard (``storage.checkpoint``) on an interval, or sooner when its log has grown.

A checkpoint bounds what a restart after a crash replays, and lets LMDB reuse the pages the
previous checkpoint kept. Only its first step holds the shard's writes off (a read transaction and
a copy of one page); the sync of the data file runs beside new commits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import trio
from attrs import define

from mi.observability.logs import get_logger
from mi.core.writer import ShardWriter

__all__ = ["Checkpointer"]

log = get_logger("mi.checkpointer")

POLL_INTERVAL = 0.25  # seconds between looks at how much each log has grown


@define(eq=False)
class Checkpointer:
    writers: Sequence[ShardWriter]
    interval: float
    log_bytes: int

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(POLL_INTERVAL)
            for writer in self.writers:
                shard = writer.shard
                due = time.monotonic() - shard.checkpointed_at >= self.interval
                if shard.log_bytes >= self.log_bytes or (due and shard.log_bytes):
                    await self.checkpoint(writer)

    async def checkpoint(self, writer: ShardWriter) -> None:
        shard = writer.shard
        started = time.monotonic()
        logged = shard.log_bytes
        try:
            with trio.CancelScope(shield=True):  # a begun checkpoint is finished, even at shutdown
                async with writer.lock:
                    checkpoint = await trio.to_thread.run_sync(shard.begin_checkpoint)
                await trio.to_thread.run_sync(shard.finish_checkpoint, checkpoint)
        except Exception as error:  # noqa: BLE001 - the last checkpoint stays valid; try again later
            log.error("storage.checkpoint_failed", shard=shard.index, error=str(error))
            return
        log.debug("storage.checkpointed", shard=shard.index, lsn=checkpoint.lsn, log_bytes=logged,
                  seconds=round(time.monotonic() - started, 4))  # fmt: skip
