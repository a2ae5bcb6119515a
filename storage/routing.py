"""Which shard holds a key: a stable hash of the key, with Redis Cluster ``{tag}`` hash tags.

The mapping is part of the on-disk format: a data dir's records sit in the shard this function chose
when they were written. Changing the hash (or the tag rule) would make existing keys unreachable
(orphaned in the wrong shard), so it never changes for a given data dir format. zlib.crc32 is used
because it is the same in every process, platform and Python version (``hash()`` is salted).
"""

from __future__ import annotations

import zlib

__all__ = ["hash_slot_key", "shard_index"]


def hash_slot_key(key: bytes) -> bytes:
    """The part of ``key`` that is hashed: the content of the first non-empty ``{...}``, else all.

    As in Redis Cluster: find the first ``{``, then the first ``}`` after it; if there is at least
    one byte between them, only those bytes are hashed, so ``user:{42}:a`` and ``user:{42}:b`` share
    a shard. ``{}`` (empty) or an unclosed ``{`` hash the whole key.
    """
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def shard_index(key: bytes, shard_count: int) -> int:
    """The index (0-based) of the shard that stores ``key`` among ``shard_count`` shards."""
    return zlib.crc32(hash_slot_key(key)) % shard_count
