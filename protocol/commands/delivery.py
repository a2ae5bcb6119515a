"""Delivery from a delivering namespace: TAKE due messages, ACK or NACK each delivery."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.commands.declaration import NO_KEYS, declare
from protocol.commands.options import TAKE_OPTIONS, int_of, ns_of, options
from protocol.errors import CommandError
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import parse_uint

__all__ = ["MAX_TAKE_COUNT", "Ack", "DeliveryId", "Nack", "Take"]

DeliveryId = tuple[int, int]  # (shard, id within the shard), written "3-1042"

MAX_TAKE_COUNT = 10_000  # messages one TAKE may hand out


@frozen
class Take(Command):
    """``TAKE [FROM ns] [COUNT n] [BLOCK ms] [LEASE d]``: due messages, each leased to this consumer."""

    name: ClassVar[str] = "take"
    ns: str | None = None
    count: int = 1
    block_ms: int | None = None  # None: answer at once; 0: wait as long as it takes
    lease_ms: int | None = None  # None: the namespace's lease


@frozen
class Ack(Command):
    """``ACK ns id [id ...]``: these deliveries are done with; the messages go."""

    name: ClassVar[str] = "ack"
    ns: str
    ids: tuple[DeliveryId, ...]


@frozen
class Nack(Command):
    """``NACK ns id [DELAY d]``: hand a delivery back, due again now (or after the delay)."""

    name: ClassVar[str] = "nack"
    ns: str
    id: DeliveryId
    delay_ms: int | None = None


def _delivery_id(token: bytes) -> DeliveryId:
    shard, _, number = token.partition(b"-")
    parsed = parse_uint(shard), parse_uint(number)
    if None in parsed:
        raise errors.invalid_delivery_id(token)
    return parsed  # type: ignore[return-value]


@declare("take", -1, ("write", "fast"), NO_KEYS, "generic",
         "Takes due messages of a delivering namespace, each leased until ACK, NACK or the lease ends.",
         "TAKE [FROM ns] [COUNT n] [BLOCK ms] [LEASE duration]",
         forms=(Take,))  # fmt: skip
def _take(name: str, request: Request) -> Take:
    found = options(name, request.args[1:], TAKE_OPTIONS)
    count = int_of(found, "count") or 1
    if count > MAX_TAKE_COUNT:
        raise CommandError("ERR", f"TAKE COUNT is at most {MAX_TAKE_COUNT}")
    return Take(ns_of(found), count, int_of(found, "block"), int_of(found, "lease"))


@declare("ack", -3, ("write", "fast"), NO_KEYS, "generic",
         "Acknowledges deliveries: their messages are removed.",
         "ACK ns id [id ...]",
         forms=(Ack,))  # fmt: skip
def _ack(name: str, request: Request) -> Ack:
    args = request.args
    return Ack(namespace(args[1]), tuple(_delivery_id(token) for token in args[2:]))


@declare("nack", -3, ("write", "fast"), NO_KEYS, "generic",
         "Hands a delivery back: due again now, or after DELAY.",
         "NACK ns id [DELAY duration]",
         forms=(Nack,))  # fmt: skip
def _nack(name: str, request: Request) -> Nack:
    args = request.args
    found = options(name, args[3:], frozenset({"delay"}))
    return Nack(namespace(args[1]), _delivery_id(args[2]), int_of(found, "delay"))
