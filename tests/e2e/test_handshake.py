"""What stock clients send when they connect, and the server commands tools use."""

from protocol.errors import CommandError
from protocol.replies import SimpleString


async def test_hello_3_switches_to_resp3(raw):
    """HELLO 3 answers a map describing the server, and later replies are RESP3."""
    reply = await raw.command("HELLO", "3")
    assert reply[b"server"] == b"mi" and reply[b"proto"] == 3 and reply[b"mode"] == b"standalone"
    await raw.command("SET", "flag", "true")
    assert await raw.command("GET", "flag") is True


async def test_hello_without_version_keeps_resp2(raw):
    """HELLO alone describes the server in the current protocol (a flat array in RESP2)."""
    reply = await raw.command("HELLO")
    fields = dict(zip(reply[::2], reply[1::2]))
    assert fields[b"proto"] == 2


async def test_hello_with_unknown_version_is_noproto(raw):
    """Only protocols 2 and 3 exist."""
    assert await raw.command("HELLO", "4") == CommandError("NOPROTO", "unsupported protocol version")


async def test_client_name_round_trip(r2):
    """CLIENT SETNAME / GETNAME, as redis-py's client_setname does."""
    replies = await r2.on_one_connection(("CLIENT", "SETNAME", "worker-1"), ("CLIENT", "GETNAME"))
    assert replies == [b"OK", b"worker-1"]


async def test_client_ids_are_distinct(port):
    """Each connection has its own CLIENT ID."""
    from support import RawClient

    a, b = await RawClient.connect(port), await RawClient.connect(port)
    ids = {await a.command("CLIENT", "ID"), await b.command("CLIENT", "ID")}
    assert len(ids) == 2 and all(isinstance(i, int) for i in ids)
    await a.aclose()
    await b.aclose()


async def test_client_setinfo_is_accepted(raw):
    """redis-py sends CLIENT SETINFO LIB-NAME/LIB-VER on connect."""
    assert await raw.command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == SimpleString("OK")
    assert await raw.command("CLIENT", "SETINFO", "LIB-VER", "5.0") == SimpleString("OK")
    assert b"lib-name=redis-py" in await raw.command("CLIENT", "INFO")


async def test_command_count_and_info(raw):
    """COMMAND COUNT matches COMMAND's table, and COMMAND INFO describes GET."""
    count = await raw.command("COMMAND", "COUNT")
    table = await raw.command("COMMAND")
    assert count == len(table)
    assert {b"set", b"hset", b"lset", b"get", b"del", b"namespaces", b"hello"} <= {c[0] for c in table}
    (get,) = await raw.command("COMMAND", "INFO", "get")
    assert get[0] == b"get" and get[1] == -2


async def test_command_docs_has_the_fields_redis_cli_reads(raw):
    """COMMAND DOCS gives summary, since and group for each command."""
    await raw.command("HELLO", "3")
    docs = await raw.command("COMMAND", "DOCS", "set")
    assert set(docs[b"set"]) >= {b"summary", b"since", b"group"}


async def test_command_getkeys_answers_the_keys_of_a_command(raw):
    """COMMAND GETKEYS answers the keys a command touches, as cluster clients ask before routing."""
    assert await raw.command("COMMAND", "GETKEYS", "DEL", "a", "b", "FROM", "ns") == [b"a", b"b"]
    assert await raw.command("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert await raw.command("COMMAND", "GETKEYS", "SET", "k", "v", "EX", "10") == [b"k"]


async def test_command_getkeys_refuses_as_redis_does(raw):
    """An unknown command, one without keys, and a wrong arity answer Redis's texts."""
    assert await raw.command("COMMAND", "GETKEYS", "NOSUCH") == CommandError("ERR", "Invalid command specified")
    assert await raw.command("COMMAND", "GETKEYS", "PING") == CommandError("ERR", "The command has no key arguments")
    assert await raw.command("COMMAND", "GETKEYS", "GET") == CommandError(
        "ERR", "Invalid number of arguments specified for command"
    )


async def test_command_info_lists_getkeys_under_command(raw):
    """COMMAND INFO command shows GETKEYS among its subcommands."""
    (command,) = await raw.command("COMMAND", "INFO", "command")
    assert b"command|getkeys" in {sub[0] for sub in command[9]}


async def test_config_get_answers_what_benchmarks_ask(r2):
    """CONFIG GET works with patterns, as redis-benchmark and redis-py use it."""
    assert await r2.config_get("appendonly") == {"appendonly": "no"}
    assert (await r2.config_get("appendfsync"))["appendfsync"] == "always"
    assert "maxclients" in await r2.config_get("max*")


async def test_info_sections(r2):
    """INFO has server, clients and keyspace sections redis-py can parse."""
    await r2.execute_command("SET", "k", "v", "EX", "100", "FROM", "metrics")
    info = await r2.info()
    assert info["redis_mode"] == "standalone" and info["connected_clients"] >= 1
    assert info["db1"]["keys"] == 1 and info["db1"]["expires"] == 1 and info["db1"]["ns"] == "metrics"
    assert "__raw__" not in info, "every line parsed"
    assert set(await r2.info("clients")) == {"connected_clients", "blocked_clients", "maxclients"}


async def test_ping_and_echo(r3, raw):
    """PING answers PONG or its argument; ECHO its argument."""
    assert await r3.ping() is True
    assert await r3.echo("hello") == b"hello"
    assert await raw.command("PING", "hi") == b"hi"  # redis-py turns any PING reply into a bool
