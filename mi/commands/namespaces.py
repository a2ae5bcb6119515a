"""Namespaces as a connection sees them: SELECT, NAMESPACES, and FLUSHNS to empty one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mi.commands.base import REGISTRY
from mi.keyspace import Keyspace
from protocol.commands import Flushns, Namespaces, Select
from protocol.replies import SimpleString

if TYPE_CHECKING:
    from mi.session import Session


@REGISTRY.connection(Select)
def select(session: Session, command: Select) -> SimpleString:
    session.current_namespace = command.ns
    return SimpleString("OK")


@REGISTRY.connection(Namespaces)
def namespaces(session: Session, command: Namespaces) -> list[str]:
    """Namespaces that hold or held data (one is created by its first write)."""
    return session.server.store.namespaces()


@REGISTRY.write(Flushns)
def flushns(keyspace: Keyspace, command: Flushns) -> SimpleString:
    """Every key of the namespace goes, on every shard at once (one transaction)."""
    keyspace.drop(command.ns)
    return SimpleString("OK")
