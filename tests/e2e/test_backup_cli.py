"""`mi snapshot`, `mi restore` and `mi verify` as a user runs them: exit codes, JSON events, bars."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from attrs import evolve

from mi.settings.config import AuthConfig
from mi.core.server import serve
from storage import Store
from storage.snapshot import check_snapshot
from support import make_config

pytestmark = pytest.mark.slow

MI = [sys.executable, "-m", "mi.tools.cli"]
CANARY = b"canary-value-8d1f3a"


def mi(*args: str | Path) -> tuple[int, list[dict]]:
    """Run ``mi ARGS``; its exit status and the JSON events it printed."""
    done = subprocess.run([*MI, *map(str, args)], capture_output=True, text=True, timeout=60)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def event(events: list[dict], name: str) -> dict:
    return next(e for e in events if e["event"] == name)


def make_data_dir(path: Path) -> None:
    with Store.open(path, shards=2, max_db_size=64 * 1024**2) as store:
        for key, value in ((b"victim", CANARY), *((f"k{i}".encode(), b"v%d" % i) for i in range(50))):
            (outcome,) = store.shard_for(key).write_batch([lambda txn, k=key, v=value: txn.put("orders", k, v, 0)])
            assert not isinstance(outcome, Exception)


def values(path: Path) -> dict[bytes, bytes]:
    with Store.open(path) as store:
        found = {}
        for shard in store.shards:
            with shard.read() as txn:
                found.update((key, txn.get("orders", key, 0).value) for key in txn.iter_keys("orders", 0))
        return found


def flip_every(path: Path, needle: bytes) -> None:
    raw = bytearray(path.read_bytes())
    start = raw.find(needle)
    assert start >= 0, f"{needle!r} is not in {path}"
    while start >= 0:
        raw[start + 3] ^= 0x01
        start = raw.find(needle, start + 1)
    path.write_bytes(raw)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    make_data_dir(tmp_path / "data")
    return tmp_path / "data"


def test_snapshot_verify_restore_round_trip(data, tmp_path):
    status, events = mi("snapshot", "--data-dir", data, "--out", tmp_path / "snap")
    assert status == 0
    assert event(events, "snapshot.finished")["shards"] == 2
    status, events = mi("verify", "--data-dir", tmp_path / "snap")
    assert status == 0
    assert event(events, "verify.finished")["records"] == 51
    status, events = mi("restore", tmp_path / "snap", "--data-dir", tmp_path / "restored")
    assert status == 0, events
    assert values(tmp_path / "restored") == values(data)


def test_a_flipped_byte_in_a_snapshot_file_is_refused(data, tmp_path):
    assert mi("snapshot", "--data-dir", data, "--out", tmp_path / "snap")[0] == 0
    shard_file = next((tmp_path / "snap").glob("shard-*/data.mdb"))
    raw = bytearray(shard_file.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    shard_file.write_bytes(raw)

    status, events = mi("verify", "--data-dir", tmp_path / "snap")
    assert status == 1
    assert "does not match its checksum" in event(events, "verify.failed")["error"]
    status, events = mi("restore", tmp_path / "snap", "--data-dir", tmp_path / "restored")
    assert status == 1
    assert "does not match its checksum" in event(events, "restore.failed")["error"]
    assert not (tmp_path / "restored").exists()


def test_verify_names_the_namespace_and_key_of_a_damaged_record(data):
    shard_file = next(p for p in data.glob("shard-*/data.mdb") if CANARY in p.read_bytes())
    flip_every(shard_file, CANARY)  # the record
    for segment in (shard_file.parent / "log").glob("*.log"):  # and its copy in the journal: the log
        if CANARY in segment.read_bytes():
            flip_every(segment, CANARY)
    status, events = mi("verify", "--data-dir", data)
    assert status == 1
    damaged = [e for e in events if e["event"] == "verify.damaged"]
    assert {(e["area"], e["namespace"], e["key"]) for e in damaged} >= {("record", "orders", "victim")}
    assert any(e["area"] == "journal" for e in damaged)
    assert event(events, "verify.finished")["ok"] is False


def test_verify_lists_a_torn_log_tail_and_passes(data):
    """Half a record at the end of a shard's log, as a crash leaves it, is listed, not damage."""
    segment = max(data.glob("shard-000/log/*.log"))
    with segment.open("ab") as file:
        file.write(b"\x00\x00\x00\x30torn")
    status, events = mi("verify", "--data-dir", data)
    assert status == 0
    assert "torn tail" in event(events, "verify.torn_tail")["where"]
    assert event(events, "verify.finished")["ok"] is True


def test_restore_replaces_an_existing_data_dir_only_with_force(data, tmp_path):
    assert mi("snapshot", "--data-dir", data, "--out", tmp_path / "snap")[0] == 0
    other = tmp_path / "other"
    with Store.open(other) as store:
        store.shard_for(b"x").write_batch([lambda txn: txn.put("orders", b"x", b"1", 0)])
    status, events = mi("restore", tmp_path / "snap", "--data-dir", other)
    assert status == 1
    assert "--force" in event(events, "restore.failed")["error"]
    assert values(other) == {b"x": b"1"}
    assert mi("restore", tmp_path / "snap", "--data-dir", other, "--force")[0] == 0
    assert values(other) == values(data)


def test_restore_refuses_a_target_in_use_before_checking_the_snapshot(data, tmp_path):
    """Not empty without --force, or held by a server: refused at once, nothing checked first."""
    assert mi("snapshot", "--data-dir", data, "--out", tmp_path / "snap")[0] == 0
    status, events = mi("restore", tmp_path / "snap", "--data-dir", data)
    assert status == 1 and "--force" in event(events, "restore.failed")["error"]
    assert [e["event"] for e in events] == ["restore.failed"], "no checksums or scan before the refusal"
    with Store.open(data):  # as a running server holds it
        status, events = mi("restore", tmp_path / "snap", "--data-dir", data, "--force")
    assert status == 1 and "in use by another mi server" in event(events, "restore.failed")["error"]
    assert [e["event"] for e in events] == ["restore.failed"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_restore_as_root_gives_the_data_dir_to_the_owner_of_the_one_it_replaces(data, tmp_path):
    assert mi("snapshot", "--data-dir", data, "--out", tmp_path / "snap")[0] == 0
    service = tmp_path / "srv"
    service.mkdir()
    os.chown(service, 4242, 4243)  # the service user's directory; the data dir is new in it
    status, events = mi("restore", tmp_path / "snap", "--data-dir", service / "data")
    assert status == 0 and event(events, "restore.finished")["owner"] == "4242:4243"
    owners = {(path.stat().st_uid, path.stat().st_gid) for path in [service / "data", *(service / "data").rglob("*")]}
    assert owners == {(4242, 4243)}
    os.chown(service / "data", 4300, 4301)  # replacing a data dir keeps its owner
    status, events = mi("restore", tmp_path / "snap", "--data-dir", service / "data", "--force")
    assert status == 0 and event(events, "restore.finished")["owner"] == "4300:4301"
    assert {p.stat().st_uid for p in [service / "data", *(service / "data").rglob("*")]} == {4300}


def test_a_terminal_gets_a_progress_bar(data):
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([*MI, "verify", "--data-dir", str(data)], stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    assert b"verify" in output and b"100%" in output and b"entries" in output


async def test_snapshot_from_the_cli_against_a_running_server(raw, port, config, tmp_path):
    await raw.command("SET", "k", "v", "FROM", "orders")
    out = tmp_path / "snap"
    done = await trio.run_process([*MI, "snapshot", "--port", str(port), "--out", str(out)],
                                  capture_stdout=True, check=False)
    assert done.returncode == 0
    assert event([json.loads(line) for line in done.stdout.splitlines()], "snapshot.finished")["path"] == str(out)
    assert check_snapshot(out).shards == 4

    done = await trio.run_process([*MI, "snapshot", "--data-dir", config.storage.data_dir, "--out", str(tmp_path / "x")],
                                  capture_stdout=True, check=False)
    assert done.returncode == 1, "offline snapshot of a data dir a server is using"
    assert "mi snapshot --port" in done.stdout.decode()


async def test_snapshot_from_the_cli_authenticates(nursery, tmp_path):
    config = evolve(make_config(tmp_path / "data"), auth=AuthConfig(requirepass="pw"))
    port = str((await nursery.start(serve, config)).state.port)
    refused = await trio.run_process([*MI, "snapshot", "--port", port, "--out", str(tmp_path / "a")],
                                     capture_stdout=True, check=False)
    assert refused.returncode == 1 and "NOAUTH" in refused.stdout.decode()
    done = await trio.run_process([*MI, "snapshot", "--port", port, "--password", "pw", "--out", str(tmp_path / "b")],
                                  capture_stdout=True, check=False)
    assert done.returncode == 0
    assert check_snapshot(tmp_path / "b").shards == 4
