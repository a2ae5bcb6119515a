"""Tests for protocol.commands.declaration (one declaration a command) and protocol.grammar's
dispatch table (``declaration_of``)."""

from __future__ import annotations

import pytest

from protocol.commands import ALL_DECLARATIONS, DECLARATIONS, Ping, declaration
from protocol.commands.declaration import NO_KEYS, Declaration, declare, declare_container, every_declaration
from protocol.grammar import declaration_of
from protocol.request import Request


def _ping(name: str, request: Request) -> Ping:
    return Ping()


def _declare(name: str) -> None:
    declare(name, 1, (), NO_KEYS, "server", "X.", name.upper(), forms=(Ping,))(_ping)


@pytest.mark.parametrize(("arity", "argc", "ok"), [(2, 2, True), (2, 3, False), (2, 1, False),
                                                   (-2, 2, True), (-2, 9, True), (-2, 1, False)])  # fmt: skip
def test_accepts_follows_redis_arity(arity: int, argc: int, ok: bool) -> None:
    """Positive arity is exact, negative is a minimum."""
    declared = Declaration("x", arity, (), 0, 0, 0, "server", "X.", "X", (Ping,), _ping)
    assert declared.accepts(argc) is ok


@pytest.mark.parametrize("name", ["get", "client|setname"])
def test_a_name_declared_twice_is_an_error(name: str) -> None:
    """Declaring an existing command or subcommand again raises, and changes nothing."""
    before = DECLARATIONS[name.partition("|")[0]]
    with pytest.raises(ValueError, match="declared twice"):
        _declare(name)
    assert DECLARATIONS[name.partition("|")[0]] is before


def test_a_container_needs_its_subcommands_declared_first() -> None:
    """A container with no subcommand declared before it raises."""
    with pytest.raises(ValueError, match="no subcommands"):
        declare_container("nosuch", (), "server", "X.", "NOSUCH subcommand")
    assert "nosuch" not in DECLARATIONS


def test_a_subcommand_without_its_container_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A subcommand whose container was never declared could not be typed: listing raises."""
    orphan = Declaration("nosuch|x", 2, (), 0, 0, 0, "server", "X.", "NOSUCH X", (Ping,), _ping)
    monkeypatch.setitem(declaration._WAITING, "nosuch|x", orphan)
    with pytest.raises(ValueError, match="nosuch|x"):
        list(every_declaration())


def test_every_declaration_lists_subcommands_after_their_container() -> None:
    """ALL_DECLARATIONS holds the top-level commands and every container|sub."""
    assert set(DECLARATIONS) < set(ALL_DECLARATIONS)
    assert {"client|setname", "command|getkeys", "slowlog|reset"} <= set(ALL_DECLARATIONS)


@pytest.mark.parametrize("raw", [b"get", b"GET", b"Get", b"gET"])
def test_declaration_of_any_spelling(raw: bytes) -> None:
    """The name finds its declaration whatever its case."""
    assert declaration_of(raw) is DECLARATIONS["get"]


@pytest.mark.parametrize("raw", [b"", b"nosuch", b"client|id", b"g\xc3\xa9t", b"x" * 100_000])
def test_declaration_of_an_unknown_name_is_none(raw: bytes) -> None:
    """Unknown names, subcommand full names and non-ASCII bytes find nothing."""
    assert declaration_of(raw) is None


def test_declaration_of_knows_every_command() -> None:
    """Each top-level command is found by its lower- and upper-case names."""
    for name, declared in DECLARATIONS.items():
        assert declaration_of(name.encode()) is declared is declaration_of(name.upper().encode())
