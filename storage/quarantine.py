"""Quarantine: damaged or undeliverable items set aside, so they never block the others.

When the reaper or a TAKE meets an item it cannot handle (a message failing its CRC, a record whose
due-queue key would not fit, an entry whose handling fails in LMDB), the item's bytes move here in
the same write transaction and the work goes on with the rest. Nothing here is served. ``mi
verify`` lists it, NAMESPACE INFO and the metrics count it, and ``mi verify --clear-quarantine``
(with the server stopped) empties it once a person has looked.

One internal database per shard (big-endian numbers)::

    mi/quarantine  id u64 -> at_ms u64 | area length u8 | area | ns length u8 | ns
                             | reason length u16 | reason (UTF-8) | key length u16 | key | value

``id`` comes from the shard's revision counter. ``key`` is the user's key where it is known (else
the database key); ``value`` holds the bytes as they were stored, for a person to inspect.
"""

from __future__ import annotations

import struct

from attrs import frozen

__all__ = ["Quarantined", "decode_quarantined", "encode_quarantined"]

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")
MAX_REASON_BYTES = 1000


@frozen
class Quarantined:
    """One item set aside. ``area``: where it was ("due", "in flight", "record")."""

    id: int
    at_ms: int
    area: str
    namespace: str | None
    key: bytes
    reason: str
    value: bytes

    def describe(self) -> str:
        ns = f"namespace {self.namespace!r}, " if self.namespace else ""
        key = self.key.decode("utf-8", "backslashreplace")
        return f"{ns}key {key!r} ({self.area}): {self.reason}"


def encode_quarantined(item: Quarantined) -> tuple[bytes, bytes]:
    """The database key and value of ``item``."""
    area = item.area.encode("ascii")
    ns = (item.namespace or "").encode("ascii", "replace")
    reason = item.reason.encode("utf-8", "backslashreplace")[:MAX_REASON_BYTES]
    value = b"".join((
        _U64.pack(item.at_ms),
        _U8.pack(len(area)), area,
        _U8.pack(len(ns)), ns,
        _U16.pack(len(reason)), reason,
        _U16.pack(len(item.key)), item.key,
        item.value,
    ))  # fmt: skip
    return _U64.pack(item.id), value


def decode_quarantined(raw_id: bytes | memoryview, value: bytes | memoryview) -> Quarantined:
    """The item stored under ``raw_id``; ``ValueError`` if it does not decode."""
    view = bytes(value)
    try:
        (item_id,) = _U64.unpack(bytes(raw_id))
        (at_ms,) = _U64.unpack_from(view)
        offset = _U64.size
        fields = []
        for length_field in (_U8, _U8, _U16, _U16):
            (length,) = length_field.unpack_from(view, offset)
            offset += length_field.size
            if offset + length > len(view):
                msg = "quarantined item truncated"
                raise ValueError(msg)
            fields.append(view[offset : offset + length])
            offset += length
    except struct.error as error:
        msg = f"malformed quarantined item: {error}"
        raise ValueError(msg) from None
    area, ns, reason, key = fields
    return Quarantined(
        item_id, at_ms, area.decode("ascii", "replace"), ns.decode("ascii", "replace") or None,
        key, reason.decode("utf-8", "replace"), view[offset:],
    )
