"""The table that describes every command a client can type, in Redis's COMMAND conventions.

The grammar checks arity against ``COMMAND_SPECS``; the server builds ``COMMAND``,
``COMMAND COUNT``, ``COMMAND INFO`` and ``COMMAND DOCS`` replies from it. Names are lowercase, as
users type them; aliases (``unlink``, ``pttl``, ``pexpire``) have entries of their own.
``protocol.commands`` re-exports both names.
"""

from __future__ import annotations

from attrs import frozen

__all__ = ["COMMAND_SPECS", "CommandSpec"]


@frozen
class CommandSpec:
    """What ``COMMAND INFO`` / ``COMMAND DOCS`` say about one command (Redis conventions).

    ``arity`` counts the name: positive = exactly that many arguments, negative = at least
    ``-arity``. ``first_key``/``last_key``/``step`` locate keys (``last_key=-1``: up to the end;
    for ``DEL k1 k2 FROM ns`` the legacy triple cannot leave out the ``FROM`` clause).
    Container commands (``CLIENT``, ``COMMAND``, ``CONFIG``) list their ``subcommands``, named
    ``container|sub`` as Redis does.
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
    subcommands: tuple[CommandSpec, ...] = ()

    def accepts(self, argc: int) -> bool:
        """Whether ``argc`` arguments (the name included) satisfy the arity."""
        return argc == self.arity if self.arity >= 0 else argc >= -self.arity


_TTL_SYNTAX = "[TTL duration | EX seconds | PX milliseconds"
_CONN = ("noscript", "loading", "stale")
_ALWAYS = (*_CONN, "fast", "no_auth", "allow_busy")  # allowed before AUTH, even when busy


def _spec(
    name: str,
    arity: int,
    flags: tuple[str, ...],
    keys: tuple[int, int, int],
    group: str,
    summary: str,
    syntax: str,
    subcommands: tuple[CommandSpec, ...] = (),
) -> CommandSpec:
    first, last, step = keys
    return CommandSpec(name, arity, flags, first, last, step, group, summary, syntax, subcommands)


_ONE, _ALL, _NONE = (1, 1, 1), (1, -1, 1), (0, 0, 0)

_SPECS = (
    _spec("set", -3, ("write", "denyoom"), _ONE, "string",
          "Sets a key to a string, integer or boolean value, with an optional time to live.",
          f"SET key value [FROM ns] {_TTL_SYNTAX} | EXAT unix-time-seconds | PXAT unix-time-milliseconds"
          " | KEEPTTL] [NX | XX] [GET] [AS STRING | INT | BOOL]"),
    _spec("hset", -3, ("write", "denyoom"), _ONE, "hash",
          "Sets a key to a JSON object (with an optional time to live), or sets fields of one.",
          f"HSET key json-object [FROM ns] {_TTL_SYNTAX}] | HSET key field value [field value ...] [FROM ns]"),
    _spec("lset", -3, ("write", "denyoom"), _ONE, "list",
          "Sets a key to a JSON array (with an optional time to live), or one element of it.",
          f"LSET key json-array [FROM ns] {_TTL_SYNTAX}] | LSET key index element [FROM ns]"),
    _spec("get", -2, ("readonly", "fast"), _ONE, "string",
          "Returns the value of a key, keeping its type.",
          "GET key [FROM ns]"),
    _spec("del", -2, ("write",), _ALL, "generic",
          "Deletes one or more keys and returns how many were removed.",
          "DEL key [key ...] [FROM ns]"),
    _spec("unlink", -2, ("write", "fast"), _ALL, "generic",
          "Deletes one or more keys and returns how many were removed (same as DEL).",
          "UNLINK key [key ...] [FROM ns]"),
    _spec("exists", -2, ("readonly", "fast"), _ALL, "generic",
          "Counts how many of the given keys exist.",
          "EXISTS key [key ...] [FROM ns]"),
    _spec("type", -2, ("readonly", "fast"), _ONE, "generic",
          "Returns the type of the value stored at a key.",
          "TYPE key [FROM ns]"),
    _spec("ttl", -2, ("readonly", "fast"), _ONE, "generic",
          "Returns a key's remaining time to live in seconds (-1 none, -2 no such key).",
          "TTL key [FROM ns]"),
    _spec("pttl", -2, ("readonly", "fast"), _ONE, "generic",
          "Returns a key's remaining time to live in milliseconds (-1 none, -2 no such key).",
          "PTTL key [FROM ns]"),
    _spec("expire", -3, ("write", "fast"), _ONE, "generic",
          "Sets a key's time to live in seconds; zero or less deletes the key.",
          "EXPIRE key seconds [NX | XX | GT | LT] [FROM ns]"),
    _spec("pexpire", -3, ("write", "fast"), _ONE, "generic",
          "Sets a key's time to live in milliseconds; zero or less deletes the key.",
          "PEXPIRE key milliseconds [NX | XX | GT | LT] [FROM ns]"),
    _spec("persist", -2, ("write", "fast"), _ONE, "generic",
          "Removes a key's time to live.",
          "PERSIST key [FROM ns]"),
    _spec("scan", -2, ("readonly",), _NONE, "generic",
          "Iterates over the keys of a namespace, a batch at a time.",
          "SCAN cursor [MATCH pattern] [COUNT count] [FROM ns]"),
    _spec("keys", -2, ("readonly",), _NONE, "generic",
          "Returns every key of a namespace that matches a glob pattern.",
          "KEYS pattern [FROM ns]"),
    _spec("dbsize", -1, ("readonly", "fast"), _NONE, "server",
          "Returns the number of keys in a namespace.",
          "DBSIZE [FROM ns]"),
    _spec("select", 2, (*_CONN, "fast"), _NONE, "connection",
          "Changes the namespace commands without FROM use on this connection.",
          "SELECT ns"),
    _spec("namespaces", 1, ("readonly", "loading", "stale"), _NONE, "server",
          "Lists the namespaces that hold keys.",
          "NAMESPACES"),
    _spec("incr", -2, ("write", "denyoom", "fast"), _ONE, "string",
          "Adds one to an integer value (a missing key counts as 0), keeping its TTL.",
          "INCR key [FROM ns]"),
    _spec("decr", -2, ("write", "denyoom", "fast"), _ONE, "string",
          "Subtracts one from an integer value (a missing key counts as 0), keeping its TTL.",
          "DECR key [FROM ns]"),
    _spec("incrby", -3, ("write", "denyoom", "fast"), _ONE, "string",
          "Adds an amount to an integer value (a missing key counts as 0), keeping its TTL.",
          "INCRBY key increment [FROM ns]"),
    _spec("decrby", -3, ("write", "denyoom", "fast"), _ONE, "string",
          "Subtracts an amount from an integer value (a missing key counts as 0), keeping its TTL.",
          "DECRBY key decrement [FROM ns]"),
    _spec("hmset", -4, ("write", "denyoom", "fast"), _ONE, "hash",
          "Sets fields of a JSON object (same as HSET key field value ...).",
          "HMSET key field value [field value ...] [FROM ns]"),
    _spec("hget", -3, ("readonly", "fast"), _ONE, "hash",
          "Returns the value of a field of a JSON object.",
          "HGET key field [FROM ns]"),
    _spec("hmget", -3, ("readonly", "fast"), _ONE, "hash",
          "Returns the values of fields of a JSON object.",
          "HMGET key field [field ...] [FROM ns]"),
    _spec("hgetall", -2, ("readonly",), _ONE, "hash",
          "Returns every field and value of a JSON object.",
          "HGETALL key [FROM ns]"),
    _spec("hdel", -3, ("write", "fast"), _ONE, "hash",
          "Deletes fields of a JSON object; the key goes when its last field does.",
          "HDEL key field [field ...] [FROM ns]"),
    _spec("hexists", -3, ("readonly", "fast"), _ONE, "hash",
          "Tells whether a JSON object has a field.",
          "HEXISTS key field [FROM ns]"),
    _spec("hlen", -2, ("readonly", "fast"), _ONE, "hash",
          "Returns the number of fields of a JSON object.",
          "HLEN key [FROM ns]"),
    _spec("hkeys", -2, ("readonly",), _ONE, "hash",
          "Returns the field names of a JSON object.",
          "HKEYS key [FROM ns]"),
    _spec("hvals", -2, ("readonly",), _ONE, "hash",
          "Returns the field values of a JSON object.",
          "HVALS key [FROM ns]"),
    _spec("hincrby", -4, ("write", "denyoom", "fast"), _ONE, "hash",
          "Adds an amount to an integer field of a JSON object.",
          "HINCRBY key field increment [FROM ns]"),
    _spec("lpush", -3, ("write", "denyoom", "fast"), _ONE, "list",
          "Prepends elements to a list, creating it if missing.",
          "LPUSH key element [element ...] [FROM ns]"),
    _spec("rpush", -3, ("write", "denyoom", "fast"), _ONE, "list",
          "Appends elements to a list, creating it if missing.",
          "RPUSH key element [element ...] [FROM ns]"),
    _spec("lpop", -2, ("write", "fast"), _ONE, "list",
          "Removes and returns the first elements of a list.",
          "LPOP key [count] [FROM ns]"),
    _spec("rpop", -2, ("write", "fast"), _ONE, "list",
          "Removes and returns the last elements of a list.",
          "RPOP key [count] [FROM ns]"),
    _spec("lrange", -4, ("readonly",), _ONE, "list",
          "Returns a range of elements of a list.",
          "LRANGE key start stop [FROM ns]"),
    _spec("llen", -2, ("readonly", "fast"), _ONE, "list",
          "Returns the length of a list.",
          "LLEN key [FROM ns]"),
    _spec("lindex", -3, ("readonly",), _ONE, "list",
          "Returns an element of a list by its index.",
          "LINDEX key index [FROM ns]"),
    _spec("lrem", -4, ("write",), _ONE, "list",
          "Removes elements equal to a value from a list.",
          "LREM key count element [FROM ns]"),
    _spec("ltrim", -4, ("write",), _ONE, "list",
          "Keeps only a range of elements of a list.",
          "LTRIM key start stop [FROM ns]"),
    _spec("mset", -3, ("write", "denyoom"), (1, -1, 2), "string",
          "Sets several keys at once, atomically.",
          "MSET key value [key value ...] [FROM ns]"),
    _spec("mget", -2, ("readonly", "fast"), _ALL, "string",
          "Returns the values of several keys.",
          "MGET key [key ...] [FROM ns]"),
    _spec("getdel", -2, ("write", "fast"), _ONE, "string",
          "Returns the value of a key and deletes it.",
          "GETDEL key [FROM ns]"),
    _spec("getex", -2, ("write", "fast"), _ONE, "string",
          "Returns the value of a key and changes its time to live.",
          f"GETEX key [FROM ns] {_TTL_SYNTAX} | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"),
    _spec("expiretime", -2, ("readonly", "fast"), _ONE, "generic",
          "Returns a key's deadline as a Unix time in seconds (-1 none, -2 no such key).",
          "EXPIRETIME key [FROM ns]"),
    _spec("pexpiretime", -2, ("readonly", "fast"), _ONE, "generic",
          "Returns a key's deadline as a Unix time in milliseconds (-1 none, -2 no such key).",
          "PEXPIRETIME key [FROM ns]"),
    _spec("rename", -3, ("write",), (1, 2, 1), "generic",
          "Renames a key, replacing any key of the new name.",
          "RENAME key newkey [FROM ns]"),
    _spec("renamenx", -3, ("write", "fast"), (1, 2, 1), "generic",
          "Renames a key only if the new name is free.",
          "RENAMENX key newkey [FROM ns]"),
    _spec("copy", -3, ("write", "denyoom"), (1, 2, 1), "generic",
          "Copies a key's value and time to live to another key, maybe in another namespace.",
          "COPY source destination [FROM ns] [TO ns] [REPLACE]"),
    _spec("flushns", 2, ("write",), _NONE, "server",
          "Deletes every key of a namespace.",
          "FLUSHNS ns"),
    _spec("multi", 1, ("noscript", "loading", "stale", "fast", "allow_busy"), _NONE, "transactions",
          "Starts a transaction: the following commands are queued until EXEC.",
          "MULTI"),
    _spec("exec", 1, ("noscript", "loading", "stale", "skip_slowlog"), _NONE, "transactions",
          "Runs the queued commands as one transaction: all of them are applied, or none.",
          "EXEC"),
    _spec("discard", 1, ("noscript", "loading", "stale", "fast", "allow_busy"), _NONE, "transactions",
          "Drops the queued commands of a transaction.",
          "DISCARD"),
    _spec("watch", -2, ("noscript", "loading", "stale", "fast", "allow_busy"), _ALL, "transactions",
          "Makes the next EXEC apply nothing if one of these keys changes before it.",
          "WATCH key [key ...] [FROM ns]"),
    _spec("unwatch", 1, ("noscript", "loading", "stale", "fast", "allow_busy"), _NONE, "transactions",
          "Forgets every watched key.",
          "UNWATCH"),
    _spec("hello", -1, _ALWAYS, _NONE, "connection",
          "Handshakes with the server: protocol version, authentication, client name.",
          "HELLO [protover [AUTH username password] [SETNAME clientname]]"),
    _spec("client", -2, (), _NONE, "connection",
          "A container for client connection commands.",
          "CLIENT subcommand [argument ...]",
          (
              _spec("client|setinfo", 4, _CONN, _NONE, "connection",
                    "Records the client library's name or version.",
                    "CLIENT SETINFO LIB-NAME libname | LIB-VER libver"),
              _spec("client|setname", 3, _CONN, _NONE, "connection",
                    "Sets the connection's name.",
                    "CLIENT SETNAME connection-name"),
              _spec("client|getname", 2, _CONN, _NONE, "connection",
                    "Returns the connection's name.",
                    "CLIENT GETNAME"),
              _spec("client|id", 2, _CONN, _NONE, "connection",
                    "Returns the connection's unique id.",
                    "CLIENT ID"),
              _spec("client|info", 2, _CONN, _NONE, "connection",
                    "Returns information about the connection.",
                    "CLIENT INFO"),
          )),
    _spec("command", -1, ("loading", "stale"), _NONE, "server",
          "Returns details about every command.",
          "COMMAND",
          (
              _spec("command|count", 2, ("loading", "stale"), _NONE, "server",
                    "Returns the number of commands.",
                    "COMMAND COUNT"),
              _spec("command|docs", -2, ("loading", "stale"), _NONE, "server",
                    "Returns documentary information about one, several or all commands.",
                    "COMMAND DOCS [command-name ...]"),
              _spec("command|info", -2, ("loading", "stale"), _NONE, "server",
                    "Returns information about one, several or all commands.",
                    "COMMAND INFO [command-name ...]"),
          )),
    _spec("config", -2, (), _NONE, "server",
          "A container for server configuration commands.",
          "CONFIG subcommand [argument ...]",
          (
              _spec("config|get", -3, ("admin", *_CONN), _NONE, "server",
                    "Returns the effective values of configuration parameters.",
                    "CONFIG GET parameter [parameter ...]"),
          )),
    _spec("info", -1, ("loading", "stale"), _NONE, "server",
          "Returns information and statistics about the server.",
          "INFO [section ...]"),
    _spec("ping", -1, ("fast",), _NONE, "connection",
          "Returns PONG, or the message given.",
          "PING [message]"),
    _spec("echo", 2, ("fast",), _NONE, "connection",
          "Returns the message given.",
          "ECHO message"),
    _spec("quit", -1, _ALWAYS, _NONE, "connection",
          "Closes the connection after replying OK.",
          "QUIT"),
    _spec("journal", -2, ("admin", "readonly", "loading", "stale"), _NONE, "server",
          "Returns operation journal entries of one shard as JSON texts, oldest first.",
          "JOURNAL shard [SINCE seq] [COUNT count]"),
    _spec("take", -1, ("write", "fast"), _NONE, "generic",
          "Takes due messages of a delivering namespace, each leased until ACK, NACK or the lease ends.",
          "TAKE [FROM ns] [COUNT n] [BLOCK ms] [LEASE duration]"),
    _spec("ack", -3, ("write", "fast"), _NONE, "generic",
          "Acknowledges deliveries: their messages are removed.",
          "ACK ns id [id ...]"),
    _spec("nack", -3, ("write", "fast"), _NONE, "generic",
          "Hands a delivery back: due again now, or after DELAY.",
          "NACK ns id [DELAY duration]"),
    _spec("namespace", -2, (), _NONE, "server",
          "A container for namespace commands.",
          "NAMESPACE subcommand [argument ...]",
          (
              _spec("namespace|info", 3, ("readonly",), _NONE, "server",
                    "Returns what a namespace holds and its settings.",
                    "NAMESPACE INFO ns"),
              _spec("namespace|config", -4, ("admin",), _NONE, "server",
                    "Gets, sets or resets a namespace's settings (default_ttl, max_value_size).",
                    "NAMESPACE CONFIG ns GET | SET option value | RESET option"),
          )),
    _spec("snapshot", -1, ("admin", "noscript"), _NONE, "server",
          "Copies every shard, consistently, into a new directory on the server; or reports progress.",
          "SNAPSHOT [TO dir] | SNAPSHOT STATUS"),
)  # fmt: skip

COMMAND_SPECS: dict[str, CommandSpec] = {spec.name: spec for spec in _SPECS}
