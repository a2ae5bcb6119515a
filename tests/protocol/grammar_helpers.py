"""Helpers for grammar tests: parse a command line or argv, or get the error it raises.

(A uniquely named module rather than conftest.py, which tests cannot import reliably.)
"""

from __future__ import annotations

import pytest

from protocol.commands import Command
from protocol.errors import CommandError
from protocol.grammar import parse_command
from protocol.request import Request


def parse(line: str, quoted: tuple[int, ...] = ()) -> Command:
    """Parse a whitespace-separated command line (tokens without spaces only)."""
    return parse_command(Request(tuple(t.encode() for t in line.split()), frozenset(quoted)))


def parse_args(*args: bytes, quoted: tuple[int, ...] = ()) -> Command:
    """Parse an exact argument vector."""
    return parse_command(Request(args, frozenset(quoted)))


def error_of(line: str) -> CommandError:
    """The CommandError that parsing ``line`` raises."""
    with pytest.raises(CommandError) as info:
        parse(line)
    return info.value


def error_of_args(*args: bytes) -> CommandError:
    """The CommandError that parsing ``args`` raises."""
    with pytest.raises(CommandError) as info:
        parse_args(*args)
    return info.value
