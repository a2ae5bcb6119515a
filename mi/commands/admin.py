"""Commands for operators: JOURNAL (the change feed over TCP), SNAPSHOT, MONITOR."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from mi.upkeep.snapshotter import SnapshotBusy, SnapshotRefused
from protocol import errors
from protocol.commands import Bgsave, Journal, Monitor, Save, Snapshot, SnapshotStatus
from protocol.replies import SimpleString
from protocol.errors import CommandError
from storage import StorageError
from storage.log_format import LogDamaged

if TYPE_CHECKING:
    from mi.core.state import Connection


@REGISTRY.connection(Journal)
def journal(session: Connection, command: Journal) -> list[str]:
    """Up to ``count`` entries of one shard after ``since``, each a JSON text as ``mi journal`` prints."""
    shards = session.server.store.shards
    if command.shard >= len(shards):
        raise CommandError("ERR", f"no shard {command.shard}: the store has shards 0-{len(shards) - 1}")
    try:
        entries = shards[command.shard].journal(command.since, limit=command.count)
        return [json.dumps(entry.to_json(command.shard), ensure_ascii=False) for entry in entries]
    except LogDamaged as error:
        raise CommandError("ERR", f"{error}; run mi verify") from None


@REGISTRY.task(Snapshot)
async def snapshot(session: Connection, command: Snapshot) -> str:
    """Take a snapshot (this connection waits; others go on); the reply is its path."""
    try:
        run = await session.server.snapshotter.take(command.out)
    except SnapshotBusy as error:
        raise CommandError("ERR", str(error)) from None
    except SnapshotRefused as error:
        raise errors.snapshot_refused(str(error)) from None
    except (StorageError, OSError) as error:
        raise CommandError("ERR", f"snapshot failed: {error}") from None
    return str(run.path)


@REGISTRY.task(Save)
async def save(session: Connection, command: Save) -> SimpleString:
    """Redis's SAVE: a snapshot into the snapshot dir, answered once it is complete (others are
    served meanwhile, unlike Redis's)."""
    try:
        await session.server.snapshotter.take()
    except SnapshotBusy:
        raise errors.background_save_in_progress() from None
    except SnapshotRefused as error:
        raise errors.snapshot_refused(str(error)) from None
    except (StorageError, OSError) as error:
        raise CommandError("ERR", f"snapshot failed: {error}") from None
    return SimpleString("OK")


@REGISTRY.connection(Bgsave)
def bgsave(session: Connection, command: Bgsave) -> SimpleString:
    """Redis's BGSAVE: the same snapshot, started in the background (LASTSAVE tells when it is done)."""
    try:
        session.server.snapshotter.take_in_background()
    except SnapshotBusy:
        raise errors.background_save_in_progress() from None
    return SimpleString("Background saving started")


@REGISTRY.connection(SnapshotStatus)
def snapshot_status(session: Connection, command: SnapshotStatus) -> dict[str, Any]:
    """The snapshot under way (bytes done of the estimated total) and the outcome of the last."""
    snapshotter = session.server.snapshotter
    running, last = snapshotter.running, snapshotter.last
    return {
        "in_progress": int(running is not None),
        "path": str(running.path) if running else "",
        "bytes_done": running.bytes_done if running else 0,
        "bytes_total": running.bytes_total if running else 0,
        "last_status": last.status if last else "none",
        "last_path": str(last.path) if last else "",
        "last_time": int(last.finished or 0) if last else 0,
        "last_bytes": last.bytes_done if last else 0,
        "last_error": (last.error or "") if last else "",
    }


@REGISTRY.task(Monitor)
async def monitor(session: Connection, command: Monitor) -> None:
    """The connection becomes a monitor: it answers +OK, then streams commands until it closes."""
    await session.server.monitors.serve(session, lambda: session.server.terminating)
    session.close_after_reply()
    return None
