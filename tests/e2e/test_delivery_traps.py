"""Delayed delivery as a new user meets it (issue 16): a deadline already past delivers at once,
DEL takes back a due message, every namespace option resets, and one duration grammar everywhere.

A mock clock that runs at real speed and can jump drives the server's time (see test_delivery.py).
"""

from __future__ import annotations

import pytest
import trio
from attrs import evolve

from mi.config import NamespaceSettings, load_config
from protocol import CommandError
from protocol.replies import SimpleString
from support import IO_TIMEOUT, RawClient, as_map, make_config

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    jobs = NamespaceSettings(on_expire="deliver", lease=10.0)
    return evolve(make_config(tmp_path / "data"), namespaces={"jobs": jobs})


async def take(client: RawClient, ns: str = "jobs", *options) -> list[dict]:
    return [as_map(message) for message in await client.command("TAKE", "FROM", ns, *options)]


async def settings(client: RawClient, ns: str = "jobs") -> dict:
    return as_map(await client.command("NAMESPACE", "CONFIG", ns, "GET"))


async def info(client: RawClient, ns: str = "jobs") -> dict:
    return as_map(await client.command("NAMESPACE", "INFO", ns))


# --- every option resets; none where it means something --------------------------------------


async def test_reset_lease_goes_back_to_the_files_value(raw):
    """docs/delayed.md's own example: RESET lease after a SET lease at run time."""
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "lease", "5m") == OK
    assert (await settings(raw))[b"lease"] == b"300s"
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "RESET", "lease") == OK
    assert (await settings(raw))[b"lease"] == b"10s", "the file's lease again"


@pytest.mark.parametrize("option", ["on_expire", "default_ttl", "max_value_size", "max_keys", "rate", "burst",
                                    "lease", "max_attempts", "dead_letter", "webhook", "retry_backoff"])
async def test_every_option_resets_to_the_default(raw, option):
    """RESET answers OK for every option, set or not, and the default holds again."""
    before = await settings(raw, "fresh")
    assert await raw.command("NAMESPACE", "CONFIG", "fresh", "RESET", option) == OK, "never set: still fine"
    value = {"on_expire": "deliver", "dead_letter": "dead", "webhook": "http://127.0.0.1:9/x", "rate": "5"}.get(option, "7")
    assert await raw.command("NAMESPACE", "CONFIG", "fresh", "SET", option, value) == OK
    assert await settings(raw, "fresh") != before
    assert await raw.command("NAMESPACE", "CONFIG", "fresh", "RESET", option) == OK
    assert await settings(raw, "fresh") == before


async def test_reset_on_expire_stops_delivering(raw):
    """A namespace switched to deliver at run time goes back to dropping with RESET on_expire."""
    assert await raw.command("NAMESPACE", "CONFIG", "q", "SET", "on_expire", "deliver") == OK
    assert await take(raw, "q") == []
    assert await raw.command("NAMESPACE", "CONFIG", "q", "RESET", "on_expire") == OK
    reply = await raw.command("TAKE", "FROM", "q")
    assert isinstance(reply, CommandError) and "does not deliver" in reply.message


@pytest.mark.parametrize("option", ["lease", "retry_backoff", "on_expire"])
async def test_none_is_refused_where_it_means_nothing_and_names_reset(raw, option):
    """lease, retry_backoff and on_expire always have a value: none says to use RESET."""
    reply = await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", option, "none")
    assert isinstance(reply, CommandError)
    assert reply.message == f"{option} cannot be none (RESET {option} goes back to the file's value or the default)"


# --- one duration grammar: the wire, NAMESPACE CONFIG, the config file, the environment -------


async def test_days_work_in_namespace_config_as_in_commands(raw):
    """lease 1d is accepted at run time, as TAKE LEASE 1d and TTL 7d are on the wire."""
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "lease", "1d") == OK
    assert (await settings(raw))[b"lease"] == b"86400s"
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "retry_backoff", "1.5m") == OK
    assert (await settings(raw))[b"retry_backoff"] == b"90s"
    assert await raw.command("NAMESPACE", "CONFIG", "jobs", "SET", "default_ttl", "30d") == OK
    assert (await settings(raw))[b"default_ttl"] == b"2592000s", "seconds, never 2.592e+06s"
    assert await raw.command("SET", "k", "v", "FROM", "jobs", "TTL", "1.5h") == OK, "decimals on the wire too"
    assert 5395 <= await raw.command("TTL", "k", "FROM", "jobs") <= 5400
    assert await take(raw, "jobs", "LEASE", "1d") == []


def test_days_work_in_the_config_file_and_the_environment(tmp_path):
    """lease = "2d" in mi.toml and MI_..._LEASE=1d are read like the wire's durations."""
    file = tmp_path / "mi.toml"
    file.write_text('[namespaces.jobs]\non_expire = "deliver"\nlease = "2d"\nretry_backoff = "0.5s"\n')
    config = load_config(file, environ={})
    assert (config.namespaces["jobs"].lease, config.namespaces["jobs"].retry_backoff) == (172800.0, 0.5)
    config = load_config(file, environ={"MI_LIMITS_IDLE_TIMEOUT": "1d"})
    assert config.limits.idle_timeout == 86400.0
