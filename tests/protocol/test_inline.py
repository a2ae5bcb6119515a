"""tokenize_inline: whitespace, quotes with escapes, JSON bracket tokens, unbalanced input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.inline import UNBALANCED_QUOTES, tokenize_inline


def tokens(line: bytes) -> tuple[bytes, ...]:
    return tokenize_inline(line)[0]


def quoted(line: bytes) -> frozenset[int]:
    return tokenize_inline(line)[1]


def error(line: bytes) -> str:
    with pytest.raises(ProtocolError) as caught:
        tokenize_inline(line)
    return str(caught.value)


# --- bare words -------------------------------------------------------------------------------


def test_spaces_and_tabs_separate_tokens():
    """Runs of spaces and tabs separate tokens; leading and trailing ones are ignored."""
    assert tokens(b"  SET\tk \t v  ") == (b"SET", b"k", b"v")


def test_empty_line_has_no_tokens():
    """An empty or blank line is no tokens, nothing quoted."""
    assert tokenize_inline(b" \t ") == ((), frozenset())


def test_bare_tokens_are_not_quoted():
    """Plain words are not marked quoted."""
    assert quoted(b"SET k 42") == frozenset()


def test_quote_inside_a_bare_token_is_ordinary():
    """Only a token that starts with a quote is quoted: ``it's`` is one plain token."""
    assert tokenize_inline(b"SET k it's") == ((b"SET", b"k", b"it's"), frozenset())


def test_bracket_inside_a_bare_token_is_ordinary():
    """Only a token that starts with a bracket is JSON: ``a{b`` is a plain token."""
    assert tokens(b"GET a{b c]") == (b"GET", b"a{b", b"c]")


def test_bare_words_after_a_quoted_token_are_split_as_usual():
    """The slow path for special tokens splits the plain words around them the same way."""
    assert tokens(b'ECHO\t "x"  y\tz ') == (b"ECHO", b"x", b"y", b"z")


# --- double quotes ----------------------------------------------------------------------------


def test_double_quotes_keep_spaces():
    """A double-quoted token may hold spaces and tabs."""
    assert tokens(b'SET k "hello  world\t!"') == (b"SET", b"k", b"hello  world\t!")


def test_quoted_tokens_are_marked_by_index():
    """The indexes of quoted tokens are reported, in either quote style."""
    assert quoted(b"SET \"k\" v 'w'") == frozenset({1, 3})


def test_empty_double_quotes_are_an_empty_token():
    """``""`` is a valid empty token, marked quoted."""
    assert tokenize_inline(b'SET k ""') == ((b"SET", b"k", b""), frozenset({2}))


@pytest.mark.parametrize(
    ("escape", "byte"),
    [(b"n", b"\n"), (b"r", b"\r"), (b"t", b"\t"), (b"b", b"\b"), (b"a", b"\a"),
     (b"\\", b"\\"), (b'"', b'"')],
)
def test_double_quote_escapes(escape, byte):
    """The escapes of Redis's sdssplitargs stand for their control characters."""
    assert tokens(b'"<\\' + escape + b'>"') == (b"<" + byte + b">",)


def test_hex_escape_is_one_byte():
    """``\\xHH`` is the byte HH, any case."""
    assert tokens(b'"\\x41\\xfF\\x00"') == (b"A\xff\x00",)


def test_hex_escape_without_two_hex_digits_is_a_plain_x():
    """``\\x`` not followed by two hex digits is just ``x`` then the text."""
    assert tokens(b'"\\x4g\\x"') == (b"x4gx",)


def test_unknown_escape_is_the_character_itself():
    """``\\q`` is ``q``, as in Redis."""
    assert tokens(b'"\\q\\\'"') == (b"q'",)


def test_unterminated_double_quote_is_an_error():
    """A double quote never closed is unbalanced."""
    assert error(b'SET k "abc') == UNBALANCED_QUOTES


def test_escaped_closing_double_quote_leaves_the_quote_open():
    """``"abc\\"`` is not closed: its last quote is escaped."""
    assert error(b'SET k "abc\\"') == UNBALANCED_QUOTES


def test_text_right_after_a_closing_double_quote_is_an_error():
    """``"foo"bar``: a closing quote must be followed by whitespace or the end."""
    assert error(b'SET "foo"bar v') == UNBALANCED_QUOTES


# --- single quotes ----------------------------------------------------------------------------


def test_single_quotes_keep_spaces_and_backslashes():
    """Inside single quotes only ``\\'`` is an escape; other backslashes are kept."""
    assert tokens(b"ECHO 'a b\\n\\x41'") == (b"ECHO", b"a b\\n\\x41")


def test_single_quote_escape():
    """``\\'`` is a single quote."""
    assert tokens(b"ECHO 'it\\'s'") == (b"ECHO", b"it's")


def test_empty_single_quotes_are_an_empty_token():
    """``''`` is a valid empty token, marked quoted."""
    assert tokenize_inline(b"ECHO ''") == ((b"ECHO", b""), frozenset({1}))


def test_unterminated_single_quote_is_an_error():
    """A single quote never closed is unbalanced."""
    assert error(b"ECHO 'abc") == UNBALANCED_QUOTES


def test_text_right_after_a_closing_single_quote_is_an_error():
    """Redis's "Unbalanced single quotes": ``'b'a'r``."""
    assert error(b"set foo 'b'a'r") == UNBALANCED_QUOTES


# --- JSON brackets ----------------------------------------------------------------------------


def test_json_object_is_one_token():
    """The brief's example: a JSON object with spaces and a bracket in a string is one token."""
    assert tokens(b'SET k {"a": [1, "x y]"]}') == (b"SET", b"k", b'{"a": [1, "x y]"]}')


def test_json_array_is_one_token():
    """A JSON array with spaces is one token, kept verbatim."""
    assert tokens(b"LSET k [1, 2, [3, 4]] FROM ns") == (b"LSET", b"k", b"[1, 2, [3, 4]]",
                                                       b"FROM", b"ns")


def test_bracket_tokens_are_not_quoted():
    """JSON tokens are not strings: they are not marked quoted."""
    assert quoted(b'HSET k {"a": 1}') == frozenset()


def test_brackets_inside_json_strings_do_not_count():
    """Brackets inside a JSON string neither open nor close."""
    assert tokens(b'[" ] } { [ "] x') == (b'[" ] } { [ "]', b"x")


def test_escaped_quote_inside_json_string_does_not_end_it():
    """``\\"`` inside a JSON string keeps the string open, so its brackets still do not count."""
    assert tokens(b'{"a": "q\\" ]}"} x') == (b'{"a": "q\\" ]}"}', b"x")


def test_escaped_backslash_ends_before_the_quote():
    """``"\\\\"`` is a string holding one backslash: the quote after it closes the string."""
    assert tokens(b'["\\\\"] x') == (b'["\\\\"]', b"x")


def test_unterminated_bracket_is_a_bare_word():
    """A bracket never closed is no JSON token: bare words, and the command judges them."""
    assert tokens(b'HSET k {"a": [1, 2]') == (b"HSET", b"k", b'{"a":', b"[1, 2]")


def test_unterminated_string_inside_brackets_is_a_bare_word():
    """A JSON string never closed leaves the bracket unbalanced: a bare word."""
    assert tokens(b'HSET k {"a}') == (b"HSET", b"k", b'{"a}')


def test_hash_tag_key_is_a_bare_word():
    """``{user}:1`` (a Redis Cluster hash tag) is one plain key, not JSON."""
    assert tokens(b"GET {user}:1 FROM ns") == (b"GET", b"{user}:1", b"FROM", b"ns")


def test_text_right_after_a_closing_bracket_makes_a_bare_word():
    """``{...}x`` is not a JSON token, so it splits at whitespace like any word."""
    assert tokens(b'HSET k {"a":1}x') == (b"HSET", b"k", b'{"a":1}x')


def test_mismatched_bracket_kinds_still_close_the_token():
    """Depth counts both kinds, so ``[1}`` is one token and the JSON parser judges it."""
    assert tokens(b"LSET k [1} x") == (b"LSET", b"k", b"[1}", b"x")


# --- properties -------------------------------------------------------------------------------


def hex_quoted(data: bytes) -> bytes:
    return b'"' + b"".join(b"\\x%02x" % byte for byte in data) + b'"'


def c_quoted(data: bytes) -> bytes:
    """Quote like redis-cli: the named escapes, printable ASCII as is, \\xHH for the rest."""
    named = {10: b"\\n", 13: b"\\r", 9: b"\\t", 8: b"\\b", 7: b"\\a", 92: b"\\\\", 34: b'\\"'}
    out = [named.get(b, bytes([b]) if 32 <= b < 127 else b"\\x%02x" % b) for b in data]
    return b'"' + b"".join(out) + b'"'


@given(st.binary())
def test_hex_quoting_round_trips_any_bytes(data):
    """Any bytes written as ``\\xHH`` escapes in double quotes come back exactly."""
    assert tokenize_inline(b"SET k " + hex_quoted(data)) == ((b"SET", b"k", data), frozenset({2}))


@given(st.binary())
def test_c_style_quoting_round_trips_any_bytes(data):
    """Any bytes quoted with the named escapes come back exactly."""
    assert tokens(c_quoted(data) + b" " + c_quoted(data)) == (data, data)


@given(st.binary().filter(lambda data: not data.endswith(b"\\")))
def test_single_quoting_round_trips_bytes_not_ending_in_backslash(data):
    """Bytes not ending in a backslash survive single quotes with each ``'`` written ``\\'``."""
    line = b"'" + data.replace(b"'", b"\\'") + b"'"
    assert tokenize_inline(line) == ((data,), frozenset({0}))


words = st.binary(min_size=1).filter(
    lambda word: word.split() == [word] and word[0] not in b"\"'{["
)


@given(st.lists(words, max_size=8), st.sampled_from([b" ", b"\t", b"  \t "]))
def test_plain_words_come_back(parts, separator):
    """Words without whitespace or a special first byte are the tokens, unquoted."""
    assert tokenize_inline(separator.join(parts)) == (tuple(parts), frozenset())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(st.lists(json_values, max_size=4) | st.dictionaries(st.text(), json_values, max_size=4),
       st.booleans())
def test_any_json_container_is_one_raw_token(value, ascii_only):
    """Any JSON array or object, however spaced, is one token holding exactly its text."""
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert tokens(b"HSET k " + text + b" TTL 5") == (b"HSET", b"k", text, b"TTL", b"5")
