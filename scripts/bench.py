"""Side-by-side benchmark: mi against stock Redis with AOF, same machine, same run, same tools.

Run it through ``scripts/bench`` (which installs what is missing). For each workload it runs the
same load against each server in alternation, ``--repeats`` times, and prints ops/s (median and
range), p50/p99 latency, the ratio mi/Redis and issue 8's target for it, and each server's CPU
time per request (utime + stime from /proc/PID/stat around each run, divided by its requests).
The load comes from ``redis-benchmark``, or for what it cannot express (MULTI/EXEC, a read/write
mix) from ``scripts/loadgen.py``. The two "bare" columns are the ceiling of the stack mi is built
on: a Trio server that parses requests with mi's parser and answers without storage, through
Trio's socket streams and through its low-level socket primitives.

mi in strict durability runs against Redis with ``appendfsync always``, and in relaxed durability
against ``appendfsync everysec``. Servers listen on 127.0.0.1 only and are stopped by PID at the
end, whatever happens.

``--quick`` (about a minute, for use while working): issue 18's five rows, mi relaxed against
the bare servers (and Redis everysec when redis-server is installed), on a keyspace written
beforehand so that GET finds its keys, with issue 18's targets (mi/bare low-level ops/s).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from attrs import frozen

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, all its threads (utime + stime, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
    return [str(VENV_PYTHON), "-m", "mi.tools.cli", "serve", "--port", str(port), "--data-dir", str(data_dir),
            "--durability", durability, "--log-level", "warning", "--log-format", "json", *extra]


def redis_command(port: int, data_dir: Path, fsync: str) -> list[str]:
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", fsync]


def bare_command(port: int, lowlevel: bool) -> list[str]:
    return [str(VENV_PYTHON), str(ROOT / "scripts" / "bare_trio_server.py"), str(port),
            *(["--lowlevel"] if lowlevel else [])]


@frozen
class Workload:
    """One row of the table. ``command`` is redis-benchmark's (mi's form, with FROM when it names
    a key), or for ``loadgen`` the name of one of its workloads (scripts/loadgen.py: what
    redis-benchmark cannot express)."""

    name: str
    clients: int
    pipeline: int
    command: tuple[str, ...]
    loadgen: bool = False
    target: float | None = None  # issue 8: mi/Redis at least this

    def argv(self, port: int, requests: int, namespaced: bool, keyspace: int = 100_000) -> list[str]:
        if self.loadgen:
            return [str(VENV_PYTHON), str(ROOT / "scripts" / "loadgen.py"), "--port", str(port),
                    "--workload", self.command[0], "--clients", str(self.clients), "--requests",
                    str(requests), "--keyspace", str(keyspace), *([] if namespaced else ["--no-namespace"])]
        command = self.command
        if not namespaced and "FROM" in command:  # Redis has no FROM clause
            command = command[:command.index("FROM")]
        return ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(self.clients), "-P",
                str(self.pipeline), "-n", str(requests), "-r", str(keyspace), "-d", "64", "--csv", *command]


def run_workload(workload: Workload, port: int, requests: int, namespaced: bool, keyspace: int = 100_000,
                 pid: int | None = None) -> dict:
    """One run: ops/s and latency percentiles (ms); with the server's ``pid``, also its CPU µs
    per request over the run (``cpu_us``)."""
    before = cpu_seconds(pid) if pid is not None else 0.0
    out = subprocess.run(workload.argv(port, requests, namespaced, keyspace), capture_output=True, text=True,
                         timeout=600, check=True).stdout
    if workload.loadgen:
        result = json.loads(out)
    else:
        row = list(csv.DictReader(io.StringIO(out)))[-1]
        result = {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"])}
    if pid is not None:
        result["cpu_us"] = (cpu_seconds(pid) - before) / requests * 1e6
    return result


VALUE = "x" * 64
SET = ("SET", "key:__rand_int__", VALUE, "FROM", "bench")
GET = ("GET", "key:__rand_int__", "FROM", "bench")
PING = ("PING",)  # redis-benchmark's PING_INLINE, as a command (every server answers +PONG)
WORKLOADS = [
    Workload("PING, 50 clients", 50, 1, PING),
    Workload("SET, 50 clients", 50, 1, SET, target=1.0),
    Workload("SET, 50 clients, pipeline 16", 50, 16, SET, target=0.6),
    Workload("SET, 1 client", 1, 1, SET, target=0.6),
    Workload("GET, 50 clients", 50, 1, GET, target=0.5),
    Workload("GET, 50 clients, pipeline 16", 50, 16, GET),
    Workload("GET, 1 client", 1, 1, GET),
    Workload("MULTI + 2 SETs + EXEC, 50 clients", 50, 1, ("multi",), loadgen=True),
    Workload("80% GET / 20% SET, 50 clients", 50, 1, ("mixed",), loadgen=True),
]
# Issue 18: mi/bare low-level ops/s at least this; --quick runs these rows, in this order.
QUICK_TARGETS = {
    "PING, 50 clients": 0.9, "GET, 50 clients": 0.8, "SET, 50 clients": 0.6,
    "GET, 50 clients, pipeline 16": 0.5, "GET, 1 client": 0.8,
}
QUICK_WORKLOADS = [next(w for w in WORKLOADS if w.name == name) for name in QUICK_TARGETS]
QUICK_KEYSPACE = 10_000
SERVERS = ("redis", "mi", "bare", "bare-lowlevel")  # all started here: their CPU time can be read


def prefill(port: int, keyspace: int, namespaced: bool, batch: int = 1000) -> None:
    """SET every key a ``-r keyspace`` run can name (redis-benchmark writes ``__rand_int__`` as 12
    digits), pipelined, so that GET rows read keys that are there."""
    suffix = b"$4\r\nFROM\r\n$5\r\nbench\r\n" if namespaced else b""
    header = b"*5\r\n" if namespaced else b"*3\r\n"
    value = b"$%d\r\n%s\r\n" % (len(VALUE), VALUE.encode())
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        for start in range(0, keyspace, batch):
            count = min(batch, keyspace - start)
            conn.sendall(b"".join(header + b"$3\r\nSET\r\n$16\r\nkey:%012d\r\n" % i + value + suffix
                                  for i in range(start, start + count)))
            expected = b"+OK\r\n" * count
            replies = b""
            while len(replies) < len(expected):
                if not (data := conn.recv(65536)):
                    raise RuntimeError(f"server on {port} closed the connection while prefilling")
                replies += data
            if replies != expected:
                raise RuntimeError(f"prefill on {port} got {replies[:200]!r}")


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


def median(runs: list[dict], field: str) -> float:
    return statistics.median(run[field] for run in runs)


def raise_fd_limit() -> None:
    """1000 client sockets here, and as many in the server (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


def requests_for(workload: Workload, args: argparse.Namespace) -> int:
    """Quick runs give one client a fifth of the requests (it is that much slower)."""
    return args.requests // 5 if args.quick and workload.clients == 1 else args.requests


def measure(durability: str, servers: tuple[str, ...], args: argparse.Namespace) -> tuple[dict, list]:
    """Every workload against every server, in alternation; then mi's memory figures."""
    fsync = "always" if durability == "strict" else "everysec"
    ports = {name: free_port() for name in SERVERS}
    workloads = QUICK_WORKLOADS if args.quick else WORKLOADS
    keyspace = QUICK_KEYSPACE if args.quick else 100_000
    results: dict[tuple[str, str], list[dict]] = {}
    memory: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="mi-bench-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "mi").mkdir()
        (tmp_path / "redis").mkdir()
        commands = {
            "mi": mi_command(ports["mi"], tmp_path / "mi", durability, args.shards),
            "redis": redis_command(ports["redis"], tmp_path / "redis", fsync),
            "bare": bare_command(ports["bare"], lowlevel=False),
            "bare-lowlevel": bare_command(ports["bare-lowlevel"], lowlevel=True),
        }
        with ExitStack() as stack:
            pids = {name: stack.enter_context(server(commands[name], ports[name])).pid for name in servers}
            if args.quick:
                print("writing the keyspace...", file=sys.stderr)
                for name in set(servers) & {"mi", "redis"}:
                    prefill(ports[name], keyspace, name != "redis")
            for workload in workloads:
                requests = requests_for(workload, args)
                for repeat in range(args.repeats):
                    for name in servers:
                        print(f"\r{durability}: {workload.name}: run {repeat + 1}/{args.repeats} on {name}   ",
                              end="", file=sys.stderr, flush=True)
                        result = run_workload(workload, ports[name], requests, name != "redis", keyspace,
                                              pids[name])
                        results.setdefault((workload.name, name), []).append(result)
            print(file=sys.stderr)
            if args.memory_keys:
                print("memory: 1000 connections, then writing keys...", file=sys.stderr)
                memory = memory_figures(ports["mi"], pids["mi"], args.memory_keys)
    return results, memory


def rate_cell(runs: list[dict] | None) -> str:
    if runs is None:
        return "-"
    rates = [run["rps"] for run in runs]
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def ratio(numerator: float | None, denominator: float | None) -> str:
    return "-" if not numerator or not denominator else f"{numerator / denominator:.2f}x"


def print_table(durability: str, results: dict, memory: list, args: argparse.Namespace) -> None:
    label = "Redis AOF " + ("always" if durability == "strict" else "everysec")
    shards = "default shards" if args.shards is None else f"--shards {args.shards}"
    if args.quick:
        sizes = f"-n {args.requests} (1 client: {args.requests // 5}) -r {QUICK_KEYSPACE} (written beforehand)"
        target_name = "target (issue 18: mi/low-level ops/s)"
    else:
        sizes = f"-n {args.requests} -r 100000"
        target_name = "target (issue 8: mi/Redis, strict)"
    print(f"\nmi durability={durability} ({shards}) vs {label}; {sizes} -d 64, median of {args.repeats} "
          "(range), alternating; latency p50/p99 in ms; CPU µs per request of each server process "
          "(utime + stime); bare: mi's parser on Trio, no storage")
    print(f"| workload | {label} ops/s | mi ops/s | mi/Redis | {target_name} | mi p50/p99 | Redis p50/p99 "
          "| bare Trio ops/s | bare low-level ops/s | mi/low-level | Redis CPU µs/req | mi CPU µs/req "
          "| bare Trio CPU µs/req | bare low-level CPU µs/req | mi/bare Trio CPU | mi/low-level CPU |")
    print("|---" * 16 + "|")
    for workload in QUICK_WORKLOADS if args.quick else WORKLOADS:
        runs = {name: results.get((workload.name, name)) for name in SERVERS}
        rps = {name: median(r, "rps") if r else None for name, r in runs.items()}
        cpu = {name: median(r, "cpu_us") if r else None for name, r in runs.items()}
        latency = {name: f"{median(r, 'p50'):.3f}/{median(r, 'p99'):.3f}" if r else "-" for name, r in runs.items()}
        if args.quick:
            goal, reached = QUICK_TARGETS[workload.name], rps["mi"] / rps["bare-lowlevel"]
        else:
            goal = workload.target if durability == "strict" else None
            reached = rps["mi"] / rps["redis"] if rps["redis"] else 0.0
        target = "" if goal is None else f"{goal}x {'met' if reached >= goal else 'not met'}"
        cpu_cells = " | ".join("-" if cpu[name] is None else f"{cpu[name]:.0f}" for name in SERVERS)
        print(
            f"| {workload.name} | {rate_cell(runs['redis'])} | {rate_cell(runs['mi'])} "
            f"| {ratio(rps['mi'], rps['redis'])} | {target} | {latency['mi']} | {latency['redis']} "
            f"| {rps['bare']:,.0f} | {rps['bare-lowlevel']:,.0f} | {ratio(rps['mi'], rps['bare-lowlevel'])} "
            f"| {cpu_cells} | {ratio(cpu['mi'], cpu['bare'])} | {ratio(cpu['mi'], cpu['bare-lowlevel'])} |"
        )
    if memory:
        print(f"\n| mi RssAnon (MB), durability={durability} | " + " | ".join(name for name, _ in memory) + " |")
        print("|---|" + "---|" * len(memory))
        print("| | " + " | ".join(f"{mb:.1f}" for _, mb in memory) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="about a minute: issue 18's five rows, mi relaxed against the bare servers "
                             "(and Redis everysec when installed), 10000 requests, no memory figures")
    parser.add_argument("--requests", type=int, help="requests per run (default 20000; --quick: 10000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per server and workload (default 3)")
    parser.add_argument("--durability", choices=("strict", "relaxed", "both"),
                        help="strict: mi vs Redis appendfsync always; relaxed: vs everysec "
                             "(default both; --quick: relaxed)")
    parser.add_argument("--shards", type=int, help="mi's shard count (default: mi's own default)")
    parser.add_argument("--memory-keys", type=int,
                        help="keys written for the memory figure (default 1000000; --quick: 0; 0 skips memory)")
    args = parser.parse_args()
    args.requests = args.requests or (10_000 if args.quick else 20_000)
    args.durability = args.durability or ("relaxed" if args.quick else "both")
    args.memory_keys = (0 if args.quick else 1_000_000) if args.memory_keys is None else args.memory_keys
    if not shutil.which("redis-benchmark"):
        print("redis-benchmark is needed (scripts/bench installs it)", file=sys.stderr)
        return 2
    servers = SERVERS
    if not shutil.which("redis-server"):
        if not args.quick:
            print("redis-server is needed (scripts/bench installs it)", file=sys.stderr)
            return 2
        servers = tuple(name for name in SERVERS if name != "redis")
    raise_fd_limit()
    modes = ("strict", "relaxed") if args.durability == "both" else (args.durability,)
    for durability in modes:
        results, memory = measure(durability, servers, args)
        print_table(durability, results, memory, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
