"""Redis glob patterns for KEYS, SCAN MATCH and CONFIG GET."""

import pytest

from mi.glob import compile_glob


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
    ],
)
def test_glob(pattern, key, matches):
    """Each pattern form matches as in Redis."""
    assert compile_glob(pattern)(key) is matches
