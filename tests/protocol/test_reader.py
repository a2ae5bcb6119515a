"""ReplyReader: RESP2/RESP3 reply bytes into values; round trips with the encoder."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.encoder import encode
from protocol.errors import CommandError, ProtocolError
from protocol.parser import NEED_DATA
from protocol.reader import ReplyReader
from protocol.replies import NULL_ARRAY, Push, SetReply, SimpleString, Stored, Verbatim


def splittings(data: bytes) -> Iterator[list[bytes]]:
    """Every way the tests deliver ``data``: whole, a byte at a time, in two at every offset."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def feed(chunks: list[bytes]) -> list[Any]:
    """The replies read from ``chunks``, pulled after each read."""
    reader = ReplyReader()
    replies = []
    for chunk in chunks:
        reader.receive_data(chunk)
        while (reply := reader.next_reply()) is not NEED_DATA:
            replies.append(reply)
    return replies


def read(data: bytes) -> Any:
    """The one reply in ``data``, checked to be the same however the bytes are split."""
    expected = feed([data])
    for chunks in splittings(data):
        assert feed(chunks) == expected, chunks
    assert len(expected) == 1, expected
    return expected[0]


def bad(data: bytes) -> str:
    """The ProtocolError that reading ``data`` raises."""
    with pytest.raises(ProtocolError) as caught:
        feed([data])
    return str(caught.value)


# --- each reply type --------------------------------------------------------------------------


def test_simple_string():
    """``+`` is a SimpleString."""
    assert read(b"+OK\r\n") == SimpleString("OK")


def test_error_splits_prefix_from_message():
    """``-`` is a CommandError: the first word is the prefix."""
    assert read(b"-WRONGTYPE Operation against a key\r\n") == CommandError(
        "WRONGTYPE", "Operation against a key"
    )


def test_error_without_message():
    """An error of one word has an empty message."""
    assert read(b"-ERR\r\n") == CommandError("ERR", "")


def test_integer():
    """``:`` is an int."""
    assert read(b":-12\r\n") == -12


def test_bulk_string():
    """``$`` is bytes, binary safe."""
    assert read(b"$4\r\na\r\nb\r\n") == b"a\r\nb"


def test_null_bulk_string():
    """``$-1`` is None."""
    assert read(b"$-1\r\n") is None


def test_array():
    """``*`` is a list."""
    assert read(b"*2\r\n:1\r\n$1\r\nx\r\n") == [1, b"x"]


def test_empty_array():
    """``*0`` is an empty list."""
    assert read(b"*0\r\n") == []


def test_null_array():
    """``*-1`` is NULL_ARRAY."""
    assert read(b"*-1\r\n") is NULL_ARRAY


def test_nested_arrays():
    """Arrays nest, and the elements after an inner array still belong to the outer one."""
    assert read(b"*3\r\n*1\r\n*0\r\n:2\r\n*1\r\n+x\r\n") == [[[]], 2, [SimpleString("x")]]


def test_null():
    """``_`` is None."""
    assert read(b"_\r\n") is None


def test_booleans():
    """``#t`` and ``#f`` are True and False."""
    assert feed([b"#t\r\n#f\r\n"]) == [True, False]


def test_double():
    """``,`` is a float, exponent allowed."""
    assert read(b",-1.5e3\r\n") == -1500.0


def test_double_specials():
    """``inf``, ``-inf`` and ``nan`` are read."""
    values = feed([b",inf\r\n,-inf\r\n,nan\r\n"])
    assert values[:2] == [math.inf, -math.inf] and math.isnan(values[2])


def test_big_number():
    """``(`` is an int of any size."""
    assert read(b"(3492890328409238509324850943850943825024385\r\n") == (
        3492890328409238509324850943850943825024385
    )


def test_map():
    """``%`` is a dict of key/value pairs."""
    assert read(b"%2\r\n$1\r\na\r\n:1\r\n+b\r\n_\r\n") == {b"a": 1, SimpleString("b"): None}


def test_map_keys_are_made_hashable():
    """An array used as a map key comes back as a tuple."""
    assert read(b"%1\r\n*2\r\n:1\r\n:2\r\n:3\r\n") == {(1, 2): 3}


def test_set():
    """``~`` is a SetReply."""
    assert read(b"~2\r\n:1\r\n:2\r\n") == SetReply((1, 2))


def test_verbatim_string():
    """``=`` is a Verbatim without its format prefix, format kept."""
    assert read(b"=15\r\ntxt:Some string\r\n") == Verbatim("Some string", "txt")


def test_push():
    """``>`` is a Push."""
    assert read(b">2\r\n$7\r\nmessage\r\n$2\r\nhi\r\n") == Push((b"message", b"hi"))


def test_blob_error():
    """``!`` is a CommandError whose text may hold line breaks."""
    reply = read(b"!22\r\nSYNTAX invalid\r\nsyntax\r\n")
    assert reply == CommandError("SYNTAX", "invalid\r\nsyntax")


def test_attribute_is_dropped():
    """A ``|`` attribute map is read and the reply it annotates is returned."""
    data = b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*1\r\n:2\r\n"
    assert read(data) == [2]


def test_attribute_inside_an_aggregate_is_not_an_element():
    """An attribute before an element does not count towards the array's length."""
    assert read(b"*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n") == [1, 2]


def test_several_replies_in_one_read():
    """Pipelined replies come out one per call, in order."""
    assert feed([b"+OK\r\n:1\r\n$-1\r\n"]) == [SimpleString("OK"), 1, None]


def test_partial_reply_needs_data():
    """A reply cut short yields NEED_DATA, then completes when the rest arrives."""
    reader = ReplyReader()
    reader.receive_data(b"*2\r\n$3\r\nfoo\r\n$3\r\nb")
    assert reader.next_reply() is NEED_DATA
    reader.receive_data(b"ar\r\n")
    assert reader.next_reply() == [b"foo", b"bar"]


# --- malformed replies ------------------------------------------------------------------------


def test_unknown_type_byte_is_an_error():
    """A line starting with an unknown byte is refused."""
    assert "bad reply line" in bad(b"@foo\r\n")


def test_non_number_integer_is_an_error():
    """``:abc`` is refused."""
    assert "bad integer" in bad(b":abc\r\n")


def test_integer_with_plus_sign_is_an_error():
    """``:+1`` is refused (only an optional minus)."""
    assert "bad integer" in bad(b":+1\r\n")


def test_negative_bulk_length_other_than_null_is_an_error():
    """``$-2`` is refused."""
    assert "length" in bad(b"$-2\r\n")


def test_bulk_not_followed_by_crlf_is_an_error():
    """Bulk data longer than declared is refused."""
    assert "CRLF" in bad(b"$1\r\nab\r\n")


def test_line_ended_by_bare_newline_is_an_error():
    """Reply lines end with CRLF."""
    assert "CRLF" in bad(b"+OK\n")


def test_bad_boolean_is_an_error():
    """``#x`` is refused."""
    assert "bad reply line" in bad(b"#x\r\n")


def test_bad_double_is_an_error():
    """``,1_0`` is refused (float() alone would take it)."""
    assert "bad double" in bad(b",1_0\r\n")


def test_null_with_content_is_an_error():
    """``_x`` is refused."""
    assert "bad reply line" in bad(b"_x\r\n")


def test_verbatim_without_format_is_an_error():
    """A verbatim string must start with three format bytes and a colon."""
    assert "format" in bad(b"=2\r\nab\r\n")


def test_negative_set_count_is_an_error():
    """Only arrays have a null form: ``~-1`` is refused."""
    assert "count" in bad(b"~-1\r\n")


def test_reader_errors_are_sticky():
    """After a malformed reply every call raises the same error."""
    reader = ReplyReader()
    reader.receive_data(b"@\r\n+OK\r\n")
    with pytest.raises(ProtocolError) as first:
        reader.next_reply()
    with pytest.raises(ProtocolError) as again:
        reader.next_reply()
    assert first.value is again.value


# --- encoder -> reader round trips -------------------------------------------------------------


def texts(**kwargs: Any) -> st.SearchStrategy[str]:
    """Text that UTF-8 can encode (no lone surrogates)."""
    return st.text(st.characters(blacklist_categories=("Cs",)), **kwargs)


line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"))
word = st.text(st.characters(whitelist_categories=("Lu",)), min_size=1, max_size=10)
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.one_of(
    st.binary(max_size=20),
    texts(max_size=10),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.none(),
    st.builds(SimpleString, line_text),
    st.just(NULL_ARRAY),
    st.builds(Verbatim, texts(), st.sampled_from(["txt", "mkd"])),
    st.builds(CommandError, word, line_text),
)
replies = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.binary(max_size=6), children, max_size=4),
        st.lists(children, max_size=4).map(lambda items: SetReply(tuple(items))),
        st.lists(children, max_size=4).map(lambda items: Push(tuple(items))),
    ),
    max_leaves=16,
)


def expected(value: Any, resp: int) -> Any:
    """What a reply reads back as: the identity, up to what each protocol can say."""
    match value:
        case bool():
            return value if resp == 3 else int(value)
        case int() if resp == 2 and not -(2**63) <= value < 2**63:
            return b"%d" % value
        case str():
            return value.encode()
        case float():
            return value if resp == 3 else repr(value).encode()
        case list() | tuple():
            return [expected(item, resp) for item in value]
        case dict() if resp == 3:
            return {key: expected(item, resp) for key, item in value.items()}
        case dict():
            return [x for key, item in value.items() for x in (key, expected(item, resp))]
        case SetReply() | Push() if resp == 3:
            return type(value)(tuple(expected(item, resp) for item in value.items))
        case SetReply() | Push():
            return [expected(item, resp) for item in value.items]
        case Verbatim() if resp == 2:
            return value.text.encode()
        case _ if value is NULL_ARRAY and resp == 3:
            return None
        case _:
            return value


@given(replies, st.sampled_from([2, 3]), st.data())
def test_replies_round_trip(reply, resp, data):
    """Any reply encoded then read is itself, RESP2 flattening maps, sets, bools and doubles."""
    encoded = encode(reply, resp)
    cut = data.draw(st.integers(0, len(encoded)))
    assert feed([encoded[:cut], encoded[cut:]]) == [expected(reply, resp)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite
    | texts(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(texts(max_size=6), children, max_size=4),
    max_leaves=12,
)
stored_values = st.one_of(
    st.binary(max_size=20), st.integers(-(2**63), 2**63 - 1), st.booleans(),
    st.dictionaries(texts(max_size=6), json_values, max_size=4),
    st.lists(json_values, max_size=4),
)


def expected_stored(value: Any, resp: int) -> Any:
    """A stored value read back keeping its type: RESP3 natively (keys as bytes); RESP2 (typed)
    objects as JSON."""
    match value:
        case dict() if resp == 3:
            return {key.encode(): expected_stored(item, resp) for key, item in value.items()}
        case dict():
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        case list():
            return [expected_stored(item, resp) for item in value]
        case _:
            return expected(value, resp)


def expected_text(value: Any) -> Any:
    """A stored scalar, object or inner list read back from plain RESP2: its text."""
    match value:
        case None | bytes():
            return value
        case str():
            return value.encode()
        case bool():
            return b"true" if value else b"false"
        case int():
            return b"%d" % value
        case float():
            return repr(value).encode()
        case _:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@given(stored_values, st.sampled_from([(2, True), (3, False)]))
def test_stored_values_round_trip_typed(value, protocol):
    """Any stored value encoded then read keeps its type as far as the protocol can say (RESP3,
    or RESP2 opted in to types)."""
    resp, typed = protocol
    assert feed([encode(Stored(value), resp, typed)]) == [expected_stored(value, resp)]


@given(stored_values)
def test_stored_values_round_trip_as_text_in_resp2(value):
    """Plain RESP2: any stored value reads back as bulk strings, a list as an array of them."""
    wanted = [expected_text(item) for item in value] if isinstance(value, list) else expected_text(value)
    assert feed([encode(Stored(value), 2)]) == [wanted]


@pytest.mark.parametrize("resp", [2, 3])
def test_nan_round_trips_as_nan(resp):
    """NaN (unequal to itself, so not in the property test) reads back as NaN text or double."""
    value = feed([encode(float("nan"), resp)])[0]
    assert math.isnan(value) if resp == 3 else value == b"nan"
