"""A power cut under load (issue 17): the data dir on scripts/powercut_fs.py, which loses every
write not yet fsynced (or keeps a random half of the unsynced pages, as a kernel writing dirty pages
back in any order would). Each round is one of `scripts/crash-test --power-loss`: writers record
what was acknowledged, the server is killed with SIGKILL, the power is cut, and after a remount and
a restart every acknowledged write must be there, no transaction torn, and `mi verify` clean.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import crash_test  # noqa: E402 - scripts/ is not a package

UNAVAILABLE = crash_test.fuse_unavailable()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")]

@pytest.mark.parametrize(
    ("durability", "keep_fraction"),
    [
        pytest.param("strict", 0.0, id="strict-unsynced-dropped"),
        pytest.param("strict", 0.5, id="strict-half-unsynced-kept"),
        pytest.param("relaxed", 0.5, id="relaxed-half-unsynced-kept"),
    ],
)
def test_a_power_cut_loses_nothing_acknowledged(tmp_path, durability, keep_fraction):
    """After SIGKILL and a power cut: every acknowledged write there (in relaxed mode, all but the
    last interval's), none torn, verify clean."""
    result = crash_test.power_loss_round(
        tmp_path, durability, keep_fraction, clients=4, duration=1.0, shards=4, seed=17
    )
    assert result.acknowledged > 0
    assert not result.failed, crash_test.describe(result)
