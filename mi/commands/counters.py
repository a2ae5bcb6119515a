"""Counters: INCR, DECR, INCRBY, DECRBY on integer messages; INCRBYFLOAT on numbers."""

from __future__ import annotations

from decimal import Context, Decimal

from mi.commands.base import REGISTRY
from mi.core.keyspace import Keyspace
from protocol.event_classes import STRING
from protocol import errors
from protocol.commands import Incrby, Incrbyfloat
from protocol.commands.counters import parse_float
from protocol.values import INT64_MAX, INT64_MIN, infer_scalar
from storage import Kind

# Redis adds in a long double (about 19 significant digits) and prints 17 decimals with the
# trailing zeros cut: 10.5 + 0.1 is "10.6", 0.1 + 0.2 is "0.3", 5.0e3 + 200 is "5200".
_ADDITION = Context(prec=19)
_PRINTING = Context(prec=_ADDITION.prec + 4933 + 17)  # room for every digit a quantize keeps
_DECIMALS = Decimal(1).scaleb(-17)


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
    keyspace.notify(STRING, b"incrby", ns, key)  # INCR, DECR and DECRBY too, as in Redis
    return result


def _integer_string(value: bytes) -> int:
    try:
        number = int(value)
    except ValueError:
        raise errors.not_integer() from None
    if str(number).encode() != value:  # " 1", "+1", "01": not the way an integer is written
        raise errors.not_integer()
    return number


@REGISTRY.write(Incrbyfloat)
def incrbyfloat(keyspace: Keyspace, command: Incrbyfloat) -> bytes:
    """The new value as text (a bulk string, as Redis answers). It is stored as SET would store
    that text: an integer when it is one ("5200"), else a string ("10.6"); the TTL stays."""
    ns, key = keyspace.ns(command.ns), command.key
    record = keyspace.get(ns, key)
    current, expires_at = Decimal(0), 0
    if record is not None:
        if record.kind is Kind.INTEGER:
            current = Decimal(record.value)
        elif record.kind is Kind.STRING:
            current = parse_float(record.value)
        elif record.kind is Kind.BOOLEAN:
            raise errors.not_float()
        else:
            raise errors.wrong_type()
        expires_at = record.expires_at
    text = float_sum(current, command.amount)
    keyspace.put(ns, key, infer_scalar(text, False), expires_at)
    keyspace.notify(STRING, b"incrbyfloat", ns, key)
    return text


def float_sum(current: Decimal, amount: Decimal) -> bytes:
    """``current + amount`` as INCRBYFLOAT and HINCRBYFLOAT answer it; Redis's error if it is no
    finite number."""
    result = _ADDITION.add(current, amount)
    if not result.is_finite():
        raise errors.float_result_not_finite()
    return _float_text(result)


def _float_text(number: Decimal) -> bytes:
    """Positional, at most 17 decimals, no trailing zeros (Redis's "human" long double form)."""
    shown = format(number.quantize(_DECIMALS, context=_PRINTING), "f")
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return b"0" if shown == "-0" else shown.encode()
