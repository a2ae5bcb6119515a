"""Counters: INCR, DECR, INCRBY, DECRBY on integer values, INCRBYFLOAT on numbers (a missing key
counts as 0)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Keyed
from protocol.commands.declaration import KEY_ONE, declare
from protocol.commands.options import from_only
from protocol.request import Request
from protocol.values import INT64_MIN, parse_int

__all__ = ["Incrby", "Incrbyfloat", "parse_float"]


@frozen
class Incrby(Keyed):
    """``INCR``/``DECR``/``INCRBY``/``DECRBY key [n] [FROM ns]``: add ``amount`` to an integer."""

    name: ClassVar[str] = "incrby"
    key: bytes
    amount: int
    ns: str | None = None


@frozen
class Incrbyfloat(Keyed):
    """``INCRBYFLOAT key increment [FROM ns]``: add a decimal amount to a number."""

    name: ClassVar[str] = "incrbyfloat"
    key: bytes
    amount: Decimal
    ns: str | None = None


_FLAGS = ("write", "denyoom", "fast")
# What Redis's strtold-based parser takes: a decimal with an optional exponent, or inf; no spaces,
# no underscores, no hex (Decimal alone would take " 1", "1_0" and "nan").
_FLOAT = re.compile(rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)", re.IGNORECASE)
_MAX_EXPONENT = 4932  # a long double's range, as Redis has it: beyond it strtold overflows


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


def parse_float(token: bytes) -> Decimal:
    """A number as INCRBYFLOAT reads one (its argument or the stored string), exactly."""
    if len(token) > 5120 or _FLOAT.fullmatch(token) is None:  # 5120: Redis's MAX_LONG_DOUBLE_CHARS
        raise errors.not_float()
    number = Decimal(token.decode("ascii"))
    if number.is_finite() and number and abs(number.adjusted()) > _MAX_EXPONENT:
        raise errors.not_float()
    return number


@declare("incrbyfloat", -3, _FLAGS, KEY_ONE, "string",
         "Adds a decimal amount to a number (a missing key counts as 0), keeping its TTL.",
         "INCRBYFLOAT key increment [FROM ns]",
         forms=(Incrbyfloat,))  # fmt: skip
def _incrbyfloat(name: str, request: Request) -> Incrbyfloat:
    args = request.args
    amount = parse_float(args[2])
    return Incrbyfloat(args[1], amount, ns=from_only(args[3:]))
