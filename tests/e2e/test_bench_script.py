"""scripts/bench, the performance comparison (issues 8 and 18), runs end to end and prints its table."""

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

# Columns of a row, split on "|": ops/s of Redis, mi, bare Trio, bare low-level; then CPU µs per
# request of the same four servers.
RATES = (2, 3, 8, 9)
CPU = (11, 12, 13, 14)


def run_bench(*args: str, timeout: float) -> list[list[str]]:
    """The table's rows (header and separator left out), each as its cells."""
    proc = subprocess.run(
        [sys.executable, "scripts/bench.py", *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "ops/s" not in line]
    return [[cell.strip() for cell in line.split("|")] for line in lines]


def figure(cell: str) -> float:
    # (a run this short can be too quick for redis-benchmark's clock: "inf" is a figure too)
    return float(cell.split()[0].replace(",", ""))


def test_bench_prints_a_row_per_workload_with_figures_for_every_server():
    """A tiny run: every workload against Redis, mi and both bare servers, all stopped after."""
    rows = run_bench("--requests", "200", "--repeats", "1", "--memory-keys", "0", "--durability", "strict",
                     timeout=300)
    assert [row[1] for row in rows] == [
        "PING, 50 clients", "SET, 50 clients", "SET, 50 clients, pipeline 16", "SET, 1 client", "GET, 50 clients",
        "GET, 50 clients, pipeline 16", "GET, 1 client", "MULTI + 2 SETs + EXEC, 50 clients",
        "80% GET / 20% SET, 50 clients",
    ]
    for row in rows:
        assert all(figure(row[i]) > 0 for i in RATES), row
        assert all(figure(row[i]) >= 0 for i in CPU), row  # 200 requests can fit in one clock tick
    assert "1.0x" in rows[1][5], "the targets of issue 8 are shown"


def test_bench_quick_prints_issue_18s_rows_and_targets():
    """--quick: issue 18's five rows, mi relaxed against Redis everysec and both bare servers."""
    rows = run_bench("--quick", "--requests", "200", "--repeats", "1", timeout=120)
    assert [row[1] for row in rows] == [
        "PING, 50 clients", "GET, 50 clients", "SET, 50 clients", "GET, 50 clients, pipeline 16", "GET, 1 client",
    ]
    for row in rows:
        assert all(figure(row[i]) > 0 for i in RATES), row
        assert all(figure(row[i]) >= 0 for i in CPU), row
    assert [row[5].split()[0] for row in rows] == ["0.9x", "0.8x", "0.6x", "0.5x", "0.8x"]
