"""Redis glob patterns (KEYS, SCAN MATCH, CONFIG GET): ``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\x``.

Matching takes time linear in the key times the pattern, whatever the pattern: a regex with
several ``.*`` backtracks polynomially (``*a*a*a*a*b`` against a 400-byte key ran for minutes,
holding the GIL: the class of Redis CVE-2022-36021). Between two stars every element matches
exactly one byte, so each such run has a fixed length and its leftmost occurrence is always
the best choice: the key is matched run by run, never backtracking across a star.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["compile_glob"]

_STAR = None  # a token of ``_tokens``: any run of bytes


def _tokens(pattern: bytes) -> list[bytes | None]:
    """``pattern`` as ``_STAR`` and regex fragments that each match exactly one byte; like Redis,
    a malformed class matches literally."""
    out: list[bytes | None] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i : i + 1]
        i += 1
        if char == b"*":
            out.append(_STAR)
        elif char == b"?":
            out.append(b".")
        elif char == b"\\" and i < n:
            out.append(re.escape(pattern[i : i + 1]))
            i += 1
        elif char == b"[":
            end = pattern.find(b"]", i + 1 if pattern[i : i + 1] in (b"^", b"]") else i)
            if end == -1:
                out.append(re.escape(char))
                continue
            body = pattern[i:end]
            negate = body.startswith(b"^")
            members = body[1:] if negate else body
            escaped = members.replace(b"\\", b"\\\\").replace(b"]", b"\\]").replace(b"[", b"\\[")
            escaped = escaped.replace(b"^", b"\\^")
            out.append(b"[" + (b"^" if negate else b"") + escaped + b"]")
            i = end + 1
        else:
            out.append(re.escape(char))
    return out


def _run(fragments: list[bytes]) -> tuple[re.Pattern[bytes], int]:
    """The bytes between two stars: a regex without repetition, and the length it matches."""
    return re.compile(b"".join(fragments), re.DOTALL), len(fragments)


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """Return a matcher for ``pattern``."""
    runs: list[list[bytes]] = [[]]
    for token in _tokens(pattern):
        if token is _STAR:
            runs.append([])
        else:
            runs[-1].append(token)
    if len(runs) == 1:
        whole = re.compile(b"".join(runs[0]) + b"\\Z", re.DOTALL)
        return lambda key: whole.match(key) is not None
    (head, head_len), *middle, (tail, tail_len) = [_run(run) for run in runs]
    middle = [(regex, length) for regex, length in middle if length]
    shortest = head_len + tail_len + sum(length for _, length in middle)

    def matches(key: bytes) -> bool:
        if len(key) < shortest or head.match(key) is None:
            return False
        position, end = head_len, len(key) - tail_len
        for regex, _ in middle:
            found = regex.search(key, position, end)
            if found is None:
                return False
            position = found.end()
        return tail.match(key, end) is not None

    return matches
