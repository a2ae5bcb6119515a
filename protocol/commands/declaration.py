"""A command's one declaration, as in Redis's command table, and the registry of them all.

Each family module of ``protocol.commands`` declares its commands beside their typed forms and
parse functions: ``@declare(...)`` on the parse function says the name users type, the arity,
flags, key positions, documentation and the forms it produces. Importing ``protocol.commands``
fills ``DECLARATIONS``; ``protocol.grammar`` dispatches on it, the server answers ``COMMAND``,
``COMMAND INFO``, ``COMMAND DOCS`` and ``COMMAND GETKEYS`` from it, and mi's rules (flags for
AUTH and busy states, metric names) read it. A name declared twice is an error at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.request import Request
from protocol.values import keyword

__all__ = [
    "ALWAYS_FLAGS",
    "CONNECTION_FLAGS",
    "DECLARATIONS",
    "KEYS_ALL",
    "KEY_ONE",
    "NO_KEYS",
    "Declaration",
    "Parser",
    "declare",
    "declare_container",
    "every_declaration",
]

Parser = Callable[[str, Request], Command]
"""A parse function: (the declaration's name, request) -> typed command. Arity is checked first."""

KeyPositions = tuple[int, int, int]
KEY_ONE: KeyPositions = (1, 1, 1)  # the key is argument 1
KEYS_ALL: KeyPositions = (1, -1, 1)  # every argument from 1 on (a trailing FROM clause aside)
NO_KEYS: KeyPositions = (0, 0, 0)

CONNECTION_FLAGS = ("noscript", "loading", "stale")
ALWAYS_FLAGS = (*CONNECTION_FLAGS, "fast", "no_auth", "allow_busy")  # before AUTH, even when busy


@frozen
class Declaration:
    """Everything about one command a client can type (Redis's COMMAND conventions).

    ``arity`` counts the name: positive = exactly that many arguments, negative = at least
    ``-arity``. ``first_key``/``last_key``/``step`` locate keys (``last_key=-1``: up to the end;
    for ``DEL k1 k2 FROM ns`` the legacy triple cannot leave out the ``FROM`` clause; the parsed
    form's ``keys`` are exact). ``forms`` are the typed commands ``parse`` may return. Containers
    (``CLIENT``, ``COMMAND``, ``CONFIG``...) list their ``subcommands``, named ``container|sub``
    as Redis does.
    """

    name: str
    arity: int
    flags: tuple[str, ...]
    first_key: int
    last_key: int
    step: int
    group: str
    summary: str
    syntax: str
    forms: tuple[type[Command], ...]
    parse: Parser = field(repr=False)
    subcommands: tuple[Declaration, ...] = ()

    def accepts(self, argc: int) -> bool:
        """Whether ``argc`` arguments (the name included) satisfy the arity."""
        return argc == self.arity if self.arity >= 0 else argc >= -self.arity


_DECLARED: dict[str, Declaration] = {}  # top-level commands, in declaration order
_WAITING: dict[str, Declaration] = {}  # "container|sub", until its container is declared

DECLARATIONS: Mapping[str, Declaration] = MappingProxyType(_DECLARED)
"""Every top-level command by its lowercase name, aliases (``unlink``, ``pttl``) included."""


def _register(declaration: Declaration) -> None:
    name = declaration.name
    container, is_sub, _ = name.partition("|")
    declared_in = _DECLARED[container].subcommands if is_sub and container in _DECLARED else ()
    if name in _DECLARED or name in _WAITING or any(sub.name == name for sub in declared_in):
        msg = f"command {name!r} is declared twice"
        raise ValueError(msg)
    if is_sub and container in _DECLARED:
        msg = f"subcommand {name!r} is declared after its container"
        raise ValueError(msg)
    (_WAITING if is_sub else _DECLARED)[name] = declaration


def declare(
    name: str,
    arity: int,
    flags: tuple[str, ...],
    keys: KeyPositions,
    group: str,
    summary: str,
    syntax: str,
    *,
    forms: tuple[type[Command], ...],
) -> Callable[[Parser], Parser]:
    """Declare ``name`` (``container|sub`` for a subcommand), parsed by the decorated function.

    Stack it for aliases that share a parser (TTL and PTTL); the function is returned unchanged.
    """

    def register(parse: Parser) -> Parser:
        first, last, step = keys
        _register(Declaration(name, arity, flags, first, last, step, group, summary, syntax, forms, parse))
        return parse

    return register


def declare_container(
    name: str,
    flags: tuple[str, ...],
    group: str,
    summary: str,
    syntax: str,
    *,
    alone: type[Command] | None = None,
) -> Declaration:
    """Declare a container of the subcommands already declared as ``name|...``.

    Its parser finds the subcommand, checks the subcommand's arity and hands the request over.
    ``alone``: the form of the container without a subcommand (``COMMAND``); without one, the
    container needs a subcommand (arity -2).
    """
    prefix = f"{name}|"
    subcommands = tuple(_WAITING.pop(sub) for sub in [s for s in _WAITING if s.startswith(prefix)])
    if not subcommands:
        msg = f"container {name!r} has no subcommands declared before it"
        raise ValueError(msg)
    table = {sub.name.removeprefix(prefix): sub for sub in subcommands}

    def parse(container: str, request: Request) -> Command:
        if len(request.args) == 1 and alone is not None:
            return alone()
        sub = table.get(keyword(request.args[1]))
        if sub is None:
            raise errors.unknown_subcommand(name, request.args[1], table)
        if not sub.accepts(len(request.args)):
            raise errors.wrong_arity(sub.name)
        return sub.parse(sub.name, request)

    arity = -1 if alone is not None else -2
    forms = (alone,) if alone is not None else ()
    declaration = Declaration(name, arity, flags, 0, 0, 0, group, summary, syntax, forms, parse, subcommands)
    _register(declaration)
    return declaration


def every_declaration() -> Iterator[Declaration]:
    """Every command and subcommand, containers before their subcommands.

    Raises if a subcommand was declared without its container (it could never be typed).
    """
    if _WAITING:
        msg = f"subcommands without a container: {sorted(_WAITING)}"
        raise ValueError(msg)
    for declaration in _DECLARED.values():
        yield declaration
        yield from declaration.subcommands
