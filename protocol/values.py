"""Small parsers that give argument tokens a type: integers, durations, scalars, JSON, namespaces.

Every function takes the raw ``bytes`` a client sent and either returns a Python value or raises a
``CommandError`` built by ``protocol.errors``. Nothing here knows which command is running except
through the ``command`` argument some errors name.
"""

from __future__ import annotations

import json
import math
import re
from itertools import compress
from typing import Any

from protocol import errors

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_JSON_DEPTH",
    "MAX_TTL_MS",
    "SCALAR_KINDS",
    "UINT64_MAX",
    "coerce_scalar",
    "infer_scalar",
    "json_scalar",
    "text",
    "keyword",
    "duration_ms",
    "parse_duration",
    "parse_ttl",
    "parse_int",
    "parse_json_array",
    "parse_json_object",
    "parse_namespace",
    "parse_uint",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

# The longest lifetime a key may be given. mi stores messages that expire; a TTL beyond ten years
# is almost certainly a unit mistake (milliseconds sent as seconds), and a bound keeps every
# deadline (now + ttl) far inside the signed 64-bit millisecond range the storage layer uses.
MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000

# Deepest nesting accepted in HSET/LSET JSON. Encoders and the record codec walk values
# recursively; a bound well under Python's recursion limit means they can never overflow the stack.
MAX_JSON_DEPTH = 128

# The types ``AS`` can force on a SET value.
SCALAR_KINDS = ("STRING", "INT", "BOOL")

# Redis's string2ll: "0", or an optional minus sign and a digit string without a leading zero.
# Exactly these spellings round-trip through int -> str unchanged, so an inferred integer is
# returned by GET byte for byte as it was sent.
_CANONICAL_INT = re.compile(rb"0|-?[1-9][0-9]{0,18}")
_DIGITS = re.compile(rb"[0-9]{1,20}")
# The one way a duration is written, on the wire as in the config file, the environment and
# NAMESPACE CONFIG: an amount (decimals allowed) and an optional unit, bare = seconds.
_DURATION = re.compile(r"([0-9]{1,20}(?:\.[0-9]{1,9})?)(ms|s|m|h|d)?", re.IGNORECASE | re.ASCII)
_NAMESPACE = re.compile(rb"[A-Za-z0-9_.:\-]{1,64}")

MAX_KEYWORD = 64  # longer than any command name, subcommand or option word

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
NOW = "now"  # TTL now: the deadline is this moment (a delivering namespace delivers at once)


def keyword(token: bytes) -> str:
    """A command name, subcommand or option word, lowercased for table lookups.

    Non-ASCII bytes cannot spell a keyword; they decode to replacement characters, so the result
    simply matches nothing. A token longer than any keyword is cut first (one byte over
    ``MAX_KEYWORD``, so it still matches nothing): decoding 30 MiB would stall the server.
    """
    if len(token) > MAX_KEYWORD:
        token = token[: MAX_KEYWORD + 1]
    return token.decode("ascii", "replace").lower()


def parse_int(token: bytes) -> int:
    """A signed 64-bit integer spelled the way Redis accepts it (no sign, spaces or leading 0s)."""
    if _CANONICAL_INT.fullmatch(token) is None:
        raise errors.not_integer()
    value = int(token)
    if not INT64_MIN <= value <= INT64_MAX:
        raise errors.not_integer()
    return value


def parse_uint(token: bytes) -> int | None:
    """An unsigned 64-bit decimal (digits only, leading zeros allowed), or None."""
    if _DIGITS.fullmatch(token) is None:
        return None
    value = int(token)
    return value if value <= UINT64_MAX else None


def duration_ms(text: str) -> float | None:
    """``30`` (seconds), ``500ms``, ``1.5s``, ``15m``, ``2h``, ``7d`` in milliseconds (units in
    any case); None if ``text`` is not a duration. Zero is one: callers bound the amount."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    amount, unit = match.groups()
    scale = _UNIT_MS[(unit or "s").lower()]
    return float(amount) * scale if "." in amount else int(amount) * scale


def _token_duration_ms(token: bytes) -> float | None:
    if len(token) > MAX_KEYWORD:  # longer than any duration: never decode a huge token
        return None
    return duration_ms(token.decode("ascii", "replace"))


def parse_duration(token: bytes) -> int:
    """A TTL, LEASE or DELAY such as ``30``, ``500ms``, ``1.5s``, ``15m``, ``2h``, ``7d`` (bare =
    seconds), in whole milliseconds (rounded): more than 0, at most ten years."""
    ms = _token_duration_ms(token)
    if ms is None or not 0 < round(ms) <= MAX_TTL_MS:
        raise errors.invalid_duration(token)
    return round(ms)


def parse_ttl(token: bytes) -> int:
    """The TTL clause: a duration, or ``now`` for 0: the deadline is this moment, so a
    delivering namespace delivers the message at once and another deletes it. (A zero duration
    stays an error: ``TTL 0`` is more often a bug than a wish.)"""
    if keyword(token) == NOW:
        return 0
    return parse_duration(token)


def infer_scalar(token: bytes, quoted: bool) -> bytes | int | bool:
    """The type a SET value gets without ``AS``: quoted -> string, ``true``/``false``, int, string.

    Only canonical spellings become integers (``007`` or ``-0`` stay strings), so a GET returns
    exactly the bytes that were sent.
    """
    if quoted:
        return token
    if token == b"true":
        return True
    if token == b"false":
        return False
    if _CANONICAL_INT.fullmatch(token) is not None:
        value = int(token)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    return token


def json_scalar(token: bytes, quoted: bool) -> str | int | bool:
    """An element or field value of a list or hash: inferred as SET infers, strings as text."""
    value = infer_scalar(token, quoted)
    return text(value, "value") if isinstance(value, bytes) else value


def text(token: bytes, what: str) -> str:
    """``token`` as UTF-8 text (JSON holds nothing else); ``what`` names it in the error."""
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.not_utf8(what) from None


def coerce_scalar(token: bytes, kind: str) -> bytes | int | bool:
    """The value of ``SET ... AS STRING|INT|BOOL``: the type is forced or the SET is refused."""
    kind = kind.upper()
    if kind == "STRING":
        return token
    if kind == "INT":
        return parse_int(token)
    if kind == "BOOL":
        lowered = token.lower()
        if lowered == b"true":
            return True
        if lowered == b"false":
            return False
        raise errors.not_boolean()
    msg = f"unknown scalar kind {kind!r}: expected one of {SCALAR_KINDS}"
    raise ValueError(msg)


def parse_namespace(token: bytes) -> str:
    """A namespace name: 1-64 characters of ``A-Z a-z 0-9 _ . : -``."""
    if _NAMESPACE.fullmatch(token) is None:
        raise errors.invalid_namespace(token)
    return token.decode("ascii")


def parse_json_object(token: bytes, command: str) -> dict[str, Any]:
    """The JSON object an HSET stores; any other JSON value is refused naming ``command``.

    A token that does not even start like an object (``HSET user name alice``, the Redis
    field-value form) gets the "must be a JSON object" hint rather than a JSON parse error.
    """
    if not _starts_with(token, b"{"):
        raise errors.not_json_object(command)
    value = _parse_json(token)
    if not isinstance(value, dict):
        raise errors.not_json_object(command)
    return value


def parse_json_array(token: bytes, command: str) -> list[Any]:
    """The JSON array an LSET stores; any other JSON value is refused naming ``command``.

    As for objects, a token that does not start with ``[`` gets the hint, not a parse error.
    """
    if not _starts_with(token, b"["):
        raise errors.not_json_array(command)
    value = _parse_json(token)
    if not isinstance(value, list):
        raise errors.not_json_array(command)
    return value


# --- JSON -------------------------------------------------------------------------------------


class _Rejected(ValueError):
    """A JSON value that parses but that mi will not store (NaN, infinities)."""


def _reject_constant(name: str) -> float:
    msg = f"{name} is not allowed"
    raise _Rejected(msg)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"number {text[:32]} is out of range"
        raise _Rejected(msg)
    return value


def _starts_with(token: bytes, opening: bytes) -> bool:
    return token.lstrip(b" \t\r\n").startswith(opening)


def _bounded_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # Python refuses int() of thousands of digits (int_max_str_digits).
        msg = f"integer of {len(text)} digits is too long"
        raise _Rejected(msg) from None


# Per-number callbacks cost a Python call per number (a 16 MiB object took seconds), so the
# text is parsed without them; only a value they would have refused (an integer too long for
# int(), a float overflowed to infinity) is parsed again with them, for the error's text.
_STRICT = {"parse_constant": _reject_constant, "parse_float": _finite_float, "parse_int": _bounded_int}
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # the only way JSON text spells a surrogate
_CONTAINER_TYPES = frozenset({dict, list})
_is_container = _CONTAINER_TYPES.__contains__
_is_float = frozenset({float}).__contains__


def _parse_json(token: bytes) -> Any:
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.invalid_json("not valid UTF-8") from None
    try:
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError:
            raise
        except ValueError:  # int() refused thousands of digits: the strict parse names it
            value = json.loads(text, **_STRICT)
        if not _check_depth(value):  # an infinite float: the strict parse names it
            json.loads(text, **_STRICT)
    except json.JSONDecodeError as exc:
        raise errors.invalid_json(f"{exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise errors.invalid_json(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except _Rejected as exc:
        raise errors.invalid_json(str(exc)) from None
    if _SURROGATE_ESCAPE.search(token):
        _check_strings(value)
    return value


def _check_depth(value: Any) -> bool:
    """Refuse nesting over MAX_JSON_DEPTH, level by level, without recursion; False if a float is
    infinite. Only containers are visited: their children are sorted by type in C (``compress``),
    not one by one in Python."""
    level = [value] if type(value) in _CONTAINER_TYPES else []
    depth = 1
    finite = not (type(value) is float and not math.isfinite(value))
    while level:
        if depth > MAX_JSON_DEPTH:
            raise errors.invalid_json(f"nested deeper than {MAX_JSON_DEPTH} levels")
        inner: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            types = list(map(type, children))
            inner.extend(compress(children, map(_is_container, types)))
            if float in types and not all(map(math.isfinite, compress(children, map(_is_float, types)))):
                finite = False
        level = inner
        depth += 1
    return finite


def _check_strings(value: Any) -> None:
    """Refuse strings that cannot be encoded back to UTF-8: ``json.loads`` accepts
    ``"\\ud800"`` (a lone surrogate), which no encoder can write out later. (Called only when the
    text has such an escape; the nesting is already bounded.)"""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            for key in node:
                _check_text(key)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.invalid_json("string contains a lone UTF-16 surrogate") from None
