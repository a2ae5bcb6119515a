"""Issue 15's authentication and authorisation cases over TCP: password guessing in parallel and
from rotating addresses (D9), write without read (D11), admin without read (D12), SNAPSHOT TO
targets (D13), an empty requirepass (D14), what NAMESPACES and INFO show (D18)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from attrs import evolve

from mi.policy.auth import hash_password
from mi.settings.config import AuthConfig, ConfigError, UserConfig, load_config
from protocol import CommandError
from protocol.replies import SimpleString
from storage.snapshot import check_snapshot
from support import RawClient, make_config

OK = SimpleString("OK")
PASSWORD = "default-pw"
MAX_FAILURES = 5
MAX_USER_FAILURES = 20
USERS = {
    "alice": ("alice-pw", {"read": ["mine"], "write": ["inbox", "mine"]}),
    "watcher": ("watcher-pw", {"read": ["a*"], "write": [], "admin": True}),
    "root": ("root-pw", {"admin": True}),
}


@pytest.fixture(scope="module")
def hashed_users() -> dict[str, UserConfig]:
    return {name: UserConfig(password=hash_password(pw), **rights) for name, (pw, rights) in USERS.items()}


@pytest.fixture
def config(tmp_path, hashed_users):
    auth = AuthConfig(requirepass=PASSWORD, users=hashed_users, max_failures=MAX_FAILURES,
                      max_user_failures=MAX_USER_FAILURES, lockout=60.0)
    return evolve(make_config(tmp_path / "data"), auth=auth)


def on_trio_clock(server) -> None:
    """The server's AUTH budgets on trio's clock (the test's ``clock``), so a test can jump past
    a lockout. The test must ask for ``clock`` itself, for pytest-trio to run on it."""
    server.state.auth.clock = trio.current_time


async def connect_from(port: int, source: str) -> RawClient:
    """A client whose connection comes from the loopback address ``source`` (127.0.0.x)."""
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return RawClient(trio.SocketStream(sock))


async def login(port: int, user: str, source: str = "127.0.0.1") -> RawClient:
    client = await connect_from(port, source)
    assert await client.command("AUTH", user, USERS[user][0]) == OK
    return client


def is_error(reply, prefix: str, text: str = "") -> bool:
    return isinstance(reply, CommandError) and reply.prefix == prefix and text in reply.message


async def auth_all(clients: list[RawClient], *args: str) -> list:
    """Send AUTH on every client at once; the replies, in order."""
    replies: list = [None] * len(clients)

    async def one(i: int) -> None:
        replies[i] = await clients[i].command("AUTH", *args)

    async with trio.open_nursery() as nursery:
        for i in range(len(clients)):
            nursery.start_soon(one, i)
    return replies


# --- D9: password guessing ----------------------------------------------------------------------


async def test_parallel_guesses_from_one_address_are_checked_at_most_max_failures_times(port, server):
    """200 connections send AUTH at once: only max_failures are checked, the rest refused unchecked."""
    clients = [await RawClient.connect(port) for _ in range(200)]
    replies = await auth_all(clients, "alice", "guess")
    checked = [r for r in replies if is_error(r, "WRONGPASS")]
    refused = [r for r in replies if is_error(r, "ERR", "too many failed authentications from this address")]
    assert len(checked) == MAX_FAILURES and len(refused) == 200 - MAX_FAILURES
    assert server.state.auth.failures_total == MAX_FAILURES
    assert is_error(await clients[0].command("AUTH", "alice", "alice-pw"), "ERR", "from this address")
    for client in clients:
        await client.aclose()


async def test_rotating_source_addresses_spend_the_users_budget(port, server):
    """Guesses spread over 40 addresses (each under its own limit) stop at max_user_failures."""
    clients = [await connect_from(port, f"127.0.0.{2 + i // 3}") for i in range(120)]  # 3 per address
    replies = await auth_all(clients, "alice", "guess")
    checked = sum(is_error(r, "WRONGPASS") for r in replies)
    assert checked == MAX_USER_FAILURES, f"{checked} guesses checked"
    assert all(is_error(r, "WRONGPASS") or is_error(r, "ERR", "for this user") for r in replies)
    fresh = await connect_from(port, "127.0.0.99")
    assert is_error(await fresh.command("AUTH", "alice", "guess"), "ERR", "too many failed authentications for this user")
    for client in [*clients, fresh]:
        await client.aclose()


async def test_one_addresss_lockout_leaves_other_users_and_other_addresses_alone(clock, server, port):
    """Behind one NAT address: guessing alice's password locks out only alice, only there."""
    on_trio_clock(server)
    guesser = await connect_from(port, "127.0.0.2")
    for _ in range(MAX_FAILURES):
        assert is_error(await guesser.command("AUTH", "alice", "guess"), "WRONGPASS")
    assert is_error(await guesser.command("AUTH", "alice", "alice-pw"), "ERR", "from this address")
    assert await guesser.command("AUTH", "root", "root-pw") == OK, "another user from the same address"
    assert await guesser.command("AUTH", PASSWORD) == OK
    await (await login(port, "alice", "127.0.0.3")).aclose()  # the right password from elsewhere
    clock.jump(61)
    assert await guesser.command("AUTH", "alice", "alice-pw") == OK, "after the lockout"
    await guesser.aclose()


async def test_a_flood_from_many_addresses_never_locks_out_an_address_that_logged_in_before(clock, server, port):
    """The user-wide lockout spares addresses that logged in as the user lately; others wait it out."""
    on_trio_clock(server)
    await (await login(port, "alice", "127.0.0.2")).aclose()
    clients = [await connect_from(port, f"127.0.0.{10 + i}") for i in range(MAX_USER_FAILURES)]
    replies = await auth_all(clients, "alice", "guess")
    assert all(is_error(r, "WRONGPASS") for r in replies)
    newcomer = await connect_from(port, "127.0.0.200")
    assert is_error(await newcomer.command("AUTH", "alice", "alice-pw"), "ERR", "for this user")
    await (await login(port, "alice", "127.0.0.2")).aclose()  # known: let in with the right password
    clock.jump(61)
    assert await newcomer.command("AUTH", "alice", "alice-pw") == OK, "once the lockout ends"
    for client in [*clients, newcomer]:
        await client.aclose()


# --- D11: write permission does not read ---------------------------------------------------------


async def test_write_without_read_cannot_read_stored_values(port):
    """alice may write inbox but not read it: every command that answers with inbox's data is refused."""
    root = await login(port, "root")
    for args in (("SET", "k", "secret"), ("LSET", "l", '["a", "b"]'), ("HSET", "h", '{"f": 7}'),
                 ("SET", "c", 41)):
        assert await root.command(*args, "FROM", "inbox") == OK
    alice = await login(port, "alice")
    for args in (
        ("SET", "k", "new", "FROM", "inbox", "GET"),
        ("GETDEL", "k", "FROM", "inbox"),
        ("GETEX", "k", "FROM", "inbox"),
        ("LPOP", "l", "FROM", "inbox"),
        ("RPOP", "l", "FROM", "inbox"),
        ("HINCRBY", "h", "f", 0, "FROM", "inbox"),
        ("INCRBY", "c", 0, "FROM", "inbox"),
        ("INCR", "c", "FROM", "inbox"),
        ("COPY", "k", "k2", "FROM", "inbox", "TO", "mine"),
        ("TAKE", "FROM", "inbox"),
    ):
        assert is_error(await alice.command(*args), "NOPERM", "'inbox' namespace"), args
    assert await alice.command("GET", "k2", "FROM", "mine") is None, "nothing was copied"
    assert await alice.command("SET", "k", "overwritten", "FROM", "inbox") == OK, "a plain write still works"
    assert await alice.command("SELECT", "inbox") == OK  # RPUSH takes no FROM: its tail is values
    assert await alice.command("RPUSH", "l", "c") == 3
    assert is_error(await alice.command("LRANGE", "l", 0, -1), "NOPERM", "'inbox' namespace"), "SELECT gave no read"
    assert is_error(await alice.command("SELECT", "other"), "NOPERM", "'other' namespace"), "no right at all there"
    assert await root.command("GET", "k", "FROM", "inbox") == b"overwritten"
    await alice.aclose()
    await root.aclose()


# --- D12: admin and read rights ------------------------------------------------------------------


async def test_an_admin_without_read_everywhere_cannot_read_through_operator_commands(port, tmp_path):
    """watcher is admin but reads only a*: JOURNAL, MONITOR, SNAPSHOT, SLOWLOG GET are refused."""
    root = await login(port, "root")
    assert await root.command("SET", "k", "secret", "FROM", "b") == OK
    watcher = await login(port, "watcher")
    assert is_error(await watcher.command("KEYS", "*", "FROM", "b"), "NOPERM")
    for args in (("JOURNAL", 0), ("SNAPSHOT",), ("SNAPSHOT", "TO", str(tmp_path / "s")), ("SLOWLOG", "GET"),
                 ("MONITOR",)):
        assert is_error(await watcher.command(*args), "NOPERM", "which reads every namespace"), args
    assert not (tmp_path / "s").exists()
    assert (await watcher.command("SNAPSHOT", "STATUS"))[1] == 0, "operator commands that show no data still work"
    assert await watcher.command("NAMESPACE", "CONFIG", "a1", "SET", "default_ttl", "1h") == OK
    journal = [entry for shard in range(4) for entry in await root.command("JOURNAL", shard)]
    assert any(b"secret" in entry for entry in journal), "an admin who reads everything may"
    await watcher.aclose()
    await root.aclose()


# --- D18: what NAMESPACES and INFO show ----------------------------------------------------------


async def test_namespaces_and_info_show_a_user_only_what_it_may_read(port):
    root = await login(port, "root")
    for ns in ("mine", "inbox", "other"):
        assert await root.command("SET", "k", "v", "FROM", ns) == OK
    alice = await login(port, "alice")
    assert await alice.command("NAMESPACES") == [b"mine"]
    info = (await alice.command("INFO")).decode()  # RESP2: verbatim text as a bulk string
    assert "db1:keys=1,expires=0,avg_ttl=0,ns=mine" in info and "inbox" not in info and "other" not in info
    assert "data_dir" not in info and "process_id" not in info and "config_file" not in info
    root_info = (await root.command("INFO", "server", "keyspace")).decode()
    assert f"process_id:{os.getpid()}" in root_info and "data_dir:" in root_info and ",ns=other" in root_info
    assert sorted(await root.command("NAMESPACES")) == [b"inbox", b"mine", b"other"]
    await alice.aclose()
    await root.aclose()


# --- D13: SNAPSHOT TO targets ---------------------------------------------------------------------


@pytest.fixture
def snapshot_config(tmp_path):
    config = make_config(tmp_path / "data")
    return evolve(config, snapshots=evolve(config.snapshots, dir=str(tmp_path / "snaps")))


async def test_snapshot_targets_outside_the_snapshot_dir_are_refused(nursery, snapshot_config, tmp_path):
    from mi.core.server import serve

    server = await nursery.start(serve, snapshot_config)
    client = await RawClient.connect(server.state.port)
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    (snaps / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    data = Path(snapshot_config.storage.data_dir)
    for target, why in (
        (str(tmp_path / "outside"), "outside the snapshot dir"),
        ("/etc/mi-snapshot", "outside the snapshot dir"),
        ("../outside", "'..'"),
        (str(snaps / "a" / ".." / ".." / "outside"), "'..'"),
        ("link/x", "symbolic link"),
        ("link", "symbolic link"),
        (str(data / "shard-0" / "x"), "outside the snapshot dir"),
        ("", "outside the snapshot dir"),
    ):
        reply = await client.command("SNAPSHOT", "TO", target)
        assert is_error(reply, "ERR", "snapshot refused") and why in reply.message, (target, reply)
    assert not (tmp_path / "outside").exists() and not list((tmp_path / "elsewhere").iterdir())
    reply = await client.command("SNAPSHOT", "TO", "nightly/one")
    assert reply == str(snaps / "nightly" / "one").encode(), "a relative name is inside the snapshot dir"
    check_snapshot(snaps / "nightly" / "one")
    assert await client.command("SET", "k", "v") == OK
    await client.aclose()


async def test_a_snapshot_dir_holding_the_data_dir_refuses_targets_inside_it(nursery, tmp_path):
    from mi.core.server import serve

    config = make_config(tmp_path / "data")  # the snapshot dir is tmp_path, the data dir inside it
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    for target in ("data/shard-0/snap", str(tmp_path / "data" / "snap"), "data"):
        reply = await client.command("SNAPSHOT", "TO", target)
        assert is_error(reply, "ERR", "inside the data dir"), (target, reply)
    await client.aclose()


async def test_a_snapshot_the_cap_has_no_room_for_is_refused(nursery, snapshot_config, tmp_path):
    from mi.core.server import serve

    config = evolve(snapshot_config, snapshots=evolve(snapshot_config.snapshots, max_bytes=1))
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    assert await client.command("SET", "k", "v") == OK
    reply = await client.command("SNAPSHOT", "TO", "one")
    assert is_error(reply, "ERR", "max_bytes"), reply
    reply = await client.command("SNAPSHOT")
    assert is_error(reply, "ERR", "max_bytes"), "the periodic and default snapshots too"
    assert not (tmp_path / "snaps" / "one").exists()
    await client.aclose()


async def test_mi_snapshot_with_a_relative_out_writes_into_the_servers_snapshot_dir(nursery, snapshot_config, tmp_path):
    from mi.core.server import serve

    server = await nursery.start(serve, snapshot_config)
    done = await trio.run_process(
        [sys.executable, "-m", "mi.tools.cli", "snapshot", "--port", str(server.state.port), "--out", "manual"],
        capture_stdout=True, check=False, cwd=tmp_path / "data",
    )
    assert done.returncode == 0
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["path"] == str(tmp_path / "snaps" / "manual")
    check_snapshot(tmp_path / "snaps" / "manual")


# --- D14: an empty requirepass ---------------------------------------------------------------------


def test_an_empty_requirepass_is_refused_at_startup(tmp_path):
    """``mi serve --requirepass ""`` stops with a clear message instead of accepting AUTH ""."""
    done = subprocess.run(
        [sys.executable, "-m", "mi.tools.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--requirepass", ""],
        capture_output=True, text=True, timeout=60, env={**os.environ, "MI_REQUIREPASS": "x"},
    )
    assert done.returncode == 2
    assert "requirepass" in done.stderr and "empty password" in done.stderr
    assert not (tmp_path / "data").exists(), "refused before opening anything"
    with pytest.raises(ConfigError, match="empty password"):
        load_config(None, environ={}, overrides={"requirepass": ""})


def test_an_empty_mi_requirepass_still_means_no_password():
    config = load_config(None, environ={"MI_REQUIREPASS": ""})
    assert config.auth.requirepass is None and not config.auth.enabled


def test_a_snapshot_bigger_than_the_free_space_is_refused(tmp_path):
    """Without a cap, the disk's free space bounds a snapshot: less free than the data, refused."""
    from mi.upkeep.snapshot_target import SnapshotRefused, check_room

    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(SnapshotRefused, match="bytes free"):
        check_room(tmp_path / "snap", free + 2**40, tmp_path, None, tmp_path / "data")
    check_room(tmp_path / "snap", 1, tmp_path, None, tmp_path / "data")
