"""Tests for protocol.syntax: declarations' syntax lines read as Redis 7 argument docs."""

from __future__ import annotations

import pytest

from protocol.commands import every_declaration
from protocol.replies import SetReply, SimpleString
from protocol.syntax import Argument, SyntaxLineError, arguments


def hint(args: tuple[Argument, ...] | list[Argument]) -> str:
    """The arguments written back as a syntax line, as redis-cli builds its hints from them."""
    return " ".join(_one(arg) for arg in args)


def _one(arg: Argument) -> str:
    if arg.type == "pure-token":
        text = arg.token or ""
    elif arg.type == "oneof":
        text = "|".join(_one(sub) for sub in arg.arguments)
    elif arg.type == "block":
        text = hint(arg.arguments)
    else:
        text = arg.name
    if arg.token and arg.type != "pure-token":
        text = f"{arg.token} {text}"
    if arg.multiple:
        text = f"{text} [{text} ...]" if not arg.optional else f"{text} ..."
    return f"[{text}]" if arg.optional else text


@pytest.mark.parametrize("declaration", list(every_declaration()), ids=lambda d: d.name)
def test_every_declarations_syntax_parses(declaration) -> None:
    """Each command's syntax line reads as arguments, each a leaf or a group of arguments."""
    found = arguments(declaration.name, declaration.syntax)
    stack = list(found)
    while stack:
        arg = stack.pop()
        assert arg.type in ("key", "string", "integer", "pattern", "unix-time", "pure-token", "oneof", "block")
        assert bool(arg.arguments) == (arg.type in ("oneof", "block")), arg
        assert (arg.type == "pure-token") <= (arg.token is not None), arg
        stack.extend(arg.arguments)


def test_set_has_redis_7s_argument_tree() -> None:
    """SET's options: a token with its argument, choices of tokens, a token before a choice."""
    key, value, ns, ttl, condition, get, kind = arguments("set", "SET key value [FROM ns] "
        "[TTL duration | EX seconds | KEEPTTL] [NX | XX] [GET] [AS STRING | INT | BOOL]")  # fmt: skip
    assert (key.name, key.type, value.type) == ("key", "key", "string")
    assert ns == Argument("ns", "string", token="FROM", optional=True)
    assert ttl.type == "oneof" and ttl.optional
    assert ttl.arguments == (
        Argument("duration", "string", token="TTL"),
        Argument("seconds", "integer", token="EX"),
        Argument("keepttl", "pure-token", token="KEEPTTL"),
    )
    assert [a.token for a in condition.arguments] == ["NX", "XX"] and condition.optional
    assert get == Argument("get", "pure-token", token="GET", optional=True)
    assert (kind.type, kind.token, kind.optional) == ("oneof", "AS", True)
    assert [a.token for a in kind.arguments] == ["STRING", "INT", "BOOL"]


def test_a_repeat_after_what_it_repeats_is_one_multiple_argument() -> None:
    """``key [key ...]`` is one key flagged multiple; ``[section ...]`` alone is optional too."""
    assert arguments("del", "DEL key [key ...] [FROM ns]")[0] == Argument("key", "key", multiple=True)
    (pairs,) = arguments("mset", "MSET key value [key value ...]")
    assert (pairs.type, pairs.multiple, [a.name for a in pairs.arguments]) == ("block", True, ["key", "value"])
    assert arguments("info", "INFO [section ...]") == (Argument("section", "string", optional=True, multiple=True),)


def test_alternatives_of_the_whole_line_share_their_first_words() -> None:
    """``HSET key json-object ... | HSET key field value ...``: the key, then a choice."""
    key, choice = arguments("hset", "HSET key json-object [FROM ns] | HSET key field value [field value ...]")
    assert key.type == "key" and choice.type == "oneof" and not choice.optional
    first, second = choice.arguments
    assert [a.name for a in first.arguments] == ["json-object", "ns"]
    assert second.multiple and [a.name for a in second.arguments] == ["field", "value"]


def test_a_choice_of_an_optional_clause_is_an_optional_choice() -> None:
    """``SNAPSHOT [TO dir] | SNAPSHOT STATUS`` is ``SNAPSHOT [TO dir | STATUS]``."""
    (choice,) = arguments("snapshot", "SNAPSHOT [TO dir] | SNAPSHOT STATUS")
    assert choice.optional and [(a.token, a.optional) for a in choice.arguments] == [("TO", False), ("STATUS", False)]


def test_a_subcommands_line_drops_both_names_and_shares_leading_words() -> None:
    """``NAMESPACE CONFIG ns GET | SET option value | RESET option``: ns, then one of three."""
    ns, choice = arguments("namespace|config", "NAMESPACE CONFIG ns GET | SET option value | RESET option")
    assert ns.name == "ns"
    assert [(a.type, a.token) for a in choice.arguments] == [("pure-token", "GET"), ("block", "SET"), ("string", "RESET")]


def test_tight_words_with_bars_are_a_choice_of_tokens() -> None:
    """``on|off`` reads as ``<ON | OFF>``, ``LEFT|RIGHT`` as ``<LEFT | RIGHT>``, in place."""
    (choice,) = arguments("client|no-evict", "CLIENT NO-EVICT on|off")
    assert [a.token for a in choice.arguments] == ["ON", "OFF"] and not choice.optional
    found = arguments("lmove", "LMOVE source destination LEFT|RIGHT LEFT|RIGHT [FROM ns]")
    assert [a.type for a in found] == ["key", "key", "oneof", "oneof", "string"]
    assert hint(arguments("linsert", "LINSERT key BEFORE|AFTER pivot element")) == "key BEFORE|AFTER pivot element"


def test_hints_written_back_from_the_arguments_match_the_lines() -> None:
    """What redis-cli would show, rebuilt from the tree, is the syntax line after the name."""
    for name, syntax in [
        ("getex", "GETEX key [FROM ns] [TTL duration | EX seconds | PERSIST]"),
        ("hello", "HELLO [protover [AUTH username password] [SETNAME clientname]]"),
        ("client|kill", "CLIENT KILL ID client-id | ADDR ip:port"),
    ]:
        expected = syntax.split(" ", 2 if "|" in name else 1)[-1].replace(" | ", "|")
        assert hint(arguments(name, syntax)) == expected


def test_as_doc_has_redis_field_names_and_flags_as_simple_strings() -> None:
    """redis-cli asserts texts are bulk strings and flags simple strings (a set in RESP3)."""
    (ns,) = arguments("dbsize", "DBSIZE [FROM ns]")
    doc = ns.as_doc()
    assert list(doc) == ["name", "type", "display_text", "token", "flags"]
    assert doc["flags"] == SetReply((SimpleString("optional"),))
    (choice,) = arguments("flushall", "FLUSHALL [ASYNC | SYNC]")
    assert [sub["token"] for sub in choice.as_doc()["arguments"]] == ["ASYNC", "SYNC"]


@pytest.mark.parametrize("syntax", [
    "GET key [FROM ns",  # never closed
    "GET key FROM ns]",  # closed, never opened
    "GET key [FROM ns>",  # closed by the wrong bracket
    "GET key | | GET x",  # an empty alternative
    "GET key ...",  # a repeat outside brackets
    "GET Key",  # neither a token nor a name
    "SET key",  # not the command's name
])  # fmt: skip
def test_a_line_that_breaks_the_notation_is_refused(syntax: str) -> None:
    """A declaration's mistake fails loudly, naming the line."""
    with pytest.raises(SyntaxLineError, match="in syntax"):
        arguments("get", syntax)
