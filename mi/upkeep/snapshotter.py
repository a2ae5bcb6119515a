"""Hot snapshots from the running server: on request (SNAPSHOT) and periodically, with retention.

A child process (``mi.upkeep.snapshot_copier``) opens the data dir read-only. For one instant the server
holds every shard writer's lock, so no commit runs, while the copier begins a read transaction on
each shard: together they see one moment across all shards. The locks go at once, and the copy
runs in the child while clients keep writing (``storage.snapshot``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio
from attrs import define, field

from mi.settings.config import SnapshotConfig
from mi.observability.logs import get_logger
from mi.upkeep.snapshot_target import SnapshotRefused, check_room, snapshot_target
from mi.core.writer import ShardWriter
from storage import StorageError, Store
from storage.snapshot import SNAPSHOT_MANIFEST, temp_dir_for, temp_dirs

__all__ = ["SnapshotBusy", "SnapshotRefused", "Snapshotter"]

log = get_logger("mi.snapshot")

NAME_PREFIX = "snapshot-"
BEGIN_TIMEOUT = 10.0  # seconds the copier may take to pin the instant while writers wait


class SnapshotBusy(Exception):
    """Another snapshot is being taken."""


@define
class SnapshotRun:
    """A snapshot being taken, or the last one taken."""

    path: Path
    started: float = field(factory=time.time)  # unix seconds
    bytes_total: int = 0
    bytes_done: int = 0
    finished: float | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.finished is None:
            return "running"
        return "failed" if self.error else "ok"


@define(eq=False)
class Snapshotter:
    store: Store
    writers: Sequence[ShardWriter]
    config: SnapshotConfig
    running: SnapshotRun | None = None
    last: SnapshotRun | None = None
    last_ok: SnapshotRun | None = None  # the last that succeeded (LASTSAVE), a failed one since or not
    taken: int = 0  # snapshots completed since the server started
    _background: trio.Nursery | None = None  # where BGSAVE's snapshots run (run_periodically's)

    async def take(self, out: str | None = None) -> SnapshotRun:
        """Take a snapshot into ``out`` (a new dir inside the snapshot dir: ``mi.upkeep.snapshot_target``),
        or into a new dir named by the time there, after which the oldest there beyond ``keep``
        are deleted; returns its run.

        ``SnapshotBusy`` if one is under way; ``SnapshotRefused`` for a target outside the
        snapshot dir or no room for it; storage errors (a full disk, an existing dir) raise.
        """
        if self.running is not None:
            msg = f"a snapshot is already being taken (into {self.running.path})"
            raise SnapshotBusy(msg)
        root, data_dir = Path(self.config.dir), self.store.path
        try:
            path = snapshot_target(out, root, data_dir) if out is not None else self._new_path()
            needed = sum(stats.used_pages * stats.page_size for stats in self.store.stats())
            check_room(path, needed, root, self.config.max_bytes, data_dir)
        except SnapshotRefused as refusal:
            log.warning("snapshot.refused", requested=out, reason=str(refusal))
            raise
        run = self.running = SnapshotRun(path)
        log.info("snapshot.started", path=str(run.path))
        try:
            await self._copy(run)
            if out is None:  # pruning is part of the run, so no one sees keep + 1 snapshots idle
                await trio.to_thread.run_sync(self.prune)
        except BaseException as error:
            run.error = str(error) or type(error).__name__
            log.error("snapshot.failed", path=str(run.path), error=run.error)
            raise
        finally:
            run.finished = time.time()
            self.running, self.last = None, run
        self.taken += 1
        self.last_ok = run
        log.info(
            "snapshot.finished",
            path=str(run.path),
            bytes=run.bytes_done,
            seconds=round(run.finished - run.started, 3),
        )
        return run

    async def _copy(self, run: SnapshotRun) -> None:
        """Run the copier process (``mi.upkeep.snapshot_copier``) and follow what it says."""
        command = [sys.executable, "-m", "mi.upkeep.snapshot_copier", str(self.store.path.resolve()), str(run.path)]
        process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            said = _CopierOutput(process.stdout)
            await said.expect("ready")
            with trio.fail_after(BEGIN_TIMEOUT):  # writers wait meanwhile: never for long
                async with AsyncExitStack() as locks:
                    for writer in self.writers:  # in shard order, as cross-shard transactions take them
                        await locks.enter_async_context(writer.lock)
                    await process.stdin.send_all(b"begin\n")
                    run.bytes_total = (await said.expect("begun"))["bytes_total"]
            while (message := await said.next())["event"] == "progress":
                run.bytes_done = message["bytes_done"]
            await process.wait()  # it said "done"
        finally:
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.wait()
                # A copier stopped part-way leaves its temp dir (named after its pid) behind.
                shutil.rmtree(temp_dir_for(run.path, "snapshot", process.pid), ignore_errors=True)
                await process.stdin.aclose()
                await process.stdout.aclose()

    def _new_path(self) -> Path:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        base = Path(self.config.dir).resolve() / f"{NAME_PREFIX}{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        return path

    async def run_periodically(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every ``interval``: a snapshot into the snapshot dir, then the oldest beyond ``keep`` go."""
        async with trio.open_nursery() as self._background:
            task_status.started()
            interval = self.config.interval
            if interval is None:
                await trio.sleep_forever()  # only BGSAVE's, then
            while True:
                await trio.sleep(interval)
                await self._take_quietly()

    def take_in_background(self) -> None:
        """BGSAVE: start a snapshot into the snapshot dir and return; ``SnapshotBusy`` if one is
        under way. Its outcome is logged and kept (``last``), as a periodic one's."""
        if self.running is not None:
            msg = f"a snapshot is already being taken (into {self.running.path})"
            raise SnapshotBusy(msg)
        if self._background is None:
            msg = "the server is not taking snapshots yet (starting or stopping)"
            raise SnapshotBusy(msg)
        self._background.start_soon(self._take_quietly)

    async def _take_quietly(self) -> None:
        with contextlib.suppress(SnapshotBusy, SnapshotRefused, StorageError, OSError):
            await self.take()  # a failure is logged (and kept as the last run)

    def prune(self) -> list[Path]:
        """Delete the oldest complete snapshots in the snapshot dir beyond ``keep``, and temp dirs
        that dead snapshots left there; what went. Call only between copies (one runs at a time)."""
        folder = Path(self.config.dir)
        complete = sorted(
            (path for path in folder.glob(f"{NAME_PREFIX}*") if (path / SNAPSHOT_MANIFEST).is_file()),
            key=lambda path: path.stat().st_mtime,
        )
        doomed = complete[: max(len(complete) - self.config.keep, 0)] + list(temp_dirs(folder))
        for path in doomed:
            shutil.rmtree(path, ignore_errors=True)
            log.info("snapshot.deleted", path=str(path))
        return doomed


class _CopierOutput:
    """The copier's JSON lines, one dict at a time."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def next(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            data = await self._stream.receive_some()
            if not data:
                msg = "the snapshot copier stopped unexpectedly"
                raise StorageError(msg)
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        if message["event"] == "error":
            raise StorageError(message["error"])
        return message

    async def expect(self, event: str) -> dict[str, Any]:
        message = await self.next()
        if message["event"] != event:
            msg = f"the snapshot copier said {message['event']!r} where {event!r} was due"
            raise StorageError(msg)
        return message
