"""Keys, namespaces and TTLs, driven by redis-py."""

import redis
import trio


async def test_set_and_get_in_a_named_namespace(r2):
    """The headline commands: SET k v FROM ns, GET k FROM ns."""
    assert await r2.execute_command("SET", "k", "v", "FROM", "orders") is True  # redis-py maps +OK
    assert await r2.execute_command("GET", "k", "FROM", "orders") == b"v"


async def test_namespaces_are_isolated(r2):
    """The same key in two namespaces holds two messages."""
    await r2.execute_command("SET", "k", "one", "FROM", "a")
    await r2.execute_command("SET", "k", "two", "FROM", "b")
    assert await r2.execute_command("GET", "k", "FROM", "a") == b"one"
    assert await r2.execute_command("GET", "k", "FROM", "b") == b"two"
    assert await r2.get("k") is None  # the default namespace has no such key


async def test_select_switches_the_connection_namespace(r2):
    """After SELECT ns, commands without FROM use ns."""
    await r2.execute_command("SET", "k", "in-b", "FROM", "b")
    replies = await r2.on_one_connection(("SELECT", "b"), ("GET", "k"))
    assert replies == [b"OK", b"in-b"]


async def test_namespaces_lists_those_written(r2):
    """NAMESPACES lists every namespace that holds data, sorted."""
    await r2.execute_command("SET", "k", "1", "FROM", "zeta")
    await r2.execute_command("SET", "k", "1", "FROM", "alpha")
    assert await r2.execute_command("NAMESPACES") == [b"alpha", b"zeta"]


async def test_invalid_namespace_name_is_an_error(r2):
    """Namespace names are 1-64 of A-Za-z0-9_.:-."""
    try:
        await r2.execute_command("SET", "k", "v", "FROM", "no/slash")
    except redis.ResponseError as error:
        assert "invalid namespace name" in str(error)
    else:
        raise AssertionError("expected an error")


async def test_del_counts_removed_keys_across_shards(r2):
    """DEL removes keys wherever they live and counts only those that existed."""
    for i in range(20):
        await r2.set(f"key{i}", "v")
    assert await r2.delete(*[f"key{i}" for i in range(20)], "never-set") == 20
    assert await r2.exists(*[f"key{i}" for i in range(20)]) == 0


async def test_del_with_from(r2):
    """DEL k1 k2 FROM ns deletes in that namespace only."""
    await r2.execute_command("SET", "k1", "v", "FROM", "x")
    await r2.set("k1", "v")
    assert await r2.execute_command("DEL", "k1", "k2", "FROM", "x") == 1
    assert await r2.get("k1") == b"v"


async def test_exists_counts_each_argument(r2):
    """EXISTS counts repeated keys each time, as Redis does."""
    await r2.set("a", "1")
    assert await r2.exists("a", "a", "b") == 2


async def test_ttl_and_pttl_report_remaining_time(r2):
    """TTL in seconds, PTTL in milliseconds; -1 without TTL, -2 when missing."""
    await r2.execute_command("SET", "k", "v", "TTL", "1h")
    await r2.set("forever", "v")
    assert 3590 <= await r2.ttl("k") <= 3600
    assert 3_590_000 <= await r2.pttl("k") <= 3_600_000
    assert await r2.ttl("forever") == -1
    assert await r2.ttl("missing") == -2


async def test_set_without_ttl_clears_the_old_one(r2):
    """A plain SET replaces the message and its TTL, as in Redis."""
    await r2.set("k", "v", ex=100)
    await r2.set("k", "w")
    assert await r2.ttl("k") == -1


async def test_keepttl_keeps_the_old_ttl(r2):
    """SET ... KEEPTTL keeps the deadline."""
    await r2.set("k", "v", ex=100)
    await r2.set("k", "w", keepttl=True)
    assert 90 <= await r2.ttl("k") <= 100


async def test_nx_and_xx_conditions(r2):
    """NX sets only a missing key, XX only an existing one."""
    assert await r2.set("k", "1", xx=True) is None
    assert await r2.set("k", "1", nx=True) is True
    assert await r2.set("k", "2", nx=True) is None
    assert await r2.set("k", "3", xx=True) is True
    assert await r2.execute_command("GET", "k") == b"3"


async def test_expire_persist_cycle(r2):
    """EXPIRE sets a TTL, PERSIST removes it; both answer 1 when they changed something."""
    await r2.set("k", "v")
    assert await r2.expire("k", 100) is True
    assert 90 <= await r2.ttl("k") <= 100
    assert await r2.persist("k") is True
    assert await r2.persist("k") is False
    assert await r2.ttl("k") == -1
    assert await r2.expire("missing", 100) is False


async def test_pexpire_and_expire_conditions(r2):
    """PEXPIRE sets milliseconds; NX/XX/GT/LT follow Redis."""
    await r2.set("k", "v")
    assert await r2.pexpire("k", 50_000) is True
    assert await r2.expire("k", 10, nx=True) is False
    assert await r2.expire("k", 10, gt=True) is False
    assert await r2.expire("k", 10, lt=True) is True
    assert await r2.ttl("k") == 10


async def test_expire_in_the_past_deletes(r2):
    """A non-positive EXPIRE deletes the key, as in Redis."""
    await r2.set("k", "v")
    assert await r2.expire("k", 0) is True
    assert await r2.exists("k") == 0


async def test_dbsize_counts_one_namespace(r2):
    """DBSIZE counts the current namespace, or the one named with FROM."""
    for i in range(5):
        await r2.execute_command("SET", f"k{i}", "v", "FROM", "five")
    await r2.set("other", "v")
    assert await r2.execute_command("DBSIZE", "FROM", "five") == 5
    assert await r2.dbsize() == 1


async def test_keys_matches_glob_patterns(r2):
    """KEYS returns the live keys matching a glob, across shards."""
    for name in ("user:1", "user:2", "order:1"):
        await r2.set(name, "v")
    assert sorted(await r2.keys("user:*")) == [b"user:1", b"user:2"]
    assert sorted(await r2.keys("*")) == [b"order:1", b"user:1", b"user:2"]


async def test_scan_iterates_every_key_once(r2):
    """redis-py's scan_iter walks the namespace completely, in pages."""
    names = {f"item:{i}".encode() for i in range(250)}
    pipe = r2.client.pipeline(transaction=False)
    for name in names:
        pipe.set(name, "v")
    await trio.to_thread.run_sync(pipe.execute)
    seen = await trio.to_thread.run_sync(lambda: list(r2.client.scan_iter(count=17)))
    assert sorted(seen) == sorted(names)


async def test_scan_match_and_from(r2):
    """SCAN ... MATCH p FROM ns filters by pattern within a namespace."""
    for i in range(30):
        await r2.execute_command("SET", f"a{i}", "v", "FROM", "scanned")
        await r2.execute_command("SET", f"b{i}", "v", "FROM", "scanned")
    cursor, found = 0, []
    for _ in range(1000):  # a bound, so a cursor that never returns to 0 fails instead of hanging
        cursor, page = await r2.execute_command("SCAN", cursor, "MATCH", "a*", "COUNT", 7, "FROM", "scanned")
        found += page
        if cursor == 0:  # redis-py parses the cursor into an int
            break
    assert sorted(found) == sorted(f"a{i}".encode() for i in range(30))


async def test_scan_with_unknown_cursor_is_an_error(r2):
    """A cursor the server never gave out answers ERR invalid cursor."""
    try:
        await r2.execute_command("SCAN", "12345")
    except redis.ResponseError as error:
        assert str(error) == "invalid cursor"
    else:
        raise AssertionError("expected an error")
