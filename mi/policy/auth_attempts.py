"""Failed AUTHs, counted so that guessing stays slow however a client spreads its guesses.

Two budgets, each a count of failures within ``failure_window``:

* per (address, user): ``max_failures``, then that address is refused for that user for
  ``lockout``. Other users behind the same address (a NAT) are not held back by it.
* per user, from every address together: ``max_user_failures``, then the user is refused for
  ``lockout`` from every address that has not logged in as it lately, so rotating source
  addresses does not buy more guesses. An address that logged in as the user within
  ``KNOWN_PEER_TTL`` is exempt, so a flood of wrong passwords from elsewhere never locks the
  user's own clients out.

An attempt is counted *before* its password is checked (``reserve``), and settled after
(``succeeded``, ``failed``, ``abandoned``), so parallel attempts cannot all pass the check while
none has failed yet.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from attrs import define, field

from mi.settings.config import AuthConfig
from mi.observability.logs import get_logger
from protocol import errors

__all__ = ["Attempt", "AuthAttempts"]

log = get_logger("mi.auth")

MAX_TRACKED = 10_000  # failure records kept per table; the quiet ones go first
KNOWN_PEER_TTL = 24 * 3600.0  # seconds an address that logged in as a user stays exempt
MAX_KNOWN_PEERS = 10_000
MAX_NAME_CHARS = 128  # a user name as counted: an unknown one may be 4 KiB long


@define
class _Budget:
    """Recent failures of one (address, user), or of one user, and attempts not yet settled."""

    failures: deque[float] = field(factory=deque)
    pending: int = 0
    locked_until: float = 0.0

    def recent(self, now: float, window: float) -> int:
        while self.failures and self.failures[0] <= now - window:
            self.failures.popleft()
        return len(self.failures)

    def quiet(self, now: float, window: float) -> bool:
        return self.pending == 0 and self.locked_until <= now and self.recent(now, window) == 0

    def retry_in(self, now: float, window: float) -> int:
        """Whole seconds until this budget may admit another attempt (at least 1)."""
        until = self.locked_until if self.locked_until > now else (self.failures[0] + window if self.failures else now)
        return max(math.ceil(until - now), 1)


@define(frozen=True)
class Attempt:
    """One reserved attempt: which budgets it counts in."""

    host: str
    user: str


@define(eq=False)
class AuthAttempts:
    config: AuthConfig
    clock: Callable[[], float] = time.monotonic
    _by_peer: dict[tuple[str, str], _Budget] = field(factory=dict)
    _by_user: dict[str, _Budget] = field(factory=dict)
    _known: dict[tuple[str, str], float] = field(factory=dict)  # (host, user) -> last login

    def reserve(self, host: str, user: str) -> Attempt:
        """Count an attempt before its check; ``CommandError`` if a budget is spent (then nothing
        is counted, and the password must not be checked)."""
        user = user[:MAX_NAME_CHARS]
        now, config = self.clock(), self.config
        window = config.failure_window
        peer = self._budget(self._by_peer, (host, user), now)
        if peer.locked_until > now or peer.recent(now, window) + peer.pending >= config.max_failures:
            raise errors.auth_locked_out(peer.retry_in(now, window))
        everyone = self._budget(self._by_user, user, now)
        if not self._is_known(host, user, now) and (
            everyone.locked_until > now or everyone.recent(now, window) + everyone.pending >= config.max_user_failures
        ):
            raise errors.auth_user_locked_out(everyone.retry_in(now, window))
        peer.pending += 1
        everyone.pending += 1
        return Attempt(host, user)

    def succeeded(self, attempt: Attempt) -> None:
        """The right password: the address starts afresh for this user and is known from now on."""
        peer, everyone = self._settle(attempt)
        peer.failures.clear()
        peer.locked_until = 0.0
        key = (attempt.host, attempt.user)
        self._known.pop(key, None)  # re-inserted last: the dict's order is the age of the login
        self._known[key] = self.clock()
        while len(self._known) > MAX_KNOWN_PEERS:
            del self._known[next(iter(self._known))]

    def failed(self, attempt: Attempt) -> int:
        """A wrong password: counted in both budgets; the failures of this (address, user) in
        the window (before any lockout it starts)."""
        now, config = self.clock(), self.config
        peer, everyone = self._settle(attempt)
        recent = self._count_failure(peer, now, config.max_failures, attempt, "address")
        self._count_failure(everyone, now, config.max_user_failures, attempt, "user")
        return recent

    def _count_failure(self, budget: _Budget, now: float, limit: int, attempt: Attempt, scope: str) -> int:
        config = self.config
        budget.failures.append(now)
        recent = budget.recent(now, config.failure_window)
        if recent >= limit:
            budget.locked_until = now + config.lockout
            budget.failures.clear()
            log.warning("auth.locked_out", scope=scope, peer=attempt.host, user=attempt.user, seconds=config.lockout)
        return recent

    def abandoned(self, attempt: Attempt) -> None:
        """The check never ran to an answer (cancelled): the attempt counts as nothing."""
        self._settle(attempt)

    def _settle(self, attempt: Attempt) -> tuple[_Budget, _Budget]:
        peer, everyone = self._by_peer[(attempt.host, attempt.user)], self._by_user[attempt.user]
        peer.pending -= 1
        everyone.pending -= 1
        return peer, everyone

    def _is_known(self, host: str, user: str, now: float) -> bool:
        since = self._known.get((host, user))
        return since is not None and now - since < KNOWN_PEER_TTL

    def _budget(self, table: dict[Any, _Budget], key: Any, now: float) -> _Budget:
        """The budget of ``key``, made if new; a full table first forgets its quiet entries, then
        its oldest settled ones (an attempt in flight keeps its budget)."""
        budget = table.get(key)
        if budget is not None:
            return budget
        if len(table) >= MAX_TRACKED:
            window = self.config.failure_window
            for quiet in [k for k, b in table.items() if b.quiet(now, window)]:
                del table[quiet]
            for old in [k for k, b in table.items() if b.pending == 0][: max(len(table) - MAX_TRACKED + 1, 0)]:
                del table[old]
        budget = table[key] = _Budget()
        return budget
