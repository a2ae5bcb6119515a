"""Physical changes a write transaction made, and the intent record that carries them.

A transaction that writes to several shards commits shard by shard (each shard is its own LMDB
environment). To make it all-or-nothing across a crash, the first shard's commit also stores an
*intent*: the changes the other shards are about to commit. At startup, an intent still present is
redone on those shards (see ``storage.multishard``).

A change is the final state of one key (the record bytes, or gone) or the emptying of a namespace,
so redoing one that already landed writes the same bytes again.

Layouts (big-endian)::

    change: op u8 | namespace length u8 | namespace | key length u16 | key | data length u32 | data
    intent: crc32 u32 | (shard u16 | change)*

The journal (``storage.journal``) stores changes in the same layout.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Iterable

from attrs import frozen

__all__ = [
    "Change",
    "ChangeOp",
    "IntentDamaged",
    "decode_intent",
    "encode_intent",
    "pack_change",
    "read_sized",
    "unpack_change",
]

_CRC = struct.Struct(">I")
_SHARD = struct.Struct(">H")
_CHANGE = struct.Struct(">BB")
_KEY_LENGTH = struct.Struct(">H")
_DATA_LENGTH = struct.Struct(">I")


class ChangeOp(enum.IntEnum):
    """On disk: never renumber."""

    PUT = 1  # the key now holds ``data`` (a complete record)
    DELETE = 2  # the key is gone
    DROP = 3  # the namespace is empty


@frozen
class Change:
    op: ChangeOp
    namespace: str
    key: bytes = b""
    data: bytes = b""


class IntentDamaged(ValueError):
    """An intent record fails its CRC or does not parse."""


def pack_change(change: Change) -> list[bytes]:
    """The parts of one change's bytes (join them, or several changes' parts, once)."""
    name = change.namespace.encode("ascii")
    return [
        _CHANGE.pack(change.op, len(name)),
        name,
        _KEY_LENGTH.pack(len(change.key)),
        change.key,
        _DATA_LENGTH.pack(len(change.data)),
        change.data,
    ]


def unpack_change(view: memoryview, offset: int) -> tuple[Change, int]:
    """The change at ``offset`` and where the next one starts; ``ValueError`` if malformed."""
    try:
        op, name_length = _CHANGE.unpack_from(view, offset)
        offset += _CHANGE.size
        namespace = bytes(view[offset : offset + name_length]).decode("ascii")
        offset += name_length
        key, offset = read_sized(view, offset, _KEY_LENGTH)
        data, offset = read_sized(view, offset, _DATA_LENGTH)
        return Change(ChangeOp(op), namespace, key, data), offset
    except struct.error as error:
        raise ValueError(str(error)) from None


def encode_intent(changes: Iterable[tuple[int, Change]]) -> bytes:
    """The intent for ``(shard index, change)`` pairs, in the order they are to be redone."""
    parts = []
    for shard, change in changes:
        parts.append(_SHARD.pack(shard))
        parts += pack_change(change)
    body = b"".join(parts)
    return _CRC.pack(zlib.crc32(body)) + body


def decode_intent(blob: bytes) -> list[tuple[int, Change]]:
    """The ``(shard index, change)`` pairs of an intent; ``IntentDamaged`` if it is not intact."""
    view = memoryview(blob)
    if len(view) < _CRC.size or zlib.crc32(view[_CRC.size :]) != _CRC.unpack_from(view)[0]:
        msg = "intent record fails its CRC check"
        raise IntentDamaged(msg)
    changes = []
    offset = _CRC.size
    try:
        while offset < len(view):
            (shard,) = _SHARD.unpack_from(view, offset)
            change, offset = unpack_change(view, offset + _SHARD.size)
            changes.append((shard, change))
    except (struct.error, ValueError) as error:
        msg = f"intent record does not parse: {error}"
        raise IntentDamaged(msg) from None
    return changes


def read_sized(view: memoryview, offset: int, length: struct.Struct) -> tuple[bytes, int]:
    """The bytes of a field whose ``length`` prefix is at ``offset``, and the offset after it."""
    (size,) = length.unpack_from(view, offset)
    start = offset + length.size
    if start + size > len(view):
        msg = "truncated field"
        raise ValueError(msg)
    return bytes(view[start : start + size]), start + size
