"""Tests for protocol.commands: the typed forms and their declarations (the command table)."""

from __future__ import annotations

import attrs
import pytest

from protocol import commands, errors
from protocol.commands import ALL_DECLARATIONS, DECLARATIONS, Command, Hello, Hset, Lset, Set
from protocol.errors import CommandError
from protocol.grammar import parse_command
from protocol.request import Request

# The shortest valid argv of every command and subcommand, by full name.
MINIMAL = {
    "set": "SET k v",
    "hset": "HSET k {}",
    "lset": "LSET k []",
    "get": "GET k",
    "del": "DEL k",
    "unlink": "UNLINK k",
    "exists": "EXISTS k",
    "type": "TYPE k",
    "ttl": "TTL k",
    "pttl": "PTTL k",
    "expire": "EXPIRE k 1",
    "pexpire": "PEXPIRE k 1",
    "persist": "PERSIST k",
    "scan": "SCAN 0",
    "keys": "KEYS *",
    "dbsize": "DBSIZE",
    "select": "SELECT ns",
    "namespaces": "NAMESPACES",
    "hello": "HELLO",
    "client": "CLIENT ID",
    "client|setinfo": "CLIENT SETINFO lib-name x",
    "client|setname": "CLIENT SETNAME x",
    "client|getname": "CLIENT GETNAME",
    "client|id": "CLIENT ID",
    "client|info": "CLIENT INFO",
    "command": "COMMAND",
    "command|count": "COMMAND COUNT",
    "command|docs": "COMMAND DOCS",
    "command|info": "COMMAND INFO",
    "command|getkeys": "COMMAND GETKEYS GET k",
    "config": "CONFIG GET x",
    "namespace": "NAMESPACE INFO ns",
    "config|get": "CONFIG GET x",
    "config|set": "CONFIG SET x 1",
    "config|resetstat": "CONFIG RESETSTAT",
    "info": "INFO",
    "ping": "PING",
    "echo": "ECHO x",
    "quit": "QUIT",
    "multi": "MULTI",
    "exec": "EXEC",
    "discard": "DISCARD",
    "watch": "WATCH k",
    "unwatch": "UNWATCH",
    "incr": "INCR k",
    "decr": "DECR k",
    "incrby": "INCRBY k 1",
    "decrby": "DECRBY k 1",
    "hmset": "HMSET k f v",
    "hget": "HGET k f",
    "hmget": "HMGET k f",
    "hgetall": "HGETALL k",
    "hdel": "HDEL k f",
    "hexists": "HEXISTS k f",
    "hlen": "HLEN k",
    "hkeys": "HKEYS k",
    "hvals": "HVALS k",
    "hincrby": "HINCRBY k f 1",
    "hincrbyfloat": "HINCRBYFLOAT k f 1.5",
    "lpush": "LPUSH k v",
    "lpushx": "LPUSHX k v",
    "rpushx": "RPUSHX k v",
    "rpush": "RPUSH k v",
    "lpop": "LPOP k",
    "rpop": "RPOP k",
    "lrange": "LRANGE k 0 1",
    "llen": "LLEN k",
    "lindex": "LINDEX k 0",
    "lrem": "LREM k 0 v",
    "ltrim": "LTRIM k 0 1",
    "lpos": "LPOS k v",
    "linsert": "LINSERT k BEFORE p v",
    "lmove": "LMOVE k k2 LEFT RIGHT",
    "rpoplpush": "RPOPLPUSH k k2",
    "blpop": "BLPOP k 0",
    "blmpop": "BLMPOP 0 1 k LEFT",
    "lmpop": "LMPOP 1 k LEFT",
    "brpop": "BRPOP k 0",
    "blmove": "BLMOVE k k2 LEFT RIGHT 0",
    "brpoplpush": "BRPOPLPUSH k k2 0",
    "mset": "MSET k v",
    "mget": "MGET k",
    "getdel": "GETDEL k",
    "getex": "GETEX k",
    "expiretime": "EXPIRETIME k",
    "pexpiretime": "PEXPIRETIME k",
    "rename": "RENAME k k2",
    "renamenx": "RENAMENX k k2",
    "copy": "COPY k k2",
    "flushns": "FLUSHNS ns",
    "journal": "JOURNAL 0",
    "snapshot": "SNAPSHOT",
    "namespace|info": "NAMESPACE INFO ns",
    "namespace|config": "NAMESPACE CONFIG ns GET",
    "namespace|pause": "NAMESPACE PAUSE ns",
    "namespace|resume": "NAMESPACE RESUME ns",
    "take": "TAKE",
    "auth": "AUTH pw",
    "slowlog": "SLOWLOG LEN",
    "monitor": "MONITOR",
    "client|list": "CLIENT LIST",
    "client|kill": "CLIENT KILL 127.0.0.1:1",
    "client|pause": "CLIENT PAUSE 10",
    "client|no-touch": "CLIENT NO-TOUCH on",
    "client|unblock": "CLIENT UNBLOCK 1",
    "client|unpause": "CLIENT UNPAUSE",
    "client|no-evict": "CLIENT NO-EVICT on",
    "client|typed": "CLIENT TYPED on",
    "slowlog|get": "SLOWLOG GET",
    "slowlog|len": "SLOWLOG LEN",
    "slowlog|reset": "SLOWLOG RESET",
    "ack": "ACK ns 0-1",
    "nack": "NACK ns 0-1",
    "extend": "EXTEND ns 0-1",
    "peek": "PEEK ns 0-1",
    "dead": "DEAD ns",
    "kick": "KICK ns",
    "scheduled": "SCHEDULED ns",
    "inflight": "INFLIGHT ns",
    "setex": "SETEX k 1 v",
    "psetex": "PSETEX k 1 v",
    "setnx": "SETNX k v",
    "getset": "GETSET k v",
    "msetnx": "MSETNX k v",
    "append": "APPEND k v",
    "strlen": "STRLEN k",
    "getrange": "GETRANGE k 0 1",
    "substr": "SUBSTR k 0 1",
    "setrange": "SETRANGE k 0 v",
    "incrbyfloat": "INCRBYFLOAT k 1.5",
    "expireat": "EXPIREAT k 1",
    "pexpireat": "PEXPIREAT k 1",
    "touch": "TOUCH k",
    "randomkey": "RANDOMKEY",
    "object": "OBJECT HELP",
    "object|encoding": "OBJECT ENCODING k",
    "object|idletime": "OBJECT IDLETIME k",
    "object|freq": "OBJECT FREQ k",
    "object|refcount": "OBJECT REFCOUNT k",
    "object|help": "OBJECT HELP",
    "flushdb": "FLUSHDB",
    "flushall": "FLUSHALL",
    "hsetnx": "HSETNX k f v",
    "hstrlen": "HSTRLEN k f",
    "hrandfield": "HRANDFIELD k",
    "hscan": "HSCAN k 0",
    "time": "TIME",
    "lastsave": "LASTSAVE",
    "wait": "WAIT 0 0",
    "shutdown": "SHUTDOWN",
    "reset": "RESET",
    "latency|latest": "LATENCY LATEST",
    "latency|history": "LATENCY HISTORY command",
    "latency|reset": "LATENCY RESET",
    "acl": "ACL WHOAMI",
    "latency": "LATENCY LATEST",
    "acl|whoami": "ACL WHOAMI",
    "acl|users": "ACL USERS",
    "acl|list": "ACL LIST",
    "save": "SAVE",
    "bgsave": "BGSAVE",
    "memory": "MEMORY USAGE k",
    "memory|usage": "MEMORY USAGE k",
    "eval": "EVAL s 0",
    "eval_ro": "EVAL_RO s 0",
    "evalsha": "EVALSHA s 0",
    "evalsha_ro": "EVALSHA_RO s 0",
    "script": "SCRIPT KILL",
    "script|load": "SCRIPT LOAD s",
    "script|exists": "SCRIPT EXISTS s",
    "script|flush": "SCRIPT FLUSH",
    "script|kill": "SCRIPT KILL",
    "subscribe": "SUBSCRIBE c",
    "unsubscribe": "UNSUBSCRIBE",
    "psubscribe": "PSUBSCRIBE p*",
    "punsubscribe": "PUNSUBSCRIBE",
    "publish": "PUBLISH c m",
    "pubsub": "PUBSUB NUMPAT",
    "pubsub|channels": "PUBSUB CHANNELS",
    "pubsub|numsub": "PUBSUB NUMSUB",
    "pubsub|numpat": "PUBSUB NUMPAT",
}
# Forms a name in MINIMAL does not reach (one name, two shapes).
OTHER_FORMS = ["LSET k 0 x", "SNAPSHOT STATUS", "NAMESPACE CONFIG ns SET default_ttl 5m", "AUTH user pw", "CLIENT KILL ID 1", "CLIENT KILL ADDR 127.0.0.1:1"]

ALL_SPECS = ALL_DECLARATIONS

KNOWN_FLAGS = {"write", "readonly", "denyoom", "admin", "noscript", "loading", "stale", "fast",
               "no_auth", "allow_busy", "skip_slowlog", "blocking",
               "skip_monitor", "may_replicate", "no_mandatory_keys", "movablekeys", "pubsub", "no_multi"}  # fmt: skip
KNOWN_GROUPS = {"string", "generic", "connection", "server", "hash", "list", "transactions", "scripting", "pubsub"}
COMMAND_CLASSES = [
    obj
    for obj in vars(commands).values()
    if isinstance(obj, type) and issubclass(obj, Command) and obj not in (Command, commands.Keyed)
]


def parse(line: str) -> Command:
    """Parse a whitespace-separated command line."""
    return parse_command(Request(tuple(t.encode() for t in line.split())))


# --- the table matches the grammar ------------------------------------------------------------


def test_minimal_table_covers_every_spec() -> None:
    """The arity tests below see every command and subcommand."""
    assert set(MINIMAL) == set(ALL_SPECS)


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_minimal_argv_parses(name: str) -> None:
    """The shortest valid argv of each command parses."""
    assert isinstance(parse(MINIMAL[name]), Command)


# Containers: their shortest argv is a subcommand's, checked under the subcommand's name.
CONTAINERS = {"client", "config", "memory", "namespace", "script", "slowlog"}
# Its shortest valid argv wraps another command's (COMMAND GETKEYS GET k): one more than its arity.
WRAPPERS = {"command|getkeys"}


@pytest.mark.parametrize("name", sorted(set(ALL_SPECS) - CONTAINERS - WRAPPERS))
def test_minimal_argv_has_the_spec_arity(name: str) -> None:
    """The shortest valid argv has exactly |arity| arguments."""
    assert len(MINIMAL[name].split()) == abs(ALL_SPECS[name].arity)


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_container_alone_is_an_arity_error(name: str) -> None:
    """CLIENT or CONFIG without a subcommand answers the container's arity error."""
    assert DECLARATIONS[name].arity == -2
    with pytest.raises(CommandError) as info:
        parse(name.upper())
    assert info.value == errors.wrong_arity(name)


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n in set(ALL_SPECS) - CONTAINERS - WRAPPERS
        if len(MINIMAL[n].split()) > 1 + ("|" in n)  # something left to drop
    ),
)
def test_one_argument_fewer_is_an_arity_error(name: str) -> None:
    """Dropping the last argument of the shortest argv answers the arity error."""
    line = MINIMAL[name].split()[:-1]
    with pytest.raises(CommandError) as info:
        parse(" ".join(line))
    assert info.value == errors.wrong_arity(name)


@pytest.mark.parametrize("name", sorted(n for n, s in ALL_SPECS.items() if s.arity > 0))
def test_one_argument_more_than_a_fixed_arity_is_an_arity_error(name: str) -> None:
    """Commands with a fixed arity refuse an extra argument with the arity error."""
    with pytest.raises(CommandError) as info:
        parse(MINIMAL[name] + " extra")
    assert info.value == errors.wrong_arity(name)


# --- the table itself -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_spec_name_is_lowercase_and_matches(name: str) -> None:
    """Specs are keyed by their lowercase name."""
    assert ALL_SPECS[name].name == name == name.lower()


def test_subcommand_names_are_prefixed_by_their_container() -> None:
    """Subcommands are named container|sub as in Redis."""
    assert all(
        sub.name.startswith(f"{spec.name}|")
        for spec in DECLARATIONS.values()
        for sub in spec.subcommands
    )


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_spec_flags_are_redis_flag_words(name: str) -> None:
    """Flags come from Redis's vocabulary and never say both write and readonly."""
    flags = set(ALL_SPECS[name].flags)
    assert flags <= KNOWN_FLAGS
    assert not {"write", "readonly"} <= flags


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_spec_group_is_a_redis_group(name: str) -> None:
    """Groups are Redis doc groups."""
    assert ALL_SPECS[name].group in KNOWN_GROUPS


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_spec_summary_is_one_sentence_line(name: str) -> None:
    """Summaries are non-empty single lines ending with a period."""
    summary = ALL_SPECS[name].summary
    assert summary.endswith(".")
    assert "\n" not in summary


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_spec_syntax_starts_with_the_command(name: str) -> None:
    """The usage string starts with the command (and subcommand) in capitals."""
    assert ALL_SPECS[name].syntax.startswith(name.replace("|", " ").upper())


# Their trailing arguments are values, fields or field-value pairs: FROM is never read from them.
_VALUES_LAST = frozenset({"hmset", "hmget", "hdel", "lpush", "rpush", "lpushx", "rpushx", "mset", "msetnx"})


@pytest.mark.parametrize("name", sorted(n for n, s in ALL_SPECS.items() if s.first_key))
def test_keyed_specs_document_from(name: str) -> None:
    """Every keyed command documents the FROM clause, unless values end it, and its first key at
    position 1 (2 for a subcommand: OBJECT ENCODING key)."""
    spec = ALL_SPECS[name]
    assert ("FROM ns" in spec.syntax) == (name not in _VALUES_LAST)
    first = 2 if "|" in name else 1
    assert (spec.first_key, spec.step) == (first, 2 if name in ("mset", "msetnx") else 1)  # key value pairs


def test_hset_field_form_documents_no_from() -> None:
    """HSET's JSON form takes FROM; its field-value form does not."""
    json_form, field_form = ALL_SPECS["hset"].syntax.split(" | HSET ")
    assert "[FROM ns]" in json_form
    assert "FROM" not in field_form


@pytest.mark.parametrize("name", sorted(n for n in MINIMAL if not ALL_SPECS[n].subcommands))
def test_specs_with_key_positions_are_the_keyed_commands(name: str) -> None:
    """A spec declares key positions exactly when its command is Keyed (routing uses ``keys``),
    but for those whose keys move (EVAL's numkeys: ``movablekeys``, no positions, as in Redis).
    Containers (MEMORY) declare none: their subcommands (MEMORY USAGE) do, checked by name."""
    movable = "movablekeys" in ALL_SPECS[name].flags
    assert isinstance(parse(MINIMAL[name]), commands.Keyed) == (bool(ALL_SPECS[name].first_key) or movable)


@pytest.mark.parametrize("name", ["del", "unlink", "exists", "watch", "mget"])
def test_variadic_key_specs_run_to_the_end(name: str) -> None:
    """Multi-key commands declare last_key -1."""
    assert DECLARATIONS[name].last_key == -1


@pytest.mark.parametrize("name", ["scan", "keys", "dbsize", "ping", "hello", "select"])
def test_keyless_specs_have_no_key_positions(name: str) -> None:
    """Commands without keys declare 0, 0, 0."""
    spec = DECLARATIONS[name]
    assert (spec.first_key, spec.last_key, spec.step) == (0, 0, 0)


def test_set_syntax_matches_the_wire_contract() -> None:
    """SET's usage string is the one in the design."""
    assert DECLARATIONS["set"].syntax == (
        "SET key value [FROM ns] [TTL duration | EX seconds | PX milliseconds"
        " | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL] [NX | XX] [GET]"
        " [AS STRING | INT | BOOL]"
    )


@pytest.mark.parametrize("name", ["hello", "quit"])
def test_handshake_commands_are_allowed_before_auth(name: str) -> None:
    """HELLO and QUIT carry Redis's no_auth flag."""
    assert "no_auth" in DECLARATIONS[name].flags


# --- the classes ------------------------------------------------------------------------------


def test_every_command_class_is_produced_by_the_grammar() -> None:
    """Each Command subclass is the result of some minimal argv."""
    produced = {type(parse(line)) for line in [*MINIMAL.values(), *OTHER_FORMS]}
    assert set(COMMAND_CLASSES) == produced


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_minimal_argv_parses_to_a_declared_form(name: str) -> None:
    """What a declaration's parser returns is one of the forms it declares."""
    top = name.partition("|")[0] if name in CONTAINERS else name
    produced = type(parse(MINIMAL[name]))
    assert produced in ALL_SPECS[name].forms or any(produced in sub.forms for sub in ALL_SPECS[top].subcommands)


@pytest.mark.parametrize("line", OTHER_FORMS)
def test_other_forms_are_declared_by_their_command(line: str) -> None:
    """The second shapes of a command (LSET k 0 x, SNAPSHOT STATUS...) are declared forms too."""
    words = line.lower().split()
    name = f"{words[0]}|{words[1]}" if DECLARATIONS[words[0]].subcommands else words[0]
    assert type(parse(line)) in ALL_SPECS[name].forms


def test_declared_forms_are_the_command_classes() -> None:
    """Every form class is declared by some command, and declarations name no other class."""
    declared = {form for declaration in ALL_SPECS.values() for form in declaration.forms}
    assert declared == set(COMMAND_CLASSES)


@pytest.mark.parametrize("cls", COMMAND_CLASSES, ids=lambda cls: cls.__name__)
def test_command_classes_are_frozen_and_slotted(cls: type[Command]) -> None:
    """Commands are immutable attrs classes without a __dict__."""
    assert attrs.has(cls)
    assert "__dict__" not in dir(cls)
    assert cls.__setattr__ is not object.__setattr__


@pytest.mark.parametrize("cls", COMMAND_CLASSES, ids=lambda cls: cls.__name__)
def test_command_name_is_a_spec(cls: type[Command]) -> None:
    """Each class's name is a command or subcommand in the table."""
    assert cls.name in ALL_SPECS


def test_command_name_is_not_a_field() -> None:
    """name is a class attribute, not an init argument."""
    assert "name" not in {f.name for f in attrs.fields(Set)}


def test_assigning_a_field_raises() -> None:
    """A parsed command cannot be modified."""
    command = parse("GET k")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        command.key = b"other"  # type: ignore[attr-defined]


def test_set_defaults() -> None:
    """SET's optional fields default to no namespace, no TTL, no condition."""
    command = Set(b"k", b"v")
    assert (command.ns, command.ttl_ms, command.keep_ttl, command.condition) == (
        None, None, False, None
    )  # fmt: skip


def test_set_equality_tells_bool_from_int() -> None:
    """Set(k, True) differs from Set(k, 1) although True == 1 in Python."""
    assert Set(b"k", True) != Set(b"k", 1)


def test_set_equal_values_are_equal() -> None:
    """Two identical SETs compare and hash equal."""
    assert Set(b"k", 5, ns="a") == Set(b"k", 5, ns="a")
    assert hash(Set(b"k", 5, ns="a")) == hash(Set(b"k", 5, ns="a"))


def test_hset_equality_is_deep_and_typed() -> None:
    """Nested booleans and integers differ in HSET values."""
    assert Hset(b"k", {"a": [True]}) != Hset(b"k", {"a": [1]})


def test_hset_is_hashable() -> None:
    """A frozen HSET with a dict value can still be hashed."""
    assert hash(Hset(b"k", {"a": 1})) == hash(Hset(b"k", {"a": 1}))


def test_lset_equality_is_order_sensitive() -> None:
    """Lists with the same items in another order differ."""
    assert Lset(b"k", [1, 2]) != Lset(b"k", [2, 1])


def test_hello_password_hidden_from_repr() -> None:
    """repr(Hello) does not show the password."""
    assert "pw" not in repr(Hello(3, username=b"u", password=b"pw"))
