"""scripts/bench, the performance comparison (issue 8), runs end to end and prints its table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (shutil.which("redis-server") and shutil.which("redis-benchmark")),
    reason="needs redis-server and redis-benchmark (scripts/bench installs them with apt)",
)


def test_bench_prints_a_row_per_workload_with_figures_for_every_server():
    """A tiny run: every workload against Redis, mi and both bare servers, all stopped after."""
    proc = subprocess.run(
        [sys.executable, "scripts/bench.py", "--requests", "200", "--repeats", "1", "--memory-keys", "0",
         "--durability", "strict"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "ops/s" not in line]
    names = [row.split("|")[1].strip() for row in rows]
    assert names == [
        "SET, 50 clients", "SET, 50 clients, pipeline 16", "SET, 1 client", "GET, 50 clients",
        "GET, 50 clients, pipeline 16", "GET, 1 client", "MULTI + 2 SETs + EXEC, 50 clients",
        "80% GET / 20% SET, 50 clients",
    ]
    for row in rows:
        cells = row.split("|")
        redis_rate, mi_rate, bare_rate, lowlevel_rate = (cells[i] for i in (2, 3, 8, 9))
        for rate in (redis_rate, mi_rate, bare_rate, lowlevel_rate):
            # (a run this short can be too quick for redis-benchmark's clock: "inf" is a figure too)
            assert float(rate.split()[0].replace(",", "")) > 0, row
    assert "1.0x" in rows[0], "the targets of issue 8 are shown"
