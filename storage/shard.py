"""One shard: one LMDB environment (``data_dir/shard-000/``...) with its namespaces and expiry index.

Threading (LMDB binds a write transaction to one OS thread): ``write_batch`` begins, applies and
commits its transaction inside one call, which the server makes on a worker thread, at most one at a
time per shard. ``read`` transactions are short and may run on any thread meanwhile.

Map size: LMDB reserves address space for the map, not disk, so each shard maps its whole ceiling
(its share of ``max_db_size``) once at open and never resizes. ``set_mapsize`` needs every
transaction in the process closed, which would race with readers; a fixed ceiling avoids that, and
reaching it answers ``StorageFull`` while reads and deletes keep working.

Durability: LMDB commits without a sync of its own (``sync=False``); each commit is first
appended to the shard's write-ahead log (``storage.wal``), and with ``durable=True`` that append
is fdatasynced before the commit, so one sequential sync makes a batch durable. ``durable=False``
("relaxed") syncs the log only when the server calls ``sync()`` on an interval. A checkpoint
(``storage.checkpoint``) makes the environment itself durable up to a commit and keeps that commit
intact on disk until the next one; an unclean start reopens it and replays the log after it.
``writemap`` is never used: a stray write through the map could corrupt the file, and it would
hand dirty pages to the OS to flush whenever it likes.

Aborts are kept off the common path: in py-lmdb 3.0 aborting a write transaction waits until no
other thread is inside an operation on the same environment, so it can starve while two or more
threads read that shard back to back (commits do not wait). Here a write transaction aborts only
when an op fails after writing, on an LMDB error, or when the map is full.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import lmdb
from attrs import frozen

from storage.batch import run_batch
from storage.changes import Change
from storage.checkpoint import Checkpoint, CheckpointKeeper
from storage.counters import APPLIED_KEY, JOURNAL_LAST_KEY, REVISION_KEY, U64
from storage.delivery import DeliveryDbs
from storage.errors import DataDirError, StorageCorrupted, StorageError, StorageFull
from storage.journal import JournalEntry
from storage.journal_migration import migrate_journal
from storage.limits import LMDB_MAX_KEY_SIZE
from storage.log_format import LogDamaged
from storage.logged_txn import LoggedTxn
from storage.replay import Progress, Replayed, replay
from storage.wal import LOG_DIR_NAME, ShardLog, list_segments, read_entries, read_records
from storage.names import (
    DUE_DB,
    EXPIRY_DB,
    INFLIGHT_DB,
    INTENT_DB,
    INTERNAL_DB_COUNT,
    JOURNAL_DB,
    LEASES_DB,
    META_DB,
    QUARANTINE_DB,
    db_name,
    namespace_of,
)
from storage.queue_counts import QueueCounts
from storage.shard_txn import ShardTxn
from storage.txn import SETTING_PREFIX, ReadTxn, RevisionCounter, TxnLimits, TxnState, WriteTxn

__all__ = [
    "DEFAULT_MAX_NAMESPACES",
    "DEFAULT_MAX_READERS",
    "DEFAULT_MAX_VALUE_SIZE",
    "Shard",
    "ShardStats",
    "WriteOp",
]

DEFAULT_MAX_VALUE_SIZE = 16 * 1024**2
DEFAULT_MAX_NAMESPACES = 1024
DEFAULT_MAX_READERS = 256  # Trio's 40 worker threads, the event loop, CLI tools, with room to spare
FILE_MODE = 0o700  # messages are private to the server's user


WriteOp = Callable[[WriteTxn], Any]


@frozen
class ShardStats:
    index: int
    map_size: int  # bytes: the shard's ceiling
    page_size: int
    used_pages: int  # pages in all B-trees (main DB + internal + namespaces)
    high_water_pages: int  # pages of the file ever used; freed pages are reused before new ones
    entries: dict[str, int]  # records per namespace (expired-not-reaped included)
    expiring: int  # entries in the expiry index
    revision: int  # the last revision handed out


def _abort_unless(committed: bool, txn: lmdb.Transaction) -> None:
    if not committed:
        txn.abort()


class Shard:
    """One LMDB environment. Create with ``Shard.open``."""

    def __init__(
        self, env: lmdb.Environment, index: int, path: Path, durable: bool, limits: TxnLimits
    ) -> None:
        self.index = index
        self.path = path
        self.durable = durable
        self._env = env
        self._limits = limits
        # namespace -> DB handle. Never mutated: a new dict is published after the creating
        # transaction commits, so a reader that picked up a handle can always use it.
        self._dbs: dict[str, Any] = {}
        self._expiry_db: Any = None
        self._meta_db: Any = None
        self._intent_db: Any = None
        self._journal_db: Any = None  # only in data dirs of an older mi, until migrated
        self._delivery_dbs: DeliveryDbs | None = None
        self.internal_dbs: dict[bytes, Any] = {}  # name -> handle of each internal DB (for replay)
        self._internal: dict[int, bytes] = {}  # id(handle) -> name (for the log)
        self.journal_last = 0  # the newest journal entry's sequence number
        self.applied_lsn = 0  # the last log record committed here
        self.log_bytes = 0  # appended to the log since the last checkpoint
        self.checkpointed_at = 0.0  # time.monotonic() of the last checkpoint
        self.checkpoint_lsn = 0  # the last log record it holds (one is taken at every open)
        self.replayed = Replayed()  # what opening replayed from the log
        self._log: ShardLog | None = None
        self._checkpoints = CheckpointKeeper(env, path, index)
        self.readonly = False
        self._revisions = RevisionCounter()
        self.queue_counts: QueueCounts | None = None  # counted at open (writable), kept by commits
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        index: int = 0,
        *,
        map_size: int,
        durable: bool = True,
        max_value_size: int = DEFAULT_MAX_VALUE_SIZE,
        max_namespaces: int = DEFAULT_MAX_NAMESPACES,
        max_readers: int = DEFAULT_MAX_READERS,
        create: bool = True,
        readonly: bool = False,
        progress: Progress | None = None,
    ) -> Shard:
        """Open (or with ``create``, create) the shard environment in directory ``path``, and
        replay its log after the environment's last commit (``progress`` told as records go).

        ``readonly``: for tools that read while a server may be writing (``mi journal``, ``mi
        verify``, ``mi snapshot``); LMDB's lock file keeps their readers and its writer apart.
        """
        path = Path(path)
        try:
            env = lmdb.open(
                str(path),
                map_size=map_size,
                subdir=True,
                create=create and not readonly,
                readonly=readonly,
                mode=FILE_MODE,
                max_dbs=max_namespaces + INTERNAL_DB_COUNT,
                max_readers=max_readers,
                sync=False,  # the log makes commits durable (see the module docstring)
                metasync=False,
                lock=True,
                writemap=False,
            )
        except (lmdb.Error, OSError) as error:
            msg = f"cannot open shard {index} at {path}: {error}"
            raise DataDirError(msg) from None
        limits = TxnLimits(index, map_size, max_value_size, max_namespaces)
        shard = cls(env, index, path, durable, limits)
        shard.readonly = readonly
        try:
            shard._open_databases()  # noqa: SLF001 - part of construction
            if not readonly:
                shard._open_log(progress)  # noqa: SLF001
                shard._count_queues()  # noqa: SLF001
        except BaseException:
            shard._release()  # noqa: SLF001
            raise
        return shard

    def _open_log(self, progress: Progress | None) -> None:
        """Open the log, replay what the environment lacks, and checkpoint the result."""
        directory = self.path / LOG_DIR_NAME
        if self._journal_db is not None:  # a data dir of an older mi: its journal moves to the log
            self.applied_lsn = migrate_journal(self._env, self._journal_db, self._meta_db, directory, self.index)
            self._journal_db = None
        self._checkpoints.keep_current()  # the state replay starts from stays intact meanwhile
        self._log = ShardLog.open(
            directory, self.index, durable=self.durable, applied_lsn=self.applied_lsn, next_seq=self.journal_last + 1
        )
        try:
            records = read_records(self._log.segments, self.applied_lsn)
            self.replayed = replay(self, records, self._log.next_lsn - 1 - self.applied_lsn, progress)
        except LogDamaged as error:
            raise StorageCorrupted(f"shard {self.index}'s log at {directory}", str(error), self.path.parent) from None
        self.checkpoint()

    def _open_databases(self) -> None:
        """Open every existing DB (open_db is not thread-safe: all of them now, before any use)."""
        env = self._env
        try:
            env.reader_check()  # clear reader slots left by crashed processes
            if env.max_key_size() < LMDB_MAX_KEY_SIZE:
                msg = f"this LMDB build allows {env.max_key_size()}-byte keys; mi needs {LMDB_MAX_KEY_SIZE}"
                raise DataDirError(msg)
            # LMDB may round the map size or raise it to the space already in use.
            self._limits = attrs.evolve(self._limits, map_size=env.info()["map_size"], page_size=env.stat()["psize"])
            if self.readonly:
                # A read-only environment keeps no handle opened inside a read transaction:
                # list the names in one, then open each handle on its own.
                with env.begin() as txn:
                    namespaces = self._namespaces_in(txn)
                self._open_handles(namespaces, None)
                with env.begin() as txn:
                    revision, journal_last, applied = self._counters(txn)
            else:
                txn = env.begin(write=True)
                committed = False
                try:
                    self._open_handles(self._namespaces_in(txn), txn)
                    revision, journal_last, applied = self._counters(txn)
                    txn.commit()
                    committed = True
                finally:
                    _abort_unless(committed, txn)
        except (lmdb.CorruptedError, lmdb.PageNotFoundError, struct.error) as error:
            raise StorageCorrupted(f"shard {self.index} at {self.path}", str(error), self.path.parent) from None
        except lmdb.Error as error:
            msg = f"cannot open shard {self.index} at {self.path}: {error}; restore it from a snapshot"
            raise DataDirError(msg) from None
        self._revisions = RevisionCounter(revision, revision)
        self.journal_last, self.applied_lsn = journal_last, applied

    def _count_queues(self) -> None:
        """Count what every namespace's queue holds (``storage.queue_counts``): once, after the
        log's replay; each commit from now on applies what it changed."""
        dbs = self._delivery_dbs
        try:
            with self._env.begin(buffers=True) as txn:
                self.queue_counts = QueueCounts.count(txn, self._expiry_db, dbs.due, dbs.inflight, self._meta_db)
        except lmdb.Error as error:
            msg = f"cannot count the queues of shard {self.index} at {self.path}: {error}"
            raise DataDirError(msg) from None

    def oldest_due(self, namespace: str) -> int | None:
        """When the message of ``namespace`` due here that has waited longest fell due, or None."""
        if self._delivery_dbs is None:
            return None
        with self.read() as txn:
            return txn.delivery.oldest_due(namespace)

    def reload_counters(self) -> None:
        """Read the counters again (after replay wrote them)."""
        with self._env.begin() as txn:
            revision, self.journal_last, self.applied_lsn = self._counters(txn)
        self._revisions = RevisionCounter(revision, revision)

    def _namespaces_in(self, txn: lmdb.Transaction) -> list[str]:
        with txn.cursor() as cursor:
            names = [bytes(name) for name in cursor.iternext(values=False)]
        namespaces = sorted(ns for ns in map(namespace_of, names) if ns is not None)
        if len(namespaces) > self._limits.max_namespaces:
            msg = (
                f"shard {self.index} at {self.path} has {len(namespaces)} namespaces but"
                f" max_namespaces is {self._limits.max_namespaces}; raise max_namespaces"
            )
            raise DataDirError(msg)
        return namespaces

    def _open_handles(self, namespaces: list[str], txn: lmdb.Transaction | None) -> None:
        env = self._env
        self._dbs = {ns: env.open_db(db_name(ns), txn=txn, create=False) for ns in namespaces}
        self._expiry_db, self._meta_db, self._intent_db = (
            self._internal_db(name, txn) for name in (EXPIRY_DB, META_DB, INTENT_DB)
        )
        delivery = [self._internal_db(name, txn) for name in (DUE_DB, INFLIGHT_DB, LEASES_DB)]
        quarantine = self._internal_db(QUARANTINE_DB, txn)
        self._delivery_dbs = None if None in delivery else DeliveryDbs(*delivery, quarantine=quarantine)
        self._journal_db = self._internal_db(JOURNAL_DB, txn, create=False)
        handles = zip((EXPIRY_DB, META_DB, INTENT_DB, DUE_DB, INFLIGHT_DB, LEASES_DB, QUARANTINE_DB),
                      (self._expiry_db, self._meta_db, self._intent_db, *delivery, quarantine), strict=True)  # fmt: skip
        self.internal_dbs = {name: handle for name, handle in handles if handle is not None}
        self._internal = {id(handle): name for name, handle in self.internal_dbs.items()}

    def _internal_db(self, name: bytes, txn: lmdb.Transaction | None, *, create: bool = True) -> Any:
        """An internal DB, created if missing; read-only, a DB not there yet is None (empty)."""
        try:
            return self._env.open_db(name, txn=txn, create=create and not self.readonly)
        except lmdb.NotFoundError:
            return None

    def _counters(self, txn: lmdb.Transaction) -> tuple[int, int, int]:
        """The last revision handed out, the newest journal sequence number, the last log record."""
        def counter(key: bytes) -> int:
            raw = None if self._meta_db is None else txn.get(key, db=self._meta_db)
            return 0 if raw is None else U64.unpack(raw)[0]

        journal_last = counter(JOURNAL_LAST_KEY)
        if self._journal_db is not None:  # an older mi numbered entries by the journal DB's keys
            with txn.cursor(db=self._journal_db) as cursor:
                journal_last = max(journal_last, U64.unpack(cursor.key())[0] if cursor.last() else 0)
        return counter(REVISION_KEY), journal_last, counter(APPLIED_KEY)

    # -- reads -------------------------------------------------------------------------------

    def begin_read(self) -> ReadTxn:
        """A short read-only transaction; end it with ``close()`` on the same thread."""
        self._check_open()
        dbs = self._dbs  # taken before begin: any handle in it was committed before our snapshot
        try:
            txn = self._env.begin(buffers=True)
        except lmdb.Error as error:
            msg = f"shard {self.index}: cannot begin a read transaction: {error}"
            raise StorageError(msg) from error
        return ReadTxn(txn, dbs, self._expiry_db, self._meta_db, self._delivery_dbs)

    @contextmanager
    def read(self) -> Iterator[ReadTxn]:
        """A short read-only transaction: ``with shard.read() as txn: txn.get(...)``."""
        txn = self.begin_read()
        try:
            yield txn
        finally:
            txn.close()

    def copy_to(self, fd: int, txn: ReadTxn) -> None:
        """Write a compacted copy of the environment as ``txn`` sees it to file descriptor ``fd``.

        Runs as long as the copy takes; ``txn`` pins its pages meanwhile, writers go on.
        """
        self._check_open()
        try:
            self._env.copyfd(fd, compact=True, txn=txn._txn)  # noqa: SLF001 - same package
        except lmdb.Error as error:
            msg = f"shard {self.index}: copy failed: {error}"
            raise StorageError(msg) from error

    def copy_size(self, txn: ReadTxn) -> int:
        """About how many bytes ``copy_to`` writes for ``txn``: the pages of every tree, no free ones."""
        lmdb_txn = txn._txn  # noqa: SLF001 - same package
        handles = [*txn._dbs.values(), self._expiry_db, self._meta_db, self._intent_db]  # noqa: SLF001
        if self._delivery_dbs is not None:
            dbs = self._delivery_dbs
            handles += [dbs.due, dbs.inflight, dbs.leases, dbs.quarantine]
        try:
            stats = [lmdb_txn.stat(db) for db in handles if db is not None] + [self._env.stat()]
            page_size = self._env.stat()["psize"]
        except lmdb.Error as error:
            msg = f"shard {self.index}: cannot read statistics: {error}"
            raise StorageError(msg) from error
        pages = sum(s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"] for s in stats)
        return (pages + 2) * page_size  # and the two meta pages

    def intents(self) -> list[tuple[bytes, bytes]]:
        """Cross-shard intents stored here and not yet finished: ``(key, intent)``."""
        self._check_open()
        with self.read() as txn:
            lmdb_txn = txn._txn  # noqa: SLF001 - same package
            try:
                with lmdb_txn.cursor(db=self._intent_db) as cursor:
                    return [(bytes(key), bytes(value)) for key, value in cursor]
            except lmdb.Error as error:
                msg = f"shard {self.index}: cannot read intents: {error}"
                raise StorageError(msg) from error

    def redo(self, changes: Sequence[Change]) -> None:
        """Make ``changes`` hold in one committed transaction (idempotent), journaled "recover"."""
        txn = self.begin()
        try:
            for change in changes:
                txn.ops.redo(change)
        except BaseException:
            txn.abort()
            raise
        txn.add_entry("recover", txn.state.log)
        txn.commit()

    def finish_intent(self, key: bytes) -> None:
        """Delete a cross-shard intent once every shard holds its changes."""
        txn = self.begin()
        try:
            txn._txn.delete(key, db=self._intent_db)  # noqa: SLF001
        except lmdb.Error as error:
            txn.abort()
            msg = f"shard {self.index}: cannot delete intent: {error}"
            raise StorageError(msg) from error
        txn.commit()

    def settings(self) -> dict[str, bytes]:
        """The settings kept here with ``WriteTxn.put_setting``, by name."""
        self._check_open()
        found: dict[str, bytes] = {}
        if self._meta_db is None:
            return found
        with self.read() as txn:
            try:
                with txn._txn.cursor(db=self._meta_db) as cursor:  # noqa: SLF001 - same package
                    if cursor.set_range(SETTING_PREFIX):
                        for key, value in cursor:
                            if not bytes(key).startswith(SETTING_PREFIX):
                                break
                            found[bytes(key)[len(SETTING_PREFIX) :].decode()] = bytes(value)
            except lmdb.Error as error:
                msg = f"shard {self.index}: cannot read settings: {error}"
                raise StorageError(msg) from error
        return found

    def next_deadline(self) -> int | None:
        """The earliest deadline (unix ms) in this shard's expiry index, or None."""
        with self.read() as txn:
            return next((deadline for deadline, _ns, _key in txn.deadlines()), None)

    def next_lease_expiry(self) -> int | None:
        """When the earliest lease of a delivery in flight ends (unix ms), or None."""
        if self._delivery_dbs is None:
            return None
        with self.read() as txn:
            return txn.delivery.next_lease_expiry()

    def namespaces(self) -> set[str]:
        """The namespaces that exist in this shard (created by a first write here)."""
        return set(self._dbs)

    @property
    def revision(self) -> int:
        """The last revision handed out (committed ones are at most this)."""
        return self._revisions.last

    def stats(self) -> ShardStats:
        self._check_open()
        try:
            with self.read() as txn:
                # Same package: stat() needs the LMDB txn, and the handles this txn may use.
                lmdb_txn, dbs = txn._txn, txn._dbs  # noqa: SLF001
                stats = {ns: lmdb_txn.stat(db) for ns, db in dbs.items()}
                internal = [lmdb_txn.stat(self._expiry_db), lmdb_txn.stat(self._meta_db)]
            main = self._env.stat()  # env.stat() covers the main DB only
            info = self._env.info()
        except lmdb.Error as error:
            msg = f"shard {self.index}: cannot read statistics: {error}"
            raise StorageError(msg) from error
        pages = sum(
            s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]
            for s in [main, *internal, *stats.values()]
        )
        return ShardStats(
            index=self.index,
            map_size=info["map_size"],
            page_size=main["psize"],
            used_pages=pages,
            high_water_pages=info["last_pgno"] + 1,
            entries={ns: s["entries"] for ns, s in sorted(stats.items())},
            expiring=internal[0]["entries"],
            revision=self._revisions.last,
        )

    # -- writes ------------------------------------------------------------------------------

    def write_batch(
        self, ops: Sequence[WriteOp], labels: Sequence[str] | None = None, *, may_wait: bool = True
    ) -> list[Any]:
        """Run ``ops`` in order in one write transaction, commit once, return their outcomes (each
        op's result, or the exception it raised): group commit, see ``storage.batch``.
        ``may_wait=False``: ``WouldWait`` rather than wait for the disk, nothing applied.

        Call from one thread at a time per shard; the whole call stays on that thread.
        """
        self._check_open()
        labels = list(labels) if labels is not None else ["write"] * len(ops)
        return run_batch(self, list(ops), labels, may_wait=may_wait)

    def begin(self) -> ShardTxn:
        """A write transaction driven by the caller: ops on ``.ops``, then ``commit()`` or ``abort()``.

        Everything from here to the commit or abort must run on the calling thread. The changes
        made are listed in ``.state.log``; ``add_entry`` journals them.
        """
        self._check_open()
        if self._log is None:
            msg = f"shard {self.index} is open read-only"
            raise StorageError(msg)
        txn = LoggedTxn(self._begin_write(), self._internal)
        state = TxnState()
        ops = WriteTxn(
            self._env, txn, self._dbs, self._expiry_db, self._meta_db,
            self._delivery_dbs, self._revisions, self._limits, state,
        )
        return ShardTxn(self, txn, ops, state)

    def _committed(self, revision: int, state: TxnState) -> None:
        """Bookkeeping after a commit: the revision is on disk, created DBs are valid."""
        self._revisions.persisted = revision
        if state.created:  # only now: a handle created in a transaction that aborts is invalid
            self._dbs = {**self._dbs, **state.created}
        if self.queue_counts is not None and state.queue.rows:
            self.queue_counts.apply(state.queue)

    def _begin_write(self) -> lmdb.Transaction:
        try:
            return self._env.begin(write=True, buffers=True)
        except lmdb.Error as error:
            msg = f"shard {self.index}: cannot begin a write transaction: {error}"
            raise StorageError(msg) from error

    def _full(self) -> StorageFull:
        return StorageFull(self.index, self._limits.map_size)

    # -- lifecycle ---------------------------------------------------------------------------

    def reader_check(self) -> int:
        """Clear reader slots of processes that died holding them; how many were cleared."""
        self._check_open()
        try:
            return self._env.reader_check()
        except lmdb.Error as error:
            msg = f"shard {self.index}: reader check failed: {error}"
            raise StorageError(msg) from error

    def sync(self) -> None:
        """Make every commit so far durable: sync the log (what relaxed durability defers)."""
        self._check_open()
        if self._log is not None:
            self._log.sync()

    # -- checkpoints (see storage.checkpoint) ----------------------------------------------

    def begin_checkpoint(self) -> Checkpoint:
        """Start a checkpoint of the last commit: call between commits, from the writer's side
        (no commit may run meanwhile). ``finish_checkpoint`` may then run beside new commits."""
        self._check_open()
        self.log.sync()  # the log never lags the environment: replay needs what it holds
        checkpoint = self._checkpoints.begin(self.applied_lsn)
        self.log_bytes = 0
        return checkpoint

    def finish_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Sync the environment, record the checkpoint durably, release the previous one."""
        self._checkpoints.finish(checkpoint)
        self.checkpointed_at = time.monotonic()
        self.checkpoint_lsn = checkpoint.lsn
        self.log.keep_reserve()  # taken back after a full disk, once there is room again

    def checkpoint(self) -> None:
        """``begin_checkpoint`` then ``finish_checkpoint``, writes held off throughout."""
        self.finish_checkpoint(self.begin_checkpoint())

    # -- the journal -------------------------------------------------------------------------

    def journal(self, since: int = 0, limit: int | None = None) -> Iterator[JournalEntry]:
        """Journal entries with a sequence number above ``since``, oldest first, from the log.

        ``LogDamaged`` stops the iteration at a segment whose header is damaged.
        """
        segments = self._log.segments if self._log is not None else list_segments(self.path / LOG_DIR_NAME)
        return read_entries(segments, since, limit)

    @property
    def log(self) -> ShardLog:
        """The log, open for appending (not in a read-only shard)."""
        if self._log is None:
            msg = f"shard {self.index} is open read-only"
            raise StorageError(msg)
        return self._log

    def close(self) -> None:
        """Checkpoint and close (idempotent). No transaction may be open.

        The checkpoint leaves nothing to replay at the next start.
        """
        if not self._closed:
            try:
                if self._log is not None:
                    self.checkpoint()
            finally:
                self._release()

    def _release(self) -> None:
        self._closed = True
        self._checkpoints.release()
        if self._log is not None:
            self._log.close()
        self._env.close()

    def _check_open(self) -> None:
        if self._closed:
            msg = f"shard {self.index} is closed"
            raise StorageError(msg)

    def __repr__(self) -> str:
        return f"<Shard {self.index} {self.path}>"
