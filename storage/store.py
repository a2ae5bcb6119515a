"""The store: a data dir of N shards, with the manifest that fixes N and the routing of keys.

Layout::

    data_dir/manifest.json     {"format": 1, "shards": N, "created": ...}
    data_dir/mi.lock           held (flock) while a Store has the dir open
    data_dir/clean-shutdown    there only while no writable Store has the dir open (see below)
    data_dir/shard-000/        one LMDB environment per shard (data.mdb, lock.mdb), its checkpoint
    data_dir/shard-000/log/    and its write-ahead log (storage.wal), segments named by first record
    ...

N is chosen when the dir is created and never changes: a key's shard is ``shard_index(key, N)``.

A writable ``Store`` removes ``clean-shutdown`` when it opens and writes it back when it closes
after every shard checkpointed. Opened without it (the last server crashed, was killed, or lost
power), each shard goes back to its last checkpoint (``storage.checkpoint``) and is scanned first, in a child process, as ``mi verify`` does (``storage.verify_child``):
damage to LMDB's own structure refuses the open with ``StorageCorrupted`` (naming ``mi verify``
and ``mi restore``), before a lookup can misread it or an LMDB assertion abort the server; damaged
records are counted in ``damaged_at_open`` and answer their own errors when read.
"""

from __future__ import annotations

import fcntl
import mmap
import os
from pathlib import Path
from types import TracebackType

from storage.checkpoint import roll_back
from storage.durable_files import sync_dirs
from storage.errors import DataDirError, StorageConfigError, StorageCorrupted
from storage.manifest import MANIFEST_TEMP_NAME, Manifest, read_manifest, write_manifest
from storage.multishard import recover_intents
from storage.queue_counts import FIELDS
from storage.replay import Progress, Replayed
from storage.routing import shard_index
from storage.shard import (
    DEFAULT_MAX_NAMESPACES,
    DEFAULT_MAX_READERS,
    DEFAULT_MAX_VALUE_SIZE,
    Shard,
    ShardStats,
)
from storage.verify_child import run_shard_scan

__all__ = ["DEFAULT_MAX_DB_SIZE", "DEFAULT_SHARDS", "MAX_SHARDS", "MIN_SHARD_MAP_SIZE", "Store", "lock_data_dir"]

DEFAULT_SHARDS = 1  # one group commit queue: fastest for a single process (docs/benchmarks.md)
MAX_SHARDS = 256
DEFAULT_MAX_DB_SIZE = 16 * 1024**3  # total across shards
MIN_SHARD_MAP_SIZE = 64 * 1024  # below this a shard cannot hold its own bookkeeping
LOCK_NAME = "mi.lock"
CLEAN_SHUTDOWN_NAME = "clean-shutdown"
STARTUP_CHECK_MAX_DAMAGE = 20  # damaged items a startup check reads back per shard (it counts all)


def shard_dir_name(index: int) -> str:
    return f"shard-{index:03d}"


class Store:
    """All shards of one data dir. Create with ``Store.open``; close when done (or use ``with``)."""

    def __init__(self, path: Path, manifest: Manifest, shards: tuple[Shard, ...], lock_fd: int | None) -> None:
        self.path = path
        self.manifest = manifest
        self.shards = shards
        self._lock_fd: int | None = lock_fd
        self.recovered_intents = 0  # cross-shard transactions finished at open (after a crash)
        self.checked_at_open = False  # the last shutdown was not clean: the shards were scanned
        self.damaged_at_open = 0  # damaged records that scan found (their reads answer errors)
        self.readonly = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        shards: int | None = None,
        max_db_size: int = DEFAULT_MAX_DB_SIZE,
        durable: bool = True,
        max_value_size: int = DEFAULT_MAX_VALUE_SIZE,
        max_namespaces: int = DEFAULT_MAX_NAMESPACES,
        max_readers: int = DEFAULT_MAX_READERS,
        readonly: bool = False,
        exclusive: bool = False,
        check_after_crash: bool = True,
        progress: Progress | None = None,
    ) -> Store:
        """Open the data dir at ``path``, creating it with ``shards or DEFAULT_SHARDS`` shards if new.

        An existing dir keeps the shard count in its manifest; an explicit, different ``shards`` is a
        ``DataDirError``. ``max_db_size`` is the total ceiling, split evenly between the shards.

        ``readonly``: an existing dir, for tools reading beside a running server (no recovery);
        with ``exclusive`` too, it holds the data dir lock, so no server may write meanwhile.
        ``check_after_crash``: scan the shards first when the last shutdown was not clean.
        ``progress``: told how many log records each shard replays as it goes.
        """
        if readonly:
            return cls._open_readonly(Path(path), max_db_size, max_readers, exclusive=exclusive)
        if shards is not None and not 1 <= shards <= MAX_SHARDS:
            msg = f"shards must be between 1 and {MAX_SHARDS}, not {shards}"
            raise StorageConfigError(msg)
        path = Path(path)
        if path.exists() and not path.is_dir():
            msg = f"data dir {path} is not a directory"
            raise DataDirError(msg)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            msg = f"cannot create data dir {path}: {error.strerror}"
            raise DataDirError(msg) from None
        lock_fd = lock_data_dir(path)
        try:
            manifest = _manifest(path, shards)
            count = manifest.shards
            map_size = max_db_size // count // mmap.PAGESIZE * mmap.PAGESIZE
            if map_size < MIN_SHARD_MAP_SIZE:
                msg = (
                    f"max_db_size {max_db_size} gives each of {count} shards {map_size} bytes;"
                    f" each needs at least {MIN_SHARD_MAP_SIZE}"
                )
                raise StorageConfigError(msg)
            create = _check_shard_dirs(path, count)
            damaged = None
            unclean = not create and not (path / CLEAN_SHUTDOWN_NAME).exists()
            if unclean:  # each shard back to its last checkpoint; its log replays the rest
                for index in range(count):
                    roll_back(path / shard_dir_name(index))
            if unclean and check_after_crash:
                damaged = check_shards(path, count)
            _forget_clean_shutdown(path)
            opened: list[Shard] = []
            try:
                for index in range(count):
                    opened.append(
                        Shard.open(
                            path / shard_dir_name(index),
                            index,
                            map_size=map_size,
                            durable=durable,
                            max_value_size=max_value_size,
                            max_namespaces=max_namespaces,
                            max_readers=max_readers,
                            create=create,
                            progress=progress,
                        )
                    )
                recovered = recover_intents(opened)
            except BaseException:
                for shard in opened:
                    shard.close()
                raise
        except BaseException:
            os.close(lock_fd)
            raise
        store = cls(path, manifest, tuple(opened), lock_fd)
        store.recovered_intents = recovered
        store.checked_at_open, store.damaged_at_open = damaged is not None, damaged or 0
        return store

    @classmethod
    def _open_readonly(cls, path: Path, max_db_size: int, max_readers: int, *, exclusive: bool) -> Store:
        """An existing data dir, opened for reading only: no recovery."""
        manifest = read_manifest(path)
        if manifest is None:
            msg = f"{path} is not an mi data dir (no manifest.json)"
            raise DataDirError(msg)
        lock_fd = lock_data_dir(path) if exclusive else None
        map_size = max_db_size // manifest.shards // mmap.PAGESIZE * mmap.PAGESIZE
        opened: list[Shard] = []
        try:
            for index in range(manifest.shards):
                opened.append(
                    Shard.open(
                        path / shard_dir_name(index),
                        index,
                        map_size=max(map_size, MIN_SHARD_MAP_SIZE),
                        max_readers=max_readers,
                        readonly=True,
                    )
                )
        except BaseException:
            for shard in opened:
                shard.close()
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        store = cls(path, manifest, tuple(opened), lock_fd)
        store.readonly = True
        return store

    def shard_for(self, key: bytes) -> Shard:
        """The shard that stores ``key``."""
        return self.shards[shard_index(key, len(self.shards))]

    def namespaces(self) -> list[str]:
        """Every namespace that exists in any shard, sorted."""
        return sorted(set().union(*(shard.namespaces() for shard in self.shards)))

    def next_deadline(self) -> int | None:
        """The earliest deadline (unix ms) in any shard's expiry index, or None."""
        deadlines = [d for d in (shard.next_deadline() for shard in self.shards) if d is not None]
        return min(deadlines, default=None)

    def next_lease_expiry(self) -> int | None:
        """The earliest end of a delivery lease in any shard (unix ms), or None."""
        ends = [end for end in (shard.next_lease_expiry() for shard in self.shards) if end is not None]
        return min(ends, default=None)

    def queue_counts(self) -> dict[str, dict[str, int]]:
        """Every namespace's queue counts (``storage.queue_counts.FIELDS``), summed over the
        shards: O(namespaces), no scan. Empty for a read-only store (it counts nothing)."""
        totals: dict[str, list[int]] = {}
        for shard in self.shards:
            if shard.queue_counts is None:
                continue
            for namespace, row in shard.queue_counts.snapshot().items():
                total = totals.setdefault(namespace, [0] * len(FIELDS))
                for field, amount in enumerate(row):
                    total[field] += amount
        return {namespace: dict(zip(FIELDS, row, strict=True)) for namespace, row in totals.items()}

    def reset_queue_counters(self) -> None:
        """The queue counters from zero (CONFIG RESETSTAT); the gauges stay."""
        for shard in self.shards:
            if shard.queue_counts is not None:
                shard.queue_counts.reset_counters()

    def oldest_due(self, namespace: str) -> int | None:
        """When the message of ``namespace`` that has waited longest fell due (unix ms), or None:
        a few probes per shard (one per priority present), no scan."""
        deadlines = [d for d in (shard.oldest_due(namespace) for shard in self.shards) if d is not None]
        return min(deadlines, default=None)

    def stats(self) -> list[ShardStats]:
        return [shard.stats() for shard in self.shards]

    def reader_check(self) -> int:
        """Clear reader slots left by dead processes in every shard; how many were cleared."""
        return sum(shard.reader_check() for shard in self.shards)

    def sync(self) -> None:
        """Make every commit durable: sync each shard's log (relaxed durability, on an interval)."""
        for shard in self.shards:
            shard.sync()

    @property
    def replayed(self) -> list[Replayed]:
        """What opening replayed from each shard's log."""
        return [shard.replayed for shard in self.shards]

    def close(self) -> None:
        """Close every shard and release the data dir (idempotent); a writable store that closed
        cleanly marks the data dir so (``clean-shutdown``)."""
        try:
            for shard in self.shards:
                shard.close()
            if not self.readonly and self._lock_fd is not None:
                _mark_clean_shutdown(self.path)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.path} shards={len(self.shards)}>"


def lock_data_dir(path: Path) -> int:
    """Hold an exclusive lock on the data dir, so no second Store (here or elsewhere) opens it.
    Returns the lock's file descriptor: closing it releases the lock.

    The shards keep state in memory (revision counters, DB handles) that assumes one writer.
    """
    try:
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        msg = f"cannot open {path / LOCK_NAME}: {error}; check the data dir's permissions"
        raise DataDirError(msg) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        msg = f"data dir {path} is already in use by another mi server; stop it or use another data dir"
        raise DataDirError(msg) from None
    return fd


def check_shards(path: Path, count: int) -> int:
    """Scan every shard (each in a child process); ``StorageCorrupted`` on damage to a shard's
    structure, else how many damaged records were found."""
    damaged = 0
    for index in range(count):
        shard_dir = path / shard_dir_name(index)
        outcome = run_shard_scan(shard_dir, index, STARTUP_CHECK_MAX_DAMAGE)
        where = f"shard {index} at {shard_dir}"
        if outcome.signal_name is not None:
            raise StorageCorrupted(where, f"reading its B-tree made LMDB abort ({outcome.signal_name})", path)
        if outcome.result is None:
            raise StorageCorrupted(where, f"its check failed: {outcome.failure}", path)
        structural = [problem for area, _ns, _key, problem in outcome.result["damage"] if area == "shard"]
        if structural:
            raise StorageCorrupted(where, structural[0], path)
        damaged += outcome.result["damaged"]
    return damaged


def _forget_clean_shutdown(path: Path) -> None:
    """From now on the data dir is in use: a crash must find no marker (removal made durable)."""
    marker = path / CLEAN_SHUTDOWN_NAME
    if marker.exists():
        marker.unlink()
        sync_dirs(path)


def _mark_clean_shutdown(path: Path) -> None:
    marker = path / CLEAN_SHUTDOWN_NAME
    with marker.open("w") as file:
        file.write("the last mi server to use this data dir shut down cleanly\n")
        file.flush()
        os.fsync(file.fileno())
    sync_dirs(path)


def _manifest(path: Path, shards: int | None) -> Manifest:
    """The dir's manifest, written now if the dir is new; checks an explicit shard count."""
    manifest = read_manifest(path)
    if manifest is None:
        try:
            others = sorted(p.name for p in path.iterdir() if p.name not in (LOCK_NAME, MANIFEST_TEMP_NAME))
        except OSError as error:
            msg = f"cannot list data dir {path}: {error}"
            raise DataDirError(msg) from None
        if others:
            msg = (
                f"data dir {path} has no manifest.json but is not empty ({', '.join(others[:5])});"
                " use an empty or new directory, or restore manifest.json from a snapshot"
            )
            raise DataDirError(msg)
        manifest = Manifest.new(shards or DEFAULT_SHARDS)
        write_manifest(path, manifest)  # first: the shard dirs below are created under it
    elif shards is not None and shards != manifest.shards:
        msg = (
            f"data dir {path} was created with {manifest.shards} shards; --shards {shards} cannot"
            f" open it (omit --shards or use {manifest.shards})"
        )
        raise DataDirError(msg)
    return manifest


def _check_shard_dirs(path: Path, count: int) -> bool:
    """True if the shards are to be created (none exists yet); error if only some exist."""
    present = [(path / shard_dir_name(i) / "data.mdb").exists() for i in range(count)]
    if not any(present):  # new, or a first start interrupted right after the manifest
        return True
    missing = [shard_dir_name(i) for i, here in enumerate(present) if not here]
    if missing:
        msg = (
            f"data dir {path} lacks {', '.join(missing)} (its manifest lists {count} shards);"
            " restore the data dir from a snapshot"
        )
        raise DataDirError(msg)
    return False

