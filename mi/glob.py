"""Redis glob patterns (KEYS, SCAN MATCH, CONFIG GET): ``*``, ``?``, ``[abc]``, ``[^a-z]``, ``\\x``."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["compile_glob"]


@lru_cache(maxsize=256)
def compile_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """Return a matcher for ``pattern``; like Redis, a malformed class matches literally."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i : i + 1]
        i += 1
        if char == b"*":
            out.append(b".*")
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
    regex = re.compile(b"".join(out) + b"\\Z", re.DOTALL)
    return lambda key: regex.match(key) is not None
