"""The inline tokenizer: one text line (as typed into ``nc`` or ``telnet``) into arguments.

Whitespace separates tokens. A token that starts with ``"`` is quoted, with the escapes
``\\n \\r \\t \\b \\a \\\\ \\"`` and ``\\xHH`` (any other ``\\c`` is ``c``), as in Redis's
``sdssplitargs``; one that starts with ``'`` is quoted with ``\\'`` as its only escape. A token
that starts with ``{`` or ``[`` runs to its matching bracket, skipping brackets inside JSON
strings, so JSON needs no quoting: ``HSET k {"a": [1, "x y]"]}`` is three tokens. When the
brackets do not balance, or the closing one is followed by more than whitespace (the Redis hash
tag in ``GET {user}:1``), the token is a bare word after all: a bad JSON value is then reported
by the command, and the connection lives on. After a closing quote only whitespace or the end of
the line may follow.

Quote characters inside a bare token are ordinary characters (``it's`` is one token), so a token
is "quoted" exactly when it starts with a quote. Bracket tokens are not quoted: they are JSON.
"""

from __future__ import annotations

from protocol.errors import ProtocolError

__all__ = ["UNBALANCED_QUOTES", "tokenize_inline"]

UNBALANCED_QUOTES = "unbalanced quotes in request"

# What C's isspace() accepts, like sdssplitargs, and exactly what bytes.split() splits on.
_SPACE = frozenset(b" \t\r\n\v\f")
_SPECIAL_START = frozenset(b"\"'{[")
_OPEN = frozenset(b"{[")
_CLOSE = frozenset(b"}]")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_QUOTE, _APOSTROPHE, _BACKSLASH, _X = ord('"'), ord("'"), ord("\\"), ord("x")
_NOT_QUOTED: frozenset[int] = frozenset()


def tokenize_inline(line: bytes) -> tuple[tuple[bytes, ...], frozenset[int]]:
    """The tokens of ``line`` and the indexes of those that were quoted.

    Raises ``ProtocolError`` for an unterminated quote, or a closing quote followed by something
    other than whitespace.
    """
    words = line.split()
    for word in words:
        if word[0] in _SPECIAL_START:
            break
    else:  # the common case: plain words only
        return tuple(words), _NOT_QUOTED
    return _tokenize(line)


def _tokenize(line: bytes) -> tuple[tuple[bytes, ...], frozenset[int]]:
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
        elif first in _OPEN and (end := _bracketed_end(line, i)) > 0:
            token, i = line[i:end], end
        else:
            start = i
            while i < n and line[i] not in _SPACE:
                i += 1
            token = line[start:i]
        tokens.append(token)


def _closed(line: bytes, i: int) -> int:
    """``i``, the offset after a closing quote, if whitespace or the end is there."""
    if i < len(line) and line[i] not in _SPACE:
        raise ProtocolError(UNBALANCED_QUOTES)
    return i


def _double_quoted(line: bytes, i: int) -> tuple[bytes, int]:
    """The text of a ``"..."`` token whose content starts at ``i``, and the offset after it.

    Runs of plain characters are copied with one slice each: only backslashes need a look.
    """
    out = bytearray()
    while True:
        quote = line.find(b'"', i)
        if quote < 0:
            raise ProtocolError(UNBALANCED_QUOTES)
        backslash = line.find(b"\\", i, quote)
        if backslash < 0:
            out += line[i:quote]
            return bytes(out), _closed(line, quote + 1)
        out += line[i:backslash]
        escaped = line[backslash + 1]  # exists: the quote comes later
        hex_digits = line[backslash + 2 : backslash + 4]
        if escaped == _X and len(hex_digits) == 2 and all(c in _HEX for c in hex_digits):
            out.append(int(hex_digits, 16))
            i = backslash + 4
        else:
            out.append(_ESCAPES.get(escaped, escaped))
            i = backslash + 2


def _single_quoted(line: bytes, i: int) -> tuple[bytes, int]:
    """The text of a ``'...'`` token whose content starts at ``i``, and the offset after it.

    Only ``\\'`` is an escape; any other backslash is itself, so a quote preceded by a backslash
    is always an escaped quote (``'a\\\\'`` is ``a\\`` then an escaped quote: unterminated).
    """
    out = bytearray()
    while True:
        quote = line.find(b"'", i)
        if quote < 0:
            raise ProtocolError(UNBALANCED_QUOTES)
        if quote > i and line[quote - 1] == _BACKSLASH:
            out += line[i : quote - 1]
            out.append(_APOSTROPHE)
            i = quote + 1
            continue
        out += line[i:quote]
        return bytes(out), _closed(line, quote + 1)


def _bracketed_end(line: bytes, start: int) -> int:
    """The offset after the bracket that closes the one at ``start``, or -1 if this is no JSON
    token (unbalanced, or something other than whitespace right after the closing bracket).

    Both kinds of bracket count towards the depth (a mismatch is left for the JSON parser to
    report, as a command error rather than a dropped connection); strings are jumped over.
    """
    depth = 0
    i, n = start, len(line)
    while i < n:
        char = line[i]
        if char == _QUOTE:
            i = _json_string_end(line, i + 1)
            if i < 0:
                return -1
            continue
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1 if i + 1 == n or line[i + 1] in _SPACE else -1
        i += 1
    return -1


def _json_string_end(line: bytes, i: int) -> int:
    """The offset after the ``"`` ending the JSON string whose content starts at ``i``, or -1."""
    content = i
    while True:
        quote = line.find(b'"', i)
        if quote < 0:
            return -1
        # The quote is escaped if an odd number of backslashes precede it.
        before = quote
        while before > content and line[before - 1] == _BACKSLASH:
            before -= 1
        if (quote - before) % 2 == 0:
            return quote + 1
        i = quote + 1
