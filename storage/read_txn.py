"""``ReadTxn``: a short, read-only view of one shard at one point in time (``WriteTxn`` in
``storage.txn`` extends it with the writes a batch makes).

A thin view over an ``lmdb.Transaction`` opened with ``buffers=True``: record bytes are decoded (or
copied) before any method returns, so nothing returned refers to LMDB memory. Every ``lmdb.Error``
becomes a storage error here. Time is a parameter (``now_ms``), never read from a clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import lmdb

from storage.delivery import DeliveryDbs, DeliveryTxn
from storage.errors import CorruptRecord, StorageCorrupted, StorageError
from storage.expiry import decode_index_key, index_namespace
from storage.limits import LMDB_MAX_KEY_SIZE
from storage.counters import JOURNAL_LAST_KEY, U64
from storage.records import Record, decode_header, decode_record

__all__ = ["ReadTxn", "deadline_or_zero", "is_live", "lmdb_failure", "storable"]


def storable(key: bytes) -> bool:
    """Whether ``key`` can be looked up: any key LMDB holds (older data dirs took longer keys
    than a write accepts now, see ``storage.limits``)."""
    return 0 < len(key) <= LMDB_MAX_KEY_SIZE


def lmdb_failure(error: lmdb.Error) -> StorageError:
    if isinstance(error, lmdb.CorruptedError | lmdb.PageNotFoundError):
        return StorageCorrupted("the data dir", str(error))
    return StorageError(f"LMDB error: {error}")


def deadline_or_zero(key: bytes, data: bytes | memoryview) -> int:
    """The record's deadline, or 0 if its header is unreadable (then it is treated as live)."""
    try:
        return decode_header(key, data)[1]
    except CorruptRecord:
        return 0


def is_live(key: bytes, data: bytes | memoryview, now_ms: int) -> bool:
    deadline = deadline_or_zero(key, data)
    return deadline == 0 or deadline > now_ms


class ReadTxn:
    """Read-only view of one shard at one point in time. Valid only inside ``Shard.read()``."""

    __slots__ = ("_dbs", "_delivery", "_delivery_dbs", "_expiry_db", "_meta_db", "_txn")

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: Mapping[str, Any],
        expiry_db: Any,
        meta_db: Any,
        delivery_dbs: DeliveryDbs | None = None,
    ) -> None:
        self._txn = txn
        self._dbs = dbs  # namespace -> DB handle; never mutated (the shard publishes a new dict)
        self._expiry_db = expiry_db
        self._meta_db = meta_db
        self._delivery_dbs = delivery_dbs
        self._delivery: DeliveryTxn | None = None  # made on first use, once a transaction

    @property
    def delivery(self) -> DeliveryTxn:
        """The due queue and the messages in flight (``storage.delivery``), read-only; the entries
        it keeps in mi/meta (by key, by id, dead letters) are read there."""
        if self._delivery is None:
            dbs = attrs.evolve(self._deliveries(), by_key=self._meta_db)
            self._delivery = DeliveryTxn(self._txn, dbs, None, None, self._failure)
        return self._delivery

    def _deliveries(self) -> DeliveryDbs:
        if self._delivery_dbs is None:
            msg = "this shard has no delivery databases (opened read-only before they existed)"
            raise StorageError(msg)
        return self._delivery_dbs

    def close(self) -> None:
        """End a read transaction (``Shard.begin_read``)."""
        self._txn.abort()

    def get(self, namespace: str, key: bytes, now_ms: int) -> Record | None:
        """The live record under ``key``, or None if missing or expired; ``CorruptRecord`` if damaged."""
        db = self._dbs.get(namespace)
        if db is None or not storable(key):
            return None
        try:
            data = self._txn.get(key, db=db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        if data is None:
            return None
        record = decode_record(key, data, namespace=namespace)
        return None if record.is_expired(now_ms) else record

    def holds(self, namespace: str, key: bytes) -> bool:
        """Whether a record (live, expired or damaged) occupies ``key``."""
        db = self._dbs.get(namespace)
        if db is None or not storable(key):
            return False
        try:
            return self._txn.get(key, db=db) is not None
        except lmdb.Error as error:
            raise self._failure(error) from error

    def namespaces(self) -> list[str]:
        """The namespaces that exist in this shard, as this transaction sees them (FLUSHALL)."""
        return list(self._dbs)

    def count(self, namespace: str) -> int:
        """Records in ``namespace`` (O(1)); like Redis DBSIZE it includes expired, unreaped ones."""
        db = self._dbs.get(namespace)
        if db is None:
            return 0
        try:
            return self._txn.stat(db)["entries"]
        except lmdb.Error as error:
            raise self._failure(error) from error

    def count_expiring(self, namespace: str) -> int:
        """Records in ``namespace`` with a deadline. Scans the whole expiry index: O(index size)."""
        name = namespace.encode("ascii", "replace")
        try:
            with self._txn.cursor(db=self._expiry_db) as cursor:
                return sum(
                    1 for index_key in cursor.iternext(values=False) if index_namespace(index_key) == name
                )
        except lmdb.Error as error:
            raise self._failure(error) from error

    def scan(
        self, namespace: str, after: bytes | None, limit: int, now_ms: int
    ) -> tuple[list[bytes], bytes | None]:
        """Live keys in key order strictly after ``after``, examining at most ``limit`` records.

        Returns ``(keys, resume_after)``: pass ``resume_after`` as ``after`` for the next page;
        it is None when the namespace is exhausted. A page may hold fewer than ``limit`` keys (even
        none) while more remain, because expired records are examined but not returned.
        """
        if limit < 1:
            msg = f"scan limit must be at least 1, not {limit}"
            raise ValueError(msg)
        db = self._dbs.get(namespace)
        if db is None:
            return [], None
        keys: list[bytes] = []
        last: bytes | None = None
        try:
            with self._txn.cursor(db=db) as cursor:
                if after is None:
                    found = cursor.first()
                else:
                    found = cursor.set_range(after) if after else cursor.first()
                    if found and cursor.key() == after:
                        found = cursor.next()
                examined = 0
                while found and examined < limit:
                    last = bytes(cursor.key())
                    examined += 1
                    if is_live(last, cursor.value(), now_ms):
                        keys.append(last)
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error
        return keys, (last if found else None)

    def iter_keys(self, namespace: str, now_ms: int) -> Iterator[bytes]:
        """Every live key of ``namespace`` in key order (for KEYS). Consume it inside the txn."""
        db = self._dbs.get(namespace)
        if db is None:
            return
        try:
            with self._txn.cursor(db=db) as cursor:
                for key, value in cursor.iternext():
                    if is_live(key, value, now_ms):
                        yield bytes(key)
        except lmdb.Error as error:
            raise self._failure(error) from error

    def deadlines(self) -> Iterator[tuple[int, str, bytes]]:
        """The expiry index in deadline order: ``(deadline_ms, namespace, key)``."""
        for _index_key, entry in self.index_entries():
            yield entry

    def index_entries(self, after: bytes | None = None) -> Iterator[tuple[bytes, tuple[int, str, bytes]]]:
        """The expiry index in deadline order from just after the index key ``after``: each
        ``(index key, (deadline_ms, namespace, key))`` (a page of SCHEDULED resumes there)."""
        try:
            with self._txn.cursor(db=self._expiry_db) as cursor:
                found = cursor.first() if after is None else cursor.set_range(after)
                if found and after is not None and cursor.key() == after:
                    found = cursor.next()
                while found:
                    index_key = bytes(cursor.key())
                    try:
                        yield index_key, decode_index_key(index_key)
                    except ValueError:
                        pass
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error

    def journal_last(self) -> int:
        """The sequence number of the newest journal entry as of this transaction (0 if none yet)."""
        return self.counter(JOURNAL_LAST_KEY)

    def counter(self, name: bytes) -> int:
        """One of the shard's counters in mi/meta (``storage.counters``), 0 if not set yet."""
        if self._meta_db is None:
            return 0
        try:
            raw = self._txn.get(name, db=self._meta_db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        return 0 if raw is None else U64.unpack(raw)[0]

    def _failure(self, error: lmdb.Error) -> StorageError:
        return lmdb_failure(error)
