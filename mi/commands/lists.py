"""Lists are mi's JSON arrays: LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN, LINDEX, LREM, LTRIM, LSET
index element, LPOS, LINSERT, LMOVE and RPOPLPUSH, and the blocking BLPOP, BRPOP, BLMOVE and
BRPOPLPUSH (at the end). Writes keep the key's TTL; a list whose last element goes is
deleted, as in Redis. Indexes follow Redis: negative ones count from the end. Every list a write
stores wakes the clients blocked on it once committed (``Keyspace.put``, ``mi.core.list_waiters``).

Keyspace events as Redis's: ``lpush``/``rpush`` (one for many elements), ``lpop``/``rpop`` (the
blocking pops too), ``lset``, ``lrem``, ``ltrim``, ``linsert``, and ``del`` after the event that
emptied a list; a move is its pop, then its push (the order redis.io gives), then the ``del``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio
from attrs import frozen

from mi.commands.base import REGISTRY, reply_of
from mi.core.execution import Unit
from mi.core.keyspace import Keyspace
from mi.core.list_waiters import ListKey, list_topic
from mi.delivery.pull import wait_any
from protocol.event_classes import GENERIC, LIST
from protocol import errors
from protocol.commands import (
    BlockingMove,
    BlockingPop,
    Lindex,
    Linsert,
    Llen,
    Lmove,
    Lmpop,
    Lpos,
    Lrange,
    Lrem,
    LsetIndex,
    Ltrim,
    Pop,
    Push,
)
from protocol.replies import NULL_ARRAY, SimpleString, Stored
from storage import Kind

if TYPE_CHECKING:
    from mi.core.state import Connection

OK = SimpleString("OK")


def read_list(keyspace: Keyspace, ns: str, key: bytes) -> tuple[list[Any], int] | None:
    """The list at ``key`` and its deadline, None if missing; WRONGTYPE for other values."""
    record = keyspace.get(ns, key)
    if record is None:
        return None
    if record.kind is not Kind.LIST:
        raise errors.wrong_type()
    return record.value, record.expires_at


def _store(keyspace: Keyspace, ns: str, key: bytes, items: list[Any], expires_at: int, event: bytes) -> None:
    """Write the list back after ``event``; with no element left, the key goes (then a ``del``)."""
    if items:
        keyspace.put(ns, key, items, expires_at)
    else:
        keyspace.delete(ns, key)
    keyspace.notify(LIST, event, ns, key)
    if not items:
        keyspace.notify(GENERIC, b"del", ns, key)


def _span(length: int, start: int, stop: int) -> range:
    """Redis's inclusive ``start..stop`` with negative indexes, clamped to the list."""
    if start < 0:
        start = max(length + start, 0)
    if stop < 0:
        stop += length
    return range(start, min(stop, length - 1) + 1)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # 1 and true are different elements


@REGISTRY.write(Push)
def push(keyspace: Keyspace, command: Push) -> int:
    """The new length (LPUSHX, RPUSHX of a missing list: 0, nothing written). LPUSH a b c puts c
    first, as in Redis."""
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None and command.only_existing:
        return 0
    items, expires_at = found or ([], 0)
    if command.left:
        items[:0] = reversed(command.elements)
    else:
        items.extend(command.elements)
    keyspace.put(ns, key, items, expires_at)
    keyspace.notify(LIST, b"lpush" if command.left else b"rpush", ns, key)
    return len(items)


@REGISTRY.write(Pop)
def pop(keyspace: Keyspace, command: Pop) -> Any:
    """One element (no count), or a list of up to ``count``; nil when the key is missing."""
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        return None if command.count is None else NULL_ARRAY
    items, expires_at = found
    taken = min(1 if command.count is None else command.count, len(items))
    if command.left:
        popped, rest = items[:taken], items[taken:]
    else:
        popped, rest = items[len(items) - taken :][::-1], items[: len(items) - taken]
    if taken:
        _store(keyspace, ns, key, rest, expires_at, b"lpop" if command.left else b"rpop")
    if command.count is None:
        return Stored(popped[0], inner=True)
    return [Stored(item, inner=True) for item in popped]


@REGISTRY.read(Lrange)
def lrange(keyspace: Keyspace, command: Lrange) -> list[Stored]:
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    return [Stored(items[i], inner=True) for i in _span(len(items), command.start, command.stop)]


@REGISTRY.read(Llen)
def llen(keyspace: Keyspace, command: Llen) -> int:
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    return len(items)


@REGISTRY.read(Lindex)
def lindex(keyspace: Keyspace, command: Lindex) -> Stored | None:
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    index = command.index + len(items) if command.index < 0 else command.index
    return Stored(items[index], inner=True) if 0 <= index < len(items) else None


@REGISTRY.write(LsetIndex)
def lset_index(keyspace: Keyspace, command: LsetIndex) -> SimpleString:
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        raise errors.no_such_key()
    items, expires_at = found
    index = command.index + len(items) if command.index < 0 else command.index
    if not 0 <= index < len(items):
        raise errors.index_out_of_range()
    items[index] = command.element
    keyspace.put(ns, key, items, expires_at)
    keyspace.notify(LIST, b"lset", ns, key)
    return OK


@REGISTRY.write(Lrem)
def lrem(keyspace: Keyspace, command: Lrem) -> int:
    """Removes up to ``count`` equal elements from the head (count > 0), the tail (< 0), or all (0)."""
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        return 0
    items, expires_at = found
    limit = abs(command.count) or len(items)
    order = range(len(items) - 1, -1, -1) if command.count < 0 else range(len(items))
    doomed = set()
    for i in order:
        if len(doomed) == limit:
            break
        if _same(items[i], command.element):
            doomed.add(i)
    if doomed:
        _store(keyspace, ns, key, [item for i, item in enumerate(items) if i not in doomed], expires_at, b"lrem")
    return len(doomed)


@REGISTRY.write(Ltrim)
def ltrim(keyspace: Keyspace, command: Ltrim) -> SimpleString:
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is not None:
        items, expires_at = found
        kept = [items[i] for i in _span(len(items), command.start, command.stop)]
        if len(kept) != len(items):  # a change only: no event for a trim that keeps everything
            _store(keyspace, ns, key, kept, expires_at, b"ltrim")
    return OK


@REGISTRY.read(Lpos)
def lpos(keyspace: Keyspace, command: Lpos) -> int | list[int] | None:
    """The index of the ``rank``-th match (negative: counting from the tail), or with COUNT up to
    that many indexes (0: all); MAXLEN compares at most that many elements (0: all)."""
    items, _ = read_list(keyspace, keyspace.ns(command.ns), command.key) or ([], 0)
    length = len(items)
    scanned = length if command.maxlen == 0 else min(command.maxlen, length)
    order = range(scanned) if command.rank > 0 else range(length - 1, length - 1 - scanned, -1)
    skip, wanted = abs(command.rank) - 1, command.count
    found: list[int] = []
    for i in order:
        if _same(items[i], command.element):
            if skip:
                skip -= 1
                continue
            found.append(i)
            if wanted is None or len(found) == wanted:
                break
    if wanted is None:
        return found[0] if found else None
    return found


@REGISTRY.write(Linsert)
def linsert(keyspace: Keyspace, command: Linsert) -> int:
    """The new length; -1 if the pivot is not there, 0 if the key is missing."""
    ns, key = keyspace.ns(command.ns), command.key
    found = read_list(keyspace, ns, key)
    if found is None:
        return 0
    items, expires_at = found
    at = next((i for i, item in enumerate(items) if _same(item, command.pivot)), None)
    if at is None:
        return -1
    items.insert(at if command.before else at + 1, command.element)
    keyspace.put(ns, key, items, expires_at)
    keyspace.notify(LIST, b"linsert", ns, key)
    return len(items)


@REGISTRY.write(Lmove)
def lmove(keyspace: Keyspace, command: Lmove) -> Stored | None:
    """The element moved, nil if the source is missing. A destination of another type answers
    WRONGTYPE and nothing moves; source and destination may be the same list (a rotation)."""
    ns, source = keyspace.ns(command.ns), command.source
    destination_ns = command.destination_ns if command.destination_ns is not None else ns
    found = read_list(keyspace, ns, source)
    if found is None:
        return None
    element = _move(keyspace, (ns, source), found, (destination_ns, command.destination), command)
    return Stored(element, inner=True)


def _move(
    keyspace: Keyspace,
    source: tuple[str, bytes],
    found: tuple[list[Any], int],
    destination: tuple[str, bytes],
    command: Any,
) -> Any:
    """Pop from ``source`` (its list and deadline ``found``, not empty) and push onto
    ``destination``, ends as ``command.from_left``/``to_left`` say; the element moved."""
    items, expires_at = found
    same = source == destination
    target, target_expires = (items, expires_at) if same else read_list(keyspace, *destination) or ([], 0)
    element = items.pop(0 if command.from_left else -1)
    if not same:
        if items:
            keyspace.put(*source, items, expires_at)
        else:
            keyspace.delete(*source)
    if command.to_left:
        target.insert(0, element)
    else:
        target.append(element)
    keyspace.put(*destination, target, target_expires)
    keyspace.notify(LIST, b"lpop" if command.from_left else b"rpop", *source)
    keyspace.notify(LIST, b"lpush" if command.to_left else b"rpush", *destination)
    if not items and not same:
        keyspace.notify(GENERIC, b"del", *source)
    return element


# -- the blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH ----------------------------------------


@frozen
class _Taken:
    """What a blocked client's take got: the reply, the list it came from and whether that list
    still holds elements (then the next in line is told)."""

    reply: Any
    key: ListKey
    more_left: bool


def _first_element(keyspace: Keyspace, keys: list[ListKey], left: bool, count: int | None = None) -> _Taken | None:
    """Pop from the first of ``keys`` that holds a list (WRONGTYPE for a value of another type
    met before it, as Redis): one element as ``[key, element]``, or with ``count`` (LMPOP,
    BLMPOP) up to that many as ``[key, [elements]]``; None if all are empty."""
    for ns, key in keys:
        found = read_list(keyspace, ns, key)
        if found is not None:
            items, expires_at = found
            taken = min(count or 1, len(items))
            if left:
                popped, rest = items[:taken], items[taken:]
            else:
                popped, rest = items[len(items) - taken :][::-1], items[: len(items) - taken]
            _store(keyspace, ns, key, rest, expires_at, b"lpop" if left else b"rpop")
            elements = [Stored(element, inner=True) for element in popped]
            return _Taken([key, elements[0] if count is None else elements], (ns, key), bool(rest))
    return None


def _pop_first_now(keyspace: Keyspace, command: BlockingPop | Lmpop) -> Any:
    """LMPOP, and BLPOP or BLMPOP inside MULTI (they do not block there, as in Redis): the
    reply, or a null array."""
    ns = keyspace.ns(command.ns)
    taken = _first_element(keyspace, [(ns, key) for key in command.keys], command.left, command.count)
    return NULL_ARRAY if taken is None else taken.reply


@REGISTRY.write(Lmpop)
def lmpop(keyspace: Keyspace, command: Lmpop) -> Any:
    """``[key, [elements]]`` from the first non-empty list, or a null array."""
    return _pop_first_now(keyspace, command)


def _move_now(keyspace: Keyspace, command: BlockingMove) -> Stored | None:
    """BLMOVE inside MULTI: LMOVE."""
    return lmove(keyspace, command.now())


def _in_multi(handler: Callable[[Keyspace, Any], Any]) -> Callable[[Any, Any], Callable[[Keyspace, Any], Any]]:
    """Inside MULTI a blocking command is its non-blocking form, whoever queued it."""
    return lambda connection, command: handler


@REGISTRY.task(BlockingPop, in_multi=_in_multi(_pop_first_now))
async def blocking_pop(session: Connection, command: BlockingPop) -> Any:
    """``[key, element]`` from the first non-empty list, waiting for one up to the timeout; a null
    array once it has passed (or at shutdown)."""
    ns = session.namespace(command.ns)
    keys = [(ns, key) for key in command.keys]

    def take(heads: list[ListKey]) -> Callable[[Keyspace], _Taken | None]:
        return lambda keyspace: _first_element(keyspace, heads, command.left, command.count)

    label = "BLMPOP" if command.count is not None else "BLPOP" if command.left else "BRPOP"
    return await _wait_and_take(session, keys, [], command.timeout_ms, take, label)


@REGISTRY.task(BlockingMove, in_multi=_in_multi(_move_now))
async def blocking_move(session: Connection, command: BlockingMove) -> Any:
    """The element moved, waiting up to the timeout for the source to have one; a null array
    once it has passed (as Redis answers a timed-out BLMOVE)."""
    ns = session.namespace(command.ns)
    source = (ns, command.source)
    destination = (command.destination_ns if command.destination_ns is not None else ns, command.destination)

    def take(heads: list[ListKey]) -> Callable[[Keyspace], _Taken | None]:
        def body(keyspace: Keyspace) -> _Taken | None:
            found = read_list(keyspace, *source)
            if found is None:
                return None
            element = _move(keyspace, source, found, destination, command)
            return _Taken(Stored(element, inner=True), source, bool(found[0]))

        return body

    return await _wait_and_take(session, [source], [destination], command.timeout_ms, take, "BLMOVE")


async def _wait_and_take(
    session: Connection,
    keys: list[ListKey],
    also_writes: list[ListKey],
    timeout_ms: int,
    take: Callable[[list[ListKey]], Callable[[Keyspace], _Taken | None]],
    label: str,
) -> Any:
    """Join the line of each of ``keys``, then take from the lists it heads (a write, atomic with
    its check, that may also write ``also_writes``) until one gives an element, the timeout
    passes, the connection is killed or the server stops."""
    state = session.server
    deadline = math.inf if timeout_ms == 0 else trio.current_time() + timeout_ms / 1000
    line = state.list_waiters
    waiter = line.join(keys)
    taken: _Taken | None = None
    try:
        while True:
            # Taken before looking: a push committed from here on wakes the wait below.
            woken = [state.due_signals.event(list_topic(*key)) for key in waiter.keys]
            heads = line.heads(waiter)
            if heads:
                outcome = await _take_once(session, heads, also_writes, take(heads), label)
                if not isinstance(outcome, _Taken):  # nothing there, or an error (WRONGTYPE)
                    if outcome is not None:
                        return outcome
                else:
                    taken = outcome
                    return taken.reply
            if state.terminating:
                return NULL_ARRAY
            async with session.blocking() as wait:  # CLIENT KILL, UNBLOCK or a hang-up may end it
                with trio.move_on_at(deadline) as waiting:
                    await wait_any(woken)
            if waiting.cancelled_caught or state.terminating or wait.interrupted:
                return NULL_ARRAY
    finally:
        # The next in line on the lists this one headed looks: what it left, or what arrived
        # while it was leaving (a timeout, a kill), is theirs.
        passed_on = [key for key in line.heads(waiter) if taken is None or key != taken.key or taken.more_left]
        line.leave(waiter)
        if passed_on:
            state.due_signals.notify({list_topic(*key) for key in passed_on})


async def _take_once(
    session: Connection, heads: list[ListKey], also_writes: list[ListKey], body: Callable[[Keyspace], Any], label: str
) -> Any:
    """One try at taking, as a write unit of its own: a ``_Taken``, None, or a command error."""
    state = session.server
    touched = [*heads, *also_writes]
    if state.watches:
        state.watches.touch(touched)
    shards = frozenset(state.shard_index(key) for _ns, key in touched)
    unit = Unit(body, shards, True, session.current_namespace, label, light=True)
    return reply_of(await (await state.units.start(unit)).outcome(), state.reaper)
