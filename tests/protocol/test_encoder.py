"""encode/encode_into: exact RESP2 and RESP3 bytes for every row of the protocol.replies table."""

from __future__ import annotations

import enum

import pytest

from protocol.encoder import encode, encode_into
from protocol.errors import CommandError
from protocol.replies import NULL_ARRAY, Push, SetReply, SimpleString, Stored, Verbatim


def both(reply) -> tuple[bytes, bytes]:
    """``reply`` encoded in RESP2 and in RESP3."""
    return encode(reply, 2), encode(reply, 3)


# --- the table in protocol/replies.py ---------------------------------------------------------


def test_bytes_are_bulk_strings():
    """bytes: ``$`` bulk string in both protocols."""
    assert both(b"hello") == (b"$5\r\nhello\r\n", b"$5\r\nhello\r\n")


def test_empty_bytes_are_an_empty_bulk_string():
    """An empty value is ``$0`` with its CRLF, not a null."""
    assert both(b"") == (b"$0\r\n\r\n", b"$0\r\n\r\n")


def test_str_is_a_utf8_bulk_string():
    """str: a bulk string of its UTF-8 bytes; the length counts bytes, not characters."""
    assert both("héllo") == (b"$6\r\nh\xc3\xa9llo\r\n", b"$6\r\nh\xc3\xa9llo\r\n")


def test_int_is_an_integer():
    """int: ``:`` integer in both protocols, negative too."""
    assert both(-42) == (b":-42\r\n", b":-42\r\n")


def test_signed_64_bit_bounds_are_integers():
    """The int64 extremes are still ``:`` integers."""
    assert encode([2**63 - 1, -(2**63)], 3) == (
        b"*2\r\n:9223372036854775807\r\n:-9223372036854775808\r\n"
    )


def test_int_beyond_64_bits_is_a_big_number_or_bulk():
    """Outside int64: RESP3 ``(`` big number, RESP2 a bulk string of the decimal."""
    assert both(2**64) == (b"$20\r\n18446744073709551616\r\n", b"(18446744073709551616\r\n")


def test_negative_int_beyond_64_bits_is_a_big_number_or_bulk():
    """Below int64 too."""
    assert both(-(2**63) - 1) == (b"$20\r\n-9223372036854775809\r\n", b"(-9223372036854775809\r\n")


def test_bool_is_boolean_or_integer():
    """bool: RESP3 ``#t``/``#f``, RESP2 ``:1``/``:0`` (checked before int)."""
    assert [*both(True), *both(False)] == [b":1\r\n", b"#t\r\n", b":0\r\n", b"#f\r\n"]


def test_float_is_double_or_bulk():
    """float: RESP3 ``,`` double, RESP2 a bulk string of the same text."""
    assert both(1.5) == (b"$3\r\n1.5\r\n", b",1.5\r\n")


def test_float_text_is_the_shortest_repr():
    """Doubles use Python's shortest round-tripping form, exponent included."""
    assert [encode(x, 3) for x in (0.1, 1e16, -0.0, 3.0)] == [
        b",0.1\r\n", b",1e+16\r\n", b",-0.0\r\n", b",3.0\r\n"
    ]


def test_float_specials_are_inf_and_nan():
    """Infinities and NaN are ``inf``, ``-inf`` and ``nan`` in both protocols."""
    specials = [float("inf"), float("-inf"), float("nan")]
    assert encode(specials, 3) == b"*3\r\n,inf\r\n,-inf\r\n,nan\r\n"
    assert encode(specials, 2) == b"*3\r\n$3\r\ninf\r\n$4\r\n-inf\r\n$3\r\nnan\r\n"


def test_none_is_null():
    """None: RESP3 ``_``, RESP2 the null bulk ``$-1``."""
    assert both(None) == (b"$-1\r\n", b"_\r\n")


def test_list_is_an_array():
    """list: ``*`` array in both protocols, elements by their own type."""
    expected = b"*3\r\n:1\r\n$1\r\na\r\n*0\r\n"
    assert both([1, b"a", []]) == (expected, expected)


def test_tuple_is_an_array():
    """tuple: an array like list."""
    assert encode((b"x",), 2) == b"*1\r\n$1\r\nx\r\n"


def test_dict_is_a_map_or_flat_array():
    """dict: RESP3 ``%`` map, RESP2 a flat array k1 v1 k2 v2, in insertion order."""
    reply = {b"b": 1, b"a": True}
    assert both(reply) == (
        b"*4\r\n$1\r\nb\r\n:1\r\n$1\r\na\r\n:1\r\n",
        b"%2\r\n$1\r\nb\r\n:1\r\n$1\r\na\r\n#t\r\n",
    )


def test_simple_string_is_a_status_line():
    """SimpleString: ``+text`` in both protocols."""
    assert both(SimpleString("OK")) == (b"+OK\r\n", b"+OK\r\n")


def test_simple_string_line_breaks_become_spaces():
    """A status line cannot hold CR or LF: they are sent as spaces."""
    assert encode(SimpleString("a\r\nb"), 2) == b"+a  b\r\n"


def test_null_array_is_star_minus_one_or_null():
    """NULL_ARRAY: RESP2 ``*-1``, RESP3 ``_``."""
    assert both(NULL_ARRAY) == (b"*-1\r\n", b"_\r\n")


def test_verbatim_is_verbatim_string_or_bulk():
    """Verbatim: RESP3 ``=`` whose length counts the ``txt:`` prefix; RESP2 a plain bulk."""
    assert both(Verbatim("a\nb")) == (b"$3\r\na\nb\r\n", b"=7\r\ntxt:a\nb\r\n")


def test_verbatim_keeps_its_format():
    """The format (``mkd``) is sent in RESP3."""
    assert encode(Verbatim("# x", "mkd"), 3) == b"=7\r\nmkd:# x\r\n"


def test_verbatim_format_must_be_three_bytes():
    """A format that is not three bytes would corrupt the length: it is refused."""
    with pytest.raises(ValueError, match="three bytes"):
        encode(Verbatim("x", "md"), 3)


def test_set_reply_is_set_or_array():
    """SetReply: RESP3 ``~``, RESP2 ``*``."""
    assert both(SetReply((b"a", 1))) == (b"*2\r\n$1\r\na\r\n:1\r\n", b"~2\r\n$1\r\na\r\n:1\r\n")


def test_push_is_push_or_array():
    """Push: RESP3 ``>``, RESP2 ``*``."""
    assert both(Push((b"message",))) == (b"*1\r\n$7\r\nmessage\r\n", b">1\r\n$7\r\nmessage\r\n")


def test_command_error_is_an_error_line():
    """CommandError: ``-PREFIX message`` in both protocols."""
    reply = CommandError("WRONGTYPE", "Operation against a key holding the wrong kind of value")
    expected = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    assert both(reply) == (expected, expected)


def test_command_error_line_breaks_become_spaces():
    """An error text with CR or LF (say, an echoed argument) stays one line, as in Redis."""
    assert encode(CommandError("ERR", "unknown command 'a\r\nb'"), 3) == (
        b"-ERR unknown command 'a  b'\r\n"
    )


def test_nested_values_keep_their_protocol():
    """Elements of aggregates follow the protocol of the whole reply."""
    reply = [{b"k": None}, SetReply((True,))]
    assert both(reply) == (
        b"*2\r\n*2\r\n$1\r\nk\r\n$-1\r\n*1\r\n:1\r\n",
        b"*2\r\n%1\r\n$1\r\nk\r\n_\r\n~1\r\n#t\r\n",
    )


# --- Stored message values --------------------------------------------------------------------


def typed2(reply) -> bytes:
    """``reply`` in RESP2 on a connection that opted in to types (CLIENT TYPED ON)."""
    return encode(reply, 2, typed=True)


def test_stored_string_is_a_bulk_string():
    """A stored string is a bulk string in both protocols, typed RESP2 too."""
    assert (*both(Stored(b"hi")), typed2(Stored(b"hi"))) == (b"$2\r\nhi\r\n",) * 3


def test_stored_integer_is_text_in_resp2():
    """A stored integer: RESP2 a bulk string of its decimal (what Redis clients expect of GET),
    RESP3 ``:``."""
    assert both(Stored(-7)) == (b"$2\r\n-7\r\n", b":-7\r\n")


def test_stored_big_integer_is_text_in_resp2():
    """Beyond 64 bits the RESP2 text is the same decimal (RESP3: a big number)."""
    assert both(Stored(2**64)) == (b"$20\r\n18446744073709551616\r\n", b"(18446744073709551616\r\n")


def test_stored_boolean_is_true_or_false_text_in_resp2():
    """A stored boolean: RESP2 ``true``/``false`` (what SET reads as a boolean), RESP3 ``#t``/``#f``."""
    assert [*both(Stored(True)), *both(Stored(False))] == [
        b"$4\r\ntrue\r\n", b"#t\r\n", b"$5\r\nfalse\r\n", b"#f\r\n"
    ]


def test_stored_object_is_map_or_compact_json():
    """A JSON object: RESP3 a map (keys as bulk strings), RESP2 compact JSON, UTF-8 unescaped."""
    value = {"name": "Zoë", "age": 36, "ok": False, "none": None}
    json_text = '{"name":"Zoë","age":36,"ok":false,"none":null}'.encode()
    assert both(Stored(value)) == (
        b"$%d\r\n%s\r\n" % (len(json_text), json_text),
        b"%4\r\n$4\r\nname\r\n$4\r\nZo\xc3\xab\r\n$3\r\nage\r\n:36\r\n"
        b"$2\r\nok\r\n#f\r\n$4\r\nnone\r\n_\r\n",
    )


def test_stored_list_is_an_array_of_bulk_strings_in_resp2():
    """RESP2: a list is an array of bulk strings; an object or list inside it is compact JSON,
    JSON null a null."""
    value = [1, "two", {"a": [1, {"b": None}]}, [2.5, True, None], False, 0.1, None]
    assert encode(Stored(value), 2) == (
        b"*7\r\n$1\r\n1\r\n$3\r\ntwo\r\n$20\r\n{\"a\":[1,{\"b\":null}]}\r\n"
        b"$15\r\n[2.5,true,null]\r\n$5\r\nfalse\r\n$3\r\n0.1\r\n$-1\r\n"
    )


def test_stored_list_with_nested_object_in_resp3():
    """RESP3: everything native, nested maps and arrays, doubles, booleans and nulls."""
    value = [1, "two", {"a": [1, {"b": None}]}, [2.5, True, None]]
    assert encode(Stored(value), 3) == (
        b"*4\r\n:1\r\n$3\r\ntwo\r\n%1\r\n$1\r\na\r\n*2\r\n:1\r\n%1\r\n$1\r\nb\r\n_\r\n"
        b"*3\r\n,2.5\r\n#t\r\n_\r\n"
    )


def test_stored_json_null_is_null():
    """A JSON null inside a stored value: RESP3 ``_``, RESP2 ``$-1``."""
    assert both(Stored([None])) == (b"*1\r\n$-1\r\n", b"*1\r\n_\r\n")


def test_stored_double_is_double_or_bulk():
    """A JSON number with a fraction: RESP3 ``,``, RESP2 a bulk string of its shortest text."""
    assert both(Stored(1e16)) == (b"$5\r\n1e+16\r\n", b",1e+16\r\n")


def test_stored_empty_object_and_list():
    """Empty containers: RESP2 ``{}`` and ``[]`` text in a list, an empty list ``*0``; RESP3
    ``%0`` and ``*0``."""
    assert both(Stored([{}, []])) == (b"*2\r\n$2\r\n{}\r\n$2\r\n[]\r\n", b"*2\r\n%0\r\n*0\r\n")
    assert encode(Stored([]), 2) == b"*0\r\n"


def test_an_inner_list_is_one_bulk_string_in_resp2():
    """A list that is a field's value or a list's element (HGET, LRANGE) is one bulk string of
    compact JSON in RESP2, as Redis answers one string; typed RESP2 and RESP3 keep the array."""
    inner = Stored([1, "a"], inner=True)
    assert both(inner) == (b'$7\r\n[1,"a"]\r\n', b"*2\r\n:1\r\n$1\r\na\r\n")
    assert typed2(inner) == b"*2\r\n:1\r\n$1\r\na\r\n"
    assert encode(Stored(7, inner=True), 2) == b"$1\r\n7\r\n"


def test_stored_values_in_aggregates_are_text_in_resp2():
    """Stored values inside a reply (HGETALL's map, MGET's array, EXEC's results) follow the
    same rule, and a plain integer beside them (a counter) stays an integer."""
    assert encode([{b"n": Stored(3)}, [Stored(True), None], 5], 2) == (
        b"*3\r\n*2\r\n$1\r\nn\r\n$1\r\n3\r\n*2\r\n$4\r\ntrue\r\n$-1\r\n:5\r\n"
    )


def test_typed_resp2_keeps_integers_and_booleans():
    """Opted in to types, RESP2 answers a stored integer ``:``, a boolean ``:1``/``:0``."""
    assert [typed2(Stored(7)), typed2(Stored(True)), typed2(Stored(False))] == [b":7\r\n", b":1\r\n", b":0\r\n"]


def test_typed_resp2_list_nests_arrays():
    """Opted in to types, a list's elements keep their types and nested lists are arrays; an
    object is still compact JSON (RESP2 has no maps)."""
    value = [1, {"a": 1}, [2.5, True, None]]
    assert typed2(Stored(value)) == (
        b"*3\r\n:1\r\n$7\r\n{\"a\":1}\r\n*3\r\n$3\r\n2.5\r\n:1\r\n$-1\r\n"
    )


def test_typed_reaches_stored_values_inside_aggregates():
    """The opt-in holds inside maps, arrays and push frames."""
    reply = [{b"n": Stored(3)}, Push((Stored(False),))]
    assert typed2(reply) == b"*2\r\n*2\r\n$1\r\nn\r\n:3\r\n*1\r\n:0\r\n"


def test_typed_changes_nothing_in_resp3():
    """RESP3 always keeps the types: the opt-in is the same bytes."""
    value = Stored([1, True, {"a": None}])
    assert encode(value, 3, typed=True) == encode(value, 3)


# --- the function contract --------------------------------------------------------------------


def test_encode_into_appends():
    """encode_into adds to what the buffer already holds (a pipeline's replies, one write)."""
    out = bytearray(b"+OK\r\n")
    encode_into(out, 1, 2)
    encode_into(out, None, 3)
    assert out == b"+OK\r\n:1\r\n_\r\n"


def test_int_subclass_is_an_integer():
    """An IntEnum member is sent as its integer value."""

    class Answer(enum.IntEnum):
        YES = 1

    assert encode(Answer.YES, 3) == b":1\r\n"


def test_unknown_type_is_a_type_error():
    """A value with no wire form is our bug: TypeError, nothing written."""
    out = bytearray()
    with pytest.raises(TypeError, match="object"):
        encode_into(out, object(), 2)
    assert out == b""
