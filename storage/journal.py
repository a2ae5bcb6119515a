"""Journal entries: one per committed operation, carried in the write-ahead log's records.

``JournalEntry`` is what ``JOURNAL`` and ``mi journal`` show: the entry's sequence number
(consecutive per shard, never reused), its timestamp, the operation's label (``SET``, ``EXEC``,
``reap``, ``recover``...) and the final states it left (``storage.changes``). The log's records
hold them (``storage.log_format``).

Older versions of mi kept each entry in the ``mi/journal`` LMDB database instead, keyed by its
sequence number (u64 big-endian), valued::

    crc32 u32 | timestamp_ms u64 | label length u8 | label | change*

``decode_entry`` reads that format for the migration into the log (``storage.journal_migration``);
``encode_entry`` writes it for the tests that build such a data dir.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from storage.changes import Change, ChangeOp, pack_change, unpack_change
from storage.records import decode_record

__all__ = [
    "JournalDamaged",
    "JournalEntry",
    "decode_entry",
    "encode_entry",
    "entry_key",
    "entry_seq",
]

_SEQ = struct.Struct(">Q")
_CRC = struct.Struct(">I")
_BODY = struct.Struct(">QB")  # timestamp, label length


class JournalDamaged(ValueError):
    """A journal entry fails its CRC or does not parse."""


@frozen
class JournalEntry:
    seq: int
    timestamp_ms: int
    label: str
    changes: tuple[Change, ...]

    def to_json(self, shard: int) -> dict[str, Any]:
        """The entry as ``mi journal`` prints it: values decoded, keys as text."""
        return {
            "shard": shard,
            "seq": self.seq,
            "ts": self.timestamp_ms,
            "op": self.label,
            "changes": [_change_json(change) for change in self.changes],
        }


def entry_key(seq: int) -> bytes:
    return _SEQ.pack(seq)


def entry_seq(key: bytes | memoryview) -> int:
    return _SEQ.unpack(key)[0]


def encode_entry(seq: int, timestamp_ms: int, label: str, changes: Sequence[Change]) -> bytes:
    name = label.encode("ascii", "replace")[:255]
    parts = [_BODY.pack(timestamp_ms, len(name)), name]
    for change in changes:
        parts += pack_change(change)
    body = b"".join(parts)
    return _CRC.pack(zlib.crc32(body, zlib.crc32(entry_key(seq)))) + body


def decode_entry(key: bytes | memoryview, value: bytes | memoryview) -> JournalEntry:
    """The entry stored under ``key``; ``JournalDamaged`` if it is not intact."""
    view = memoryview(value)
    try:
        seq = entry_seq(key)
        (crc,) = _CRC.unpack_from(view)
        timestamp_ms, name_length = _BODY.unpack_from(view, _CRC.size)
    except struct.error:
        msg = "journal entry too short"
        raise JournalDamaged(msg) from None
    if zlib.crc32(view[_CRC.size :], zlib.crc32(bytes(key))) != crc:
        msg = f"journal entry {seq} fails its CRC check"
        raise JournalDamaged(msg)
    offset = _CRC.size + _BODY.size
    label = bytes(view[offset : offset + name_length]).decode("ascii", "replace")
    offset += name_length
    changes = []
    try:
        while offset < len(view):
            change, offset = unpack_change(view, offset)
            changes.append(change)
    except ValueError as error:
        msg = f"journal entry {seq} does not parse: {error}"
        raise JournalDamaged(msg) from None
    return JournalEntry(seq, timestamp_ms, label, tuple(changes))


def _change_json(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "op": change.op.name.lower(),
        "ns": change.namespace,
    }
    if change.op is not ChangeOp.DROP:
        out["key"] = change.key.decode("utf-8", "backslashreplace")
    if change.op is ChangeOp.PUT:
        record = decode_record(change.key, change.data, namespace=change.namespace)
        out["type"] = record.kind.type_name
        out["value"] = _json_value(record.value)
        out["expires_at"] = record.expires_at or None
    return out


def _json_value(value: Any) -> Any:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
