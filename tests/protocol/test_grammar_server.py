"""Tests for protocol.commands.connection and .server: the handshake and server commands stock
clients send."""

from __future__ import annotations

import pytest

from protocol import errors
from protocol.commands import (
    ClientGetname,
    ClientId,
    ClientInfo,
    ClientSetinfo,
    ClientSetname,
    Command,
    CommandCount,
    CommandDocs,
    CommandGetkeys,
    CommandInfo,
    CommandList,
    ConfigGet,
    Del,
    Echo,
    Hello,
    ClientPause,
    ConfigSet,
    Info,
    LatencyHistory,
    LatencyLatest,
    LatencyReset,
    Ping,
    Quit,
    Set,
    Shutdown,
    Snapshot,
    SnapshotStatus,
)
from protocol.errors import CommandError
from protocol.grammar import parse_command
from protocol.request import Request


def parse(*args: bytes | str) -> Command:
    """Parse an argument vector given as str or bytes tokens."""
    return parse_command(Request(tuple(a.encode() if isinstance(a, str) else a for a in args)))


def error_of(*args: bytes | str) -> CommandError:
    """The CommandError that parsing the argument vector raises."""
    with pytest.raises(CommandError) as info:
        parse(*args)
    return info.value


# --- HELLO ------------------------------------------------------------------------------------


def test_hello_without_arguments() -> None:
    """HELLO alone keeps the current protocol."""
    assert parse("HELLO") == Hello()


def test_hello_protocol_version() -> None:
    """HELLO 3 asks for RESP3."""
    assert parse("hello", "3") == Hello(3)


def test_hello_any_integer_version_parses() -> None:
    """Version checking (NOPROTO) is the server's job: HELLO 4 parses."""
    assert parse("HELLO", "4") == Hello(4)


def test_hello_auth() -> None:
    """HELLO 2 AUTH user pass."""
    assert parse("HELLO", "2", "AUTH", "alice", "s3cret") == Hello(
        2, username=b"alice", password=b"s3cret"
    )


def test_hello_setname() -> None:
    """HELLO 3 SETNAME name."""
    assert parse("HELLO", "3", "setname", "worker-1") == Hello(3, client_name=b"worker-1")


def test_hello_setname_before_auth() -> None:
    """SETNAME and AUTH may come in either order."""
    assert parse("HELLO", "3", "SETNAME", "n", "auth", "u", "p") == Hello(
        3, username=b"u", password=b"p", client_name=b"n"
    )


def test_hello_password_is_not_in_repr() -> None:
    """The password never shows up in logs through repr()."""
    assert "s3cret" not in repr(parse("HELLO", "3", "AUTH", "u", "s3cret"))


@pytest.mark.parametrize("version", ["three", "", "3.0", "99999999999999999999"])
def test_hello_version_not_an_integer(version: str) -> None:
    """A non-integer version answers Redis's protocol-version error."""
    assert str(error_of("HELLO", version)) == (
        "ERR Protocol version is not an integer or out of range"
    )


def test_hello_option_before_version_is_a_version_error() -> None:
    """HELLO AUTH u p: AUTH is read as the version, like Redis."""
    assert error_of("HELLO", "AUTH", "u", "p") == errors.invalid_protocol_version()


def test_hello_auth_missing_password() -> None:
    """AUTH needs two values; the error quotes the option like Redis."""
    assert str(error_of("HELLO", "3", "AUTH", "u")) == "ERR Syntax error in HELLO option 'AUTH'"


def test_hello_setname_missing_name() -> None:
    """SETNAME needs a value."""
    assert error_of("HELLO", "3", "SETNAME") == errors.hello_syntax_error(b"SETNAME")


def test_hello_unknown_option() -> None:
    """Unknown options are named in the error."""
    assert error_of("HELLO", "3", "BOGUS") == errors.hello_syntax_error(b"BOGUS")


def test_hello_setname_invalid_name() -> None:
    """HELLO SETNAME validates the name like CLIENT SETNAME."""
    assert error_of("HELLO", "3", "SETNAME", "a b") == errors.invalid_client_name()


# --- CLIENT -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "expected"), [("LIB-NAME", "lib-name"), ("lib-ver", "lib-ver"), ("Lib-Name", "lib-name")]
)
def test_client_setinfo(attribute: str, expected: str) -> None:
    """CLIENT SETINFO records lib-name / lib-ver, attribute lowercased."""
    assert parse("CLIENT", "SETINFO", attribute, "redis-py") == ClientSetinfo(expected, b"redis-py")


def test_client_setinfo_empty_value() -> None:
    """An empty value is allowed (it clears the attribute)."""
    assert parse("client", "setinfo", "lib-ver", "") == ClientSetinfo("lib-ver", b"")


def test_client_setinfo_unknown_attribute() -> None:
    """Other attributes answer Redis's 'Unrecognized option'."""
    assert str(error_of("CLIENT", "SETINFO", "lib-foo", "x")) == "ERR Unrecognized option 'lib-foo'"


@pytest.mark.parametrize("value", [b"redis py", b"a\nb", b"caf\xc3\xa9", b"\x7f"])
def test_client_setinfo_value_with_special_characters(value: bytes) -> None:
    """Values outside '!'..'~' are refused, naming the attribute as typed."""
    assert str(error_of("CLIENT", "SETINFO", "LIB-NAME", value)) == (
        "ERR LIB-NAME cannot contain spaces, newlines or special characters."
    )


@pytest.mark.parametrize("args", [("SETINFO",), ("SETINFO", "lib-name"), ("SETINFO", "a", "b", "c")])
def test_client_setinfo_wrong_arity(args: tuple[str, ...]) -> None:
    """The arity error names client|setinfo, as Redis 7 does."""
    assert str(error_of("CLIENT", *args)) == (
        "ERR wrong number of arguments for 'client|setinfo' command"
    )


def test_client_setname() -> None:
    """CLIENT SETNAME name."""
    assert parse("CLIENT", "SETNAME", "api-7") == ClientSetname(b"api-7")


def test_client_setname_empty_clears() -> None:
    """An empty name is allowed."""
    assert parse("CLIENT", "SETNAME", "") == ClientSetname(b"")


@pytest.mark.parametrize("name", [b"a b", b"a\nb", b"\x00", b"caf\xc3\xa9", b"tab\t"])
def test_client_setname_rejects_special_characters(name: bytes) -> None:
    """Spaces, newlines and non-printable bytes answer Redis's client-name error."""
    assert str(error_of("CLIENT", "SETNAME", name)) == (
        "ERR Client names cannot contain spaces, newlines or special characters."
    )


@pytest.mark.parametrize(
    ("sub", "command"), [("GETNAME", ClientGetname()), ("id", ClientId()), ("Info", ClientInfo())]
)
def test_client_simple_subcommands(sub: str, command: Command) -> None:
    """CLIENT GETNAME / ID / INFO, any case."""
    assert parse("CLIENT", sub) == command


def test_client_subcommand_extra_argument() -> None:
    """CLIENT ID x is an arity error for client|id."""
    assert error_of("CLIENT", "ID", "x") == errors.wrong_arity("client|id")


def test_client_without_subcommand() -> None:
    """CLIENT alone is an arity error for client."""
    assert error_of("CLIENT") == errors.wrong_arity("client")


def test_client_unknown_subcommand() -> None:
    """Unknown subcommands name the one typed and list those that exist."""
    assert str(error_of("CLIENT", "TRACKING", "x")) == (
        "ERR unknown subcommand 'TRACKING' for CLIENT; known: GETNAME, ID, INFO, KILL, LIST, NO-EVICT,"
        " NO-TOUCH, PAUSE, SETINFO, SETNAME, TYPED, UNBLOCK, UNPAUSE"
    )


def test_client_pause_takes_milliseconds_and_a_mode() -> None:
    """CLIENT PAUSE timeout [WRITE | ALL]: ALL by default; Redis's errors for a bad timeout."""
    assert parse("CLIENT", "PAUSE", "500") == ClientPause(500)
    assert parse("client", "pause", "0", "write") == ClientPause(0, writes_only=True)
    assert parse("CLIENT", "PAUSE", "10", "ALL") == ClientPause(10)
    assert error_of("CLIENT", "PAUSE", "soon") == errors.invalid_timeout()
    assert error_of("CLIENT", "PAUSE", "-1") == errors.negative_timeout()
    assert error_of("CLIENT", "PAUSE", "10", "READS") == errors.syntax_error()
    assert error_of("CLIENT", "PAUSE", "10", "ALL", "x") == errors.syntax_error()


# --- COMMAND / CONFIG / INFO ------------------------------------------------------------------


def test_command_alone_lists() -> None:
    """COMMAND with no subcommand lists every command."""
    assert parse("COMMAND") == CommandList()


def test_command_count() -> None:
    """COMMAND COUNT."""
    assert parse("command", "count") == CommandCount()


def test_command_docs_all() -> None:
    """COMMAND DOCS without names means all."""
    assert parse("COMMAND", "DOCS") == CommandDocs(())


def test_command_docs_names_lowercased() -> None:
    """COMMAND DOCS names are lowercased."""
    assert parse("COMMAND", "DOCS", "GET", "Set") == CommandDocs(("get", "set"))


def test_command_info_names_lowercased() -> None:
    """COMMAND INFO names are lowercased."""
    assert parse("COMMAND", "INFO", "PING") == CommandInfo(("ping",))


def test_command_count_extra_argument() -> None:
    """COMMAND COUNT x is an arity error for command|count."""
    assert error_of("COMMAND", "COUNT", "x") == errors.wrong_arity("command|count")


def test_command_unknown_subcommand() -> None:
    """COMMAND with an unknown subcommand lists the known ones."""
    assert error_of("COMMAND", "NOPE") == errors.unknown_subcommand(
        "command", b"NOPE", ["count", "docs", "getkeys", "info"]
    )


def test_command_getkeys_parses_the_command_it_is_given() -> None:
    """COMMAND GETKEYS holds the command parsed by its own grammar (FROM clause and all)."""
    assert parse("COMMAND", "GETKEYS", "del", "a", "b", "FROM", "ns") == CommandGetkeys(Del((b"a", b"b"), ns="ns"))


def test_command_getkeys_finds_a_scripts_keys_after_numkeys() -> None:
    """EVAL has no fixed key positions (movablekeys): its keys are the numkeys after the script."""
    command = parse("COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "x")
    assert command.target.keys == (b"a", b"b")


def test_command_getkeys_keeps_the_quoted_marks_of_the_command() -> None:
    """A quoted inline value stays a string in the wrapped command, as it would alone."""
    request = Request((b"COMMAND", b"GETKEYS", b"SET", b"k", b"42"), frozenset({4}))
    assert parse_command(request) == CommandGetkeys(Set(b"k", b"42"))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("NOSUCH", "k"), errors.getkeys_unknown_command()),
        (("CLIENT", "NOSUCH"), errors.getkeys_unknown_command()),
        (("PING",), errors.getkeys_no_keys()),
        (("SCAN", "0"), errors.getkeys_no_keys()),
        (("CLIENT", "LIST"), errors.getkeys_no_keys()),
        (("COMMAND", "GETKEYS", "GET", "k"), errors.getkeys_no_keys()),
        (("GET",), errors.getkeys_wrong_arity()),
        (("RENAME", "a"), errors.getkeys_wrong_arity()),
        (("SET", "k", "v", "BOGUS"), errors.syntax_error()),
    ],
)
def test_command_getkeys_errors_in_redis_order(args: tuple[str, ...], error: CommandError) -> None:
    """Unknown command, then no key arguments, then arity (Redis's texts), then the command's own."""
    assert error_of("COMMAND", "GETKEYS", *args) == error


def test_command_getkeys_alone_is_an_arity_error() -> None:
    """COMMAND GETKEYS needs a command."""
    assert error_of("COMMAND", "GETKEYS") == errors.wrong_arity("command|getkeys")


def test_config_get() -> None:
    """CONFIG GET keeps the patterns as bytes."""
    assert parse("CONFIG", "get", "save", "appendonly") == ConfigGet((b"save", b"appendonly"))


def test_config_get_without_pattern() -> None:
    """CONFIG GET needs a pattern."""
    assert str(error_of("CONFIG", "GET")) == (
        "ERR wrong number of arguments for 'config|get' command"
    )


def test_config_set_takes_pairs_and_lowercases_names() -> None:
    """CONFIG SET p v [p v ...]; an odd count is an arity error, a name twice Redis's error."""
    assert parse("CONFIG", "SET", "MaxClients", "10", "timeout", "0") == ConfigSet(
        (("maxclients", b"10"), ("timeout", b"0"))
    )
    assert error_of("CONFIG", "SET", "a", "1", "b") == errors.wrong_arity("config|set")
    assert str(error_of("CONFIG", "SET", "timeout", "1", "TIMEOUT", "2")) == (
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
    )


def test_shutdown_flags() -> None:
    """SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT], in any order; SAVE with NOSAVE, or ABORT
    with anything, is a syntax error."""
    assert parse("SHUTDOWN") == Shutdown()
    assert parse("shutdown", "nosave") == Shutdown(save=False)
    assert parse("SHUTDOWN", "FORCE", "NOW", "SAVE") == Shutdown(save=True, force=True)
    assert parse("SHUTDOWN", "ABORT") == Shutdown(abort=True)
    for bad in (("SAVE", "NOSAVE"), ("ABORT", "NOW"), ("LATER",)):
        assert error_of("SHUTDOWN", *bad) == errors.syntax_error()


def test_latency_subcommands() -> None:
    """LATENCY LATEST | HISTORY event | RESET [event ...]; event names lowercased."""
    assert parse("LATENCY", "LATEST") == LatencyLatest()
    assert parse("latency", "history", "Command") == LatencyHistory("command")
    assert parse("LATENCY", "RESET") == LatencyReset()
    assert parse("LATENCY", "RESET", "command", "COMMIT") == LatencyReset(("command", "commit"))
    assert error_of("LATENCY", "HISTORY") == errors.wrong_arity("latency|history")


def test_config_without_subcommand() -> None:
    """CONFIG alone is an arity error."""
    assert error_of("CONFIG") == errors.wrong_arity("config")


def test_info_default() -> None:
    """INFO with no section."""
    assert parse("INFO") == Info(())


def test_info_sections_lowercased() -> None:
    """INFO sections are lowercased."""
    assert parse("info", "Server", "CLIENTS") == Info(("server", "clients"))


# --- PING / ECHO / QUIT -----------------------------------------------------------------------


def test_ping() -> None:
    """PING alone."""
    assert parse("PING") == Ping()


def test_ping_message() -> None:
    """PING message echoes bytes."""
    assert parse("ping", b"hi\x00") == Ping(b"hi\x00")


def test_ping_too_many_arguments() -> None:
    """PING a b is an arity error, as in Redis."""
    assert str(error_of("PING", "a", "b")) == "ERR wrong number of arguments for 'ping' command"


def test_echo() -> None:
    """ECHO message."""
    assert parse("ECHO", "hello") == Echo(b"hello")


@pytest.mark.parametrize("args", [(), ("a", "b")])
def test_echo_wrong_arity(args: tuple[str, ...]) -> None:
    """ECHO takes exactly one argument."""
    assert error_of("ECHO", *args) == errors.wrong_arity("echo")


def test_quit() -> None:
    """QUIT."""
    assert parse("quit") == Quit()


def test_quit_ignores_arguments() -> None:
    """QUIT x is still QUIT (Redis 7 arity -1)."""
    assert parse("QUIT", "now") == Quit()


# --- SNAPSHOT ---------------------------------------------------------------------------------


def test_snapshot_forms() -> None:
    """SNAPSHOT alone uses the configured dir; TO names one; STATUS reports."""
    assert parse("SNAPSHOT") == Snapshot()
    assert parse("snapshot", "to", "/backups/mi-1") == Snapshot("/backups/mi-1")
    assert parse("SNAPSHOT", "STATUS") == SnapshotStatus()


@pytest.mark.parametrize(
    "args",
    [("SNAPSHOT", "/tmp/x"), ("SNAPSHOT", "TO"), ("SNAPSHOT", "TO", "a", "b"), ("SNAPSHOT", "STATUS", "x")],
)
def test_snapshot_syntax_errors(args: tuple[str, ...]) -> None:
    assert error_of(*args).message == errors.syntax_error().message
