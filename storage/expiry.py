"""The expiry index key codec: a priority queue of deadlines kept in an LMDB sub-database.

An index key is ``>Q deadline_ms`` + 1 byte namespace length + namespace (ASCII) + record key, with
an empty value. LMDB orders keys bytewise, so big-endian deadlines put the earliest deadline first:
the first key of the index is the next record to expire, in any namespace. The index is updated in
the same write transaction as the record, so it never disagrees with the data.

Index keys must fit LMDB's 511-byte key limit, which bounds the record key size for everyone
(``storage.limits``).
"""

from __future__ import annotations

import struct

__all__ = [
    "DEADLINE_SIZE",
    "EXPIRY_KEY_OVERHEAD",
    "NAMESPACE_LENGTH_SIZE",
    "decode_index_key",
    "encode_index_key",
    "index_deadline",
    "index_namespace",
]

DEADLINE_SIZE = 8
NAMESPACE_LENGTH_SIZE = 1
EXPIRY_KEY_OVERHEAD = DEADLINE_SIZE + NAMESPACE_LENGTH_SIZE  # beside the namespace name and the key

_DEADLINE = struct.Struct(">Q")
_PREFIX_SIZE = DEADLINE_SIZE + NAMESPACE_LENGTH_SIZE


def encode_index_key(deadline_ms: int, namespace: str, key: bytes) -> bytes:
    name = namespace.encode("ascii")
    return _DEADLINE.pack(deadline_ms) + bytes((len(name),)) + name + key


def index_deadline(index_key: bytes | memoryview) -> int:
    """The deadline (unix ms) of an index key."""
    return _DEADLINE.unpack_from(index_key)[0]


def index_namespace(index_key: bytes | memoryview) -> bytes:
    """The namespace of an index key, as ASCII bytes (cheap to compare while scanning)."""
    length = index_key[DEADLINE_SIZE]
    return bytes(index_key[_PREFIX_SIZE : _PREFIX_SIZE + length])


def decode_index_key(index_key: bytes | memoryview) -> tuple[int, str, bytes]:
    """``(deadline_ms, namespace, key)``; ``ValueError`` if the index key is malformed."""
    if len(index_key) < _PREFIX_SIZE:
        msg = "expiry index key too short"
        raise ValueError(msg)
    length = index_key[DEADLINE_SIZE]
    end = _PREFIX_SIZE + length
    if len(index_key) <= end:
        msg = "expiry index key truncated"
        raise ValueError(msg)
    namespace = bytes(index_key[_PREFIX_SIZE:end]).decode("ascii")
    return index_deadline(index_key), namespace, bytes(index_key[end:])
