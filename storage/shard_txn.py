"""A shard's write transaction driven by its caller (cross-shard transactions, and each attempt of
a group commit): ops on ``.ops``, journal entries added, then ``commit()`` or ``abort()``.

The commit writes what the transaction owes the shard's counters: the highest revision handed
out, and a journal entry per operation, numbered after the shard's last.
"""

from __future__ import annotations

import struct
import time
from typing import TYPE_CHECKING

import lmdb

from storage.changes import Change
from storage.errors import StorageError
from storage.journal import encode_entry, entry_key
from storage.txn import TxnState, WriteTxn

if TYPE_CHECKING:
    from storage.shard import Shard

__all__ = ["REVISION", "REVISION_KEY", "ShardTxn"]

REVISION_KEY = b"revision"  # in mi/meta: the highest revision ever handed out (u64)
REVISION = struct.Struct(">Q")


class ShardTxn:
    """An open write transaction on one shard (see ``Shard.begin``)."""

    def __init__(self, shard: Shard, txn: lmdb.Transaction, ops: WriteTxn, state: TxnState) -> None:
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
        """Commit (and with durability, sync); ``StorageFull`` or ``StorageError`` if it fails."""
        shard = self.shard
        if self.state.failure is not None:  # an op swallowed an LMDB error: this cannot commit
            self.abort()
            raise self.state.failure
        revision = shard._revisions.last  # noqa: SLF001 - the shard's own transaction
        seq = shard.journal_last
        try:
            if revision != shard._revisions.persisted:  # noqa: SLF001
                self._txn.put(REVISION_KEY, REVISION.pack(revision), db=shard._meta_db)  # noqa: SLF001
            now_ms = time.time_ns() // 1_000_000
            for label, changes in self._entries:
                seq += 1
                entry = encode_entry(seq, now_ms, label, changes)
                self._txn.put(entry_key(seq), entry, db=shard._journal_db, append=True)  # noqa: SLF001
            self._txn.commit()
        except lmdb.Error as error:
            self.abort()
            if isinstance(error, lmdb.MapFullError):
                raise shard._full() from None  # noqa: SLF001
            msg = (
                f"shard {shard.index}: could not write to disk ({error}); is the disk full? Nothing"
                " of this write was applied; acknowledged writes are safe"
            )
            raise StorageError(msg) from error
        self._finished = self.committed = True
        shard.journal_last = seq
        shard._committed(revision, self.state)  # noqa: SLF001

    def put_intent(self, intent: bytes) -> bytes:
        """Store a cross-shard intent in this transaction; returns its key."""
        key = REVISION.pack(self.shard._revisions.allocate())  # noqa: SLF001 - unique, increasing
        self.state.changes += 1
        try:
            self._txn.put(key, intent, db=self.shard._intent_db)  # noqa: SLF001
        except lmdb.Error as error:
            raise self.ops._failure(error) from error  # noqa: SLF001 - flags map-full for commit
        return key

    def abort(self) -> None:
        if not self._finished:
            self._finished = True
            self._txn.abort()
