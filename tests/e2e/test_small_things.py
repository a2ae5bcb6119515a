"""Small things a user meets first: startup failures said plainly, redis-benchmark's tests, py.typed."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from importlib import resources

import pytest
import trio

MI = [sys.executable, "-m", "mi"]


async def mi_serve(*args: str) -> tuple[int, list[dict]]:
    done = await trio.run_process([*MI, "serve", "--log-format", "json", *args], capture_stdout=True,
                                  capture_stderr=True, check=False)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.startswith(b"{")]


async def test_a_data_dir_that_is_a_file_is_not_a_directory(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    status, events = await mi_serve("--data-dir", str(afile), "--port", "0")
    assert status == 1
    assert [event["event"] for event in events] == ["server.failed"]
    assert events[0]["error"] == f"data dir {afile} is not a directory"


async def test_a_startup_failure_is_logged_once_as_server_failed(tmp_path):
    """A port in use: server.failed, and no server.stopped after a server that never served."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        status, events = await mi_serve("--data-dir", str(tmp_path / "data"), "--port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    names = [event["event"] for event in events]
    assert status == 1 and names[-1] == "server.failed" and "server.stopped" not in names
    assert "Address already in use" in events[-1]["error"]


def test_the_typed_client_ships_py_typed():
    """Type checkers read mi.client's annotations (PEP 561)."""
    assert resources.files("mi").joinpath("py.typed").is_file()


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark is not installed")
async def test_redis_benchmark_runs_the_tests_the_readme_names(port):
    tests = "ping,set,get,incr,lpush,rpush,lpop,rpop,hset,lrange_100,mset"
    done = await trio.run_process(["redis-benchmark", "-p", str(port), "-n", "20", "-c", "2", "--csv", "-t", tests],
                                  capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    ran = [line.split(",")[0].strip('"') for line in done.stdout.decode().splitlines()[1:]]
    assert "SET" in ran and "MSET (10 keys)" in ran and "LRANGE_100 (first 100 elements)" in ran
    assert b"Error" not in done.stdout + done.stderr
