"""Redis's keyspace event classes (``notify-keyspace-events``): the letters, their bits, and the
text CONFIG GET shows. The config file, CONFIG SET and every handler that records an event read
them; ``mi.core.notifications`` records and publishes the events themselves.
"""

from __future__ import annotations

from protocol.errors import CommandError

__all__ = [
    "ALL", "EXPIRED", "GENERIC", "HASH", "INVALID_CLASS", "KEYEVENT", "KEYSPACE", "LIST", "NEW", "STRING",
    "flags_text", "parse_flags",
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
