"""Tests for mi.commands' registry against protocol.commands' declarations: a command is declared
once and handled once."""

from __future__ import annotations

from mi.commands import REGISTRY
from protocol.commands import ALL_DECLARATIONS

DECLARED_FORMS = {form for declaration in ALL_DECLARATIONS.values() for form in declaration.forms}


def test_every_declared_form_has_a_handler() -> None:
    """Whatever the grammar can produce, the server can run."""
    assert DECLARED_FORMS - REGISTRY.commands() == set()


def test_every_handler_handles_a_declared_form() -> None:
    """No handler waits for a form no declaration produces."""
    assert REGISTRY.commands() - DECLARED_FORMS == set()
