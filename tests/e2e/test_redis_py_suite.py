"""redis-py's own test suite, the parts that cover mi's commands, against a real `mi serve`
(issue 19 part 3).

Each group of scripts/redis-py-suite runs in its own redis-py venv (.venv/redis-py-VERSION/, made
on first use) against its own server, so xdist spreads the groups. A group fails on a redis-py test
that failed and that tests/redis_py_skips.txt does not name, and on a listed test that passed (the
list must stay true); docs/protocol.md, "redis-py's test suite", explains each listed difference.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from support import ServerOnPort

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redis-py-suite"
# The script's own groups, skip list and readers of pytest's junit XML: one definition for both.
suite = runpy.run_path(str(SCRIPT))

# First use downloads redis-py and its plugins (parallel groups wait for one another), then the
# slowest group (pub/sub: redis-py's tests sleep) takes about 25 s on two cores.
GROUP_TIMEOUT = 600


@pytest.mark.parametrize("group", list(suite["GROUPS"]))
def test_redis_py_group_passes_but_for_the_listed_differences(group: str, tmp_path: Path) -> None:
    """redis-py's tests of the group pass against mi, except those the skip list names, which fail."""
    server = ServerOnPort(tmp_path / "data", env={"MI_SNAPSHOTS_DIR": str(tmp_path / "snapshots")})  # SAVE, BGSAVE
    try:
        with open(tmp_path / "run.log", "w") as log:
            subprocess.run(
                [sys.executable, str(SCRIPT), "--port", str(server.port), "--results", str(tmp_path), group],
                stdout=log, stderr=subprocess.STDOUT, timeout=GROUP_TIMEOUT,
            )
    finally:
        server.stop()
    junit = tmp_path / f"{group}.xml"
    assert junit.exists(), "redis-py's pytest wrote no results:\n" + (tmp_path / "run.log").read_text()[-3000:]
    outcomes = list(suite["read_results"](junit))
    assert any(o.status == "passed" for o in outcomes), "no redis-py test passed: is the server reachable?"
    verdict = suite["judge"](group, outcomes, suite["read_skips"]())
    if verdict.unexpected or verdict.stale:
        pytest.fail(suite["describe"](verdict, outcomes), pytrace=False)


def test_every_listed_test_belongs_to_a_group() -> None:
    """A skip-list line names a module some group runs (else no run could ever check it)."""
    modules = {module for group in suite["GROUPS"].values() for module in group.modules}
    orphans = [skip.test for skip in suite["read_skips"]() if skip.test.split("::")[0] not in modules]
    assert not orphans
