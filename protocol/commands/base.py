"""What every typed command shares: the base classes, and the equality of the values they carry."""

from __future__ import annotations

import json
from typing import ClassVar

from attrs import frozen

__all__ = ["Command", "JsonScalar", "Keyed", "as_json", "typed"]

JsonScalar = str | int | bool
"""A field value or list element: typed as SET types its value."""


def typed(value: object) -> tuple[type, object]:
    # attrs compares fields with ==, and True == 1 in Python; a stored boolean and a stored
    # integer are different values, so compare the type too.
    return (type(value), value)


def as_json(value: object) -> str:
    # Same reason as typed(), for nested values ({"a": true} != {"a": 1}); also makes them hashable.
    return json.dumps(value, sort_keys=True, default=repr)


@frozen
class Command:
    """Base of every command; ``name`` is the lowercase name users type (``client|id`` for
    subcommands, as Redis names them in errors and statistics)."""

    name: ClassVar[str]


@frozen
class Keyed(Command):
    """A command on keys; ``keys`` are all the keys it touches, in order (its shards follow)."""

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.key,)  # type: ignore[attr-defined] - single-key commands; others override
