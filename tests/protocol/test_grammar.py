"""Tests for protocol.grammar (dispatch) and the families strings, keys, namespaces and delivery of
protocol.commands: argv -> typed command objects, and every error text on the way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar_helpers import error_of, error_of_args, parse, parse_args

from protocol import errors
from protocol.commands import (
    DECLARATIONS,
    Command,
    Dbsize,
    Del,
    Exists,
    Expire,
    Get,
    Hset,
    HsetFields,
    Keys,
    Lset,
    LsetIndex,
    Namespaces,
    Persist,
    Scan,
    Select,
    Set,
    Ttl,
    Type,
)
from protocol.errors import CommandError
from protocol.grammar import parse_command
from protocol.request import Request
from protocol.values import MAX_JSON_DEPTH, MAX_TTL_MS


# --- dispatch ---------------------------------------------------------------------------------


def test_unknown_command_text() -> None:
    """An unknown command echoes its name and first arguments, as Redis does."""
    assert str(error_of("FOO a b")) == (
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    )


def test_unknown_command_without_args() -> None:
    """An unknown command with no arguments still gets Redis's trailing text."""
    assert error_of("nope") == errors.unknown_command(b"nope", ())


def test_empty_request_is_an_unknown_command() -> None:
    """An empty argv is refused cleanly."""
    assert error_of_args() == errors.unknown_command(b"", ())


def test_non_ascii_command_name_is_unknown() -> None:
    """A name with non-ASCII bytes is an unknown command, not a decode error."""
    assert error_of_args(b"G\xc9T", b"k") == errors.unknown_command(b"G\xc9T", (b"k",))


def test_subcommand_name_alone_is_not_a_command() -> None:
    """Only top-level names dispatch: 'client|id' is unknown."""
    assert error_of("client|id") == errors.unknown_command(b"client|id", ())


@pytest.mark.parametrize("name", ["get", "GET", "Get", "gEt"])
def test_command_names_are_case_insensitive(name: str) -> None:
    """Any case of the command name dispatches."""
    assert parse(f"{name} k") == Get(b"k")


# --- SET --------------------------------------------------------------------------------------


def test_set_plain_string() -> None:
    """SET key value stores bytes."""
    assert parse("SET k hello") == Set(b"k", b"hello")


def test_set_keeps_key_bytes_exactly() -> None:
    """Keys are not case-folded or decoded."""
    assert parse_args(b"SET", b"K\xffey", b"v") == Set(b"K\xffey", b"v")


def test_set_unquoted_integer_is_int() -> None:
    """SET k 42 stores the integer 42."""
    assert parse("SET k 42") == Set(b"k", 42)


def test_set_quoted_integer_is_bytes() -> None:
    """SET k "42" (quoted inline) stores the string 42."""
    assert parse("SET k 42", quoted=(2,)) == Set(b"k", b"42")


def test_set_quoted_key_does_not_affect_the_value() -> None:
    """Only index 2 (the value) decides the inference."""
    assert parse("SET k 42", quoted=(1,)) == Set(b"k", 42)


def test_set_leading_zero_stays_string() -> None:
    """SET k 007 keeps the string so GET returns 007."""
    assert parse("SET k 007") == Set(b"k", b"007")


def test_set_true_is_bool() -> None:
    """SET k true stores a boolean."""
    assert parse("SET k true") == Set(b"k", True)


def test_set_false_is_bool() -> None:
    """SET k false stores a boolean."""
    assert parse("SET k false") == Set(b"k", False)


def test_set_int_and_bool_are_distinct_values() -> None:
    """SET k 1 is the integer 1, not True."""
    assert parse("SET k 1") != Set(b"k", True)


def test_set_int64_max_is_int() -> None:
    """The int64 maximum is still an integer."""
    assert parse("SET k 9223372036854775807") == Set(b"k", 9223372036854775807)


def test_set_past_int64_is_string() -> None:
    """One past int64 is kept as a string."""
    assert parse("SET k 9223372036854775808") == Set(b"k", b"9223372036854775808")


def test_set_as_string() -> None:
    """AS STRING keeps 42 as bytes."""
    assert parse("SET k 42 AS STRING") == Set(b"k", b"42")


def test_set_as_int() -> None:
    """AS INT parses the value."""
    assert parse("SET k -5 as int") == Set(b"k", -5)


def test_set_as_int_overrides_quotes() -> None:
    """AS INT forces the type even on a quoted token."""
    assert parse("SET k 42 AS INT", quoted=(2,)) == Set(b"k", 42)


def test_set_as_bool_any_case() -> None:
    """AS BOOL accepts TRUE."""
    assert parse("SET k TRUE AS Bool") == Set(b"k", True)


def test_set_as_string_keeps_true() -> None:
    """AS STRING keeps true as bytes."""
    assert parse("SET k true AS STRING") == Set(b"k", b"true")


def test_set_as_int_rejects_text() -> None:
    """AS INT on a non-integer answers Redis's integer error."""
    assert error_of("SET k abc AS INT") == errors.not_integer()


def test_set_as_bool_rejects_text() -> None:
    """AS BOOL on a non-boolean answers the boolean error."""
    assert error_of("SET k 1 AS BOOL") == errors.not_boolean()


def test_set_as_unknown_kind_is_syntax_error() -> None:
    """AS FLOAT is not a kind."""
    assert error_of("SET k 1.5 AS FLOAT") == errors.syntax_error()


def test_set_as_without_kind_is_syntax_error() -> None:
    """AS at the end with no kind."""
    assert error_of("SET k v AS") == errors.syntax_error()


def test_set_two_as_is_syntax_error() -> None:
    """AS may be given once."""
    assert error_of("SET k 1 AS STRING AS INT") == errors.syntax_error()


def test_set_from() -> None:
    """FROM names the namespace."""
    assert parse("SET k v FROM orders") == Set(b"k", b"v", ns="orders")


def test_set_from_between_options() -> None:
    """FROM may sit between other options."""
    assert parse("SET k v TTL 5 FROM orders NX") == Set(
        b"k", b"v", ns="orders", ttl_ms=5000, condition="NX"
    )


def test_set_from_first_among_options() -> None:
    """FROM may come right after the value."""
    assert parse("SET k v from a:b XX") == Set(b"k", b"v", ns="a:b", condition="XX")


def test_set_invalid_namespace() -> None:
    """A bad namespace name in FROM answers the namespace error."""
    assert error_of("SET k v FROM a/b") == errors.invalid_namespace(b"a/b")


def test_set_from_twice_is_syntax_error() -> None:
    """FROM may be given once."""
    assert error_of("SET k v FROM a FROM b") == errors.syntax_error()


def test_set_from_without_namespace_is_syntax_error() -> None:
    """FROM at the end with no name."""
    assert error_of("SET k v FROM") == errors.syntax_error()


def test_set_ttl_duration() -> None:
    """TTL takes a duration with a unit."""
    assert parse("SET k v TTL 5m") == Set(b"k", b"v", ttl_ms=300_000)


def test_set_ttl_bare_seconds() -> None:
    """TTL without a unit is seconds."""
    assert parse("SET k v ttl 10") == Set(b"k", b"v", ttl_ms=10_000)


def test_set_ttl_invalid_duration() -> None:
    """A bad duration answers the duration error naming the token."""
    assert error_of("SET k v TTL 0") == errors.invalid_duration(b"0")


def test_set_ex_seconds() -> None:
    """EX is seconds."""
    assert parse("SET k v EX 10") == Set(b"k", b"v", ttl_ms=10_000)


def test_set_px_milliseconds() -> None:
    """PX is milliseconds."""
    assert parse("SET k v px 1500") == Set(b"k", b"v", ttl_ms=1500)


def test_set_px_at_the_limit() -> None:
    """PX MAX_TTL_MS is accepted."""
    assert parse(f"SET k v PX {MAX_TTL_MS}") == Set(b"k", b"v", ttl_ms=MAX_TTL_MS)


@pytest.mark.parametrize(
    "option",
    ["EX 0", "EX -1", "PX 0", "PX -100", f"PX {MAX_TTL_MS + 1}", f"EX {MAX_TTL_MS // 1000 + 1}",
     "EX 9223372036854775807"],
)  # fmt: skip
def test_set_ex_px_out_of_range(option: str) -> None:
    """Zero, negative, or over ten years answers Redis's expire-time error for SET."""
    assert str(error_of(f"SET k v {option}")) == "ERR invalid expire time in 'set' command"


@pytest.mark.parametrize("option", ["EX abc", "PX 1.5", "EX 9223372036854775808"])
def test_set_ex_px_not_an_integer(option: str) -> None:
    """A non-integer EX/PX answers Redis's integer error."""
    assert error_of(f"SET k v {option}") == errors.not_integer()


def test_set_ex_without_value_is_syntax_error() -> None:
    """EX at the end with no number."""
    assert error_of("SET k v EX") == errors.syntax_error()


def test_set_keepttl() -> None:
    """KEEPTTL sets keep_ttl."""
    assert parse("SET k v KEEPTTL") == Set(b"k", b"v", keep_ttl=True)


@pytest.mark.parametrize(
    "options",
    ["TTL 5 EX 5", "EX 5 PX 5", "KEEPTTL TTL 5", "PX 5 KEEPTTL", "EX 5 EX 6", "KEEPTTL KEEPTTL"],
)
def test_set_ttl_options_exclude_each_other(options: str) -> None:
    """Two of TTL/EX/PX/KEEPTTL (or one twice) is a syntax error."""
    assert error_of(f"SET k v {options}") == errors.syntax_error()


@pytest.mark.parametrize("condition", ["NX", "XX"])
def test_set_condition(condition: str) -> None:
    """NX and XX set the condition."""
    assert parse(f"SET k v {condition.lower()}") == Set(b"k", b"v", condition=condition)


@pytest.mark.parametrize("options", ["NX XX", "XX NX", "NX NX"])
def test_set_conditions_exclude_each_other(options: str) -> None:
    """NX with XX, or either twice, is a syntax error."""
    assert error_of(f"SET k v {options}") == errors.syntax_error()


@pytest.mark.parametrize("option", ["GT", "LT", "PERSIST", "BOGUS", "MATCH x", "COUNT 1"])
def test_set_unknown_option_is_syntax_error(option: str) -> None:
    """Options SET does not know are syntax errors."""
    assert error_of(f"SET k v {option}") == errors.syntax_error()


def test_set_every_option_in_any_order() -> None:
    """All options together, shuffled and in mixed case."""
    assert parse("set k 42 nX as sTrInG tTl 1h FrOm ns") == Set(
        b"k", b"42", ns="ns", ttl_ms=3_600_000, condition="NX"
    )


def test_set_value_that_looks_like_a_keyword_is_positional() -> None:
    """The value position is never read as an option."""
    assert parse("SET FROM NX") == Set(b"FROM", b"NX")


def test_set_wrong_arity() -> None:
    """SET key without a value is an arity error."""
    assert str(error_of("SET k")) == "ERR wrong number of arguments for 'set' command"


# --- HSET / LSET ------------------------------------------------------------------------------


def test_hset_object() -> None:
    """HSET key {json} stores the object."""
    assert parse_args(b"HSET", b"k", b'{"a": 1, "b": [true]}') == Hset(
        b"k", {"a": 1, "b": [True]}
    )


def test_hset_with_from_and_ttl() -> None:
    """HSET accepts FROM and TTL in any order."""
    assert parse_args(b"hset", b"k", b"{}", b"TTL", b"2h", b"FROM", b"ns") == Hset(
        b"k", {}, ns="ns", ttl_ms=7_200_000
    )


def test_hset_with_ex() -> None:
    """HSET accepts EX like SET does."""
    assert parse_args(b"HSET", b"k", b"{}", b"EX", b"3") == Hset(b"k", {}, ttl_ms=3000)


def test_hset_ex_error_names_hset() -> None:
    """EX 0 on HSET names the hset command."""
    assert str(error_of_args(b"HSET", b"k", b"{}", b"EX", b"0")) == (
        "ERR invalid expire time in 'hset' command"
    )


@pytest.mark.parametrize("option", [b"KEEPTTL", b"NX", b"XX", b"AS"])
def test_hset_rejects_set_only_options(option: bytes) -> None:
    """KEEPTTL, NX, XX and AS belong to SET only."""
    assert error_of_args(b"HSET", b"k", b"{}", option) == errors.syntax_error()


def test_hset_without_json_is_the_field_value_form() -> None:
    """HSET key field value (Redis form) sets a field."""
    assert parse("HSET user name alice") == HsetFields(b"user", (("name", "alice"),))


@pytest.mark.parametrize(
    "line", ["HSET k [1,2]", "HSET k notjson", "HSET k 42", "HSET k 42 TTL 5", "HSET k x FROM ns PX 10"]
)
def test_hset_of_one_value_that_is_no_object_says_so(line: str) -> None:
    """One value (maybe with JSON options) can only be the JSON form: the error says an object is
    expected, not that the arguments are miscounted."""
    assert error_of(line) == errors.not_json_object("hset")


def test_hset_odd_fields_without_options_are_a_wrong_arity() -> None:
    """HSET k a b c is a field-value form missing a value, as Redis answers."""
    assert error_of("HSET k a b c") == errors.wrong_arity("hset")


def test_hset_broken_json() -> None:
    """Malformed JSON answers the JSON error with its position."""
    assert error_of_args(b"HSET", b"k", b'{"a" 1}') == errors.invalid_json(
        "Expecting ':' delimiter at char 5"
    )


def test_hset_deep_nesting_is_a_clean_error() -> None:
    """A 100000-level object is refused without a RecursionError."""
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert error_of_args(b"HSET", b"k", deep) == errors.invalid_json(
        f"nested deeper than {MAX_JSON_DEPTH} levels"
    )


def test_hset_wrong_arity() -> None:
    """HSET key alone is an arity error."""
    assert error_of("HSET k") == errors.wrong_arity("hset")


def test_hset_object_values_compare_by_type() -> None:
    """{"a": true} and {"a": 1} are different HSETs."""
    assert parse_args(b"HSET", b"k", b'{"a": true}') != Hset(b"k", {"a": 1})


def test_lset_array() -> None:
    """LSET key [json] stores the array."""
    assert parse_args(b"LSET", b"k", b'[1, "a", true, null]') == Lset(b"k", [1, "a", True, None])


def test_lset_with_from_and_px() -> None:
    """LSET accepts FROM and PX."""
    assert parse_args(b"LSET", b"k", b"[]", b"FROM", b"q", b"PX", b"10") == Lset(
        b"k", [], ns="q", ttl_ms=10
    )


def test_lset_without_an_array_is_the_index_form() -> None:
    """LSET key index element (Redis form), with or without FROM."""
    assert parse("LSET k 0 x") == LsetIndex(b"k", 0, "x")
    assert parse("LSET k 0 x FROM ns") == LsetIndex(b"k", 0, "x", ns="ns")


@pytest.mark.parametrize("line", ['LSET k {"a":1}', "LSET k notjson", "LSET k 42", "LSET k 42 TTL 5 FROM ns"])
def test_lset_of_one_value_that_is_no_array_says_so(line: str) -> None:
    """One value (maybe with JSON options) can only be the JSON form: the error says so."""
    assert error_of(line) == errors.not_json_array("lset")


def test_lset_index_form_with_a_stray_argument_is_a_wrong_arity() -> None:
    """LSET k 0 x y is no JSON form either: a wrong number of arguments."""
    assert error_of("LSET k 0 x y") == errors.wrong_arity("lset")


def test_lset_unknown_option_is_syntax_error() -> None:
    """Trailing garbage after the array is a syntax error."""
    assert error_of_args(b"LSET", b"k", b"[1]", b"2") == errors.syntax_error()


# --- single-key commands ----------------------------------------------------------------------


def test_get() -> None:
    """GET key."""
    assert parse("GET k") == Get(b"k")


def test_get_from() -> None:
    """GET key FROM ns, keyword in any case."""
    assert parse("get k fRoM logs") == Get(b"k", ns="logs")


@pytest.mark.parametrize("tail", ["FROM", "extra", "FROM a FROM b", "FROM a b", "NX"])
def test_get_malformed_tail_is_syntax_error(tail: str) -> None:
    """Anything after the key but one FROM clause is a syntax error."""
    assert error_of(f"GET k {tail}") == errors.syntax_error()


def test_get_from_invalid_namespace() -> None:
    """GET key FROM bad-name answers the namespace error."""
    assert error_of("GET k FROM a*b") == errors.invalid_namespace(b"a*b")


@pytest.mark.parametrize("name", ["GET", "TYPE", "TTL", "PTTL", "PERSIST", "KEYS", "SCAN"])
def test_single_argument_commands_without_argument(name: str) -> None:
    """Each needs at least one argument; the arity error names it in lowercase."""
    assert error_of(name) == errors.wrong_arity(name.lower())


def test_type() -> None:
    """TYPE key FROM ns."""
    assert parse("TYPE k FROM ns") == Type(b"k", ns="ns")


def test_persist() -> None:
    """PERSIST key."""
    assert parse("PERSIST k") == Persist(b"k")


def test_ttl() -> None:
    """TTL key is in seconds."""
    assert parse("TTL k") == Ttl(b"k")


def test_pttl() -> None:
    """PTTL key FROM ns asks for milliseconds."""
    assert parse("pttl k from ns") == Ttl(b"k", ns="ns", milliseconds=True)


# --- multi-key commands -----------------------------------------------------------------------


def test_del_several_keys() -> None:
    """DEL takes any number of keys."""
    assert parse("DEL a b c") == Del((b"a", b"b", b"c"))


def test_del_trailing_from() -> None:
    """A trailing FROM ns applies to all keys."""
    assert parse("DEL a b FROM ns") == Del((b"a", b"b"), ns="ns")


def test_del_trailing_from_any_case() -> None:
    """The trailing from is case-insensitive."""
    assert parse("del a from ns") == Del((b"a",), ns="ns")


def test_del_from_without_keys_is_two_keys() -> None:
    """DEL FROM ns deletes keys named FROM and ns (no key before FROM)."""
    assert parse("DEL FROM ns") == Del((b"FROM", b"ns"))


def test_del_from_not_second_to_last_is_a_key() -> None:
    """FROM elsewhere is just a key name."""
    assert parse("DEL a FROM ns b") == Del((b"a", b"FROM", b"ns", b"b"))


def test_del_trailing_from_alone_is_a_key() -> None:
    """DEL a FROM: FROM is the last argument, so it is a key."""
    assert parse("DEL a FROM") == Del((b"a", b"FROM"))


def test_del_from_invalid_namespace() -> None:
    """A trailing FROM with a bad name answers the namespace error."""
    assert error_of("DEL a FROM b!") == errors.invalid_namespace(b"b!")


def test_unlink_is_del() -> None:
    """UNLINK parses to Del."""
    assert parse("UNLINK a b FROM ns") == Del((b"a", b"b"), ns="ns")


def test_exists() -> None:
    """EXISTS keys FROM ns."""
    assert parse("EXISTS a a FROM ns") == Exists((b"a", b"a"), ns="ns")


@pytest.mark.parametrize("name", ["DEL", "UNLINK", "EXISTS"])
def test_multi_key_without_keys(name: str) -> None:
    """At least one key is required."""
    assert error_of(name) == errors.wrong_arity(name.lower())


# --- EXPIRE / PEXPIRE -------------------------------------------------------------------------


def test_expire_seconds() -> None:
    """EXPIRE converts seconds to milliseconds."""
    assert parse("EXPIRE k 10") == Expire(b"k", 10_000)


def test_pexpire_milliseconds() -> None:
    """PEXPIRE keeps milliseconds."""
    assert parse("PEXPIRE k 1500") == Expire(b"k", 1500)


@pytest.mark.parametrize(("line", "ms"), [("EXPIRE k 0", 0), ("EXPIRE k -5", -5000),
                                          ("PEXPIRE k -1", -1)])  # fmt: skip
def test_expire_zero_or_negative_is_allowed(line: str, ms: int) -> None:
    """Zero or negative TTLs parse (the key gets deleted, as in Redis)."""
    assert parse(line) == Expire(b"k", ms)


@pytest.mark.parametrize("condition", ["NX", "XX", "GT", "LT"])
def test_expire_conditions(condition: str) -> None:
    """NX, XX, GT and LT set the condition."""
    assert parse(f"EXPIRE k 5 {condition.lower()}") == Expire(b"k", 5000, condition=condition)


def test_expire_from_before_condition() -> None:
    """FROM may precede the condition."""
    assert parse("EXPIRE k 5 FROM ns GT") == Expire(b"k", 5000, ns="ns", condition="GT")


def test_expire_from_after_condition() -> None:
    """FROM may follow the condition."""
    assert parse("pexpire k 5 lt from ns") == Expire(b"k", 5, ns="ns", condition="LT")


@pytest.mark.parametrize("options", ["NX XX", "GT LT", "NX GT", "XX XX", "KEEPTTL", "TTL 5", "5"])
def test_expire_bad_options_are_syntax_errors(options: str) -> None:
    """Conflicting, repeated or unknown options are syntax errors."""
    assert error_of(f"EXPIRE k 5 {options}") == errors.syntax_error()


@pytest.mark.parametrize("amount", ["abc", "1.5", "5s", "9223372036854775808", "+5"])
def test_expire_not_an_integer(amount: str) -> None:
    """A non-integer time answers Redis's integer error."""
    assert error_of(f"EXPIRE k {amount}") == errors.not_integer()


@pytest.mark.parametrize(
    "line",
    [f"EXPIRE k {MAX_TTL_MS // 1000 + 1}", "EXPIRE k 9223372036854775807",
     "EXPIRE k -9223372036854775808"],
)  # fmt: skip
def test_expire_out_of_range(line: str) -> None:
    """Over ten years, or overflowing milliseconds, names the expire command."""
    assert str(error_of(line)) == "ERR invalid expire time in 'expire' command"


def test_expire_at_the_limit() -> None:
    """EXPIRE of exactly ten years is accepted."""
    assert parse(f"EXPIRE k {MAX_TTL_MS // 1000}") == Expire(b"k", MAX_TTL_MS)


def test_pexpire_out_of_range_names_pexpire() -> None:
    """PEXPIRE over ten years names pexpire."""
    assert error_of(f"PEXPIRE k {MAX_TTL_MS + 1}") == errors.invalid_expire_time("pexpire")


def test_expire_wrong_arity() -> None:
    """EXPIRE key without a time is an arity error."""
    assert error_of("EXPIRE k") == errors.wrong_arity("expire")


# --- SCAN / KEYS / DBSIZE / SELECT / NAMESPACES -----------------------------------------------


def test_scan_defaults() -> None:
    """SCAN 0 uses COUNT 10 and no pattern."""
    assert parse("SCAN 0") == Scan(0, match=None, count=10)


def test_scan_options_any_order() -> None:
    """MATCH, COUNT and FROM in any order and case."""
    assert parse("scan 17 from ns count 100 MATCH user:*") == Scan(
        17, match=b"user:*", count=100, ns="ns"
    )


def test_scan_cursor_max_uint64() -> None:
    """The largest unsigned 64-bit cursor is accepted."""
    assert parse("SCAN 18446744073709551615") == Scan(18446744073709551615)


@pytest.mark.parametrize("cursor", ["18446744073709551616", "-1", "abc", "1.0", "+1"])
def test_scan_invalid_cursor(cursor: str) -> None:
    """A cursor that is not an unsigned 64-bit integer answers 'invalid cursor'."""
    assert str(error_of(f"SCAN {cursor}")) == "ERR invalid cursor"


@pytest.mark.parametrize("count", ["0", "-1"])
def test_scan_count_below_one_is_syntax_error(count: str) -> None:
    """COUNT must be at least 1 (Redis answers a syntax error)."""
    assert error_of(f"SCAN 0 COUNT {count}") == errors.syntax_error()


def test_scan_count_not_an_integer() -> None:
    """COUNT abc answers the integer error."""
    assert error_of("SCAN 0 COUNT abc") == errors.not_integer()


@pytest.mark.parametrize("tail", ["MATCH", "MATCH a MATCH b", "COUNT 1 COUNT 2", "TYPE", "TYPE string TYPE list", "KIND string"])
def test_scan_bad_options_are_syntax_errors(tail: str) -> None:
    """Missing values, repeats and unknown options are syntax errors."""
    assert error_of(f"SCAN 0 {tail}") == errors.syntax_error()


def test_keys() -> None:
    """KEYS pattern."""
    assert parse("KEYS *") == Keys(b"*")


def test_keys_from() -> None:
    """KEYS pattern FROM ns."""
    assert parse("KEYS a?c FROM ns") == Keys(b"a?c", ns="ns")


def test_keys_extra_argument_is_syntax_error() -> None:
    """KEYS takes one pattern."""
    assert error_of("KEYS a b") == errors.syntax_error()


def test_dbsize() -> None:
    """DBSIZE alone uses the current namespace."""
    assert parse("DBSIZE") == Dbsize()


def test_dbsize_from() -> None:
    """DBSIZE FROM ns."""
    assert parse("dbsize from ns") == Dbsize(ns="ns")


def test_dbsize_stray_argument_is_syntax_error() -> None:
    """DBSIZE x is not a FROM clause."""
    assert error_of("DBSIZE x") == errors.syntax_error()


def test_select() -> None:
    """SELECT ns keeps the name's case."""
    assert parse("select Orders.EU") == Select("Orders.EU")


def test_select_invalid_namespace() -> None:
    """SELECT of a bad name answers the namespace error."""
    assert error_of_args(b"SELECT", b"x" * 65) == errors.invalid_namespace(b"x" * 65)


@pytest.mark.parametrize("line", ["SELECT", "SELECT a b"])
def test_select_wrong_arity(line: str) -> None:
    """SELECT takes exactly one argument."""
    assert error_of(line) == errors.wrong_arity("select")


def test_namespaces() -> None:
    """NAMESPACES takes no argument."""
    assert parse("NAMESPACES") == Namespaces()


def test_namespaces_wrong_arity() -> None:
    """NAMESPACES x is an arity error."""
    assert error_of("NAMESPACES x") == errors.wrong_arity("namespaces")


# --- robustness -------------------------------------------------------------------------------

_WORDS = sorted(
    set(DECLARATIONS)
    | {"from", "FROM", "ttl", "ex", "px", "keepttl", "nx", "xx", "gt", "lt", "as", "string",
       "int", "bool", "match", "count", "auth", "setname", "setinfo", "lib-name", "get", "docs",
       "0", "-1", "1", "42", "true", "{}", "[]", "{", "[", "ns", "x" * 65, "18446744073709551616",
       "9223372036854775808"}
)  # fmt: skip
_TOKENS = st.one_of(st.sampled_from([w.encode() for w in _WORDS]), st.binary(max_size=12))


@settings(max_examples=500, deadline=None)
@given(
    args=st.lists(_TOKENS, max_size=8).flatmap(
        lambda rest: st.tuples(
            st.sampled_from([n.encode() for n in DECLARATIONS]) | st.binary(max_size=6),
            st.just(rest),
        )
    ),
    quoted=st.frozensets(st.integers(0, 9)),
)
def test_arbitrary_argv_only_raises_command_error(
    args: tuple[bytes, list[bytes]], quoted: frozenset[int]
) -> None:
    """Whatever the argv, parse_command returns a Command or raises CommandError."""
    name, rest = args
    try:
        command = parse_command(Request((name, *rest), quoted))
    except CommandError:
        return
    assert isinstance(command, Command)


def test_priority_on_set_hset_lset() -> None:
    from protocol.commands import Hset, Lset, Set
    from protocol.grammar import parse_command as parse_request
    from protocol.request import Request

    def parse(*args: str):
        return parse_request(Request(tuple(a.encode() for a in args)))

    assert parse("SET", "k", "v", "TTL", "5m", "PRIORITY", "0").priority == 0
    assert parse("SET", "k", "v").priority is None
    assert isinstance(parse("HSET", "k", '{"a": 1}', "PRIORITY", "7"), Hset)
    assert parse("HSET", "k", '{"a": 1}', "PRIORITY", "7").priority == 7
    assert parse("LSET", "k", "[1]", "PRIORITY", "4294967295").priority == 2**32 - 1
    assert isinstance(parse("LSET", "k", "[1]"), Lset) and isinstance(parse("SET", "k", "v"), Set)
    for bad in ("-1", "4294967296", "high"):
        with pytest.raises(CommandError, match="PRIORITY must be an integer"):
            parse("SET", "k", "v", "PRIORITY", bad)


def test_take_ack_nack() -> None:
    from protocol.commands import Ack, Nack, Take
    from protocol.grammar import parse_command as parse_request
    from protocol.request import Request

    def parse(*args: str):
        return parse_request(Request(tuple(a.encode() for a in args)))

    assert parse("TAKE") == Take()
    assert parse("TAKE", "FROM", "jobs", "COUNT", "10", "BLOCK", "0", "LEASE", "1m") == Take("jobs", 10, 0, 60_000)
    assert parse("ACK", "jobs", "0-1", "3-1042") == Ack("jobs", ((0, 1), (3, 1042)))
    assert parse("NACK", "jobs", "2-7") == Nack("jobs", (2, 7))
    assert parse("NACK", "jobs", "2-7", "DELAY", "5s") == Nack("jobs", (2, 7), 5000)
    for args, text in [
        (("ACK", "jobs", "7"), "invalid delivery id '7'"),
        (("ACK", "jobs", "a-1"), "invalid delivery id"),
        (("TAKE", "BLOCK", "-1"), "timeout is not an integer"),
        (("TAKE", "COUNT", "0"), "syntax error"),
        (("TAKE", "COUNT", "10001"), "TAKE COUNT is at most 10000"),
        (("NACK", "jobs", "1-1", "DELAY"), "syntax error"),
        (("ACK", "jobs"), "wrong number of arguments"),
    ]:
        with pytest.raises(CommandError, match=text):
            parse(*args)
