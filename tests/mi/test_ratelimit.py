"""GCRA: rate with burst, the retry time, a changed limit."""

from __future__ import annotations

from mi.policy.ratelimit import RateLimits


def test_burst_then_one_per_interval():
    now = [100.0]
    limits = RateLimits(clock=lambda: now[0])
    admitted = [limits.check("ns", "a", rate=10, burst=2) is None for _ in range(5)]
    assert admitted == [True, True, True, False, False]
    refusal = limits.check("ns", "a", rate=10, burst=2)
    assert refusal.message == "rate limit exceeded (retry in 100 ms)"
    now[0] += 0.1
    assert limits.check("ns", "a", rate=10, burst=2) is None
    assert limits.check("ns", "a", rate=10, burst=2) is not None
    assert limits.rejected == 4
    assert limits.check("ns", "b", rate=10, burst=2) is None, "each key has its own"


def test_default_burst_is_one_seconds_worth_and_a_new_limit_starts_afresh():
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    assert sum(limits.check("user", "u", rate=5, burst=None) is None for _ in range(10)) == 6
    assert limits.check("user", "u", rate=100, burst=None) is None


def test_check_all_counts_under_every_limit_or_none():
    """Refused by one limit, an operation is counted by none; admitted, by all."""
    limits = RateLimits(clock=lambda: 100.0)
    assert limits.check("ns", "full", rate=1, burst=0) is None  # the namespace's one slot taken
    both = [("user", "u", 10.0, 2), ("ns", "full", 1.0, 0)]
    refusal = limits.check_all(both)
    assert refusal is not None and refusal.message == "rate limit exceeded (retry in 1000 ms)"
    assert [limits.check("user", "u", rate=10, burst=2) is None for _ in range(4)] == [True, True, True, False]
