"""The command grammar: a ``Request`` (argv) becomes a typed, frozen ``Command``, or a ``CommandError``.

``parse_command`` finds the command's declaration (``declaration_of``), checks its arity, then
hands the request to the declaration's parse function. The declarations, their forms and their
parsers live in the family modules of ``protocol.commands``.
"""

from __future__ import annotations

from protocol import errors
from protocol.commands import DECLARATIONS, Command, Declaration
from protocol.request import Request
from protocol.values import keyword

__all__ = ["declaration_of", "parse_command"]

# The dispatch table: the spellings clients send (b"get", b"GET") found with one dict lookup on
# the raw bytes; any other spelling (b"Get") is case-folded by keyword() and looked up by name.
_BY_SPELLING: dict[bytes, Declaration] = {
    spelling: declaration
    for name, declaration in DECLARATIONS.items()
    for spelling in (name.encode(), name.upper().encode())
}


def declaration_of(raw: bytes) -> Declaration | None:
    """The declaration of the command named ``raw`` (the request's first argument), if any."""
    declaration = _BY_SPELLING.get(raw)
    if declaration is None:
        declaration = DECLARATIONS.get(keyword(raw))
    return declaration


def parse_command(request: Request) -> Command:
    """The command ``request`` asks for; raises ``CommandError`` with the Redis-style reply text."""
    args = request.args
    if not args:
        raise errors.unknown_command(b"", ())
    declaration = declaration_of(args[0])
    if declaration is None:
        raise errors.unknown_command(args[0], args[1:])
    if not declaration.accepts(len(args)):
        raise errors.wrong_arity(declaration.name)
    return declaration.parse(declaration.name, request)
