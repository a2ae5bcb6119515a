"""The write-ahead log's bytes: one record per committed write transaction of a shard.

A record holds everything its transaction changed, so replaying it onto the shard as of the
record before it gives the shard as of the record: the journal entries (one per operation, with
the final state of each key it changed: ``storage.changes``) and the raw writes to mi's internal
databases (expiry index, due queue, leases, settings...). Writes to namespace databases are not
repeated: the entries' changes are exactly those (``storage.logged_txn`` keeps the rest).

Layouts (big-endian)::

    segment: header | record*
    header:  magic "MI-LOG" | format u16 | shard u16 | first lsn u64 | first seq u64 | crc32 u32
    record:  body length u32 | crc32 u32 | body
    body:    lsn u64 | first seq u64 | timestamp_ms u64 | entry count u32 | entry* | op*
    entry:   label length u8 | label | change count u32 | change*
    op:      kind u8 | db name length u8 | db name | key length u16 | key | value length u32 | value

``lsn`` numbers records (consecutive per shard, never reused): the checkpoint and replicas name a
place in the log by it. ``first seq`` is the journal sequence number of the record's first entry;
the others follow it. The CRC covers the body, so a torn or damaged record is never replayed; the
length is checked against the file before anything is read.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Sequence

from attrs import frozen

from storage.changes import Change, pack_change, read_sized, unpack_change
from storage.journal import JournalEntry

__all__ = [
    "HEADER_SIZE",
    "LOG_FORMAT",
    "MAX_RECORD_SIZE",
    "LogDamaged",
    "LogRecord",
    "OpKind",
    "RawOp",
    "decode_header",
    "decode_record",
    "encode_header",
    "encode_record",
    "record_at",
    "record_last_seq",
    "record_lsn",
]

LOG_FORMAT = 1
MAGIC = b"MI-LOG"
_HEADER = struct.Struct(">6sHHQQ")
_HEADER_CRC = struct.Struct(">I")
HEADER_SIZE = _HEADER.size + _HEADER_CRC.size
_FRAME = struct.Struct(">II")  # body length, crc32
_BODY = struct.Struct(">QQQI")  # lsn, first seq, timestamp, entry count
_U32 = struct.Struct(">I")
_U8 = struct.Struct(">B")
_OP = struct.Struct(">BB")
_KEY = struct.Struct(">H")
MAX_RECORD_SIZE = 1 << 31  # a sanity bound on a length read from disk


class LogDamaged(ValueError):
    """A log record or segment header fails its CRC or does not parse."""


class OpKind(enum.IntEnum):
    """On disk: never renumber."""

    PUT = 1
    DELETE = 2
    EMPTY = 3  # every key of the database deleted (the database stays)
    CREATE = 4  # the database created (a namespace's, on its first write)


@frozen
class RawOp:
    """One write to an LMDB database of the shard, by the database's name."""

    kind: OpKind
    db: bytes
    key: bytes = b""
    value: bytes = b""


@frozen
class LogRecord:
    lsn: int
    first_seq: int
    timestamp_ms: int
    entries: tuple[JournalEntry, ...]
    ops: tuple[RawOp, ...]

    @property
    def last_seq(self) -> int:
        """The journal sequence number of the last entry (``first_seq - 1`` if there is none)."""
        return self.first_seq + len(self.entries) - 1


def encode_header(shard: int, first_lsn: int, first_seq: int) -> bytes:
    """A segment's header: its first record will be ``first_lsn``, its first entry ``first_seq``."""
    head = _HEADER.pack(MAGIC, LOG_FORMAT, shard, first_lsn, first_seq)
    return head + _HEADER_CRC.pack(zlib.crc32(head))


def decode_header(data: bytes) -> tuple[int, int, int]:
    """``(shard, first lsn, first seq)`` of a segment header; ``LogDamaged`` if it is not one we wrote."""
    if len(data) < HEADER_SIZE or zlib.crc32(data[: _HEADER.size]) != _HEADER_CRC.unpack_from(data, _HEADER.size)[0]:
        msg = "log segment header is damaged"
        raise LogDamaged(msg)
    magic, version, shard, first_lsn, first_seq = _HEADER.unpack_from(data)
    if magic != MAGIC:
        msg = "not an mi log segment"
        raise LogDamaged(msg)
    if version != LOG_FORMAT:
        msg = f"log segment format {version}; this mi reads format {LOG_FORMAT}"
        raise LogDamaged(msg)
    return shard, first_lsn, first_seq


def encode_record(
    lsn: int,
    first_seq: int,
    timestamp_ms: int,
    entries: Sequence[tuple[str, Sequence[Change]]],
    ops: Sequence[tuple[OpKind, bytes, bytes, bytes]],
) -> bytes:
    """The framed bytes of one record: entries as ``(label, changes)``, ops as ``RawOp``'s fields."""
    parts = [_BODY.pack(lsn, first_seq, timestamp_ms, len(entries))]
    for label, changes in entries:
        name = label.encode("ascii", "replace")[:255]
        parts += (_U8.pack(len(name)), name, _U32.pack(len(changes)))
        for change in changes:
            parts += pack_change(change)
    heads: dict[tuple[OpKind, bytes], bytes] = {}  # a record's ops go to a few databases
    for kind, db, key, value in ops:
        head = heads.get((kind, db))
        if head is None:
            head = heads[kind, db] = _OP.pack(kind, len(db)) + db
        parts += (head, _KEY.pack(len(key)), key, _U32.pack(len(value)), value)
    body = b"".join(parts)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def record_at(data: memoryview, offset: int, *, check: bool = True) -> tuple[memoryview, int] | None:
    """The checked body of the record framed at ``offset`` and where the next one starts; None if
    no whole, intact record is there (the end of the log, or a torn or damaged tail). Without
    ``check`` the CRC is not computed (to skip over records cheaply)."""
    if offset + _FRAME.size > len(data):
        return None
    length, crc = _FRAME.unpack_from(data, offset)
    start = offset + _FRAME.size
    if length < _BODY.size or start + length > len(data):
        return None
    body = data[start : start + length]
    if check and zlib.crc32(body) != crc:
        return None
    return body, start + length


def decode_record(body: memoryview) -> LogRecord:
    """The record in a checked body (``record_at``); ``LogDamaged`` if it does not parse."""
    try:
        lsn, first_seq, timestamp_ms, count = _BODY.unpack_from(body)
        offset = _BODY.size
        entries = []
        for index in range(count):
            (name_length,) = _U8.unpack_from(body, offset)
            label = bytes(body[offset + 1 : offset + 1 + name_length]).decode("ascii", "replace")
            offset += 1 + name_length
            (change_count,) = _U32.unpack_from(body, offset)
            offset += _U32.size
            changes = []
            for _ in range(change_count):
                change, offset = unpack_change(body, offset)
                changes.append(change)
            entries.append(JournalEntry(first_seq + index, timestamp_ms, label, tuple(changes)))
        ops = []
        while offset < len(body):
            kind, name_length = _OP.unpack_from(body, offset)
            offset += _OP.size
            db = bytes(body[offset : offset + name_length])
            key, offset = read_sized(body, offset + name_length, _KEY)
            value, offset = read_sized(body, offset, _U32)
            ops.append(RawOp(OpKind(kind), db, key, value))
    except (struct.error, ValueError) as error:
        msg = f"log record does not parse: {error}"
        raise LogDamaged(msg) from None
    return LogRecord(lsn, first_seq, timestamp_ms, tuple(entries), tuple(ops))


def record_lsn(body: memoryview) -> int:
    """The lsn of a checked body, without decoding the rest."""
    return _BODY.unpack_from(body)[0]


def record_last_seq(body: memoryview) -> int:
    """The journal sequence number of a body's last entry, without decoding the rest."""
    _lsn, first_seq, _timestamp, count = _BODY.unpack_from(body)
    return first_seq + count - 1
