"""Every error text mi sends on the wire, in one place.

Clients map reply prefixes (``ERR``, ``WRONGTYPE``, ``NOPROTO``...) to exception classes, so the
prefixes and wording follow Redis where Redis has the same error. Two kinds of error exist:

* ``ProtocolError``: the peer broke the framing. The server answers ``-ERR Protocol error: ...``
  and closes the connection, because it can no longer tell where the next request starts.
* ``CommandError``: one request was wrong. It is a value sent back as ``-PREFIX message``; the
  connection lives on.
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol.display import shown

__all__ = [
    "CommandError",
    "ProtocolError",
    "auth_locked_out",
    "auth_not_configured",
    "auth_user_locked_out",
    "corrupt_record",
    "database_out_of_range",
    "empty_key",
    "getkeys_no_keys",
    "getkeys_unknown_command",
    "getkeys_wrong_arity",
    "hello_syntax_error",
    "invalid_client_attribute",
    "invalid_client_name",
    "invalid_cursor",
    "invalid_duration",
    "invalid_expire_time",
    "invalid_json",
    "invalid_namespace",
    "invalid_delivery_id",
    "invalid_priority",
    "invalid_timeout",
    "invalid_protocol_version",
    "key_too_large",
    "connection_failed",
    "max_clients_reached",
    "namespace_full",
    "no_such_protocol",
    "noauth",
    "noauth_hello",
    "noperm_every_namespace",
    "noperm_writes_every_namespace",
    "noperm_command",
    "noperm_namespace",
    "not_boolean",
    "not_float",
    "float_result_not_finite",
    "lfu_not_selected",
    "offset_out_of_range",
    "string_too_long",
    "value_out_of_range",
    "not_integer",
    "not_json_array",
    "not_json_object",
    "storage_error",
    "snapshot_refused",
    "storage_full",
    "too_many_namespaces",
    "syntax_error",
    "unknown_command",
    "unknown_subcommand",
    "unrecognized_option",
    "value_too_large",
    "wrong_arity",
    "wrongpass",
]


class ProtocolError(ValueError):
    """The remote peer sent bytes that break RESP or inline framing."""

    def wire_text(self) -> bytes:
        text = str(self).replace("\r", " ").replace("\n", " ")  # an error reply is one line
        return f"-ERR Protocol error: {text}\r\n".encode()


class CommandError(Exception):
    """A request that cannot be executed; encoded as ``-PREFIX message``."""

    def __init__(self, prefix: str, message: str) -> None:
        super().__init__(f"{prefix} {message}")
        self.prefix = prefix
        self.message = message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommandError):
            return NotImplemented
        return (self.prefix, self.message) == (other.prefix, other.message)

    def __hash__(self) -> int:
        return hash((self.prefix, self.message))

    def __repr__(self) -> str:
        return f"CommandError({self.prefix!r}, {self.message!r})"


def _quote(raw: bytes | str) -> str:
    return shown(raw)  # cut before decoding: an argument may be 32 MiB


# --- grammar ----------------------------------------------------------------------------------


def unknown_command(name: bytes, args: tuple[bytes, ...]) -> CommandError:
    shown = " ".join(f"'{_quote(a)}'" for a in args[:8])
    return CommandError(
        "ERR", f"unknown command '{_quote(name)}', with args beginning with: {shown}".rstrip() + " "
    )


def unknown_subcommand(command: str, sub: bytes, known: Iterable[str]) -> CommandError:
    return CommandError(
        "ERR",
        f"unknown subcommand '{_quote(sub)}' for {command.upper()}; "
        f"known: {', '.join(name.upper() for name in sorted(known))}",
    )


def wrong_arity(command: str) -> CommandError:
    return CommandError("ERR", f"wrong number of arguments for '{command.lower()}' command")


# COMMAND GETKEYS, in Redis's words (src/server.c getKeysSubcommandImpl).
def getkeys_unknown_command() -> CommandError:
    return CommandError("ERR", "Invalid command specified")


def getkeys_no_keys() -> CommandError:
    return CommandError("ERR", "The command has no key arguments")


def getkeys_wrong_arity() -> CommandError:
    return CommandError("ERR", "Invalid number of arguments specified for command")


def syntax_error() -> CommandError:
    return CommandError("ERR", "syntax error")


def not_integer() -> CommandError:
    return CommandError("ERR", "value is not an integer or out of range")


def not_boolean() -> CommandError:
    return CommandError("ERR", "value is not a boolean (use true or false)")


def invalid_expire_time(command: str) -> CommandError:
    return CommandError("ERR", f"invalid expire time in '{command.lower()}' command")


def invalid_duration(token: bytes) -> CommandError:
    return CommandError(
        "ERR",
        f"invalid TTL '{_quote(token)}': use a positive number with an optional unit "
        "ms, s, m, h or d (bare = seconds), at most 10 years",
    )


def database_out_of_range() -> CommandError:
    """A database number (``SELECT n``, ``FROM n``) past what Redis itself would read."""
    return CommandError("ERR", "DB index is out of range")


def invalid_namespace(name: bytes | str) -> CommandError:
    return CommandError(
        "ERR",
        f"invalid namespace name '{_quote(name)}': use 1-64 characters of A-Z a-z 0-9 _ . : -",
    )


def invalid_json(reason: str) -> CommandError:
    return CommandError("ERR", f"invalid JSON: {reason}")


def not_json_object(command: str) -> CommandError:
    return CommandError("ERR", f"{command.upper()} value must be a JSON object, e.g. {{\"a\": 1}}")


def not_json_array(command: str) -> CommandError:
    return CommandError("ERR", f"{command.upper()} value must be a JSON array, e.g. [1, 2]")


def invalid_cursor() -> CommandError:
    return CommandError("ERR", "invalid cursor")


def no_such_protocol() -> CommandError:
    return CommandError("NOPROTO", "unsupported protocol version")


# --- storage and server -----------------------------------------------------------------------


def empty_key() -> CommandError:
    return CommandError("ERR", "invalid key: keys must not be empty")


def key_too_large(size: int, limit: int) -> CommandError:
    return CommandError("ERR", f"key is {size} bytes, over the limit of {limit} bytes")


def value_too_large(size: int, limit: int) -> CommandError:
    return CommandError("ERR", f"value is {size} bytes, over max_value_size of {limit} bytes")


def storage_full() -> CommandError:
    return CommandError(
        "ERR", "storage is full (max_db_size reached): delete data or raise max_db_size; reads still work"
    )


def too_many_namespaces(limit: int) -> CommandError:
    return CommandError("ERR", f"too many namespaces (max_namespaces is {limit})")


def corrupt_record(namespace: str, key: bytes) -> CommandError:
    return CommandError(
        "ERR", f"record '{_quote(key)}' in namespace '{namespace}' failed its CRC check (data damaged)"
    )


def storage_error(reason: str) -> CommandError:
    return CommandError("ERR", f"storage error: {reason}")


def max_clients_reached() -> CommandError:
    return CommandError("ERR", "max number of clients reached")


def connection_failed() -> CommandError:
    return CommandError("ERR", "internal error: the server closes this connection (the error is in its log)")


# --- handshake (added with the command grammar; texts as Redis 7 words them) -----------------


def invalid_protocol_version() -> CommandError:
    return CommandError("ERR", "Protocol version is not an integer or out of range")


def noauth() -> CommandError:
    return CommandError("NOAUTH", "Authentication required.")


def noauth_hello() -> CommandError:
    return CommandError(
        "NOAUTH",
        "HELLO must be called with the client already authenticated, otherwise the HELLO <proto>"
        " AUTH <user> <pass> option can be used to authenticate the client and select the RESP"
        " protocol version at the same time",
    )


def wrongpass() -> CommandError:
    return CommandError("WRONGPASS", "invalid username-password pair or user is disabled.")


def auth_not_configured() -> CommandError:
    return CommandError(
        "ERR",
        "AUTH <password> called without any password configured for the default user. Are you"
        " sure your configuration is correct?",
    )


def auth_locked_out(seconds: int) -> CommandError:
    return CommandError("ERR", f"too many failed authentications from this address; try again in {seconds} s")


def auth_user_locked_out(seconds: int) -> CommandError:
    return CommandError("ERR", f"too many failed authentications for this user; try again in {seconds} s")


def noperm_every_namespace(name: str) -> CommandError:
    return CommandError(
        "NOPERM", f"this user has no permissions to run the '{name}' command, which reads every namespace"
    )


def noperm_writes_every_namespace(name: str) -> CommandError:
    return CommandError(
        "NOPERM", f"this user has no permissions to run the '{name}' command, which writes every namespace"
    )


def snapshot_refused(reason: str) -> CommandError:
    return CommandError("ERR", f"snapshot refused: {reason}")


def noperm_namespace(ns: str) -> CommandError:
    return CommandError("NOPERM", f"this user has no permissions to access the '{ns}' namespace")


def noperm_command(name: str) -> CommandError:
    return CommandError("NOPERM", f"this user has no permissions to run the '{name}' command")


def hello_syntax_error(option: bytes) -> CommandError:
    return CommandError("ERR", f"Syntax error in HELLO option '{_quote(option)}'")


def unrecognized_option(option: bytes) -> CommandError:
    return CommandError("ERR", f"Unrecognized option '{_quote(option)}'")


def invalid_client_name() -> CommandError:
    return CommandError("ERR", "Client names cannot contain spaces, newlines or special characters.")


def invalid_client_attribute(attribute: bytes) -> CommandError:
    return CommandError(
        "ERR", f"{_quote(attribute)} cannot contain spaces, newlines or special characters."
    )


# --- transactions -------------------------------------------------------------------------------


def nested_multi() -> CommandError:
    return CommandError("ERR", "MULTI calls can not be nested")


def exec_without_multi() -> CommandError:
    return CommandError("ERR", "EXEC without MULTI")


def discard_without_multi() -> CommandError:
    return CommandError("ERR", "DISCARD without MULTI")


def watch_inside_multi() -> CommandError:
    return CommandError("ERR", "WATCH inside MULTI is not allowed")


def exec_aborted() -> CommandError:
    return CommandError("EXECABORT", "Transaction discarded because of previous errors.")


def too_many_queued(limit: int) -> CommandError:
    return CommandError("ERR", f"too many commands queued in MULTI (max_queued_commands is {limit})")


def not_in_transaction(command: str) -> CommandError:
    return CommandError("ERR", f"{command.upper()} is not allowed inside MULTI")


def transaction_failed(index: int, total: int, command: str, error: CommandError) -> CommandError:
    """EXEC's reply when a queued command failed: everything was rolled back. Keeps the prefix
    (``WRONGTYPE``...) of the command's own error so clients can still tell what went wrong."""
    return CommandError(
        error.prefix,
        f"EXEC rolled back, nothing applied: command {index} of {total} ({command.upper()})"
        f" failed: {error.message}",
    )


# --- values of the wrong type or shape -----------------------------------------------------------


def wrong_type() -> CommandError:
    return CommandError("WRONGTYPE", "Operation against a key holding the wrong kind of value")


def no_such_key() -> CommandError:
    return CommandError("ERR", "no such key")


def index_out_of_range() -> CommandError:
    return CommandError("ERR", "index out of range")


def increment_overflow() -> CommandError:
    return CommandError("ERR", "increment or decrement would overflow")


def decrement_overflow() -> CommandError:
    return CommandError("ERR", "decrement would overflow")


def hash_value_not_integer() -> CommandError:
    return CommandError("ERR", "hash value is not an integer")


def hash_value_not_float() -> CommandError:
    return CommandError("ERR", "hash value is not a float")


def not_float() -> CommandError:
    return CommandError("ERR", "value is not a valid float")


def float_result_not_finite() -> CommandError:
    return CommandError("ERR", "increment would produce NaN or Infinity")


def offset_out_of_range() -> CommandError:
    return CommandError("ERR", "offset is out of range")


def string_too_long() -> CommandError:
    return CommandError("ERR", "string exceeds maximum allowed size (proto-max-bulk-len)")


def value_out_of_range() -> CommandError:
    return CommandError("ERR", "value is out of range")


def lfu_not_selected() -> CommandError:
    return CommandError(
        "ERR",
        "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when"
        " switching between policies at runtime LRU and LFU data will take some time to adjust.",
    )


def not_positive() -> CommandError:
    return CommandError("ERR", "value is out of range, must be positive")


def namespace_full(ns: str, max_keys: int) -> CommandError:
    return CommandError("ERR", f"namespace '{ns}' is full (max_keys {max_keys}); delete messages or raise max_keys")


def negative_timeout() -> CommandError:
    return CommandError("ERR", "timeout is negative")


def background_save_in_progress() -> CommandError:
    return CommandError("ERR", "Background save already in progress")


def invalid_timeout() -> CommandError:
    return CommandError("ERR", "timeout is not an integer or out of range")


def timeout_not_float() -> CommandError:
    return CommandError("ERR", "timeout is not a float or out of range")


def timeout_negative() -> CommandError:
    return CommandError("ERR", "timeout is negative")


def timeout_out_of_range() -> CommandError:
    return CommandError("ERR", "timeout is out of range")


def lpos_rank_zero() -> CommandError:
    return CommandError(
        "ERR",
        "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
        "or use negative to start from the end of the list",
    )


def lpos_rank_out_of_range() -> CommandError:
    return CommandError("ERR", "value is out of range, value must between -9223372036854775807 and 9223372036854775807")


def lpos_negative(option: str) -> CommandError:
    return CommandError("ERR", f"{option} can't be negative")


def invalid_delivery_id(token: bytes) -> CommandError:
    return CommandError("ERR", f"invalid delivery id '{_quote(token)}' (ids look like 3-1042, as TAKE gives them)")


def invalid_priority() -> CommandError:
    return CommandError("ERR", "PRIORITY must be an integer from 0 (most urgent) to 4294967295")


def not_utf8(what: str) -> CommandError:
    return CommandError("ERR", f"{what} is not valid UTF-8 (hashes and lists hold JSON text)")


# --- scripting --------------------------------------------------------------------------------


def numkeys_not_integer() -> CommandError:
    return CommandError("ERR", "value is not an integer or out of range")


def numkeys_negative() -> CommandError:
    return CommandError("ERR", "Number of keys can't be negative")


def numkeys_too_large() -> CommandError:
    return CommandError("ERR", "Number of keys can't be greater than number of args")


def noscript() -> CommandError:
    return CommandError("NOSCRIPT", "No matching script. Please use EVAL.")


def script_flush_syntax() -> CommandError:
    return CommandError("ERR", "SCRIPT FLUSH only support SYNC|ASYNC option")


def no_script_running() -> CommandError:
    return CommandError("NOTBUSY", "No scripts in execution right now.")


def script_unkillable() -> CommandError:
    return CommandError(
        "UNKILLABLE",
        "Sorry the script already executed write commands against the dataset. You can either wait the"
        " script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
    )


def script_killed(where: str) -> CommandError:
    return CommandError("ERR", f"Script killed by user with SCRIPT KILL...{where}")


def script_stopped_by_shutdown(where: str) -> CommandError:
    return CommandError("ERR", f"Script stopped: the server is shutting down, nothing it wrote was applied{where}")


def script_compile_error(reason: str) -> CommandError:
    return CommandError("ERR", f"Error compiling script (new function): {reason}")


def script_error(text: str) -> CommandError:
    """An error a script raised or returned: its text as given (``PREFIX message``)."""
    prefix, _, message = text.partition(" ")
    return CommandError(prefix or "ERR", message)


def not_allowed_from_script() -> CommandError:
    return CommandError("ERR", "This Redis command is not allowed from script")


def write_from_readonly_script() -> CommandError:
    return CommandError("ERR", "Write commands are not allowed from read-only scripts.")


def script_argument_type() -> CommandError:
    return CommandError("ERR", "Lua redis lib command arguments must be strings or integers")


def script_call_without_arguments() -> CommandError:
    return CommandError("ERR", "Please specify at least one argument for this redis lib call")


def script_key_not_declared(key: bytes) -> CommandError:
    return CommandError(
        "ERR",
        f"Script attempted to access key '{_quote(key)}' on a shard its declared keys do not cover:"
        " name every key the script touches in KEYS (or give them one {hash tag})",
    )


# Pub/sub, in Redis's words (src/server.c processCommand).
def noperm_channels(name: str, right: str) -> CommandError:
    """Pub/sub channels are global: ``right`` (read or write) on every namespace is needed."""
    return CommandError(
        "NOPERM",
        f"this user has no permissions to run the '{name}' command: pub/sub channels are global, "
        f"so it needs {right} permission on every namespace",
    )


def subscribed_context(command: str) -> CommandError:
    """A RESP2 connection with subscriptions may only (un)subscribe, PING, QUIT and RESET."""
    return CommandError(
        "ERR",
        f"Can't execute '{command.lower()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context",
    )


# --- CONFIG SET, SHUTDOWN, in Redis 7's words (src/config.c, src/server.c) --------------------


def config_set_unknown(parameter: str) -> CommandError:
    return CommandError("ERR", f"Unknown option or number of arguments for CONFIG SET - '{parameter}'")


def config_set_failed(parameter: str, reason: str) -> CommandError:
    return CommandError("ERR", f"CONFIG SET failed (possibly related to argument '{parameter}') - {reason}")


def shutdown_failed() -> CommandError:
    return CommandError("ERR", "Errors trying to SHUTDOWN. Check logs.")


def no_shutdown_in_progress() -> CommandError:
    return CommandError("ERR", "No shutdown in progress.")


def unblocked() -> CommandError:
    return CommandError("UNBLOCKED", "client unblocked via CLIENT UNBLOCK")
