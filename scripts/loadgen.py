"""A small load generator for workloads ``redis-benchmark`` cannot express.

``redis-benchmark`` sends one fixed command (with random key parts), so it cannot measure a
transaction (``MULTI``, two ``SET``s, ``EXEC`` as one operation) or a read/write mix.
``scripts/bench.py`` runs this script as a subprocess, the way it runs redis-benchmark:

    loadgen.py --port P --workload {multi,mixed} [--clients 50] [--requests 20000]
               [--keyspace 100000] [--value-size 64] [--namespace bench | --no-namespace]

* ``multi``: one operation is ``MULTI``, ``SET key:<r1> <value>``, ``SET key:<r2> <value>``,
  ``EXEC``, sent in one write; it is done when all four replies have arrived.
* ``mixed``: one operation is ``GET key:<r>`` (probability 0.8) or ``SET key:<r> <value>``.

Each request ends with ``FROM <namespace>`` (mi's syntax) unless ``--no-namespace`` (stock
Redis). ``--clients`` connections each keep one operation in flight until ``--requests``
operations are done. Output is one JSON line on stdout, ``{"ops", "rps", "p50", "p99"}``, with
latency per operation in milliseconds, from send to last reply. An error reply, a closed
connection or a stall fails the run with a message on stderr and exit status 1.

The generator shares a 2-core machine with the server it measures, so it is written to cost
little CPU: one thread, one epoll loop over non-blocking sockets, requests encoded as RESP bytes
without a client library, and replies counted (not decoded) by a scanner that uses bytes.find.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import sys
import time
from collections.abc import Callable

_IN = select.POLLIN
_OUT = select.POLLOUT
_ERR = select.POLLERR | select.POLLHUP
_CRLF = b"\r\n"


class LoadgenError(Exception):
    """The run cannot go on: an error reply, a closed connection, a stall."""


def encode(*args: bytes) -> bytes:
    """One request as a RESP array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _length(buf: bytes, pos: int, eol: int) -> int:
    """The number in a ``$`` or ``*`` header line."""
    try:
        return int(buf[pos + 1:eol])
    except ValueError:
        raise LoadgenError(f"not a RESP2 header: {buf[pos:eol + 2][:80]!r}") from None


class ReplyCounter:
    """Counts complete top-level RESP2 replies in a byte stream fed piecewise.

    Replies are only framed, never decoded: an operation only needs to know when its replies have
    all arrived, and whether any of them (at any nesting depth) is an error.
    """

    __slots__ = ("_buf", "_pending", "error")

    def __init__(self) -> None:
        self._buf = b""
        # Elements still missing from each array being read, innermost last.
        self._pending: list[int] = []
        self.error: bytes | None = None

    def feed(self, data: bytes) -> int:
        """Take more bytes; return how many top-level replies they completed."""
        buf = self._buf + data if self._buf else data
        pending = self._pending
        size = len(buf)
        pos = 0
        done = 0
        while pos < size:
            eol = buf.find(_CRLF, pos)
            if eol < 0:
                break
            kind = buf[pos]
            if kind == 0x24:  # '$': bulk string, or $-1 (nil)
                length = _length(buf, pos, eol)
                end = eol + 2 if length < 0 else eol + length + 4
                if end > size:
                    break  # the body has not all arrived; rescan its header next time
                pos = end
            elif kind == 0x2A:  # '*': array, or *-1 (nil)
                count = _length(buf, pos, eol)
                pos = eol + 2
                if count > 0:
                    pending.append(count)
                    continue  # nothing is complete until its elements are
            else:  # '+', ':' (one line) or '-' (an error: remember the first)
                if kind == 0x2D:
                    if self.error is None:
                        self.error = buf[pos:eol]
                elif kind != 0x2B and kind != 0x3A:
                    raise LoadgenError(f"not a RESP2 reply: {buf[pos:eol + 2][:80]!r}")
                pos = eol + 2
            # One element is complete: it may complete the arrays around it.
            while pending:
                pending[-1] -= 1
                if pending[-1]:
                    break
                pending.pop()
            else:
                done += 1
        self._buf = buf[pos:] if pos < size else b""
        return done


class Connection:
    """One client connection and the operation it has in flight."""

    __slots__ = ("counter", "outstanding", "sock", "started", "unsent")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.counter = ReplyCounter()
        self.outstanding = 0  # replies still awaited for the operation in flight
        self.started = 0.0
        self.unsent = b""  # the tail of a request the socket did not take at once


def make_operation(workload: str, keyspace: int, value: bytes,
                   namespace: bytes | None) -> tuple[Callable[[], bytes], int]:
    """A function that builds one operation's requests, and how many replies it gets."""
    suffix = encode(b"FROM", namespace)[4:] if namespace else b""  # [4:] drops the "*2\r\n"
    nargs = 2 if namespace else 0
    value_bulk = b"$%d\r\n%s\r\n" % (len(value), value)
    set_head = b"*%d\r\n$3\r\nSET\r\n" % (3 + nargs)
    get_head = b"*%d\r\n$3\r\nGET\r\n" % (2 + nargs)
    rand = random.random

    def key() -> bytes:
        k = b"key:%d" % int(rand() * keyspace)
        return b"$%d\r\n%s\r\n" % (len(k), k)

    if workload == "multi":
        multi, exec_ = encode(b"MULTI"), encode(b"EXEC")

        def transaction() -> bytes:
            return b"".join((multi, set_head, key(), value_bulk, suffix,
                             set_head, key(), value_bulk, suffix, exec_))

        return transaction, 4

    def get_or_set() -> bytes:
        if rand() < 0.8:
            return get_head + key() + suffix
        return set_head + key() + value_bulk + suffix

    return get_or_set, 1


def connect(port: int, count: int) -> list[Connection]:
    conns = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        # Small requests must leave at once, not wait for Nagle to coalesce them.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conns.append(Connection(sock))
    return conns


def run(port: int, workload: str, clients: int, requests: int, keyspace: int, value: bytes,
        namespace: bytes | None, stall_timeout: float) -> tuple[int, float, list[float]]:
    """Drive the load; return operations done, elapsed seconds and per-operation latencies."""
    operation, replies_per_op = make_operation(workload, keyspace, value, namespace)
    conns = connect(port, min(clients, requests))
    by_fd = {c.sock.fileno(): c for c in conns}
    # poll, not selectors: no key objects built per event. epoll where there is one.
    poller = select.epoll() if hasattr(select, "epoll") else select.poll()
    timeout = stall_timeout if hasattr(select, "epoll") else stall_timeout * 1000
    latencies: list[float] = []
    clock = time.perf_counter
    issued = 0

    def send(conn: Connection, data: bytes) -> None:
        try:
            sent = conn.sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):  # rare with requests this small: finish when writable
            conn.unsent = data[sent:]
            poller.modify(conn.sock.fileno(), _IN | _OUT)

    def start(conn: Connection) -> None:
        nonlocal issued
        issued += 1
        conn.outstanding = replies_per_op
        data = operation()
        conn.started = clock()
        send(conn, data)

    for conn in conns:
        poller.register(conn.sock.fileno(), _IN)
    began = clock()
    for conn in conns:
        start(conn)
    active = len(conns)
    try:
        while active:
            events = poller.poll(timeout)
            if not events:
                raise LoadgenError(f"no reply for {stall_timeout}s ({len(latencies)} operations done)")
            for fd, mask in events:
                conn = by_fd[fd]
                if mask & _OUT and conn.unsent:
                    data, conn.unsent = conn.unsent, b""
                    poller.modify(fd, _IN)
                    send(conn, data)
                if not mask & (_IN | _ERR):
                    continue
                try:
                    data = conn.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise LoadgenError(f"connection failed: {exc}") from exc
                if not data:
                    raise LoadgenError("the server closed a connection")
                done = conn.counter.feed(data)
                if conn.counter.error is not None:
                    raise LoadgenError(f"error reply: {conn.counter.error.decode(errors='replace')}")
                if not done:
                    continue
                if done > conn.outstanding:
                    raise LoadgenError(f"{done - conn.outstanding} replies more than requests sent")
                conn.outstanding -= done
                if conn.outstanding:
                    continue
                latencies.append(clock() - conn.started)
                if issued < requests:
                    start(conn)
                else:
                    active -= 1
        elapsed = clock() - began
    finally:
        poller.close()
        for conn in conns:
            conn.sock.close()
    return len(latencies), elapsed, latencies


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, int(fraction * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="server port on 127.0.0.1")
    parser.add_argument("--workload", choices=("multi", "mixed"), required=True)
    parser.add_argument("--clients", type=int, default=50, help="connections (default 50)")
    parser.add_argument("--requests", type=int, default=20000,
                        help="operations in all; a transaction is one (default 20000)")
    parser.add_argument("--keyspace", type=int, default=100000, help="keys are key:0.. (default 100000)")
    parser.add_argument("--value-size", type=int, default=64, help="bytes per value (default 64)")
    ns = parser.add_mutually_exclusive_group()
    ns.add_argument("--namespace", default="bench", help="appended as FROM <namespace> (default bench)")
    ns.add_argument("--no-namespace", action="store_true", help="no FROM clause (stock Redis)")
    parser.add_argument("--stall-timeout", type=float, default=30,
                        help="fail after this many seconds without any reply (default 30)")
    parser.add_argument("--verbose", action="store_true", help="the generator's own CPU time on stderr")
    args = parser.parse_args()
    if args.clients < 1 or args.requests < 1 or args.keyspace < 1 or args.value_size < 0:
        parser.error("--clients, --requests and --keyspace must be positive, --value-size not negative")

    namespace = None if args.no_namespace else args.namespace.encode()
    cpu_before = os.times()
    try:
        ops, elapsed, latencies = run(args.port, args.workload, args.clients, args.requests,
                                      args.keyspace, b"x" * args.value_size, namespace,
                                      args.stall_timeout)
    except (LoadgenError, OSError) as exc:
        print(f"loadgen: {args.workload} on port {args.port} failed: {exc}", file=sys.stderr)
        return 1
    if args.verbose:
        cpu = os.times()
        used = cpu.user - cpu_before.user + cpu.system - cpu_before.system
        print(f"loadgen: {elapsed:.3f}s wall, {used:.3f}s CPU ({used / elapsed:.0%} of one core)",
              file=sys.stderr)
    latencies.sort()
    print(json.dumps({"ops": ops, "rps": round(ops / elapsed, 1),
                      "p50": round(percentile(latencies, 0.50) * 1000, 3),
                      "p99": round(percentile(latencies, 0.99) * 1000, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
