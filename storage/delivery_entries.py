"""The bytes of the due queue's and the in-flight database's values, in both formats.

Format 1 (before stable message ids) and format 2 are told apart by the high bit of the attempts
word, which format 1 never set (attempts count deliveries, far below 2**31)::

    due, format 1        crc u32 | attempts u32 | record
    due, format 2        crc u32 | attempts u32 + 2**31 | id u64 | reason length u16 | reason | record
    in flight, format 1  crc u32 | attempts u32 | lease_until u64 | ns length u8 | ns
                         | key length u16 | key | record
    in flight, format 2  crc u32 | attempts u32 + 2**31 | lease_until u64 | ns length u8 | ns
                         | key length u16 | key | due_at u64 | waiting u8 | holder length u8 | holder
                         | reason length u16 | reason | record

``id`` is the message's id, given when it fell due and kept across its redeliveries (a format 1
due message gets one when it is taken); ``reason`` why its last delivery failed (NACK ... REASON,
or a lease that ran out); ``due_at`` when it last fell due (unix ms); ``holder`` who took it (the
TAKE's client id and address); ``waiting`` 1 while it waits for a retry (a NACK, a backoff)
rather than being held by a consumer. Everything is written in format 2; format 1 is read.
The CRC covers the database key and the rest of the value (``sealed``).
"""

from __future__ import annotations

import struct
import zlib

from attrs import frozen

from storage.errors import CorruptRecord
from storage.records import Record, decode_record

__all__ = [
    "DEFAULT_PRIORITY",
    "Delivery",
    "DueEntry",
    "MAX_HOLDER",
    "MAX_REASON",
    "check",
    "decode_due_value",
    "decode_inflight_value",
    "encode_due_value",
    "encode_inflight_value",
    "inflight_lease",
    "inflight_place",
    "sealed",
]

DEFAULT_PRIORITY = 1024  # as beanstalkd: 0 is the most urgent
FORMAT_2 = 0x8000_0000  # in the attempts word
MAX_REASON = 1000  # bytes of a failure reason kept (longer ones are cut)
MAX_HOLDER = 255

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_DUE_HEAD = struct.Struct(">II")  # crc, attempts
_INFLIGHT_HEAD = struct.Struct(">IIQ")  # crc, attempts, lease_until
INFLIGHT_HEAD_SIZE = _INFLIGHT_HEAD.size


@frozen
class Delivery:
    """A message handed out (or being handed back). ``id`` is unique within its shard and stays
    the same across the redeliveries of one scheduling."""

    id: int
    namespace: str
    key: bytes
    record: Record  # its value, type, deadline and priority
    data: bytes  # the record as stored
    attempts: int  # deliveries so far, this one included
    lease_until: int  # unix ms: when the lease (or the wait for a retry) ends
    due_at: int = 0  # when it last fell due (unix ms)
    holder: str = ""  # who took it ("" while it waits for a retry)
    waiting: bool = False  # waiting for a retry, not held by a consumer
    reason: str = ""  # why its last delivery failed

    @property
    def priority(self) -> int:
        return DEFAULT_PRIORITY if self.record.priority is None else self.record.priority


@frozen
class DueEntry:
    """A due-queue value, decoded: ``id`` None for a format 1 entry (it has none yet)."""

    id: int | None
    attempts: int
    reason: str
    data: bytes  # the record


def sealed(db_key: bytes, body: bytes) -> bytes:
    """``body`` with a CRC over the database key and itself in its first four bytes."""
    return _U32.pack(zlib.crc32(body[4:], zlib.crc32(db_key))) + body[4:]


def check(db_key: bytes, value: bytes | memoryview, what: str) -> None:
    if len(value) < 4 or zlib.crc32(value[4:], zlib.crc32(db_key)) != _U32.unpack_from(value)[0]:
        raise CorruptRecord(None, db_key, f"{what} fails its CRC check")


def _text(text: str, limit: int) -> bytes:
    return text.encode("utf-8", "replace")[:limit]


def encode_due_value(due_key: bytes, message_id: int, attempts: int, reason: str, data: bytes) -> bytes:
    why = _text(reason, MAX_REASON)
    head = _DUE_HEAD.pack(0, attempts | FORMAT_2) + _U64.pack(message_id) + _U16.pack(len(why)) + why
    return sealed(due_key, head + data)


def decode_due_value(value: bytes | memoryview) -> DueEntry:
    """The fields of a due-queue value whose CRC was checked (``check``); either format."""
    value = bytes(value)
    (attempts,) = _U32.unpack_from(value, 4)
    if not attempts & FORMAT_2:
        return DueEntry(None, attempts, "", value[_DUE_HEAD.size :])
    offset = _DUE_HEAD.size
    (message_id,) = _U64.unpack_from(value, offset)
    (length,) = _U16.unpack_from(value, offset + 8)
    offset += 8 + 2
    reason = value[offset : offset + length].decode("utf-8", "replace")
    return DueEntry(message_id, attempts & ~FORMAT_2, reason, value[offset + length :])


def encode_inflight_value(delivery: Delivery) -> tuple[bytes, bytes]:
    """``(database key, value)`` of ``delivery`` in ``mi/inflight``."""
    raw_id = _U64.pack(delivery.id)
    name = delivery.namespace.encode("ascii")
    holder, why = _text(delivery.holder, MAX_HOLDER), _text(delivery.reason, MAX_REASON)
    body = b"".join((
        _INFLIGHT_HEAD.pack(0, delivery.attempts | FORMAT_2, delivery.lease_until),
        _U8.pack(len(name)), name, _U16.pack(len(delivery.key)), delivery.key,
        _U64.pack(delivery.due_at), _U8.pack(delivery.waiting), _U8.pack(len(holder)), holder,
        _U16.pack(len(why)), why, delivery.data,
    ))  # fmt: skip
    return raw_id, sealed(raw_id, body)


def inflight_place(value: bytes | memoryview) -> tuple[str, bool]:
    """The namespace of an in-flight value and whether it waits for a retry, read without its
    CRC check and as far as its bytes go (how ``storage.queue_counts`` counts it, damaged or not;
    for an intact value, what ``decode_inflight_value`` reads)."""
    namespace, waiting = "", False
    try:
        offset = _INFLIGHT_HEAD.size
        length = value[offset]
        namespace = bytes(value[offset + 1 : offset + 1 + length]).decode("ascii", "replace")
        if _U32.unpack_from(value, 4)[0] & FORMAT_2:
            offset += 1 + length
            (key_length,) = _U16.unpack_from(value, offset)
            waiting = bool(value[offset + _U16.size + key_length + _U64.size])
    except (IndexError, struct.error):
        pass
    return namespace, waiting


def inflight_lease(raw_id: bytes, value: bytes | memoryview) -> tuple[str, int, bool]:
    """``(namespace, lease_until, waiting)`` of an in-flight value, its CRC checked and its record
    left undecoded: all ACK needs to release it. ``CorruptRecord`` if damaged."""
    check(raw_id, value, f"in-flight delivery {_U64.unpack(raw_id)[0]}")
    lease_until = _INFLIGHT_HEAD.unpack_from(value)[2]
    namespace, waiting = inflight_place(value)
    return namespace, lease_until, waiting


def decode_inflight_value(raw_id: bytes, value: bytes | memoryview) -> Delivery:
    """The delivery stored under ``raw_id`` in ``mi/inflight``; ``CorruptRecord`` if damaged."""
    delivery_id = _U64.unpack(raw_id)[0]
    check(raw_id, value, f"in-flight delivery {delivery_id}")
    value = bytes(value)
    _crc, attempts, lease_until = _INFLIGHT_HEAD.unpack_from(value)
    offset = _INFLIGHT_HEAD.size
    length = value[offset]
    namespace = value[offset + 1 : offset + 1 + length].decode("ascii")
    offset += 1 + length
    (key_length,) = _U16.unpack_from(value, offset)
    offset += _U16.size
    key = value[offset : offset + key_length]
    offset += key_length
    due_at, waiting, holder, reason = 0, False, "", ""
    if attempts & FORMAT_2:
        attempts &= ~FORMAT_2
        (due_at,) = _U64.unpack_from(value, offset)
        waiting, length = bool(value[offset + 8]), value[offset + 9]
        offset += 10
        holder = value[offset : offset + length].decode("utf-8", "replace")
        offset += length
        (length,) = _U16.unpack_from(value, offset)
        reason = value[offset + 2 : offset + 2 + length].decode("utf-8", "replace")
        offset += 2 + length
    data = value[offset:]
    record = decode_record(key, data, namespace=namespace)
    return Delivery(
        delivery_id, namespace, key, record, data, attempts, lease_until,
        due_at or record.expires_at, holder, waiting, reason,
    )  # fmt: skip
