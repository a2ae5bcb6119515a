"""Replay: apply the log's records after a shard's last commit, as its commits applied them.

Each record holds the final states of the records it changed (its journal entries' changes) and
its raw writes to internal databases (``storage.log_format``), so applying one is writing those
bytes: no op runs again, nothing is read back. Records are applied many per LMDB transaction (each
commit records the last one applied, ``log/applied``); a crash during replay replays again from
there, which writes the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import lmdb
from attrs import frozen

from storage.changes import ChangeOp
from storage.counters import APPLIED_KEY, JOURNAL_LAST_KEY, U64
from storage.errors import StorageError
from storage.log_format import LogRecord, OpKind
from storage.names import db_name, namespace_of

if TYPE_CHECKING:
    from storage.shard import Shard

__all__ = ["Progress", "Replayed", "replay"]

Progress = Callable[[int, int, int], None]  # told (shard, records replayed so far, records in all)
RECORDS_PER_COMMIT = 2000


@frozen
class Replayed:
    records: int = 0
    entries: int = 0
    first_lsn: int = 0
    last_lsn: int = 0
    seconds: float = 0.0


def replay(shard: Shard, records: Iterable[LogRecord], total: int, progress: Progress | None = None) -> Replayed:
    """Apply ``records`` (the ``total`` after the shard's last commit, in order) to ``shard``."""
    started = time.monotonic()
    count = entries = 0
    first = last = 0
    for chunk in _chunks(records, RECORDS_PER_COMMIT):
        _apply(shard, chunk)
        count += len(chunk)
        entries += sum(len(record.entries) for record in chunk)
        first, last = first or chunk[0].lsn, chunk[-1].lsn
        if progress is not None:
            progress(shard.index, count, total)
    return Replayed(count, entries, first, last, time.monotonic() - started)


def _chunks(records: Iterable[LogRecord], size: int) -> Iterator[list[LogRecord]]:
    chunk: list[LogRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _apply(shard: Shard, records: list[LogRecord]) -> None:
    env = shard._env  # noqa: SLF001 - replay is part of opening the shard
    dbs = dict(shard._dbs)  # noqa: SLF001
    internal = shard.internal_dbs
    meta = internal[b"mi/meta"]
    txn = env.begin(write=True)
    try:
        for record in records:
            for op in record.ops:  # a namespace's creation comes first: its changes need it
                if op.kind is OpKind.CREATE:
                    handle = env.open_db(op.db, txn=txn, create=True)
                    namespace = namespace_of(op.db)
                    if namespace is not None:
                        dbs[namespace] = handle
            for entry in record.entries:
                for change in entry.changes:
                    db = dbs.get(change.namespace)
                    if change.op is ChangeOp.PUT:
                        if db is None:
                            db = dbs[change.namespace] = env.open_db(db_name(change.namespace), txn=txn, create=True)
                        txn.put(change.key, change.data, db=db)
                    elif db is not None and change.op is ChangeOp.DELETE:
                        txn.delete(change.key, db=db)
                    elif db is not None:
                        txn.drop(db, delete=False)
            for op in record.ops:
                _apply_op(txn, internal, op.kind, op.db, op.key, op.value)
        last = records[-1]
        txn.put(APPLIED_KEY, U64.pack(last.lsn), db=meta)
        journal_last = max((r.last_seq for r in records), default=shard.journal_last)
        txn.put(JOURNAL_LAST_KEY, U64.pack(max(journal_last, shard.journal_last)), db=meta)
        txn.commit()
    except lmdb.Error as error:
        txn.abort()
        msg = f"shard {shard.index}: replaying log records {records[0].lsn}..{records[-1].lsn} failed: {error}"
        raise StorageError(msg) from None
    except BaseException:
        txn.abort()
        raise
    shard._dbs = dbs  # noqa: SLF001
    shard.reload_counters()


def _apply_op(txn: lmdb.Transaction, internal: dict[bytes, Any], kind: OpKind, name: bytes, key: bytes, value: bytes) -> None:
    if kind is OpKind.CREATE:
        return
    db = internal.get(name)
    if db is None:
        msg = f"the log writes to a database this shard does not have ({name!r})"
        raise StorageError(msg)
    if kind is OpKind.PUT:
        txn.put(key, value, db=db)
    elif kind is OpKind.DELETE:
        txn.delete(key, db=db)
    else:
        txn.drop(db, delete=False)
