"""Who a connection is, and what it may touch: passwords, users, permissions, failed attempts.

Auth is on when ``auth.requirepass`` is set (the ``default`` user, full access) or any user is
configured (``[auth.users.NAME]``, with a salted scrypt hash from ``mi passwd``). Until a connection
authenticates it may only send AUTH, HELLO, PING and QUIT, in small requests. Failed attempts
from one address are slowed, then refused for a while, and logged without the password.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import os
import time
from collections import defaultdict, deque
from collections.abc import Callable
import attrs
import trio
from attrs import define, field, frozen

from mi.config import AuthConfig
from mi.glob import compile_glob
from mi.logs import get_logger
from protocol import errors
from protocol.command_specs import COMMAND_SPECS
from protocol.commands import Auth, Command, Hello, Ping, Quit
from protocol.errors import CommandError
from protocol.parser import Limits

__all__ = [
    "FULL_ACCESS",
    "PRE_AUTH_COMMANDS",
    "PRE_AUTH_LIMITS",
    "Authenticator",
    "User",
    "check_listening",
    "default_user",
    "denied",
    "is_admin",
    "namespaces_of",
    "hash_password",
]

log = get_logger("mi.auth")

PRE_AUTH_COMMANDS = frozenset({Auth, Hello, Ping, Quit})
# Before authentication a peer may send only small requests (HELLO 3 AUTH u p SETNAME n is 7
# arguments), so it cannot make the server buffer megabytes.
PRE_AUTH_LIMITS = Limits(max_inline_size=4096, max_bulk_len=4096, max_array_len=16)
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SLOWDOWN_STEP = 0.05  # seconds added to each failed attempt's answer, per recent failure
SLOWDOWN_MAX = 1.0
MAX_TRACKED_ADDRESSES = 10_000

_SPECS = {spec.name: spec for top in COMMAND_SPECS.values() for spec in (top, *top.subcommands)}


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


_DUMMY_HASH = hash_password("not a password anyone has")  # for unknown users: the same work


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

    def may(self, ns: str, *, write: bool) -> bool:
        patterns = self.write if write else self.read
        name = ns.encode()
        return any(compile_glob(pattern)(name) for pattern in patterns)


FULL_ACCESS = User("default", admin=True)


def default_user(config: AuthConfig) -> User:
    """The ``default`` user: full access, with the configured rate limit."""
    return attrs.evolve(FULL_ACCESS, rate=config.rate, burst=config.burst)


def _flags(command: Command) -> tuple[str, ...]:
    spec = _SPECS.get(command.name)
    return spec.flags if spec is not None else ()


def is_admin(command: Command) -> bool:
    """An operator's command (SNAPSHOT, JOURNAL, NAMESPACE CONFIG, CONFIG GET)."""
    return "admin" in _flags(command)


def denied(user: User, command: Command, current_ns: str) -> CommandError | None:
    """Why ``user`` may not run ``command`` (None: it may)."""
    if user.unrestricted:
        return None
    flags = _flags(command)
    if "admin" in flags and not user.admin:
        return errors.noperm_command(command.name)
    write = "write" in flags
    for ns in namespaces_of(command, current_ns):
        if not user.may(ns, write=write):
            return errors.noperm_namespace(ns)
    return None


@functools.cache
def _has_namespace(kind: type[Command]) -> bool:
    return "ns" in attrs.fields_dict(kind)


def namespaces_of(command: Command, current_ns: str) -> list[str]:
    """The namespaces a command touches: its FROM (or the connection's), and a COPY's target."""
    found = []
    if _has_namespace(type(command)):
        found.append(command.ns if command.ns is not None else current_ns)  # type: ignore[attr-defined]
    if getattr(command, "destination_ns", None) is not None:
        found.append(command.destination_ns)  # type: ignore[attr-defined]
    return found


@define
class _Failures:
    """Recent failed attempts from one address."""

    times: deque[float] = field(factory=deque)
    locked_until: float = 0.0


@define(eq=False)
class Authenticator:
    config: AuthConfig
    clock: Callable[[], float] = time.monotonic
    failures_total: int = 0
    _failures: dict[str, _Failures] = field(factory=lambda: defaultdict(_Failures))

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    async def authenticate(self, username: bytes | None, password: bytes, peer: str) -> User:
        """The user ``username`` (None: default) if ``password`` is right; else ``CommandError``
        (WRONGPASS, slowed by recent failures, or refused while the address is locked out)."""
        if not self.enabled:  # as Redis's passwordless default user: any password, but name it
            if username is None:
                raise errors.auth_not_configured()
            return default_user(self.config)
        host = peer.rsplit(":", 1)[0]
        record = self._failures[host]
        now = self.clock()
        if record.locked_until > now:
            raise errors.auth_locked_out(int(record.locked_until - now) + 1)
        name = "default" if username is None else username.decode("utf-8", "replace")
        user = await trio.to_thread.run_sync(self._check, name, password)
        if user is not None:
            self._failures.pop(host, None)
            log.info("auth.succeeded", peer=peer, user=name)
            return user
        recent = self._fail(record, host, now)
        log.warning("auth.failed", peer=peer, user=name, recent_failures=recent)
        await trio.sleep(min(SLOWDOWN_STEP * recent, SLOWDOWN_MAX))
        raise errors.wrongpass()

    def _check(self, name: str, password: bytes) -> User | None:
        """The user if the password is right (the same work whether or not the user exists)."""
        config = self.config
        if name == "default" and config.requirepass is not None:
            return default_user(config) if hmac.compare_digest(password, config.requirepass.encode()) else None
        user = config.users.get(name)
        if user is None or not user.enabled:
            check_password(password, _DUMMY_HASH)
            return None
        if not check_password(password, user.password):
            return None
        return User(name, _globs(user.read), _globs(user.write), user.admin, user.rate, user.burst)

    def _fail(self, record: _Failures, host: str, now: float) -> int:
        """Count a failure; lock the address out at max_failures. The failures in the window."""
        self.failures_total += 1
        window = self.config.failure_window
        if len(self._failures) > MAX_TRACKED_ADDRESSES:  # many addresses: forget the quiet ones
            for quiet in [h for h, r in self._failures.items() if r.locked_until < now and r is not record]:
                del self._failures[quiet]
        record.times.append(now)
        while record.times and record.times[0] < now - window:
            record.times.popleft()
        recent = len(record.times)
        if recent >= self.config.max_failures:
            record.locked_until = now + self.config.lockout
            record.times.clear()
            log.warning("auth.locked_out", peer=host, seconds=self.config.lockout)
        return recent


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
