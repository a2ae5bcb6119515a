"""Deployment: the install recipe the Dockerfile runs yields a working server, and the Dockerfile,
compose.yaml and systemd unit keep the pieces docs/deploy.md promises.

No container engine is needed: the image's one build step is ``scripts/install``, run here into a
fresh prefix; the server is then started from that prefix with the image's own environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mi.settings.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
UNIT = ROOT / "deploy" / "mi.service"
PASSWORD = "deploy-test-pw"


# --- the recipe ------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        instructions.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return instructions


def _image_env() -> dict[str, str]:
    """The ENV the final stage sets (KEY=value pairs; $PATH references left out)."""
    env: dict[str, str] = {}
    for word, args in _final_stage():
        if word == "ENV":
            env.update(pair.split("=", 1) for pair in args.split() if "$" not in pair)
    return env


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for word, args in _dockerfile_instructions():
        if word == "FROM":
            stages.append([])
        stages[-1].append((word, args))
    return stages


def _final_stage() -> list[tuple[str, str]]:
    return _stages()[-1]


def _seconds(text: str) -> float:
    """ "30s", "1m30s", "90" (seconds), as compose and systemd write durations."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h)?", text.strip())
    assert parts, f"not a duration: {text!r}"
    return sum(float(n) * units[u or "s"] for n, u in parts)


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    """scripts/install into a fresh prefix, as the image's builder stage does."""
    prefix = tmp_path_factory.mktemp("install") / "prefix"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install"), str(prefix)],
        capture_output=True, text=True, timeout=600, env=env, cwd=prefix.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"done: {prefix}/bin/mi" in done.stderr
    return prefix


@pytest.mark.slow
def test_installed_prefix_is_self_contained(prefix, tmp_path):
    """mi, protocol and storage import from the prefix, not from the source tree."""
    done = subprocess.run(
        [str(prefix / "bin" / "python"), "-c",
         "import json, mi, protocol, storage; print(json.dumps([m.__file__ for m in (mi, protocol, storage)]))"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert all(Path(f).is_relative_to(prefix) for f in json.loads(done.stdout))


@pytest.mark.slow
def test_install_twice_is_harmless(prefix):
    """Running the recipe again reuses the venv and leaves a working install."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install"), str(prefix)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "reusing the venv" in done.stderr
    assert subprocess.run([str(prefix / "bin" / "mi"), "--help"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.slow
def test_image_environment_without_a_password_refuses_to_start(prefix, tmp_path):
    """The image's env (0.0.0.0) and no password: the server exits 1 naming MI_REQUIREPASS, never binding."""
    env = {**_image_env(), "PATH": f"{prefix}/bin:{os.environ['PATH']}", "MI_PORT": "0",
           "MI_DATA_DIR": str(tmp_path / "data" / "db")}  # fmt: skip
    done = subprocess.run(
        [str(prefix / "bin" / "mi"), "serve", "--config", str(ROOT / "conf" / "mi.toml")],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    failure = next(json.loads(line) for line in done.stdout.splitlines() if "server.failed" in line)
    assert "refusing to listen on 0.0.0.0" in failure["error"] and "MI_REQUIREPASS" in failure["error"]


@pytest.mark.slow
def test_installed_server_serves_with_the_image_settings(prefix, tmp_path):
    """The installed `mi serve`, run as the image runs it (but on loopback), answers, passes the
    health check command and stops on SIGTERM with exit 0."""
    volume = tmp_path / "data"  # stands in for the /data volume, and the working directory
    volume.mkdir()
    env = {**_image_env(), "PATH": f"{prefix}/bin:{os.environ['PATH']}", "MI_HOST": "127.0.0.1",
           "MI_PORT": "0", "MI_DATA_DIR": str(volume / "db"), "MI_REQUIREPASS": PASSWORD}  # fmt: skip
    entrypoint = json.loads(dict(_final_stage())["ENTRYPOINT"])
    assert entrypoint[:2] == ["mi", "serve"]
    config = ROOT / "conf" / "mi.toml"  # what the image copies to /etc/mi/mi.toml
    command = [str(prefix / "bin" / "mi"), *entrypoint[1:]]
    command[command.index("/etc/mi/mi.toml")] = str(config)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=volume)
    try:
        listening = next((e for e in map(json.loads, proc.stdout) if e["event"] == "server.listening"), None)
        assert listening is not None, proc.stderr.read()
        assert listening["host"] == "127.0.0.1" and listening["data_dir"] == str(volume / "db")
        port = listening["port"]

        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            replies = sock.makefile("rb")
            sock.sendall(b"PING\r\n")  # before AUTH: what the health check relies on
            assert replies.readline() == b"+PONG\r\n"
            sock.sendall(b"GET k\r\n")
            assert replies.readline().startswith(b"-NOAUTH")
            sock.sendall(f"AUTH {PASSWORD}\r\nSET k hello FROM deploy\r\nGET k FROM deploy\r\n".encode())
            assert [replies.readline() for _ in range(4)] == [b"+OK\r\n", b"+OK\r\n", b"$5\r\n", b"hello\r\n"]

        health = subprocess.run(
            ["mi", "cli", "--host", "127.0.0.1", "--port", str(port), "PING"],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert (health.returncode, health.stdout.strip()) == (0, "PONG"), health.stderr

        proc.send_signal(signal.SIGTERM)  # the image's STOPSIGNAL
        assert proc.wait(timeout=30) == 0
        assert (volume / "db" / "manifest.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


# --- the files ------------------------------------------------------------------------------------


def test_dockerfile_builds_with_the_tested_recipe():
    """Multi-stage on python:3.11-slim; the builder RUNs scripts/install into what the final stage copies."""
    builder, final = _stages()[0], _stages()[-1]
    assert len(_stages()) >= 2
    assert builder[0] == ("FROM", "python:3.11-slim AS builder")
    assert final[0][1].startswith("python:3.11-slim")  # the same base: the venv links its python
    assert any(word == "RUN" and re.search(r"\bscripts/install /opt/mi$", args) for word, args in builder)
    assert ("COPY", "--from=builder /opt/mi /opt/mi") in final
    assert ("COPY", "conf/mi.toml /etc/mi/mi.toml") in final


def test_dockerfile_runtime_pieces():
    """Non-root USER, the /data volume, EXPOSE, a HEALTHCHECK with `mi cli PING`, SIGTERM, the entrypoint."""
    final = _final_stage()
    words = dict(final)
    assert words["USER"] not in ("root", "0") and words["USER"] == "mi"
    assert [w for w, _ in final].index("USER") > [w for w, _ in final].index("COPY")  # installed as root
    assert words["VOLUME"] == "/data"
    assert words["EXPOSE"] == "7379"
    assert re.search(r"\bCMD mi cli .*PING\b", words["HEALTHCHECK"])
    assert words["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(words["ENTRYPOINT"]) == ["mi", "serve", "--config", "/etc/mi/mi.toml"]


def test_dockerfile_defaults_are_safe():
    """The image listens on all addresses, keeps data on the volume and bakes in no password or opt-out."""
    env = _image_env()
    assert env["MI_HOST"] == "0.0.0.0" and env["MI_PORT"] == "7379"
    assert env["MI_DATA_DIR"].startswith("/data/")
    assert "MI_REQUIREPASS" not in env
    assert "--unprotected" not in DOCKERFILE.read_text().split("ENTRYPOINT", 1)[1]


def test_dockerignore_keeps_what_the_build_needs():
    """Local state and caches are left out; the sources, README and conf/mi.toml stay in."""
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}  # fmt: skip
    assert {".venv", ".git", "data"} <= patterns
    needed = {"pyproject.toml", "README.md", "mi", "protocol", "storage", "scripts", "conf", "conf/mi.toml"}
    assert not needed & patterns


def test_compose_service():
    """compose.yaml: built here, loopback port, conf read-only, a data volume, a required password,
    the health check, and a grace period longer than the server's graceful_timeout."""
    text = COMPOSE.read_text()
    for piece in ("build: .", '"127.0.0.1:7379:7379"', "./conf:/etc/mi:ro", "mi-data:/data",
                  "${MI_REQUIREPASS:?", "restart: unless-stopped", "healthcheck:", "stop_signal: SIGTERM"):
        assert piece in text, piece  # fmt: skip
    assert re.search(r"test: \[\"CMD-SHELL\", \"mi cli .*PING", text)
    assert re.search(r"(?m)^volumes:\n  mi-data:", text)
    grace = re.search(r"stop_grace_period: (\S+)", text)
    graceful_timeout = load_config(ROOT / "conf" / "mi.toml", environ={}).server.graceful_timeout
    assert grace and _seconds(grace.group(1)) > graceful_timeout


def _unit() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def test_systemd_unit():
    """Type=notify, the installed ExecStart, a non-root user, limits sized from the config, hardening."""
    unit = _unit()
    config = load_config(ROOT / "conf" / "mi.toml", environ={})
    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == ["/opt/mi/bin/mi serve --config /etc/mi/mi.toml"]  # scripts/install /opt/mi
    assert unit["User"] == ["mi"] and unit["StateDirectory"] == ["mi"]
    assert int(unit["LimitNOFILE"][0]) > config.server.max_clients
    assert _seconds(unit["TimeoutStopSec"][0]) > config.server.graceful_timeout
    assert unit["Restart"] == ["on-failure"] and unit["KillSignal"] == ["SIGTERM"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["PrivateTmp"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"] and "/var/lib/mi" in unit["ReadWritePaths"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_passes_systemd_analyze(tmp_path):
    """systemd itself finds no unknown key or bad value in the unit (ExecStart pointed at a real mi)."""
    mi = Path(sys.executable).parent / "mi"  # the unit's /opt/mi/bin/mi does not exist here
    unit = tmp_path / "mi.service"
    unit.write_text(UNIT.read_text().replace("/opt/mi/bin/mi", str(mi)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "mi.service" in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr
