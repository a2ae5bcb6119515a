"""Counters: INCR, DECR, INCRBY, DECRBY on integer values (a missing key counts as 0)."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Keyed
from protocol.commands.declaration import KEY_ONE, declare
from protocol.commands.options import from_only
from protocol.request import Request
from protocol.values import INT64_MIN, parse_int

__all__ = ["Incrby"]


@frozen
class Incrby(Keyed):
    """``INCR``/``DECR``/``INCRBY``/``DECRBY key [n] [FROM ns]``: add ``amount`` to an integer."""

    name: ClassVar[str] = "incrby"
    key: bytes
    amount: int
    ns: str | None = None


_FLAGS = ("write", "denyoom", "fast")


@declare("incr", -2, _FLAGS, KEY_ONE, "string",
         "Adds one to an integer value (a missing key counts as 0), keeping its TTL.",
         "INCR key [FROM ns]",
         forms=(Incrby,))  # fmt: skip
@declare("decr", -2, _FLAGS, KEY_ONE, "string",
         "Subtracts one from an integer value (a missing key counts as 0), keeping its TTL.",
         "DECR key [FROM ns]",
         forms=(Incrby,))  # fmt: skip
def _incr(name: str, request: Request) -> Incrby:
    args = request.args
    return Incrby(args[1], 1 if name == "incr" else -1, ns=from_only(args[2:]))


@declare("incrby", -3, _FLAGS, KEY_ONE, "string",
         "Adds an amount to an integer value (a missing key counts as 0), keeping its TTL.",
         "INCRBY key increment [FROM ns]",
         forms=(Incrby,))  # fmt: skip
@declare("decrby", -3, _FLAGS, KEY_ONE, "string",
         "Subtracts an amount from an integer value (a missing key counts as 0), keeping its TTL.",
         "DECRBY key decrement [FROM ns]",
         forms=(Incrby,))  # fmt: skip
def _incrby(name: str, request: Request) -> Incrby:
    args = request.args
    amount = parse_int(args[2])
    ns = from_only(args[3:])
    if name == "decrby":
        if amount == INT64_MIN:
            raise errors.decrement_overflow()
        amount = -amount
    return Incrby(args[1], amount, ns=ns)
