"""Passwords, users, permissions and protected mode, without a server."""

from __future__ import annotations

import pytest

from mi.auth import FULL_ACCESS, ProtectedModeError, User, check_listening, check_password, denied, hash_password
from mi.config import AuthConfig, UserConfig
from protocol.grammar import parse_command
from protocol.request import Request


def command(*args: str):
    return parse_command(Request(tuple(a.encode() for a in args)))


def test_a_password_hash_is_salted_and_checks_only_the_right_password():
    line = hash_password("pw")
    assert line.startswith("scrypt$") and line != hash_password("pw")
    assert check_password(b"pw", line)
    assert not check_password(b"pW", line)
    assert not check_password(b"pw", "scrypt$garbage")
    assert not check_password(b"pw", "md5$1$2$3$4$5")


@pytest.mark.parametrize(
    ("host", "auth", "allowed"),
    [
        ("127.0.0.1", AuthConfig(), True),
        ("::1", AuthConfig(), True),
        ("localhost", AuthConfig(), True),
        ("0.0.0.0", AuthConfig(), False),
        ("10.1.2.3", AuthConfig(), False),
        ("0.0.0.0", AuthConfig(requirepass="pw"), True),
        ("0.0.0.0", AuthConfig(users={"a": UserConfig(password=hash_password("x"))}), True),
        ("0.0.0.0", AuthConfig(unprotected=True), True),
    ],
)
def test_protected_mode(host, auth, allowed):
    if allowed:
        check_listening(host, auth)
    else:
        with pytest.raises(ProtectedModeError, match="--unprotected"):
            check_listening(host, auth)


def test_permissions_by_namespace_and_admin_flag():
    reader = User("r", read=(b"orders*",), write=())
    assert denied(reader, command("GET", "k", "FROM", "orders:eu"), "default") is None
    assert denied(reader, command("SET", "k", "v", "FROM", "orders:eu"), "default").prefix == "NOPERM"
    assert denied(reader, command("DBSIZE"), "orders") is None
    assert denied(reader, command("TAKE", "FROM", "orders"), "x").prefix == "NOPERM", "TAKE writes"
    assert denied(reader, command("JOURNAL", "0"), "orders").prefix == "NOPERM"
    assert denied(reader, command("PING"), "elsewhere") is None
    assert denied(FULL_ACCESS, command("SNAPSHOT"), "x") is None
