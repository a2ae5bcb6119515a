"""Side-by-side benchmark: mi against stock Redis with AOF, same machine, same run, same tools.

Run it through ``scripts/bench`` (which installs what is missing). For each workload it runs the
same load against each server in alternation, ``--repeats`` times, and prints ops/s (median and
range), p50/p99 latency, the ratio mi/Redis and issue 8's target for it. The load comes from
``redis-benchmark``, or for what it cannot express (MULTI/EXEC, a read/write mix) from
``scripts/loadgen.py``. The two "bare" columns are the ceiling of the stack mi is built on: a Trio
server that parses requests with mi's parser and answers without storage, through Trio's socket
streams and through its low-level socket primitives.

mi in strict durability runs against Redis with ``appendfsync always``, and in relaxed durability
against ``appendfsync everysec``. Servers listen on 127.0.0.1 only and are stopped by PID at the
end, whatever happens.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
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

from attrs import frozen

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


def mi_command(port: int, data_dir: Path, durability: str, shards: int | None) -> list[str]:
    extra = [] if shards is None else ["--shards", str(shards)]
    return [str(VENV_PYTHON), "-m", "mi.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
            "--durability", durability, "--log-level", "warning", "--log-format", "json", *extra]


def redis_command(port: int, data_dir: Path, fsync: str) -> list[str]:
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", fsync]


def bare_command(port: int, lowlevel: bool) -> list[str]:
    return [str(VENV_PYTHON), str(ROOT / "scripts" / "bare_trio_server.py"), str(port),
            *(["--lowlevel"] if lowlevel else [])]


@frozen
class Workload:
    """One row of the table. ``command`` is redis-benchmark's (mi's form, with FROM), or for
    ``loadgen`` the name of one of its workloads (scripts/loadgen.py: what redis-benchmark cannot
    express)."""

    name: str
    clients: int
    pipeline: int
    command: tuple[str, ...]
    loadgen: bool = False
    target: float | None = None  # issue 8: mi/Redis at least this

    def argv(self, port: int, requests: int, namespaced: bool) -> list[str]:
        if self.loadgen:
            return [str(VENV_PYTHON), str(ROOT / "scripts" / "loadgen.py"), "--port", str(port),
                    "--workload", self.command[0], "--clients", str(self.clients), "--requests",
                    str(requests), *([] if namespaced else ["--no-namespace"])]
        command = self.command if namespaced else self.command[:-2]  # Redis has no FROM clause
        return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(self.clients), "-P",
                str(self.pipeline), "-n", str(requests), "-r", "100000", "-d", "64", "--csv", *command]


def run_workload(workload: Workload, port: int, requests: int, namespaced: bool) -> dict:
    """One run: ops/s and latency percentiles (ms)."""
    out = subprocess.run(workload.argv(port, requests, namespaced), capture_output=True, text=True,
                         timeout=600, check=True).stdout
    if workload.loadgen:
        return json.loads(out)
    row = list(csv.DictReader(io.StringIO(out)))[-1]
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"])}


VALUE = "x" * 64
SET = ("SET", "key:__rand_int__", VALUE, "FROM", "bench")
GET = ("GET", "key:__rand_int__", "FROM", "bench")
WORKLOADS = [
    Workload("SET, 50 clients", 50, 1, SET, target=1.0),
    Workload("SET, 50 clients, pipeline 16", 50, 16, SET, target=0.6),
    Workload("SET, 1 client", 1, 1, SET, target=0.6),
    Workload("GET, 50 clients", 50, 1, GET, target=0.5),
    Workload("GET, 50 clients, pipeline 16", 50, 16, GET),
    Workload("GET, 1 client", 1, 1, GET),
    Workload("MULTI + 2 SETs + EXEC, 50 clients", 50, 1, ("multi",), loadgen=True),
    Workload("80% GET / 20% SET, 50 clients", 50, 1, ("mixed",), loadgen=True),
]
SERVERS = ("redis", "mi", "bare", "bare-lowlevel")


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


def measure(durability: str, args: argparse.Namespace) -> tuple[dict, list[tuple[str, float]]]:
    """Every workload against every server, in alternation; then mi's memory figures."""
    fsync = "always" if durability == "strict" else "everysec"
    ports = {name: free_port() for name in SERVERS}
    results: dict[tuple[str, str], list[dict]] = {}
    memory: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="mi-bench-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "mi").mkdir()
        (tmp_path / "redis").mkdir()
        with (
            server(mi_command(ports["mi"], tmp_path / "mi", durability, args.shards), ports["mi"]) as mi_proc,
            server(redis_command(ports["redis"], tmp_path / "redis", fsync), ports["redis"]),
            server(bare_command(ports["bare"], lowlevel=False), ports["bare"]),
            server(bare_command(ports["bare-lowlevel"], lowlevel=True), ports["bare-lowlevel"]),
        ):
            for workload in WORKLOADS:
                for repeat in range(args.repeats):
                    for target in SERVERS:
                        print(f"\r{durability}: {workload.name}: run {repeat + 1}/{args.repeats} on {target}   ",
                              end="", file=sys.stderr, flush=True)
                        result = run_workload(workload, ports[target], args.requests, target != "redis")
                        results.setdefault((workload.name, target), []).append(result)
            print(file=sys.stderr)
            if args.memory_keys:
                print("memory: 1000 connections, then writing keys...", file=sys.stderr)
                memory = memory_figures(ports["mi"], mi_proc.pid, args.memory_keys)
    return results, memory


def print_table(durability: str, results: dict, memory: list[tuple[str, float]], args: argparse.Namespace) -> None:
    label = "Redis AOF " + ("always" if durability == "strict" else "everysec")
    shards = "default shards" if args.shards is None else f"--shards {args.shards}"
    print(f"\nmi durability={durability} ({shards}) vs {label}; -n {args.requests} -r 100000 -d 64, "
          f"median of {args.repeats} (range); latency p50/p99 in ms; bare: mi's parser on Trio, no storage")
    print(f"| workload | {label} ops/s | mi ops/s | mi/Redis | target | mi p50/p99 | Redis p50/p99 "
          "| bare Trio ops/s | bare low-level ops/s | mi/bare |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workload in WORKLOADS:
        redis_s, mi_s, bare_s, low_s = (summary(results[workload.name, t]) for t in SERVERS)
        ratio = mi_s[0] / redis_s[0]
        target = "" if workload.target is None or durability != "strict" else (
            f"{workload.target}x {'met' if ratio >= workload.target else 'not met'}")
        print(
            f"| {workload.name} | {redis_s[0]:,.0f} ({redis_s[1]:,.0f}-{redis_s[2]:,.0f}) "
            f"| {mi_s[0]:,.0f} ({mi_s[1]:,.0f}-{mi_s[2]:,.0f}) | {ratio:.2f}x | {target} "
            f"| {mi_s[3]:.3f}/{mi_s[4]:.3f} | {redis_s[3]:.3f}/{redis_s[4]:.3f} "
            f"| {bare_s[0]:,.0f} | {low_s[0]:,.0f} | {mi_s[0] / max(bare_s[0], low_s[0]):.2f}x |"
        )
    if memory:
        print(f"\n| mi RssAnon (MB), durability={durability} | " + " | ".join(name for name, _ in memory) + " |")
        print("|---|" + "---|" * len(memory))
        print("| | " + " | ".join(f"{mb:.1f}" for _, mb in memory) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per run (default 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per server and workload (default 3)")
    parser.add_argument("--durability", choices=("strict", "relaxed", "both"), default="both",
                        help="strict: mi vs Redis appendfsync always; relaxed: vs everysec (default both)")
    parser.add_argument("--shards", type=int, help="mi's shard count (default: mi's own default)")
    parser.add_argument("--memory-keys", type=int, default=1_000_000,
                        help="keys written for the memory figure (default 1000000; 0 skips memory)")
    args = parser.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        print("redis-server and redis-benchmark are needed (scripts/bench installs them)", file=sys.stderr)
        return 2
    raise_fd_limit()
    modes = ("strict", "relaxed") if args.durability == "both" else (args.durability,)
    for durability in modes:
        results, memory = measure(durability, args)
        print_table(durability, results, memory, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
