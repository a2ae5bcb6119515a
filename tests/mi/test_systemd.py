"""sd_notify: READY=1 once listening, STOPPING=1 when a graceful shutdown begins, never an error."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from mi.observability import systemd

ROOT = Path(__file__).resolve().parents[2]
UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the NUL


def _fields(datagram: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in datagram.decode().splitlines())


@pytest.fixture
def notify_socket(tmp_path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket standing in for systemd's, and the path to put in NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    if len(os.fsencode(path)) > UNIX_PATH_MAX:  # a deep basetemp: fall back to a short dir
        path = Path(tempfile.mkdtemp(prefix="mi-sd-")) / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(30)
        yield sock, str(path)
    path.unlink(missing_ok=True)


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    """Outside systemd (NOTIFY_SOCKET unset) notify does nothing and says so."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with capture_logs() as logs:
        assert systemd.ready("127.0.0.1", 7379) is False
        assert systemd.stopping() is False
    assert logs == []


def test_ready_reaches_a_path_socket(monkeypatch, notify_socket):
    """READY=1 and a STATUS naming the address arrive in one datagram."""
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert systemd.ready("127.0.0.1", 7379) is True
    assert _fields(sock.recv(4096)) == {"READY": "1", "STATUS": "listening on 127.0.0.1:7379"}


def test_abstract_namespace_socket(monkeypatch):
    """An "@name" NOTIFY_SOCKET is the abstract address NUL + name."""
    name = f"mi-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(30)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.stopping() is True
        assert _fields(sock.recv(4096))["STOPPING"] == "1"


@pytest.mark.parametrize("address", ["/nonexistent/dir/notify.sock", "vsock:2:1234"])
def test_a_failed_notify_is_logged_not_raised(monkeypatch, address):
    """An unreachable or unsupported socket gives a warning and False, never an exception."""
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    with capture_logs() as logs:
        assert systemd.ready("127.0.0.1", 7379) is False
    assert [(e["event"], e["log_level"]) for e in logs] == [("systemd.notify_failed", "warning")]


@pytest.mark.slow
def test_a_real_server_reports_ready_then_stopping(tmp_path, notify_socket):
    """`mi serve` under a fake systemd: READY=1 when it listens, STOPPING=1 on SIGTERM, exit 0."""
    sock, path = notify_socket
    proc = subprocess.Popen(
        [sys.executable, "-m", "mi.tools.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "NOTIFY_SOCKET": path},
    )  # fmt: skip
    try:
        ready = _fields(sock.recv(4096))
        listening = next(e for e in map(json.loads, proc.stdout) if e["event"] == "server.listening")
        assert ready == {"READY": "1", "STATUS": f"listening on 127.0.0.1:{listening['port']}"}
        with socket.create_connection(("127.0.0.1", listening["port"]), timeout=10) as client:
            client.sendall(b"PING\r\n")
            assert client.recv(64) == b"+PONG\r\n"  # ready meant ready

        proc.send_signal(signal.SIGTERM)
        assert _fields(sock.recv(4096))["STOPPING"] == "1"
        assert proc.wait(timeout=30) == 0
        events = [json.loads(line)["event"] for line in proc.stdout.read().splitlines()]
        assert "server.stopped" in events and "systemd.notify_failed" not in events
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
