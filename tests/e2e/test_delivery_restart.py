"""Leases, pauses and dead letters survive kill -9 (issue 20): a real `mi serve` process killed and
started again on the same data dir."""

from __future__ import annotations

from support import as_map
from test_process import ServerProcess, _wait_until


def test_kill_9_keeps_leases_a_pause_and_dead_letters_with_their_history(tmp_path):
    conf = tmp_path / "mi.toml"
    conf.write_text(
        '[namespaces.jobs]\non_expire = "deliver"\nlease = "1h"\nmax_attempts = 1\ndead_letter = "jobs-dead"\n'
    )
    server = ServerProcess(tmp_path / "data", "--config", str(conf))
    client = server.client()

    def info() -> dict:
        return as_map(client.execute_command("NAMESPACE", "INFO", "jobs"))

    for key in ("held", "poison"):
        client.execute_command("SET", key, f"v-{key}", "FROM", "jobs", "TTL", "now")
    _wait_until(lambda: info()[b"due"] == 2)
    taken = {as_map(m)[b"key"]: as_map(m) for m in client.execute_command("TAKE", "FROM", "jobs", "COUNT", 2)}
    held_id, poison_id = taken[b"held"][b"id"], taken[b"poison"][b"id"]
    assert client.execute_command("NACK", "jobs", poison_id, "REASON", "cannot parse") == 1
    before = as_map(client.execute_command("PEEK", "jobs", held_id))
    assert client.execute_command("NAMESPACE", "PAUSE", "jobs") == b"OK"
    client.execute_command("SET", "later", "v-later", "FROM", "jobs", "TTL", "now")
    _wait_until(lambda: info()[b"due"] == 1)
    server.kill()

    server = ServerProcess(tmp_path / "data", "--config", str(conf))
    client = server.client()
    assert info()[b"paused"] == 1, "the pause survives"
    assert client.execute_command("TAKE", "FROM", "jobs") == []
    assert as_map(client.execute_command("PEEK", "jobs", held_id)) == before, "the lease and its holder survive"
    (dead,) = [as_map(entry) for entry in client.execute_command("DEAD", "jobs")]
    assert (dead[b"id"], dead[b"key"], dead[b"attempts"], dead[b"reason"]) == (poison_id, b"poison", 1, b"cannot parse")
    client.execute_command("NAMESPACE", "RESUME", "jobs")
    assert [as_map(m)[b"key"] for m in client.execute_command("TAKE", "FROM", "jobs")] == [b"later"]
    assert client.execute_command("KICK", "jobs") == 1
    (kicked,) = [as_map(m) for m in client.execute_command("TAKE", "FROM", "jobs")]
    assert (kicked[b"key"], kicked[b"attempts"]) == (b"poison", 1)
    assert client.execute_command("ACK", "jobs", held_id) == 1
    server.kill()
