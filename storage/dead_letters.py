"""Dead letters' history: what a message went through before it was given up on.

A message past its ``max_attempts`` is stored in the dead-letter namespace under its key, as a
plain record without a TTL (so GET, DEL and SCAN see it there). Its history is kept beside it in
``mi/meta``, under the namespace it died in and its message id::

    dead/ | ns length u8 | ns | id u64
        -> crc u32 | dead-letter ns length u8 | dead-letter ns | key length u16 | key
           | revision u64 | attempts u32 | first deadline u64 | last deadline u64 | died at u64
           | reason length u16 | reason

``revision`` is the dead-letter record's: a history whose record was deleted or replaced since
(a client's DEL or SET in the dead-letter namespace) is stale, skipped by listings and dropped
by KICK. The longest key (5 + 1 + 64 + 8 bytes) is far under LMDB's 511.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import lmdb
from attrs import frozen

from storage.delivery_entries import MAX_REASON, check, sealed
from storage.meta_entries import MetaEntries
from storage.errors import CorruptRecord

__all__ = ["DeadLetter", "DeadLetters"]

PREFIX = b"dead/"
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")
_HISTORY = struct.Struct(">QIQQQ")  # revision, attempts, first deadline, last deadline, died at


@frozen
class DeadLetter:
    """One message given up on: ``namespace`` is where it died, ``dead_letter`` where it is kept."""

    id: int
    namespace: str
    key: bytes
    dead_letter: str
    revision: int  # of its record in the dead-letter namespace
    attempts: int
    first_deadline: int  # unix ms: when it first fell due
    last_deadline: int  # unix ms: when it last fell due
    died_at: int
    reason: str


def _prefix(namespace: str) -> bytes:
    name = namespace.encode("ascii")
    return PREFIX + bytes((len(name),)) + name


def _entry_key(namespace: str, message_id: int) -> bytes:
    return _prefix(namespace) + _U64.pack(message_id)


def _encode(dead: DeadLetter) -> tuple[bytes, bytes]:
    entry = _entry_key(dead.namespace, dead.id)
    name = dead.dead_letter.encode("ascii")
    why = dead.reason.encode("utf-8", "replace")[:MAX_REASON]
    body = b"".join((
        b"\0\0\0\0", bytes((len(name),)), name, _U16.pack(len(dead.key)), dead.key,
        _HISTORY.pack(dead.revision, dead.attempts, dead.first_deadline, dead.last_deadline, dead.died_at),
        _U16.pack(len(why)), why,
    ))  # fmt: skip
    return entry, sealed(entry, body)


def _decode(namespace: str, entry: bytes, value: bytes) -> DeadLetter:
    check(entry, value, "a dead letter's history")
    offset = 4
    length = value[offset]
    dead_letter = value[offset + 1 : offset + 1 + length].decode("ascii")
    offset += 1 + length
    (key_length,) = _U16.unpack_from(value, offset)
    key = value[offset + 2 : offset + 2 + key_length]
    offset += 2 + key_length
    revision, attempts, first, last, died_at = _HISTORY.unpack_from(value, offset)
    offset += _HISTORY.size
    (length,) = _U16.unpack_from(value, offset)
    reason = value[offset + 2 : offset + 2 + length].decode("utf-8", "replace")
    message_id = _U64.unpack(entry[-8:])[0]
    return DeadLetter(message_id, namespace, key, dead_letter, revision, attempts, first, last, died_at, reason)


class DeadLetters(MetaEntries):
    """The dead letters' histories of one shard."""

    def add(self, dead: DeadLetter) -> None:
        entry, value = _encode(dead)
        self._write(lambda: self._txn.put(entry, value, db=self._db))

    def remove(self, namespace: str, message_id: int) -> bool:
        """Forget a history; False if there was none."""
        entry = _entry_key(namespace, message_id)
        return bool(self._write(lambda: self._txn.delete(entry, db=self._db)))

    def get(self, namespace: str, message_id: int) -> DeadLetter | None:
        entry = _entry_key(namespace, message_id)
        try:
            value = self._txn.get(entry, db=self._db)
        except lmdb.Error as error:
            raise self._failure(error) from error
        return None if value is None else _decode(namespace, entry, bytes(value))

    def listed(self, namespace: str, after: int = -1) -> Iterator[DeadLetter]:
        """The histories of ``namespace`` with ids above ``after``, in id order (a damaged one is
        skipped: it tells nothing reliable)."""
        prefix = _prefix(namespace)
        start = prefix + _U64.pack(after + 1) if after >= 0 else prefix
        try:
            with self._txn.cursor(db=self._db) as cursor:
                found = cursor.set_range(start)
                while found:
                    entry = bytes(cursor.key())
                    if not entry.startswith(prefix) or len(entry) != len(prefix) + 8:
                        return
                    try:
                        yield _decode(namespace, entry, bytes(cursor.value()))
                    except (CorruptRecord, struct.error, IndexError, UnicodeDecodeError):
                        pass
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error
