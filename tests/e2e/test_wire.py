"""Framing, pipelining, bad input and many connections, over raw sockets."""

import trio

from protocol.errors import CommandError
from protocol.replies import SimpleString
from support import RawClient, resp_command

OK = SimpleString("OK")


async def test_inline_commands_work_like_nc(raw):
    """Inline text lines, as typed into nc or telnet, are commands."""
    assert await raw.inline(b"SET greeting hello FROM demo") == OK
    assert await raw.inline(b"GET greeting FROM demo") == b"hello"


async def test_inline_json_needs_no_quoting(raw):
    """An inline {...} or [...] token runs to its matching bracket, spaces and all."""
    assert await raw.inline(b'HSET user {"name": "Ada Lovelace", "tags": ["a b", "]"]}') == OK
    assert await raw.inline(b"LSET items [1, 2, [3, 4]]") == OK
    await raw.inline(b"HELLO 3")
    assert await raw.inline(b"GET user") == {b"name": b"Ada Lovelace", b"tags": [b"a b", b"]"]}
    assert await raw.inline(b"GET items") == [1, 2, [3, 4]]


async def test_quoted_inline_token_is_always_a_string(raw):
    """"42" in quotes is the string 42; bare 42 is an integer."""
    await raw.inline(b'SET quoted "42"')
    await raw.inline(b"SET bare 42")
    assert await raw.inline(b"TYPE quoted") == SimpleString("string")
    assert await raw.inline(b"TYPE bare") == SimpleString("integer")


async def test_inline_line_may_end_with_bare_newline(raw):
    """A line ended by \\n alone is accepted."""
    await raw.send(b"PING\n")
    assert await raw.read_reply() == SimpleString("PONG")


async def test_pipeline_of_1000_commands_answers_in_order(raw):
    """1000 pipelined commands in one write get 1000 replies in order."""
    batch = b"".join(resp_command("SET", f"k{i}", f"v{i}") + resp_command("GET", f"k{i}") for i in range(500))
    await raw.send(batch)
    for i in range(500):
        assert await raw.read_reply() == OK
        assert await raw.read_reply() == f"v{i}".encode()


async def test_request_split_across_many_writes(raw):
    """A request sent one byte at a time is parsed once complete."""
    for byte in resp_command("SET", "slow", "drip"):
        await raw.send(bytes([byte]))
    assert await raw.read_reply() == OK


async def test_wrong_arity_keeps_the_connection(raw):
    """An arity error is a reply, and the next command works."""
    reply = await raw.command("GET")
    assert reply == CommandError("ERR", "wrong number of arguments for 'get' command")
    assert await raw.command("PING") == SimpleString("PONG")


async def test_unknown_command_error_names_it(raw):
    """Unknown commands get Redis's error text."""
    reply = await raw.command("FROBNICATE", "a")
    assert reply == CommandError("ERR", "unknown command 'FROBNICATE', with args beginning with: 'a' ")


async def test_invalid_json_is_an_error_not_a_disconnect(raw):
    """Bad JSON gets a clear error and the connection lives on."""
    reply = await raw.command("HSET", "k", '{"a": }')
    assert isinstance(reply, CommandError) and reply.message.startswith("invalid JSON")
    assert await raw.command("PING") == SimpleString("PONG")


async def test_bad_duration_is_an_error(raw):
    """A TTL that is not a positive duration answers an error."""
    reply = await raw.command("SET", "k", "v", "TTL", "-5s")
    assert isinstance(reply, CommandError) and "invalid TTL" in reply.message


async def test_protocol_error_answers_then_closes(raw):
    """Broken framing answers -ERR Protocol error and closes the connection."""
    await raw.send(b"*1\r\n!3\r\nfoo\r\n")
    reply = await raw.read_reply()
    assert reply == CommandError("ERR", "Protocol error: expected '$', got '!'")
    assert await raw.is_closed()


async def test_commands_before_a_protocol_error_still_run(raw, port):
    """Complete commands that came before the bad bytes are executed and answered."""
    await raw.send(resp_command("SET", "before", "yes") + b"*x\r\n")
    assert await raw.read_reply() == OK
    assert isinstance(await raw.read_reply(), CommandError)
    other = await RawClient.connect(port)
    assert await other.command("GET", "before") == b"yes"
    await other.aclose()


async def test_bad_input_on_one_connection_does_not_disturb_another(port):
    """While one client sends garbage, another keeps working."""
    good = await RawClient.connect(port)
    bad = await RawClient.connect(port)
    await good.command("SET", "k", "v")
    await bad.send(b"*3\r\n$3\r\nSET\r\n$-7\r\n")
    assert isinstance(await bad.read_reply(), CommandError)
    assert await good.command("GET", "k") == b"v"
    await good.aclose()
    await bad.aclose()


async def test_oversized_value_is_rejected_cleanly(nursery, tmp_path):
    """A value over max_value_size gets an error naming the limit; the server goes on."""
    from mi.core.server import serve
    from support import make_config

    server = await nursery.start(serve, make_config(tmp_path / "d", max_value_size=1024))
    client = await RawClient.connect(server.state.port)
    reply = await client.command("SET", "big", "x" * 2000)
    assert isinstance(reply, CommandError) and "max_value_size" in reply.message
    assert await client.command("SET", "small", "x" * 100) == OK
    await client.aclose()


async def test_oversized_key_is_rejected(raw):
    """A key over the LMDB limit gets a clear error."""
    reply = await raw.command("SET", "k" * 600, "v")
    assert isinstance(reply, CommandError) and "key is 600 bytes" in reply.message


async def test_empty_key_is_rejected(raw):
    """LMDB cannot store an empty key; the client is told so."""
    reply = await raw.command("SET", "", "v")
    assert isinstance(reply, CommandError) and "empty" in reply.message


async def test_150_concurrent_connections(port):
    """150 clients writing and reading at once all get their own values back."""

    async def one_client(i: int) -> None:
        client = await RawClient.connect(port)
        assert await client.command("SET", f"c{i}", f"value-{i}", "FROM", "many") == OK
        assert await client.command("GET", f"c{i}", "FROM", "many") == f"value-{i}".encode()
        await client.aclose()

    async with trio.open_nursery() as nursery:
        for i in range(150):
            nursery.start_soon(one_client, i)
    check = await RawClient.connect(port)
    assert await check.command("DBSIZE", "FROM", "many") == 150
    await check.aclose()


async def test_quit_answers_ok_and_closes(raw):
    """QUIT replies +OK and the server closes the connection."""
    assert await raw.command("QUIT") == OK
    assert await raw.is_closed()


async def test_max_clients_rejects_the_extra_connection(nursery, tmp_path):
    """Past max_clients a connection is told so and closed; the others keep working."""
    from attrs import evolve

    from mi.core.server import serve
    from support import make_config

    config = make_config(tmp_path / "d")
    config = evolve(config, server=evolve(config.server, max_clients=2))
    server = await nursery.start(serve, config)
    first = await RawClient.connect(server.state.port)
    second = await RawClient.connect(server.state.port)
    assert await first.command("PING") == SimpleString("PONG")
    assert await second.command("PING") == SimpleString("PONG")
    third = await RawClient.connect(server.state.port)
    assert await third.read_reply() == CommandError("ERR", "max number of clients reached")
    assert await first.command("PING") == SimpleString("PONG")
    for client in (first, second, third):
        await client.aclose()


async def test_inline_hash_tag_key_and_bad_json_keep_the_connection(raw):
    """`{user}:1` typed inline is a key, and unbalanced JSON is a command error, not a disconnect."""
    assert await raw.inline(b"SET {user}:1 ada") == OK
    assert await raw.inline(b"GET {user}:1") == b"ada"
    reply = await raw.inline(b'HSET k {"a": [1}')
    assert isinstance(reply, CommandError) and reply.message.startswith("invalid JSON")
    assert await raw.inline(b"PING") == SimpleString("PONG")
