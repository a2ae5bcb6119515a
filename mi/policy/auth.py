"""Who a connection is, and what it may touch: passwords, users, permissions, failed attempts.

Auth is on when ``auth.requirepass`` is set (the ``default`` user, full access) or any user is
configured (``[auth.users.NAME]``, with a salted scrypt hash from ``mi passwd``). Until a connection
authenticates it may only send AUTH, HELLO, PING and QUIT, in small requests. Failed attempts
are counted per (address, user) and per user, slowed, then refused for a while
(``mi.policy.auth_attempts``), and logged without the password. A command that returns stored data needs
read permission on its namespaces, one that changes them write permission (both, for GETDEL).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import ipaddress
import os
import time
from collections.abc import AsyncIterator, Callable
import attrs
import trio
from attrs import define, field, frozen

from mi.policy.auth_attempts import AuthAttempts
from mi.settings.config import AuthConfig
from mi.core.glob import compile_glob
from mi.observability.logs import get_logger
from protocol import errors
from protocol.commands import ALL_DECLARATIONS
from protocol.commands import (
    Ack,
    Append,
    Auth,
    Command,
    Copy,
    Del,
    Expire,
    Expireat,
    Extend,
    Flushall,
    Flushdb,
    Flushns,
    Hdel,
    Hello,
    Hset,
    HsetFields,
    Hsetnx,
    Journal,
    Kick,
    Linsert,
    Lrem,
    Lset,
    LsetIndex,
    Ltrim,
    Monitor,
    Mset,
    Msetnx,
    Nack,
    Persist,
    Ping,
    Psubscribe,
    Publish,
    PubsubChannels,
    PubsubNumpat,
    PubsubNumsub,
    Push,
    Quit,
    Rename,
    Select,
    Set,
    Setnx,
    Setrange,
    SlowlogGet,
    Snapshot,
    Subscribe,
)
from protocol.errors import CommandError
from protocol.parser import Limits

__all__ = [
    "FULL_ACCESS",
    "PRE_AUTH_COMMANDS",
    "PRE_AUTH_LIMITS",
    "Authenticator",
    "User",
    "access_of",
    "check_listening",
    "default_user",
    "denied",
    "is_admin",
    "namespaces_of",
    "hash_password",
    "returns_stored_data",
]

log = get_logger("mi.auth")

PRE_AUTH_COMMANDS = frozenset({Auth, Hello, Ping, Quit})
# Before authentication a peer may send only small requests (HELLO 3 AUTH u p SETNAME n is 7
# arguments), so it cannot make the server buffer megabytes.
PRE_AUTH_LIMITS = Limits(max_inline_size=4096, max_bulk_len=4096, max_array_len=16)
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SLOWDOWN_STEP = 0.05  # seconds added to each failed attempt's answer, per recent failure
SLOWDOWN_MAX = 1.0
MAX_CONCURRENT_CHECKS = 8  # password checks running at once, all users together
MAX_CONCURRENT_CHECKS_PER_USER = 2

def hash_password(password: str) -> str:
    """A salted scrypt hash line: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: bytes, stored: str) -> bool:
    """Whether ``password`` matches a ``hash_password`` line, in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(
            password, salt=base64.b64decode(salt, validate=True), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """For unknown users: the same work as a real check. Made at first use, not at import (an
    scrypt costs every process that imports mi, the command line's included, 0.1 s)."""
    return hash_password("not a password anyone has")


@frozen
class User:
    name: str
    read: tuple[bytes, ...] = (b"*",)  # namespace globs
    write: tuple[bytes, ...] = (b"*",)
    admin: bool = False
    rate: float | None = None  # ops/s, all its connections together
    burst: int | None = None

    @property
    def unrestricted(self) -> bool:
        """May do anything (the default user; then no command needs a check)."""
        return self.admin and self.read == (b"*",) and self.write == (b"*",)

    @property
    def writes_every_namespace(self) -> bool:
        """Its write globs include ``*`` (what FLUSHALL needs)."""
        return b"*" in self.write

    @property
    def reads_every_namespace(self) -> bool:
        """Its read globs include ``*`` (what JOURNAL, MONITOR, SNAPSHOT and SLOWLOG GET need)."""
        return b"*" in self.read

    def may(self, ns: str, *, write: bool) -> bool:
        patterns = self.write if write else self.read
        name = ns.encode()
        return any(compile_glob(pattern)(name) for pattern in patterns)


FULL_ACCESS = User("default", admin=True)


def default_user(config: AuthConfig) -> User:
    """The ``default`` user: full access, with the configured rate limit."""
    return attrs.evolve(FULL_ACCESS, rate=config.rate, burst=config.burst)


def _flags(command: Command) -> tuple[str, ...]:
    declaration = ALL_DECLARATIONS.get(command.name)
    return declaration.flags if declaration is not None else ()


def is_admin(command: Command) -> bool:
    """An operator's command (SNAPSHOT, JOURNAL, NAMESPACE CONFIG, CONFIG GET)."""
    return "admin" in _flags(command)


# Writes whose reply tells nothing of what is stored (OK, a count, a length): write permission
# is enough. Every other write returns stored data (SET ... GET, GETDEL, GETEX, LPOP, INCRBY,
# HINCRBY, TAKE), so it needs read as well; a write command added later needs read until it is
# listed here.
_WRITE_ONLY = frozenset({
    Ack, Append, Del, Expire, Expireat, Extend, Flushall, Flushdb, Flushns, Hdel, Hset, HsetFields, Hsetnx, Kick,
    Linsert, Lrem, Lset, LsetIndex, Ltrim, Mset, Msetnx, Nack, Persist, Push, Rename, Setnx, Setrange,
})  # fmt: skip
# What shows every namespace's data at once (the journal, every command as it runs, a copy of
# the whole store, other clients' arguments): admin, and read on every namespace.
_READS_EVERY_NAMESPACE = frozenset({Journal, Monitor, Snapshot, SlowlogGet})
# What empties every namespace at once: write on every namespace (a user who may write only some
# must not empty the others; FLUSHDB and FLUSHNS empty one, checked as any write).
_WRITES_EVERY_NAMESPACE = frozenset({Flushall})
# Pub/sub channels are global, not in a namespace, so a user confined to some namespaces could use
# them to reach clients of the others: listening (and seeing which channels exist) needs read on
# every namespace, PUBLISH write on every namespace. (P)UNSUBSCRIBE is always allowed.
_LISTENS_TO_CHANNELS = frozenset({Subscribe, Psubscribe, PubsubChannels, PubsubNumsub, PubsubNumpat})


def returns_stored_data(command: Command) -> bool:
    """Whether the reply may carry stored values (then the command needs read permission)."""
    if "write" not in _flags(command):
        return True  # reads, and anything unflagged (WATCH tells whether a key changed)
    if isinstance(command, Set):
        return command.get
    return type(command) not in _WRITE_ONLY


def denied(user: User, command: Command, current_ns: str) -> CommandError | None:
    """Why ``user`` may not run ``command`` (None: it may)."""
    if user.unrestricted:
        return None
    if "admin" in _flags(command) and not user.admin:
        return errors.noperm_command(command.name)
    if type(command) in _READS_EVERY_NAMESPACE and not user.reads_every_namespace:
        return errors.noperm_every_namespace(command.name)
    if type(command) in _WRITES_EVERY_NAMESPACE and not user.writes_every_namespace:
        return errors.noperm_writes_every_namespace(command.name)
    if type(command) in _LISTENS_TO_CHANNELS and not user.reads_every_namespace:
        return errors.noperm_channels(command.name, "read")
    if type(command) is Publish and not user.writes_every_namespace:
        return errors.noperm_channels(command.name, "write")
    if isinstance(command, Select):  # names where later commands go, each checked itself: any
        # right will do, so a write-only producer may SELECT its namespace to RPUSH or MSET there
        allowed = user.may(command.ns, write=False) or user.may(command.ns, write=True)
        return None if allowed else errors.noperm_namespace(command.ns)
    for ns, read, write in access_of(command, current_ns):
        if (read and not user.may(ns, write=False)) or (write and not user.may(ns, write=True)):
            return errors.noperm_namespace(ns)
    return None


def access_of(command: Command, current_ns: str) -> list[tuple[str, bool, bool]]:
    """(namespace, needs read, needs write) for each namespace the command touches. COPY reads
    its source and writes its target (the source's namespace without TO)."""
    touched = namespaces_of(command, current_ns)
    if isinstance(command, Copy):
        return [(touched[0], True, False), (touched[-1], False, True)]
    write = "write" in _flags(command)
    read = returns_stored_data(command)
    return [(ns, read, write) for ns in touched]


@functools.cache
def _has_namespace(kind: type[Command]) -> bool:
    return "ns" in attrs.fields_dict(kind)


def namespaces_of(command: Command, current_ns: str) -> list[str]:
    """The namespaces a command touches: its FROM (or the connection's), a COPY's target, and the
    other namespaces of a TAKE FROM ns1 ns2 ...."""
    found = []
    if _has_namespace(type(command)):
        found.append(command.ns if command.ns is not None else current_ns)  # type: ignore[attr-defined]
    if getattr(command, "destination_ns", None) is not None:
        found.append(command.destination_ns)  # type: ignore[attr-defined]
    found.extend(getattr(command, "more_namespaces", ()))
    return found


@define(eq=False)
class Authenticator:
    """Checks passwords: a few at a time (scrypt costs 16 MiB and tens of ms each), each attempt
    counted against its budgets before its check (``mi.policy.auth_attempts``)."""

    config: AuthConfig
    clock: Callable[[], float] = time.monotonic
    failures_total: int = 0
    attempts: AuthAttempts = field(init=False)
    _checks: trio.CapacityLimiter = field(init=False)
    _per_user: dict[str, trio.CapacityLimiter] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.attempts = AuthAttempts(self.config, lambda: self.clock())
        self._checks = trio.CapacityLimiter(MAX_CONCURRENT_CHECKS)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    async def authenticate(self, username: bytes | None, password: bytes, peer: str) -> User:
        """The user ``username`` (None: default) if ``password`` is right; else ``CommandError``
        (WRONGPASS, slowed by recent failures, or refused while a budget is spent)."""
        if not self.enabled:  # as Redis's passwordless default user: any password, but name it
            if username is None:
                raise errors.auth_not_configured()
            if username != b"default":  # no other user exists
                raise errors.wrongpass()
            return default_user(self.config)
        host = peer.rsplit(":", 1)[0]
        name = "default" if username is None else username.decode("utf-8", "replace")
        attempt = self.attempts.reserve(host, name)  # before any await: parallel attempts count
        try:
            async with self._slot_for(attempt.user):  # a flood on one user keeps to its slots
                user = await trio.to_thread.run_sync(self._check, name, password, limiter=self._checks)
        except BaseException:
            self.attempts.abandoned(attempt)
            raise
        if user is not None:
            self.attempts.succeeded(attempt)
            log.info("auth.succeeded", peer=peer, user=name)
            return user
        recent = self.attempts.failed(attempt)
        self.failures_total += 1
        log.warning("auth.failed", peer=peer, user=name, recent_failures=recent)
        await trio.sleep(min(SLOWDOWN_STEP * recent, SLOWDOWN_MAX))  # only a failure waits
        raise errors.wrongpass()

    @contextlib.asynccontextmanager
    async def _slot_for(self, name: str) -> AsyncIterator[None]:
        limiter = self._per_user.setdefault(name, trio.CapacityLimiter(MAX_CONCURRENT_CHECKS_PER_USER))
        try:
            async with limiter:
                yield
        finally:
            if limiter.borrowed_tokens == 0 and limiter.statistics().tasks_waiting == 0:
                self._per_user.pop(name, None)

    def _check(self, name: str, password: bytes) -> User | None:
        """The user if the password is right (the same work whether or not the user exists)."""
        config = self.config
        if name == "default" and config.requirepass is not None:
            return default_user(config) if hmac.compare_digest(password, config.requirepass.encode()) else None
        user = config.users.get(name)
        if user is None or not user.enabled:
            check_password(password, _dummy_hash())
            return None
        if not check_password(password, user.password):
            return None
        return User(name, _globs(user.read), _globs(user.write), user.admin, user.rate, user.burst)


def check_listening(host: str, config: AuthConfig) -> None:
    """Protected mode: without auth, refuse to listen anywhere but loopback (unless unprotected)."""
    if config.enabled or config.unprotected or _is_loopback(host):
        return
    msg = (
        f"refusing to listen on {host} without authentication: anyone who can reach it could read"
        " and write every message. Set auth.requirepass (or --requirepass, MI_REQUIREPASS) or add"
        " users in [auth.users.NAME] (see docs/security.md); or listen on 127.0.0.1; or pass"
        " --unprotected to insist"
    )
    raise ProtectedModeError(msg)


class ProtectedModeError(ValueError):
    """The server would listen on a network without authentication."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _globs(patterns: list[str]) -> tuple[bytes, ...]:
    return tuple(pattern.encode() for pattern in patterns)
