"""`mi serve` as a real process: signals, kill -9, restart, startup errors."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from storage import shard_index
from support import as_map, keys_on_every_shard

pytestmark = pytest.mark.slow


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_server_left_behind():
    """A test that fails half-way must not leave its server running."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


class ServerProcess:
    """`mi serve` on a free port, with its JSON log lines collected."""

    def __init__(self, data_dir: Path | None, *extra: str, env: dict | None = None, preexec_fn=None) -> None:
        where = ["--data-dir", str(data_dir)] if data_dir else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mi.tools.cli", "serve", "--port", "0", *where, "--log-format", "json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=preexec_fn,
        )
        _started.append(self.proc)
        self.events: list[dict] = []
        self.port = self._wait_for("server.listening")["port"]

    def _wait_for(self, event: str) -> dict:
        for line in self.proc.stdout:  # the pipe ends if the process dies: no hang
            record = json.loads(line)
            self.events.append(record)
            if record["event"] == event:
                return record
        raise AssertionError(f"server exited before {event!r}: {self.proc.stderr.read()}")

    def client(self, **options) -> redis.Redis:
        return redis.Redis(port=self.port, **{"socket_timeout": 10, **options})

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        rest = self.proc.stdout.read()
        self.events += [json.loads(line) for line in rest.splitlines()]
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def test_kill_9_right_after_ok_keeps_the_value(tmp_path):
    """Every acknowledged write survives kill -9 and a restart."""
    server = ServerProcess(tmp_path / "data")
    client = server.client()
    for i in range(50):
        assert client.execute_command("SET", f"k{i}", f"v{i}", "FROM", "durable") is True
    server.kill()

    restarted = ServerProcess(tmp_path / "data")
    client = restarted.client()
    assert [client.execute_command("GET", f"k{i}", "FROM", "durable") for i in range(50)] == [
        f"v{i}".encode() for i in range(50)
    ]
    restarted.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_gracefully(tmp_path, signum):
    """SIGTERM/SIGINT: exit 0, a stop event logged, and the data is there after restart."""
    server = ServerProcess(tmp_path / "data")
    server.client().set("k", "v")
    assert server.stop(signum) == 0
    assert {"server.stopping", "server.stopped"} <= {e["event"] for e in server.events}
    restarted = ServerProcess(tmp_path / "data")
    assert restarted.client().get("k") == b"v"
    restarted.kill()


def test_shutdown_command_stops_the_process_cleanly(tmp_path):
    """SHUTDOWN NOSAVE (redis-py's shutdown): exit 0 after a clean stop; the data is there after."""
    server = ServerProcess(tmp_path / "data")
    client = server.client()
    client.set("k", "v")
    client.shutdown(nosave=True)
    assert server.proc.wait(timeout=30) == 0
    server.events += [json.loads(line) for line in server.proc.stdout.read().splitlines()]
    assert {"shutdown.requested", "server.stopped"} <= {e["event"] for e in server.events}
    restarted = ServerProcess(tmp_path / "data")
    assert restarted.client().get("k") == b"v"
    assert not any(e["event"] == "storage.checked_after_unclean_shutdown" for e in restarted.events)
    restarted.kill()


def test_deadlines_survive_a_restart(tmp_path):
    """A TTL set before a restart still counts down after it."""
    server = ServerProcess(tmp_path / "data")
    server.client().set("k", "v", ex=1000)
    server.kill()
    restarted = ServerProcess(tmp_path / "data")
    assert 990 <= restarted.client().ttl("k") <= 1000
    restarted.kill()


def test_connection_events_are_logged_as_json(tmp_path):
    """Opening and closing a connection logs one JSON event each, with its id and peer."""
    server = ServerProcess(tmp_path / "data")
    client = server.client()
    client.ping()
    client.close()
    server.stop(signal.SIGTERM)
    opened = [e for e in server.events if e["event"] == "connection.opened"]
    closed = [e for e in server.events if e["event"] == "connection.closed"]
    assert opened and closed and opened[0]["conn_id"] == closed[0]["conn_id"]
    assert {"timestamp", "level", "peer"} <= set(closed[0])


def test_shard_count_mismatch_is_a_clear_startup_error(tmp_path):
    """Reopening a data dir with another shard count fails with a message, exit 1."""
    ServerProcess(tmp_path / "data", "--shards", "2").kill()
    proc = subprocess.run(
        [sys.executable, "-m", "mi.tools.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--shards", "3", "--log-format", "json"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "2 shards" in proc.stdout


def test_bad_config_is_a_clear_startup_error(tmp_path):
    """An unknown option in the config file is named, exit 2."""
    bad = tmp_path / "mi.toml"
    bad.write_text("[server]\nprot = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mi.tools.cli", "serve", "--config", str(bad)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "prot" in proc.stderr


def test_environment_variable_sets_an_option(tmp_path):
    """MI_DATA_DIR is honoured when no flag is given."""
    server = ServerProcess(None, env={**os.environ, "MI_DATA_DIR": str(tmp_path / "from-env")})
    server.kill()
    listening = next(e for e in server.events if e["event"] == "server.listening")
    assert listening["data_dir"] == str(tmp_path / "from-env")


def test_relaxed_durability_survives_a_process_crash(tmp_path):
    """Relaxed mode skips per-commit fsync, yet kill -9 of the process loses nothing."""
    server = ServerProcess(tmp_path / "data", "--durability", "relaxed")
    client = server.client()
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    for i in range(50):
        client.set(f"k{i}", i)
    server.kill()
    restarted = ServerProcess(tmp_path / "data")
    assert [restarted.client().execute_command("GET", f"k{i}") for i in range(50)] == list(range(50))
    restarted.kill()


def test_port_in_use_is_a_clear_startup_error(tmp_path):
    """A taken port fails the start with exit 1 and says which address."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "mi.tools.cli", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
             "--log-format", "json"],
            capture_output=True, text=True, timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stdout


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_during_cross_shard_transactions_leaves_each_whole(tmp_path, round_):
    """Transactions add one to a key on every shard; after kill -9 all keys agree, on a count no
    lower than the transactions acknowledged (and at most those plus the ones in flight).

    The kill lands at a different moment each round (after 20, 35, 50 acknowledged EXECs, with
    more in flight), so it falls anywhere in the commit sequence, including between two shards.
    """
    keys = keys_on_every_shard(4)
    server = ServerProcess(tmp_path / "data", "--shards", "4")
    acknowledged = 0
    counting = threading.Lock()
    kill_after = 20 + 15 * round_
    clients = [server.client() for _ in range(4)]

    def run(client: redis.Redis) -> None:
        nonlocal acknowledged
        while True:
            pipe = client.pipeline(transaction=True)
            for key in keys:
                pipe.incr(key)
            try:
                pipe.execute()
            except (redis.ConnectionError, redis.TimeoutError):
                return
            with counting:
                acknowledged += 1
                if acknowledged == kill_after:
                    server.proc.kill()

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    server.proc.wait(timeout=30)

    restarted = ServerProcess(tmp_path / "data")
    values = [int(restarted.client().get(key)) for key in keys]
    assert len(set(values)) == 1, f"a transaction was torn: {values}"
    assert acknowledged <= values[0] <= acknowledged + len(clients), "acknowledged ones survived"
    restarted.kill()


def test_mi_journal_reads_beside_a_running_server_and_follows(tmp_path):
    """`mi journal` prints what the live server committed, then new entries as they come."""
    server = ServerProcess(tmp_path / "data", "--shards", "4")
    client = server.client()
    client.execute_command("SET", "{feed}a", "1", "FROM", "jobs")
    base = [sys.executable, "-m", "mi.tools.cli", "journal", "--data-dir", str(tmp_path / "data")]
    shard = shard_index(b"{feed}a", 4)
    done = subprocess.run([*base, "--shard", str(shard)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["op"], e["changes"][0]["key"], e["changes"][0]["ns"]) for e in entries] == [("SET", "{feed}a", "jobs")]

    follower = subprocess.Popen([*base, "--since", "1", "--shard", str(shard), "--follow"], stdout=subprocess.PIPE, text=True)
    try:
        client.execute_command("DEL", "{feed}a", "FROM", "jobs")
        line = follower.stdout.readline()  # blocks until the entry is printed (the pipe ends if it dies)
        assert json.loads(line)["op"] == "DEL"
    finally:
        follower.kill()
        follower.wait(timeout=30)
    server.kill()


def test_crash_test_script_short_form(tmp_path):
    """scripts/crash-test, short: kill -9 under load twice; nothing acknowledged is lost or torn."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "scripts" / "crash_test.py"), "--runs", "2", "--duration", "0.5"],
        capture_output=True, text=True, timeout=120, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 lost, 0 torn" in done.stdout


def _limit_file_size() -> None:  # runs in the server's child process, before exec
    limit = 2 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_refuses_writes_keeps_reads_and_recovers(tmp_path):
    """A file size limit (as a full disk): writes get a clear error, nothing acknowledged is lost,
    reads and deletes work, and writes resume once deletes have freed space."""
    server = ServerProcess(tmp_path / "data", "--shards", "1", preexec_fn=_limit_file_size)
    client = server.client()
    client.set("first", "kept")
    acknowledged = []
    error = None
    for i in range(2000):
        try:
            client.set(f"k{i}", "x" * 4096)
        except redis.ResponseError as refused:
            error = str(refused)
            break
        acknowledged.append(f"k{i}")
    assert error is not None and "is the disk full?" in error
    assert client.get("first") == b"kept"
    assert client.delete(*acknowledged[:60]) == 60
    # LMDB reuses freed pages from the commit after next: as any further writes would.
    assert client.delete(acknowledged[60]) == client.delete(acknowledged[61]) == 1
    assert client.set("again", "x" * 4096) is True
    server.kill()
    restarted = ServerProcess(tmp_path / "data")
    client = restarted.client()
    assert client.get("first") == b"kept" and client.get("again") == b"x" * 4096
    assert client.exists(*acknowledged[62:]) == len(acknowledged) - 62
    restarted.kill()


def test_sigstop_makes_clients_time_out_and_sigcont_resumes(tmp_path):
    """A frozen server: clients time out cleanly; thawed, it serves again with its data."""
    server = ServerProcess(tmp_path / "data")
    server.client().set("k", "v")
    frozen = server.client(socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    server.proc.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(redis.TimeoutError):
            frozen.get("k")
    finally:
        server.proc.send_signal(signal.SIGCONT)
    assert server.client().get("k") == b"v"
    assert server.client().set("k2", "v2") is True
    server.kill()


def _wait_until(check, timeout: float = 20.0):
    """Poll ``check`` until it returns something truthy (a guard, not a timing assumption)."""
    give_up = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < give_up, "condition not reached"
        time.sleep(0.02)
    return result


def test_kill_9_keeps_scheduled_due_and_in_flight_messages(tmp_path):
    """Nothing of a delivering namespace is lost to kill -9, and what fell due meanwhile is delivered."""
    conf = tmp_path / "mi.toml"
    conf.write_text('[namespaces.jobs]\non_expire = "deliver"\nlease = "1s"\n')
    server = ServerProcess(tmp_path / "data", "--config", str(conf))
    client = server.client()

    def info(client):
        return as_map(client.execute_command("NAMESPACE", "INFO", "jobs"))

    for i in range(3):
        client.execute_command("SET", f"due{i}", f"v{i}", "FROM", "jobs", "PX", 1)
    client.execute_command("SET", "later", "x", "FROM", "jobs", "TTL", "1h")
    _wait_until(lambda: info(client)[b"due"] == 3)
    (taken,) = client.execute_command("TAKE", "FROM", "jobs")
    client.execute_command("SET", "while-down", "w", "FROM", "jobs", "PX", 300)
    server.kill()

    server = ServerProcess(tmp_path / "data", "--config", str(conf))
    client = server.client()
    delivered = {}

    def take_all():
        for message in client.execute_command("TAKE", "FROM", "jobs", "COUNT", 10):
            fields = as_map(message)
            delivered[fields[b"key"]] = fields
            client.execute_command("ACK", "jobs", fields[b"id"])
        return len(delivered) == 4

    _wait_until(take_all)  # the in-flight one comes back when its lease ends
    assert set(delivered) == {b"due0", b"due1", b"due2", b"while-down"}
    assert delivered[as_map(taken)[b"key"]][b"attempts"] == 2
    status = info(client)
    assert (status[b"scheduled"], status[b"due"], status[b"in_flight"]) == (1, 0, 0)
    server.kill()


def test_protected_mode_refuses_a_network_address_without_auth(tmp_path):
    """It never binds: the check comes before listening (tests only listen on loopback)."""
    done = subprocess.run(
        [sys.executable, "-m", "mi.tools.cli", "serve", "--host", "0.0.0.0", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--log-format", "json"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    failure = next(json.loads(line) for line in done.stdout.splitlines() if "server.failed" in line)
    assert "refusing to listen on 0.0.0.0 without authentication" in failure["error"]
    assert "--requirepass" in failure["error"] and "--unprotected" in failure["error"]


def test_unusable_tls_files_are_a_clear_startup_error(tmp_path):
    conf = tmp_path / "mi.toml"
    conf.write_text(f'[tls]\ncert = "{tmp_path / "missing.crt"}"\nkey = "{tmp_path / "missing.key"}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "mi.tools.cli", "serve", "--config", str(conf), "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--log-format", "json"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    failure = next(json.loads(line) for line in done.stdout.splitlines() if "server.failed" in line)
    assert "cannot load tls.cert" in failure["error"] and "missing.crt" in failure["error"]


def test_failed_auth_is_logged_with_the_peer_and_never_the_password(tmp_path):
    server = ServerProcess(tmp_path / "data", "--requirepass", "right-password")
    client = server.client(password="wrong-pw-7f3a", retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.AuthenticationError):
        client.ping()
    assert server.client(password="right-password").ping()
    server.stop(signal.SIGTERM)
    failed = [e for e in server.events if e["event"] == "auth.failed"]
    assert failed and failed[0]["peer"].startswith("127.0.0.1:") and failed[0]["user"] == "default"
    everything = json.dumps(server.events)
    assert "wrong-pw-7f3a" not in everything and "right-password" not in everything


def test_mi_passwd_prints_a_hash_line_that_checks(tmp_path):
    from mi.policy.auth import check_password

    done = subprocess.run([sys.executable, "-m", "mi.tools.cli", "passwd", "--stdin"], input="hunter2\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    line = done.stdout.strip()
    assert line.startswith('password = "scrypt$') and "hunter2" not in line
    stored = line.split('"')[1]
    assert check_password(b"hunter2", stored) and not check_password(b"hunter3", stored)
