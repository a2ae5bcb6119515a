"""The due queue by key: where each due message of a key sits, so DEL can take it back at once.

The due queue (``storage.delivery``) is ordered by namespace, priority and deadline, which TAKE
needs; a DEL knows only the key. So every due message also has an entry in ``mi/meta``::

    due/ | ns length u8 | ns | key  ->  (priority u32 | deadline u64) per due message of the key

which is the middle of its due-queue key. A key almost always has one due message; it can have
more when a key was written again after its message fell due in a namespace switched back to
dropping. The longest entry (4 + 1 + 64 + 434 bytes) fits LMDB's 511. A due message without an
entry (enqueued before entries were kept) is still delivered; only DEL cannot find it.

PEEK knows only a message's id, so each due message also has (``DueIds``)::

    msg/ | id u64  ->  its due-queue key

A due message of format 1 (``storage.delivery_entries``) has no id yet, so no such entry.
"""

from __future__ import annotations

import lmdb

from storage.meta_entries import MetaEntries

__all__ = ["PLACE_SIZE", "DueIds", "DueKeys"]

PREFIX = b"due/"
ID_PREFIX = b"msg/"
PLACE_SIZE = 12  # priority u32 | deadline u64, as in the due-queue key


def _entry_key(namespace: str, key: bytes) -> bytes:
    name = namespace.encode("ascii")
    return PREFIX + bytes((len(name),)) + name + key


class DueKeys(MetaEntries):
    """Each key's due messages, on one shard."""

    def places(self, namespace: str, key: bytes) -> list[bytes]:
        """Where the due messages of ``key`` sit (each ``PLACE_SIZE`` bytes)."""
        try:
            value = self._txn.get(_entry_key(namespace, key), db=self._db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        if value is None:
            return []
        value = bytes(value)
        return [value[i : i + PLACE_SIZE] for i in range(0, len(value) - PLACE_SIZE + 1, PLACE_SIZE)]

    def add(self, namespace: str, key: bytes, place: bytes) -> None:
        """Note a due message of ``key`` at ``place`` (each place of a key holds one message)."""
        places = self.places(namespace, key)
        if place not in places:
            self._store(namespace, key, [*places, place])

    def remove(self, namespace: str, key: bytes, place: bytes) -> None:
        places = self.places(namespace, key)
        if place in places:
            self._store(namespace, key, [p for p in places if p != place])

    def forget(self, namespace: str, key: bytes) -> None:
        self._store(namespace, key, [])

    def drop(self, namespace: str) -> None:
        """Forget the entries of every key of ``namespace`` (FLUSHNS)."""
        prefix = _entry_key(namespace, b"")
        doomed = []
        try:
            with self._txn.cursor(db=self._db) as cursor:
                found = cursor.set_range(prefix)
                while found and bytes(cursor.key()).startswith(prefix):
                    doomed.append(bytes(cursor.key()))
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error
        for entry in doomed:
            self._write(lambda entry=entry: self._txn.delete(entry, db=self._db))

    def _store(self, namespace: str, key: bytes, places: list[bytes]) -> None:
        entry = _entry_key(namespace, key)
        if places:
            self._write(lambda: self._txn.put(entry, b"".join(places), db=self._db))
        else:
            self._write(lambda: self._txn.delete(entry, db=self._db))


class DueIds(MetaEntries):
    """Where the due message with an id sits in the due queue, on one shard."""

    def due_key(self, message_id: int) -> bytes | None:
        try:
            value = self._txn.get(ID_PREFIX + message_id.to_bytes(8, "big"), db=self._db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        return None if value is None else bytes(value)

    def add(self, message_id: int, due_key: bytes) -> None:
        entry = ID_PREFIX + message_id.to_bytes(8, "big")
        self._write(lambda: self._txn.put(entry, due_key, db=self._db))

    def remove(self, message_id: int) -> None:
        entry = ID_PREFIX + message_id.to_bytes(8, "big")
        self._write(lambda: self._txn.delete(entry, db=self._db))
