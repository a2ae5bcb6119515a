"""The five message types round-trip through redis-py over RESP2 and RESP3."""

import pytest


async def test_string_round_trips_in_resp2(r2):
    """A string comes back as the bytes that were stored."""
    assert await r2.set("greeting", "hello world") is True
    assert await r2.get("greeting") == b"hello world"


async def test_integer_is_read_back_as_its_decimal_in_resp2(r2):
    """A canonical decimal is stored as an integer (TYPE says so) and read back in RESP2 as the
    bulk string Redis clients expect."""
    await r2.set("count", "42")
    assert await r2.execute_command("GET", "count") == b"42"
    assert await r2.type("count") == b"integer"


async def test_non_canonical_number_stays_a_string(r2):
    """007 is not an integer's canonical form, so it stays the string that was sent."""
    await r2.set("code", "007")
    assert await r2.get("code") == b"007"


async def test_boolean_is_true_or_false_text_in_resp2(r2):
    """RESP2 has no booleans: true and false come back as the text they were written as."""
    await r2.set("yes", "true")
    await r2.set("no", "false")
    assert await r2.execute_command("GET", "yes") == b"true"
    assert await r2.execute_command("GET", "no") == b"false"
    assert await r2.type("yes") == b"boolean"


async def test_boolean_is_native_in_resp3(r3):
    """RESP3 answers booleans natively."""
    await r3.set("flag", "true")
    assert await r3.execute_command("GET", "flag") is True


async def test_json_object_is_compact_json_in_resp2(r2):
    """RESP2 has no maps: an object comes back as a bulk string of compact JSON."""
    await r2.execute_command("HSET", "user", '{"name": "ada", "langs": ["en", "fr"], "age": 36}')
    assert await r2.execute_command("GET", "user") == b'{"name":"ada","langs":["en","fr"],"age":36}'


async def test_json_object_is_a_map_in_resp3(r3):
    """RESP3 answers an object as a map, nested values natively."""
    await r3.execute_command("HSET", "user", '{"name": "ada", "score": 1.5, "admin": false, "x": null}')
    assert await r3.execute_command("GET", "user") == {
        b"name": b"ada",
        b"score": 1.5,
        b"admin": False,
        b"x": None,
    }


async def test_list_is_an_array_of_bulk_strings_in_resp2(r2):
    """A list is an array of bulk strings; an object inside it is compact JSON."""
    await r2.execute_command("LSET", "items", '[1, "two", {"three": 3}, true]')
    assert await r2.execute_command("GET", "items") == [b"1", b"two", b'{"three":3}', b"true"]


async def test_list_is_native_in_resp3(r3):
    """RESP3 answers a list with its nested values natively."""
    await r3.execute_command("LSET", "items", '[1, "two", {"three": [3]}, null]')
    assert await r3.execute_command("GET", "items") == [1, b"two", {b"three": [3]}, None]


@pytest.mark.parametrize("kind,value", [("string", "text"), ("integer", "7"), ("boolean", "false")])
async def test_type_names_the_stored_type(r2, kind, value):
    """TYPE reports the type a SET inferred."""
    await r2.set("k", value)
    assert await r2.type("k") == kind.encode()


async def test_type_of_json_list_and_missing(r2):
    """TYPE reports json, list and none."""
    await r2.execute_command("HSET", "o", "{}")
    await r2.execute_command("LSET", "l", "[]")
    assert [await r2.type(k) for k in ("o", "l", "missing")] == [b"json", b"list", b"none"]


async def test_as_forces_a_string(r2):
    """AS STRING keeps digits as a string."""
    await r2.execute_command("SET", "zip", "12345", "AS", "STRING")
    assert await r2.execute_command("GET", "zip") == b"12345"
    assert await r2.type("zip") == b"string"


async def test_binary_values_round_trip(r3):
    """Values are binary safe."""
    payload = bytes(range(256)) * 4
    await r3.set("blob", payload)
    assert await r3.get("blob") == payload
