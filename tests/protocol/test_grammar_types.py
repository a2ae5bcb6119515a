"""Tests for the families counters, hashes, lists and transactions of protocol.commands, and more
key commands (MSET, GETEX, RENAME, COPY...); every command parsed through parse_command."""

from __future__ import annotations

import pytest

from grammar_helpers import error_of, error_of_args, parse, parse_args

from protocol import commands, errors
from protocol.commands import (
    Command,
    Copy,
    Del,
    Discard,
    Exec,
    Expiretime,
    Flushns,
    Get,
    Getdel,
    Getex,
    Hdel,
    Hexists,
    Hget,
    Hincrby,
    Hmget,
    Hread,
    Hset,
    HsetFields,
    Incrby,
    Keyed,
    Lindex,
    Llen,
    Lrange,
    Lrem,
    Lset,
    LsetIndex,
    Ltrim,
    Mget,
    Mset,
    Multi,
    Pop,
    Push,
    Rename,
    Set,
    Unwatch,
    Watch,
)
from protocol.values import INT64_MAX


# --- every command parses to its class ------------------------------------------------------------

PARSED = [
    ("MULTI", Multi()),
    ("EXEC", Exec()),
    ("DISCARD", Discard()),
    ("UNWATCH", Unwatch()),
    ("WATCH a b", Watch((b"a", b"b"))),
    ("WATCH a FROM ns", Watch((b"a",), ns="ns")),
    ("INCR k", Incrby(b"k", 1)),
    ("DECR k", Incrby(b"k", -1)),
    ("INCRBY k 5", Incrby(b"k", 5)),
    ("DECRBY k 5", Incrby(b"k", -5)),
    ("incrby k -3 from ns", Incrby(b"k", -3, ns="ns")),
    ("DECRBY k -9223372036854775807", Incrby(b"k", INT64_MAX)),
    ("HSET k f v", HsetFields(b"k", (("f", "v"),))),
    ("HSET k a 1 b true c x", HsetFields(b"k", (("a", 1), ("b", True), ("c", "x")))),
    ("HMSET k f v", HsetFields(b"k", (("f", "v"),))),
    ("HGET k f", Hget(b"k", "f")),
    ("HGET k f FROM ns", Hget(b"k", "f", ns="ns")),
    ("HMGET k a b", Hmget(b"k", ("a", "b"))),
    ("HDEL k a b", Hdel(b"k", ("a", "b"))),
    ("HEXISTS k f", Hexists(b"k", "f")),
    ("HINCRBY k f -2", Hincrby(b"k", "f", -2)),
    ("HGETALL k", Hread(b"k", "hgetall")),
    ("HLEN k", Hread(b"k", "hlen")),
    ("HKEYS k", Hread(b"k", "hkeys")),
    ("HVALS k FROM ns", Hread(b"k", "hvals", ns="ns")),
    ("LSET k -1 x", LsetIndex(b"k", -1, "x")),
    ("LSET k 0 7 FROM ns", LsetIndex(b"k", 0, 7, ns="ns")),
    ("LPUSH k a 1 false", Push(b"k", ("a", 1, False), left=True)),
    ("RPUSH k a", Push(b"k", ("a",), left=False)),
    ("LPOP k", Pop(b"k", None, left=True)),
    ("RPOP k 3", Pop(b"k", 3, left=False)),
    ("LPOP k 0", Pop(b"k", 0, left=True)),
    ("LPOP k FROM ns", Pop(b"k", None, left=True, ns="ns")),
    ("LPOP k 2 FROM ns", Pop(b"k", 2, left=True, ns="ns")),
    ("LRANGE k 0 -1", Lrange(b"k", 0, -1)),
    ("LTRIM k 1 2", Ltrim(b"k", 1, 2)),
    ("LLEN k", Llen(b"k")),
    ("LINDEX k -2", Lindex(b"k", -2)),
    ("LREM k -2 x", Lrem(b"k", -2, "x")),
    ("MSET a 1 b x", Mset(((b"a", 1), (b"b", b"x")))),
    ("MGET a b", Mget((b"a", b"b"))),
    ("GETDEL k", Getdel(b"k")),
    ("GETEX k", Getex(b"k")),
    ("GETEX k EX 10", Getex(b"k", ttl_ms=10_000)),
    ("GETEX k PX 10", Getex(b"k", ttl_ms=10)),
    ("GETEX k TTL 2m", Getex(b"k", ttl_ms=120_000)),
    ("GETEX k EXAT 10", Getex(b"k", expire_at_ms=10_000)),
    ("GETEX k PXAT 10", Getex(b"k", expire_at_ms=10)),
    ("GETEX k PERSIST FROM ns", Getex(b"k", ns="ns", persist=True)),
    ("EXPIRETIME k", Expiretime(b"k")),
    ("PEXPIRETIME k FROM ns", Expiretime(b"k", ns="ns", milliseconds=True)),
    ("RENAME a b", Rename(b"a", b"b")),
    ("RENAMENX a b FROM ns", Rename(b"a", b"b", ns="ns", nx=True)),
    ("COPY a b", Copy(b"a", b"b")),
    ("COPY a b REPLACE TO two FROM one", Copy(b"a", b"b", ns="one", destination_ns="two", replace=True)),
    ("FLUSHNS ns", Flushns("ns")),
    ("SET k v GET", Set(b"k", b"v", get=True)),
    ("SET k v NX GET", Set(b"k", b"v", condition="NX", get=True)),
    ("SET k v EXAT 5", Set(b"k", b"v", expire_at_ms=5000)),
    ("SET k v PXAT 5", Set(b"k", b"v", expire_at_ms=5)),
]


@pytest.mark.parametrize(("line", "expected"), PARSED, ids=[line for line, _ in PARSED])
def test_command_parses_to_its_class(line: str, expected: Command) -> None:
    """Each command line becomes the expected typed command, fields and types included."""
    command = parse(line)
    assert type(command) is type(expected)
    assert command == expected


def test_bool_and_int_elements_are_not_equal() -> None:
    """A pushed true is not a pushed 1 (attrs compares with ==, and True == 1)."""
    assert parse("RPUSH k true") != parse("RPUSH k 1")
    assert parse("LSET k 0 true") != parse("LSET k 0 1")


# --- arity and syntax errors ----------------------------------------------------------------------

WRONG_ARITY = [
    ("MULTI x", "multi"),
    ("EXEC x", "exec"),
    ("DISCARD x", "discard"),
    ("UNWATCH x", "unwatch"),
    ("WATCH", "watch"),
    ("INCR", "incr"),
    ("DECR", "decr"),
    ("INCRBY k", "incrby"),
    ("DECRBY k", "decrby"),
    ("HSET k a 1 b", "hset"),
    ("HMSET k f", "hmset"),
    ("HMSET k a 1 b", "hmset"),
    ("HGET k", "hget"),
    ("HMGET k", "hmget"),
    ("HDEL k", "hdel"),
    ("HEXISTS k", "hexists"),
    ("HINCRBY k f", "hincrby"),
    ("HGETALL", "hgetall"),
    ("LSET k 0 x y", "lset"),
    ("LPUSH k", "lpush"),
    ("RPOP", "rpop"),
    ("LRANGE k 0", "lrange"),
    ("LTRIM k 0", "ltrim"),
    ("LINDEX k", "lindex"),
    ("LREM k 0", "lrem"),
    ("MSET a", "mset"),
    ("MSET a 1 b", "mset"),
    ("MGET", "mget"),
    ("GETDEL", "getdel"),
    ("GETEX", "getex"),
    ("EXPIRETIME", "expiretime"),
    ("RENAME a", "rename"),
    ("RENAMENX a", "renamenx"),
    ("COPY a", "copy"),
    ("FLUSHNS", "flushns"),
    ("FLUSHNS a b", "flushns"),
]


@pytest.mark.parametrize(("line", "name"), WRONG_ARITY, ids=[line for line, _ in WRONG_ARITY])
def test_wrong_number_of_arguments(line: str, name: str) -> None:
    """Too few (or unpairable) arguments answer Redis's wrong-arity text naming the command."""
    assert error_of(line) == errors.wrong_arity(name)


SYNTAX_ERRORS = [
    "INCR k x",
    "INCRBY k 1 x",
    "HGET k f x",
    "HGETALL k FROM",
    "LLEN k x y",
    "LSET k 0 x y z",
    "LPOP k 1 2",
    "GETDEL k FROM a FROM b",
    "GETEX k BOGUS",
    "GETEX k EX",
    "GETEX k EX 1 PX 1",
    "GETEX k EX 1 PERSIST",
    "GETEX k PERSIST EXAT 1",
    "GETEX k PERSIST PERSIST",
    "GETEX k TTL 1 TTL 1",
    "GETEX k KEEPTTL",
    "GETEX k FROM a FROM b",
    "EXPIRETIME k x",
    "RENAME a b c",
    "COPY a b BOGUS",
    "COPY a b REPLACE REPLACE",
    "COPY a b TO x TO y",
    "COPY a b TO",
    "SET k v EX 1 EXAT 2",
    "SET k v KEEPTTL PXAT 5",
    "SET k v EXAT 1 PXAT 1",
    "SET k v GET GET",
]


@pytest.mark.parametrize("line", SYNTAX_ERRORS)
def test_syntax_error(line: str) -> None:
    """Unknown, repeated, incomplete or mutually exclusive options are syntax errors."""
    assert error_of(line) == errors.syntax_error()


@pytest.mark.parametrize("line", ["INCRBY k x", "INCRBY k 1.5", "DECRBY k 007", "HINCRBY k f x",
                                  "LSET k x v", "LRANGE k a 1", "LTRIM k 0 b", "LINDEX k x",
                                  "LREM k x v", "INCRBY k 9223372036854775808"])  # fmt: skip
def test_integer_arguments_must_be_integers(line: str) -> None:
    """Amounts, indexes and counts are signed 64-bit integers in Redis spelling."""
    assert error_of(line) == errors.not_integer()


def test_decrby_the_smallest_integer_overflows() -> None:
    """DECRBY k -2**63 cannot be negated: Redis's 'decrement would overflow'."""
    assert error_of("DECRBY k -9223372036854775808") == errors.decrement_overflow()
    assert str(errors.decrement_overflow()) == "ERR decrement would overflow"


def test_incrby_the_smallest_integer_is_fine() -> None:
    """INCRBY accepts -2**63 as an amount (whether it overflows is the server's business)."""
    assert parse("INCRBY k -9223372036854775808") == Incrby(b"k", -(2**63))


@pytest.mark.parametrize("count", ["-1", "x", "1.5", "-9223372036854775808"])
def test_pop_count_must_be_positive(count: str) -> None:
    """LPOP/RPOP counts that are negative or not integers: Redis's 'must be positive'."""
    assert error_of(f"LPOP k {count}") == errors.not_positive()
    assert error_of(f"RPOP k {count} FROM ns") == errors.not_positive()


@pytest.mark.parametrize("option", ["EXAT 0", "PXAT 0", "EXAT -5", "PXAT -1", "EXAT 9223372036854776"])
def test_absolute_deadline_must_be_positive_and_in_range(option: str) -> None:
    """EXAT/PXAT of zero, a negative time or one past int64 milliseconds: invalid expire time."""
    assert error_of(f"SET k v {option}") == errors.invalid_expire_time("set")
    assert error_of(f"GETEX k {option}") == errors.invalid_expire_time("getex")


@pytest.mark.parametrize("option", ["EX 0", "PX -1", f"PX {10 * 365 * 24 * 3600 * 1000 + 1}"])
def test_getex_relative_ttl_bounds(option: str) -> None:
    """GETEX EX/PX follow SET's bounds: positive, at most ten years."""
    assert error_of(f"GETEX k {option}") == errors.invalid_expire_time("getex")


def test_getex_bad_duration() -> None:
    """GETEX TTL takes mi's durations."""
    assert error_of("GETEX k TTL 5y") == errors.invalid_duration(b"5y")


def test_flushns_checks_the_namespace() -> None:
    """FLUSHNS takes a namespace name."""
    assert error_of_args(b"FLUSHNS", b"bad name") == errors.invalid_namespace(b"bad name")


def test_copy_checks_both_namespaces() -> None:
    """COPY's FROM and TO are namespace names."""
    assert error_of_args(b"COPY", b"a", b"b", b"TO", b"x y") == errors.invalid_namespace(b"x y")
    assert error_of_args(b"COPY", b"a", b"b", b"FROM", b"") == errors.invalid_namespace(b"")


# --- HSET and LSET: JSON form or Redis form, told apart by shape ------------------------------


def test_hset_json_object_is_the_json_form() -> None:
    """HSET key {json} stores a whole object, as before."""
    assert parse_args(b"HSET", b"k", b'{"a": 1}', b"TTL", b"1m") == Hset(b"k", {"a": 1}, ttl_ms=60_000)


def test_hset_json_object_after_whitespace_is_the_json_form() -> None:
    """Leading whitespace does not hide the brace."""
    assert parse_args(b"HSET", b"k", b' \n{"a": 1}') == Hset(b"k", {"a": 1})


def test_hset_broken_json_object_keeps_the_json_error() -> None:
    """A token starting with { is JSON: broken JSON is a JSON error, not a field named '{'."""
    error = error_of_args(b"HSET", b"k", b"{oops", b"v")
    assert error.message.startswith("invalid JSON")


def test_hset_field_form_refuses_ttl() -> None:
    """TTL options belong to the JSON form only; in the field form they are fields."""
    assert parse("HSET k f v TTL 1m") == HsetFields(b"k", (("f", "v"), ("TTL", "1m")))
    assert error_of("HSET k f v TTL") == errors.wrong_arity("hset")


def test_hset_field_may_be_named_like_a_brace_elsewhere() -> None:
    """Only the first field decides the shape; later values starting with { are strings."""
    assert parse("HSET k f {x}") == HsetFields(b"k", (("f", "{x}"),))


def test_lset_json_array_is_the_json_form() -> None:
    """LSET key [json] stores a whole array, as before."""
    assert parse_args(b"LSET", b"k", b" [1, 2]", b"FROM", b"ns") == Lset(b"k", [1, 2], ns="ns")


def test_lset_index_form_with_a_bracket_element() -> None:
    """In the index form, an element that starts with [ is just a string."""
    assert parse("LSET k 0 [x]") == LsetIndex(b"k", 0, "[x]")


def test_lset_broken_json_array_keeps_the_json_error() -> None:
    """A token starting with [ is JSON: broken JSON is a JSON error."""
    assert error_of_args(b"LSET", b"k", b"[1,").message.startswith("invalid JSON")


# --- trailing FROM ----------------------------------------------------------------------------


def test_hset_from_as_the_only_pair_is_a_field() -> None:
    """HSET k from x sets the field 'from'."""
    assert parse("HSET k from x") == HsetFields(b"k", (("from", "x"),))


def test_hset_from_after_a_pair_is_another_pair() -> None:
    """HSET k a 1 FROM ns sets the fields a and FROM: values are never read as a namespace."""
    assert parse("HSET k a 1 FROM ns") == HsetFields(b"k", (("a", 1), ("FROM", "ns")))


def test_hset_from_pair_with_any_value_is_a_field() -> None:
    """A value that is no namespace name is just a value after FROM."""
    assert parse_args(b"HSET", b"k", b"a", b"1", b"FROM", b"a b") == HsetFields(
        b"k", (("a", 1), ("FROM", "a b"))
    )


@pytest.mark.parametrize(("line", "expected"), [
    ("HMGET k from ns", Hmget(b"k", ("from", "ns"))),
    ("HMGET k a FROM ns", Hmget(b"k", ("a", "FROM", "ns"))),
    ("HDEL k from ns", Hdel(b"k", ("from", "ns"))),
    ("HDEL k a b from ns", Hdel(b"k", ("a", "b", "from", "ns"))),
    ("HMSET k a 1 from ns", HsetFields(b"k", (("a", 1), ("from", "ns")))),
    ("LPUSH k from ns", Push(b"k", ("from", "ns"))),
    ("LPUSH k go from home", Push(b"k", ("go", "from", "home"))),
    ("RPUSH k a FROM ns", Push(b"k", ("a", "FROM", "ns"), left=False)),
    ("MSET from x", Mset(((b"from", b"x"),))),
    ("MSET a 1 FROM ns", Mset(((b"a", 1), (b"FROM", b"ns")))),
    ("LREM k 0 from", Lrem(b"k", 0, "from")),
    ("LSET k 0 FROM", LsetIndex(b"k", 0, "FROM")),
])  # fmt: skip
def test_values_are_never_a_from_clause(line: str, expected: Command) -> None:
    """In commands whose trailing arguments are values, fields or pairs, FROM is one of them."""
    assert parse(line) == expected


def test_mset_with_from_makes_an_odd_pair_count() -> None:
    """MSET a 1 FROM: FROM is a key without a value, not an unfinished clause."""
    assert error_of("MSET a 1 FROM") == errors.wrong_arity("mset")


@pytest.mark.parametrize(("line", "expected"), [
    ("MGET from ns", Mget((b"from", b"ns"))),
    ("MGET a from ns", Mget((b"a",), ns="ns")),
    ("WATCH from ns", Watch((b"from", b"ns"))),
    ("WATCH a b FROM ns", Watch((b"a", b"b"), ns="ns")),
])  # fmt: skip
def test_keys_take_a_trailing_from_after_a_key(line: str, expected: Command) -> None:
    """Where the trailing arguments are keys, FROM ns at the end is a namespace when a key is
    before it."""
    assert parse(line) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("LREM k 0 x FROM ns", Lrem(b"k", 0, "x", ns="ns")),
    ("LSET k 0 x FROM ns", LsetIndex(b"k", 0, "x", ns="ns")),
    ("HINCRBY k f 1 FROM ns", Hincrby(b"k", "f", 1, ns="ns")),
])  # fmt: skip
def test_fixed_arity_commands_take_from_after_their_arguments(line: str, expected: Command) -> None:
    """After a fixed number of arguments a FROM clause cannot be a value: it is the namespace."""
    assert parse(line) == expected


# --- values: typed like SET's, strings as UTF-8 text ------------------------------------------


def test_quoted_values_stay_strings() -> None:
    """A quoted inline token is a string in hashes, lists and MSET, as in SET."""
    assert parse("HSET k f 42", quoted=(3,)) == HsetFields(b"k", (("f", "42"),))
    assert parse("RPUSH k 1 true 2", quoted=(3, 4)) == Push(b"k", (1, "true", "2"), left=False)
    assert parse("LSET k 0 false", quoted=(3,)) == LsetIndex(b"k", 0, "false")
    assert parse("LREM k 0 7", quoted=(3,)) == Lrem(b"k", 0, "7")
    assert parse("MSET a 1 b 2", quoted=(4,)) == Mset(((b"a", 1), (b"b", b"2")))


def test_quoted_field_name_is_still_a_field_name() -> None:
    """Quoting a field name changes nothing: field names are always text."""
    assert parse("HSET k 42 1", quoted=(2,)) == HsetFields(b"k", (("42", 1),))


def test_non_canonical_integers_stay_strings() -> None:
    """007 or -0 would not round-trip, so they are strings (as SET infers)."""
    assert parse("RPUSH k 007 -0 True") == Push(b"k", ("007", "-0", "True"), left=False)


def test_json_values_are_text() -> None:
    """Strings in hashes and lists are str (JSON text), not bytes."""
    command = parse_args(b"HSET", b"k", "ключ".encode(), "значение".encode())
    assert command == HsetFields(b"k", (("ключ", "значение"),))


@pytest.mark.parametrize("args", [
    (b"HSET", b"k", b"f", b"\xff"),
    (b"RPUSH", b"k", b"\xff"),
    (b"LSET", b"k", b"0", b"\xff"),
    (b"LREM", b"k", b"0", b"\xc3"),
])  # fmt: skip
def test_values_must_be_utf8(args: tuple[bytes, ...]) -> None:
    """Hashes and lists hold JSON text: a value that is not UTF-8 is refused."""
    assert error_of_args(*args) == errors.not_utf8("value")


@pytest.mark.parametrize("args", [
    (b"HSET", b"k", b"\xff", b"v"),
    (b"HGET", b"k", b"\xff"),
    (b"HMGET", b"k", b"a", b"\xff"),
    (b"HDEL", b"k", b"\xff"),
    (b"HEXISTS", b"k", b"\xff"),
    (b"HINCRBY", b"k", b"\xff", b"1"),
])  # fmt: skip
def test_field_names_must_be_utf8(args: tuple[bytes, ...]) -> None:
    """Field names are JSON object keys: not UTF-8 is refused, naming the field."""
    assert error_of_args(*args) == errors.not_utf8("field name")


def test_mset_values_keep_bytes() -> None:
    """MSET values are SET values: strings stay bytes, even if not UTF-8."""
    assert parse_args(b"MSET", b"k", b"\xff") == Mset(((b"k", b"\xff"),))


# --- keys of a command ------------------------------------------------------------------------

KEYS_OF = {
    "Set": ("SET k v", (b"k",)),
    "Hset": ("HSET k {}", (b"k",)),
    "Lset": ("LSET k []", (b"k",)),
    "Get": ("GET k", (b"k",)),
    "Del": ("DEL a b FROM ns", (b"a", b"b")),
    "Exists": ("EXISTS a b a", (b"a", b"b", b"a")),
    "Type": ("TYPE k", (b"k",)),
    "Ttl": ("PTTL k", (b"k",)),
    "Expire": ("EXPIRE k 1", (b"k",)),
    "Persist": ("PERSIST k", (b"k",)),
    "Watch": ("WATCH a b", (b"a", b"b")),
    "Incrby": ("INCR k", (b"k",)),
    "HsetFields": ("HSET k a 1 b 2", (b"k",)),
    "Hget": ("HGET k f", (b"k",)),
    "Hmget": ("HMGET k a b", (b"k",)),
    "Hdel": ("HDEL k a b", (b"k",)),
    "Hexists": ("HEXISTS k f", (b"k",)),
    "Hincrby": ("HINCRBY k f 1", (b"k",)),
    "Hincrbyfloat": ("HINCRBYFLOAT k f 1.5", (b"k",)),
    "Lmpop": ("LMPOP 2 a b RIGHT COUNT 3", (b"a", b"b")),
    "Hread": ("HVALS k", (b"k",)),
    "LsetIndex": ("LSET k 0 x", (b"k",)),
    "Push": ("LPUSH k a b", (b"k",)),
    "Pop": ("RPOP k 2", (b"k",)),
    "Lrange": ("LRANGE k 0 1", (b"k",)),
    "Ltrim": ("LTRIM k 0 1", (b"k",)),
    "Llen": ("LLEN k", (b"k",)),
    "Lindex": ("LINDEX k 0", (b"k",)),
    "Lrem": ("LREM k 0 x", (b"k",)),
    "Lpos": ("LPOS k x", (b"k",)),
    "Linsert": ("LINSERT k AFTER p x", (b"k",)),
    "Lmove": ("LMOVE src dst LEFT RIGHT TO other", (b"src", b"dst")),
    "BlockingPop": ("BLPOP a b 0 FROM ns", (b"a", b"b")),
    "BlockingMove": ("BRPOPLPUSH src dst 0.5", (b"src", b"dst")),
    "Mset": ("MSET a 1 b 2 a 3", (b"a", b"b", b"a")),
    "Mget": ("MGET a b", (b"a", b"b")),
    "Getdel": ("GETDEL k", (b"k",)),
    "Getex": ("GETEX k PERSIST", (b"k",)),
    "Expiretime": ("EXPIRETIME k", (b"k",)),
    "Rename": ("RENAME src dst", (b"src", b"dst")),
    "Copy": ("COPY src dst TO other", (b"src", b"dst")),
    "Setnx": ("SETNX k v", (b"k",)),
    "Msetnx": ("MSETNX a 1 b 2", (b"a", b"b")),
    "Append": ("APPEND k v", (b"k",)),
    "Strlen": ("STRLEN k", (b"k",)),
    "Getrange": ("GETRANGE k 0 1", (b"k",)),
    "Setrange": ("SETRANGE k 0 v", (b"k",)),
    "Incrbyfloat": ("INCRBYFLOAT k 1.5", (b"k",)),
    "Expireat": ("EXPIREAT k 1", (b"k",)),
    "ObjectInfo": ("OBJECT ENCODING k", (b"k",)),
    "Hsetnx": ("HSETNX k f v", (b"k",)),
    "Hstrlen": ("HSTRLEN k f", (b"k",)),
    "Hrandfield": ("HRANDFIELD k 1", (b"k",)),
    "Hscan": ("HSCAN k 0", (b"k",)),
    "MemoryUsage": ("MEMORY USAGE k SAMPLES 5 FROM ns", (b"k",)),
    "Eval": ("EVAL s 2 a b arg", (b"a", b"b")),
    "Evalsha": ("EVALSHA_RO 0123456789012345678901234567890123456789 1 k FROM", (b"k",)),
}

KEYED_CLASSES = sorted(
    (obj for obj in vars(commands).values()
     if isinstance(obj, type) and issubclass(obj, Keyed) and obj is not Keyed),
    key=lambda cls: cls.__name__,
)  # fmt: skip


def test_every_keyed_class_has_a_keys_example() -> None:
    """The table below covers every Keyed class (a new one must be added to it)."""
    assert {cls.__name__ for cls in KEYED_CLASSES} == set(KEYS_OF)


@pytest.mark.parametrize("cls", KEYED_CLASSES, ids=lambda cls: cls.__name__)
def test_keys_of_a_keyed_command(cls: type[Keyed]) -> None:
    """``keys`` lists every key the command touches, in order, as a tuple of bytes."""
    line, expected = KEYS_OF[cls.__name__]
    command = parse(line)
    assert type(command) is cls
    assert command.keys == expected


def test_keys_field_is_an_init_argument_where_declared() -> None:
    """Del, Exists, Watch and Mget take their keys as a field; the base property does not clash."""
    assert Del((b"a",)).keys == (b"a",)
    assert Mget((b"x", b"y")).keys == (b"x", b"y")
    assert Get(b"k").keys == (b"k",)


@pytest.mark.parametrize("line", ["DBSIZE", "SCAN 0", "KEYS *", "FLUSHNS ns", "NAMESPACES", "SELECT ns",
                                  "MULTI", "EXEC", "DISCARD", "UNWATCH", "PING"])  # fmt: skip
def test_namespace_wide_and_control_commands_are_not_keyed(line: str) -> None:
    """Commands without keys of their own do not claim any."""
    assert not isinstance(parse(line), Keyed)
