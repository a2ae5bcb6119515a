"""Namespace names as the grammar reads them: a name, or a Redis database number.

Redis clients number their databases (``SELECT 3``, ``redis-cli -n 3``, redis-py ``db=3``); mi
names its namespaces instead. A name made only of digits is read as such a number: ``0`` is the
``default`` namespace (where every connection starts, as Redis's database 0 is), and ``n`` is the
namespace ``db<n>``. Every place that names a namespace (SELECT, FROM, TO, ACK, FLUSHNS,
NAMESPACE ...) reads it here, so ``SELECT 3`` and ``GET k FROM 3`` mean the same namespace.
"""

from __future__ import annotations

from protocol import errors
from protocol.values import parse_namespace

__all__ = ["DEFAULT_NAMESPACE", "MAX_DATABASE", "database_number", "namespace"]

DEFAULT_NAMESPACE = "default"
"""The namespace a connection starts in (mi.core.session starts there)."""

MAX_DATABASE = 2**31 - 1  # Redis reads a database index as a C int


def namespace(token: bytes) -> str:
    """The namespace ``token`` names: ``0`` -> ``default``, ``7`` (or ``007``) -> ``db7``, a name
    -> itself (1-64 characters of ``A-Z a-z 0-9 _ . : -``)."""
    if not token.isdigit():
        return parse_namespace(token)
    number = int(token) if len(token) <= 10 else MAX_DATABASE + 1
    if number > MAX_DATABASE:
        raise errors.database_out_of_range()
    return f"db{number}" if number else DEFAULT_NAMESPACE


def database_number(ns: str) -> int | None:
    """The Redis database number of a namespace that has one (``default`` 0, ``db7`` 7), else None:
    the inverse of ``namespace`` for numbers (``db0`` and ``db07`` are names: ``SELECT`` never
    reaches them)."""
    if ns == DEFAULT_NAMESPACE:
        return 0
    digits = ns.removeprefix("db")
    if digits == ns or not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        return None
    return int(digits) if int(digits) <= MAX_DATABASE else None
