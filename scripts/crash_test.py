"""kill -9 under load, restart, check: every acknowledged write is there, no transaction is torn.

Each run starts `mi serve` on a fresh data dir, lets client threads write for a random part of
``--duration`` seconds, kills the server with SIGKILL mid-load, restarts it on the same data dir
and checks what the clients were told. Writers do plain SETs of unique keys (each acknowledged
one must be there with its value) and cross-shard MULTI/EXEC transactions that write the same
generation to a key on every shard (all of those keys must agree). Prints one line per run and a
summary; exits 1 if anything was lost or torn.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

from storage import DEFAULT_SHARDS, shard_index


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mi.cli", "serve", "--port", "0", "--data-dir", str(data_dir),
             "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.port = self._port()

    def _port(self) -> int:
        for line in self.proc.stdout:
            event = json.loads(line)
            if event["event"] == "server.listening":
                # Keep reading its log, or a full pipe would block the server.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return event["port"]
        msg = "the server exited before listening"
        raise SystemExit(msg)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def keys_on_every_shard() -> list[str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < DEFAULT_SHARDS:
        found.setdefault(shard_index(f"gen{i}".encode(), DEFAULT_SHARDS), f"gen{i}")
        i += 1
    return list(found.values())


def writer(port: int, client: int, acked: dict[str, int], stop: threading.Event) -> None:
    """Unique SETs; every acknowledged one is recorded."""
    connection = redis.Redis(port=port, socket_timeout=5)
    i = 0
    while not stop.is_set():
        key = f"c{client}:{i}"
        try:
            connection.set(key, i)
        except redis.RedisError:
            return
        acked[key] = i
        i += 1


def transactor(port: int, generations: list[int], stop: threading.Event) -> None:
    """The same generation to a key on every shard, in one EXEC."""
    connection = redis.Redis(port=port, socket_timeout=5)
    keys = keys_on_every_shard()
    generation = 0
    while not stop.is_set():
        generation += 1
        pipe = connection.pipeline(transaction=True)
        for key in keys:
            pipe.set(key, generation)
        try:
            pipe.execute()
        except redis.RedisError:
            return
        generations.append(generation)


def one_run(data_dir: Path, clients: int, duration: float) -> tuple[int, int, int]:
    """(acknowledged, lost, torn) for one kill -9."""
    server = Server(data_dir)
    acked: dict[str, int] = {}
    generations: list[int] = []
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(server.port, c, acked, stop)) for c in range(clients)]
    threads.append(threading.Thread(target=transactor, args=(server.port, generations, stop)))
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(duration / 4, duration))
    server.kill()  # mid-load: some writes are acknowledged, some in flight
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    restarted = Server(data_dir)
    check = redis.Redis(port=restarted.port, socket_timeout=10)
    pipe = check.pipeline(transaction=False)
    keys = list(acked)
    for key in keys:
        pipe.get(key)
    values = pipe.execute() if keys else []
    lost = sum(value is None or int(value) != acked[key] for key, value in zip(keys, values, strict=True))
    seen = {check.get(key) for key in keys_on_every_shard()}
    torn = len(seen) > 1 or (generations and int(seen.pop() or 0) < generations[-1])
    restarted.kill()
    return len(acked) + len(generations), lost, int(bool(torn))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=2.0, help="longest load before the kill, s")
    args = parser.parse_args(argv)
    totals = [0, 0, 0]
    print(f"{'run':>4} {'acknowledged':>13} {'lost':>5} {'torn':>5}")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="mi-crash-") as tmp:
            acknowledged, lost, torn = one_run(Path(tmp) / "data", args.clients, args.duration)
        totals = [totals[0] + acknowledged, totals[1] + lost, totals[2] + torn]
        print(f"{run:>4} {acknowledged:>13} {lost:>5} {torn:>5}", flush=True)
    print(f"runs {args.runs}: {totals[0]} acknowledged, {totals[1]} lost, {totals[2]} torn transactions")
    return 1 if totals[1] or totals[2] else 0


if __name__ == "__main__":
    sys.exit(main())
