"""Side-by-side benchmark: mi against stock Redis with AOF, same machine, same run, same tool.

Run it through ``scripts/bench`` (which installs what is missing). For each workload it runs
``redis-benchmark`` against each server in alternation, ``--repeats`` times, and prints ops/s
(median and range), p50/p99 latency and the ratio mi/Redis. The "bare Trio" row is the ceiling
of the stack mi is built on: a Trio server that parses requests and answers without storage.

Servers listen on 127.0.0.1 only and are stopped by PID at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


@contextmanager
def server(command: list[str], port: int) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def mi_command(port: int, data_dir: Path, durability: str) -> list[str]:
    return [str(VENV_PYTHON), "-m", "mi.cli", "serve", "--port", str(port), "--data-dir",
            str(data_dir), "--durability", durability, "--log-level", "warning", "--log-format", "json"]


def redis_command(port: int, data_dir: Path, fsync: str) -> list[str]:
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", fsync]


def bare_command(port: int) -> list[str]:
    return [str(VENV_PYTHON), str(ROOT / "scripts" / "bare_trio_server.py"), str(port)]


def run_benchmark(port: int, clients: int, pipeline: int, requests: int, command: list[str]) -> dict:
    """One redis-benchmark run; its CSV row as numbers."""
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
            "-P", str(pipeline), "-n", str(requests), "-r", "100000", "-d", "64", "--csv", *command]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, check=True).stdout
    row = list(csv.DictReader(io.StringIO(out)))[-1]
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"])}


# name, clients, pipeline, mi's command, Redis's command (the same minus mi's FROM clause)
VALUE = "x" * 64
WORKLOADS = [
    ("SET, 50 clients", 50, 1, ["SET", "key:__rand_int__", VALUE, "FROM", "bench"], ["SET", "key:__rand_int__", VALUE]),
    ("SET, 50 clients, pipeline 16", 50, 16, ["SET", "key:__rand_int__", VALUE, "FROM", "bench"], ["SET", "key:__rand_int__", VALUE]),
    ("SET, 1 client", 1, 1, ["SET", "key:__rand_int__", VALUE, "FROM", "bench"], ["SET", "key:__rand_int__", VALUE]),
    ("GET, 50 clients", 50, 1, ["GET", "key:__rand_int__", "FROM", "bench"], ["GET", "key:__rand_int__"]),
]


def rss_mb(pid: int, field: str = "RssAnon") -> float:
    """Resident memory of a process in MB: RssAnon (heap, stacks; not the LMDB page cache), or
    VmRSS (all of it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def memory_figures(port: int, pid: int, keys: int) -> list[tuple[str, float]]:
    """mi's RssAnon idle, holding 1000 idle connections, and after writing ``keys`` keys."""
    figures = [("idle", rss_mb(pid))]
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(1000)]
    try:
        for conn in connections:  # one round trip each, so the server has really taken them
            conn.sendall(b"PING\r\n")
            conn.recv(16)
        figures.append(("1000 idle connections", rss_mb(pid)))
    finally:
        for conn in connections:
            conn.close()
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", "64", "-n",
            str(keys), "-r", str(keys * 10), "-d", "64", "-q", "SET", "key:__rand_int__", VALUE,
            "FROM", "memory"]
    subprocess.run(args, capture_output=True, timeout=1800, check=True)
    figures.append((f"after {keys:,} SETs", rss_mb(pid)))
    return figures


def summary(runs: list[dict]) -> tuple[float, float, float, float, float]:
    rates = [r["rps"] for r in runs]
    return (statistics.median(rates), min(rates), max(rates),
            statistics.median(r["p50"] for r in runs), statistics.median(r["p99"] for r in runs))


def raise_fd_limit() -> None:
    """1000 client sockets here, and as many in the server (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per run (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per server and workload (default 3)")
    parser.add_argument("--relaxed", action="store_true", help="mi relaxed vs Redis appendfsync everysec")
    parser.add_argument("--memory-keys", type=int, default=1_000_000,
                        help="keys written for the memory figure (default 1000000; 0 skips memory)")
    args = parser.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        print("redis-server and redis-benchmark are needed (scripts/bench installs them)", file=sys.stderr)
        return 2

    raise_fd_limit()
    durability, fsync = ("relaxed", "everysec") if args.relaxed else ("strict", "always")
    ports = {"mi": free_port(), "redis": free_port(), "bare": free_port()}
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="mi-bench-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "mi").mkdir()
        (tmp_path / "redis").mkdir()
        with (
            server(mi_command(ports["mi"], tmp_path / "mi", durability), ports["mi"]) as mi_proc,
            server(redis_command(ports["redis"], tmp_path / "redis", fsync), ports["redis"]),
            server(bare_command(ports["bare"]), ports["bare"]),
        ):
            for name, clients, pipeline, mi_cmd, redis_cmd in WORKLOADS:
                for repeat in range(args.repeats):
                    for target, command in (("redis", redis_cmd), ("mi", mi_cmd), ("bare", redis_cmd)):
                        print(f"\r{name}: run {repeat + 1}/{args.repeats} on {target}   ", end="",
                              file=sys.stderr, flush=True)
                        result = run_benchmark(ports[target], clients, pipeline, args.requests, command)
                        results.setdefault((name, target), []).append(result)
            print(file=sys.stderr)
            if args.memory_keys:
                print("memory: 1000 connections, then writing keys...", file=sys.stderr)
                memory = memory_figures(ports["mi"], mi_proc.pid, args.memory_keys)

    label = f"Redis AOF {fsync}"
    print(f"mi durability={durability} vs {label}; redis-benchmark -n {args.requests} -r 100000 -d 64, "
          f"median of {args.repeats} (range), latency in ms")
    print(f"| workload | {label} ops/s | mi ops/s | mi/Redis | mi p50/p99 | Redis p50/p99 | bare Trio ops/s | mi/bare |")
    print("|---|---|---|---|---|---|---|---|")
    for name, *_ in WORKLOADS:
        redis_s, mi_s, bare_s = (summary(results[name, t]) for t in ("redis", "mi", "bare"))
        print(
            f"| {name} | {redis_s[0]:,.0f} ({redis_s[1]:,.0f}-{redis_s[2]:,.0f}) "
            f"| {mi_s[0]:,.0f} ({mi_s[1]:,.0f}-{mi_s[2]:,.0f}) | {mi_s[0] / redis_s[0]:.2f}x "
            f"| {mi_s[3]:.3f}/{mi_s[4]:.3f} | {redis_s[3]:.3f}/{redis_s[4]:.3f} "
            f"| {bare_s[0]:,.0f} | {mi_s[0] / bare_s[0]:.2f}x |"
        )
    if args.memory_keys:
        print("\n| mi RssAnon (MB) | " + " | ".join(label for label, _ in memory) + " |")
        print("|---|" + "---|" * len(memory))
        print("| | " + " | ".join(f"{mb:.1f}" for _, mb in memory) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
