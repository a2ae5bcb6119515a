"""Delivery: messages whose time has come, handed to consumers under a lease (at least once).

In a namespace that delivers, the reaper does not delete a message at its deadline: in the same
write transaction it moves the record into the shard's due queue. A consumer's TAKE moves it from
there to in-flight under a lease; ACK deletes it; NACK, or a lease that runs out, returns it to the
due queue (or, past its attempts, to a dead-letter namespace). Each move is one transaction, so a
message is always in exactly one place, whatever crashes.

Three internal databases per shard (big-endian numbers)::

    mi/due       ns length u8 | ns | priority u32 | deadline u64 | key
                 -> crc u32 | attempts u32 | record
    mi/inflight  delivery id u64
                 -> crc u32 | attempts u32 | lease_until u64 | ns length u8 | ns | key length u16 | key | record
    mi/leases    lease_until u64 | delivery id u64 -> (empty)

The due queue is ordered by namespace, then priority (0 first), then deadline, so TAKE pops the
first entries under the namespace's prefix; ``storage.due_keys`` finds a key's due messages (DEL). ``record`` is the message's record as it was stored
(its own CRC, type, deadline and priority); a CRC over the database key and value guards the rest.
Delivery ids come from the shard's revision counter: unique per shard, never reused.

A message that fails its check is set aside in ``mi/quarantine`` (``storage.quarantine``) by the
move that meets it, and the move goes on with the next one: a damaged message never blocks its
queue, and a lease that ends on a damaged one never stops the reaper.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import lmdb
from attrs import frozen

from storage.due_keys import DueKeys
from storage.errors import CorruptRecord, KeyTooLarge, StorageError
from storage.names import LMDB_MAX_KEY_SIZE
from storage.quarantine import Quarantined, decode_quarantined, encode_quarantined
from storage.records import Record, decode_header, decode_record, record_priority

if TYPE_CHECKING:
    from storage.txn import RevisionCounter, TxnState

__all__ = [
    "DEFAULT_PRIORITY",
    "DUE_KEY_OVERHEAD",
    "Delivery",
    "DeliveryDbs",
    "DeliveryTxn",
    "check_due_entry",
    "decode_inflight",
    "encode_due_key",
    "undeliverable",
]

DEFAULT_PRIORITY = 1024  # as beanstalkd: 0 is the most urgent

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_PRIORITY_DEADLINE = struct.Struct(">IQ")
_DUE_VALUE = struct.Struct(">II")  # crc, attempts
_INFLIGHT_HEAD = struct.Struct(">IIQ")  # crc, attempts, lease_until
_LEASE = struct.Struct(">QQ")  # lease_until, delivery id
DUE_KEY_OVERHEAD = 1 + _PRIORITY_DEADLINE.size  # beside the namespace name and the key


@frozen
class DeliveryDbs:
    due: Any
    inflight: Any
    leases: Any
    quarantine: Any = None  # None: opened read-only before it existed (so empty)
    by_key: Any = None  # where storage.due_keys keeps its entries (mi/meta); None: read-only


@frozen
class Delivery:
    """A message handed out (or being handed back). ``id`` is unique within its shard."""

    id: int
    namespace: str
    key: bytes
    record: Record  # its value, type, deadline and priority
    data: bytes  # the record as stored
    attempts: int  # deliveries so far, this one included
    lease_until: int  # unix ms

    @property
    def priority(self) -> int:
        return DEFAULT_PRIORITY if self.record.priority is None else self.record.priority


def _namespace_prefix(namespace: str) -> bytes:
    name = namespace.encode("ascii")
    return bytes((len(name),)) + name


def encode_due_key(namespace: str, priority: int, deadline: int, key: bytes) -> bytes:
    return _namespace_prefix(namespace) + _PRIORITY_DEADLINE.pack(priority, deadline) + key


def _place(namespace: str, due_key: bytes) -> bytes:
    """The priority and deadline in a due-queue key (what ``storage.due_keys`` keeps)."""
    start = len(_namespace_prefix(namespace))
    return due_key[start : start + _PRIORITY_DEADLINE.size]


def _sealed(db_key: bytes, body: bytes) -> bytes:
    """``body`` with a CRC over the database key and itself in its first four bytes."""
    return _U32.pack(zlib.crc32(body[4:], zlib.crc32(db_key))) + body[4:]


def _check(db_key: bytes, value: bytes | memoryview, what: str) -> None:
    if len(value) < 4 or zlib.crc32(value[4:], zlib.crc32(db_key)) != _U32.unpack_from(value)[0]:
        raise CorruptRecord(None, db_key, f"{what} fails its CRC check")


def undeliverable(namespace: str, key: bytes, data: bytes | memoryview) -> str | None:
    """Why record ``data`` cannot join the due queue (damaged, or a key too long), or None."""
    try:
        decode_record(key, data, namespace=namespace)
    except CorruptRecord as error:
        return error.reason
    size = len(_namespace_prefix(namespace)) + _PRIORITY_DEADLINE.size + len(key)
    if size > LMDB_MAX_KEY_SIZE:
        return f"its due-queue key would be {size} bytes, over LMDB's {LMDB_MAX_KEY_SIZE}"
    return None


def _lenient_namespace(value: bytes | memoryview) -> str | None:
    """The namespace named in an in-flight value, however damaged (for the quarantine)."""
    start = _INFLIGHT_HEAD.size + 1
    if len(value) < start:
        return None
    return bytes(value[start : start + value[start - 1]]).decode("ascii", "replace") or None


def _lenient_key(value: bytes | memoryview) -> bytes | None:
    """The key named in an in-flight value, if its length field is plausible."""
    try:
        offset = _INFLIGHT_HEAD.size + 1 + value[_INFLIGHT_HEAD.size]
        (length,) = _U16.unpack_from(value, offset)
    except (IndexError, struct.error):
        return None
    key = bytes(value[offset + _U16.size : offset + _U16.size + length])
    return key if len(key) == length and key else None


def check_due_entry(due_key: bytes, value: bytes | memoryview) -> None:
    """``CorruptRecord`` unless a due-queue entry is intact (for ``mi verify``)."""
    _check(due_key, value, "a due message")
    length = due_key[0]
    namespace = due_key[1 : 1 + length].decode("ascii", "replace")
    key = due_key[1 + length + _PRIORITY_DEADLINE.size :]
    decode_record(key, bytes(value[_DUE_VALUE.size :]), namespace=namespace)


def decode_inflight(raw_id: bytes, value: bytes | memoryview) -> Delivery:
    """The delivery stored under ``raw_id`` in ``mi/inflight``; ``CorruptRecord`` if damaged."""
    delivery_id = _U64.unpack(raw_id)[0]
    _check(raw_id, value, f"in-flight delivery {delivery_id}")
    _crc, attempts, lease_until = _INFLIGHT_HEAD.unpack_from(value)
    offset = _INFLIGHT_HEAD.size
    length = value[offset]
    namespace = bytes(value[offset + 1 : offset + 1 + length]).decode("ascii")
    offset += 1 + length
    (key_length,) = _U16.unpack_from(value, offset)
    offset += _U16.size
    key = bytes(value[offset : offset + key_length])
    data = bytes(value[offset + key_length :])
    record = decode_record(key, data, namespace=namespace)
    return Delivery(delivery_id, namespace, key, record, data, attempts, lease_until)


class DeliveryTxn:
    """The delivery databases of one shard, inside one transaction (read-only or writable)."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: DeliveryDbs,
        revisions: RevisionCounter | None,
        state: TxnState | None,
        failure: Callable[[lmdb.Error], StorageError],
    ) -> None:
        self._txn = txn
        self._dbs = dbs
        self._revisions = revisions
        self._state = state
        self._failure = failure
        self._by_key = DueKeys(txn, dbs.by_key, self._write, failure) if dbs.by_key is not None else None

    # -- reads -----------------------------------------------------------------------------------

    def peek(self, namespace: str, limit: int) -> list[tuple[int, int]]:
        """``(priority, deadline)`` of the first ``limit`` messages TAKE would hand out here."""
        offset = len(_namespace_prefix(namespace))
        return [_PRIORITY_DEADLINE.unpack_from(due_key, offset) for due_key, _ in self._due_entries(namespace, limit)]

    def counts(self, namespace: str) -> tuple[int, int, int | None]:
        """``(due, in_flight, oldest due deadline)`` for ``namespace`` (scans: for INFO)."""
        offset = len(_namespace_prefix(namespace))
        due, oldest = 0, None
        for due_key, _value in self._due_entries(namespace):
            due += 1
            deadline = _PRIORITY_DEADLINE.unpack_from(due_key, offset)[1]
            oldest = deadline if oldest is None else min(oldest, deadline)
        in_flight = sum(1 for delivery in self._inflight_entries() if delivery[1] == namespace)
        return due, in_flight, oldest

    def next_lease_expiry(self) -> int | None:
        try:
            with self._txn.cursor(db=self._dbs.leases) as cursor:
                return _LEASE.unpack(cursor.key())[0] if cursor.first() else None
        except lmdb.Error as error:
            raise self._failure(error) from error

    # -- writes ----------------------------------------------------------------------------------

    def enqueue(self, namespace: str, key: bytes, data: bytes, attempts: int = 0) -> None:
        """Put a message (record bytes ``data``) in the due queue of ``namespace``."""
        _kind, deadline, _revision = decode_header(key, data, namespace=namespace)
        priority = record_priority(data)
        due_key = encode_due_key(namespace, DEFAULT_PRIORITY if priority is None else priority, deadline, key)
        if len(due_key) > LMDB_MAX_KEY_SIZE:  # refused before LMDB sees it (see storage.limits)
            raise KeyTooLarge(len(key), LMDB_MAX_KEY_SIZE - (len(due_key) - len(key)))
        self._write(lambda: self._txn.put(due_key, _sealed(due_key, _DUE_VALUE.pack(0, attempts) + data), db=self._dbs.due))
        if self._by_key is not None:
            self._by_key.add(namespace, key, _place(namespace, due_key))

    def take(self, namespace: str, now_ms: int, lease_ms: int, limit: int) -> list[Delivery]:
        """Hand out up to ``limit`` due messages of ``namespace``, each leased until now + lease.

        A damaged message met on the way is quarantined and the next one taken instead.
        """
        taken: list[Delivery] = []
        while len(taken) < limit:
            entries = list(self._due_entries(namespace, limit - len(taken)))
            if not entries:
                break
            for due_key, value in entries:  # each leaves the due queue, taken or set aside
                key = due_key[len(_namespace_prefix(namespace)) + _PRIORITY_DEADLINE.size :]
                self._remove_due(namespace, key, due_key)
                try:
                    _check(due_key, value, "a due message")
                    data = bytes(value[_DUE_VALUE.size :])
                    record = decode_record(key, data, namespace=namespace)
                except CorruptRecord as error:
                    self.quarantine("due", namespace, key, value, error.reason, now_ms)
                    continue
                attempts = _DUE_VALUE.unpack_from(value)[1] + 1
                delivery = Delivery(self._revisions.allocate(), namespace, key, record, data, attempts, now_ms + lease_ms)
                self._hold(delivery)
                taken.append(delivery)
        return taken

    def ack(self, namespace: str, delivery_id: int) -> bool:
        """Done with: the message goes for good. False if no such delivery is in flight."""
        try:
            delivery = self._inflight(delivery_id)
        except CorruptRecord:  # left for its lease's end, when the reaper quarantines it
            return False
        if delivery is None or delivery.namespace != namespace:
            return False
        self._release(delivery)
        return True

    def extend(self, namespace: str, delivery_id: int, lease_until: int) -> Delivery | None:
        """Move a delivery's lease to ``lease_until`` (NACK with DELAY: it returns when the lease ends)."""
        delivery = self._inflight(delivery_id)
        if delivery is None or delivery.namespace != namespace:
            return None
        self._release(delivery)
        self._hold(attrs.evolve(delivery, lease_until=lease_until))
        return delivery

    def give_back(self, namespace: str, delivery_id: int) -> Delivery | None:
        """Take a delivery out of flight (NACK); the caller requeues or buries it (``settle``)."""
        delivery = self._inflight(delivery_id)
        if delivery is None or delivery.namespace != namespace:
            return None
        self._release(delivery)
        return delivery

    def cancel(self, namespace: str, key: bytes, now_ms: int) -> list[Record]:
        """Take back the messages of ``key`` that are due and not yet taken (DEL); the records
        removed. One in flight is not touched: it is ACK's and NACK's. A damaged one is
        quarantined, not counted."""
        if self._by_key is None:
            return []
        cancelled = []
        prefix = _namespace_prefix(namespace)
        for place in self._by_key.places(namespace, key):
            due_key = prefix + place + key
            try:
                value = self._txn.get(due_key, db=self._dbs.due)
                value = None if value is None else bytes(value)
            except lmdb.Error as error:
                raise self._failure(error) from error
            if value is None:
                continue
            self._write(lambda due_key=due_key: self._txn.delete(due_key, db=self._dbs.due))
            try:
                _check(due_key, value, "a due message")
                cancelled.append(decode_record(key, value[_DUE_VALUE.size :], namespace=namespace))
            except CorruptRecord as error:
                self.quarantine("due", namespace, key, value, error.reason, now_ms)
        self._by_key.forget(namespace, key)
        return cancelled

    def drop(self, namespace: str) -> int:
        """Forget every message of ``namespace`` due or in flight (FLUSHNS); how many."""
        due = [due_key for due_key, _value in self._due_entries(namespace)]
        for due_key in due:
            self._write(lambda due_key=due_key: self._txn.delete(due_key, db=self._dbs.due))
        if self._by_key is not None:
            self._by_key.drop(namespace)
        flying = [delivery_id for delivery_id, ns in self._inflight_entries() if ns == namespace]
        for delivery_id in flying:
            delivery = self._inflight(delivery_id)
            if delivery is not None:
                self._release(delivery)
        return len(due) + len(flying)

    def requeue(self, delivery: Delivery) -> None:
        """Return a delivery taken out of flight to the due queue, its attempts counted."""
        self.enqueue(delivery.namespace, delivery.key, delivery.data, delivery.attempts)

    def expired_leases(self, now_ms: int, limit: int) -> list[Delivery]:
        """Deliveries whose lease ended at or before ``now_ms``, taken out of flight (earliest first).

        A damaged one is quarantined instead; a lease whose delivery is gone is dropped.
        """
        expired = []
        for lease in self._ended_leases(now_ms, limit):
            delivery_id = _LEASE.unpack(lease)[1]
            try:
                delivery = self._inflight(delivery_id)
            except CorruptRecord as error:
                self._set_aside_inflight(lease, error.reason, now_ms)
                continue
            if delivery is None or _LEASE.pack(delivery.lease_until, delivery.id) != lease:
                self._write(lambda lease=lease: self._txn.delete(lease, db=self._dbs.leases))
                continue
            self._release(delivery)
            expired.append(delivery)
        return expired

    def set_aside_lease(self, now_ms: int, reason: str) -> bool:
        """Quarantine the delivery of the earliest lease ended by ``now_ms`` (one the reaper
        cannot handle, ``reason`` saying why); False if no lease has ended."""
        leases = self._ended_leases(now_ms, 1)
        if leases:
            self._set_aside_inflight(leases[0], reason, now_ms)
        return bool(leases)

    def quarantine(
        self, area: str, namespace: str | None, key: bytes, value: bytes | memoryview, reason: str, now_ms: int
    ) -> Quarantined:
        """Keep ``value`` (taken from ``area``) in the quarantine; the caller removes it from there."""
        item = Quarantined(self._revisions.allocate(), now_ms, area, namespace, bytes(key), reason, bytes(value))
        raw_id, body = encode_quarantined(item)
        self._write(lambda: self._txn.put(raw_id, body, db=self._dbs.quarantine))
        self._state.quarantined.append(item)
        return item

    def quarantined(self) -> Iterator[Quarantined]:
        """What this shard's quarantine holds, oldest first (an undecodable entry as a stub)."""
        if self._dbs.quarantine is None:
            return
        try:
            with self._txn.cursor(db=self._dbs.quarantine) as cursor:
                for raw_id, value in cursor:
                    try:
                        yield decode_quarantined(raw_id, value)
                    except ValueError as error:
                        yield Quarantined(0, 0, "quarantine", None, bytes(raw_id), str(error), bytes(value))
        except lmdb.Error as error:
            raise self._failure(error) from error

    def clear_quarantine(self) -> int:
        """Forget every quarantined item (a person has looked); how many there were."""
        count = self.count_quarantined()
        if count:
            self._write(lambda: self._txn.drop(self._dbs.quarantine, delete=False))
        return count

    def count_quarantined(self, namespace: str | None = None) -> int:
        """How many items the quarantine holds (O(1)), or with ``namespace``, how many of its own."""
        if self._dbs.quarantine is None:
            return 0
        if namespace is not None:
            return sum(1 for item in self.quarantined() if item.namespace == namespace)
        try:
            return self._txn.stat(self._dbs.quarantine)["entries"]
        except lmdb.Error as error:
            raise self._failure(error) from error

    # -- internals -------------------------------------------------------------------------------

    def _ended_leases(self, now_ms: int, limit: int) -> list[bytes]:
        """The keys of the first ``limit`` leases that ended at or before ``now_ms``."""
        leases: list[bytes] = []
        try:
            with self._txn.cursor(db=self._dbs.leases) as cursor:
                found = cursor.first()
                while found and len(leases) < limit:
                    lease = bytes(cursor.key())
                    if _LEASE.unpack(lease)[0] > now_ms:
                        break
                    leases.append(lease)
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error
        return leases

    def _set_aside_inflight(self, lease: bytes, reason: str, now_ms: int) -> Quarantined | None:
        """Quarantine what is in flight under ``lease`` (its bytes as they are), and drop both."""
        raw_id = lease[8:]
        try:
            value = self._txn.get(raw_id, db=self._dbs.inflight)
        except lmdb.Error as error:
            raise self._failure(error) from error
        self._write(lambda: self._txn.delete(lease, db=self._dbs.leases))
        if value is None:
            return None
        key = _lenient_key(value) or raw_id
        item = self.quarantine("in flight", _lenient_namespace(value), key, value, reason, now_ms)
        self._write(lambda: self._txn.delete(raw_id, db=self._dbs.inflight))
        return item

    def _due_entries(self, namespace: str, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        prefix = _namespace_prefix(namespace)
        try:
            with self._txn.cursor(db=self._dbs.due) as cursor:
                found = cursor.set_range(prefix)
                count = 0
                while found and (limit is None or count < limit):
                    due_key = bytes(cursor.key())
                    if not due_key.startswith(prefix):
                        return
                    yield due_key, bytes(cursor.value())
                    count += 1
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error

    def _inflight_entries(self) -> Iterator[tuple[int, str]]:
        try:
            with self._txn.cursor(db=self._dbs.inflight) as cursor:
                for raw_id, value in cursor:
                    length = value[_INFLIGHT_HEAD.size]
                    start = _INFLIGHT_HEAD.size + 1
                    yield _U64.unpack(raw_id)[0], bytes(value[start : start + length]).decode("ascii", "replace")
        except lmdb.Error as error:
            raise self._failure(error) from error

    def _inflight(self, delivery_id: int) -> Delivery | None:
        raw_id = _U64.pack(delivery_id)
        try:
            value = self._txn.get(raw_id, db=self._dbs.inflight)
        except lmdb.Error as error:
            raise self._failure(error) from error
        return None if value is None else decode_inflight(raw_id, value)

    def _hold(self, delivery: Delivery) -> None:
        raw_id = _U64.pack(delivery.id)
        body = (
            _INFLIGHT_HEAD.pack(0, delivery.attempts, delivery.lease_until)
            + _namespace_prefix(delivery.namespace)
            + _U16.pack(len(delivery.key))
            + delivery.key
            + delivery.data
        )
        lease = _LEASE.pack(delivery.lease_until, delivery.id)
        self._write(lambda: self._txn.put(raw_id, _sealed(raw_id, body), db=self._dbs.inflight))
        self._write(lambda: self._txn.put(lease, b"", db=self._dbs.leases))

    def _remove_due(self, namespace: str, key: bytes, due_key: bytes) -> None:
        self._write(lambda: self._txn.delete(due_key, db=self._dbs.due))
        if self._by_key is not None:
            self._by_key.remove(namespace, key, _place(namespace, due_key))

    def _release(self, delivery: Delivery) -> None:
        lease = _LEASE.pack(delivery.lease_until, delivery.id)
        self._write(lambda: self._txn.delete(_U64.pack(delivery.id), db=self._dbs.inflight))
        self._write(lambda: self._txn.delete(lease, db=self._dbs.leases))

    def _write(self, change: Callable[[], Any]) -> None:
        if self._state is None:
            msg = "a read-only transaction cannot change deliveries"
            raise TypeError(msg)
        self._state.changes += 1
        try:
            change()
        except lmdb.Error as error:
            raise self._failure(error) from error


