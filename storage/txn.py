"""Writing one shard: ``WriteTxn`` (inside a batch), over ``ReadTxn`` (``storage.read_txn``).

Both are thin views over an ``lmdb.Transaction`` opened with ``buffers=True``: record bytes are
decoded (or copied) before any method returns, so nothing returned refers to LMDB memory. Every
``lmdb.Error`` becomes a storage error here. Time is a parameter (``now_ms``), never read from a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import lmdb
from attrs import define, frozen

from storage.changes import Change, ChangeOp
from storage.delivery import DeliveryDbs, DeliveryTxn, undeliverable
from storage.quarantine import Quarantined
from storage.errors import (
    InvalidKey,
    KeyTooLarge,
    StorageError,
    StorageFull,
    TooManyNamespaces,
    ValueTooLarge,
)
from storage.limits import MAX_KEY_SIZE
from storage.expiry import (
    decode_index_key,
    encode_index_key,
    index_deadline,
    index_namespace,
)
from storage.names import db_name, validate_namespace
from storage.queue_counts import EXPIRED, SCHEDULED, QueueDelta
from storage.records import (
    U64_MAX,
    Kind,
    Record,
    Value,
    decode_record,
    encode_payload,
    pack_record,
    payload_offset,
    record_priority,
)

from storage.read_txn import ReadTxn, deadline_or_zero, lmdb_failure, storable

__all__ = ["KEEP", "SETTING_PREFIX", "Keep", "ReadTxn", "RevisionCounter", "TxnLimits", "TxnState", "WriteTxn"]

SETTING_PREFIX = b"setting/"  # server settings kept in mi/meta (see WriteTxn.put_setting)
RECORD_OVERHEAD = 64  # bytes a stored record takes beyond its key and payload, about (headers, index)


class Keep(enum.Enum):
    """``KEEP``: a put keeps the priority of the record it replaces (INCR, LPUSH... keep it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@define
class RevisionCounter:
    """The shard's revision counter: only moves forward, even when a transaction aborts."""

    last: int = 0
    persisted: int = 0

    def allocate(self) -> int:
        self.last += 1
        return self.last

    def advance_to(self, revision: int) -> None:
        """A record written with ``revision`` exists: never hand it out again."""
        self.last = max(self.last, revision)


@frozen
class TxnLimits:
    shard: int
    map_size: int
    max_value_size: int
    max_namespaces: int
    page_size: int = 4096

    @property
    def reserve_bytes(self) -> int:
        """What stores leave free for deletes: 2% of the map, at least 1 MiB (but half a tiny map)."""
        return min(max(self.map_size // 50, 1024**2), self.map_size // 2)


@define
class TxnState:
    """What a write transaction did, read by ``Shard.write_batch`` after each op.

    Flags rather than exceptions, so an op that swallows an exception cannot hide them.
    """

    changes: int = 0  # mutations attempted: an op that raised after one must be rolled back
    map_full: bool = False  # LMDB said MDB_MAP_FULL: the transaction can only be aborted
    full_while_storing: bool = False  # ... while storing a record (not deleting)
    failure: StorageError | None = None  # any LMDB error (map full included): abort the transaction
    created: dict[str, Any] = attrs.Factory(dict)  # namespace DBs created: publish after commit
    log: list[Change] = attrs.Factory(list)  # every change made: for the journal and intents
    quarantined: list[Quarantined] = attrs.Factory(list)  # items set aside: for the caller to log
    room: int | None = None  # bytes of the map free for stores, counted at the first (``_take_room``)
    queue: QueueDelta = attrs.Factory(QueueDelta)  # queue counts changed: applied after commit

    def record(self, change: Change) -> None:
        self.log.append(change)


class WriteTxn(ReadTxn):
    """The write transaction handed to each op of a ``Shard.write_batch``.

    Validation happens before anything is written, so a rejected put leaves no trace even without
    the batch's rollback. Each successful mutation takes the next shard revision.
    """

    __slots__ = ("_env", "_limits", "_revisions", "_state")

    def __init__(
        self,
        env: lmdb.Environment,
        txn: lmdb.Transaction,
        dbs: Mapping[str, Any],
        expiry_db: Any,
        meta_db: Any,
        delivery_dbs: DeliveryDbs,
        revisions: RevisionCounter,
        limits: TxnLimits,
        state: TxnState,
    ) -> None:
        super().__init__(txn, dbs, expiry_db, meta_db, delivery_dbs)
        self._env = env  # only for open_db: py-lmdb's Transaction has no env attribute at runtime
        self._revisions = revisions
        self._limits = limits
        self._state = state

    @property
    def max_value_size(self) -> int:
        """The largest value this shard stores (a namespace's own limit may be lower)."""
        return self._limits.max_value_size

    def put(
        self,
        namespace: str,
        key: bytes,
        value: Value,
        expires_at: int,
        *,
        priority: int | None | Keep = KEEP,
        max_value_size: int | None = None,
    ) -> Record:
        """Store ``value`` under ``key`` (replacing any record), expiring at ``expires_at`` (0 = never).

        ``priority``: the delivery priority to store (None: the default); ``KEEP``, that of the
        record replaced. ``max_value_size``: a lower limit than the shard's (a namespace's own).
        """
        validate_namespace(namespace)
        if not key:
            raise InvalidKey
        if len(key) > MAX_KEY_SIZE:
            raise KeyTooLarge(len(key), MAX_KEY_SIZE)
        key = bytes(key)
        kind, payload = encode_payload(value)
        limit = self._limits.max_value_size if max_value_size is None else min(max_value_size, self._limits.max_value_size)
        if len(payload) > limit:
            raise ValueTooLarge(len(payload), limit)
        _check_deadline(expires_at)
        self._take_room(len(key) + len(payload))
        db = self._dbs.get(namespace)
        if db is None:
            db = self._create_namespace(namespace)
        try:
            old = self._txn.get(key, db=db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        old_deadline = 0 if old is None else deadline_or_zero(key, old)
        if priority is KEEP:
            priority = None if old is None else record_priority(old)
        revision = self._revisions.allocate()
        data = pack_record(key, kind, payload, expires_at, revision, priority)
        self._state.changes += 1
        try:
            self._txn.put(key, data, db=db)
            self._move_index_entry(namespace, key, old_deadline, expires_at)
        except lmdb.Error as error:
            raise self._failure(error, storing=True) from error
        self._state.record(Change(ChangeOp.PUT, namespace, key, data))
        return Record(kind, payload if kind is Kind.STRING else value, expires_at, revision, priority)

    def _take_room(self, size: int) -> None:
        """Stores leave ``reserve_bytes`` of the map free, so that deletes (how space comes back)
        always find the few pages they need: ``StorageFull`` before anything is written."""
        state = self._state
        if state.room is None:
            state.room = self._room()
        if state.room - size < self._limits.reserve_bytes:
            raise StorageFull(self._limits.shard, self._limits.map_size)
        state.room -= size + RECORD_OVERHEAD

    def _room(self) -> int:
        """About how many bytes of the map are not in any tree (counted only near the end)."""
        limits = self._limits
        try:
            high_water = (self._env.info()["last_pgno"] + 1) * limits.page_size
            if high_water < limits.map_size - 2 * limits.reserve_bytes:
                return limits.map_size - high_water + limits.reserve_bytes  # far from the end
            dbs = [*self._dbs.values(), self._expiry_db, self._meta_db]
            if self._delivery_dbs is not None:
                delivery = self._delivery_dbs
                dbs += [delivery.due, delivery.inflight, delivery.leases, delivery.quarantine]
            stats = [self._txn.stat(db) for db in dbs if db is not None] + [self._env.stat()]
        except lmdb.Error as error:
            raise self._failure(error) from error
        pages = sum(s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"] for s in stats)
        return limits.map_size - pages * limits.page_size

    @property
    def delivery(self) -> DeliveryTxn:
        """The due queue and the messages in flight (``storage.delivery``), in this transaction;
        the due queue's entries by key (``storage.due_keys``) are kept in mi/meta."""
        if self._delivery is None:  # made once a transaction: the reaper asks for it per message
            dbs = attrs.evolve(self._deliveries(), by_key=self._meta_db)
            self._delivery = DeliveryTxn(
                self._txn, dbs, self._revisions, self._state, lambda e: self._failure(e, storing=True)
            )
        return self._delivery

    def put_setting(self, name: str, value: bytes | None) -> None:
        """Keep (or with None, forget) a server setting in the data dir, beside the data."""
        self._state.changes += 1
        try:
            if value is None:
                self._txn.delete(SETTING_PREFIX + name.encode(), db=self._meta_db)
            else:
                self._txn.put(SETTING_PREFIX + name.encode(), value, db=self._meta_db)
        except lmdb.Error as error:
            raise self._failure(error) from error

    def delete(self, namespace: str, key: bytes, *, now_ms: int | None = None) -> bool:
        """Remove ``key`` and its index entry; True if a record was there.

        With ``now_ms``, an expired record is removed too but counts as absent (as in Redis DEL).
        """
        db = self._dbs.get(namespace)
        if db is None or not storable(key):
            return False
        try:
            old = self._txn.get(key, db=db)
            if old is None:
                return False
            deadline = deadline_or_zero(key, old)
            self._state.changes += 1
            self._txn.delete(key, db=db)
            if deadline:
                self._txn.delete(encode_index_key(deadline, namespace, key), db=self._expiry_db)
                self._state.queue.add(namespace, SCHEDULED, -1)
        except lmdb.Error as error:
            raise self._failure(error) from error
        self._state.record(Change(ChangeOp.DELETE, namespace, bytes(key)))
        return now_ms is None or deadline == 0 or deadline > now_ms

    def set_expiry(self, namespace: str, key: bytes, expires_at: int, *, now_ms: int) -> Record | None:
        """Set the deadline of a live record (0 = persist), taking a new revision; None if absent."""
        _check_deadline(expires_at)
        db = self._dbs.get(namespace)
        if db is None or not storable(key):
            return None
        try:
            data = self._txn.get(key, db=db)
            if data is None:
                return None
            record = decode_record(key, data, namespace=namespace)
            if record.is_expired(now_ms):
                return None
            payload = bytes(memoryview(data)[payload_offset(data) :])
            revision = self._revisions.allocate()
            self._state.changes += 1
            new_data = pack_record(key, record.kind, payload, expires_at, revision, record.priority)
            self._txn.put(key, new_data, db=db)
            self._move_index_entry(namespace, key, record.expires_at, expires_at)
        except lmdb.Error as error:
            raise self._failure(error, storing=True) from error
        self._state.record(Change(ChangeOp.PUT, namespace, bytes(key), new_data))
        return attrs.evolve(record, expires_at=expires_at, revision=revision)

    def reap_due(
        self, now_ms: int, limit: int, delivers: Callable[[str], bool] | None = None
    ) -> list[tuple[str, bytes]]:
        """Remove records whose deadline is at or before ``now_ms``, earliest first: deleted, or
        in a namespace that ``delivers``, moved to its due queue (``storage.delivery``).

        Examines at most ``limit`` index entries; returns the ``(namespace, key)`` of each record
        removed. An entry whose record is gone or has another deadline is just dropped. A record
        that cannot be delivered (damaged, or a key too long for the due queue) is quarantined
        (``quarantined``), so it never stops the others.
        """
        removed: list[tuple[str, bytes]] = []
        if limit < 1:
            return removed
        try:
            queue = self._state.queue
            for index_key in self._due_index_keys(now_ms, limit):
                self._state.changes += 1
                self._txn.delete(index_key, db=self._expiry_db)
                queue.add(_index_namespace(index_key), SCHEDULED, -1)
                due = self._due_record(index_key)
                if due is not None:
                    namespace, key, data = due
                    entry = namespace, key
                    if delivers is not None and delivers(namespace):
                        data = bytes(data)
                        problem = undeliverable(namespace, key, data)
                        if problem is None:
                            self.delivery.enqueue(namespace, key, data)
                        else:
                            self.delivery.quarantine("record", namespace, key, data, problem, now_ms)
                    else:
                        queue.add(namespace, EXPIRED)
                    self._txn.delete(key, db=self._dbs[namespace])
                    self._state.record(Change(ChangeOp.DELETE, namespace, key))
                    removed.append(entry)
        except lmdb.Error as error:
            raise self._failure(error) from error
        return removed

    def set_aside_due(self, now_ms: int, reason: str) -> bool:
        """Take the earliest index entry due by ``now_ms`` out of the reaper's way (one it cannot
        handle, ``reason`` saying why): its record, if any, is quarantined. False if none is due."""
        try:
            due = self._due_index_keys(now_ms, 1)
            if not due:
                return False
            self._state.changes += 1
            self._txn.delete(due[0], db=self._expiry_db)
            self._state.queue.add(_index_namespace(due[0]), SCHEDULED, -1)
            try:
                _deadline, namespace, key = decode_index_key(due[0])
            except ValueError:
                return True
            db = self._dbs.get(namespace)
            data = None if db is None else self._txn.get(key, db=db)
            if data is None:
                return True
            self.delivery.quarantine("record", namespace, key, data, reason, now_ms)
            self._txn.delete(key, db=db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        self._state.record(Change(ChangeOp.DELETE, namespace, key))
        return True

    @property
    def quarantined(self) -> list[Quarantined]:
        """The items this transaction has set aside so far (``storage.quarantine``)."""
        return list(self._state.quarantined)

    def drop_namespace(self, namespace: str) -> int:
        """Empty ``namespace`` (its records and their index entries, and its messages due or in
        flight); how many records it held."""
        if self._delivery_dbs is not None:
            self.delivery.drop(namespace)
        db = self._dbs.get(namespace)
        if db is None:
            return 0
        name = namespace.encode("ascii")
        try:
            count = self._txn.stat(db)["entries"]
            self._state.changes += 1
            self._txn.drop(db, delete=False)
            # The index is ordered by deadline, not namespace: one pass over all of it.
            with self._txn.cursor(db=self._expiry_db) as cursor:
                stale = [bytes(k) for k in cursor.iternext(values=False) if index_namespace(k) == name]
            for index_key in stale:
                self._txn.delete(index_key, db=self._expiry_db)
            if stale:
                self._state.queue.add(namespace, SCHEDULED, -len(stale))
        except lmdb.Error as error:
            raise self._failure(error) from error
        self._state.record(Change(ChangeOp.DROP, namespace))
        return count

    def redo(self, change: Change) -> None:
        """Make ``change`` (from an intent) hold here; doing it twice changes nothing more."""
        match change.op:
            case ChangeOp.PUT:
                self._put_record(change.namespace, change.key, change.data)
            case ChangeOp.DELETE:
                self.delete(change.namespace, change.key)
            case ChangeOp.DROP:
                self.drop_namespace(change.namespace)

    def _put_record(self, namespace: str, key: bytes, data: bytes) -> None:
        """Store complete record bytes as they are (checked first), keeping the index in step."""
        record = decode_record(key, data, namespace=namespace)
        db = self._dbs.get(namespace)
        if db is None:
            db = self._create_namespace(namespace)
        self._revisions.advance_to(record.revision)
        self._state.changes += 1
        try:
            old = self._txn.get(key, db=db)
            old_deadline = 0 if old is None else deadline_or_zero(key, old)
            self._txn.put(key, data, db=db)
            self._move_index_entry(namespace, key, old_deadline, record.expires_at)
        except lmdb.Error as error:
            raise self._failure(error, storing=True) from error
        self._state.record(Change(ChangeOp.PUT, namespace, bytes(key), bytes(data)))

    def _due_index_keys(self, now_ms: int, limit: int) -> list[bytes]:
        """The first ``limit`` expiry index keys due at or before ``now_ms``."""
        due: list[bytes] = []
        with self._txn.cursor(db=self._expiry_db) as cursor:
            found = cursor.first()
            while found and len(due) < limit:
                index_key = bytes(cursor.key())
                if index_deadline(index_key) > now_ms:
                    break
                due.append(index_key)
                found = cursor.next()
        return due

    def _due_record(self, index_key: bytes) -> tuple[str, bytes, memoryview] | None:
        """``(namespace, key, record bytes)`` of the record an index entry points at, if it is
        still due by it (the bytes are LMDB's: valid until the transaction's next write)."""
        try:
            deadline, namespace, key = decode_index_key(index_key)
        except ValueError:
            return None
        db = self._dbs.get(namespace)
        data = None if db is None else self._txn.get(key, db=db)
        if data is None or deadline_or_zero(key, data) != deadline:
            return None
        return namespace, key, data

    def _create_namespace(self, namespace: str) -> Any:
        """Create the namespace DB in this transaction (we are on the writer thread).

        The handle is used by this transaction only; the shard publishes it after the commit
        (a handle created in a transaction that aborts is invalid).
        """
        if len(self._dbs) >= self._limits.max_namespaces:
            raise TooManyNamespaces(namespace, self._limits.max_namespaces)
        self._state.changes += 1
        try:
            db = self._env.open_db(db_name(namespace), txn=self._txn.raw, create=True)
            self._txn.created(db_name(namespace))
        except lmdb.DbsFullError:
            raise TooManyNamespaces(namespace, self._limits.max_namespaces) from None
        except lmdb.Error as error:
            raise self._failure(error) from error
        self._dbs = {**self._dbs, namespace: db}
        self._state.created[namespace] = db
        return db

    def _move_index_entry(self, namespace: str, key: bytes, old: int, new: int) -> None:
        if old == new:
            return
        if old:
            self._txn.delete(encode_index_key(old, namespace, key), db=self._expiry_db)
        if new:
            self._txn.put(encode_index_key(new, namespace, key), b"", db=self._expiry_db)
        if not old or not new:  # a deadline given or taken away (not moved): one more or less scheduled
            self._state.queue.add(namespace, SCHEDULED, 1 if new else -1)

    def _failure(self, error: lmdb.Error, *, storing: bool = False) -> StorageError:
        if isinstance(error, lmdb.MapFullError):
            self._state.map_full = True
            self._state.full_while_storing |= storing
            failure: StorageError = StorageFull(self._limits.shard, self._limits.map_size)
        else:
            failure = lmdb_failure(error)
        self._state.failure = failure
        return failure


def _index_namespace(index_key: bytes) -> str:
    """The namespace an expiry index entry counts under (as ``storage.queue_counts`` reads it)."""
    return index_namespace(index_key).decode("ascii", "replace")


def _check_deadline(expires_at: int) -> None:
    if not 0 <= expires_at <= U64_MAX:
        msg = f"expires_at {expires_at} is outside 0..2**64-1"
        raise ValueError(msg)
