"""kill -9 (or a power cut) under load, restart, check: every acknowledged write is there, no transaction is torn.

Each run starts `mi serve` on a fresh data dir, lets client threads write for a random part of
``--duration`` seconds, kills the server with SIGKILL mid-load, restarts it on the same data dir
and checks what the clients were told. Writers do plain SETs of unique keys (each acknowledged
one must be there with its value) and cross-shard MULTI/EXEC transactions that write the same
generation to a key on every shard (all of those keys must agree). Prints one line per run and a
summary; exits 1 if anything was lost or torn.

With ``--power-loss`` the data dir lies on scripts/powercut_fs.py, and after the SIGKILL the power
is cut too: every write not yet fsynced is dropped (or, with ``--keep-fraction``, a random part of
the unsynced pages survives; by default rounds alternate 0 and 0.5). Then it remounts, restarts,
checks as above and runs `mi verify` on the data dir. In relaxed durability, writes acknowledged
within the last ``relaxed_sync_interval`` before the cut may be lost: those are counted apart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from attrs import define, field

from storage import DEFAULT_SHARDS, shard_index

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 120.0  # seconds: a restart after a cut scans every shard first
VERIFY_TIMEOUT = 300.0
NO_RETRY = Retry(NoBackoff(), 0)  # a write to a killed server fails at once, not after redis-py's retries
POWER_LOSS_SHARDS = 4  # transactions then cross shards: intents are written, redone at restart


class ServerFailed(Exception):
    """The server exited (or hung) before listening; the message is its last line."""


class Server:
    def __init__(self, data_dir: Path, durability: str = "strict", shards: int = DEFAULT_SHARDS) -> None:
        self.shards = shards
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mi.tools.cli", "serve", "--port", "0", "--data-dir", str(data_dir),
             "--log-format", "json", "--durability", durability, "--shards", str(shards)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            self.port = self._port()
        except BaseException:
            self.kill()
            raise

    def _port(self) -> int:
        watchdog = threading.Timer(START_TIMEOUT, self.proc.kill)
        watchdog.start()
        lines = []
        try:
            for line in self.proc.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {}
                if event.get("event") == "server.listening":
                    # Keep reading its log, or a full pipe would block the server.
                    threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                    return event["port"]
                if event.get("event") == "server.failed":
                    lines.append(f"server.failed: {event.get('error')}")
                elif line.strip():
                    lines.append(line.strip().strip("|").strip())
        finally:
            watchdog.cancel()
        status = self.proc.wait()
        raise ServerFailed(failure_line(lines, status))

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (SIGTERM), SIGKILL if it takes too long."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def failure_line(lines: list[str], status: int) -> str:
    """The line that says why a server did not start: its server.failed event, else the last
    exception a traceback names, else its last line, else how it exited."""
    for pattern in (r"^server\.failed: ", r"^[\w.]+(Error|Exception|Group)\b.*:"):
        named = [line for line in lines if re.match(pattern, line)]
        if named:
            return named[-1]
    how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
    return f"{lines[-1]} ({how})" if lines else f"the server exited before listening ({how})"


def keys_on_every_shard(shards: int) -> list[str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < shards:
        found.setdefault(shard_index(f"gen{i}".encode(), shards), f"gen{i}")
        i += 1
    return list(found.values())


@define
class Load:
    """What the clients were told: each acknowledged write, with when (time.monotonic()) it was."""

    acked: dict[str, tuple[int, float]] = field(factory=dict)
    generations: list[tuple[int, float]] = field(factory=list)
    stop: threading.Event = field(factory=threading.Event)

    @property
    def acknowledged(self) -> int:
        return len(self.acked) + len(self.generations)


def writer(port: int, client: int, load: Load) -> None:
    """Unique SETs; every acknowledged one is recorded."""
    connection = redis.Redis(port=port, socket_timeout=5, retry=NO_RETRY)
    i = 0
    while not load.stop.is_set():
        key = f"c{client}:{i}"
        try:
            connection.set(key, i)
        except redis.RedisError:
            return
        load.acked[key] = (i, time.monotonic())
        i += 1


def transactor(port: int, shards: int, load: Load) -> None:
    """The same generation to a key on every shard, in one EXEC."""
    connection = redis.Redis(port=port, socket_timeout=5, retry=NO_RETRY)
    keys = keys_on_every_shard(shards)
    generation = 0
    while not load.stop.is_set():
        generation += 1
        pipe = connection.pipeline(transaction=True)
        for key in keys:
            pipe.set(key, generation)
        try:
            pipe.execute()
        except redis.RedisError:
            return
        load.generations.append((generation, time.monotonic()))


def load_and_kill(server: Server, clients: int, duration: float) -> tuple[Load, float]:
    """Write for a random part of ``duration``, SIGKILL mid-load; the load and when it was killed."""
    load = Load()
    threads = [threading.Thread(target=writer, args=(server.port, c, load)) for c in range(clients)]
    threads.append(threading.Thread(target=transactor, args=(server.port, server.shards, load)))
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(duration / 4, duration))
    server.kill()  # mid-load: some writes are acknowledged, some in flight
    killed_at = time.monotonic()
    load.stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return load, killed_at


@define
class Findings:
    """What the restarted server holds against what was acknowledged."""

    lost: int = 0  # acknowledged, not there (or a transaction's generation older than acknowledged)
    lost_within_interval: int = 0  # the same, but acknowledged within the allowed window (relaxed)
    wrong: int = 0  # there with another value, or answered with an error
    torn: int = 0  # the transaction keys disagree

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.wrong or self.torn)


def holds(value: object, expected: int) -> bool:
    """A GET's answer is ``expected`` (a bulk string in RESP2, an integer where the server types it)."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return not isinstance(value, Exception) and str(text) == str(expected)


def check(port: int, shards: int, load: Load, allowed_after: float) -> Findings:
    """Compare the server's data with the load; a write acknowledged after ``allowed_after`` may be lost."""
    found = Findings()
    connection = redis.Redis(port=port, socket_timeout=30)
    pipe = connection.pipeline(transaction=False)
    keys = list(load.acked)
    for key in keys:
        pipe.get(key)
    values = pipe.execute(raise_on_error=False) if keys else []
    for key, value in zip(keys, values, strict=True):
        expected, at = load.acked[key]
        if value is None:
            if at > allowed_after:
                found.lost_within_interval += 1
            else:
                found.lost += 1
        elif not holds(value, expected):
            found.wrong += 1
    seen = {connection.get(key) for key in keys_on_every_shard(shards)}
    if len(seen) > 1:
        found.torn = 1
    elif load.generations:
        try:
            survived = int(seen.pop() or 0)
        except ValueError:  # not a generation at all
            found.wrong += 1
            return found
        last = load.generations[-1][0]
        last_required = max((g for g, at in load.generations if at <= allowed_after), default=0)
        if survived < last_required:
            found.lost += 1
        elif survived < last:
            found.lost_within_interval += 1
    return found


def one_run(
    data_dir: Path, clients: int, duration: float, shards: int = DEFAULT_SHARDS, durability: str = "strict"
) -> tuple[int, int, int]:
    """(acknowledged, lost, torn) for one kill -9."""
    load, _ = load_and_kill(Server(data_dir, durability, shards), clients, duration)
    restarted = Server(data_dir, durability, shards)
    try:
        found = check(restarted.port, shards, load, allowed_after=float("inf"))
    finally:
        restarted.kill()
    return load.acknowledged, found.lost + found.wrong, found.torn


# -- power loss ---------------------------------------------------------------------------------
class PowerCutMount:
    """scripts/powercut_fs.py mounted at ``mount`` over ``backing``, for one ``with`` block."""

    def __init__(self, backing: Path, mount: Path, keep_fraction: float, seed: int | None = None) -> None:
        backing.mkdir(parents=True, exist_ok=True)
        mount.mkdir(parents=True, exist_ok=True)
        self.mount = mount
        self.log = backing.parent / "powercut_fs.log"  # a file, not a pipe nobody reads
        command = [sys.executable, str(ROOT / "scripts" / "powercut_fs.py"), str(backing), str(mount),
                   "--keep-fraction", str(keep_fraction)]  # fmt: skip
        if seed is not None:
            command += ["--seed", str(seed)]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        watchdog = threading.Timer(START_TIMEOUT, self.proc.kill)
        watchdog.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        if not line.startswith("mounted"):
            self.close()
            lines = self.log.read_text().strip().splitlines()
            msg = f"the power-cut filesystem did not mount: {lines[-1] if lines else line or 'no output'}"
            raise RuntimeError(msg)

    def cut(self) -> str:
        """Cut the power (its own account of the pages kept and lost); the filesystem unmounts."""
        self.proc.send_signal(signal.SIGUSR1)
        out, _ = self.proc.communicate(timeout=60)
        return out.strip().splitlines()[-1] if out.strip() else ""

    def close(self) -> None:
        """Unmount cleanly (SIGTERM) if still mounted; by force if the process is gone or stuck."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()
        if os.path.ismount(self.mount):
            force = ["fusermount3", "-u", "-z"] if shutil.which("fusermount3") else ["umount", "-l"]
            subprocess.run([*force, str(self.mount)], check=False, capture_output=True)

    def __enter__(self) -> PowerCutMount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fuse_unavailable() -> str | None:
    """Why this machine cannot mount the power-cut filesystem, or None if it can."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse: this machine cannot mount FUSE filesystems"
    if os.geteuid() != 0 and not shutil.which("fusermount3"):
        return "not root and no fusermount3: cannot mount FUSE filesystems"
    try:
        import pyfuse3  # noqa: F401, PLC0415 - only the power-loss runs need it
    except ImportError as error:
        return (f"pyfuse3 is not installed ({error}): scripts/test installs it with the test extras once "
                "libfuse3 is there (root installs fuse3, libfuse3-dev and pkg-config with apt-get)")
    return None


@define
class Verify:
    status: int
    summary: str

    @property
    def clean(self) -> bool:
        return self.status == 0


def verify(data_dir: Path) -> Verify:
    """`mi verify` on the data dir: its exit status and summary (or how it died)."""
    try:
        done = subprocess.run([sys.executable, "-m", "mi.tools.cli", "verify", "--data-dir", str(data_dir)],
                              capture_output=True, text=True, cwd=ROOT, timeout=VERIFY_TIMEOUT)  # fmt: skip
    except subprocess.TimeoutExpired:
        return Verify(-1, f"no answer in {VERIFY_TIMEOUT:.0f} s")
    if done.returncode < 0:
        return Verify(done.returncode, f"killed by {signal.Signals(-done.returncode).name}")
    events = []
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    finished = [e for e in events if e.get("event") == "verify.finished"]
    if finished and done.returncode == 0:
        return Verify(0, "clean")
    if finished:
        first = next((e["where"] for e in events if e.get("event") == "verify.damaged"), "")
        return Verify(done.returncode, f"{finished[-1].get('damaged')} damaged" + (f", first: {first}" if first else ""))
    lines = (done.stdout + done.stderr).strip().splitlines()
    return Verify(done.returncode, lines[-1] if lines else f"exit status {done.returncode}")


@define
class Round:
    durability: str
    keep_fraction: float
    acknowledged: int = 0
    found: Findings = field(factory=Findings)
    start_error: str | None = None
    check_error: str | None = None
    verify: Verify | None = None
    cut: str = ""

    @property
    def failed(self) -> bool:
        verify_failed = self.verify is None or not self.verify.clean
        return self.found.failed or bool(self.start_error or self.check_error) or verify_failed


def relaxed_sync_interval() -> float:
    from mi.settings.config import load_config  # noqa: PLC0415 - the server's own reading of conf/mi.toml

    with contextlib.chdir(ROOT):
        return float(load_config().storage.relaxed_sync_interval)


def power_loss_round(  # noqa: PLR0913 - one round's settings, named at every call
    workdir: Path, durability: str, keep_fraction: float, clients: int, duration: float, shards: int,
    seed: int | None = None,
) -> Round:
    """One round: load, SIGKILL, cut the power, remount, restart, check, verify."""
    result = Round(durability, keep_fraction)
    window = relaxed_sync_interval() if durability == "relaxed" else 0.0
    backing, mount = workdir / "disk", workdir / "mnt"
    data_dir = mount / "data"
    with PowerCutMount(backing, mount, keep_fraction, seed) as fs:
        load, killed_at = load_and_kill(Server(data_dir, durability, shards), clients, duration)
        result.acknowledged = load.acknowledged
        result.cut = fs.cut()
    with PowerCutMount(backing, mount, 0.0) as fs:
        try:
            restarted = Server(data_dir, durability, shards)
        except ServerFailed as error:
            result.start_error = str(error)
        else:
            try:
                result.found = check(restarted.port, shards, load, allowed_after=killed_at - window)
            except redis.RedisError as error:
                result.check_error = f"{type(error).__name__}: {error}"
            finally:
                restarted.stop()
        result.verify = verify(data_dir)
    return result


def describe(result: Round) -> str:
    found = result.found
    started = "ok" if result.start_error is None else "FAILED"
    verified = result.verify.summary if result.verify else "-"
    line = (f"{result.durability:>8} {result.keep_fraction:>5} {result.acknowledged:>13} {found.lost:>5} "
            f"{found.lost_within_interval:>9} {found.wrong:>6} {found.torn:>5} {started:>7}  {verified}")  # fmt: skip
    if result.cut:
        line += f"\n{'':>5}{result.cut}"
    for label, text in (("start", result.start_error), ("check", result.check_error)):
        if text:
            line += f"\n{'':>5}{label}: {text[:300]}"
    return line


def power_loss_main(args: argparse.Namespace) -> int:
    reason = fuse_unavailable()
    if reason:
        print(f"cannot run --power-loss: {reason}", file=sys.stderr)
        return 2
    window = f" (relaxed_sync_interval {relaxed_sync_interval():g} s)" if args.durability == "relaxed" else ""
    print(f"power loss, {args.durability} durability{window}, {args.runs} rounds, {args.clients} clients")
    print(f"{'round':>5} {'durability':>8} {'keep':>5} {'acknowledged':>13} {'lost':>5} {'in window':>9} "
          f"{'wrong':>6} {'torn':>5} {'started':>7}  verify")  # fmt: skip
    rounds = []
    for number in range(1, args.runs + 1):
        keep = args.keep_fraction if args.keep_fraction is not None else (0.0, 0.5)[(number - 1) % 2]
        print(f"{number:>5} ", end="", flush=True)
        with tempfile.TemporaryDirectory(prefix="mi-powercut-") as tmp:
            result = power_loss_round(Path(tmp), args.durability, keep, args.clients, args.duration, args.shards)
        rounds.append(result)
        print(describe(result), flush=True)
    failed = [r for r in rounds if r.failed]
    totals = Findings(*(sum(getattr(r.found, name) for r in rounds) for name in ("lost", "lost_within_interval", "wrong", "torn")))
    print(f"rounds {len(rounds)}: {sum(r.acknowledged for r in rounds)} acknowledged, {totals.lost} lost, "
          f"{totals.lost_within_interval} lost within the interval, {totals.wrong} wrong values, "
          f"{totals.torn} torn, {sum(r.start_error is not None for r in rounds)} failed to start, "
          f"{sum(r.verify is not None and not r.verify.clean for r in rounds)} not clean in verify; "
          f"{len(failed)} rounds failed")  # fmt: skip
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=2.0, help="longest load before the kill, s")
    parser.add_argument("--power-loss", action="store_true", help="cut the power after the kill (FUSE)")
    parser.add_argument("--keep-fraction", type=float, default=None,
                        help="with --power-loss: unsynced pages that survive the cut (default: 0 and 0.5 in turn)")  # fmt: skip
    parser.add_argument("--durability", choices=("strict", "relaxed"), default="strict")
    parser.add_argument("--shards", type=int, default=None,
                        help=f"default {DEFAULT_SHARDS} (the server's), {POWER_LOSS_SHARDS} with --power-loss")  # fmt: skip
    args = parser.parse_args(argv)
    if args.power_loss:
        args.shards = args.shards or POWER_LOSS_SHARDS
        return power_loss_main(args)
    args.shards = args.shards or DEFAULT_SHARDS
    totals = [0, 0, 0]
    print(f"{'run':>4} {'acknowledged':>13} {'lost':>5} {'torn':>5}")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="mi-crash-") as tmp:
            acknowledged, lost, torn = one_run(Path(tmp) / "data", args.clients, args.duration, args.shards, args.durability)
        totals = [totals[0] + acknowledged, totals[1] + lost, totals[2] + torn]
        print(f"{run:>4} {acknowledged:>13} {lost:>5} {torn:>5}", flush=True)
    print(f"runs {args.runs}: {totals[0]} acknowledged, {totals[1]} lost, {totals[2]} torn transactions")
    return 1 if totals[1] or totals[2] else 0


if __name__ == "__main__":
    sys.exit(main())
