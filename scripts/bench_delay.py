"""Delayed delivery, mi against beanstalkd: how late messages arrive, how fast, in how much memory.

Run through ``scripts/bench-delay`` (it installs beanstalkd when missing). Each server gets the same
work: N messages scheduled with random delays spread over a window that starts after a lead
time, then consumed by C blocking consumers that acknowledge (mi: TAKE/ACK) or delete
(beanstalkd: reserve/delete) each one. Lateness is the time from a message's due time to its
arrival at a consumer. beanstalkd takes delays in whole seconds, so its due time is its own
(put time + delay), not the exact deadline mi is given. ``--hold N`` instead schedules N messages
an hour ahead and reports the server's memory holding them. ``--list N`` (mi only) schedules N an
hour ahead, then times one client's GETs alone and while another client pages through all N with
``SCHEDULED`` (alternating, three rounds each): what an operator's listing costs everyone else.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import redis

from scripts.bench import free_port, rss_mb, server

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
NS = "bench"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Results:
    """What the consumers saw: lateness per message, arrival times, duplicates."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lateness: list[int] = []
        self.seen: Counter[str] = Counter()
        self.last_arrival = 0

    def arrived(self, key: str, due_ms: int) -> None:
        arrival = now_ms()
        with self.lock:
            self.lateness.append(arrival - due_ms)
            self.seen[key] += 1
            self.last_arrival = max(self.last_arrival, arrival)

    def summary(self, expected: int, first_due: int) -> dict:
        late = sorted(self.lateness)
        span = max(self.last_arrival - first_due, 1) / 1000
        return {
            "delivered": len(self.seen),
            "lost": expected - len(self.seen),
            "twice": sum(1 for count in self.seen.values() if count > 1),
            "p50": statistics.median(late) if late else float("nan"),
            "p99": late[int(len(late) * 0.99) - 1] if late else float("nan"),
            "max": late[-1] if late else float("nan"),
            "rate": len(late) / span,
        }


# -- mi ------------------------------------------------------------------------------------------


def mi_server(port: int, data_dir: Path) -> tuple[list[str], Path]:
    config = data_dir.parent / "mi-bench.toml"
    config.write_text(f'[namespaces.{NS}]\non_expire = "deliver"\nlease = "10m"\n')
    command = [str(VENV_PYTHON), "-m", "mi.tools.cli", "serve", "--config", str(config), "--port", str(port),
               "--data-dir", str(data_dir), "--log-level", "warning", "--log-format", "json"]
    return command, config


def mi_produce(port: int, deadlines: list[int], connections: int = 8) -> None:
    def produce(part: list[tuple[int, int]]) -> None:
        client = redis.Redis(port=port, socket_timeout=300)
        pipe = client.pipeline(transaction=False)
        for i, deadline in part:
            pipe.execute_command("SET", f"m{i}", deadline, "FROM", NS, "PXAT", deadline)
            if len(pipe) >= 1000:
                pipe.execute()
        pipe.execute()

    indexed = list(enumerate(deadlines))
    run_parallel([lambda part=indexed[k::connections]: produce(part) for k in range(connections)])


def mi_consume(port: int, expected: int, results: Results, consumers: int, stop: threading.Event) -> None:
    def consume() -> None:
        client = redis.Redis(port=port, protocol=3, socket_timeout=300)
        while not stop.is_set():
            messages = client.execute_command("TAKE", "FROM", NS, "COUNT", 100, "BLOCK", 500)
            if not messages:
                continue
            for message in messages:
                results.arrived(message[b"key"].decode(), message[b"deadline"])
            client.execute_command("ACK", NS, *(message[b"id"] for message in messages))
            if len(results.seen) >= expected:
                stop.set()

    run_parallel([consume] * consumers)


# -- beanstalkd ----------------------------------------------------------------------------------


class Beanstalk:
    """The few beanstalkd commands the benchmark needs, over one socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("beanstalkd closed the connection")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _body(self, size: int) -> bytes:
        while len(self.buffer) < size + 2:
            self.buffer += self.sock.recv(65536)
        body, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
        return body

    def put_many(self, jobs: list[tuple[int, bytes]]) -> None:
        """Pipelined puts: (delay seconds, body)."""
        out = b"".join(b"put 1024 %d 600 %d\r\n%s\r\n" % (delay, len(body), body) for delay, body in jobs)
        self.sock.sendall(out)
        for _ in jobs:
            reply = self._line()
            if not reply.startswith(b"INSERTED"):
                raise RuntimeError(f"beanstalkd: {reply!r}")

    def reserve(self, timeout: int) -> tuple[int, bytes] | None:
        self.sock.sendall(b"reserve-with-timeout %d\r\n" % timeout)
        reply = self._line()
        if reply.startswith(b"TIMED_OUT"):
            return None
        _, job_id, size = reply.split()
        return int(job_id), self._body(int(size))

    def delete(self, job_id: int) -> None:
        self.sock.sendall(b"delete %d\r\n" % job_id)
        self._line()


def beanstalk_produce(port: int, deadlines: list[int], connections: int = 8) -> None:
    def produce(part: list[tuple[int, int]]) -> None:
        client = Beanstalk(port)
        batch: list[tuple[int, bytes]] = []
        for i, deadline in part:
            now = now_ms()
            delay = max(0, -(-(deadline - now) // 1000))  # whole seconds, rounded up
            batch.append((delay, b"m%d %d" % (i, now + delay * 1000)))  # its own due time
            if len(batch) >= 1000:
                client.put_many(batch)
                batch = []
        client.put_many(batch)

    indexed = list(enumerate(deadlines))
    run_parallel([lambda part=indexed[k::connections]: produce(part) for k in range(connections)])


def beanstalk_consume(port: int, expected: int, results: Results, consumers: int, stop: threading.Event) -> None:
    def consume() -> None:
        client = Beanstalk(port)
        while not stop.is_set():
            job = client.reserve(timeout=1)
            if job is None:
                continue
            job_id, body = job
            key, due = body.split()
            results.arrived(key.decode(), int(due))
            client.delete(job_id)
            if len(results.seen) >= expected:
                stop.set()

    run_parallel([consume] * consumers)


# -- the run -------------------------------------------------------------------------------------


def run_parallel(jobs: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def delivery_run(name: str, command: list[str], port: int, produce, consume, args) -> dict:
    rng = random.Random(args.seed)
    first_due = now_ms() + int(args.lead * 1000)
    deadlines = [first_due + rng.randrange(int(args.window * 1000)) for _ in range(args.messages)]
    with server(command, port) as proc:
        started = time.monotonic()
        produce(port, deadlines)
        produced_s = time.monotonic() - started
        if now_ms() > first_due:
            print(f"  {name}: producing took {produced_s:.1f}s, past the lead; raise --lead", file=sys.stderr)
        rss_scheduled = rss_mb(proc.pid, "VmRSS")
        results, stop = Results(), threading.Event()
        timer = threading.Timer(args.lead + args.window + args.grace, stop.set)
        timer.start()
        peak_anon = [rss_mb(proc.pid)]
        sampler = threading.Thread(target=_sample_anon, args=(proc.pid, stop, peak_anon), daemon=True)
        sampler.start()
        consume(port, args.messages, results, args.consumers, stop)
        timer.cancel()
        figures = results.summary(args.messages, first_due)
        figures.update(produce_rate=args.messages / produced_s, rss=max(rss_scheduled, rss_mb(proc.pid, "VmRSS")),
                       anon=peak_anon[0])
    return figures


def _sample_anon(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """The highest RssAnon (heap: not the page cache) while the consumers run, every 0.2 s."""
    while not stop.wait(0.2):
        peak[0] = max(peak[0], rss_mb(pid))


def list_run(port: int, count: int, rounds: int = 3) -> list[str]:
    """GET latency of one client alone and while another process pages SCHEDULED through
    ``count`` (a process of its own: in a thread, parsing its pages would hold this one's GIL and
    show as the GETs' latency)."""
    mi_produce(port, [now_ms() + 3_600_000 + i for i in range(count)])
    reader = redis.Redis(port=port, socket_timeout=60)
    reader.set("probe", "x")
    lines = []
    alone, busy, took = [], [], []
    for _ in range(rounds):
        alone.append(_get_latencies(reader, seconds=5.0))
        results: multiprocessing.Queue = multiprocessing.Queue()
        lister = multiprocessing.Process(target=_page_through, args=(port, results))
        lister.start()
        busy.append(_get_latencies(reader, until=lister))
        seconds, seen, pages = results.get()
        lister.join()
        took.append((seconds, pages))
        if seen != count:
            lines.append(f"  listing saw {seen:,} of {count:,}")
    for name, runs in (("alone", alone), ("while listing", busy)):
        p50, p99, worst = (statistics.median(run[i] for run in runs) for i in range(3))
        lines.append(f"  GET {name:<14} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {worst:6.2f} ms  (median of {rounds})")
    seconds, pages = (statistics.median(t[i] for t in took) for i in range(2))
    lines.append(f"  listing {count:,} took {seconds:.1f} s in {pages:,.0f} pages ({count / seconds:,.0f} entries/s)")
    return lines


def _page_through(port: int, results: multiprocessing.Queue) -> None:
    """Every page of SCHEDULED, 1000 a page; (seconds, entries seen, pages) into ``results``."""
    client = redis.Redis(port=port, socket_timeout=60)
    started, cursor, seen, pages = time.monotonic(), b"0", 0, 0
    while True:
        cursor, entries = client.execute_command("SCHEDULED", NS, "COUNT", 1000, "AFTER", cursor)
        seen, pages = seen + len(entries), pages + 1
        if cursor in (b"0", 0):
            break
    results.put((time.monotonic() - started, seen, pages))


def _get_latencies(client: redis.Redis, seconds: float | None = None, until: multiprocessing.Process | None = None
                   ) -> tuple[float, float, float]:
    """p50, p99 and max of back-to-back GETs, in ms, for ``seconds`` or while ``until`` runs."""
    times: list[float] = []
    give_up = time.monotonic() + (seconds or 3600)
    while time.monotonic() < give_up and (until is None or until.is_alive()):
        started = time.perf_counter()
        client.get("probe")
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], times[-1]


def hold_run(command: list[str], port: int, produce, count: int) -> str:
    deadlines = [now_ms() + 3_600_000 + i for i in range(count)]
    with server(command, port) as proc:
        produce(port, deadlines)
        return f"{rss_mb(proc.pid, 'VmRSS'):8.0f} MB RSS ({rss_mb(proc.pid):.0f} MB anonymous)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds the deadlines spread over")
    parser.add_argument("--lead", type=float, default=20.0, help="seconds before the first deadline")
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--grace", type=float, default=30.0, help="seconds to wait for stragglers")
    parser.add_argument("--hold", type=int, default=0, help="instead: schedule N an hour ahead, report RSS")
    parser.add_argument("--list", type=int, default=0,
                        help="instead (mi): schedule N, time GETs alone and while paging SCHEDULED through them")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("mi", "beanstalkd"), help="run one server (to try a change quickly)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mi-bench-delay-") as temp:
        mi_port, bean_port = free_port(), free_port()
        mi_cmd, _ = mi_server(mi_port, Path(temp) / "mi-data")
        (Path(temp) / "binlog").mkdir()
        bean_cmd = ["beanstalkd", "-l", "127.0.0.1", "-p", str(bean_port), "-b", str(Path(temp) / "binlog"),
                    "-f", "0"]  # -f 0: fsync every write, as mi's strict durability
        if args.list:
            print(f"{args.list:,} messages scheduled an hour ahead; one client's GETs alone and while another "
                  f"pages through them (SCHEDULED {NS} COUNT 1000)")
            with server(mi_cmd, mi_port):
                print("\n".join(list_run(mi_port, args.list)))
            return 0
        if args.hold:
            print(f"holding {args.hold:,} messages scheduled an hour ahead: server memory")
            print(f"  mi          {hold_run(mi_cmd, mi_port, mi_produce, args.hold)}")
            print(f"  beanstalkd  {hold_run(bean_cmd, bean_port, beanstalk_produce, args.hold)}")
            return 0
        print(f"{args.messages:,} messages due over {args.window:g}s after a {args.lead:g}s lead, "
              f"{args.consumers} consumers; lateness in ms")
        print(f"{'server':<12}{'delivered':>10}{'lost':>6}{'twice':>7}{'p50':>8}{'p99':>8}{'max':>8}"
              f"{'msg/s':>9}{'put/s':>9}{'RSS MB':>8}{'anon MB':>9}")
        for name, command, port, produce, consume in (
            ("mi", mi_cmd, mi_port, mi_produce, mi_consume),
            ("beanstalkd", bean_cmd, bean_port, beanstalk_produce, beanstalk_consume),
        ):
            if args.only not in (None, name):
                continue
            f = delivery_run(name, command, port, produce, consume, args)
            print(f"{name:<12}{f['delivered']:>10,}{f['lost']:>6}{f['twice']:>7}{f['p50']:>8.0f}{f['p99']:>8.0f}"
                  f"{f['max']:>8.0f}{f['rate']:>9.0f}{f['produce_rate']:>9.0f}{f['rss']:>8.0f}{f['anon']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
