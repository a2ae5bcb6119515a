"""Keyspace notifications (Redis's ``notify-keyspace-events``): the class letters, and what a unit
records while it runs for publishing once it has committed.

A handler records each change it makes (``Keyspace.notify(kind, event, ns, key)``) as Redis's
command implementations call ``notifyKeyspaceEvent``; an event whose class is off is not even
recorded. The unit's events travel with its outcome (``Keyspace.deadlines.events``) and are
published by ``PubSub.announce`` after the commit succeeded, in the order they happened: a write
rolled back (a failing command, an EXEC that fails or is aborted) publishes nothing. Channels name
the namespace where Redis names the database number: ``__keyspace@<ns>__:<key>`` carries the event
name, ``__keyevent@<ns>__:<event>`` the key.

The same path carries the PUBLISHes queued in a MULTI (``Published``), so they reach subscribers
at EXEC, in order with the transaction's keyspace events.
"""

from __future__ import annotations

from attrs import define

from protocol.errors import CommandError

__all__ = [
    "ALL", "EXPIRED", "GENERIC", "HASH", "KEYEVENT", "KEYSPACE", "LIST", "NEW", "STRING", "Event",
    "Published", "flags_text", "keyevent_channel", "keyspace_channel", "parse_flags",
]  # fmt: skip

# The classes, as Redis numbers them in its flags (src/server.h); mi has no sets, sorted sets,
# streams, modules, eviction or key-miss events, so s, z, t, d, e and m are accepted and never fire.
KEYSPACE = 1 << 0  # K: publish on __keyspace@<ns>__:<key>
KEYEVENT = 1 << 1  # E: publish on __keyevent@<ns>__:<event>
GENERIC = 1 << 2  # g: DEL, EXPIRE, RENAME, COPY...
STRING = 1 << 3  # $
LIST = 1 << 4  # l
SET = 1 << 5  # s
HASH = 1 << 6  # h
ZSET = 1 << 7  # z
EXPIRED = 1 << 8  # x: the reaper removed an expired message
EVICTED = 1 << 9  # e
STREAM = 1 << 10  # t
KEY_MISS = 1 << 11  # m
MODULE = 1 << 13  # d
NEW = 1 << 14  # n: a key that did not exist is written (not part of A)
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE  # A: "g$lshzxetd"

_LETTERS = {
    "A": ALL, "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET, "x": EXPIRED,
    "e": EVICTED, "K": KEYSPACE, "E": KEYEVENT, "t": STREAM, "m": KEY_MISS, "d": MODULE, "n": NEW,
}  # fmt: skip
# The order CONFIG GET shows them in (Redis's keyspaceEventsFlagsToString).
_CLASSES_SHOWN = (("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH), ("z", ZSET),
                  ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE), ("n", NEW))  # fmt: skip
_SHOWN_LAST = (("K", KEYSPACE), ("E", KEYEVENT), ("m", KEY_MISS))

INVALID_CLASS = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."  # Redis 7's words

Event = tuple[bytes, str, bytes]  # (event name, namespace, key)


def parse_flags(text: str) -> int:
    """The classes a ``notify-keyspace-events`` string turns on; ``CommandError`` (Redis's text)
    for a letter that names none. The empty string turns everything off."""
    flags = 0
    for letter in text:
        bit = _LETTERS.get(letter)
        if bit is None:
            raise CommandError("ERR", INVALID_CLASS)
        flags |= bit
    return flags


def flags_text(flags: int) -> str:
    """The flags as CONFIG GET shows them: Redis's canonical order, ``A`` for the whole of it (as
    in Redis, ``n`` is then not shown, though it stays on)."""
    if flags & ALL == ALL:
        shown = "A"
    else:
        shown = "".join(letter for letter, bit in _CLASSES_SHOWN if flags & bit)
    return shown + "".join(letter for letter, bit in _SHOWN_LAST if flags & bit)


def keyspace_channel(ns: str, key: bytes) -> bytes:
    return b"__keyspace@" + ns.encode() + b"__:" + key


def keyevent_channel(ns: str, event: bytes) -> bytes:
    return b"__keyevent@" + ns.encode() + b"__:" + event


@define(eq=False)
class Published:
    """A PUBLISH queued in a MULTI: published once the EXEC has committed, and then how many
    subscribers received it (EXEC's reply for it)."""

    channel: bytes
    message: bytes
    received: int = 0
