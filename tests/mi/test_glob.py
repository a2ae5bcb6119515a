"""Redis glob patterns for KEYS, SCAN MATCH and CONFIG GET."""

import re
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mi.core.glob import compile_glob


@pytest.mark.parametrize(
    "pattern,key,matches",
    [
        (b"*", b"anything", True),
        (b"user:*", b"user:42", True),
        (b"user:*", b"order:42", False),
        (b"h?llo", b"hello", True),
        (b"h?llo", b"hllo", False),
        (b"h[ae]llo", b"hallo", True),
        (b"h[ae]llo", b"hillo", False),
        (b"h[^e]llo", b"hallo", True),
        (b"h[^e]llo", b"hello", False),
        (b"h[a-c]llo", b"hbllo", True),
        (b"h\\*llo", b"h*llo", True),
        (b"h\\*llo", b"hello", False),
        (b"a.b", b"axb", False),
        (b"*", b"multi\nline", True),
        (b"[unclosed", b"[unclosed", True),
        (b"*a*a*a*a*b", b"a" * 400, False),
        (b"*a*a*a*a*b", b"a" * 400 + b"b", True),
        (b"a*", b"a", True),
        (b"*a", b"a", True),
        (b"a*a", b"a", False),
        (b"**", b"", True),
        (b"*ab*ab*", b"ab", False),
        (b"*ab*ab*", b"abxx", False),
        (b"*ab*ab*", b"xabyab", True),
        (b"a*b*a", b"aba", True),
        (b"a*b*a", b"ab", False),
        (b"?*?", b"x", False),
        (b"[*]*", b"*x", True),
        (b"\\**", b"*anything", True),
    ],
)
def test_glob(pattern, key, matches):
    """Each pattern form matches as in Redis."""
    assert compile_glob(pattern)(key) is matches


def backtracking_match(pattern: bytes, key: bytes) -> bool:
    """The obvious recursive definition, one element at a time (slow, but plainly right)."""

    @cache
    def at(p: int, k: int) -> bool:
        if p == len(pattern):
            return k == len(key)
        char = pattern[p : p + 1]
        if char == b"*":
            return at(p + 1, k) or (k < len(key) and at(p, k + 1))
        if k == len(key):
            return False
        if char == b"?":
            return at(p + 1, k + 1)
        if char == b"\\" and p + 1 < len(pattern):
            return pattern[p + 1] == key[k] and at(p + 2, k + 1)
        if char == b"[":
            end = pattern.find(b"]", p + 2 if pattern[p + 1 : p + 2] in (b"^", b"]") else p + 1)
            if end != -1:
                body = pattern[p + 1 : end]
                negate = body.startswith(b"^")
                members = re.escape(body[1:] if negate else body).replace(b"\\-", b"-")
                member = re.fullmatch(b"[" + members + b"]", key[k : k + 1]) is not None
                return member != negate and at(end + 1, k + 1)
        return pattern[p] == key[k] and at(p + 1, k + 1)

    return at(0, 0)


alphabet = st.sampled_from([b"a", b"b", b"*", b"?", b"[ab]", b"[^a]", b"\\*", b"-"])


@given(st.lists(alphabet, max_size=8).map(b"".join), st.binary(max_size=12).map(lambda b: bytes(c % 3 + 97 for c in b)))
def test_glob_agrees_with_the_backtracking_definition(pattern, key):
    """Matching run by run between stars gives the same answer as trying every split."""
    assert compile_glob(pattern)(key) is backtracking_match(pattern, key)
