"""A parsed request: the argument vector a client sent, before it is given meaning."""

from __future__ import annotations

from attrs import field, frozen

__all__ = ["Request"]


@frozen
class Request:
    """One command as sent: ``args[0]`` is the command name.

    ``quoted`` holds the indexes of inline tokens the client wrote in quotes. Such a token is
    always a string (``SET k "42"`` stores the string ``42``), while a bare ``42`` is an integer.
    RESP bulk strings are never marked quoted.
    """

    args: tuple[bytes, ...]
    quoted: frozenset[int] = field(factory=frozenset)
