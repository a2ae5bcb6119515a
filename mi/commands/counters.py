"""Counters: INCR, DECR, INCRBY, DECRBY on integer messages."""

from __future__ import annotations

from mi.commands.base import REGISTRY
from mi.core.keyspace import Keyspace
from protocol import errors
from protocol.commands import Incrby
from protocol.values import INT64_MAX, INT64_MIN
from storage import Kind


@REGISTRY.write(Incrby)
def incrby(keyspace: Keyspace, command: Incrby) -> int:
    """The new value; a missing key counts as 0, and the key keeps its TTL."""
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    current, expires_at = 0, 0
    if record is not None:
        if record.kind is Kind.INTEGER:
            current = record.value
        elif record.kind is Kind.STRING:  # e.g. SET ... AS STRING: counts if written as an integer
            current = _integer_string(record.value)
        elif record.kind is Kind.BOOLEAN:
            raise errors.not_integer()
        else:  # a JSON object or list is another type altogether
            raise errors.wrong_type()
        expires_at = record.expires_at
    result = current + command.amount
    if not INT64_MIN <= result <= INT64_MAX:
        raise errors.increment_overflow()
    keyspace.put(ns, key, result, expires_at)
    return result


def _integer_string(value: bytes) -> int:
    try:
        number = int(value)
    except ValueError:
        raise errors.not_integer() from None
    if str(number).encode() != value:  # " 1", "+1", "01": not the way an integer is written
        raise errors.not_integer()
    return number
