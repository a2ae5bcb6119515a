"""Authentication and permissions over TCP: requirepass, named users, NOAUTH, WRONGPASS, NOPERM."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
import trio
from attrs import evolve

from mi.policy.auth import hash_password
from mi.settings.config import AuthConfig, UserConfig
from mi.core.server import serve
from protocol import CommandError
from protocol.replies import SimpleString
from support import RawClient, make_config

OK = SimpleString("OK")
PASSWORD = "s3cret-default"
ALICE = "alice-pw"


@pytest.fixture
def config(tmp_path):
    users = {
        "alice": UserConfig(password=hash_password(ALICE), read=["orders*"], write=["orders-w*"]),
        "root": UserConfig(password=hash_password("root-pw"), admin=True),
        "gone": UserConfig(password=hash_password("gone-pw"), enabled=False),
    }
    auth = AuthConfig(requirepass=PASSWORD, users=users, max_failures=3, lockout=60.0)
    return evolve(make_config(tmp_path / "data"), auth=auth)


def refused(reply, prefix: str, text: str = "") -> bool:
    return isinstance(reply, CommandError) and reply.prefix == prefix and text in reply.message


async def test_nothing_but_auth_hello_ping_quit_before_authenticating(raw):
    assert refused(await raw.command("SET", "k", "v"), "NOAUTH", "Authentication required.")
    assert refused(await raw.command("GET", "k"), "NOAUTH")
    assert await raw.command("PING") == SimpleString("PONG")
    assert refused(await raw.command("HELLO", "3"), "NOAUTH", "HELLO must be called with the client already authenticated")
    assert refused(await raw.command("AUTH", "wrong"), "WRONGPASS", "invalid username-password pair or user is disabled.")
    assert await raw.command("AUTH", PASSWORD) == OK
    assert await raw.command("SET", "k", "v") == OK
    assert await raw.command("GET", "k") == b"v"


async def test_hello_authenticates_and_switches_protocol(raw):
    reply = await raw.command("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "worker")
    assert reply[b"proto"] == 3
    assert await raw.command("CLIENT", "GETNAME") == b"worker"


async def test_redis_py_with_a_password_and_with_a_user(port):
    with redis.Redis(port=port, password=PASSWORD, socket_timeout=10) as client:
        await trio.to_thread.run_sync(client.execute_command, "SET", "k", "v")
    with redis.Redis(port=port, username="alice", password=ALICE, protocol=3, socket_timeout=10) as client:
        value = await trio.to_thread.run_sync(client.execute_command, "GET", "k", "FROM", "orders")
        assert value is None
    with redis.Redis(port=port, password="wrong", socket_timeout=10, retry=Retry(NoBackoff(), 0)) as client:
        with pytest.raises(redis.AuthenticationError):
            await trio.to_thread.run_sync(client.ping)


async def test_a_user_reaches_only_its_namespaces(raw):
    assert await raw.command("AUTH", "alice", ALICE) == OK
    assert await raw.command("SET", "k", "v", "FROM", "orders-w1") == OK
    assert await raw.command("GET", "k", "FROM", "orders-w1") == b"v"
    assert refused(await raw.command("SET", "k", "v", "FROM", "orders"), "NOPERM",
                   "this user has no permissions to access the 'orders' namespace")
    assert refused(await raw.command("GET", "k", "FROM", "billing"), "NOPERM", "'billing' namespace")
    assert refused(await raw.command("GET", "k"), "NOPERM", "'default' namespace"), "no FROM: the current one"
    assert refused(await raw.command("COPY", "k", "k2", "FROM", "orders-w1", "TO", "billing"), "NOPERM")
    assert refused(await raw.command("SNAPSHOT", "STATUS"), "NOPERM", "no permissions to run the 'snapshot' command")
    assert refused(await raw.command("NAMESPACE", "CONFIG", "orders-w1", "GET"), "NOPERM")
    assert await raw.command("MULTI") == OK
    assert refused(await raw.command("SET", "x", "1", "FROM", "billing"), "NOPERM")
    assert refused(await raw.command("EXEC"), "EXECABORT")


async def test_admin_and_disabled_users(raw):
    assert refused(await raw.command("AUTH", "gone", "gone-pw"), "WRONGPASS")
    assert refused(await raw.command("AUTH", "nobody", "x"), "WRONGPASS")
    assert await raw.command("AUTH", "root", "root-pw") == OK
    assert (await raw.command("SNAPSHOT", "STATUS"))[1] == 0  # in_progress


async def test_failed_attempts_lock_the_address_out_for_a_while(port, raw):
    for _ in range(3):
        assert refused(await raw.command("AUTH", "wrong"), "WRONGPASS")
    other = await RawClient.connect(port)  # another connection from the same address
    assert refused(await other.command("AUTH", PASSWORD), "ERR", "too many failed authentications")
    await other.aclose()


async def test_before_authentication_requests_must_be_small(port, raw):
    intruder = await RawClient.connect(port)
    await intruder.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n")  # a promise of 100 kB
    reply = await intruder.read_reply()
    assert isinstance(reply, CommandError) and "Protocol error" in reply.message
    assert await intruder.is_closed()
    assert await raw.command("AUTH", PASSWORD) == OK
    big = "x" * 100_000
    assert await raw.command("SET", "big", big) == OK, "after AUTH the usual limits apply"


async def test_without_auth_configured(nursery, tmp_path):
    server = await nursery.start(serve, make_config(tmp_path / "data"))
    client = await RawClient.connect(server.state.port)
    assert await client.command("SET", "k", "v") == OK
    assert refused(await client.command("AUTH", "pw"), "ERR", "without any password configured")
    assert await client.command("AUTH", "default", "anything") == OK  # as Redis's nopass default user
    assert refused(await client.command("AUTH", "alice", "anything"), "WRONGPASS")  # no such user
    await client.aclose()


async def test_acl_whoami_users_and_list_show_the_configured_users(raw):
    assert await raw.command("AUTH", "alice", ALICE) == OK
    assert await raw.command("ACL", "WHOAMI") == b"alice"
    assert refused(await raw.command("ACL", "LIST"), "NOPERM")  # an operator's command
    assert await raw.command("AUTH", "root", "root-pw") == OK
    assert await raw.command("ACL", "WHOAMI") == b"root"
    assert await raw.command("ACL", "USERS") == [b"default", b"alice", b"root", b"gone"]
    rules = await raw.command("ACL", "LIST")
    assert rules[0].startswith(b"user default on #") and rules[0].endswith(b" ~* &* +@all")
    assert rules[1:] == [
        b"user alice on #scrypt %R~orders* %W~orders-w* +@all -@admin",
        b"user root on #scrypt %R~* %W~* +@all",
        b"user gone off #scrypt %R~* %W~* +@all -@admin",
    ]


async def test_reset_deauthenticates(raw):
    assert await raw.command("AUTH", "alice", ALICE) == OK
    assert await raw.command("RESET") == SimpleString("RESET")
    assert refused(await raw.command("ACL", "WHOAMI"), "NOAUTH")  # the default user needs a password here
