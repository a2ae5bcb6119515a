"""The record codec: layout, round trips for every kind, and damage detection."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import CorruptRecord, InvalidValue, Kind, decode_record, encode_record
from storage.records import HEADER, INT64_MAX, INT64_MIN, decode_header, pack_record

KEY = b"greeting"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(INT64_MIN, INT64_MAX) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"", Kind.STRING),
        (b"hello", Kind.STRING),
        (bytes(range(256)), Kind.STRING),
        (0, Kind.INTEGER),
        (-1, Kind.INTEGER),
        (INT64_MIN, Kind.INTEGER),
        (INT64_MAX, Kind.INTEGER),
        (True, Kind.BOOLEAN),
        (False, Kind.BOOLEAN),
        ({}, Kind.JSON),
        ({"name": "Zoë ✓ 日本", "nested": {"list": [1, 2.5, None, True, {"deep": []}]}}, Kind.JSON),
        ([], Kind.LIST),
        ([1, "two", [3, [4]], {"five": 5}, None, False], Kind.LIST),
    ],
)
def test_round_trip_keeps_value_and_kind(value, kind):
    """Every kind decodes to the value, type tag, deadline and revision it was encoded with."""
    record = decode_record(KEY, encode_record(KEY, value, 1_700_000_000_000, 42))
    assert (record.kind, record.value, record.expires_at, record.revision) == (
        kind, value, 1_700_000_000_000, 42)
    assert type(record.value) is type(value)


@given(st.lists(json_values) | st.dictionaries(st.text(), json_values))
def test_any_json_round_trips(value):
    """Arbitrary nested JSON objects and arrays decode to an equal value."""
    assert decode_record(KEY, encode_record(KEY, value, 0, 1)).value == value


def test_layout_is_header_then_payload():
    """The header is big-endian crc32, kind, expires_at, revision; an integer is ASCII decimal."""
    data = encode_record(KEY, -42, 7, 9)
    _crc, kind, expires_at, revision = HEADER.unpack_from(data)
    assert (kind, expires_at, revision, data[HEADER.size :]) == (2, 7, 9, b"-42")


def test_json_payload_is_compact_utf8():
    """JSON is stored compact, with non-ASCII characters as UTF-8, not escapes."""
    assert encode_record(KEY, {"a": ["é", 1]}, 0, 1)[HEADER.size :] == '{"a":["é",1]}'.encode()


def test_boolean_is_not_stored_as_integer():
    """True is a boolean record with payload b"1", although bool is an int subclass."""
    data = encode_record(KEY, True, 0, 1)
    assert (data[4], data[HEADER.size :]) == (Kind.BOOLEAN, b"1")


def test_type_names():
    """Each kind has the type name users see."""
    assert [k.type_name for k in Kind] == ["string", "integer", "boolean", "json", "list"]


def test_bytearray_is_stored_as_bytes():
    """A bytearray is a string and decodes as bytes."""
    assert decode_record(KEY, encode_record(KEY, bytearray(b"ab"), 0, 1)).value == b"ab"


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, "text", 1.5, None, {"x": math.nan},
                                   [math.inf], {"x": object()}])
def test_unstorable_value_is_rejected(value):
    """Values outside the contract (int beyond 64 bits, str, float, NaN...) raise InvalidValue."""
    with pytest.raises(InvalidValue):
        encode_record(KEY, value, 0, 1)


def test_every_flipped_byte_is_detected():
    """Flipping any byte of a record makes decoding raise CorruptRecord."""
    data = encode_record(KEY, {"a": [1, 2]}, 123, 4)
    for offset in range(len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        with pytest.raises(CorruptRecord):
            decode_record(KEY, bytes(damaged))


def test_record_under_another_key_is_detected():
    """The CRC covers the key, so a record moved to another key is corrupt there."""
    with pytest.raises(CorruptRecord) as caught:
        decode_record(b"other", encode_record(KEY, b"v", 0, 1), namespace="ns")
    assert (caught.value.namespace, caught.value.key) == ("ns", b"other")


def test_truncated_record_is_detected():
    """A record shorter than its header is corrupt, not an IndexError."""
    with pytest.raises(CorruptRecord):
        decode_record(KEY, encode_record(KEY, b"v", 0, 1)[: HEADER.size - 1])


@pytest.mark.parametrize(
    ("kind", "payload"),
    [(Kind.INTEGER, b"12a"), (Kind.INTEGER, b"1_0"), (Kind.INTEGER, b" 1"),
     (Kind.INTEGER, str(INT64_MAX + 1).encode()), (Kind.BOOLEAN, b"2"), (Kind.JSON, b"[1]"),
     (Kind.LIST, b"{}"), (Kind.JSON, b"{"), (Kind.LIST, b"[NaN]"), (Kind.JSON, b"\xff")],
)
def test_undecodable_payload_with_valid_crc_is_corrupt(kind, payload):
    """A payload that does not parse as its kind is CorruptRecord even if the CRC matches."""
    with pytest.raises(CorruptRecord):
        decode_record(KEY, pack_record(KEY, kind, payload, 0, 1))


def test_unknown_kind_is_corrupt():
    """A kind byte outside the enum is CorruptRecord."""
    data = bytearray(encode_record(KEY, b"v", 0, 1))
    data[4] = 99
    with pytest.raises(CorruptRecord):
        decode_header(KEY, bytes(data))


def test_decode_header_reads_fields_without_payload():
    """decode_header returns kind, deadline and revision even when the payload is damaged."""
    data = encode_record(KEY, [1, 2, 3], 5, 6)[:-1]
    assert decode_header(KEY, data) == (Kind.LIST, 5, 6)


def test_record_is_expired_at_its_deadline():
    """A record expires when now reaches expires_at; 0 never expires."""
    record = decode_record(KEY, encode_record(KEY, b"v", 1000, 1))
    assert (record.is_expired(999), record.is_expired(1000)) == (False, True)
    assert not decode_record(KEY, encode_record(KEY, b"v", 0, 1)).is_expired(2**62)


def test_a_priority_is_kept_and_covered_by_the_crc():
    from storage.records import PRIORITY_FLAG, record_priority

    data = encode_record(b"k", b"value", 1000, 7, priority=3)
    record = decode_record(b"k", data)
    assert (record.value, record.expires_at, record.revision, record.priority) == (b"value", 1000, 7, 3)
    assert record_priority(data) == 3 and data[4] & PRIORITY_FLAG
    assert decode_record(b"k", encode_record(b"k", b"value", 1000, 7)).priority is None
    damaged = bytearray(data)
    damaged[HEADER.size + 3] ^= 1  # inside the priority
    with pytest.raises(CorruptRecord, match="CRC"):
        decode_record(b"k", bytes(damaged))
