"""Moving the journal of an older data dir (the ``mi/journal`` LMDB database) into the log.

Older versions of mi kept one journal entry per operation in LMDB, synced with every commit. At
the first open by this version each entry becomes a log record of its own (no raw writes: it is
history, already applied), the shard's counters say so, and the database is deleted. Crash-safe by
doing it again: until the commit that deletes the database, a restart throws the new log away and
starts over; the data itself is not touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import lmdb

from storage.counters import APPLIED_KEY, JOURNAL_LAST_KEY, U64
from storage.errors import StorageError
from storage.journal import JournalDamaged, decode_entry
from storage.log_format import encode_record
from storage.wal import ShardLog

__all__ = ["migrate_journal"]


def migrate_journal(env: lmdb.Environment, journal_db: Any, meta_db: Any, log_dir: Path, shard: int) -> int:
    """Copy the journal into a new log at ``log_dir`` and delete the database; the last lsn written."""
    shutil.rmtree(log_dir, ignore_errors=True)
    with env.begin(buffers=True) as txn:
        raw_last = txn.get(JOURNAL_LAST_KEY, db=meta_db)
        with txn.cursor(db=journal_db) as cursor:
            entries = []
            for key, value in cursor:
                try:
                    entries.append(decode_entry(key, value))
                except JournalDamaged:
                    continue  # ``mi verify`` of the old version would have named it; nothing to keep
    journal_last = max([entries[-1].seq if entries else 0, 0 if raw_last is None else U64.unpack(raw_last)[0]])
    first_seq = entries[0].seq if entries else journal_last + 1
    log = ShardLog.open(log_dir, shard, durable=False, applied_lsn=0, next_seq=first_seq)
    try:
        for entry in entries:
            record = encode_record(log.next_lsn, entry.seq, entry.timestamp_ms, [(entry.label, entry.changes)], [])
            log.append(record, entry.seq)
        log.sync()
        applied = log.next_lsn - 1
    finally:
        log.close()
    try:
        with env.begin(write=True) as txn:
            txn.put(APPLIED_KEY, U64.pack(applied), db=meta_db)
            txn.put(JOURNAL_LAST_KEY, U64.pack(journal_last), db=meta_db)
            txn.drop(journal_db, delete=True)
        env.sync(True)
    except lmdb.Error as error:
        msg = f"shard {shard}: moving the journal into the log failed: {error}"
        raise StorageError(msg) from None
    return applied
