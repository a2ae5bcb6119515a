"""The quarantine's side of the delivery databases: damaged deliveries set aside, and what the
quarantine holds (``storage.quarantine`` has its format). A mixin of ``storage.delivery.DeliveryTxn``,
using its transaction, databases and write path."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import lmdb

from storage.delivery_entries import INFLIGHT_HEAD_SIZE
from storage.quarantine import Quarantined, decode_quarantined, encode_quarantined

if TYPE_CHECKING:
    from storage.delivery import DeliveryDbs
    from storage.errors import StorageError
    from storage.txn import RevisionCounter, TxnState

__all__ = ["QuarantineMoves"]

_U16 = struct.Struct(">H")


def _lenient_namespace(value: bytes | memoryview) -> str | None:
    """The namespace named in an in-flight value, however damaged (for the quarantine)."""
    start = INFLIGHT_HEAD_SIZE + 1
    if len(value) < start:
        return None
    return bytes(value[start : start + value[start - 1]]).decode("ascii", "replace") or None


def _lenient_key(value: bytes | memoryview) -> bytes | None:
    """The key named in an in-flight value, if its length field is plausible."""
    try:
        offset = INFLIGHT_HEAD_SIZE + 1 + value[INFLIGHT_HEAD_SIZE]
        (length,) = _U16.unpack_from(value, offset)
    except (IndexError, struct.error):
        return None
    key = bytes(value[offset + _U16.size : offset + _U16.size + length])
    return key if len(key) == length and key else None


class QuarantineMoves:
    """Setting damaged deliveries aside, and reading the quarantine."""

    _txn: lmdb.Transaction
    _dbs: DeliveryDbs
    _revisions: RevisionCounter | None
    _state: TxnState | None
    _failure: Callable[[lmdb.Error], StorageError]
    _write: Callable[[Callable[[], Any]], None]
    _ended_leases: Callable[[int, int], list[bytes]]
    _forget_inflight: Callable[[bytes | memoryview], None]

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
        self._forget_inflight(item.value)  # the copy: the delete may reuse the page under ``value``
        self._write(lambda: self._txn.delete(raw_id, db=self._dbs.inflight))
        return item
