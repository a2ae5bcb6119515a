"""Namespace names as the grammar reads them: names, and Redis database numbers (SELECT 0, FROM 3)."""

from __future__ import annotations

import pytest

from grammar_helpers import error_of, parse
from protocol import errors
from protocol.commands import Copy, Flushns, Get, Select
from protocol.grammar_names import namespace


@pytest.mark.parametrize(("token", "name"), [
    (b"0", "default"),
    (b"00", "default"),
    (b"1", "db1"),
    (b"3", "db3"),
    (b"007", "db7"),
    (b"2147483647", "db2147483647"),
    (b"orders", "orders"),
    (b"db3", "db3"),
    (b"-1", "-1"),
    (b"3a", "3a"),
])  # fmt: skip
def test_a_name_of_digits_is_a_database_number(token: bytes, name: str) -> None:
    """0 is the default namespace, n is dbn; anything else is a name."""
    assert namespace(token) == name


@pytest.mark.parametrize("token", [b"2147483648", b"9" * 30, b"0" * 11 + b"1"])
def test_a_database_number_past_a_c_int_is_out_of_range(token: bytes) -> None:
    """Past what Redis would read as a database index: Redis's own error."""
    with pytest.raises(errors.CommandError) as info:
        namespace(token)
    assert info.value == errors.database_out_of_range()


def test_select_0_is_the_default_namespace() -> None:
    """SELECT 0, as redis-py db=0 means it, leaves a connection where it started."""
    assert parse("SELECT 0") == Select("default")


def test_select_n_is_the_db_n_namespace() -> None:
    """SELECT 3 (redis-cli -n 3, redis-py db=3) selects namespace db3."""
    assert parse("SELECT 3") == Select("db3")


def test_select_out_of_range() -> None:
    """A number past a C int answers Redis's text."""
    assert str(error_of("SELECT 99999999999")) == "ERR DB index is out of range"


def test_select_keeps_names() -> None:
    """A namespace name is selected as typed."""
    assert parse("SELECT orders") == Select("orders")


def test_from_reads_numbers_as_select_does() -> None:
    """FROM 0 and FROM 3 name the namespaces SELECT 0 and SELECT 3 select."""
    assert parse("GET k FROM 0") == Get(b"k", ns="default")
    assert parse("GET k FROM 3") == Get(b"k", ns="db3")


def test_every_namespace_argument_reads_numbers_alike() -> None:
    """COPY's TO and FLUSHNS read a number the same way."""
    assert parse("COPY a b FROM 0 TO 2") == Copy(b"a", b"b", ns="default", destination_ns="db2")
    assert parse("FLUSHNS 5") == Flushns("db5")
