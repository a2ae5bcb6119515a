"""The inline tokenizer: one text line (as typed into ``nc``) into arguments.

Whitespace separates tokens. ``"..."`` quotes with the escapes ``\\n \\r \\t \\b \\a \\\\ \\"``
and ``\\xHH``; ``'...'`` quotes with only ``\\'``. A token that starts with ``{`` or ``[`` runs
to its matching bracket, skipping brackets inside JSON strings, so JSON needs no quoting.
Quote characters inside a bare token are ordinary characters.
"""

from __future__ import annotations

from protocol.errors import ProtocolError

__all__ = ["tokenize_inline"]

_SPACE = frozenset(b" \t\r\n\v\f")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_OPEN = frozenset(b"{[")
_CLOSE = frozenset(b"}]")
_QUOTE, _APOSTROPHE, _BACKSLASH = ord('"'), ord("'"), ord("\\")

UNBALANCED_QUOTES = "unbalanced quotes in request"
UNBALANCED_BRACKETS = "unbalanced brackets in request"


def tokenize_inline(line: bytes) -> tuple[tuple[bytes, ...], frozenset[int]]:
    """The tokens of ``line`` and the indexes of those that were quoted."""
    tokens: list[bytes] = []
    quoted: set[int] = set()
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return tuple(tokens), frozenset(quoted)
        first = line[i]
        if first == _QUOTE:
            token, i = _double_quoted(line, i + 1)
            quoted.add(len(tokens))
        elif first == _APOSTROPHE:
            token, i = _single_quoted(line, i + 1)
            quoted.add(len(tokens))
        elif first in _OPEN:
            token, i = _bracketed(line, i)
        else:
            start = i
            while i < n and line[i] not in _SPACE:
                i += 1
            token = line[start:i]
        tokens.append(token)


def _closing(line: bytes, i: int, message: str) -> int:
    """After a closing quote or bracket only whitespace or the end may follow."""
    if i < len(line) and line[i] not in _SPACE:
        raise ProtocolError(message)
    return i


def _double_quoted(line: bytes, i: int) -> tuple[bytes, int]:
    out = bytearray()
    n = len(line)
    while i < n:
        char = line[i]
        if char == _QUOTE:
            return bytes(out), _closing(line, i + 1, UNBALANCED_QUOTES)
        if char == _BACKSLASH and i + 1 < n:
            escaped = line[i + 1]
            if escaped == ord("x") and i + 3 < n and line[i + 2] in _HEX and line[i + 3] in _HEX:
                out.append(int(line[i + 2 : i + 4], 16))
                i += 4
                continue
            out.append(_ESCAPES.get(escaped, escaped))
            i += 2
            continue
        out.append(char)
        i += 1
    raise ProtocolError(UNBALANCED_QUOTES)


def _single_quoted(line: bytes, i: int) -> tuple[bytes, int]:
    out = bytearray()
    n = len(line)
    while i < n:
        char = line[i]
        if char == _APOSTROPHE:
            return bytes(out), _closing(line, i + 1, UNBALANCED_QUOTES)
        if char == _BACKSLASH and i + 1 < n and line[i + 1] == _APOSTROPHE:
            out.append(_APOSTROPHE)
            i += 2
            continue
        out.append(char)
        i += 1
    raise ProtocolError(UNBALANCED_QUOTES)


def _bracketed(line: bytes, start: int) -> tuple[bytes, int]:
    """A JSON object or array token: up to the bracket that closes the first one."""
    depth = 0
    in_string = False
    i, n = start, len(line)
    while i < n:
        char = line[i]
        if in_string:
            if char == _BACKSLASH:
                i += 1  # skip the escaped character, which may be a quote
            elif char == _QUOTE:
                in_string = False
        elif char == _QUOTE:
            in_string = True
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                return line[start : i + 1], _closing(line, i + 1, UNBALANCED_BRACKETS)
        i += 1
    raise ProtocolError(UNBALANCED_BRACKETS)
