"""Snapshots: a consistent point-in-time copy of every shard, described by a manifest of checksums.

A snapshot dir looks like a data dir without lock files, plus ``snapshot.json``::

    SNAP/manifest.json        the data dir's manifest (format, shard count)
    SNAP/shard-000/data.mdb   a compacted LMDB copy of shard 0 at the snapshot's instant
    SNAP/snapshot.json        format, creation time, shard count, each shard's journal sequence,
                              and the size and SHA-256 of every file above; its own checksum last

Taking one has two steps. ``begin_snapshot`` opens a read transaction on every shard; the caller
makes sure no commit runs meanwhile (the server holds every shard writer's lock for that instant),
so the transactions see one moment across all shards. ``write_snapshot`` then copies each shard
as its transaction sees it, while writers go on: LMDB streams a compacted copy to a pipe, and we
hash it on its way to the file, so memory stays bounded and the data is read once. Everything is
written to a temp dir beside the target and renamed into place after an fsync, so a snapshot dir
that exists is complete.

``restore_snapshot`` copies a snapshot into a data dir, checking every file against its SHA-256 on
the way; the data dir is replaced only after every check passed.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import errno
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from storage.errors import DataDirError, StorageError
from storage.manifest import MANIFEST_NAME, write_manifest
from storage.shard import Shard
from storage.durable_files import sync_dirs
from storage.store import Store, lock_data_dir, shard_dir_name
from storage.read_txn import ReadTxn

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_MANIFEST",
    "PointInTime",
    "SnapshotDamaged",
    "SnapshotFile",
    "SnapshotInfo",
    "begin_snapshot",
    "check_restore_target",
    "check_snapshot",
    "read_snapshot_info",
    "restore_snapshot",
    "temp_dir_for",
    "temp_dirs",
    "write_snapshot",
]

SNAPSHOT_FORMAT = 1
SNAPSHOT_MANIFEST = "snapshot.json"
DATA_FILE = "data.mdb"
CHUNK = 1024 * 1024

Progress = Callable[[int], None]  # told how many more bytes were done


class SnapshotDamaged(StorageError):
    """A snapshot is incomplete or fails its checksums: it must not be restored."""


@frozen
class SnapshotFile:
    path: str  # relative to the snapshot dir, with "/"
    size: int
    sha256: str


@frozen
class SnapshotInfo:
    """What ``snapshot.json`` says."""

    format: int
    created: str  # ISO 8601, UTC
    shards: int
    journal: tuple[int, ...]  # per shard: the newest journal sequence number in the snapshot
    files: tuple[SnapshotFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(file.size for file in self.files)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "format": self.format,
            "created": self.created,
            "shards": self.shards,
            "journal": list(self.journal),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        body["checksum"] = _checksum(body)
        return body


def _checksum(body: dict[str, Any]) -> str:
    """The SHA-256 of the manifest's other fields, so a damaged manifest is caught too."""
    fields = {name: value for name, value in body.items() if name != "checksum"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class PointInTime:
    """Read transactions on every shard of a store, all begun at one instant (``begin_snapshot``)."""

    def __init__(self, store: Store, txns: Sequence[ReadTxn]) -> None:
        self.store = store
        self.txns = tuple(txns)
        self.journal = tuple(txn.journal_last() for txn in self.txns)
        self.sizes = tuple(shard.copy_size(txn) for shard, txn in zip(store.shards, self.txns, strict=True))

    @property
    def total_bytes(self) -> int:
        """About how many bytes the snapshot will hold (for a progress bar)."""
        return sum(self.sizes)

    def close(self) -> None:
        for txn in self.txns:
            txn.close()


def begin_snapshot(store: Store) -> PointInTime:
    """Pin every shard as it is now. No commit may run on any shard during this call."""
    txns: list[ReadTxn] = []
    try:
        for shard in store.shards:
            txns.append(shard.begin_read())
        return PointInTime(store, txns)
    except BaseException:
        for txn in txns:
            txn.close()
        raise


def write_snapshot(point: PointInTime, out: Path, progress: Progress | None = None) -> SnapshotInfo:
    """Copy the shards as ``point`` sees them into the new dir ``out``; closes ``point``."""
    try:
        out = Path(out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            msg = f"{out} already exists; a snapshot goes into a new (or empty) directory"
            raise DataDirError(msg)
        with _temp_dir_for(out, "snapshot") as temp:
            files = []
            for shard, txn in zip(point.store.shards, point.txns, strict=True):
                files.append(_copy_shard(shard, txn, temp, progress))
            write_manifest(temp, point.store.manifest)
            files.append(_describe_file(temp, MANIFEST_NAME))
            created = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
            info = SnapshotInfo(SNAPSHOT_FORMAT, created, len(point.txns), point.journal, tuple(files))
            _write_durably(temp / SNAPSHOT_MANIFEST, json.dumps(info.to_json(), indent=2) + "\n")
            _sync_tree(temp, info.files)
            _publish(temp, out)
        return info
    finally:
        point.close()


def _copy_shard(shard: Shard, txn: ReadTxn, snapshot_dir: Path, progress: Progress | None) -> SnapshotFile:
    """Stream a compacted copy of one shard through a pipe into its file, hashing on the way."""
    relative = f"{shard_dir_name(shard.index)}/{DATA_FILE}"
    target = snapshot_dir / relative
    target.parent.mkdir(mode=0o700)
    read_end, write_end = os.pipe()
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            shard.copy_to(write_end, txn)
        except BaseException as error:  # noqa: BLE001 - re-raised by the consumer below
            failures.append(error)
        finally:
            os.close(write_end)

    producer = threading.Thread(target=produce, name=f"snapshot-shard-{shard.index}", daemon=True)
    producer.start()
    digest, size = hashlib.sha256(), 0
    try:
        with _open_new(target) as file:
            while chunk := os.read(read_end, CHUNK):
                digest.update(chunk)
                file.write(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            file.flush()
            os.fsync(file.fileno())
    finally:
        os.close(read_end)  # if we stopped early, the copy fails on the closed pipe and ends
        producer.join()
    if failures:
        raise failures[0]
    return SnapshotFile(relative, size, digest.hexdigest())


def read_snapshot_info(snapshot: Path) -> SnapshotInfo:
    """Parse and check ``snapshot.json``; ``SnapshotDamaged`` says what is wrong."""
    path = Path(snapshot) / SNAPSHOT_MANIFEST
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{snapshot} is not a complete snapshot: it has no {SNAPSHOT_MANIFEST}"
        raise SnapshotDamaged(msg) from None
    except (OSError, ValueError) as error:
        msg = f"cannot read {path}: {error}"
        raise SnapshotDamaged(msg) from None
    if not isinstance(body, dict) or body.get("checksum") != _checksum(body):
        msg = f"{path} is damaged (its checksum does not match its contents)"
        raise SnapshotDamaged(msg)
    if body.get("format") != SNAPSHOT_FORMAT:
        msg = f"{path} has format {body.get('format')!r}; this mi reads snapshot format {SNAPSHOT_FORMAT}"
        raise SnapshotDamaged(msg)
    try:
        files = tuple(SnapshotFile(f["path"], int(f["size"]), str(f["sha256"])) for f in body["files"])
        info = SnapshotInfo(body["format"], str(body["created"]), int(body["shards"]),
                            tuple(int(seq) for seq in body["journal"]), files)
    except (KeyError, TypeError, ValueError) as error:
        msg = f"{path} lacks a field or has one of the wrong type ({error!r})"
        raise SnapshotDamaged(msg) from None
    expected = {f"{shard_dir_name(i)}/{DATA_FILE}" for i in range(info.shards)} | {MANIFEST_NAME}
    listed = {file.path for file in files}
    if listed != expected:
        msg = f"{path} lists {sorted(listed)}, but a {info.shards}-shard snapshot has {sorted(expected)}"
        raise SnapshotDamaged(msg)
    return info


def check_snapshot(
    snapshot: Path, progress: Progress | None = None, info: SnapshotInfo | None = None
) -> SnapshotInfo:
    """Check every file of a snapshot against its size and SHA-256; ``SnapshotDamaged`` if one fails.

    ``info``: the snapshot's ``read_snapshot_info``, if the caller has read it already.
    """
    info = info or read_snapshot_info(snapshot)
    for file in info.files:
        _stream(Path(snapshot), file, None, progress)
    return info


def check_restore_target(data_dir: Path, *, force: bool = False) -> bool:
    """Refuse a target ``restore_snapshot`` would refuse (a file, a data dir without ``force``,
    one a server has open), cheaply, before anything is read; True if it holds data."""
    if data_dir.exists() and not data_dir.is_dir():
        msg = f"{data_dir} is a file, not a data dir"
        raise DataDirError(msg)
    occupied = data_dir.exists() and any(data_dir.iterdir())
    if occupied and not force:
        msg = f"{data_dir} exists and is not empty; pass --force to replace it with the snapshot"
        raise DataDirError(msg)
    if occupied:
        os.close(lock_data_dir(data_dir))  # raises while a server has it
    return occupied


def restore_snapshot(
    snapshot: Path, data_dir: Path, *, force: bool = False, progress: Progress | None = None
) -> SnapshotInfo:
    """Copy ``snapshot`` into ``data_dir``, checking every file on the way.

    ``data_dir`` must be new or empty, unless ``force``: then it is replaced, once every file of
    the snapshot has been copied and checked, and only if no server has it open.
    """
    snapshot, data_dir = Path(snapshot), Path(data_dir)
    info = read_snapshot_info(snapshot)
    occupied = check_restore_target(data_dir, force=force)
    lock_fd = lock_data_dir(data_dir) if occupied else None  # refuses while a server has it
    try:
        with _temp_dir_for(data_dir, "restore") as temp:
            for file in info.files:
                (temp / file.path).parent.mkdir(mode=0o700, exist_ok=True)
                _stream(snapshot, file, temp / file.path, progress)
            _sync_tree(temp, info.files)
            if occupied:
                _replace(data_dir, temp)
            else:
                _publish(temp, data_dir)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    return info


def _stream(root: Path, file: SnapshotFile, copy_to: Path | None, progress: Progress | None) -> None:
    """Read one snapshot file (copying it to ``copy_to``), checking its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    try:
        with (root / file.path).open("rb") as source, _open_new(copy_to) as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if target is not None:
                    target.write(chunk)
                if progress is not None:
                    progress(len(chunk))
            if target is not None:
                target.flush()
                os.fsync(target.fileno())
    except FileNotFoundError:
        msg = f"snapshot {root} is incomplete: {file.path} is missing"
        raise SnapshotDamaged(msg) from None
    if size != file.size or digest.hexdigest() != file.sha256:
        msg = (
            f"snapshot {root} is damaged: {file.path} does not match its checksum"
            f" ({size} bytes, {file.size} expected)"
        )
        raise SnapshotDamaged(msg)


def _open_new(path: Path | None) -> Any:
    """A new file for writing (an error if it exists), or a stand-in for none."""
    if path is None:
        return contextlib.nullcontext()
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def temp_dir_for(target: Path, purpose: str, pid: int) -> Path:
    """Where process ``pid`` builds ``target`` ("snapshot") or a restore of it ("restore")."""
    return target.parent / f".{target.name}.{purpose}-tmp-{pid}"


class _temp_dir_for:  # noqa: N801 - used as a context manager, like a function
    """A hidden temp dir beside ``target``, removed unless it was renamed into place."""

    def __init__(self, target: Path, purpose: str) -> None:
        self.path = temp_dir_for(target, purpose, os.getpid())

    def __enter__(self) -> Path:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.path, ignore_errors=True)  # left by an earlier run that died
            self.path.mkdir(mode=0o700)
        except OSError as error:
            msg = f"cannot create {self.path}: {error}"
            raise DataDirError(msg) from None
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def temp_dirs(parent: Path) -> Iterator[Path]:
    """Temp dirs that snapshots or restores left in ``parent`` when they died."""
    for path in parent.glob(".*-tmp-*"):
        if path.is_dir():
            yield path


def _describe_file(root: Path, relative: str) -> SnapshotFile:
    data = (root / relative).read_bytes()
    return SnapshotFile(relative, len(data), hashlib.sha256(data).hexdigest())


def _write_durably(path: Path, text: str) -> None:
    with path.open("x", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _sync_tree(root: Path, files: Sequence[SnapshotFile]) -> None:
    """fsync the directories holding ``files`` and ``root`` itself, so their entries are durable."""
    sync_dirs(*{(root / file.path).parent for file in files}, root)


_RENAME_EXCHANGE = 2  # renameat2(2): swap the two paths atomically
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically; False where renameat2's RENAME_EXCHANGE is missing."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library without it
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # an old kernel, or a file system without it
        return False
    raise OSError(code, os.strerror(code), str(second))


def _publish(temp: Path, target: Path) -> None:
    """Rename the finished ``temp`` to ``target`` (new or an empty dir) and make it durable."""
    try:
        os.rename(temp, target)
    except OSError as error:
        msg = f"cannot move the finished copy to {target}: {error}"
        raise DataDirError(msg) from None
    sync_dirs(target.parent)


def _replace(data_dir: Path, temp: Path) -> None:
    """Swap the restored ``temp`` in for ``data_dir``, then delete the old contents.

    Where the kernel can (Linux), the two swap places in one atomic step: a crash leaves the old
    data dir or the restored one, never neither. Elsewhere, two renames.
    """
    if _exchange(temp, data_dir):
        sync_dirs(data_dir.parent)
        shutil.rmtree(temp, ignore_errors=True)  # the old data, now under the temp name
        return
    old = data_dir.parent / f".{data_dir.name}.replaced-tmp-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    os.rename(data_dir, old)
    try:
        os.rename(temp, data_dir)
    except OSError:
        os.rename(old, data_dir)  # put the old data back
        raise
    sync_dirs(data_dir.parent)
    shutil.rmtree(old, ignore_errors=True)
