"""Key routing: a stable hash and Redis Cluster hash tags."""

from __future__ import annotations

import zlib

import pytest

from storage import hash_slot_key, shard_index


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (b"foo", [0, 1, 2, 1, 1, 1]),
        (b"bar", [0, 0, 2, 2, 2, 10]),
        (b"hello", [0, 0, 1, 2, 6, 6]),
        (b"user:1000", [0, 1, 0, 3, 3, 3]),
        (b"{user1000}.following", [0, 0, 0, 2, 6, 6]),
    ],
)
def test_shard_index_is_pinned(key, expected):
    """Fixed indexes for fixed keys: changing the hash would orphan existing data, so it fails here."""
    assert [shard_index(key, n) for n in (1, 2, 3, 4, 8, 16)] == expected


def test_hash_is_crc32_of_the_slot_key():
    """The shard is zlib.crc32 of the hashed part modulo the shard count."""
    assert shard_index(b"a{tag}b", 7) == zlib.crc32(b"tag") % 7


@pytest.mark.parametrize(
    ("key", "slot_key"),
    [
        (b"user:{42}:name", b"42"),
        (b"{42}", b"42"),
        (b"{a}{b}", b"a"),
        (b"x{}{y}", b"x{}{y}"),
        (b"{}", b"{}"),
        (b"open{only", b"open{only"),
        (b"close}only{", b"close}only{"),
        (b"no tags", b"no tags"),
        (b"a{b{c}d", b"b{c"),
    ],
)
def test_hash_slot_key_follows_redis_cluster(key, slot_key):
    """First '{', then the first '}' after it; only non-empty content between them is hashed."""
    assert hash_slot_key(key) == slot_key


def test_tagged_keys_share_a_shard():
    """Keys with the same {tag} land in the same shard for every shard count."""
    keys = [b"user:{42}:name", b"user:{42}:email", b"{42}", b"session{42}"]
    for count in range(1, 33):
        assert len({shard_index(k, count) for k in keys}) == 1


def test_untagged_keys_spread_over_shards():
    """Without tags, many keys use every shard."""
    assert {shard_index(b"key:%d" % i, 8) for i in range(200)} == set(range(8))
