"""The record codec: one typed value with its deadline and revision, protected by a CRC32.

Layout (big-endian)::

    crc32 u32 | kind u8 | expires_at u64 (unix ms, 0 = none) | revision u64 | [priority u32] | payload

The priority (for delivery: 0 most urgent) is there only when the kind byte has its high bit set,
so records written before priorities existed read as they are.

Payload: string = the raw bytes; integer = ASCII decimal; boolean = ``b"1"``/``b"0"``; json and
list = compact JSON in UTF-8 (``ensure_ascii=False``). The CRC covers the record's KEY followed by
everything after the CRC field, so a flipped bit anywhere and a record copied under another key are
both detected. Any mismatch or undecodable payload raises ``CorruptRecord``; a wrong value is never
returned.
"""

from __future__ import annotations

import enum
import json
import re
import struct
import zlib
from typing import Any, TypeAlias

from attrs import frozen

from storage.errors import CorruptRecord, InvalidValue

__all__ = [
    "HEADER",
    "INT64_MAX",
    "MAX_PRIORITY",
    "INT64_MIN",
    "U64_MAX",
    "Kind",
    "Record",
    "Value",
    "decode_header",
    "decode_record",
    "encode_payload",
    "encode_record",
    "pack_record",
    "payload_offset",
    "record_priority",
]

Value: TypeAlias = bytes | int | bool | dict[str, Any] | list[Any]

HEADER = struct.Struct(">IBQQ")
_BODY_HEADER = struct.Struct(">BQQ")  # the header without its CRC field
_PRIORITY = struct.Struct(">I")
PRIORITY_FLAG = 0x80  # in the kind byte: a priority follows the header
MAX_PRIORITY = 2**32 - 1
U64_MAX = 2**64 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_INTEGER_RE = re.compile(rb"-?(?:0|[1-9][0-9]*)")


class Kind(enum.IntEnum):
    """The type tag stored in every record (values are on disk: never renumber)."""

    STRING = 1
    INTEGER = 2
    BOOLEAN = 3
    JSON = 4
    LIST = 5

    @property
    def type_name(self) -> str:
        """The name users see (``TYPE`` replies, errors): string, integer, boolean, json, list."""
        return self.name.lower()


@frozen
class Record:
    """A decoded record. ``expires_at`` is absolute unix ms (0 = never); ``revision`` is per shard."""

    kind: Kind
    value: Value
    expires_at: int
    revision: int
    priority: int | None = None  # None: the default (see storage.delivery)

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_at != 0 and self.expires_at <= now_ms


def _dump_json(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as error:  # unserialisable, NaN, circular, lone surrogate
        msg = f"value cannot be stored as JSON: {error}"
        raise InvalidValue(msg) from None


def encode_payload(value: Value) -> tuple[Kind, bytes]:
    """The kind and payload bytes of ``value`` (``InvalidValue`` if it is not storable)."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return Kind.BOOLEAN, b"1" if value else b"0"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            msg = f"integer {value} is outside the signed 64-bit range"
            raise InvalidValue(msg)
        return Kind.INTEGER, str(int(value)).encode("ascii")
    if isinstance(value, bytes | bytearray | memoryview):
        return Kind.STRING, bytes(value)
    if isinstance(value, dict):
        return Kind.JSON, _dump_json(value)
    if isinstance(value, list):
        return Kind.LIST, _dump_json(value)
    msg = f"cannot store a value of type {type(value).__name__}"
    raise InvalidValue(msg)


def _checked_u64(name: str, number: int) -> int:
    if not 0 <= number <= U64_MAX:
        msg = f"{name} {number} is outside 0..2**64-1"
        raise ValueError(msg)
    return number


def pack_record(
    key: bytes, kind: Kind, payload: bytes, expires_at: int, revision: int, priority: int | None = None
) -> bytes:
    """Assemble a record from an already encoded payload (see ``encode_payload``)."""
    flag = 0 if priority is None else PRIORITY_FLAG
    body = _BODY_HEADER.pack(
        kind | flag, _checked_u64("expires_at", expires_at), _checked_u64("revision", revision)
    )
    if priority is not None:
        if not 0 <= priority <= MAX_PRIORITY:
            msg = f"priority {priority} is outside 0..{MAX_PRIORITY}"
            raise ValueError(msg)
        body += _PRIORITY.pack(priority)
    crc = zlib.crc32(payload, zlib.crc32(body, zlib.crc32(key)))
    return struct.pack(">I", crc) + body + payload


def encode_record(key: bytes, value: Value, expires_at: int, revision: int, priority: int | None = None) -> bytes:
    """Encode ``value`` stored under ``key`` as record bytes."""
    kind, payload = encode_payload(value)
    return pack_record(key, kind, payload, expires_at, revision, priority)


def decode_header(
    key: bytes, data: bytes | memoryview, *, namespace: str | None = None
) -> tuple[Kind, int, int]:
    """``(kind, expires_at, revision)`` without decoding the payload or checking the CRC."""
    if len(data) < HEADER.size:
        raise CorruptRecord(namespace, key, f"record is {len(data)} bytes, shorter than its header")
    _crc, kind, expires_at, revision = HEADER.unpack_from(data)
    try:
        return Kind(kind & ~PRIORITY_FLAG), expires_at, revision
    except ValueError:
        raise CorruptRecord(namespace, key, f"unknown kind {kind}") from None


def record_priority(data: bytes | memoryview) -> int | None:
    """The priority of record ``data``, without checking it (None: none stored)."""
    if len(data) < HEADER.size + _PRIORITY.size or not data[4] & PRIORITY_FLAG:
        return None
    return _PRIORITY.unpack_from(data, HEADER.size)[0]


def payload_offset(data: bytes | memoryview) -> int:
    """Where the payload of record ``data`` starts (after the optional priority)."""
    return HEADER.size + (_PRIORITY.size if data[4] & PRIORITY_FLAG else 0)


def decode_record(key: bytes, data: bytes | memoryview, *, namespace: str | None = None) -> Record:
    """Check the CRC of record ``data`` stored under ``key`` and decode it.

    ``data`` may be a view into the database: nothing returned refers to it.
    """
    kind, expires_at, revision = decode_header(key, data, namespace=namespace)
    view = memoryview(data)
    (stored_crc,) = struct.unpack_from(">I", view)
    if zlib.crc32(view[4:], zlib.crc32(key)) != stored_crc:
        raise CorruptRecord(namespace, key, "CRC mismatch")
    offset = payload_offset(view)
    if len(view) < offset:
        raise CorruptRecord(namespace, key, "record shorter than its header")
    priority = _PRIORITY.unpack_from(view, HEADER.size)[0] if offset > HEADER.size else None
    payload = bytes(view[offset:])
    try:
        value = _decode_payload(kind, payload)
    except ValueError as error:  # includes UnicodeDecodeError and json.JSONDecodeError
        raise CorruptRecord(namespace, key, f"undecodable {kind.type_name} payload: {error}") from None
    return Record(kind, value, expires_at, revision, priority)


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not JSON"
    raise ValueError(msg)


def _decode_payload(kind: Kind, payload: bytes) -> Value:
    if kind is Kind.STRING:
        return payload
    if kind is Kind.INTEGER:
        if _INTEGER_RE.fullmatch(payload) is None:
            msg = f"not a decimal integer: {payload[:40]!r}"
            raise ValueError(msg)
        number = int(payload)
        if not INT64_MIN <= number <= INT64_MAX:
            msg = "integer outside the signed 64-bit range"
            raise ValueError(msg)
        return number
    if kind is Kind.BOOLEAN:
        if payload not in (b"0", b"1"):
            msg = f"not a boolean: {payload[:40]!r}"
            raise ValueError(msg)
        return payload == b"1"
    value = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    expected = dict if kind is Kind.JSON else list
    if not isinstance(value, expected):
        msg = f"JSON payload is a {type(value).__name__}, not a {expected.__name__}"
        raise ValueError(msg)
    return value
