"""Passwords, users, permissions and protected mode, without a server."""

from __future__ import annotations

import threading
import time

import pytest
import trio

from mi.policy.auth import (
    FULL_ACCESS,
    MAX_CONCURRENT_CHECKS,
    MAX_CONCURRENT_CHECKS_PER_USER,
    Authenticator,
    ProtectedModeError,
    User,
    check_listening,
    check_password,
    denied,
    hash_password,
    returns_stored_data,
)
from mi.policy.auth_attempts import KNOWN_PEER_TTL, AuthAttempts
from mi.settings.config import AuthConfig, UserConfig
from protocol.commands import DECLARATIONS
from protocol.errors import CommandError
from protocol.grammar import parse_command
from protocol.request import Request


def command(*args: str):
    return parse_command(Request(tuple(a.encode() for a in args)))


def test_a_password_hash_is_salted_and_checks_only_the_right_password():
    line = hash_password("pw")
    assert line.startswith("scrypt$") and line != hash_password("pw")
    assert check_password(b"pw", line)
    assert not check_password(b"pW", line)
    assert not check_password(b"pw", "scrypt$garbage")
    assert not check_password(b"pw", "md5$1$2$3$4$5")


@pytest.mark.parametrize(
    ("host", "auth", "allowed"),
    [
        ("127.0.0.1", AuthConfig(), True),
        ("::1", AuthConfig(), True),
        ("localhost", AuthConfig(), True),
        ("0.0.0.0", AuthConfig(), False),
        ("10.1.2.3", AuthConfig(), False),
        ("0.0.0.0", AuthConfig(requirepass="pw"), True),
        ("0.0.0.0", AuthConfig(users={"a": UserConfig(password=hash_password("x"))}), True),
        ("0.0.0.0", AuthConfig(unprotected=True), True),
    ],
)
def test_protected_mode(host, auth, allowed):
    if allowed:
        check_listening(host, auth)
    else:
        with pytest.raises(ProtectedModeError, match="--unprotected"):
            check_listening(host, auth)


def test_permissions_by_namespace_and_admin_flag():
    reader = User("r", read=(b"orders*",), write=())
    assert denied(reader, command("GET", "k", "FROM", "orders:eu"), "default") is None
    assert denied(reader, command("SET", "k", "v", "FROM", "orders:eu"), "default").prefix == "NOPERM"
    assert denied(reader, command("DBSIZE"), "orders") is None
    assert denied(reader, command("TAKE", "FROM", "orders"), "x").prefix == "NOPERM", "TAKE writes"
    assert denied(reader, command("JOURNAL", "0"), "orders").prefix == "NOPERM"
    assert denied(reader, command("PING"), "elsewhere") is None
    assert denied(FULL_ACCESS, command("SNAPSHOT"), "x") is None


# --- write permission does not read (issue 15, D11) ----------------------------------------------

# One form of every write command, and whether its reply carries stored data.
WRITE_FORMS = {
    "set": [("SET k v", False), ("SET k v GET", True)],
    "hset": [('HSET k {"f":1}', False), ("HSET k f 1", False)],
    "hmset": [("HMSET k f 1", False)],
    "lset": [('LSET k ["a"]', False), ("LSET k 0 a", False)],
    "del": [("DEL k", False)],
    "unlink": [("UNLINK k", False)],
    "expire": [("EXPIRE k 5", False)],
    "pexpire": [("PEXPIRE k 5", False)],
    "persist": [("PERSIST k", False)],
    "incr": [("INCR k", True)],
    "decr": [("DECR k", True)],
    "incrby": [("INCRBY k 0", True)],
    "decrby": [("DECRBY k 0", True)],
    "hdel": [("HDEL k f", False)],
    "hincrby": [("HINCRBY k f 0", True)],
    "hincrbyfloat": [("HINCRBYFLOAT k f 0.5", True)],
    "lpush": [("LPUSH k a", False)],
    "rpush": [("RPUSH k a", False)],
    "lpushx": [("LPUSHX k a", False)],
    "rpushx": [("RPUSHX k a", False)],
    "lpop": [("LPOP k", True)],
    "rpop": [("RPOP k 2", True)],
    "lrem": [("LREM k 0 a", False)],
    "ltrim": [("LTRIM k 0 1", False)],
    "mset": [("MSET k v", False)],
    "getdel": [("GETDEL k", True)],
    "getex": [("GETEX k PERSIST", True)],
    "rename": [("RENAME k k2", False)],
    "renamenx": [("RENAMENX k k2", False)],
    "copy": [("COPY k k2", True)],
    "flushns": [("FLUSHNS inbox", False)],
    "take": [("TAKE", True)],
    "ack": [("ACK inbox 0-1", False)],
    "nack": [("NACK inbox 0-1", False)],
    "extend": [("EXTEND inbox 0-1", False)],
    "kick": [("KICK inbox", False)],
    "setex": [("SETEX k 5 v", False)],
    "psetex": [("PSETEX k 5 v", False)],
    "setnx": [("SETNX k v", False)],
    "getset": [("GETSET k v", True)],
    "msetnx": [("MSETNX k v", False)],
    "append": [("APPEND k v", False)],
    "setrange": [("SETRANGE k 0 v", False)],
    "incrbyfloat": [("INCRBYFLOAT k 0", True)],
    "expireat": [("EXPIREAT k 5", False)],
    "pexpireat": [("PEXPIREAT k 5", False)],
    "flushdb": [("FLUSHDB", False)],
    "flushall": [("FLUSHALL", False)],
    "hsetnx": [("HSETNX k f v", False)],
    "linsert": [("LINSERT k BEFORE p v", False)],
    "lmove": [("LMOVE k k2 LEFT LEFT", True)],
    "rpoplpush": [("RPOPLPUSH k k2", True)],
    "blpop": [("BLPOP k 0", True)],
    "blmpop": [("BLMPOP 0 1 k LEFT", True)],
    "lmpop": [("LMPOP 1 k LEFT", True)],
    "brpop": [("BRPOP k 0", True)],
    "blmove": [("BLMOVE k k2 LEFT LEFT 0", True)],
    "brpoplpush": [("BRPOPLPUSH k k2 0", True)],
}


def test_every_write_command_is_listed_with_whether_it_answers_with_stored_data():
    """A new write command must be added here, with its decision."""
    writes = {declaration.name for declaration in DECLARATIONS.values() if "write" in declaration.flags}
    assert writes == set(WRITE_FORMS)


# FLUSHALL needs write on every namespace (below), so no single namespace's rights decide it.
@pytest.mark.parametrize(("form", "reads"), [form for name, forms in WRITE_FORMS.items() if name != "flushall" for form in forms])
def test_a_write_that_answers_with_stored_data_needs_read_too(form, reads):
    writer = User("w", read=(b"mine",), write=(b"inbox",))
    parsed = command(*form.split(" ", 2) if form.startswith("HSET k {") else form.split())
    assert returns_stored_data(parsed) is reads
    refusal = denied(writer, parsed, "inbox")
    if reads:
        assert refusal is not None and refusal.message == "this user has no permissions to access the 'inbox' namespace"
    else:
        assert refusal is None, "write permission is enough"
    both = User("rw", read=(b"inbox",), write=(b"inbox",))
    assert denied(both, parsed, "inbox") is None


def test_flushall_needs_write_on_every_namespace():
    """A user who may write only some namespaces must not empty the others; FLUSHDB empties only
    the namespace it names, checked as any write."""
    some = User("some", read=(b"*",), write=(b"inbox", b"jobs*"))
    refusal = denied(some, command("FLUSHALL"), "inbox")
    assert refusal == CommandError("NOPERM", "this user has no permissions to run the 'flushall' command, which writes every namespace")
    assert denied(some, command("FLUSHDB"), "inbox") is None
    assert denied(some, command("FLUSHDB", "FROM", "jobs1"), "inbox") is None
    assert denied(some, command("FLUSHDB"), "other").prefix == "NOPERM"
    writes_all = User("all", read=(), write=(b"*",))
    assert denied(writes_all, command("FLUSHALL", "ASYNC"), "x") is None, "no read needed: the reply is OK"


def test_take_from_several_namespaces_needs_rights_on_each():
    user = User("u", read=(b"jobs",), write=(b"jobs",))
    assert denied(user, command("TAKE", "FROM", "jobs"), "x") is None
    refusal = denied(user, command("TAKE", "FROM", "jobs", "mail", "COUNT", "2"), "x")
    assert refusal == CommandError("NOPERM", "this user has no permissions to access the 'mail' namespace")


def test_copy_reads_its_source_and_writes_its_target():
    user = User("u", read=(b"src",), write=(b"dst",))
    assert denied(user, command("COPY", "a", "b", "FROM", "src", "TO", "dst"), "x") is None
    assert denied(user, command("COPY", "a", "b", "FROM", "dst", "TO", "dst"), "x").prefix == "NOPERM"
    assert denied(user, command("COPY", "a", "b", "FROM", "src", "TO", "src"), "x").prefix == "NOPERM"
    assert denied(user, command("COPY", "a", "b"), "src").prefix == "NOPERM", "no TO: the source is the target"


# --- admin and read (D12) ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["JOURNAL 0", "MONITOR", "SNAPSHOT", "SNAPSHOT TO x", "SLOWLOG GET"])
def test_commands_that_show_every_namespace_need_admin_and_read_everywhere(form):
    assert denied(User("a", read=(b"a*",), admin=True), command(*form.split()), "a").prefix == "NOPERM"
    assert denied(User("b", read=(b"*",), write=(), admin=True), command(*form.split()), "a") is None
    assert denied(User("c"), command(*form.split()), "a").prefix == "NOPERM", "not an admin"


@pytest.mark.parametrize("form", ["SNAPSHOT STATUS", "SLOWLOG LEN", "CLIENT LIST", "CONFIG GET port"])
def test_operator_commands_that_show_no_data_need_admin_only(form):
    assert denied(User("a", read=(), write=(), admin=True), command(*form.split()), "a") is None


# --- an empty password (D14) ---------------------------------------------------------------------


def test_an_empty_requirepass_is_refused():
    with pytest.raises(ValueError, match="empty password"):
        AuthConfig(requirepass="")


# --- failed attempts (D9) ------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def attempts(**limits) -> tuple[AuthAttempts, FakeClock]:
    clock = FakeClock()
    config = AuthConfig(requirepass="pw", **{"max_failures": 3, "max_user_failures": 5, "lockout": 60.0, **limits})
    return AuthAttempts(config, clock), clock


def fail(ledger: AuthAttempts, host: str, user: str = "alice") -> None:
    ledger.failed(ledger.reserve(host, user))


def test_attempts_in_flight_count_before_their_check():
    ledger, _ = attempts()
    pending = [ledger.reserve("10.0.0.1", "alice") for _ in range(3)]
    with pytest.raises(CommandError, match="from this address"):
        ledger.reserve("10.0.0.1", "alice")
    ledger.succeeded(pending[0])
    ledger.abandoned(pending[1])  # cancelled: counts as nothing
    ledger.failed(pending[2])
    ledger.reserve("10.0.0.1", "alice")


def test_an_address_is_locked_out_per_user_until_the_lockout_ends():
    ledger, clock = attempts()
    for _ in range(3):
        fail(ledger, "10.0.0.1")
    with pytest.raises(CommandError, match="from this address; try again in 60 s"):
        ledger.reserve("10.0.0.1", "alice")
    ledger.reserve("10.0.0.1", "bob")  # another user from behind the same NAT
    ledger.reserve("10.0.0.2", "alice")
    clock.now += 60
    ledger.reserve("10.0.0.1", "alice")


def test_failures_older_than_the_window_are_forgotten():
    ledger, clock = attempts()
    for _ in range(2):
        fail(ledger, "10.0.0.1")
    clock.now += 61
    for _ in range(2):
        fail(ledger, "10.0.0.1")
    ledger.reserve("10.0.0.1", "alice")


def test_the_users_budget_spans_addresses_and_spares_addresses_that_logged_in():
    ledger, clock = attempts()
    ledger.succeeded(ledger.reserve("10.0.0.9", "alice"))
    for i in range(5):
        fail(ledger, f"10.0.1.{i}")
    with pytest.raises(CommandError, match="for this user"):
        ledger.reserve("10.0.2.1", "alice")
    ledger.succeeded(ledger.reserve("10.0.0.9", "alice"))  # known: never locked out by others
    ledger.reserve("10.0.2.1", "bob")
    clock.now += 60
    ledger.reserve("10.0.2.1", "alice")


def test_an_address_is_known_only_for_a_day():
    ledger, clock = attempts()
    ledger.succeeded(ledger.reserve("10.0.0.9", "alice"))
    clock.now += KNOWN_PEER_TTL
    for i in range(5):
        fail(ledger, f"10.0.1.{i}")
    with pytest.raises(CommandError, match="for this user"):
        ledger.reserve("10.0.0.9", "alice")


async def test_password_checks_run_a_few_at_a_time(monkeypatch):
    """However many AUTHs arrive, at most 2 checks per user and 8 in all run at once."""
    authenticator = Authenticator(AuthConfig(requirepass="pw", max_failures=1000, max_user_failures=1000))
    running: dict[str, int] = {}
    most: dict[str, int] = {}
    lock = threading.Lock()

    def check(name: str, password: bytes) -> None:
        with lock:
            running[name] = running.get(name, 0) + 1
            running["*"] = running.get("*", 0) + 1
            for key in (name, "*"):
                most[key] = max(most.get(key, 0), running[key])
        time.sleep(0.005)
        with lock:
            running[name] -= 1
            running["*"] -= 1

    monkeypatch.setattr(Authenticator, "_check", lambda self, name, password: check(name, password))
    monkeypatch.setattr("mi.policy.auth.SLOWDOWN_MAX", 0.0)

    async def guess(user: str, i: int) -> None:
        with pytest.raises(CommandError):
            await authenticator.authenticate(user.encode(), b"guess", f"10.0.{i}.1:5")

    async with trio.open_nursery() as nursery:
        for i in range(40):
            nursery.start_soon(guess, "alice", i)
            nursery.start_soon(guess, f"user{i}", i)
    assert most["alice"] == MAX_CONCURRENT_CHECKS_PER_USER
    assert most["*"] <= MAX_CONCURRENT_CHECKS
    assert authenticator.failures_total == 80
