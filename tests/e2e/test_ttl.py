"""TTLs: an expired message is never served, and the reaper deletes it on time.

These tests use a mock clock that runs at real speed and can jump: a jump moves the server's time
(and the reaper's sleep) forward at once, so nothing waits for real seconds.
"""

import trio

from protocol.replies import SimpleString
from support import wait_reaped


async def test_expired_message_is_not_served(timed_server, client, clock):
    """Right after the deadline GET answers nil, before any reaping."""
    assert await client.command("SET", "k", "v", "PX", "1500") == SimpleString("OK")
    assert await client.command("GET", "k") == b"v"
    clock.jump(1.5)
    assert await client.command("GET", "k") is None
    assert await client.command("EXISTS", "k") == 0
    assert await client.command("TTL", "k") == -2


async def test_reaper_deletes_on_the_deadline(timed_server, client, clock):
    """After the deadline the reaper deletes the record, so DBSIZE drops."""
    await client.command("SET", "short", "v", "TTL", "2s", "FROM", "jobs")
    await client.command("SET", "long", "v", "TTL", "1h", "FROM", "jobs")
    assert await client.command("DBSIZE", "FROM", "jobs") == 2
    clock.jump(2)
    await wait_reaped(timed_server, 1)
    assert await client.command("DBSIZE", "FROM", "jobs") == 1
    assert await client.command("GET", "long", "FROM", "jobs") == b"v"


async def test_sooner_deadline_wakes_the_reaper(timed_server, client, clock):
    """A reaper asleep until a far deadline is woken by a write with a sooner one."""
    await client.command("SET", "far", "v", "TTL", "1d")
    await trio.testing.wait_all_tasks_blocked()
    await client.command("SET", "near", "v", "TTL", "1s")
    clock.jump(1)
    await wait_reaped(timed_server, 1)
    assert await client.command("EXISTS", "near", "far") == 1


async def test_ttl_units(timed_server, client, clock):
    """TTL accepts ms, s, m, h and d, bare numbers are seconds."""
    clock.rate = 0  # time stands still, so PTTL reads back exactly what was set
    expected = {"500ms": 500, "2": 2000, "3s": 3000, "2m": 120_000, "1h": 3_600_000, "1d": 86_400_000}
    for ttl, ms in expected.items():
        await client.command("SET", ttl, "v", "TTL", ttl)
        assert await client.command("PTTL", ttl) == ms


async def test_persist_saves_a_message_from_expiry(timed_server, client, clock):
    """PERSIST removes the deadline, so the message outlives it."""
    await client.command("SET", "k", "v", "EX", "5")
    assert await client.command("PERSIST", "k") == 1
    clock.jump(10)
    assert await client.command("GET", "k") == b"v"
