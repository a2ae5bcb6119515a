"""Arguments as text, for error replies, logs, MONITOR and the slow log: cut, and secrets hidden.

A client's argument can be 32 MiB of binary. Decoding it whole (with ``backslashreplace``, about
0.2 s per MB) before cutting it to a few characters stalled every client, so every place that
renders an argument uses ``shown``, which cuts the bytes first. ``redacted`` is the one place
that decides which arguments are secrets (passwords) and must never be shown.
"""

from __future__ import annotations

__all__ = ["HIDDEN", "SHOWN_BYTES", "redacted", "shown"]

SHOWN_BYTES = 128  # of an argument quoted in an error reply (Redis cuts at 128 characters too)
HIDDEN = b"(hidden)"  # what a secret argument is shown as


def shown(raw: bytes | str, limit: int = SHOWN_BYTES, *, counted: bool = False) -> str:
    """At most ``limit`` bytes of ``raw`` as text (undecodable bytes as ``\\xNN``); with
    ``counted``, a longer argument ends with ``... (N more bytes)``. The cost is bounded by
    ``limit``, whatever the argument's size."""
    head = raw[:limit] if isinstance(raw, str) else raw[:limit].decode("utf-8", "backslashreplace")
    if len(raw) <= limit:
        return head
    if not counted:
        return head[:limit]  # (``\xNN`` escapes can make 128 bytes 512 characters)
    return f"{head}... ({len(raw) - limit} more {'bytes' if isinstance(raw, bytes) else 'characters'})"


_REDACT_FROM = {b"auth": 1}  # command -> index of its first secret argument (AUTH [user] password)


def redacted(args: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """``args`` with every secret replaced by ``HIDDEN``: all of AUTH's arguments, HELLO's
    ``AUTH user pass``, and a namespace's webhook URL (it may carry a token or a password).
    Anything not secret comes back as the same tuple, so the common case costs a lookup."""
    if not args:
        return args
    name = args[0][:16].lower()
    if name in _REDACT_FROM:
        first = _REDACT_FROM[name]
        return (*args[:first], *(HIDDEN for _ in args[first:]))
    if name == b"hello":
        for i, arg in enumerate(args):
            if arg[:8].lower() == b"auth":  # HELLO protover AUTH user pass [SETNAME name]
                return (*args[: i + 1], *(HIDDEN for _ in args[i + 1 : i + 3]), *args[i + 3 :])
        return args
    if name == b"namespace" and len(args) >= 6 and args[3][:8].lower() == b"set" and args[4][:16].lower() == b"webhook":
        return (*args[:5], HIDDEN, *args[6:])
    return args
