"""Tests for protocol.values: integers, durations, scalar typing, JSON and namespace names."""

from __future__ import annotations

import pytest

from protocol import errors
from protocol.errors import CommandError
from protocol.values import (
    INT64_MAX,
    INT64_MIN,
    MAX_JSON_DEPTH,
    MAX_TTL_MS,
    UINT64_MAX,
    coerce_scalar,
    infer_scalar,
    keyword,
    parse_duration,
    parse_int,
    parse_json_array,
    parse_json_object,
    parse_namespace,
    parse_ttl,
    parse_uint,
)


def _nested_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _nested_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- MAX_TTL_MS -------------------------------------------------------------------------------


def test_max_ttl_is_ten_years_of_milliseconds() -> None:
    """MAX_TTL_MS is 3650 days in milliseconds."""
    assert MAX_TTL_MS == 3650 * 86_400_000


# --- parse_duration ---------------------------------------------------------------------------


def test_duration_bare_number_is_seconds() -> None:
    """A bare integer is a number of seconds."""
    assert parse_duration(b"30") == 30_000


@pytest.mark.parametrize(
    ("token", "ms"),
    [(b"250ms", 250), (b"5s", 5_000), (b"15m", 900_000), (b"2h", 7_200_000), (b"7d", 604_800_000)],
)
def test_duration_units(token: bytes, ms: int) -> None:
    """Each unit ms, s, m, h, d scales to milliseconds."""
    assert parse_duration(token) == ms


@pytest.mark.parametrize(("token", "ms"), [(b"250MS", 250), (b"2H", 7_200_000), (b"3Ms", 3)])
def test_duration_units_are_case_insensitive(token: bytes, ms: int) -> None:
    """Units are accepted in any case."""
    assert parse_duration(token) == ms


@pytest.mark.parametrize(("token", "ms"), [(b"1.5", 1_500), (b"1.5h", 5_400_000), (b"0.25s", 250), (b"2.5ms", 2)])
def test_duration_decimals_round_to_the_millisecond(token: bytes, ms: int) -> None:
    """A decimal amount is accepted, as in the config file, and rounded to whole milliseconds."""
    assert parse_duration(token) == ms


def test_duration_one_millisecond_is_the_minimum() -> None:
    """1ms is the shortest accepted duration."""
    assert parse_duration(b"1ms") == 1


def test_duration_of_exactly_ten_years_is_accepted() -> None:
    """3650d equals MAX_TTL_MS and is accepted."""
    assert parse_duration(b"3650d") == MAX_TTL_MS


def test_duration_max_in_milliseconds_is_accepted() -> None:
    """MAX_TTL_MS written in milliseconds is accepted."""
    assert parse_duration(str(MAX_TTL_MS).encode() + b"ms") == MAX_TTL_MS


@pytest.mark.parametrize(
    "token",
    [b"3651d", str(MAX_TTL_MS + 1).encode() + b"ms", b"99999999999999999999d"],
)
def test_duration_over_ten_years_is_rejected(token: bytes) -> None:
    """Anything over ten years is refused."""
    with pytest.raises(CommandError) as info:
        parse_duration(token)
    assert info.value == errors.invalid_duration(token)


@pytest.mark.parametrize("token", [b"0", b"0ms", b"0d", b"000s"])
def test_duration_zero_is_rejected(token: bytes) -> None:
    """A zero duration is refused in every unit."""
    with pytest.raises(CommandError) as info:
        parse_duration(token)
    assert info.value == errors.invalid_duration(token)


@pytest.mark.parametrize(
    "token",
    [
        b"-5",
        b"+5",
        b" 5",
        b"5 ",
        b"5 s",
        b"1.",
        b".5",
        b"5x",
        b"5sec",
        b"s",
        b"",
        b"5\n",
        b"1" * 5000,
        "\u0665".encode(),
        b"0x10",
    ],
)
def test_duration_garbage_is_rejected(token: bytes) -> None:
    """Signs, spaces, half-written decimals, unknown units and non-digits are refused."""
    with pytest.raises(CommandError) as info:
        parse_duration(token)
    assert info.value == errors.invalid_duration(token)


def test_duration_error_text() -> None:
    """The duration error names the token and the accepted forms."""
    with pytest.raises(CommandError) as info:
        parse_duration(b"soon")
    assert str(info.value) == (
        "ERR invalid TTL 'soon': use a positive number with an optional unit "
        "ms, s, m, h or d (bare = seconds), at most 10 years"
    )


@pytest.mark.parametrize(("token", "ms"), [(b"now", 0), (b"NOW", 0), (b"7d", 604_800_000), (b"1.5s", 1_500)])
def test_ttl_is_a_duration_or_now(token: bytes, ms: int) -> None:
    """The TTL clause takes a duration, or now (0: the deadline is this moment)."""
    assert parse_ttl(token) == ms


@pytest.mark.parametrize("token", [b"0", b"0s", b"nowish", b"-1"])
def test_ttl_zero_and_garbage_are_refused(token: bytes) -> None:
    """A zero duration stays an error (now says it on purpose)."""
    with pytest.raises(CommandError) as info:
        parse_ttl(token)
    assert info.value == errors.invalid_duration(token)


# --- parse_int / parse_uint -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "value"),
    [(b"0", 0), (b"42", 42), (b"-42", -42), (b"9223372036854775807", INT64_MAX),
     (b"-9223372036854775808", INT64_MIN)],
)  # fmt: skip
def test_parse_int_accepts_int64(token: bytes, value: int) -> None:
    """Canonical decimals within signed 64 bits parse."""
    assert parse_int(token) == value


@pytest.mark.parametrize(
    "token",
    [b"9223372036854775808", b"-9223372036854775809", b"", b"-", b"+1", b" 1", b"1 ", b"1.0",
     b"0x10", b"007", b"-0", b"1e3", "\u0663".encode(), b"1" * 5000],
)  # fmt: skip
def test_parse_int_rejects_non_canonical_or_out_of_range(token: bytes) -> None:
    """Like Redis string2ll: no sign, spaces or leading zeros, nothing past int64."""
    with pytest.raises(CommandError) as info:
        parse_int(token)
    assert info.value == errors.not_integer()


@pytest.mark.parametrize(
    ("token", "value"), [(b"0", 0), (b"17", 17), (b"007", 7), (b"18446744073709551615", UINT64_MAX)]
)
def test_parse_uint_accepts_unsigned_64(token: bytes, value: int) -> None:
    """Digit strings up to 2**64 - 1 parse."""
    assert parse_uint(token) == value


@pytest.mark.parametrize("token", [b"18446744073709551616", b"-1", b"", b"+1", b"1a", b" 1"])
def test_parse_uint_rejects_others(token: bytes) -> None:
    """Signs, non-digits and values past 2**64 - 1 give None."""
    assert parse_uint(token) is None


def test_keyword_lowercases() -> None:
    """keyword() lowercases ASCII for table lookups."""
    assert keyword(b"GeT") == "get"


def test_keyword_of_non_ascii_matches_no_ascii_word() -> None:
    """Non-ASCII bytes cannot decode into a real keyword."""
    assert keyword("GÉT".encode()) == "g\ufffd\ufffdt"


# --- infer_scalar -----------------------------------------------------------------------------


def test_infer_unquoted_integer() -> None:
    """An unquoted canonical decimal becomes an int."""
    value = infer_scalar(b"42", quoted=False)
    assert value == 42
    assert type(value) is int


def test_infer_quoted_integer_stays_bytes() -> None:
    """A quoted token is always a string."""
    assert infer_scalar(b"42", quoted=True) == b"42"


def test_infer_quoted_true_stays_bytes() -> None:
    """A quoted true is a string, not a boolean."""
    assert infer_scalar(b"true", quoted=True) == b"true"


@pytest.mark.parametrize(("token", "value"), [(b"true", True), (b"false", False)])
def test_infer_booleans(token: bytes, value: bool) -> None:
    """Exactly true and false become booleans."""
    assert infer_scalar(token, quoted=False) is value


@pytest.mark.parametrize("token", [b"TRUE", b"True", b"False", b"yes", b"1 "])
def test_infer_other_spellings_stay_bytes(token: bytes) -> None:
    """Only lowercase true/false are booleans."""
    assert infer_scalar(token, quoted=False) == token


@pytest.mark.parametrize(
    ("token", "value"),
    [(b"0", 0), (b"-1", -1), (b"9223372036854775807", INT64_MAX),
     (b"-9223372036854775808", INT64_MIN)],
)  # fmt: skip
def test_infer_int64_boundaries_are_ints(token: bytes, value: int) -> None:
    """The int64 extremes and zero are integers."""
    result = infer_scalar(token, quoted=False)
    assert result == value
    assert type(result) is int


@pytest.mark.parametrize(
    "token",
    [b"007", b"-0", b"+1", b"1.0", b"1e3", b"0x1", b" 1", b"", b"-",
     b"9223372036854775808", b"-9223372036854775809", b"12345678901234567890123"],
)  # fmt: skip
def test_infer_non_canonical_numbers_stay_bytes(token: bytes) -> None:
    """Non-canonical or out-of-range numbers keep their exact bytes."""
    assert infer_scalar(token, quoted=False) == token


# --- coerce_scalar ----------------------------------------------------------------------------


def test_coerce_string_keeps_bytes() -> None:
    """AS STRING keeps a number-looking token as bytes."""
    assert coerce_scalar(b"42", "STRING") == b"42"


def test_coerce_int() -> None:
    """AS INT parses a decimal."""
    assert coerce_scalar(b"-17", "INT") == -17


def test_coerce_int_minimum() -> None:
    """AS INT accepts the int64 minimum."""
    assert coerce_scalar(b"-9223372036854775808", "INT") == INT64_MIN


@pytest.mark.parametrize("token", [b"abc", b"9223372036854775808", b"1.5", b"true", b"007"])
def test_coerce_int_rejects_non_integers(token: bytes) -> None:
    """AS INT refuses anything Redis would not read as an int64."""
    with pytest.raises(CommandError) as info:
        coerce_scalar(token, "INT")
    assert info.value == errors.not_integer()


@pytest.mark.parametrize(
    ("token", "value"), [(b"true", True), (b"TRUE", True), (b"False", False), (b"fAlSe", False)]
)
def test_coerce_bool_is_case_insensitive(token: bytes, value: bool) -> None:
    """AS BOOL accepts true/false in any case."""
    assert coerce_scalar(token, "BOOL") is value


@pytest.mark.parametrize("token", [b"1", b"0", b"yes", b"", b"truee"])
def test_coerce_bool_rejects_others(token: bytes) -> None:
    """AS BOOL refuses anything but true/false."""
    with pytest.raises(CommandError) as info:
        coerce_scalar(token, "BOOL")
    assert info.value == errors.not_boolean()


def test_coerce_kind_is_case_insensitive() -> None:
    """The kind name may be given in lowercase."""
    assert coerce_scalar(b"5", "int") == 5


def test_coerce_unknown_kind_is_a_programming_error() -> None:
    """An unknown kind is our bug (the grammar validates AS), not a client error."""
    with pytest.raises(ValueError, match="FLOAT"):
        coerce_scalar(b"5", "FLOAT")


# --- namespaces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", [b"default", b"a", b"orders:eu.west-1_b", b"x" * 64, b"0", b"...", b"A-Z"]
)
def test_namespace_valid(token: bytes) -> None:
    """1-64 characters of A-Z a-z 0-9 _ . : - are a namespace name."""
    assert parse_namespace(token) == token.decode()


@pytest.mark.parametrize(
    "token",
    [b"x" * 65, b"", b"a b", b"a/b", b"a*", b"ns\n", "caf\u00e9".encode(), b"a\x00", b"{ns}"],
)
def test_namespace_invalid(token: bytes) -> None:
    """Too long, empty, or other characters: refused."""
    with pytest.raises(CommandError) as info:
        parse_namespace(token)
    assert info.value == errors.invalid_namespace(token)


def test_namespace_error_text() -> None:
    """The namespace error names the token and the allowed characters."""
    with pytest.raises(CommandError) as info:
        parse_namespace(b"a b")
    assert str(info.value) == (
        "ERR invalid namespace name 'a b': use 1-64 characters of A-Z a-z 0-9 _ . : -"
    )


# --- JSON -------------------------------------------------------------------------------------


def test_json_object_parses() -> None:
    """A JSON object parses to a dict with native types."""
    value = parse_json_object(b'{"a": 1, "b": [true, null, 1.5, "x"], "c": {}}', "hset")
    assert value == {"a": 1, "b": [True, None, 1.5, "x"], "c": {}}


def test_json_object_allows_leading_whitespace() -> None:
    """Whitespace before the opening brace is fine."""
    assert parse_json_object(b' \n{"a": 1}', "hset") == {"a": 1}


def test_json_object_keeps_unicode() -> None:
    """Non-ASCII text and escapes decode to str."""
    assert parse_json_object('{"k": "caf\u00e9 \\u00e9"}'.encode(), "hset") == {"k": "café é"}


def test_json_duplicate_keys_keep_the_last() -> None:
    """A repeated key keeps its last value, as json.loads does."""
    assert parse_json_object(b'{"a": 1, "a": 2}', "hset") == {"a": 2}


def test_json_syntax_error_names_the_position() -> None:
    """A malformed object names the problem and the character offset."""
    with pytest.raises(CommandError) as info:
        parse_json_object(b'{"a": 1 "b": 2}', "hset")
    assert str(info.value) == "ERR invalid JSON: Expecting ',' delimiter at char 8"


def test_json_trailing_data_is_rejected() -> None:
    """Text after the object is an error."""
    with pytest.raises(CommandError) as info:
        parse_json_object(b'{"a": 1} x', "hset")
    assert info.value == errors.invalid_json("Extra data at char 9")


def test_json_truncated_object_is_rejected() -> None:
    """An unterminated object is an error, not a hint."""
    with pytest.raises(CommandError) as info:
        parse_json_object(b"{", "hset")
    assert info.value == errors.invalid_json(
        "Expecting property name enclosed in double quotes at char 1"
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_non_finite_constants_are_rejected(constant: str) -> None:
    """NaN and the infinities are not JSON and are refused."""
    with pytest.raises(CommandError) as info:
        parse_json_object(f'{{"a": {constant}}}'.encode(), "hset")
    assert info.value == errors.invalid_json(f"{constant} is not allowed")


def test_json_float_overflow_is_rejected() -> None:
    """1e400 would become infinity; refused."""
    with pytest.raises(CommandError) as info:
        parse_json_array(b"[1e400]", "lset")
    assert info.value == errors.invalid_json("number 1e400 is out of range")


def test_json_huge_integer_is_a_clean_error() -> None:
    """An integer of 5000 digits is refused with a short reason, not a Python error."""
    with pytest.raises(CommandError) as info:
        parse_json_array(b"[" + b"7" * 5000 + b"]", "lset")
    assert info.value == errors.invalid_json("integer of 5000 digits is too long")


def test_json_very_deep_nesting_is_a_clean_error() -> None:
    """100000 nested levels answer an error instead of a RecursionError."""
    with pytest.raises(CommandError) as info:
        parse_json_object(_nested_object(100_000), "hset")
    assert info.value == errors.invalid_json(f"nested deeper than {MAX_JSON_DEPTH} levels")


def test_json_nesting_at_the_limit_is_accepted() -> None:
    """MAX_JSON_DEPTH levels of arrays are accepted."""
    assert parse_json_array(_nested_array(MAX_JSON_DEPTH), "lset") is not None


def test_json_nesting_one_over_the_limit_is_rejected() -> None:
    """MAX_JSON_DEPTH + 1 levels (well within Python's stack) are refused."""
    with pytest.raises(CommandError) as info:
        parse_json_array(_nested_array(MAX_JSON_DEPTH + 1), "lset")
    assert info.value == errors.invalid_json(f"nested deeper than {MAX_JSON_DEPTH} levels")


def test_json_invalid_utf8_is_rejected() -> None:
    """Bytes that are not UTF-8 are refused."""
    with pytest.raises(CommandError) as info:
        parse_json_object(b'{"a": "\xff"}', "hset")
    assert str(info.value) == "ERR invalid JSON: not valid UTF-8"


@pytest.mark.parametrize("token", [b'{"a": "\\ud800"}', b'{"\\udc00": 1}', b'{"a": ["\\ud83d"]}'])
def test_json_lone_surrogates_are_rejected(token: bytes) -> None:
    """A lone UTF-16 surrogate escape, in a key or a value, is refused."""
    with pytest.raises(CommandError) as info:
        parse_json_object(token, "hset")
    assert info.value == errors.invalid_json("string contains a lone UTF-16 surrogate")


def test_json_surrogate_pair_is_accepted() -> None:
    """A proper surrogate pair decodes to one character."""
    assert parse_json_object(b'{"a": "\\ud83d\\ude00"}', "hset") == {"a": "\U0001f600"}


@pytest.mark.parametrize("token", [b"[1, 2]", b"42", b'"s"', b"null", b"true", b"name", b""])
def test_json_object_rejects_other_top_level_values(token: bytes) -> None:
    """Anything but an object is refused with the HSET hint."""
    with pytest.raises(CommandError) as info:
        parse_json_object(token, "hset")
    assert info.value == errors.not_json_object("hset")


def test_json_object_hint_text() -> None:
    """The object hint names the command and shows an example."""
    with pytest.raises(CommandError) as info:
        parse_json_object(b"[1]", "hset")
    assert str(info.value) == 'ERR HSET value must be a JSON object, e.g. {"a": 1}'


def test_json_array_parses() -> None:
    """A JSON array parses to a list with native types."""
    assert parse_json_array(b'[1, "a", {"b": false}, []]', "lset") == [1, "a", {"b": False}, []]


@pytest.mark.parametrize("token", [b'{"a": 1}', b"1", b"x", b""])
def test_json_array_rejects_other_top_level_values(token: bytes) -> None:
    """Anything but an array is refused with the LSET hint."""
    with pytest.raises(CommandError) as info:
        parse_json_array(token, "lset")
    assert str(info.value) == "ERR LSET value must be a JSON array, e.g. [1, 2]"


def test_json_array_with_nan_is_rejected() -> None:
    """NaN inside an array is refused too."""
    with pytest.raises(CommandError) as info:
        parse_json_array(b"[1, NaN]", "lset")
    assert info.value == errors.invalid_json("NaN is not allowed")
