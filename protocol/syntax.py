"""A declaration's ``syntax`` line read as Redis 7's argument docs (``COMMAND DOCS`` ``arguments``).

Every declaration already says how its command is typed, as Redis's docs do
(``SET key value [FROM ns] [TTL duration | EX seconds | ...] [NX | XX]``), so the argument
tree that interactive ``redis-cli`` turns into hints is read from that line rather than written
out again per command. The notation:

- ``UPPER`` words are tokens typed as they are (``FROM``, ``LIB-NAME``); lower-case words name
  arguments (``key``, ``unix-time-seconds``, ``ip:port``). ``on|off`` or ``LEFT|RIGHT`` written
  tight is a choice of tokens.
- ``[...]`` is optional, ``<...>`` groups; ``a | b`` is a choice between the words around it.
  ``x [x ...]`` (or ``[x ...]`` alone) repeats. A token followed by arguments takes them
  (``EX seconds``: an argument with a token; ``SET option value``: a block with one).
- A choice whose first alternative ends in a token, after other words, shares those words:
  ``AS STRING | INT | BOOL`` is ``AS <STRING | INT | BOOL>``.
- The line starts with the command's name (``CLIENT KILL`` for ``client|kill``); a line made of
  alternatives that each start with it (``SELECT ns | SELECT db-number``) is one choice, after
  the words they share.

``arguments(name, syntax)`` answers the tree, ``Argument.as_doc()`` one entry as Redis sends it;
a line this cannot read raises ``SyntaxLineError``, and a test reads every declaration's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from attrs import evolve, frozen

from protocol.replies import SetReply, SimpleString

__all__ = ["Argument", "SyntaxLineError", "arguments"]


class SyntaxLineError(ValueError):
    """A declaration's syntax line does not follow the notation above (a bug in the declaration)."""


_TOKEN = re.compile(r"[A-Z][A-Z0-9-]*")
_NAME = re.compile(r"[a-z][a-z0-9:_.-]*")
_SPLIT = re.compile(r"\.\.\.|[\[\]<>|]|[^\s\[\]<>|]+")

# Argument types by the name a syntax line gives them (anything else is a string).
_KEY_NAMES = frozenset({"key", "newkey", "source", "destination"})
_INTEGER_NAMES = frozenset({
    "seconds", "milliseconds", "count", "index", "start", "stop", "end", "offset", "increment",
    "decrement", "cursor", "shard", "seq", "n", "ms", "protover", "db-number", "client-id",
})  # fmt: skip
_UNIX_TIME_NAMES = frozenset({"unix-time-seconds", "unix-time-milliseconds"})


@frozen
class Argument:
    """One argument as Redis 7 documents it: ``type`` is ``key``, ``string``, ``integer``,
    ``pattern``, ``unix-time``, ``pure-token``, or ``oneof``/``block`` with ``arguments``."""

    name: str
    type: str
    token: str | None = None
    optional: bool = False
    multiple: bool = False
    arguments: tuple[Argument, ...] = ()

    def as_doc(self) -> dict[str, Any]:
        """This argument as ``COMMAND DOCS`` answers it: Redis's field names and order, texts as bulk
        strings and flags as a set of simple strings (redis-cli asserts both)."""
        doc: dict[str, Any] = {"name": self.name, "type": self.type}
        if not self.arguments:
            doc["display_text"] = self.name
        if self.token is not None:
            doc["token"] = self.token
        flags = [flag for flag, on in (("optional", self.optional), ("multiple", self.multiple)) if on]
        if flags:
            doc["flags"] = SetReply(tuple(SimpleString(flag) for flag in flags))
        if self.arguments:
            doc["arguments"] = [argument.as_doc() for argument in self.arguments]
        return doc


# --- reading the line into nodes ----------------------------------------------------------------


@frozen
class _Word:
    text: str
    is_token: bool


@frozen
class _Group:
    """``[...]`` (optional) or ``<...>`` / a choice (required): its alternatives, each a sequence."""

    alternatives: tuple[tuple[_Node, ...], ...]
    optional: bool


@frozen
class _Ellipsis:
    pass


_Node = _Word | _Group | _Ellipsis
_CLOSE = {"[": "]", "<": ">"}


def _words(syntax: str) -> list[str]:
    """The line's words and marks; ``on|off`` or ``LEFT|RIGHT`` (no spaces) becomes a choice of
    tokens, ``<ON | OFF>``."""
    out: list[str] = []
    for piece in syntax.split():
        parts = piece.split("|")
        if len(parts) > 1 and all(_NAME.fullmatch(part) or _TOKEN.fullmatch(part) for part in parts):
            out += ["<", *" | ".join(part.upper() for part in parts).split(), ">"]
        else:
            out += _SPLIT.findall(piece)
    return out


class _Reader:
    def __init__(self, words: list[str], syntax: str) -> None:
        self.words, self.at, self.syntax = words, 0, syntax

    def fail(self, why: str) -> SyntaxLineError:
        return SyntaxLineError(f"{why} in syntax {self.syntax!r}")

    def alternatives(self, close: str | None) -> list[tuple[_Node, ...]]:
        """Sequences separated by ``|`` up to ``close`` (None: the end of the line)."""
        found = [self.sequence(close)]
        while self.at < len(self.words) and self.words[self.at] == "|":
            self.at += 1
            found.append(self.sequence(close))
        if close is None and self.at < len(self.words):
            raise self.fail(f"unexpected {self.words[self.at]!r}")
        if any(not sequence for sequence in found):
            raise self.fail("an empty alternative")
        return found

    def sequence(self, close: str | None) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        while self.at < len(self.words):
            word = self.words[self.at]
            if word == "|" or word in (">", "]"):
                if word != "|" and word != close:
                    raise self.fail(f"unbalanced {word!r}")
                break
            self.at += 1
            if word in _CLOSE:
                inner = _shared_prefix(self.alternatives(_CLOSE[word]))
                if self.at >= len(self.words) or self.words[self.at] != _CLOSE[word]:
                    raise self.fail(f"{word!r} never closed")
                self.at += 1
                nodes.append(_Group(tuple(inner), optional=word == "["))
            elif word == "...":
                nodes.append(_Ellipsis())
            elif _TOKEN.fullmatch(word) or _NAME.fullmatch(word):
                nodes.append(_Word(word, is_token=word.isupper()))
            else:
                raise self.fail(f"unreadable word {word!r}")
        return tuple(nodes)


def _shared_prefix(alternatives: list[tuple[_Node, ...]]) -> list[tuple[_Node, ...]]:
    """``AS STRING | INT | BOOL`` -> ``AS <STRING | INT | BOOL>`` (see the module's notation)."""
    first, rest = alternatives[0], alternatives[1:]
    if rest and len(first) >= 2 and _is_token(first[-1]) and all(_is_token(alt[0]) for alt in rest):
        return [(*first[:-1], _Group(((first[-1],), *rest), optional=False))]
    return alternatives


def _is_token(node: _Node) -> bool:
    return isinstance(node, _Word) and node.is_token


def _is_name(node: _Node) -> bool:
    return isinstance(node, _Word) and not node.is_token


# --- nodes to arguments -------------------------------------------------------------------------


def arguments(name: str, syntax: str) -> tuple[Argument, ...]:
    """The arguments of command ``name`` (``client|kill`` for a subcommand) that ``syntax`` shows."""
    command = name.upper().split("|")
    words = _words(syntax)
    depth, starts = 0, [0]  # where each top-level alternative starts
    for i, word in enumerate(words):
        depth += word in _CLOSE
        depth -= word in _CLOSE.values()
        if word == "|" and depth == 0:
            starts.append(i + 1)
    reader = _Reader(words, syntax)
    if words[: len(command)] != command:
        raise reader.fail(f"the line does not start with {' '.join(command)!r}")
    if len(starts) > 1 and all(words[start : start + len(command)] == command for start in starts):
        pieces = [[*words[start : end - 1]] for start, end in zip(starts, [*starts[1:], len(words) + 1], strict=True)]
        sequences = []
        for piece in pieces:
            piece_reader = _Reader(piece[len(command) :], syntax)
            sequences.append(piece_reader.sequence(None))
            if piece_reader.at < len(piece_reader.words):
                raise reader.fail(f"unexpected {piece_reader.words[piece_reader.at]!r}")
        nodes = _factor(sequences)
    else:
        reader.at = len(command)
        alternatives = _shared_prefix(reader.alternatives(None)) if reader.at < len(words) else [()]
        nodes = alternatives[0] if len(alternatives) == 1 else (_Group(tuple(alternatives), optional=False),)
    return tuple(_lower_sequence(nodes, reader))


def _factor(sequences: list[tuple[_Node, ...]]) -> tuple[_Node, ...]:
    """Alternatives of the whole line: the nodes they all start with, then a choice of the rest."""
    shared = 0
    while all(len(seq) > shared and seq[shared] == sequences[0][shared] for seq in sequences):
        shared += 1
    rests = tuple(seq[shared:] for seq in sequences)
    if all(not rest for rest in rests):
        return sequences[0]
    choice = _Group(tuple(rest for rest in rests if rest), optional=any(not rest for rest in rests))
    return (*sequences[0][:shared], choice)


def _lower_sequence(nodes: Sequence[_Node], reader: _Reader) -> list[Argument]:
    """A sequence's nodes as arguments: repeats folded, each token with the arguments it takes."""
    folded = _fold_repeats(nodes, reader)
    out: list[Argument] = []
    i = 0
    while i < len(folded):
        node = folded[i]
        i += 1
        if isinstance(node, Argument):  # a repeat, already lowered
            out.append(node)
        elif isinstance(node, _Group):
            out.append(_lower_group(node, reader))
        elif not node.is_token:
            out.append(_leaf(node.text))
        else:
            taken = []
            while i < len(folded) and _is_name(folded[i]):
                taken.append(_leaf(folded[i].text))  # type: ignore[union-attr]
                i += 1
            last = folded[i] if i == len(folded) - 1 else None
            if not taken and isinstance(last, _Group) and not last.optional and len(last.alternatives) > 1:
                out.append(evolve(_lower_group(last, reader), token=node.text))  # AS <STRING | INT>
                i += 1
            elif not taken:
                out.append(Argument(node.text.lower(), "pure-token", token=node.text))
            elif len(taken) == 1:
                out.append(evolve(taken[0], token=node.text))
            else:
                out.append(Argument(node.text.lower(), "block", token=node.text, arguments=tuple(taken)))
    return out


def _fold_repeats(nodes: Sequence[_Node], reader: _Reader) -> list[_Node | Argument]:
    """``x [x ...]`` -> one ``x`` argument flagged multiple; ``[x ...]`` alone -> optional too."""
    folded: list[_Node | Argument] = []
    for node in nodes:
        if isinstance(node, _Ellipsis):
            raise reader.fail("'...' outside brackets")
        repeated = node.alternatives[0] if isinstance(node, _Group) and len(node.alternatives) == 1 else ()
        if not repeated or not isinstance(repeated[-1], _Ellipsis):
            folded.append(node)
            continue
        body = repeated[:-1]
        if not body or not node.optional or any(isinstance(n, _Ellipsis) for n in body):
            raise reader.fail("'...' must end a [...] after what it repeats")
        before = len(body) <= len(folded) and tuple(folded[len(folded) - len(body) :]) == body
        if before:
            del folded[len(folded) - len(body) :]
        folded.append(evolve(_single(_lower_sequence(body, reader)), multiple=True, optional=not before))
    return folded


def _lower_group(group: _Group, reader: _Reader) -> Argument:
    choices = [_single(_lower_sequence(alt, reader)) for alt in group.alternatives]
    if len(choices) == 1:
        return evolve(choices[0], optional=group.optional or choices[0].optional)
    # A choice between "[TO dir]" and "STATUS" is an optional choice of "TO dir" or "STATUS".
    optional = group.optional or any(choice.optional for choice in choices)
    choices = [evolve(choice, optional=False) for choice in choices]
    return Argument(_joined(choices), "oneof", optional=optional, arguments=tuple(choices))


def _single(args: list[Argument]) -> Argument:
    """One argument for a sequence: itself if it is one, else a block of them."""
    return args[0] if len(args) == 1 else Argument(_joined(args), "block", arguments=tuple(args))


def _joined(args: Sequence[Argument]) -> str:
    return "-".join((arg.token or arg.name).lower() for arg in args)


def _leaf(name: str) -> Argument:
    if name in _KEY_NAMES:
        kind = "key"
    elif name == "pattern":
        kind = "pattern"
    elif name in _UNIX_TIME_NAMES:
        kind = "unix-time"
    elif name in _INTEGER_NAMES:
        kind = "integer"
    else:
        kind = "string"
    return Argument(name, kind)
