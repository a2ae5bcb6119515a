"""Rate limits over TCP, with the server's limiter on a clock the test holds still."""

from __future__ import annotations

import pytest
from attrs import evolve

from mi.settings.config import AuthConfig, NamespaceSettings
from protocol import CommandError
from protocol.replies import SimpleString
from support import make_config

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    config = make_config(tmp_path / "data")
    return evolve(config, namespaces={"slow": NamespaceSettings(rate=2.0, burst=1)}, auth=AuthConfig(rate=100.0, burst=4))


@pytest.fixture
def frozen(server):
    now = [1000.0]
    server.state.rate_limits.clock = lambda: now[0]
    return now


def limited(reply) -> bool:
    return isinstance(reply, CommandError) and reply.message.startswith("rate limit exceeded (retry in")


async def test_a_namespace_rate_limit(raw, frozen):
    replies = [await raw.command("SET", f"k{i}", "v", "FROM", "slow") for i in range(4)]
    assert replies[:2] == [OK, OK] and all(limited(r) for r in replies[2:])
    assert replies[2].message == "rate limit exceeded (retry in 500 ms)"
    assert await raw.command("SET", "k", "v", "FROM", "elsewhere") == OK, "other namespaces are not limited"
    frozen[0] += 0.5
    assert await raw.command("GET", "k0", "FROM", "slow") == b"v"
    info = (await raw.command("INFO", "stats")).decode()
    assert "rejected_rate_limit:2" in info


async def test_the_default_users_rate_limit_covers_every_command(raw, frozen):
    replies = [await raw.command("PING") for _ in range(6)]
    assert replies[:5] == [SimpleString("PONG")] * 5 and limited(replies[5])


async def test_a_rate_set_at_run_time(raw, frozen):
    assert await raw.command("NAMESPACE", "CONFIG", "live", "SET", "rate", "1") == OK
    assert await raw.command("NAMESPACE", "CONFIG", "live", "SET", "burst", "0") == OK
    assert await raw.command("SET", "a", "1", "FROM", "live") == OK
    assert limited(await raw.command("SET", "b", "1", "FROM", "live"))
    assert await raw.command("NAMESPACE", "CONFIG", "live", "SET", "rate", "none") == OK, "never limited"
    frozen[0] += 1  # the default user's own limit (5 at once here) refills
    assert await raw.command("SET", "b", "1", "FROM", "live") == OK


async def test_a_command_a_namespace_refuses_costs_the_user_nothing(raw, frozen):
    """All or nothing: two SETs the namespace refuses leave the user's five-at-once budget at three."""
    replies = [await raw.command("SET", f"k{i}", "v", "FROM", "slow") for i in range(4)]
    assert [limited(r) for r in replies] == [False, False, True, True]
    pings = [await raw.command("PING") for _ in range(4)]
    assert pings[:3] == [SimpleString("PONG")] * 3 and limited(pings[3])
