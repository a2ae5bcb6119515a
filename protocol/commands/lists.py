"""Lists, which are mi's JSON arrays: LSET, LPUSH, RPUSH, LPOP, RPOP, LRANGE, LTRIM, LLEN, LINDEX, LREM,
LPOS, LINSERT, LMOVE, RPOPLPUSH and the blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH.

Elements are typed as SET types its value (``json_scalar``). LPUSH and RPUSH take no ``FROM``
(``RPUSH k go from home`` pushes three words); the others take ``FROM ns`` after their fixed
arguments. ``LSET key [json]`` is the whole-message form (``protocol.commands.strings``). LMOVE
and its kin take ``[FROM ns] [TO ns]`` as COPY does; BLPOP and BRPOP a final ``FROM ns`` after their
keys and timeout.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import JsonScalar, Keyed, as_json, typed
from protocol.commands.declaration import KEY_ONE, NO_KEYS, declare
from protocol.commands.options import TTL_SYNTAX, from_only
from protocol.commands.strings import Lset, json_lset, wants_json
from protocol.errors import CommandError
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import INT64_MAX, json_scalar, keyword, parse_int

__all__ = [
    "BlockingMove",
    "BlockingPop",
    "Lindex",
    "Linsert",
    "Llen",
    "Lmove",
    "Lmpop",
    "Lpos",
    "Lrange",
    "Lrem",
    "LsetIndex",
    "Ltrim",
    "Pop",
    "Push",
]


@frozen
class LsetIndex(Keyed):
    """``LSET key index element [FROM ns]``: replace one element (the Redis form)."""

    name: ClassVar[str] = "lset"
    key: bytes
    index: int
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


@frozen
class Push(Keyed):
    """``LPUSH``/``RPUSH``/``LPUSHX``/``RPUSHX key element [element ...]`` (no FROM: elements are values)."""

    name: ClassVar[str] = "lpush"
    key: bytes
    elements: tuple[JsonScalar, ...] = field(eq=as_json)
    left: bool = True
    ns: str | None = None
    only_existing: bool = False  # LPUSHX, RPUSHX: a missing list stays missing


@frozen
class Pop(Keyed):
    """``LPOP``/``RPOP key [count] [FROM ns]``; ``count`` None pops one (a single reply)."""

    name: ClassVar[str] = "lpop"
    key: bytes
    count: int | None = None
    left: bool = True
    ns: str | None = None


@frozen
class Lrange(Keyed):
    """``LRANGE key start stop [FROM ns]``."""

    name: ClassVar[str] = "lrange"
    key: bytes
    start: int
    stop: int
    ns: str | None = None


@frozen
class Ltrim(Keyed):
    """``LTRIM key start stop [FROM ns]``."""

    name: ClassVar[str] = "ltrim"
    key: bytes
    start: int
    stop: int
    ns: str | None = None


@frozen
class Llen(Keyed):
    """``LLEN key [FROM ns]``."""

    name: ClassVar[str] = "llen"
    key: bytes
    ns: str | None = None


@frozen
class Lindex(Keyed):
    """``LINDEX key index [FROM ns]``."""

    name: ClassVar[str] = "lindex"
    key: bytes
    index: int
    ns: str | None = None


@frozen
class Lrem(Keyed):
    """``LREM key count element [FROM ns]``."""

    name: ClassVar[str] = "lrem"
    key: bytes
    count: int
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


@declare("lset", -3, ("write", "denyoom"), KEY_ONE, "list",
         "Sets a key to a JSON array (with an optional time to live), or one element of it.",
         f"LSET key json-array [FROM ns] {TTL_SYNTAX}] | LSET key index element [FROM ns]",
         forms=(Lset, LsetIndex))  # fmt: skip
def _lset(name: str, request: Request) -> Lset | LsetIndex:
    args = request.args
    index_form_fits = len(args) == 4 or (len(args) == 6 and keyword(args[4]) == "from")
    if wants_json(name, args, b"[", redis_form_fits=index_form_fits):
        return json_lset(name, request)
    if len(args) not in (4, 6):
        raise errors.wrong_arity(name)
    return LsetIndex(
        args[1], parse_int(args[2]), json_scalar(args[3], 3 in request.quoted), ns=from_only(args[4:])
    )


@declare("lpush", -3, ("write", "denyoom", "fast"), KEY_ONE, "list",
         "Prepends elements to a list, creating it if missing.",
         "LPUSH key element [element ...]",
         forms=(Push,))  # fmt: skip
@declare("rpush", -3, ("write", "denyoom", "fast"), KEY_ONE, "list",
         "Appends elements to a list, creating it if missing.",
         "RPUSH key element [element ...]",
         forms=(Push,))  # fmt: skip
@declare("lpushx", -3, ("write", "denyoom", "fast"), KEY_ONE, "list",
         "Prepends elements to a list only if it exists.",
         "LPUSHX key element [element ...]",
         forms=(Push,))  # fmt: skip
@declare("rpushx", -3, ("write", "denyoom", "fast"), KEY_ONE, "list",
         "Appends elements to a list only if it exists.",
         "RPUSHX key element [element ...]",
         forms=(Push,))  # fmt: skip
def _push(name: str, request: Request) -> Push:
    """``LPUSH``/``RPUSH key element [element ...]``: every argument after the key is an element."""
    args = request.args
    elements = tuple(json_scalar(args[i], i in request.quoted) for i in range(2, len(args)))
    return Push(args[1], elements, left=name.startswith("l"), only_existing=name.endswith("x"))


@declare("lpop", -2, ("write", "fast"), KEY_ONE, "list",
         "Removes and returns the first elements of a list.",
         "LPOP key [count] [FROM ns]",
         forms=(Pop,))  # fmt: skip
@declare("rpop", -2, ("write", "fast"), KEY_ONE, "list",
         "Removes and returns the last elements of a list.",
         "RPOP key [count] [FROM ns]",
         forms=(Pop,))  # fmt: skip
def _pop(name: str, request: Request) -> Pop:
    args = request.args
    count = None
    rest = args[2:]
    if len(rest) in (1, 3):  # a count, then maybe FROM ns
        try:
            count = parse_int(rest[0])
        except errors.CommandError:
            raise errors.not_positive() from None
        if count < 0:
            raise errors.not_positive()
        rest = rest[1:]
    return Pop(args[1], count, left=name == "lpop", ns=from_only(rest))


@declare("lrange", -4, ("readonly",), KEY_ONE, "list",
         "Returns a range of elements of a list.",
         "LRANGE key start stop [FROM ns]",
         forms=(Lrange,))  # fmt: skip
@declare("ltrim", -4, ("write",), KEY_ONE, "list",
         "Keeps only a range of elements of a list.",
         "LTRIM key start stop [FROM ns]",
         forms=(Ltrim,))  # fmt: skip
def _range(name: str, request: Request) -> Lrange | Ltrim:
    args = request.args
    kind = Lrange if name == "lrange" else Ltrim
    return kind(args[1], parse_int(args[2]), parse_int(args[3]), ns=from_only(args[4:]))


@declare("llen", -2, ("readonly", "fast"), KEY_ONE, "list",
         "Returns the length of a list.",
         "LLEN key [FROM ns]",
         forms=(Llen,))  # fmt: skip
def _llen(name: str, request: Request) -> Llen:
    return Llen(request.args[1], ns=from_only(request.args[2:]))


@declare("lindex", -3, ("readonly",), KEY_ONE, "list",
         "Returns an element of a list by its index.",
         "LINDEX key index [FROM ns]",
         forms=(Lindex,))  # fmt: skip
def _lindex(name: str, request: Request) -> Lindex:
    args = request.args
    return Lindex(args[1], parse_int(args[2]), ns=from_only(args[3:]))


@declare("lrem", -4, ("write",), KEY_ONE, "list",
         "Removes elements equal to a value from a list.",
         "LREM key count element [FROM ns]",
         forms=(Lrem,))  # fmt: skip
def _lrem(name: str, request: Request) -> Lrem:
    args = request.args
    return Lrem(args[1], parse_int(args[2]), json_scalar(args[3], 3 in request.quoted), ns=from_only(args[4:]))


# -- LPOS, LINSERT, LMOVE and the blocking pops (issue 19) --------------------------------------


@frozen
class Lpos(Keyed):
    """``LPOS key element [RANK rank] [COUNT n] [MAXLEN len] [FROM ns]``; ``count`` None: one index."""

    name: ClassVar[str] = "lpos"
    key: bytes
    element: JsonScalar = field(eq=typed)
    rank: int = 1
    count: int | None = None
    maxlen: int = 0
    ns: str | None = None


@frozen
class Linsert(Keyed):
    """``LINSERT key BEFORE|AFTER pivot element [FROM ns]``."""

    name: ClassVar[str] = "linsert"
    key: bytes
    before: bool
    pivot: JsonScalar = field(eq=typed)
    element: JsonScalar = field(eq=typed)
    ns: str | None = None


@frozen
class Lmove(Keyed):
    """``LMOVE source destination LEFT|RIGHT LEFT|RIGHT [FROM ns] [TO ns]`` (and RPOPLPUSH):
    the destination is in ``destination_ns`` if given, else in the source's namespace (as COPY)."""

    name: ClassVar[str] = "lmove"
    source: bytes
    destination: bytes
    from_left: bool
    to_left: bool
    ns: str | None = None
    destination_ns: str | None = None

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.source, self.destination)


@frozen
class BlockingPop(Keyed):
    """``BLPOP``/``BRPOP key [key ...] timeout [FROM ns]``: ``timeout_ms`` 0 waits forever."""

    name: ClassVar[str] = "blpop"
    keys: tuple[bytes, ...]
    timeout_ms: int
    left: bool = True
    ns: str | None = None
    count: int | None = None  # BLMPOP: up to this many, answered as [key, [elements]]


@frozen
class Lmpop(Keyed):
    """``LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT n] [FROM ns]``: up to ``count`` elements
    of the first non-empty list."""

    name: ClassVar[str] = "lmpop"
    keys: tuple[bytes, ...]
    left: bool
    count: int = 1
    ns: str | None = None


@frozen
class BlockingMove(Keyed):
    """``BLMOVE``/``BRPOPLPUSH``: LMOVE once the source has an element, or null after the timeout."""

    name: ClassVar[str] = "blmove"
    source: bytes
    destination: bytes
    from_left: bool
    to_left: bool
    timeout_ms: int
    ns: str | None = None
    destination_ns: str | None = None

    @property
    def keys(self) -> tuple[bytes, ...]:
        return (self.source, self.destination)

    def now(self) -> Lmove:
        """The move this waits to make (what it does at once, and inside MULTI)."""
        return Lmove(self.source, self.destination, self.from_left, self.to_left, self.ns, self.destination_ns)


MAX_TIMEOUT_S = 10 * 365 * 24 * 3600  # ten years, as mi's other durations


def parse_timeout(token: bytes) -> int:
    """A blocking command's timeout: seconds, decimals allowed, as Redis reads it; milliseconds."""
    try:
        seconds = float(token.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise errors.timeout_not_float() from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise errors.timeout_not_float()
    if seconds < 0:
        raise errors.timeout_negative()
    if seconds > MAX_TIMEOUT_S:
        raise errors.timeout_out_of_range()
    return 0 if seconds == 0 else max(1, round(seconds * 1000))


def _side(token: bytes) -> bool:
    """LEFT (True) or RIGHT (False)."""
    word = keyword(token)
    if word not in ("left", "right"):
        raise errors.syntax_error()
    return word == "left"


def _from_and_to(args: tuple[bytes, ...]) -> tuple[str | None, str | None]:
    """``[FROM ns] [TO ns]`` in any order, each at most once."""
    found: dict[str, str] = {}
    for i in range(0, len(args), 2):
        word = keyword(args[i])
        if word not in ("from", "to") or word in found or i + 1 >= len(args):
            raise errors.syntax_error()
        found[word] = namespace(args[i + 1])
    return found.get("from"), found.get("to")


@declare("lpos", -3, ("readonly",), KEY_ONE, "list",
         "Returns the index of matching elements of a list.",
         "LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] [FROM ns]",
         forms=(Lpos,))  # fmt: skip
def _lpos(name: str, request: Request) -> Lpos:
    args = request.args
    element = json_scalar(args[2], 2 in request.quoted)
    rank, count, maxlen, ns = 1, None, 0, None
    i = 3
    while i < len(args):
        word = keyword(args[i])
        if i + 1 >= len(args) or word not in ("rank", "count", "maxlen", "from"):
            raise errors.syntax_error()
        if word == "from":
            ns = namespace(args[i + 1])
        else:
            value = parse_int(args[i + 1])
            if word == "rank":
                if value == 0:
                    raise errors.lpos_rank_zero()
                if value < -INT64_MAX:
                    raise errors.lpos_rank_out_of_range()
                rank = value
            elif value < 0:
                raise errors.lpos_negative(word.upper())
            elif word == "count":
                count = value
            else:
                maxlen = value
        i += 2
    return Lpos(args[1], element, rank, count, maxlen, ns)


@declare("linsert", -5, ("write", "denyoom"), KEY_ONE, "list",
         "Inserts an element before or after another element of a list.",
         "LINSERT key BEFORE|AFTER pivot element [FROM ns]",
         forms=(Linsert,))  # fmt: skip
def _linsert(name: str, request: Request) -> Linsert:
    args, quoted = request.args, request.quoted
    where = keyword(args[2])
    if where not in ("before", "after"):
        raise errors.syntax_error()
    pivot, element = json_scalar(args[3], 3 in quoted), json_scalar(args[4], 4 in quoted)
    return Linsert(args[1], where == "before", pivot, element, ns=from_only(args[5:]))


@declare("lmove", -5, ("write", "denyoom"), (1, 2, 1), "list",
         "Pops an element from one end of a list and pushes it onto an end of another, maybe in another namespace.",
         "LMOVE source destination LEFT|RIGHT LEFT|RIGHT [FROM ns] [TO ns]",
         forms=(Lmove,))  # fmt: skip
def _lmove(name: str, request: Request) -> Lmove:
    args = request.args
    ns, destination_ns = _from_and_to(args[5:])
    return Lmove(args[1], args[2], _side(args[3]), _side(args[4]), ns, destination_ns)


@declare("rpoplpush", -3, ("write", "denyoom"), (1, 2, 1), "list",
         "Pops the last element of a list and pushes it onto the head of another (LMOVE ... RIGHT LEFT).",
         "RPOPLPUSH source destination [FROM ns] [TO ns]",
         forms=(Lmove,))  # fmt: skip
def _rpoplpush(name: str, request: Request) -> Lmove:
    args = request.args
    ns, destination_ns = _from_and_to(args[3:])
    return Lmove(args[1], args[2], False, True, ns, destination_ns)


@declare("blpop", -3, ("write", "blocking"), (1, -2, 1), "list",
         "Pops the first element of the first non-empty list, waiting for one up to the timeout.",
         "BLPOP key [key ...] timeout [FROM ns]",
         forms=(BlockingPop,))  # fmt: skip
@declare("brpop", -3, ("write", "blocking"), (1, -2, 1), "list",
         "Pops the last element of the first non-empty list, waiting for one up to the timeout.",
         "BRPOP key [key ...] timeout [FROM ns]",
         forms=(BlockingPop,))  # fmt: skip
def _blocking_pop(name: str, request: Request) -> BlockingPop:
    """A final ``FROM ns`` counts after at least one key and a valid timeout (as DEL's, after a key)."""
    args, ns = request.args[1:], None
    if len(args) >= 4 and keyword(args[-2]) == "from" and _is_timeout(args[-3]):
        args, ns = args[:-2], namespace(args[-1])
    return BlockingPop(args[:-1], parse_timeout(args[-1]), left=name == "blpop", ns=ns)


def _mpop(args: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], bool, int, str | None]:
    """LMPOP's ``numkeys key [key ...] LEFT|RIGHT [COUNT n] [FROM ns]``, in Redis's words when wrong."""
    numkeys = parse_int(args[0])
    if numkeys <= 0:
        raise CommandError("ERR", "numkeys should be greater than 0")
    if len(args) < numkeys + 2:  # the keys, then the direction
        raise errors.syntax_error()
    keys, direction, rest = args[1 : numkeys + 1], keyword(args[numkeys + 1]), args[numkeys + 2 :]
    if direction not in ("left", "right"):
        raise errors.syntax_error()
    count, ns = 1, None
    for i in range(0, len(rest), 2):
        word = keyword(rest[i])
        if i + 1 >= len(rest) or word not in ("count", "from"):
            raise errors.syntax_error()
        if word == "count":
            count = parse_int(rest[i + 1])
            if count <= 0:
                raise CommandError("ERR", "count should be greater than 0")
        else:
            ns = namespace(rest[i + 1])
    return keys, direction == "left", count, ns


@declare("lmpop", -4, ("write", "movablekeys"), NO_KEYS, "list",
         "Pops elements from the first non-empty list of those given.",
         "LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count] [FROM ns]",
         forms=(Lmpop,))  # fmt: skip
def _lmpop(name: str, request: Request) -> Lmpop:
    keys, left, count, ns = _mpop(request.args[1:])
    return Lmpop(keys, left, count, ns)


@declare("blmpop", -5, ("write", "blocking", "movablekeys"), NO_KEYS, "list",
         "Pops elements from the first non-empty list, waiting for one up to the timeout.",
         "BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count] [FROM ns]",
         forms=(BlockingPop,))  # fmt: skip
def _blmpop(name: str, request: Request) -> BlockingPop:
    timeout_ms = parse_timeout(request.args[1])
    keys, left, count, ns = _mpop(request.args[2:])
    return BlockingPop(keys, timeout_ms, left, ns, count)


def _is_timeout(token: bytes) -> bool:
    try:
        parse_timeout(token)
    except errors.CommandError:
        return False
    return True


@declare("blmove", -6, ("write", "denyoom", "blocking"), (1, 2, 1), "list",
         "LMOVE, waiting up to the timeout for the source to have an element.",
         "BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout [FROM ns] [TO ns]",
         forms=(BlockingMove,))  # fmt: skip
def _blmove(name: str, request: Request) -> BlockingMove:
    args = request.args
    ns, destination_ns = _from_and_to(args[6:])
    return BlockingMove(args[1], args[2], _side(args[3]), _side(args[4]), parse_timeout(args[5]), ns, destination_ns)


@declare("brpoplpush", -4, ("write", "denyoom", "blocking"), (1, 2, 1), "list",
         "RPOPLPUSH, waiting up to the timeout for the source to have an element.",
         "BRPOPLPUSH source destination timeout [FROM ns] [TO ns]",
         forms=(BlockingMove,))  # fmt: skip
def _brpoplpush(name: str, request: Request) -> BlockingMove:
    args = request.args
    ns, destination_ns = _from_and_to(args[4:])
    return BlockingMove(args[1], args[2], False, True, parse_timeout(args[3]), ns, destination_ns)
