"""protocol.display: arguments shown cut (before decoding) and secrets hidden."""

from __future__ import annotations

import pytest

from protocol.display import HIDDEN, redacted, shown


def test_a_short_argument_is_shown_whole() -> None:
    """Up to the limit nothing is cut or marked."""
    assert shown(b"hello") == "hello"


def test_a_long_argument_is_cut_to_the_limit() -> None:
    """An error quotes the first 128 characters, as Redis does."""
    assert shown(b"x" * 1000) == "x" * 128


def test_a_counted_cut_says_how_much_is_left() -> None:
    """MONITOR and logs say how many bytes were left out."""
    assert shown(b"x" * 1000, 10, counted=True) == "xxxxxxxxxx... (990 more bytes)"


def test_binary_bytes_are_escaped_and_the_cut_bounds_the_text() -> None:
    """Undecodable bytes show as \\xNN; an error's quote stays within the limit."""
    assert shown(b"\xff\xfe") == "\\xff\\xfe"
    assert len(shown(b"\xff" * (8 * 1024 * 1024))) == 128


def test_a_character_cut_in_two_is_escaped_not_refused() -> None:
    """A cut through a multi-byte UTF-8 character shows its first bytes escaped."""
    assert shown("é".encode() * 2, 3, counted=True) == "é\\xc3... (1 more bytes)"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((b"AUTH", b"pw"), (b"AUTH", HIDDEN)),
        ((b"auth", b"alice", b"pw"), (b"auth", HIDDEN, HIDDEN)),
        ((b"HELLO", b"3", b"AUTH", b"alice", b"pw", b"SETNAME", b"w"), (b"HELLO", b"3", b"AUTH", HIDDEN, HIDDEN, b"SETNAME", b"w")),
        ((b"NAMESPACE", b"CONFIG", b"ns", b"SET", b"webhook", b"https://t:k@h/"), (b"NAMESPACE", b"CONFIG", b"ns", b"SET", b"webhook", HIDDEN)),
    ],
    ids=["auth", "auth-user", "hello-auth", "webhook"],
)
def test_secrets_are_hidden(args: tuple[bytes, ...], expected: tuple[bytes, ...]) -> None:
    """Passwords (and a webhook URL, which may carry a token) are never shown."""
    assert redacted(args) == expected


@pytest.mark.parametrize("args", [(), (b"SET", b"auth", b"v"), (b"HELLO", b"3"), (b"GET", b"k")])
def test_anything_else_is_left_as_it_is(args: tuple[bytes, ...]) -> None:
    """No secret: the same arguments."""
    assert redacted(args) is args
