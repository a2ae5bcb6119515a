"""Issue 15, storage and delivery: no key a write accepts, and no damaged entry, stops the reaper
or a queue; damage is set aside (quarantined), counted, logged and listed by ``mi verify``.

Each test builds the data dir's state offline with ``Store`` (as an older server or a disk would
have left it), then serves it over TCP.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lmdb
import pytest
import trio
from attrs import evolve
from structlog.testing import capture_logs

from mi.settings.config import NamespaceSettings
from mi.core.server import Server
from mi.core.state import wall_clock_ms
from protocol.errors import CommandError
from protocol.replies import SimpleString
from storage import MAX_KEY_SIZE, Store, encode_record
from storage.changes import Change, ChangeOp
from storage.store import shard_dir_name
from storage.verify import verify_data_dir
from support import IO_TIMEOUT, RawClient, as_map, make_config

OK = SimpleString("OK")
LONGEST_NS = "n" * 64
PAST = 1_000  # a deadline long gone (unix ms)


def delivering(tmp_path: Path, **namespaces: NamespaceSettings):
    config = make_config(tmp_path / "data", shards=1)
    return evolve(config, namespaces=namespaces)


async def serve(config, script, now_ms=wall_clock_ms):
    """Start a server, run ``script(client, server)``, stop it gracefully; its result."""
    server = Server(config, now_ms=now_ms)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        client = await RawClient.connect(port)
        try:
            return await script(client, server)
        finally:
            await client.aclose()
            server.request_shutdown()


async def until(condition) -> None:
    with trio.fail_after(IO_TIMEOUT):
        while not condition():
            await trio.sleep(0.01)


def offline(data_dir: Path, *ops):
    """Run storage ops in one write transaction of the only shard, server down; their outcomes."""
    with Store.open(data_dir, shards=1) as store:
        outcomes = store.shards[0].write_batch(list(ops))
    for outcome in outcomes:
        assert not isinstance(outcome, Exception), outcome
    return outcomes


def stored(ns: str, key: bytes, value: bytes, revision: int, deadline: int = PAST):
    """A record put as it is, unchecked (as a server with a higher key limit stored it)."""
    change = Change(ChangeOp.PUT, ns, key, encode_record(key, value, deadline, revision))
    return lambda txn: txn.redo(change)


def due(ns: str):
    return lambda txn: txn.reap_due(PAST + 1, 100, lambda name: name == ns)


def taken(ns: str, lease_ms: int = 1):
    return lambda txn: txn.delivery.take(ns, PAST + 1, lease_ms, 100)


def flip_last_byte(data_dir: Path, db_name: bytes, key_ends: bytes) -> None:
    """Damage one byte of the entry of ``db_name`` whose key (or, in flight, value) names ``key_ends``."""
    env = lmdb.open(str(data_dir / shard_dir_name(0)), max_dbs=32, map_size=1 << 30)
    try:
        with env.begin(write=True) as txn:
            db = env.open_db(db_name, txn=txn, create=False)
            for db_key, value in list(txn.cursor(db=db)):
                if db_key.endswith(key_ends) or key_ends in value[:100]:
                    damaged = bytearray(value)
                    damaged[-1] ^= 0xFF
                    txn.put(db_key, bytes(damaged), db=db)
                    return
        pytest.fail(f"nothing in {db_name!r} names {key_ends!r}")
    finally:
        env.close()


def events(logs, name):
    return [entry for entry in logs if entry["event"] == name]


async def take(client, ns):
    return [as_map(m) for m in await client.command("TAKE", "FROM", ns, "COUNT", "10")]


async def info(client, ns):
    return as_map(await client.command("NAMESPACE", "INFO", ns))


# -- D1: a key a write accepts always fits every index built from it --------------------------


async def test_a_key_too_long_for_the_due_queue_is_refused_before_it_is_acknowledged(tmp_path):
    """SET of a 435-byte key in a 64-character namespace answers an error naming the limit; the
    longest key accepted is reaped and delivered, and the reaper never fails."""
    config = delivering(tmp_path, **{LONGEST_NS: NamespaceSettings(on_expire="deliver")})

    async def script(client, server):
        refused = await client.command("SET", b"k" * (MAX_KEY_SIZE + 1), "v", "FROM", LONGEST_NS, "PX", "100")
        assert isinstance(refused, CommandError) and f"limit of {MAX_KEY_SIZE} bytes" in refused.message
        longest = b"k" * MAX_KEY_SIZE
        assert await client.command("SET", longest, "v", "FROM", LONGEST_NS, "PX", "100") == OK
        await until(lambda: server.state.reaper.reaped == 1)
        (message,) = await take(client, LONGEST_NS)
        return message[b"key"] == longest

    with capture_logs() as logs:
        assert await serve(config, script)
    assert MAX_KEY_SIZE == 434
    assert events(logs, "reaper.failed") == []


async def test_an_older_key_too_long_for_the_due_queue_is_quarantined_and_the_rest_delivered(tmp_path):
    """A 438-byte key (accepted before the limit counted the due queue) that falls due in the longest
    namespace is set aside; the message beside it is delivered, across restarts."""
    config = delivering(tmp_path, **{LONGEST_NS: NamespaceSettings(on_expire="deliver")})
    data_dir = tmp_path / "data"
    legacy = b"a" * 438
    offline(data_dir, stored(LONGEST_NS, legacy, b"old", 1), stored(LONGEST_NS, b"fine", b"new", 2))

    async def script(client, server):
        await until(lambda: server.state.reaper.reaped == 2)
        messages = await take(client, LONGEST_NS)
        return [m[b"key"] for m in messages], await info(client, LONGEST_NS), server.state.reaper.quarantined

    with capture_logs() as logs:
        keys, status, quarantined = await serve(config, script)
        await serve(config, lambda client, server: client.command("PING"))  # a restart: nothing left to fail on
    assert keys == [b"fine"]
    assert (status[b"quarantined"], status[b"due"], quarantined) == (1, 0, 1)
    (event,) = events(logs, "storage.quarantined")
    assert (event["area"], event["ns"], event["key"]) == ("record", LONGEST_NS, legacy.decode()[:200])  # cut for the log
    assert "due-queue key would be 515 bytes" in event["reason"]
    assert events(logs, "reaper.failed") == []
    report = verify_data_dir(data_dir)
    assert report.ok and report.quarantined == 1
    assert report.quarantine[0][1].key == legacy


async def test_an_entry_that_fails_the_reaping_pass_is_set_aside_and_the_others_go_on(tmp_path):
    """A delivery out of attempts whose key is too long for its dead-letter namespace (KeyTooLarge
    from inside the pass) is quarantined on its own; the one beside it is dead-lettered."""
    settings = NamespaceSettings(on_expire="deliver", max_attempts=1, dead_letter="jobs-dead")
    config = delivering(tmp_path, jobs=settings)
    data_dir = tmp_path / "data"
    legacy = b"a" * 436
    offline(data_dir, stored("jobs", legacy, b"old", 1), stored("jobs", b"fine", b"new", 2))
    offline(data_dir, due("jobs"))
    offline(data_dir, taken("jobs"))  # both in flight, their leases over at once

    async def script(client, server):
        await until(lambda: server.state.reaper.quarantined == 1 and server.state.reaper.returned >= 1)
        return await client.command("GET", "fine", "FROM", "jobs-dead"), await info(client, "jobs")

    with capture_logs() as logs:
        dead_letter, status = await serve(config, script)
    assert dead_letter == b"new"
    assert (status[b"in_flight"], status[b"quarantined"]) == (0, 1)
    (event,) = events(logs, "storage.quarantined")
    assert (event["area"], event["key"]) == ("in flight", legacy.decode()[:200])
    assert "the reaper failed on it" in event["reason"]
    assert events(logs, "reaper.failed") == []


# -- D2: a damaged message is set aside, never blocks the others ------------------------------


async def test_a_damaged_due_message_is_quarantined_and_take_returns_the_good_ones(tmp_path):
    """One flipped byte in a due message: TAKE answers the messages behind it, not a CRC error,
    and keeps doing so; NAMESPACE INFO counts it, the log names it, mi verify lists it."""
    config = delivering(tmp_path, jobs=NamespaceSettings(on_expire="deliver"))
    data_dir = tmp_path / "data"
    offline(data_dir, stored("jobs", b"a-bad", b"x" * 20, 1), stored("jobs", b"b-good", b"fine", 2))
    offline(data_dir, due("jobs"))
    flip_last_byte(data_dir, b"mi/due", b"a-bad")

    async def script(client, server):
        first, again = await take(client, "jobs"), await take(client, "jobs")
        stats = (await client.command("INFO", "stats")).decode()
        return [m[b"value"] for m in first], again, await info(client, "jobs"), stats

    with capture_logs() as logs:
        first, again, status, stats = await serve(config, script)
    assert (first, again) == ([b"fine"], [])
    assert (status[b"due"], status[b"in_flight"], status[b"quarantined"]) == (0, 1, 1)
    assert "quarantined:1" in stats.splitlines()
    (event,) = events(logs, "storage.quarantined")
    assert (event["area"], event["ns"], event["key"]) == ("due", "jobs", "a-bad")
    report = verify_data_dir(data_dir)
    assert report.ok, report.damage
    assert [(item.area, item.key) for _shard, item in report.quarantine] == [("due", b"a-bad")]


async def test_a_damaged_message_in_flight_is_quarantined_when_its_lease_ends(tmp_path):
    """One flipped byte in a message in flight: when its lease ends the reaper sets it aside and
    hands the good one back, instead of failing every second."""
    config = delivering(tmp_path, jobs=NamespaceSettings(on_expire="deliver"))
    data_dir = tmp_path / "data"
    offline(data_dir, stored("jobs", b"a-bad", b"x" * 20, 1), stored("jobs", b"b-good", b"fine", 2))
    offline(data_dir, due("jobs"))
    offline(data_dir, taken("jobs"))
    flip_last_byte(data_dir, b"mi/inflight", b"a-bad")

    async def script(client, server):
        await until(lambda: server.state.reaper.returned == 1 and server.state.reaper.quarantined == 1)
        return await take(client, "jobs"), await info(client, "jobs")

    with capture_logs() as logs:
        messages, status = await serve(config, script)
    assert [(m[b"key"], m[b"attempts"]) for m in messages] == [(b"b-good", 2)]
    assert status[b"quarantined"] == 1
    (event,) = events(logs, "storage.quarantined")
    assert (event["area"], event["ns"], event["key"]) == ("in flight", "jobs", "a-bad")
    assert events(logs, "reaper.failed") == []


# -- D16: damage to LMDB's own pages: seen by mi verify, and before serving after a crash ------


def many_keys(data_dir: Path) -> None:
    """Enough records for a tree with branch pages (ns 'big'), then a clean close."""
    with Store.open(data_dir, shards=1) as store:
        for start in range(0, 3000, 500):
            store.shards[0].write_batch(
                [lambda txn, i=i: txn.put("big", f"key{i:06d}".encode(), b"v" * 100, 0) for i in range(start, start + 500)]
            )


def damage_newest_branch_page(data_dir: Path, how: str) -> None:
    """Damage the middle child of the newest branch page: ``"key"`` flips its separator key (lookups
    go astray, scans do not), ``"child"`` makes the child it points to claim to be a branch page
    (LMDB asserts, and aborts, on the way)."""
    file = data_dir / shard_dir_name(0) / "data.mdb"
    data = bytearray(file.read_bytes())
    page_size = 4096
    branches = [p for p in range(2, len(data) // page_size) if int.from_bytes(data[p * page_size + 10 : p * page_size + 12], "little") & 1]
    page = branches[-1] * page_size
    lower = int.from_bytes(data[page + 12 : page + 14], "little")
    offsets = [int.from_bytes(data[page + 16 + 2 * i : page + 18 + 2 * i], "little") for i in range((lower - 16) // 2)]
    node = page + offsets[len(offsets) // 2]
    if how == "key":
        data[node + 8] ^= 0x7F  # the first byte of the separator key
    else:
        child = int.from_bytes(data[node : node + 4], "little")
        data[child * page_size + 10 : child * page_size + 12] = (1).to_bytes(2, "little")
    file.write_bytes(bytes(data))


def crash_marker_gone(data_dir: Path) -> None:
    """As a kill -9 or a power cut leaves the data dir: no clean-shutdown marker."""
    (data_dir / "clean-shutdown").unlink()


def mi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mi.tools.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("how", ["key", "child"])
def test_verify_reports_damaged_tree_structure_and_never_dies_of_it(tmp_path, how):
    """A misrouting branch key, or a page LMDB asserts on (SIGABRT before), is reported as damage
    to the shard's structure: mi verify exits 1 with the damage logged."""
    data_dir = tmp_path / "data"
    many_keys(data_dir)
    assert verify_data_dir(data_dir).ok
    damage_newest_branch_page(data_dir, how)
    done = mi("verify", "--data-dir", str(data_dir))
    assert done.returncode == 1, done.stderr[-500:]
    report = verify_data_dir(data_dir)
    assert not report.ok
    problems = " ".join(d.problem for d in report.damage if d.area == "shard")
    assert ("a lookup does not" in problems) if how == "key" else ("LMDB abort (SIGABRT" in problems)


@pytest.mark.parametrize("how", ["key", "child"])
def test_after_a_crash_the_server_checks_the_structure_and_refuses_damage_in_one_line(tmp_path, how):
    """No clean-shutdown marker: startup scans the shards, and damaged structure stops it with one
    line naming mi verify and mi restore, not a traceback and not wrong answers."""
    data_dir = tmp_path / "data"
    many_keys(data_dir)
    damage_newest_branch_page(data_dir, how)
    crash_marker_gone(data_dir)
    done = mi("serve", "--data-dir", str(data_dir), "--port", "0", "--log-format", "json")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if '"server.failed"' in line]
    assert "is damaged" in line and "mi verify --data-dir" in line and "mi restore" in line


def test_a_clean_shutdown_skips_the_check_and_a_crash_runs_it(tmp_path):
    """The marker is there only while no store has the dir open, so a kill leaves it missing."""
    data_dir = tmp_path / "data"
    many_keys(data_dir)
    with Store.open(data_dir) as store:
        assert not store.checked_at_open
        assert not (data_dir / "clean-shutdown").exists(), "in use: a crash now finds no marker"
    crash_marker_gone(data_dir)
    with Store.open(data_dir) as store:
        assert (store.checked_at_open, store.damaged_at_open) == (True, 0)


def test_verify_clear_quarantine_forgets_what_was_set_aside(tmp_path):
    """An operator who has looked clears the quarantine with the server stopped."""
    data_dir = tmp_path / "data"
    offline(data_dir, stored("jobs", b"k", b"v", 1))
    offline(data_dir, lambda txn: txn.delivery.quarantine("due", "jobs", b"k", b"raw", "CRC mismatch", PAST))
    listed = mi("verify", "--data-dir", str(data_dir))
    assert listed.returncode == 0 and '"verify.quarantined"' in listed.stdout and "CRC mismatch" in listed.stdout
    cleared = mi("verify", "--data-dir", str(data_dir), "--clear-quarantine")
    assert cleared.returncode == 0 and '"items": 1' in cleared.stdout
    assert verify_data_dir(data_dir).quarantined == 0


async def test_a_server_after_a_crash_logs_the_check_it_ran(tmp_path):
    """Started on a data dir the last server did not close, the server says it scanned it first."""
    data_dir = tmp_path / "data"
    many_keys(data_dir)
    crash_marker_gone(data_dir)

    async def script(client, server):
        return await client.command("GET", "key000042", "FROM", "big")

    with capture_logs() as logs:
        value = await serve(make_config(data_dir, shards=1), script)
    assert value == b"v" * 100
    (event,) = events(logs, "storage.checked_after_unclean_shutdown")
    assert event["damaged_records"] == 0
    assert (data_dir / "clean-shutdown").exists(), "a graceful stop marks the data dir clean again"
