"""What durability costs: mi strict against mi relaxed and Redis ``appendfsync always`` (issue 17).

Run it through ``scripts/bench-durability`` (which installs redis-server when missing). Each
workload runs against each server in alternation, ``--repeats`` times, on fresh data dirs; the
table gives the median ops/s (and range), mi's CPU time per request (from /proc/PID/stat) and the
ratios the issue's targets name. Then the replay: a server that took ``--replay-writes`` writes
with checkpoints held off is killed with SIGKILL and started again; the startup time and the
``storage.log_replayed`` figures are printed.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import SET, VALUE, Workload, cpu_seconds, free_port, mi_command, redis_command, run_workload, server

WORKLOADS = [
    Workload("SET, 50 clients", 50, 1, SET),
    Workload("SET, 50 clients, pipeline 16", 50, 16, SET),
    Workload("SET, 1 client", 1, 1, SET),
]
SERVERS = ("mi strict", "mi relaxed", "redis always")


def measure(args: argparse.Namespace) -> dict[tuple[str, str], list[dict]]:
    results: dict[tuple[str, str], list[dict]] = {}
    ports = {name: free_port() for name in SERVERS}
    with tempfile.TemporaryDirectory(prefix="mi-bench-durability-") as tmp:
        root = Path(tmp)
        commands = {
            "mi strict": mi_command(ports["mi strict"], root / "strict", "strict", None),
            "mi relaxed": mi_command(ports["mi relaxed"], root / "relaxed", "relaxed", None),
            "redis always": redis_command(ports["redis always"], root / "redis", "always"),
        }
        (root / "redis").mkdir()
        with (
            server(commands["mi strict"], ports["mi strict"]) as strict,
            server(commands["mi relaxed"], ports["mi relaxed"]) as relaxed,
            server(commands["redis always"], ports["redis always"]),
        ):
            pids = {"mi strict": strict.pid, "mi relaxed": relaxed.pid}
            for workload in WORKLOADS:
                requests = args.requests if workload.clients > 1 else args.requests // 5
                for repeat in range(args.repeats):
                    for name in SERVERS:
                        print(f"\r{workload.name}: run {repeat + 1}/{args.repeats} on {name}        ",
                              end="", file=sys.stderr, flush=True)  # fmt: skip
                        before = cpu_seconds(pids[name]) if name in pids else 0.0
                        result = run_workload(workload, ports[name], requests, name != "redis always")
                        if name in pids:
                            result["cpu_us"] = (cpu_seconds(pids[name]) - before) / requests * 1e6
                        results.setdefault((workload.name, name), []).append(result)
    print(file=sys.stderr)
    return results


def print_table(results: dict[tuple[str, str], list[dict]], args: argparse.Namespace) -> None:
    def median(workload: str, name: str, field: str = "rps") -> float:
        return statistics.median(run[field] for run in results[workload, name])

    def cell(workload: str, name: str) -> str:
        rates = [run["rps"] for run in results[workload, name]]
        return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"

    print(f"\n-n {args.requests} (1 client: {args.requests // 5}) -r 100000 -d 64, median of {args.repeats} "
          "(range), alternating, fresh data dirs; CPU µs per request of the mi process")
    print("| workload | mi strict ops/s | mi relaxed ops/s | Redis always ops/s | strict/relaxed | strict/Redis "
          "| strict CPU µs/req | relaxed CPU µs/req | strict p50/p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for workload in WORKLOADS:
        name = workload.name
        strict, relaxed, redis = (median(name, server_name) for server_name in SERVERS)
        print(f"| {name} | {cell(name, 'mi strict')} | {cell(name, 'mi relaxed')} | {cell(name, 'redis always')} "
              f"| {strict / relaxed:.2f}x | {strict / redis:.2f}x | {median(name, 'mi strict', 'cpu_us'):.0f} "
              f"| {median(name, 'mi relaxed', 'cpu_us'):.0f} | {median(name, 'mi strict', 'p50'):.3f}/"
              f"{median(name, 'mi strict', 'p99'):.3f} |")


def replay(args: argparse.Namespace) -> None:
    """Write with checkpoints held off, kill -9, start again: how long the replay takes."""
    with tempfile.TemporaryDirectory(prefix="mi-bench-replay-") as tmp:
        root = Path(tmp)
        config = root / "mi.toml"
        config.write_text('[storage]\ncheckpoint_interval = "86400s"\ncheckpoint_log_bytes = "1024GiB"\n')
        port = free_port()
        command = [*mi_command(port, root / "data", args.replay_durability, None), "--config", str(config)]
        print(f"replay: writing {args.replay_writes:,} SETs...", file=sys.stderr)
        with server(command, port) as proc:
            subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-P", "64", "-n",
                            str(args.replay_writes), "-r", str(args.replay_writes * 10), "-d", "64", "-q", "SET",
                            "key:__rand_int__", VALUE, "FROM", "bench"],
                           capture_output=True, timeout=3600, check=True)  # fmt: skip
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        log_bytes = sum(p.stat().st_size for p in (root / "data").glob("shard-*/log/*.log"))
        print("replay: starting again...", file=sys.stderr)
        started = time.monotonic()
        restart = subprocess.Popen([*command, "--log-level", "info"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)  # the last --log-level counts
        events = []
        try:
            for line in restart.stdout:
                event = json.loads(line)
                events.append(event)
                if event["event"] == "server.listening":
                    break
            listening = time.monotonic() - started
        finally:
            restart.terminate()
            restart.wait(timeout=60)
    replayed = [e for e in events if e["event"] == "storage.log_replayed"]
    records = sum(e["records"] for e in replayed)
    entries = sum(e["entries"] for e in replayed)
    seconds = sum(e["seconds"] for e in replayed)
    print(f"\n| replay ({args.replay_durability}) | writes | log bytes | records | entries | replay s "
          "| start to listening s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| after kill -9 | {args.replay_writes:,} | {log_bytes:,} | {records:,} | {entries:,} | {seconds:.1f} "
          f"| {listening:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per run with 50 clients")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--replay-writes", type=int, default=1_000_000, help="0: skip the replay")
    parser.add_argument("--replay-durability", choices=("strict", "relaxed"), default="strict")
    args = parser.parse_args()
    print_table(measure(args), args)
    if args.replay_writes:
        replay(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
