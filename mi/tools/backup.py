"""``mi snapshot``, ``mi restore`` and ``mi verify``: backing up a data dir and checking it.

Each shows a progress bar on a terminal (stderr) and logs structured events (stdout): one at the
end with the outcome, and one per damaged item found. Exit status: 0 done and sound, 1 failed or
damage found, 2 wrong usage.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from mi.observability.logs import configure_logging, get_logger
from mi.observability.progress import ProgressBar
from mi.tools.wire_client import WireClient, add_connection_options, connect
from protocol.errors import CommandError
from storage import DataDirError, StorageError, Store
from storage.snapshot import (
    SNAPSHOT_MANIFEST,
    SnapshotInfo,
    begin_snapshot,
    check_restore_target,
    check_snapshot,
    read_snapshot_info,
    restore_snapshot,
    write_snapshot,
)
from storage.verify import VerifyReport, count_items, verify_data_dir

__all__ = ["add_parsers"]

log = get_logger("mi")

STATUS_POLL_INTERVAL = 0.2  # seconds between SNAPSHOT STATUS calls while a bar is drawn


def add_parsers(commands: argparse._SubParsersAction) -> None:
    snapshot = commands.add_parser(
        "snapshot",
        help="copy every shard, consistently, into a new directory",
        description="Against a running server (--host/--port; --out is a new directory inside the"
        " server's snapshot dir, [snapshots] dir: a relative name is taken there), or offline from a"
        " data dir no server is using (--data-dir).",
    )
    snapshot.add_argument("--out", metavar="DIR", required=True, help="the new snapshot directory")
    snapshot.add_argument("--data-dir", metavar="DIR", help="snapshot this data dir offline")
    add_connection_options(snapshot)
    snapshot.set_defaults(run=_snapshot)

    restore = commands.add_parser("restore", help="check a snapshot, then copy it into a data dir")
    restore.add_argument("snapshot", metavar="SNAPSHOT", help="the snapshot directory")
    restore.add_argument("--data-dir", metavar="DIR", required=True, help="the data dir to create")
    restore.add_argument("--force", action="store_true", help="replace an existing data dir")
    restore.set_defaults(run=_restore)

    verify = commands.add_parser("verify", help="check every record, index entry and journal entry")
    verify.add_argument("--data-dir", metavar="DIR", required=True, help="a data dir or a snapshot")
    verify.add_argument(
        "--clear-quarantine", action="store_true",
        help="after the check, forget the items the server set aside (the server must be stopped)",
    )
    verify.set_defaults(run=_verify)


def run(args: argparse.Namespace) -> int:
    configure_logging("auto", "info")
    try:
        return args.run(args)
    except (StorageError, OSError, CommandError) as error:
        log.error(f"{args.command}.failed", error=str(error))
        return 1
    except KeyboardInterrupt:
        return 1


def _snapshot(args: argparse.Namespace) -> int:
    if args.data_dir is None:  # the server's path: a relative one is inside its snapshot dir
        return _snapshot_online(partial(connect, args), args.out)
    out = Path(args.out).resolve()
    try:
        store = Store.open(args.data_dir, readonly=True, exclusive=True)
    except DataDirError as error:
        if "in use" in str(error):
            msg = f"{error}; to snapshot it while the server runs, use mi snapshot --port PORT --out DIR"
            raise DataDirError(msg) from None
        raise
    started = time.monotonic()
    with store:
        point = begin_snapshot(store)
        with ProgressBar("snapshot", point.total_bytes) as bar:
            info = write_snapshot(point, out, bar.advance)
    log.info("snapshot.finished", path=str(out), bytes=info.total_bytes, shards=info.shards,
             seconds=round(time.monotonic() - started, 3))
    return 0


def _snapshot_online(connect: Callable[..., WireClient], out: str) -> int:
    """SNAPSHOT TO on one connection; on a terminal, SNAPSHOT STATUS on another feeds the bar."""
    started = time.monotonic()
    result: dict[str, Any] = {}

    def take() -> None:
        try:
            with connect(timeout=None) as client:
                result["path"] = client.call("SNAPSHOT", "TO", out)
        except (OSError, CommandError) as error:
            result["error"] = error

    worker = threading.Thread(target=take, daemon=True)
    worker.start()
    with ProgressBar("snapshot", 0) as bar:
        if bar.enabled:
            with connect() as status:
                while worker.is_alive():
                    report = _as_dict(status.call("SNAPSHOT", "STATUS"))
                    if report.get(b"in_progress"):
                        bar.total = max(report[b"bytes_total"], 1)
                        bar.advance(report[b"bytes_done"] - bar.done)
                    worker.join(STATUS_POLL_INTERVAL)
        worker.join()
    if "error" in result:
        raise result["error"]
    log.info("snapshot.finished", path=result["path"].decode(), seconds=round(time.monotonic() - started, 3))
    return 0


def _as_dict(reply: Any) -> dict[bytes, Any]:
    """A map reply, sent as a flat list in RESP2."""
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _restore(args: argparse.Namespace) -> int:
    snapshot, data_dir = Path(args.snapshot), Path(args.data_dir)
    check_restore_target(data_dir, force=args.force)  # in a moment, not after seconds of checking
    owner = _owner_for(data_dir)
    info = _check_files(snapshot)
    report = _scan(snapshot, "verify")
    if not report.ok:
        log.error("restore.refused", snapshot=str(snapshot), reason="the snapshot holds damaged items")
        return 1
    with ProgressBar("restore", info.total_bytes) as bar:
        restore_snapshot(snapshot, data_dir, force=args.force, progress=bar.advance)
    if owner is not None:
        _give(data_dir, *owner)
    log.info("restore.finished", snapshot=str(snapshot), data_dir=str(data_dir), created=info.created,
             journal=list(info.journal), **({} if owner is None else {"owner": f"{owner[0]}:{owner[1]}"}))
    return 0


def _owner_for(data_dir: Path) -> tuple[int, int] | None:
    """Run as root, a restore gives the restored data dir the owner of the one it replaces (else
    of its parent), so the service user can open it; None otherwise (the files are ours anyway)."""
    if os.geteuid() != 0:
        return None
    where = data_dir.absolute()
    while not where.exists():  # a new data dir: the nearest directory above it that exists
        where = where.parent
    found = where.stat()
    return found.st_uid, found.st_gid


def _give(data_dir: Path, uid: int, gid: int) -> None:
    os.chown(data_dir, uid, gid)
    for root, dirs, files in os.walk(data_dir):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _verify(args: argparse.Namespace) -> int:
    path = Path(args.data_dir)
    if (path / SNAPSHOT_MANIFEST).exists():
        _check_files(path)
    ok = _scan(path, "verify").ok
    if args.clear_quarantine:
        with Store.open(path) as store:  # holds the data dir lock: refused while a server runs
            cleared = sum(_one(shard.write_batch([lambda txn: txn.delivery.clear_quarantine()])) for shard in store.shards)
        log.info("verify.quarantine_cleared", path=str(path), items=cleared)
    return 0 if ok else 1


def _one(outcomes: list[Any]) -> Any:
    if isinstance(outcomes[0], Exception):
        raise outcomes[0]
    return outcomes[0]


def _check_files(snapshot: Path) -> SnapshotInfo:
    """Every file of a snapshot against its SHA-256 (before LMDB reads any of it)."""
    info = read_snapshot_info(snapshot)
    with ProgressBar("checksums", info.total_bytes) as bar:
        check_snapshot(snapshot, bar.advance, info)
    log.info("snapshot.checked", snapshot=str(snapshot), files=len(info.files), bytes=info.total_bytes)
    return info


def _scan(path: Path, label: str) -> VerifyReport:
    """The record-by-record scan, each damaged item logged, then the summary."""
    with ProgressBar(label, count_items(path), unit="entries") as bar:
        report = verify_data_dir(path, bar.advance)
    for damage in report.damage:
        log.error("verify.damaged", where=damage.describe(), shard=damage.shard, area=damage.area,
                  namespace=damage.namespace,
                  key=None if damage.key is None else damage.key.decode("utf-8", "backslashreplace"))
    for shard, item in report.quarantine:
        log.warning("verify.quarantined", where=f"shard {shard}, {item.describe()}", shard=shard, area=item.area,
                    namespace=item.namespace, key=item.key.decode("utf-8", "backslashreplace"), reason=item.reason,
                    at_ms=item.at_ms, id=item.id)
    for shard, what in report.torn_tails:  # a crash's leftovers, cut at the next start: not damage
        log.warning("verify.torn_tail", where=f"shard {shard}, {what}", shard=shard)
    if report.truncated:
        log.error("verify.more_damage", not_listed=report.damaged - len(report.damage))
    (log.info if report.ok else log.error)("verify.finished", path=str(path), ok=report.ok, **report.summary())
    return report
