"""Tests for protocol.errors: the exact texts of errors the server sends (part of the wire
contract: clients map the prefix, and often the message, to exceptions)."""

from __future__ import annotations

import pytest

from protocol import errors
from protocol.errors import CommandError

TEXTS = [
    (errors.nested_multi(), "ERR MULTI calls can not be nested"),
    (errors.exec_without_multi(), "ERR EXEC without MULTI"),
    (errors.discard_without_multi(), "ERR DISCARD without MULTI"),
    (errors.watch_inside_multi(), "ERR WATCH inside MULTI is not allowed"),
    (errors.exec_aborted(), "EXECABORT Transaction discarded because of previous errors."),
    (errors.too_many_queued(1000), "ERR too many commands queued in MULTI (max_queued_commands is 1000)"),
    (errors.not_in_transaction("select"), "ERR SELECT is not allowed inside MULTI"),
    (errors.wrong_type(), "WRONGTYPE Operation against a key holding the wrong kind of value"),
    (errors.no_such_key(), "ERR no such key"),
    (errors.index_out_of_range(), "ERR index out of range"),
    (errors.increment_overflow(), "ERR increment or decrement would overflow"),
    (errors.decrement_overflow(), "ERR decrement would overflow"),
    (errors.hash_value_not_integer(), "ERR hash value is not an integer"),
    (errors.not_positive(), "ERR value is out of range, must be positive"),
]


@pytest.mark.parametrize(("error", "text"), TEXTS, ids=[text for _, text in TEXTS])
def test_error_text(error: CommandError, text: str) -> None:
    """Each factory gives Redis's prefix and message."""
    assert str(error) == text
    assert f"{error.prefix} {error.message}" == text


def test_transaction_failed_keeps_the_prefix_and_names_the_command() -> None:
    """EXEC's rollback error keeps the failing command's prefix and says which one failed."""
    error = errors.transaction_failed(2, 3, "incr", errors.not_integer())
    assert error == CommandError(
        "ERR",
        "EXEC rolled back, nothing applied: command 2 of 3 (INCR) failed: "
        "value is not an integer or out of range",
    )
    wrong = errors.transaction_failed(1, 1, "hget", errors.wrong_type())
    assert wrong.prefix == "WRONGTYPE"


def test_not_utf8_names_what_was_refused() -> None:
    """The UTF-8 error says which token (value or field name) was not text."""
    assert errors.not_utf8("field name").message.startswith("field name is not valid UTF-8")
