"""A shard's write transaction driven by its caller (cross-shard transactions, and each attempt of
a group commit): ops on ``.ops``, journal entries added, then ``commit()`` or ``abort()``.

The commit is write-ahead: the transaction's log record (its journal entries and its raw writes,
``storage.log_format``) is appended to the shard's log, and synced in strict durability, before
LMDB commits without a sync of its own. A record whose LMDB commit then fails is taken back out of
the log. The commit also writes what the transaction owes the shard's counters (``storage.counters``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import lmdb

from storage.changes import Change
from storage.counters import APPLIED_KEY, JOURNAL_LAST_KEY, REVISION_KEY, U64
from storage.errors import DiskFull, StorageError
from storage.log_format import encode_record
from storage.logged_txn import LoggedTxn
from storage.txn import TxnState, WriteTxn

if TYPE_CHECKING:
    from storage.shard import Shard

__all__ = ["ShardTxn"]


class ShardTxn:
    """An open write transaction on one shard (see ``Shard.begin``)."""

    def __init__(self, shard: Shard, txn: LoggedTxn, ops: WriteTxn, state: TxnState) -> None:
        self.shard = shard
        self.ops = ops
        self.state = state
        self._txn = txn
        self._finished = False
        self.committed = False
        self._entries: list[tuple[str, list[Change]]] = []

    def add_entry(self, label: str, changes: list[Change]) -> None:
        """Journal ``changes`` as one operation named ``label``, written by ``commit``."""
        if changes:
            self._entries.append((label, changes))

    def commit(self) -> None:
        """Log (and with durability, sync) then commit; ``StorageFull`` or ``StorageError`` if it fails."""
        shard = self.shard
        if self.state.failure is not None:  # an op swallowed an LMDB error: this cannot commit
            self.abort()
            raise self.state.failure
        log = shard._log  # noqa: SLF001 - the shard's own transaction
        revision = shard._revisions.last  # noqa: SLF001
        first_seq = shard.journal_last + 1
        last_seq = shard.journal_last + len(self._entries)
        txn = self._txn
        try:
            if revision != shard._revisions.persisted:  # noqa: SLF001
                txn.put(REVISION_KEY, U64.pack(revision), db=shard._meta_db)  # noqa: SLF001
            if not self._entries and not txn.ops:  # nothing changed: nothing to log
                record = None
            else:
                lsn = log.next_lsn
                txn.raw.put(APPLIED_KEY, U64.pack(lsn), db=shard._meta_db)  # noqa: SLF001
                txn.raw.put(JOURNAL_LAST_KEY, U64.pack(last_seq), db=shard._meta_db)  # noqa: SLF001
                record = encode_record(lsn, first_seq, time.time_ns() // 1_000_000, self._entries, txn.ops)
        except lmdb.Error as error:
            self.abort()
            raise self._commit_failure(error) from None
        if record is not None:
            try:
                log.append(record, first_seq)
            except StorageError:
                self.abort()
                raise
        try:
            txn.raw.commit()
        except lmdb.Error as error:
            self._finished = True
            if record is not None:
                log.undo(len(record))
            raise self._commit_failure(error) from None
        self._finished = self.committed = True
        if record is not None:
            shard.journal_last = last_seq
            shard.applied_lsn = lsn
            shard.log_bytes += len(record)
        shard._committed(revision, self.state)  # noqa: SLF001

    def _commit_failure(self, error: lmdb.Error) -> StorageError:
        if isinstance(error, lmdb.MapFullError):
            return self.shard._full()  # noqa: SLF001
        if DiskFull.means(error):
            return DiskFull(f"shard {self.shard.index}'s data file", str(error))
        msg = (
            f"shard {self.shard.index}: could not write to disk ({error}); is the disk full? Nothing"
            " of this write was applied; acknowledged writes are safe"
        )
        return StorageError(msg)

    def put_intent(self, intent: bytes) -> bytes:
        """Store a cross-shard intent in this transaction; returns its key."""
        key = U64.pack(self.shard._revisions.allocate())  # noqa: SLF001 - unique, increasing
        self.state.changes += 1
        try:
            self._txn.put(key, intent, db=self.shard._intent_db)  # noqa: SLF001
        except lmdb.Error as error:
            raise self.ops._failure(error) from error  # noqa: SLF001 - flags map-full for commit
        return key

    def abort(self) -> None:
        if not self._finished:
            self._finished = True
            self._txn.raw.abort()
